"""Flood mode: publish readings as fast as the broker takes them, up to a rate, and measure it.

One MQTT connection carries a whole fleet, sensor after sensor, each with its own sequence
numbers. Values come from the world model (one simulated day on a 15-minute grid, replayed in
a loop, without anomalies); observation times are the wall clock at publication (a batch's
readings spread evenly since the sensor's previous message). Each reading goes through the
sensor's ``Firmware``, so faults can be mixed in at any rate. With ``batch`` above 1, a
message carries that many readings of one sensor.

Pacing: reading ``i`` is not published before ``i / rate`` seconds of connected time after
the start; the loop checks the clock every few messages and waits, serving the connection,
when it is ahead.

A lost broker pauses the flood: it makes no readings while it reconnects (capped, jittered
backoff, until the broker is back, the duration is over or it is stopped), then carries on
where it was, its schedule moved on by the outage. The report says how long it was without a
broker, how often it reconnected, and how many readings it made that could not be sent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from firmware_sim.city import generate_city
from firmware_sim.firmware import NO_FAULTS, FaultRates, Firmware
from firmware_sim.live import NO_ANOMALIES, make_block, reading_of
from firmware_sim.transports.paho import PahoPublisher
from shared.reading import Reading
from shared.wire.mqtt import MAX_BATCH, readings_topic

CYCLE_GRID_S: Final = 900.0
_CYCLE: Final = 96  # samples replayed per sensor: one day on the 15-minute grid
_CHECK_EVERY: Final = 64  # messages between two looks at the clock and the socket, at most
_BURST_S: Final = 0.001  # paced: about this much of the schedule goes out at once
_DRAIN_S: Final = 30.0
_FIRST_SPACING_S: Final = 0.001  # before a sensor's first message: its readings' pace


@dataclass(frozen=True, slots=True)
class FloodReport:
    """What a flood did: readings and messages sent, over how long, at what rate."""

    readings: int  # readings sent (a duplicate counts twice)
    messages: int  # MQTT messages published
    elapsed_s: float  # from the first publication until the broker had everything
    target_rate: float | None  # readings/s asked for; None: as fast as possible
    qos: int
    batch: int
    sensors: int
    faults: Mapping[str, int] = field(default_factory=dict)
    drained: bool = True  # False if some messages were still unwritten or unacknowledged
    unsent: int = 0  # readings made but lost: the broker was gone (QoS 0)
    reconnects: int = 0
    disconnected_s: float = 0.0  # time without a broker, within elapsed_s

    @property
    def rate(self) -> float:
        """Readings per second achieved."""
        return self.readings / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def message_rate(self) -> float:
        """Messages per second achieved."""
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class _Sensor:
    firmware: Firmware
    topic: str
    values: list[dict[str, float]]
    step: int = 0
    carry: list[Reading] = field(default_factory=list)  # produced, not yet sent
    last_ts: float | None = None  # observation time of its latest reading


def flood(
    host: str,
    port: int,
    sensors: int,
    rate: float | None,
    total: int | None,
    qos: Literal[0, 1] = 0,
    batch: int = 1,
    *,
    seed: int = 0,
    prefix: str = "flood",
    faults: FaultRates = NO_FAULTS,
    duration: float | None = None,
    stop: threading.Event | None = None,
    gateways: int | None = None,
) -> FloodReport:
    """Publish ``total`` readings (None: until ``duration`` or ``stop``) at up to ``rate``/s.

    ``total`` counts the readings made, sent or not.
    """
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch: {batch} is not in 1..{MAX_BATCH}")
    fleet = fleet_values(seed, sensors, prefix, faults, gateways)
    client_id = f"citytwin-flood-{prefix}-{os.getpid()}"
    with PahoPublisher(host, port, client_id, qos, stop=stop) as link:
        began = time.perf_counter()
        count = _publish(link, fleet, _Pace(rate, total, batch, began, duration), stop)
        count += _flush(link, fleet)
        drained = link.drain(_DRAIN_S)
        elapsed = time.perf_counter() - began
    counts: dict[str, int] = {}
    for sensor in fleet:
        for name, n in sensor.firmware.counts.items():
            counts[name] = counts.get(name, 0) + n
    return FloodReport(count.sent, link.published, elapsed, rate, qos, batch, sensors,
                       dict(sorted(counts.items())), drained, count.unsent, link.reconnects,
                       link.disconnected_s)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Pace:
    """How much to publish and how fast: the flood's plan, fixed when it starts."""

    rate: float | None
    total: int | None
    batch: int
    began: float  # perf_counter time
    duration: float | None

    @property
    def end(self) -> float | None:
        """perf_counter time at which the flood stops, if it has a duration."""
        return None if self.duration is None else self.began + self.duration

    def out_of_time(self) -> bool:
        """Whether the duration is over."""
        return self.end is not None and _now() >= self.end


