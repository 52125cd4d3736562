"""Every sensor's series over a period: the perfect reading, plus its quirks and its noise.

For each metric: the kind's model (``world.kinds``), plus the sensor's calibration offset
(``offset * spread``, the live model's figures), plus AR(1) noise with the live model's spread
and memory, clamped into the catalogue's range. Counts of bacteria, turbidity and rain are
skewed and never negative, so their offset and noise multiply instead of adding. Each
sensor's noise comes from its own stream, so it does not depend on the size of the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.city import GeneratedCity
from firmware_sim.signals import kind_model
from firmware_sim.world.calendar import Floats, Period
from firmware_sim.world.context import Context, make_context
from firmware_sim.world.kinds import KIND_MODELS
from firmware_sim.world.noise import ar1_from
from shared.catalogue import KINDS

# metric -> relative spread of its noise, for metrics whose noise multiplies
RELATIVE: Final = {"escherichiaColi": 0.35, "enterococci": 0.35, "turbidity": 0.15,
                   "precipitation": 0.1}  # fmt: skip


@dataclass(frozen=True, slots=True)
class KindSeries:
    """The series of every sensor of one kind: ``values[sensor, sample, metric]``."""

    kind: str
    sensors: tuple[str, ...]
    numbers: tuple[int, ...]  # fleet numbers, which key each sensor's random streams
    metrics: tuple[str, ...]
    values: Floats

    def sensor_at(self, row: int) -> str:
        """The id of the sensor in row ``row``."""
        return self.sensors[row]


def kind_series(ctx: Context, kind: str) -> KindSeries:
    """The noisy, clamped series of every sensor of ``kind`` in the context's city."""
    placed = ctx.city.sensors_of(kind)
    model = kind_model(kind)
    clean = KIND_MODELS[kind](ctx, placed)  # (sensors, samples, metrics)
    offsets = np.array([p.sensor.offset for p in placed], dtype=np.float64).reshape(-1, 1, 1)
    noise = _noise(ctx, kind, tuple(p.sensor.number for p in placed))
    relative = np.array([name in RELATIVE for name in model.names])
    spread = np.where(relative, 0.0, model.spread)
    rel = np.array([RELATIVE.get(name, 0.0) for name in model.names])
    additive = clean + offsets * spread + noise * np.where(relative, 0.0, model.sigma)
    multiplied = clean * np.exp(rel * (noise + 0.3 * offsets))
    values = np.where(relative, multiplied, additive)
    for index, wrap in enumerate(model.wrap):
        if wrap is not None:
            values[..., index] %= wrap
    values = np.clip(values, model.low, model.high)
    return KindSeries(kind, tuple(p.sensor.id for p in placed),
                      tuple(p.sensor.number for p in placed), model.names, values)  # fmt: skip


def _noise(ctx: Context, kind: str, numbers: tuple[int, ...]) -> Floats:
    """(sensors, samples, metrics) AR(1) noise of unit spread, one stream per sensor."""
    model = kind_model(kind)
    metrics, samples = len(model.names), ctx.period.samples
    shocks = [
        np.random.default_rng([ctx.city.seed, streams.SENSOR_NOISE, n]).standard_normal(
            (samples, metrics)
        )
        for n in numbers
    ]
    if not shocks:
        return np.zeros((0, samples, metrics))
    stacked = np.concatenate(shocks, axis=1)  # (samples, sensors * metrics)
    taus = np.tile(model.tau_s, len(numbers))
    series = ar1_from(stacked, taus, ctx.period.step_s)  # (sensors * metrics, samples)
    return series.reshape(len(numbers), metrics, samples).transpose(0, 2, 1)


def city_series(city: GeneratedCity, period: Period) -> tuple[Context, dict[str, KindSeries]]:
    """The drivers and the series of every kind, in catalogue order."""
    ctx = make_context(city, period)
    return ctx, {kind: kind_series(ctx, kind) for kind in KINDS}
