"""The process: one asyncio task per simulated sensor, all on one clock.

Values come from the world model (``live.LiveWorld``: weather, events, neighbours, sensor
faults); each sensor's ``Firmware`` numbers, stamps and encodes them, with faulty firmware
at the configured rates. Every sensor connects first; then all start together.

Sensor ``i`` of ``n`` samples at ``origin + (i / n + k) * interval`` for k = 0, 1, 2...:
staggered, so a fleet does not publish in bursts. It stamps each reading with the simulated
time of its tick, which runs ``speed`` times faster than the wall clock. A sensor that falls
behind (a slow broker) skips the ticks it missed rather than catching up in a burst, as a
sensor on a timer would. A dropout in the world uses up a sequence number and sends nothing.

With a ``TruthLog`` the run records which injected anomalies each reading it sent carried,
for the labels file of ``--labels``. With several brokers, each gateway of the city has its
own, and a sensor publishes to its gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.anomalies import Rates
from firmware_sim.city import GeneratedCity, generate_city
from firmware_sim.drill import Drills
from firmware_sim.errors import SimError
from firmware_sim.firmware import NO_FAULTS, FaultRates, Firmware
from firmware_sim.fleet import SimSensor
from firmware_sim.live import LiveWorld
from firmware_sim.settings import SimSettings
from firmware_sim.transports import Link, LinkFactory
from firmware_sim.transports.mqtt import MqttLink, MqttOptions
from firmware_sim.transports.serial import SerialLine
from firmware_sim.truth import TruthLog, open_labels, write_labels

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunPlan:
    """When sensors sample: wall seconds between readings, run time, and the simulated clock."""

    interval: float = 1.0
    speed: float = 1.0
    duration: float | None = None  # wall seconds; None runs until stopped
    start: float | None = None  # simulated epoch time of the origin; None is the wall clock
    faults: FaultRates = NO_FAULTS  # faulty firmware
    drill_s: float | None = None  # wall seconds between two drills; None: none
    seed: int = 0  # of the drills


@dataclass(frozen=True, slots=True)
class SensorReport:
    """What one sensor did during a run."""

    sensor: str
    readings: int  # sampled, each with its own sequence number (dropouts included)
    sent: int  # messages handed to the broker or the line
    lost: int = 0  # messages lost while the broker was unreachable
    faults: tuple[tuple[str, int], ...] = ()  # firmware faults, (name, count)


@dataclass(frozen=True, slots=True)
class FleetReport:
    """What the whole fleet did during a run."""

    sensors: tuple[SensorReport, ...]
    elapsed_s: float
    labels: int = 0  # anomaly labels written (--labels)

    @property
    def readings(self) -> int:
        """Readings sampled by all sensors."""
        return sum(s.readings for s in self.sensors)

    @property
    def sent(self) -> int:
        """Messages handed to the broker by all sensors."""
        return sum(s.sent for s in self.sensors)

    @property
    def lost(self) -> int:
        """Messages lost to an unreachable broker, all sensors together."""
        return sum(s.lost for s in self.sensors)

    def faults(self) -> dict[str, int]:
        """Firmware faults of all sensors, by name."""
        out: dict[str, int] = {}
        for sensor in self.sensors:
            for name, count in sensor.faults:
                out[name] = out.get(name, 0) + count
        return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class _Clock:
    """The run's time origin, in event-loop time and in simulated epoch time."""

    origin: float
    sim_origin: float
    plan: RunPlan

    def deadline(self, ticks: float) -> float:
        """Loop time ``ticks`` intervals after the origin."""
        return self.origin + ticks * self.plan.interval

    def observed_at(self, ticks: float) -> float:
        """Simulated epoch time ``ticks`` intervals after the origin."""
        # Computed from the origin, not from loop time, so observation times are exact.
        return self.sim_origin + ticks * self.plan.interval * self.plan.speed


