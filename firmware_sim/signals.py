"""Signal models: what each metric of a sensor reads at a time, as pure functions.

A metric's value is

    base + amplitude * shape(local hour) + sensor.offset * spread + deviation

clamped into the catalogue's range. ``shape`` is a daily cycle scaled to 0..1 (rush hours, the
afternoon warmth, office hours). ``deviation`` is an Ornstein-Uhlenbeck process, the AR(1)
process for uneven time steps: between samples dt apart it keeps a share exp(-dt / tau) of
its value and gains fresh noise, so its spread stays ``sigma`` whatever the interval or the
simulation speed. The process lives in an explicit ``SignalState``; the noise for the n-th
sample of a sensor comes from a random stream keyed by (seed, sensor number, n), so the same
sensor sampled at the same times gives the same values, in any process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from firmware_sim.fleet import NOISE_STREAM, SimSensor
from shared.catalogue import KINDS

Floats = npt.NDArray[np.float64]

# Energy registers count from here, so their readings stay plausible for decades.
COUNTER_EPOCH: Final = 1_704_067_200.0  # 2024-01-01T00:00:00Z


class Shape(IntEnum):
    """How a metric follows the clock."""

    FLAT = 0  # no daily cycle
    RUSH = 1  # traffic: peaks at 08:00 and 17:30, a busy day between, quiet nights
    DAYTIME = 2  # sun-driven: lowest at 03:00, highest at 15:00
    OFFICE = 3  # a plateau from about 08:00 to 19:00
    COUNTER = 4  # a register: hours since COUNTER_EPOCH, for ever increasing


@dataclass(frozen=True, slots=True)
class MetricModel:
    """How one metric behaves: its level, daily cycle, sensor spread and noise."""

    name: str
    base: float  # the level when the daily shape is 0
    amplitude: float = 0.0  # added at the shape's peak (negative: the metric dips)
    shape: Shape = Shape.FLAT
    spread: float = 0.0  # how far one sensor's calibration strays, per unit of offset
    sigma: float = 0.0  # standard deviation of the noise
    tau_s: float = 600.0  # how long the noise takes to forget, in simulated seconds
    decimals: int = 2
    wrap: float | None = None  # a circular quantity wraps at this value instead of clamping


_M = MetricModel
_FLAT, _RUSH, _DAY, _OFFICE, _COUNTER = Shape
# fmt: off
# Levels are typical of a mid-sized European city; the columns are MetricModel's fields:
#   name                     base      amplitude shape     spread   sigma   tau_s  decimals
MODELS: Final[Mapping[str, tuple[MetricModel, ...]]] = MappingProxyType({
    "air_quality": (
        _M("pm25",                8.0,      14.0,  _RUSH,     2.0,     3.0,   1800,  1),
        _M("pm10",               15.0,      20.0,  _RUSH,     3.0,     5.0,   1800,  1),
        _M("no2",                15.0,      45.0,  _RUSH,     4.0,     6.0,    900,  1),
        _M("o3",                 35.0,      50.0,  _DAY,      5.0,     8.0,   1800,  1),
        _M("co",                  0.2,       0.6,  _RUSH,     0.05,    0.08,   900,  3),
    ),
    "traffic_flow": (
        _M("intensity",          80.0,    1500.0,  _RUSH,    30.0,    40.0,    300,  0),
        _M("averageVehicleSpeed", 52.0,    -30.0,  _RUSH,     3.0,     4.0,    300,  1),
        _M("occupancy",           0.02,      0.4,  _RUSH,     0.02,    0.03,   300,  3),
    ),
    "water_quality": (
        _M("temperature",        16.0,       1.5,  _DAY,      0.5,     0.3,   3600,  2),
        _M("pH",                  7.8,       0.0,  _FLAT,     0.1,     0.05,  3600,  2),
        _M("turbidity",           4.0,       0.0,  _FLAT,     1.0,     1.5,   1800,  1),
        _M("O2",                  7.5,       1.2,  _DAY,      0.3,     0.3,   1800,  2),
        _M("conductivity",      500.0,       0.0,  _FLAT,    40.0,    15.0,   3600,  0),
        _M("escherichiaColi",    60.0,       0.0,  _FLAT,    15.0,    30.0,   3600,  0),
        _M("enterococci",        30.0,       0.0,  _FLAT,     8.0,    15.0,   3600,  0),
    ),
    "noise": (
        _M("LAeq",               42.0,      22.0,  _RUSH,     2.0,     2.5,    120,  1),
        _M("LAmax",              55.0,      25.0,  _RUSH,     2.0,     5.0,     60,  1),
    ),
    "energy_meter": (
        _M("activePower",        12.0,      30.0,  _OFFICE,   4.0,     3.0,    600,  2),
        # About the mean active power in kWh per hour, on a register at 50 MWh at the epoch.
        _M("totalActiveEnergyImport", 50_000.0, 25.0, _COUNTER, 5_000.0, 0.0, 600,  2),
        _M("powerFactor",         0.93,      0.0,  _FLAT,     0.02,    0.015,  900,  3),
    ),
    "parking": (
        _M("availableSpotNumber", 180.0,  -150.0,  _OFFICE,  10.0,     8.0,    900,  0),
        _M("occupancy",           0.1,       0.75, _OFFICE,   0.03,    0.04,   900,  3),
    ),
    "weather": (
        _M("temperature",        10.0,       8.0,  _DAY,      0.4,     1.0,   3600,  2),
        _M("relativeHumidity",    0.85,     -0.25, _DAY,      0.02,    0.04,  3600,  3),
        _M("precipitation",       0.0,       0.0,  _FLAT,     0.1,     0.6,   1800,  2),
        _M("windSpeed",           3.0,       2.0,  _DAY,      0.3,     1.2,    600,  1),
        _M("windDirection",     240.0,       0.0,  _FLAT,    10.0,    40.0,   3600,  0, wrap=360.0),
        _M("atmosphericPressure", 1013.0,    0.0,  _FLAT,     1.5,     6.0,  21600,  1),
    ),
    "people_counter": (
        _M("peopleCount",         5.0,     240.0,  _OFFICE,  20.0,    25.0,    300,  0),
    ),
})
# fmt: on


@dataclass(frozen=True, slots=True)
class KindModel:
    """The models of one kind's metrics as arrays, with the catalogue's bounds."""

    names: tuple[str, ...]
    base: Floats
    amplitude: Floats
    shape: npt.NDArray[np.int_]
    spread: Floats
    sigma: Floats
    tau_s: Floats
    low: Floats
    high: Floats
    decimals: tuple[int, ...]
    wrap: tuple[float | None, ...]


@functools.cache
def kind_model(kind: str) -> KindModel:
    """The array form of ``MODELS[kind]``, bounded by the catalogue (computed once per kind)."""
    models = MODELS[kind]
    metrics = KINDS[kind].metrics

    def column(values: list[float]) -> Floats:
        array = np.array(values, dtype=np.float64)
        array.flags.writeable = False  # shared by every sensor of the kind
        return array

    shapes = np.array([m.shape for m in models], dtype=np.int_)
    shapes.flags.writeable = False
    return KindModel(
        names=tuple(m.name for m in models),
        base=column([m.base for m in models]),
        amplitude=column([m.amplitude for m in models]),
        shape=shapes,
        spread=column([m.spread for m in models]),
        sigma=column([m.sigma for m in models]),
        tau_s=column([m.tau_s for m in models]),
        low=column([metrics[m.name].low for m in models]),
        high=column([metrics[m.name].high for m in models]),
        decimals=tuple(m.decimals for m in models),
        wrap=tuple(m.wrap for m in models),
    )


@dataclass(frozen=True, slots=True)
class SignalState:
    """Where a sensor's noise process stands: samples taken, last time, last deviations."""

    step: int = 0
    t: float | None = None
    deviation: tuple[float, ...] = ()


