"""Labels: where and what each injected anomaly is, and the rates that decide how many."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim.signals import kind_model
from firmware_sim.world.calendar import Floats

ALL_METRICS: Final = "*"  # a label on the whole reading: every metric of it


@dataclass(frozen=True, slots=True)
class Rates:
    """How often anomalies happen."""

    faults_per_sensor_day: float = 0.15
    incidents_per_day: float = 0.3  # traffic incidents in the whole city
    episodes_per_day: float = 0.15  # district pollution episodes
    overflow_mm: float = 12.0  # rain within 6 h that makes the sewers overflow


@dataclass(frozen=True, slots=True)
class Label:
    """One anomaly on one metric (or every metric) of one sensor, over samples first..last."""

    sensor: str
    kind: str
    metric: str  # a metric name, or ALL_METRICS
    first: int  # index of the first affected sample
    last: int  # index of the last affected sample, inclusive
    type: str
    fault: bool  # True: the sensor is wrong; False: the world really changed
    event: str = ""  # id shared by every label of one real-world event

    def sort_key(self) -> tuple[int, str, str, str]:
        """Labels sort by start, then sensor, metric and type."""
        return (self.first, self.sensor, self.metric, self.type)


def scale(kind: str, metric: int) -> float:
    """A metric's typical wobble, the unit in which anomalies are sized."""
    model = kind_model(kind)
    return float(max(model.sigma[metric], 0.1 * model.spread[metric], 1e-3))


def shifted(values: Floats, delta: Floats, kind: str, metric: int) -> Floats:
    """``values + delta``, turned the other way where that would leave the possible range."""
    model = kind_model(kind)
    low, high = model.low[metric], model.high[metric]
    moved = values + delta
    outside = (moved < low) | (moved > high)
    moved = np.where(outside, values - delta, moved)
    return np.clip(moved, low, high)
