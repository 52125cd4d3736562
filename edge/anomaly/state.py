"""Per sensor and metric state, as rows of numpy arrays, and dense stream ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# Columns of State.cols, one row per stream (sensor, metric). DECIMALS and SMALLEST are running
# minima of the resolution estimates (edge.anomaly.resolution); inf means not known yet.
N, TS, X, LOG_DT, MEAN, VAR, FAST, STEP, FAST_STEP, RUN, REPEAT, DEV, JUMP = range(13)
DECIMALS, SMALLEST = 13, 14
COLUMNS: Final = 15
BINS: Final = 24  # hour-of-day profile bins


@dataclass(slots=True)
class State:
    """The causal state of every stream seen so far; rows grow as streams appear."""

    cols: Floats  # [streams, COLUMNS]
    prof_mean: Floats  # [streams, BINS]
    prof_var: Floats
    prof_n: Floats

    @classmethod
    def empty(cls, capacity: int = 64) -> State:
        """State with room for ``capacity`` streams and none used."""
        return cls(*(np.zeros((capacity, w)) for w in (COLUMNS, BINS, BINS, BINS)))

    def grow(self, needed: int) -> None:
        """Make room for at least ``needed`` streams (doubling, so growth is amortised)."""
        size = len(self.cols)
        if needed <= size:
            return
        new = max(needed, 2 * size)
        for name in ("cols", "prof_mean", "prof_var", "prof_n"):
            old = getattr(self, name)
            grown = np.zeros((new, old.shape[1]))
            grown[:size] = old
            setattr(self, name, grown)


class Registry:
    """Dense ids for (sensor, metric) streams, in order of first appearance."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self, sensor: Sequence[str], metric: Sequence[str]) -> Ints:
        """The id of every (sensor, metric) pair, registering new ones."""
        table = self._ids
        # In C, and without keeping the keys: a pair that is dropped at once goes back to the
        # interpreter's free list and the next one reuses it (about 3x faster than a list).
        found = list(map(table.get, zip(sensor, metric, strict=True)))
        if None in found:
            for key in zip(sensor, metric, strict=True):
                table.setdefault(key, len(table))
            found = list(map(table.get, zip(sensor, metric, strict=True)))
        return np.array(found, dtype=np.int64)