class _StartLine:
    """Holds every sensor until all are connected, then gives them one shared clock."""

    def __init__(self, parties: int, plan: RunPlan) -> None:
        self._barrier = asyncio.Barrier(parties)
        self._plan = plan
        self._clock: _Clock | None = None

    async def wait(self) -> _Clock:
        await self._barrier.wait()
        if self._clock is None:  # the first sensor released sets the origin for all
            sim_origin = time.time() if self._plan.start is None else self._plan.start
            loop_time = asyncio.get_running_loop().time()
            self._clock = _Clock(loop_time, sim_origin, self._plan)
        return self._clock


async def run_fleet(
    world: LiveWorld,
    open_link: LinkFactory,
    plan: RunPlan,
    stop: asyncio.Event | None = None,
    truth: TruthLog | None = None,
) -> FleetReport:
    """Run every sensor of ``world`` until ``plan.duration`` elapses or ``stop`` is set.

    ``truth``, if given, learns which anomalies every reading sent carried.
    """
    started = time.monotonic()
    stop = stop if stop is not None else asyncio.Event()
    fleet = tuple(placed.sensor for placed in world.city.sensors)
    if not fleet:
        return FleetReport((), 0.0)
    start_line = _StartLine(len(fleet), plan)
    drills = None
    if plan.drill_s is not None:
        # Simulated seconds: at --speed 60 a drill every 20 wall seconds is one every 20 minutes.
        origin = time.time() if plan.start is None else plan.start
        drills = Drills(fleet, plan.drill_s * plan.speed, origin, plan.seed)
    staggers = [index / len(fleet) for index in range(len(fleet))]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    _run_sensor(
                        world,
                        sensor,
                        open_link(sensor),
                        plan,
                        stagger,
                        start_line,
                        stop,
                        truth,
                        drills,
                    )
                )
                for stagger, sensor in zip(staggers, fleet, strict=True)
            ]
    except BaseExceptionGroup as errors:
        raise _first_sim_error(errors) from None
    return FleetReport(tuple(t.result() for t in tasks), time.monotonic() - started)


