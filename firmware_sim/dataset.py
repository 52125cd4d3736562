"""A labelled dataset: a city's sensors over a period, with anomalies and their labels.

Everything is a pure function of the plan: the same plan gives the same arrays, to the bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import numpy as np

from firmware_sim.anomalies import Label, Rates, inject
from firmware_sim.city import GeneratedCity, generate_city
from firmware_sim.errors import SimConfigError
from firmware_sim.fleet import check_fleet
from firmware_sim.world.calendar import DAY_S, Period
from firmware_sim.world.context import Context
from firmware_sim.world.series import KindSeries, city_series

# A Monday in the bathing season, so a default export has beaches, weekdays and weekends.
DEFAULT_START: Final = datetime(2025, 6, 2, tzinfo=UTC).timestamp()
DEFAULT_INTERVAL_S: Final = 300.0
MAX_SAMPLES: Final = 2_000_000  # per sensor: about 23 days at 1 s, four years at 60 s


@dataclass(frozen=True, slots=True)
class DatasetPlan:
    """What to simulate: which city and fleet, over which period, with which anomaly rates."""

    seed: int = 0
    sensors: int = 200
    days: float = 14.0
    interval_s: float = DEFAULT_INTERVAL_S
    start: float = DEFAULT_START
    prefix: str = "sim"
    rates: Rates = field(default_factory=Rates)

    def period(self) -> Period:
        """The sample times of the plan."""
        return Period(self.start, self.interval_s, math.ceil(self.days * DAY_S / self.interval_s))


@dataclass(frozen=True, slots=True)
class Dataset:
    """The generated data: ``clean`` as the sensors would read it without anomalies."""

    plan: DatasetPlan
    city: GeneratedCity
    context: Context
    clean: dict[str, KindSeries]
    series: dict[str, KindSeries]  # with anomalies; a dropped reading is NaN in every metric
    labels: tuple[Label, ...]


def check_plan(plan: DatasetPlan) -> None:
    """Raise SimConfigError, naming the field, unless ``plan`` can be simulated."""
    check_fleet(plan.seed, plan.sensors, plan.prefix)
    if not plan.days > 0:
        raise SimConfigError(f"days: {plan.days:g} is not positive", field="days")
    if not plan.interval_s >= 1:
        raise SimConfigError(f"interval: {plan.interval_s:g} is under 1 s", field="interval")
    if plan.days * DAY_S / plan.interval_s > MAX_SAMPLES:
        raise SimConfigError(
            f"days: {plan.days:g} days at {plan.interval_s:g} s is over {MAX_SAMPLES} samples "
            "a sensor; raise --interval",
            field="days",
        )
    for name in ("faults_per_sensor_day", "incidents_per_day", "episodes_per_day", "overflow_mm"):
        if getattr(plan.rates, name) < 0:
            raise SimConfigError(f"{name}: is negative", field=name)


def make_dataset(plan: DatasetPlan) -> Dataset:
    """The dataset of ``plan``."""
    check_plan(plan)
    city = generate_city(plan.seed, plan.sensors, plan.prefix)
    context, clean = city_series(city, plan.period())
    series, labels = inject(context, clean, plan.rates)
    return Dataset(plan, city, context, clean, series, labels)


def valid_rows(values: np.ndarray) -> np.ndarray:
    """Mask of the (sensor, sample) readings that were sent: not dropped out."""
    return np.asarray(~np.isnan(values).any(axis=-1))
