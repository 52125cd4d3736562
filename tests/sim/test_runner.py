"""The fleet against a real broker: readings, sequence numbers, statuses, shutdown, reconnects."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.city import generate_city
from firmware_sim.errors import LinkError
from firmware_sim.fleet import SimSensor
from firmware_sim.live import NO_ANOMALIES, LiveWorld
from firmware_sim.runner import RunPlan, run, run_fleet
from firmware_sim.settings import load
from firmware_sim.transports import LinkFactory
from firmware_sim.transports.mqtt import MqttLink, MqttOptions
from shared.catalogue import KINDS
from tests.conftest import Mosquitto, free_port
from tests.sim.conftest import Predicate, Recorder

START = 1_750_000_000.0


def mqtt_links(port: int, qos: int = 0) -> LinkFactory:
    options = MqttOptions("127.0.0.1", port, qos=1 if qos else 0, timeout_s=2.0)
    return lambda sensor: MqttLink(sensor.id, options)


def calm_world(seed: int, sensors: int, prefix: str) -> LiveWorld:
    """The live world of a city without sensor faults, so no dropout breaks the sequences."""
    return LiveWorld(generate_city(seed, sensors, prefix), NO_ANOMALIES)


def make_fleet(seed: int, sensors: int, prefix: str = "sim") -> tuple[SimSensor, ...]:
    return tuple(p.sensor for p in generate_city(seed, sensors, prefix).sensors)


def all_went_offline(fleet: tuple[SimSensor, ...]) -> Predicate:
    return lambda rec: all(rec.statuses()[s.id][-1:] == [False] for s in fleet)


@pytest.mark.parametrize("qos", [0, 1])
async def test_every_sensor_publishes_gapless_readings(
    mosquitto: Mosquitto, recorder: Recorder, qos: int
) -> None:
    fleet = make_fleet(7, 8, f"q{qos}")
    plan = RunPlan(interval=0.2, duration=2.0)
    report = await run_fleet(calm_world(7, 8, f"q{qos}"), mqtt_links(mosquitto.port, qos), plan)
    recorder.wait_for(all_went_offline(fleet))

    readings = recorder.readings()
    assert sorted(readings) == sorted(s.id for s in fleet)
    for sensor in fleet:
        mine = readings[sensor.id]
        assert len(mine) >= 8
        assert [r.seq for r in mine] == list(range(len(mine)))
        assert all(r.kind == sensor.kind for r in mine)
        assert all(set(r.metrics) == set(KINDS[sensor.kind].metrics) for r in mine)
        assert recorder.statuses()[sensor.id] == [True, False]
    assert report.sent == report.readings == sum(len(r) for r in readings.values())
    assert report.lost == 0


async def test_observation_times_run_at_the_simulated_speed(
    mosquitto: Mosquitto, recorder: Recorder
) -> None:
    fleet = make_fleet(3, 4, "fast")
    world = calm_world(3, 4, "fast")
    plan = RunPlan(interval=0.125, speed=480.0, duration=1.0, start=START)  # a minute a tick
    await run_fleet(world, mqtt_links(mosquitto.port), plan)
    recorder.wait_for(all_went_offline(fleet))
    for index, sensor in enumerate(fleet):
        mine = recorder.readings()[sensor.id]
        stamps = [r.ts for r in mine]
        assert stamps[0] == START + index / len(fleet) * 60.0  # staggered within the interval
        steps = [(b - a) / 60.0 for a, b in itertools.pairwise(stamps) if a and b]
        assert all(step >= 1 and step == round(step) for step in steps)
        # What went over the wire is what the world model gives at those times.
        for reading in mine:
            assert reading.ts is not None
            assert reading.metrics == world.metrics(sensor.id, reading.ts)


async def test_a_stop_event_shuts_every_sensor_down_cleanly(
    mosquitto: Mosquitto, recorder: Recorder
) -> None:
    fleet = make_fleet(1, 3, "stop")
    stop = asyncio.Event()
    world = calm_world(1, 3, "stop")
    run = asyncio.create_task(run_fleet(world, mqtt_links(mosquitto.port), RunPlan(0.1), stop))
    await asyncio.to_thread(recorder.wait_for, lambda rec: len(rec.readings()) == 3)
    stop.set()
    report = await asyncio.wait_for(run, 5)
    recorder.wait_for(all_went_offline(fleet))
    assert all(s.readings >= 1 for s in report.sensors)


async def test_cancelling_the_run_still_reports_every_sensor_offline(
    mosquitto: Mosquitto, recorder: Recorder
) -> None:
    fleet = make_fleet(1, 3, "cancel")
    world = calm_world(1, 3, "cancel")
    run = asyncio.create_task(run_fleet(world, mqtt_links(mosquitto.port), RunPlan(0.1)))
    await asyncio.to_thread(recorder.wait_for, lambda rec: len(rec.readings()) == 3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    recorder.wait_for(all_went_offline(fleet))


async def test_sensors_ride_out_a_broker_outage(mosquitto: Mosquitto, recorder: Recorder) -> None:
    fleet = make_fleet(2, 3, "outage")
    stop = asyncio.Event()
    world = calm_world(2, 3, "outage")
    run = asyncio.create_task(run_fleet(world, mqtt_links(mosquitto.port), RunPlan(0.1), stop))

    def each_has(count: int) -> Predicate:
        return lambda rec: all(len(rec.readings().get(s.id, [])) >= count for s in fleet)

    await asyncio.to_thread(recorder.wait_for, each_has(3))
    before = {sensor: len(readings) for sensor, readings in recorder.readings().items()}
    await asyncio.to_thread(mosquitto.stop)
    await asyncio.sleep(1.0)  # long enough for failed reconnects and backoff
    await asyncio.to_thread(mosquitto.start)
    await asyncio.to_thread(recorder.wait_for, each_has(max(before.values()) + 5), 20)
    stop.set()
    report = await asyncio.wait_for(run, 5)

    for sensor in fleet:
        seqs = [r.seq for r in recorder.readings()[sensor.id]]
        assert seqs == sorted(set(seqs)), "sequence numbers only go up"
        assert seqs[0] == 0
        assert seqs[-1] > before[sensor.id], "the sensor kept its numbering after reconnecting"
        assert max(b - a for a, b in itertools.pairwise(seqs)) > 1, "the outage shows"
    # Sensors kept sampling while the broker was down; those readings were lost.
    assert all(s.lost >= 3 for s in report.sensors)
    recorder.wait_for(all_went_offline(fleet))


async def test_an_unreachable_broker_fails_the_run_with_a_clear_error() -> None:
    world = calm_world(0, 3, "sim")
    with pytest.raises(LinkError, match=r"cannot connect to broker mqtt://127\.0\.0\.1:\d+"):
        await run_fleet(world, mqtt_links(free_port()), RunPlan(0.1, duration=1.0))


async def test_an_empty_fleet_runs_and_ends_at_once() -> None:
    report = await run_fleet(calm_world(0, 0, "sim"), mqtt_links(free_port()), RunPlan(0.1))
    assert report.sensors == ()


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Another broker, for a second gateway."""
    workdir = tmp_path / "second"
    workdir.mkdir()
    broker = Mosquitto(workdir)
    broker.start()
    yield broker
    broker.stop()


async def test_each_gateway_has_its_own_broker(
    mosquitto: Mosquitto, second_broker: Mosquitto, recorder: Recorder
) -> None:
    other = Recorder(second_broker.port)
    other.start()
    try:
        brokers = f"{mosquitto.url},{second_broker.url}"
        settings = load(broker=brokers, gateways=2, sensors=6, seed=7, prefix="gws",
                        interval=0.2, duration=1.5, anomaly_rate=0.0)  # fmt: skip
        report = await run(settings)
        city = generate_city(7, 6, "gws", gateways=2)
        where = {p.sensor.id: p.gateway for p in city.sensors}
        assert {s.sensor for s in report.sensors} == set(where)
        for broker, gateway in ((recorder, "gw-01"), (other, "gw-02")):
            mine = {sensor for sensor, g in where.items() if g == gateway}
            broker.wait_for(has_exactly(mine))
            assert set(broker.statuses()) == mine
    finally:
        other.stop()


def has_exactly(sensors: set[str]) -> Predicate:
    return lambda rec: set(rec.readings()) == sensors
