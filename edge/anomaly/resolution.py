"""The resolution a sensor reports at, read from its values. Pure numpy.

Sensors round: relative humidity to 0.001, temperature to 0.01, vehicle counts to 1. A slow
signal at a coarse resolution sits on one value for many readings and then moves by one step;
its running spread is then far below the step, and one step looks like a jump of many spreads.
The features floor every spread at the stream's resolution (``edge.anomaly.features``), which
two causal estimates give:

- the decimal resolution: 0.796 is written with three decimals, so the stream's resolution is at
  most 0.001. It is known from the first reading, before the stream has moved at all; a value
  with no short decimal form (a computed or converted value) says nothing.
- the smallest non-zero step seen so far, for values with no short decimal form: the grid
  whatever its unit (0.0556 after a unit conversion), once the stream has moved. It excludes the
  reading being scored, so a first move that is a real spike is scored before it is taken for
  the grid.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

DECIMALS: Final = np.arange(10)  # 0 to 9 decimals
_SCALE: Final = 10.0**DECIMALS
_RESOLUTION: Final = 10.0**-DECIMALS
# A value scaled to an integer must stay below 1e9 (nine significant digits) for the test to
# mean something: at that size a double still resolves 1e-7, well inside the tolerance, and a
# value with more digits than that is computed, not read off an instrument.
_DIGITS: Final = 1e9
_TOLERANCE: Final = 1e-6


def decimal(x: Floats) -> Floats:
    """Per value: 10**-d for the fewest decimals d that write it; 0 if none up to 9 do; inf for 0.

    0 is an integer at any resolution, so it bounds nothing (inf: neutral in a running minimum).
    A value with no short decimal form gives 0, which pins its stream's running minimum there:
    the stream is not decimal-rounded.
    """
    magnitude = np.abs(x)
    out = np.zeros(len(magnitude))
    left = np.arange(len(magnitude))  # values no decimal count has written yet
    # Fewest decimals first, each pass only over the values still open: a sensor's values
    # mostly settle in two or three passes, where testing all ten at once cost ten.
    for scale, resolution in zip(_SCALE.tolist(), _RESOLUTION.tolist(), strict=True):
        scaled = magnitude[left] * scale
        exact = (scaled < _DIGITS) & (np.abs(scaled - np.rint(scaled)) <= _TOLERANCE)
        out[left[exact]] = resolution
        left = left[~exact]
        if not len(left):
            break
    out[x == 0] = np.inf
    return out


def nonzero(steps: Floats) -> Floats:
    """Steps with the zero ones made neutral (inf) for a running minimum."""
    return np.where(steps > 0, steps, np.inf)


def grain(decimals: Floats, smallest_step: Floats) -> Floats:
    """The resolution to floor spreads at, from the two running minima (inf: not known yet).

    The decimals come first: they are known from the first reading and a spike cannot inflate
    them. The smallest step serves streams with no short decimal form. It is an upper bound on
    their grid that a first move which is a spike sets too coarse until a smaller move comes.
    """
    known_step = np.where(np.isfinite(smallest_step), smallest_step, 0.0)
    out: Floats = np.where((decimals > 0) & np.isfinite(decimals), decimals, known_step)
    return out
