"""Flood mode against a real broker: everything arrives, batches, pacing, faults, the CLI."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from firmware_sim.errors import LinkError
from firmware_sim.firmware import parse_rates
from firmware_sim.flood import FloodReport, flood
from shared.errors import ContractError
from shared.reading import Reading
from shared.wire.mqtt import decode_readings, sensor_from_topic
from tests.conftest import Mosquitto, free_port
from tests.sim.conftest import Recorder, citytwin_command


def received(recorder: Recorder, count: int) -> dict[str, list[Reading]]:
    """Wait for ``count`` readings, then return them by sensor."""
    recorder.wait_for(lambda rec: sum(map(len, rec.readings().values())) >= count, 20)
    return recorder.readings()


def test_every_reading_arrives_in_order(mosquitto: Mosquitto, recorder: Recorder) -> None:
    report = flood("127.0.0.1", mosquitto.port, 10, None, 2000, qos=1, prefix="all")
    assert (report.readings, report.messages, report.drained) == (2000, 2000, True)
    assert report.rate > 0
    readings = received(recorder, 2000)
    assert len(readings) == 10
    for mine in readings.values():
        assert [r.seq for r in mine] == list(range(200))


def test_batches_carry_several_readings(mosquitto: Mosquitto, recorder: Recorder) -> None:
    report = flood("127.0.0.1", mosquitto.port, 4, None, 1000, qos=1, batch=25, prefix="b")
    assert (report.readings, report.messages) == (1000, 40)
    readings = received(recorder, 1000)
    assert len(recorder.messages) == 40
    assert all([r.seq for r in mine] == list(range(250)) for mine in readings.values())


def test_the_rate_is_a_ceiling(mosquitto: Mosquitto) -> None:
    began = time.monotonic()
    report = flood("127.0.0.1", mosquitto.port, 5, 2000.0, 1000, prefix="slow")
    assert time.monotonic() - began >= 0.45
    assert report.rate <= 2000 * 1.1


def test_a_duration_stops_an_endless_flood(mosquitto: Mosquitto) -> None:
    report = flood("127.0.0.1", mosquitto.port, 5, 500.0, None, duration=0.5, prefix="d")
    assert 100 <= report.readings <= 400


def test_faults_reach_the_gateway_as_counted(mosquitto: Mosquitto, recorder: Recorder) -> None:
    rates = parse_rates("malformed=0.02,wrong_types=0.02,oversize=0.01,duplicate=0.02")
    report = flood("127.0.0.1", mosquitto.port, 5, None, 3000, qos=1, faults=rates, prefix="f")
    recorder.wait_for(lambda rec: len(rec.messages) >= report.messages, 20)
    refused: Counter[str] = Counter()
    seqs: dict[str, list[int]] = defaultdict(list)
    for message in recorder.messages:
        sensor = sensor_from_topic(message.topic)
        try:
            seqs[sensor] += [r.seq for r in decode_readings(sensor, message.payload)]
        except ContractError as exc:
            refused[exc.reason] += 1
    expected = {"not_json": "malformed", "bad_value": "wrong_types", "too_large": "oversize"}
    assert {reason: refused[reason] for reason in expected} == {
        reason: report.faults[fault] for reason, fault in expected.items()
    }
    repeats = sum(a == b for mine in seqs.values() for a, b in itertools.pairwise(mine))
    assert repeats == report.faults["duplicate"] > 0


def test_an_unreachable_broker_is_a_link_error() -> None:
    with pytest.raises(LinkError, match="cannot connect to broker"):
        flood("127.0.0.1", free_port(), 1, None, 10)


def test_the_command_reports_the_rate_it_achieved(mosquitto: Mosquitto) -> None:
    args = ["sim", "run", "--broker", mosquitto.url, "--rate", "0", "--total", "5000",
            "--sensors", "20", "--batch", "5", "--fault-rate", "duplicate=0.01"]  # fmt: skip
    done = subprocess.run([*citytwin_command(), *args], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("sent 5000 readings in 1000 messages in ")
    assert "readings/s" in last
    assert "firmware faults: duplicate=" in last


@pytest.fixture
def in_background() -> Iterator[Callable[[Callable[[], FloodReport]], Future[FloodReport]]]:
    """Run a flood on a thread of its own, so the test can restart the broker under it."""
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit


def restart_when(recorder: Recorder, readings: int, broker: Mosquitto, outage_s: float) -> int:
    """Stop ``broker`` once ``readings`` arrived, start it again after ``outage_s``; the max seq."""
    recorder.wait_for(lambda rec: sum(map(len, rec.readings().values())) >= readings, 20)
    broker.stop()
    before = max(r.seq for mine in recorder.readings().values() for r in mine)
    time.sleep(outage_s)
    broker.start()
    return before


def test_at_qos_1_a_broker_restart_loses_nothing(
    mosquitto: Mosquitto,
    in_background: Callable[[Callable[[], FloodReport]], Future[FloodReport]],
) -> None:
    recorder = Recorder(mosquitto.port, persistent=True)  # the broker keeps what it missed
    recorder.start()
    try:
        job = in_background(lambda: flood("127.0.0.1", mosquitto.port, 10, 2000.0, 6000, qos=1,
                                          prefix="restart"))  # fmt: skip
        restart_when(recorder, 1000, mosquitto, 1.0)
        report = job.result(timeout=60)
        assert (report.readings, report.unsent, report.reconnects) == (6000, 0, 1)
        assert report.drained
        assert 1.0 <= report.disconnected_s < report.elapsed_s - 2.5  # 3 s of sending at 2000/s
        # Everything sent arrived, some of it twice: resent when no acknowledgement came back.
        expected = {(f, seq) for f in received(recorder, 1000) for seq in range(600)}
        recorder.wait_for(lambda rec: _seqs(rec) >= expected, 20)
        assert _seqs(recorder) == expected
    finally:
        recorder.stop()


def test_at_qos_0_a_flood_resumes_after_a_restart_and_counts_what_it_lost(
    mosquitto: Mosquitto,
    recorder: Recorder,
    in_background: Callable[[Callable[[], FloodReport]], Future[FloodReport]],
) -> None:
    job = in_background(lambda: flood("127.0.0.1", mosquitto.port, 10, 3000.0, 12000,
                                      prefix="lossy"))  # fmt: skip
    before = restart_when(recorder, 1500, mosquitto, 1.0)
    report = job.result(timeout=60)
    assert report.readings + report.unsent == 12000, "total counts every reading made"
    assert report.reconnects == 1
    assert 1.0 <= report.disconnected_s < report.elapsed_s - 3.0
    # The recorder is back too, and the flood went on numbering from where it was.
    recorder.wait_for(lambda rec: max(r.seq for m in rec.readings().values() for r in m) > before)
    arrived = sum(map(len, recorder.readings().values()))
    assert arrived <= report.readings


def test_a_stop_ends_a_flood_that_waits_for_its_broker(mosquitto: Mosquitto) -> None:
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(flood, "127.0.0.1", mosquitto.port, 5, 1000.0, None, stop=stop)
        time.sleep(0.5)
        mosquitto.stop()
        time.sleep(1.0)  # the flood has noticed and is backing off
        stop.set()
        report = job.result(timeout=10)
    assert report.reconnects == 0
    assert report.disconnected_s >= 0.5
    assert report.readings > 0


def _seqs(recorder: Recorder) -> set[tuple[str, int]]:
    return {(sensor, r.seq) for sensor, mine in recorder.readings().items() for r in mine}
