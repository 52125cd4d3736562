"""The world model for live runs: what each sensor reads at any simulated time.

Live time has no end, so the world is computed in blocks of ``BLOCK_S`` simulated seconds on a
grid of ``GRID_S``, aligned to the epoch: block ``b`` covers ``[b * BLOCK_S, (b + 1) *
BLOCK_S]`` and is the dataset model (weather, events, neighbours, sensor faults) of the city
with a seed drawn from (seed, LIVE, b). A reading between two grid points is interpolated, so
its value moves at every tick. The price: at a block boundary the weather and the noise start
afresh, a step at most as large as an ordinary weather change, once every two simulated days.
A run at a given simulated time reads the same values whenever and wherever it starts.

``LiveWorld.anomalies`` tells which labels of a block touch a reading: those whose samples the
interpolation gives a weight, so a live run's labels cover exactly the readings it changed.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.anomalies import ALL_METRICS, Label, Rates, inject
from firmware_sim.city import GeneratedCity
from firmware_sim.signals import kind_model
from firmware_sim.world.calendar import Floats, Period
from firmware_sim.world.series import KindSeries, city_series

GRID_S: Final = 300.0
BLOCK_S: Final = 2 * 86_400.0
NO_ANOMALIES: Final = Rates(0.0, 0.0, 0.0, overflow_mm=math.inf)
_CACHED_BLOCKS: Final = 2  # the current one, and the last for a sensor that lags behind


@dataclass(frozen=True, slots=True)
class Block:
    """The world over one block: every kind's series (anomalies included) and their labels."""

    index: int
    period: Period
    series: dict[str, KindSeries]
    labels: tuple[Label, ...]

    def labels_of(self) -> dict[str, tuple[Label, ...]]:
        """The labels by sensor."""
        out: dict[str, list[Label]] = {}
        for label in self.labels:
            out.setdefault(label.sensor, []).append(label)
        return {sensor: tuple(mine) for sensor, mine in out.items()}


def block_seed(seed: int, index: int) -> int:
    """The world seed of block ``index`` of city ``seed``."""
    return int(np.random.SeedSequence([seed, streams.LIVE, index]).generate_state(1)[0])


def make_block(city: GeneratedCity, index: int, rates: Rates, grid_s: float = GRID_S) -> Block:
    """Block ``index`` of ``city``'s live world (pure: the same arguments, the same block)."""
    samples = round(BLOCK_S / grid_s) + 1  # one more, to interpolate up to the next block
    period = Period(index * BLOCK_S, grid_s, samples)
    world = dataclasses.replace(city, seed=block_seed(city.seed, index))
    context, clean = city_series(world, period)
    if rates == NO_ANOMALIES:
        return Block(index, period, clean, ())
    series, labels = inject(context, clean, rates)
    return Block(index, period, series, labels)


class LiveWorld:
    """Readings of a city's sensors at any time, blocks computed on demand and cached."""

    def __init__(
        self, city: GeneratedCity, rates: Rates = NO_ANOMALIES, grid_s: float = GRID_S
    ) -> None:
        self.city, self.rates, self.grid_s = city, rates, grid_s
        self._rows = {
            sensor: (kind, row)
            for kind in {p.sensor.kind for p in city.sensors}
            for row, sensor in enumerate(p.sensor.id for p in city.sensors_of(kind))
        }
        self._blocks: OrderedDict[int, Block] = OrderedDict()
        self._labels: dict[int, dict[str, tuple[Label, ...]]] = {}

    def block(self, index: int) -> Block:
        """Block ``index``, computed once while it is in use."""
        if index not in self._blocks:
            self._blocks[index] = make_block(self.city, index, self.rates, self.grid_s)
            self._labels[index] = self._blocks[index].labels_of()
            while len(self._blocks) > _CACHED_BLOCKS:
                del self._labels[self._blocks.popitem(last=False)[0]]
        self._blocks.move_to_end(index)
        return self._blocks[index]

    def metrics(self, sensor: str, t: float) -> dict[str, float] | None:
        """What ``sensor`` reads at epoch time ``t``; None during a dropout."""
        kind, row = self._rows[sensor]
        block, first, fraction = self._locate(t)
        values = block.series[kind].values[row, first : first + 2]
        return reading_of(kind, values, fraction)

    def anomalies(self, sensor: str, t: float) -> tuple[tuple[int, Label], ...]:
        """The labels, with their block's index, whose anomaly touches ``sensor``'s reading at t."""
        block, first, fraction = self._locate(t)
        mine = self._labels[block.index].get(sensor, ())
        return tuple((block.index, label) for label in mine if touches(label, first, fraction))

    def _locate(self, t: float) -> tuple[Block, int, float]:
        """The block of epoch time ``t``, the grid sample before it and how far past it t is."""
        index = math.floor(t / BLOCK_S)
        block = self.block(index)
        position = (t - index * BLOCK_S) / self.grid_s
        first = min(int(position), block.period.samples - 2)
        return block, first, position - first


def touches(label: Label, first: int, fraction: float) -> bool:
    """Whether ``label`` changes the reading between samples ``first`` and ``first + 1``.

    As ``reading_of`` computes it: a dropped sample drops the reading wherever it lies, a
    direction takes the nearer sample, any other metric both unless ``fraction`` is 0.
    """
    used: tuple[int, ...]
    if label.type == "dropout":
        used = (first, first + 1)
    elif label.metric != ALL_METRICS and _wraps(label.kind, label.metric):
        used = (first + round(fraction),)
    else:
        used = (first, first + 1) if fraction > 0 else (first,)
    return any(label.first <= sample <= label.last for sample in used)


def _wraps(kind: str, metric: str) -> bool:
    model = kind_model(kind)
    return model.wrap[model.names.index(metric)] is not None


def reading_of(kind: str, pair: Floats, fraction: float) -> dict[str, float] | None:
    """The metrics between two grid samples ``pair`` at ``fraction`` of the way, rounded."""
    if np.isnan(pair).any():
        return None  # a dropout: the sensor sent nothing around this time
    model = kind_model(kind)
    values = pair[0] + (pair[1] - pair[0]) * fraction
    out = {}
    for index, name in enumerate(model.names):
        # A direction cannot be interpolated across north: 350 and 10 would give 180.
        value = pair[round(fraction), index] if model.wrap[index] else values[index]
        out[name] = round(float(value), model.decimals[index]) + 0.0
    return out