@dataclass(frozen=True, slots=True)
class _Count:
    """Readings handed to the connection, and readings lost because it was down."""

    sent: int = 0
    unsent: int = 0

    def __add__(self, other: _Count) -> _Count:
        return _Count(self.sent + other.sent, self.unsent + other.unsent)


def fleet_values(
    seed: int, sensors: int, prefix: str, faults: FaultRates, gateways: int | None = None
) -> list[_Sensor]:
    """Every sensor of the fleet with its firmware and a day of clean values to replay."""
    city = generate_city(seed, sensors, prefix, gateways=gateways)
    block = make_block(city, 0, NO_ANOMALIES, CYCLE_GRID_S)
    out = []
    for placed in city.sensors:
        s = placed.sensor
        series = block.series[s.kind]
        row = series.values[series.sensors.index(s.id)]
        values = [reading_of(s.kind, row[j : j + 2], 0.0) for j in range(_CYCLE)]
        firmware = Firmware(s.id, s.kind, s.number, seed, faults)
        out.append(_Sensor(firmware, readings_topic(s.id), [v for v in values if v]))
    return out


def _publish(
    link: PahoPublisher, fleet: list[_Sensor], pace: _Pace, stop: threading.Event | None
) -> _Count:
    """The publishing loop; returns the readings sent and the readings lost."""
    sent = unsent = messages = 0
    index = 0
    # Paced, look at the clock often enough that messages leave spread out as sensors send
    # them, not in bursts a receiver could batch for free.
    per_burst = _CHECK_EVERY if pace.rate is None else int(pace.rate * _BURST_S / pace.batch)
    check_every = max(1, min(_CHECK_EVERY, per_burst))
    while pace.total is None or sent + unsent < pace.total:
        if not link.connected and not link.reconnect(pace.end):
            break  # stopped, or out of time, while the broker was away
        sensor = fleet[index]
        index = (index + 1) % len(fleet)
        want = pace.batch if pace.total is None else min(pace.batch, pace.total - sent - unsent)
        readings = _take(sensor, want, time.time())
        if readings:
            if link.publish(sensor.topic, sensor.firmware.payload(readings)):
                sent += len(readings)
            else:
                unsent += len(readings)
            messages += 1
        if messages % check_every == 0:
            link.service()
            if (stop is not None and stop.is_set()) or pace.out_of_time():
                break
            if pace.rate is not None:
                # Time without a broker does not count: the flood resumes at its rate, no burst.
                _wait_for(link, pace.began + link.disconnected_s + (sent + unsent) / pace.rate)
    return _Count(sent, unsent)


def _take(sensor: _Sensor, count: int, now: float) -> list[Reading]:
    """Up to ``count`` readings of one sensor, as its firmware sends them.

    A batching sensor samples at a steady pace and sends what it gathered: the readings of one
    message are spread evenly since its previous message, the last one observed ``now``
    (readings sharing one time would look to the gateway like bursts after gaps).
    """
    out, sensor.carry = sensor.carry, []
    since = now - _FIRST_SPACING_S * count if sensor.last_ts is None else sensor.last_ts
    pace = max(now - since, 0.0) / count
    made = 0
    while len(out) < count:
        values = sensor.values[sensor.step % len(sensor.values)]
        sensor.step += 1
        made += 1
        out += sensor.firmware.readings(since + pace * min(made, count), values)
    sensor.last_ts = now
    # A duplicate can make one observation two readings: the extra waits for the next message.
    out, sensor.carry = out[:count], out[count:]
    return out


def _flush(link: PahoPublisher, fleet: list[_Sensor]) -> _Count:
    """Send the readings firmware held back to reorder."""
    count = _Count()
    for sensor in fleet:
        held = sensor.carry + sensor.firmware.flush()
        if held:
            ok = link.publish(sensor.topic, sensor.firmware.payload(held))
            count += _Count(len(held), 0) if ok else _Count(0, len(held))
    return count


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while the flood runs (main thread only)."""
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wait_for(link: PahoPublisher, deadline: float) -> None:
    """Serve the connection until ``deadline`` (perf_counter time), or until it is lost."""
    while link.connected and (ahead := deadline - _now()) > 0:
        link.service(min(ahead, 0.05))


def _now() -> float:
    return time.perf_counter()
