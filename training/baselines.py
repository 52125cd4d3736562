"""The classic detectors we compare against: rolling z-score and rolling median/MAD. Pure numpy.

Both look at the previous ``window`` readings of the same stream (causal) and flag a reading
whose distance from the window's centre exceeds ``threshold`` spreads. A window with no spread
(a constant stretch) flags nothing: neither has a scale to measure by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Baseline:
    """A classic detector and its parameters (fixed, not tuned: see docs/anomaly-detection.md)."""

    name: str
    window: int
    threshold: float

    def flags(self, value: Floats) -> Bools:
        """Flag of each reading of one stream, in time order."""
        if self.name == "zscore":
            return rolling_z(value, self.window, self.threshold)
        return rolling_mad(value, self.window, self.threshold)


ZSCORE = Baseline("zscore", 48, 4.0)
MAD = Baseline("median_mad", 48, 6.0)


def rolling_z(value: Floats, window: int, threshold: float) -> Bools:
    """|x - mean| > threshold * std over the previous ``window`` readings."""
    flags = np.zeros(len(value), dtype=bool)
    if len(value) <= window:
        return flags
    c1 = np.r_[0.0, np.cumsum(value - value[0])]  # shifted: fewer cancellation errors
    c2 = np.r_[0.0, np.cumsum((value - value[0]) ** 2)]
    mean = (c1[window:-1] - c1[: -window - 1]) / window
    var = (c2[window:-1] - c2[: -window - 1]) / window - mean**2
    std = np.sqrt(np.maximum(var, 0.0))
    x = value[window:] - value[0]
    flags[window:] = (std > 1e-12 * (np.abs(mean) + 1)) & (np.abs(x - mean) > threshold * std)
    return flags


def rolling_mad(value: Floats, window: int, threshold: float) -> Bools:
    """|x - median| > threshold * 1.4826 * MAD over the previous ``window`` readings."""
    flags = np.zeros(len(value), dtype=bool)
    if len(value) <= window:
        return flags
    windows = sliding_window_view(value[:-1], window)
    median = np.median(windows, axis=1)
    mad = 1.4826 * np.median(np.abs(windows - median[:, None]), axis=1)
    x = value[window:]
    flags[window:] = (mad > 0) & (np.abs(x - median) > threshold * mad)
    return flags