def local_hours(sensor: SimSensor, t: float) -> float:
    """Hours since the epoch on the sensor's local clock, shifted by its own phase."""
    return t / 3600.0 + sensor.utc_offset_h - sensor.phase_h


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def _office(hour: float) -> float:
    rise = 1.0 / (1.0 + math.exp(-2.0 * (hour - 7.5)))
    fall = 1.0 / (1.0 + math.exp(-2.0 * (19.0 - hour)))
    return rise * fall


def shapes_at(hours: float) -> Floats:
    """The value of every Shape at ``hours`` local hours since the epoch, indexed by Shape."""
    hour = hours % 24.0
    rush = 0.75 * max(_bump(hour, 8.0, 1.3), 0.85 * _bump(hour, 17.5, 1.6)) + 0.25 * _office(hour)
    daytime = 0.5 * (1.0 + math.cos(2.0 * math.pi * (hour - 15.0) / 24.0))
    counter = hours - (COUNTER_EPOCH / 3600.0)
    return np.array([0.0, rush, daytime, _office(hour), counter], dtype=np.float64)


def level(sensor: SimSensor, t: float) -> Floats:
    """The noise-free value of each metric of ``sensor`` at epoch time ``t``, in MODELS order."""
    model = kind_model(sensor.kind)
    shape = shapes_at(local_hours(sensor, t))[model.shape]
    return model.base + model.amplitude * shape + sensor.offset * model.spread


def _innovations(sensor: SimSensor, step: int, size: int) -> Floats:
    rng = np.random.default_rng([sensor.seed, NOISE_STREAM, sensor.number, step])
    return rng.standard_normal(size)


def _deviation(sensor: SimSensor, state: SignalState, t: float) -> Floats:
    model = kind_model(sensor.kind)
    noise = _innovations(sensor, state.step, len(model.names)) * model.sigma
    if state.t is None:
        return noise  # the first sample starts from the stationary spread
    keep = np.exp(-max(t - state.t, 0.0) / model.tau_s)
    previous = np.array(state.deviation, dtype=np.float64)
    return previous * keep + noise * np.sqrt(1.0 - keep * keep)


def sample(sensor: SimSensor, state: SignalState, t: float) -> tuple[dict[str, float], SignalState]:
    """Every metric of ``sensor`` observed at epoch time ``t``, and the state after it."""
    model = kind_model(sensor.kind)
    deviation = _deviation(sensor, state, t)
    values = level(sensor, t) + deviation
    metrics = {name: _bounded(float(values[i]), model, i) for i, name in enumerate(model.names)}
    after = SignalState(state.step + 1, t, tuple(float(d) for d in deviation))
    return metrics, after


def _bounded(value: float, model: KindModel, index: int) -> float:
    wrap = model.wrap[index]
    if wrap is not None:
        value %= wrap
    value = round(value, model.decimals[index])
    return min(max(value, float(model.low[index])), float(model.high[index]))


def series(sensor: SimSensor, times: Iterable[float]) -> dict[str, Floats]:
    """Each metric of ``sensor`` sampled at ``times`` in order, from a fresh state."""
    state = SignalState()
    columns: dict[str, list[float]] = {name: [] for name in kind_model(sensor.kind).names}
    for t in times:
        metrics, state = sample(sensor, state, float(t))
        for name, value in metrics.items():
            columns[name].append(value)
    return {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
