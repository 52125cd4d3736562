"""Per sensor and metric state, as rows of numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

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
