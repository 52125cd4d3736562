"""Drills: anomalies on the wall clock's scale, for live demonstrations.

The world's anomalies are sized for simulated days: a level shift lasts 2 to 24 hours, and the
world's grid is five minutes, so at real-time speed nothing visibly abnormal happens while
someone watches. A drill makes one sensor, every ``every_s`` wall seconds, send one reading with
one metric pushed ``SIZE`` times its typical wobble away from its value (a spike), kept inside
the catalogue's possible range so the gateway scores it instead of refusing it. Drills are
labelled like the world's anomalies (type ``spike``, a sensor fault), so a
demonstration's alerts can be scored against the truth.

Pure: which sensor, metric and sign comes from the seed and the drill's number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.anomalies import Label
from firmware_sim.anomalies.labels import scale
from firmware_sim.fleet import SimSensor
from firmware_sim.signals import kind_model
from shared import catalogue

SIZE: Final = 12.0  # in units of the metric's typical wobble (labels.scale)


@dataclass(frozen=True, slots=True)
class Drill:
    """Drill ``number``: a spike on ``metric`` of ``sensor``, due at simulated time ``due``."""

    number: int
    sensor: str
    kind: str
    metric: str
    due: float
    push: float  # signed size, in the metric's unit, before keeping it in range

    def label(self) -> Label:
        """The drill as a ground-truth label (its samples are its number: it has no grid)."""
        return Label(self.sensor, self.kind, self.metric, self.number, self.number, "spike", True)


class Drills:
    """The run's drills: one every ``every_s`` simulated seconds from ``origin``."""

    def __init__(
        self, fleet: Sequence[SimSensor], every_s: float, origin: float, seed: int
    ) -> None:
        self._fleet = tuple(fleet)
        self._every = every_s
        self._origin = origin
        self._seed = seed
        self._done: dict[str, int] = {}  # sensor -> number of its latest drill already sent

    def drill(self, number: int) -> Drill:
        """Drill ``number`` (1, 2, ...): chosen from the seed alone."""
        rng = np.random.default_rng([self._seed, streams.DRILLS, number])
        sensor = self._fleet[int(rng.integers(len(self._fleet)))]
        model = kind_model(sensor.kind)
        # Directions wrap around north: a spike there is not an anomaly anyone could see.
        usable = [i for i, wrap in enumerate(model.wrap) if wrap is None]
        metric = usable[int(rng.integers(len(usable)))]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        push = sign * SIZE * scale(sensor.kind, metric)
        due = self._origin + number * self._every
        return Drill(number, sensor.id, sensor.kind, model.names[metric], due, push)

    def apply(
        self, sensor: str, ts: float, metrics: dict[str, float]
    ) -> tuple[dict[str, float], Drill | None]:
        """The reading of ``sensor`` at ``ts``, with the drill it is due, if any."""
        number = math.floor((ts - self._origin) / self._every)
        if number < 1 or self._done.get(sensor, 0) >= number:
            return metrics, None
        drill = self.drill(number)
        if drill.sensor != sensor or drill.metric not in metrics:
            return metrics, None
        self._done[sensor] = number
        return {**metrics, drill.metric: _spiked(drill, metrics[drill.metric])}, drill


def _spiked(drill: Drill, value: float) -> float:
    """``value`` pushed by the drill, turned back if that would leave the possible range."""
    metric = catalogue.kind(drill.kind)
    spec = None if metric is None else metric.metric(drill.metric)
    low, high = (-math.inf, math.inf) if spec is None else (spec.low, spec.high)
    pushed = value + drill.push
    if not low <= pushed <= high:
        pushed = value - drill.push
    decimals = kind_model(drill.kind).decimals[kind_model(drill.kind).names.index(drill.metric)]
    return round(min(max(pushed, low), high), decimals) + 0.0