def _first_sim_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first SimError of a group if it holds nothing else, else the group itself."""
    matched, rest = errors.split(SimError)
    if matched is None or rest is not None:
        return errors
    first: BaseException = matched
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


async def _run_sensor(
    world: LiveWorld,
    sensor: SimSensor,
    link: Link,
    plan: RunPlan,
    stagger: float,
    start_line: _StartLine,
    stop: asyncio.Event,
    truth: TruthLog | None,
    drills: Drills | None = None,
) -> SensorReport:
    firmware = Firmware(
        sensor.id, sensor.kind, sensor.number, sensor.seed, plan.faults, link.transport
    )
    readings = sent = lost = 0
    async with link:
        clock = await start_line.wait()
        end = None if plan.duration is None else clock.origin + plan.duration
        tick = 0
        while True:
            deadline = clock.deadline(stagger + tick)
            if (end is not None and deadline >= end) or not await _sleep_until(deadline, stop):
                break
            # Whole milliseconds, as the wire carries them: replaying the signal model at the
            # published times then gives back the published values exactly.
            ts = round(clock.observed_at(stagger + tick), 3)
            metrics = world.metrics(sensor.id, ts)
            touched = () if truth is None else world.anomalies(sensor.id, ts)
            if metrics is None:  # a dropout: the sensor counts the reading it could not take
                firmware.skip()
                if truth is not None:
                    truth.dropped(touched, ts)
            else:
                drill = None
                if drills is not None:
                    metrics, drill = drills.apply(sensor.id, ts, metrics)
                    if drill is not None:
                        touched = (*touched, (drill.number, drill.label()))
                        log.info("drill %d: %s %s = %s at ts %.3f", drill.number, sensor.id,
                                 drill.metric, metrics[drill.metric], ts)  # fmt: skip
                failed = 0
                for frame in firmware.frames(firmware.readings(ts, metrics)):
                    ok = await link.send(frame)
                    sent, failed = sent + ok, failed + (not ok)
                lost += failed
                if truth is not None and not failed:
                    truth.sent(touched, ts)
            readings += 1
            tick = _next_tick(tick, clock.origin, stagger, plan.interval)
        for frame in firmware.frames(firmware.flush()):
            ok = await link.send(frame)
            sent, lost = sent + ok, lost + (not ok)
    return SensorReport(sensor.id, readings, sent, lost, tuple(sorted(firmware.counts.items())))


def _next_tick(tick: int, origin: float, stagger: float, interval: float) -> int:
    """The first tick after ``tick`` that is not already past."""
    now = asyncio.get_running_loop().time()
    return max(tick + 1, math.ceil((now - origin) / interval - stagger))


async def _sleep_until(deadline: float, stop: asyncio.Event) -> bool:
    """Wait until loop time ``deadline``; False if ``stop`` is set first."""
    if stop.is_set():
        return False
    delay = deadline - asyncio.get_running_loop().time()
    if delay <= 0:
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await stop.wait()
    return not stop.is_set()


async def run(
    settings: SimSettings,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = log.info,
) -> FleetReport:
    """Run the fleet ``settings`` describe against its brokers, or on its serial line."""
    city = generate_city(settings.seed, settings.sensors, settings.prefix,
                         gateways=settings.gateways)  # fmt: skip
    world = LiveWorld(city, Rates(faults_per_sensor_day=settings.anomaly_rate))
    plan = RunPlan(settings.interval, settings.speed, settings.duration,
                   faults=settings.fault_rates, drill_s=settings.drill,
                   seed=settings.seed)  # fmt: skip
    labels = None if settings.labels is None else open_labels(Path(settings.labels))
    truth = None if labels is None else TruthLog()
    try:
        if settings.serial is not None:
            async with SerialLine(settings.serial) as line:
                announce(f"serial line: {line.path}")
                report = await run_fleet(world, lambda _: line.link(), plan, stop, truth)
        else:
            links = _mqtt_links(city, settings)
            report = await run_fleet(world, links, plan, stop, truth)
    finally:
        # Also after a failure or a cancellation: the labels of what did go out stay true.
        written = 0 if labels is None or truth is None else write_labels(truth, labels)
    return FleetReport(report.sensors, report.elapsed_s, written)


def _mqtt_links(city: GeneratedCity, settings: SimSettings) -> LinkFactory:
    """Each sensor's MQTT link: to the one broker, or to its gateway's if there are several."""
    options = [MqttOptions(h, p, qos=settings.qos) for h, p in settings.broker_addresses]
    log.info("simulating %d sensors against %s", settings.sensors,
             ", ".join(o.url for o in options))  # fmt: skip
    if len(options) == 1:
        return lambda sensor: MqttLink(sensor.id, options[0])
    # Brokers follow the city's gateway order (gw-01 first); settings checked one per gateway.
    by_gateway = dict(zip((g.id for g in city.gateways), options, strict=False))
    gateway_of = {placed.sensor.id: placed.gateway for placed in city.sensors}
    return lambda sensor: MqttLink(sensor.id, by_gateway[gateway_of[sensor.id]])


def main(settings: SimSettings, announce: Callable[[str], None] = log.info) -> FleetReport:
    """Process entry point: run until done, or SIGINT/SIGTERM, then shut every sensor down."""
    return asyncio.run(_run_until_signalled(settings, announce))


async def _run_until_signalled(
    settings: SimSettings, announce: Callable[[str], None]
) -> FleetReport:
    stop = asyncio.Event()
    with _stop_on_signals(stop):
        return await run(settings, stop, announce)


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on the first SIGINT or SIGTERM; a second one cancels the run outright."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and task is not None:
            task.cancel()
        stop.set()

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
            loop.add_signal_handler(signum, on_signal)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
