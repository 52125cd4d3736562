"""Sensor faults: what broken, dirty or badly installed sensors do to their readings.

Each sensor draws its faults from its own stream (seed, FAULTS, sensor number): a Poisson
number of them over the period, of types chosen uniformly, kept apart so that no two faults of
one sensor overlap. Sizes are in units of the metric's typical wobble (``labels.scale``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.anomalies.labels import ALL_METRICS, Label, Rates, scale, shifted
from firmware_sim.signals import kind_model
from firmware_sim.world.calendar import DAY_S, Floats
from firmware_sim.world.context import Context
from firmware_sim.world.series import KindSeries

Rng = np.random.Generator
# type -> (shortest, longest) duration in hours; 0 means a single sample
DURATIONS_H: Final = {
    "spike": (0.0, 0.0),
    "level_shift": (2.0, 24.0),
    "drift": (12.0, 72.0),
    "stuck": (1.0, 12.0),
    "dropout": (0.5, 12.0),
    "noise_burst": (0.5, 4.0),
    "out_of_range": (0.0, 0.25),
}
TYPES: Final = tuple(DURATIONS_H)


def inject_faults(
    ctx: Context, series: MutableMapping[str, KindSeries], rates: Rates
) -> list[Label]:
    """Inject every sensor's faults into ``series`` (in place) and return their labels."""
    labels: list[Label] = []
    for block in series.values():
        for row, number in enumerate(block.numbers):
            rng = np.random.default_rng([ctx.city.seed, streams.FAULTS, number])
            for first, last, fault in _schedule(rng, ctx, rates):
                labels += _apply(rng, block, row, first, last, fault)
    return labels


def _schedule(rng: Rng, ctx: Context, rates: Rates) -> list[tuple[int, int, str]]:
    """Non-overlapping (first, last, type) windows of one sensor's faults."""
    period = ctx.period
    days = period.samples * period.step_s / DAY_S
    planned = []
    for _ in range(int(rng.poisson(rates.faults_per_sensor_day * days))):
        fault = TYPES[int(rng.integers(len(TYPES)))]
        shortest, longest = DURATIONS_H[fault]
        length = 1 + int(rng.uniform(shortest, longest) * 3600.0 / period.step_s)
        first = int(rng.integers(1, max(period.samples - length, 2)))
        planned.append((first, min(first + length, period.samples) - 1, fault))
    kept: list[tuple[int, int, str]] = []
    for window in sorted(planned):
        if not kept or window[0] > kept[-1][1] + 1:
            kept.append(window)
    return kept


def _apply(rng: Rng, block: KindSeries, row: int, first: int, last: int, fault: str) -> list[Label]:
    values = block.values[row]  # (samples, metrics), a view: writes land in the block
    window = slice(first, last + 1)
    if fault in ("stuck", "dropout"):
        values[window] = values[first - 1] if fault == "stuck" else np.nan
        return [Label(block.sensor_at(row), block.kind, ALL_METRICS, first, last, fault, True)]
    metric = int(rng.integers(len(block.metrics)))
    unit = scale(block.kind, metric)
    values[window, metric] = _DISTORT[fault](rng, values[window, metric], unit, block.kind, metric)
    name = block.metrics[metric]
    return [Label(block.sensor_at(row), block.kind, name, first, last, fault, True)]


def _sign(rng: Rng) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _spike(rng: Rng, x: Floats, unit: float, kind: str, metric: int) -> Floats:
    return shifted(x, np.full(len(x), _sign(rng) * rng.uniform(5.0, 10.0) * unit), kind, metric)


def _level_shift(rng: Rng, x: Floats, unit: float, kind: str, metric: int) -> Floats:
    return shifted(x, np.full(len(x), _sign(rng) * rng.uniform(3.0, 6.0) * unit), kind, metric)


def _drift(rng: Rng, x: Floats, unit: float, kind: str, metric: int) -> Floats:
    # (k + 1) / n, not k / n: the first drifted sample is already off.
    ramp = np.arange(1, len(x) + 1) / len(x)
    return shifted(x, _sign(rng) * rng.uniform(4.0, 8.0) * unit * ramp, kind, metric)


def _noise_burst(rng: Rng, x: Floats, unit: float, kind: str, metric: int) -> Floats:
    # At least half a unit away at every sample, so no sample of the burst is left unchanged.
    jolts = rng.choice([-1.0, 1.0], len(x)) * (0.5 + np.abs(rng.standard_normal(len(x))))
    return shifted(x, 3.0 * unit * jolts, kind, metric)


def _out_of_range(rng: Rng, x: Floats, unit: float, kind: str, metric: int) -> Floats:
    model = kind_model(kind)
    beyond = (1.0 + 4.0 * rng.random()) * max(unit, 1.0)
    if rng.random() < 0.7:
        return np.full(len(x), float(model.low[metric]) - beyond)
    return np.full(len(x), float(model.high[metric]) + beyond)


_DISTORT: Final[dict[str, Callable[[Rng, Floats, float, str, int], Floats]]] = {
    "spike": _spike,
    "level_shift": _level_shift,
    "drift": _drift,
    "noise_burst": _noise_burst,
    "out_of_range": _out_of_range,
}
