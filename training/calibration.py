"""Calibration of raw model outputs into scores that mean a probability. Pure numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def isotonic_table(raw: Floats, target: npt.NDArray[np.bool_], bins: int = 40) -> tuple[
    list[float], list[float]
]:  # fmt: skip
    """A monotone piecewise-linear map raw -> observed anomaly rate, from equal-count bins."""
    order = np.argsort(raw, kind="stable")
    groups = [g for g in np.array_split(order, bins) if len(g)]
    xs = np.array([raw[g].mean() for g in groups])
    ys = np.array([target[g].mean() for g in groups])
    ys = _pool_adjacent(ys, np.array([len(g) for g in groups], dtype=np.float64))
    xs = np.r_[0.0, xs, 1.0]
    ys = np.r_[0.0, ys, max(ys[-1], 1.0 if target.any() else 0.0)]
    keep = np.r_[True, np.diff(xs) > 1e-7]  # np.interp needs increasing x
    return [round(float(v), 6) for v in xs[keep]], [round(float(v), 6) for v in ys[keep]]


def _pool_adjacent(y: Floats, w: Floats) -> Floats:
    """Pool-adjacent-violators: the closest non-decreasing sequence (weighted least squares)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for value, weight in zip(y.tolist(), w.tolist(), strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.array([b[0] for b in blocks for _ in range(int(b[2]))])
