"""Every fault the simulated firmware makes, through a real broker to a real agent, counted.

One sensor per fault kind, so each count is exact: payloads the firmware mangled are dead
letters with the reason the firmware documents; duplicates and reboots are sequence counters,
not dead letters; serial noise is skipped and counted; everything else is accepted, and the
agent keeps running throughout. MQTT through a real broker, serial lines through a pty pair.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from edge.settings import EdgeSettings
from firmware_sim.firmware import FaultRates, Firmware, Transport
from shared.wire.mqtt import readings_topic
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, publisher, wait_until
from tests.edge.test_serial import Cable

OBSERVATIONS = 80
RATE = 0.15
MAX_AGE_S, MAX_FUTURE_S = 7 * 86400.0, 300.0
MQTT_FAULTS = ("duplicate", "out_of_order", "reboot", "clock_skew", "clock_jump", "malformed",
               "wrong_types", "oversize")  # fmt: skip
SERIAL_FAULTS = (*MQTT_FAULTS, "bad_checksum", "noise")
REASON = {"malformed": "not_json", "wrong_types": "bad_value", "oversize": "too_large"}
SERIAL_REASON = REASON | {"malformed": "bad_frame", "bad_checksum": "bad_checksum"}


class _Sent:
    """What the test published, and what it expects the agent to make of it."""

    def __init__(self) -> None:
        self.payloads: list[tuple[str, bytes]] = []  # (MQTT topic, payload) or ("", line)
        self.injected: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()  # reason -> count
        self.restarts = 0


def _fleet(transport: Transport, faults: tuple[str, ...], reasons: dict[str, str]) -> _Sent:
    sent = _Sent()
    for number, fault in enumerate(faults):
        sensor = f"f-{fault.replace('_', '-')}"
        rates = FaultRates(**{fault: RATE})
        firmware = Firmware(sensor, "air_quality", number, 11, rates, transport)
        channel = readings_topic(sensor) if transport == "mqtt" else ""
        for step in range(OBSERVATIONS):
            ts = time.time() + step * 0.01
            before = sum(firmware.counts.values())
            metrics = {"pm25": 12.0 + step % 5, "pm10": 20.0, "no2": 30.0, "o3": 40.0, "co": 0.4}
            readings = firmware.readings(ts, metrics)
            drawn = sum(firmware.counts.values()) > before
            if drawn and fault in reasons:
                sent.dead[reasons[fault]] += 1
            if drawn and fault == "clock_jump":
                jumped = readings[0].ts
                assert jumped is not None
                sent.dead["stale_ts" if jumped < ts - MAX_AGE_S else "future_ts"] += 1
            if drawn and fault == "reboot" and step > 0:
                sent.restarts += 1  # a reboot at the very first reading looks like a start
            sent.payloads += [(channel, p) for p in firmware.frames(readings)]
        sent.payloads += [(channel, p) for p in firmware.frames(firmware.flush())]
        sent.injected[fault] = firmware.counts[fault]
    return sent


async def test_each_fault_kind_is_dead_lettered_or_counted_exactly(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    sent = _fleet("mqtt", MQTT_FAULTS, REASON)
    assert all(sent.injected[f] > 0 for f in MQTT_FAULTS), sent.injected  # each one happened
    running = start_agent(edge_settings(mosquitto, tmp_path / "edge"))
    await wait_until(lambda: running.agent.source.subscribed)
    pub = publisher(mosquitto)
    for topic, payload in sent.payloads:
        pub.publish(topic, payload, qos=1)
    pub.loop_stop()
    counters = running.agent.pipeline.counters
    await wait_until(
        lambda: counters.messages == len(sent.payloads), timeout=20, what=lambda: f"{counters}"
    )
    store = running.agent.store
    await wait_until(lambda: len(store.dead_letters(10_000)) == sum(sent.dead.values()))
    letters = store.dead_letters(10_000)
    by_reason = Counter(letter.reason for letter in letters)

    assert by_reason == sent.dead
    assert counters.rejected_by_reason == dict(sent.dead)
    assert counters.duplicates == sent.injected["duplicate"]
    assert counters.restarts == sent.restarts
    accepted = len(sent.payloads) - sum(sent.dead.values()) - sent.injected["duplicate"]
    assert counters.readings == accepted
    # Each dead letter names the sensor whose firmware made that fault, and keeps its bytes.
    for letter in letters:
        assert letter.payload
        assert letter.detail
        fault = letter.channel.split("/")[3].removeprefix("f-").replace("-", "_")
        assert fault in (*REASON, "clock_jump")
    assert running.agent.source.subscribed  # still running and still listening
    await running.stop()


async def test_each_serial_fault_kind_is_dead_lettered_or_counted_exactly(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    sent = _fleet("serial", SERIAL_FAULTS, SERIAL_REASON)
    assert all(sent.injected[f] > 0 for f in SERIAL_FAULTS), sent.injected
    cable = Cable(tmp_path / "ttyUSB0")
    cable.plug()
    settings = edge_settings(
        mosquitto, tmp_path / "edge", serial=[{"port": str(cable.link), "reopen_s": 0.2}]
    )
    running = start_agent(settings)
    [port] = running.agent.serial
    await wait_until(lambda: port.opened == 1)
    for _, line in sent.payloads:
        cable.send(line)
    noise = sent.injected["noise"]
    frames = len(sent.payloads) - noise  # a noise fault is a debug print before a good frame
    counters = running.agent.pipeline.counters
    await wait_until(
        lambda: counters.messages == frames and port.noise_lines == noise,
        timeout=20,
        what=lambda: f"{counters} noise={port.noise_lines}",
    )
    store = running.agent.store
    await wait_until(lambda: len(store.dead_letters(10_000)) == sum(sent.dead.values()))
    letters = store.dead_letters(10_000)

    assert Counter(letter.reason for letter in letters) == sent.dead
    assert {letter.transport for letter in letters} == {"serial"}
    assert counters.duplicates == sent.injected["duplicate"]
    assert counters.restarts == sent.restarts
    assert counters.readings == frames - sum(sent.dead.values()) - sent.injected["duplicate"]
    await running.stop()
    cable.unplug()
