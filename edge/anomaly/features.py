"""Causal features of one reading per stream, and the stream's next state. Pure numpy.

Every feature is free of the stream's units, scale and sampling interval: values are compared
with the stream's own running statistics (counted in readings, not seconds), gaps with its own
typical interval. Signed features are squashed with sign(z) * log1p(|z|) and clipped, so huge
values stay finite and the int8 model sees a small, fixed input range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from edge.anomaly.state import (
    DEV,
    FAST,
    FAST_STEP,
    JUMP,
    LOG_DT,
    MEAN,
    REPEAT,
    RUN,
    STEP,
    TS,
    VAR,
    N,
    X,
)

Floats = npt.NDArray[np.float64]
Floats32 = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

FEATURES: Final = (
    "jump", "level", "profile", "shift", "noise", "run", "repeat_rate", "gap", "warmup",
    "profile_trend", "jumpiness", "profile_maturity",
)  # fmt: skip
CAUSES: Final = (
    "sudden jump",
    "far from its usual value at this hour",
    "sustained shift",
    "noisier than usual",
    "value repeated",
    "reading after a gap",
)

SLOW: Final = 1 / 288  # about a day of 5-minute readings
QUICK: Final = 1 / 6  # about half an hour of 5-minute readings
PROFILE: Final = 1 / 64  # per hour-of-day bin: a few weeks of memory
INTERVAL: Final = 1 / 32
LIMIT: Final = 1e150  # larger magnitudes are clamped: squares must stay finite
CLIP: Final = 8.0
SPREAD: Final = 4.0  # half-width of the expected range, in standard deviations
DAY_S: Final = 86400.0


@dataclass(frozen=True, slots=True)
class Step:
    """What scoring one round produced: features, next state, expected range, likely cause."""

    features: Floats32  # [m, len(FEATURES)]
    cols: Floats  # [m, COLUMNS]
    prof_mean: Floats  # [m] the reading's hour bin, updated
    prof_var: Floats
    prof_n: Floats
    low: Floats
    high: Floats
    cause: Ints  # index into CAUSES


def hour_bin(ts: Floats) -> Ints:
    """The hour-of-day bin (UTC) of each time."""
    return (np.mod(ts, DAY_S) // 3600).astype(np.int64)


def squash(z: Floats) -> Floats:
    """sign(z) * log1p(|z|), clipped: large deviations still rank, but stay in a small range."""
    z = np.nan_to_num(z, nan=0.0, posinf=LIMIT, neginf=-LIMIT)
    out: Floats = np.clip(np.sign(z) * np.log1p(np.abs(z)), -CLIP, CLIP)
    return out


def _ew(old: Floats, new: Floats, alpha: Floats | float) -> Floats:
    return old + alpha * (new - old)


def step(cols: Floats, pm: Floats, pv: Floats, pn: Floats, ts: Floats, value: Floats) -> Step:
    """Score one reading of each of ``m`` distinct streams and return their next state."""
    x = np.clip(value, -LIMIT, LIMIT)
    n = cols[:, N]
    first = n == 0
    last = np.where(first, x, cols[:, X])
    mean = np.where(first, x, cols[:, MEAN])
    var = cols[:, VAR]
    eps = 1e-6 * np.abs(mean) + 1e-9  # so a constant stream has a scale, relative to its value
    sd = np.sqrt(var) + eps
    jump = (x - last) / (cols[:, STEP] + eps)
    level = (x - mean) / sd
    mature = pn >= 4
    psd = np.sqrt(pv + 0.01 * var) + eps  # a young bin underestimates its spread: floor it
    profile = np.where(mature, (x - pm) / psd, level)

    log_dt = np.log(np.maximum(ts - cols[:, TS], 1e-3))
    gap = np.where(n >= 2, log_dt - cols[:, LOG_DT], 0.0)

    new = np.empty_like(cols)
    a_slow = np.maximum(SLOW, 1 / (n + 1))
    a_steps = np.maximum(SLOW, 1 / np.maximum(n, 1))  # n readings make n - 1 steps
    a_quick = np.maximum(QUICK, 1 / (n + 1))
    delta = x - mean
    new[:, N] = n + 1
    new[:, TS] = ts
    new[:, X] = x
    new[:, LOG_DT] = np.where(n <= 1, log_dt, _ew(cols[:, LOG_DT], log_dt, INTERVAL))
    new[:, MEAN] = mean + a_slow * delta
    new[:, VAR] = (1 - a_slow) * (var + a_slow * delta * delta)
    new[:, FAST] = np.where(first, x, _ew(cols[:, FAST], x, a_quick))
    steps = np.abs(x - last)
    new[:, STEP] = np.where(first, 0.0, _ew(cols[:, STEP], steps, a_steps))
    new[:, FAST_STEP] = np.where(first, 0.0, _ew(cols[:, FAST_STEP], steps, a_quick))
    repeat = (x == last) & ~first
    new[:, RUN] = np.where(repeat, cols[:, RUN] + 1, 0.0)
    new[:, REPEAT] = np.where(first, 0.0, _ew(cols[:, REPEAT], repeat, a_steps))
    new[:, DEV] = _ew(cols[:, DEV], np.clip(profile, -50, 50), QUICK)
    new[:, JUMP] = _ew(cols[:, JUMP], np.minimum(np.abs(jump), 50), QUICK)

    noise = np.log((new[:, FAST_STEP] + eps) / (cols[:, STEP] + eps))
    features = np.stack(
        [
            squash(jump),
            squash(level),
            squash(profile),
            squash((new[:, FAST] - mean) / sd),
            np.clip(noise, -5, 5),
            np.log1p(new[:, RUN]),
            cols[:, REPEAT],
            np.clip(gap, -5, 10),
            1 / np.sqrt(1 + n),
            squash(new[:, DEV]),
            squash(new[:, JUMP]),
            np.minimum(pn / 8, 1.0),
        ],
        axis=1,
    ).astype(np.float32)

    a_prof = np.maximum(PROFILE, 1 / (pn + 1))
    p_delta = x - pm
    new_pm = np.where(pn == 0, x, pm + a_prof * p_delta)
    new_pv = np.where(pn == 0, 0.0, (1 - a_prof) * (pv + a_prof * p_delta * p_delta))
    center = np.where(mature, pm, mean)
    spread = SPREAD * np.where(mature, psd, sd)
    evidence = np.stack(
        [np.abs(features[:, 0]), np.abs(features[:, 2]), np.abs(features[:, 3]),
         features[:, 4], features[:, 5] * (1 - features[:, 6]), features[:, 7]],
        axis=1,
    )  # fmt: skip
    return Step(
        features, new, new_pm, new_pv, pn + 1, center - spread, center + spread,
        np.argmax(evidence, axis=1).astype(np.int64),
    )  # fmt: skip
