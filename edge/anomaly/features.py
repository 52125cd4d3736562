"""Causal features of readings, and each stream's next state. Pure numpy.

Every feature is free of the stream's units, scale and sampling interval: values are compared
with the stream's own running statistics (counted in readings, not seconds), gaps with its own
typical interval. Signed features are squashed with sign(z) * log1p(|z|) and clipped, so huge
values stay finite and the int8 model sees a small, fixed input range.

Each reading's definition is sequential (a reading sees the state its stream's previous reading
left), but every state update is a first-order linear recurrence, so a batch is computed with
prefix scans (``edge.anomaly.scan``) over all its readings at once, whatever mix of streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from edge.anomaly import resolution
from edge.anomaly.scan import Segments, grouped, inverse
from edge.anomaly.state import (
    BINS,
    COLUMNS,
    DECIMALS,
    DEV,
    FAST,
    FAST_STEP,
    JUMP,
    LOG_DT,
    MEAN,
    REPEAT,
    RUN,
    SMALLEST,
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
# Spreads are floored at these multiples of the stream's resolution (edge.anomaly.resolution):
# a slow signal rounded to a coarse resolution has a running spread far below one step, and a
# move of one or two steps must not read as a jump of hundreds of spreads.
GRAIN_SD: Final = 1.0
GRAIN_STEP: Final = 1.0
DAY_S: Final = 86400.0


@dataclass(frozen=True, slots=True)
class Step:
    """What scoring a batch produced: per reading, then the next state of what it touched."""

    features: Floats32  # [m, len(FEATURES)], rows in input order
    low: Floats
    high: Floats
    cause: Ints  # index into CAUSES
    streams: Ints  # each stream the batch touched, once
    cols: Floats  # [len(streams), COLUMNS] their next state
    bin_stream: Ints  # each (stream, hour bin) the batch touched, once
    bin_hour: Ints
    prof_mean: Floats  # next state of those bins
    prof_var: Floats
    prof_n: Floats


@dataclass(frozen=True, slots=True)
class _Profile:
    """Per reading, its hour bin's state before it; per touched bin, the state after."""

    mean: Floats
    var: Floats
    n: Floats
    stream: Ints
    hour: Ints
    next_mean: Floats
    next_var: Floats
    next_n: Floats


def hour_bin(ts: Floats) -> Ints:
    """The hour-of-day bin (UTC) of each time."""
    return (np.mod(ts, DAY_S) // 3600).astype(np.int64)


def squash(z: Floats) -> Floats:
    """sign(z) * log1p(|z|), clipped: large deviations still rank, but stay in a small range."""
    z = np.nan_to_num(z, nan=0.0, posinf=LIMIT, neginf=-LIMIT)
    out: Floats = np.clip(np.sign(z) * np.log1p(np.abs(z)), -CLIP, CLIP)
    return out


def _profile(
    mean0: Floats, var0: Floats, n0: Floats, stream: Ints, hour: Ints, x: Floats
) -> _Profile:
    """Run each (stream, hour bin) profile over its readings, in their order."""
    key = stream * BINS + hour
    order = grouped(key)
    if order is not None:
        key, stream, hour, x = key[order], stream[order], hour[order], x[order]
    seg = Segments.of(key)
    ps, ph = stream[seg.head], hour[seg.head]
    n = n0[ps, ph][seg.index] + seg.position
    # A bin's first reading has rate 1: its mean becomes the reading, its variance 0.
    rate = np.maximum(PROFILE, 1 / (n + 1))
    mean, next_mean = seg.mean(rate, x, mean0[ps, ph])
    d = x - mean
    var, next_var = seg.mean(rate, (1 - rate) * d * d, var0[ps, ph])
    back = inverse(order)
    return _Profile(
        mean[back], var[back], n[back], ps, ph,
        next_mean[seg.tail], next_var[seg.tail], n[seg.tail] + 1,
    )  # fmt: skip


def _grain(seg: Segments, c0: Floats, x: Floats, steps: Floats) -> tuple[Floats, Floats, Floats]:
    """Each reading's resolution estimate, and the running minima it leaves behind."""
    # The decimals include this reading's own (it is observed); the smallest step excludes it.
    fresh = np.where(c0[:, N] == 0, np.inf, c0[:, [DECIMALS, SMALLEST]].T)
    decimals = seg.least(resolution.decimal(x), fresh[0])[1]
    smallest, next_smallest = seg.least(resolution.nonzero(steps), fresh[1])
    return resolution.grain(decimals, smallest), decimals, next_smallest


def step(
    cols: Floats, prof_mean: Floats, prof_var: Floats, prof_n: Floats,
    stream: Ints, ts: Floats, value: Floats,
) -> Step:  # fmt: skip
    """Features of finite readings of any streams, each stream's in observation order.

    ``cols`` and ``prof_*`` hold every stream's state before the batch (rows indexed by
    ``stream``); they are read, not written: the next state is returned.
    """
    order = grouped(stream)  # each stream's rows together, in input order
    if order is not None:
        stream, ts, value = stream[order], ts[order], value[order]
    s = stream
    x = np.clip(value, -LIMIT, LIMIT)
    seg = Segments.of(s)
    c0 = cols[s[seg.head]]
    n = c0[seg.index, N] + seg.position
    first = n == 0
    last = np.where(first, x, seg.before(x, c0[:, X]))
    log_dt = np.log(np.maximum(ts - seg.before(ts, c0[:, TS]), 1e-3))

    # Rates fall as 1/n until they reach their floor, so young streams learn fast; a stream's
    # first reading has rate 1 for every running mean (it becomes the mean) and adds no step.
    a_slow = np.maximum(SLOW, 1 / (n + 1))
    a_steps = np.maximum(SLOW, 1 / np.maximum(n, 1))  # n readings make n - 1 steps
    a_quick = np.maximum(QUICK, 1 / (n + 1))
    mean, next_mean = seg.mean(a_slow, x, c0[:, MEAN])
    mean = np.where(first, x, mean)
    var, next_var = seg.mean(a_slow, (1 - a_slow) * np.square(x - mean), c0[:, VAR])
    steps = np.abs(x - last)
    typical_step, next_step = seg.mean(a_steps, steps, c0[:, STEP])
    fast = seg.mean(a_quick, x, c0[:, FAST])[1]
    fast_step = seg.mean(a_quick, steps, c0[:, FAST_STEP])[1]
    repeat = ((x == last) & ~first).astype(np.float64)
    run = seg.recur(repeat, repeat, c0[:, RUN])[1]  # +1 on a repeat, back to 0 otherwise
    repeat_rate, next_repeat = seg.mean(a_steps, repeat, c0[:, REPEAT])
    early = n <= 1  # the interval average starts from the first real interval
    usual_dt, next_dt = seg.mean(np.where(early, 1.0, INTERVAL), log_dt, c0[:, LOG_DT])
    gap = np.where(n >= 2, log_dt - usual_dt, 0.0)

    grain, decimals, next_smallest = _grain(seg, c0, x, steps)

    eps = 1e-6 * np.abs(mean) + 1e-9  # so a constant stream has a scale, relative to its value
    sd = np.maximum(np.sqrt(var), GRAIN_SD * grain) + eps
    step_scale = np.maximum(typical_step, GRAIN_STEP * grain) + eps
    jump = (x - last) / step_scale
    level = (x - mean) / sd
    prof = _profile(prof_mean, prof_var, prof_n, s, hour_bin(ts), x)
    mature = prof.n >= 4
    # A young bin underestimates its spread: floor it as well.
    psd = np.maximum(np.sqrt(prof.var + 0.01 * var), GRAIN_SD * grain) + eps
    profile = np.where(mature, (x - prof.mean) / psd, level)
    dev = seg.mean(QUICK, np.clip(profile, -50, 50), c0[:, DEV])[1]
    jumps = seg.mean(QUICK, np.minimum(np.abs(jump), 50), c0[:, JUMP])[1]
    noise = np.log((np.maximum(fast_step, GRAIN_STEP * grain) + eps) / step_scale)

    signed = squash(np.stack([jump, level, profile, (fast - mean) / sd, dev, jumps], axis=1))
    features = np.stack(
        [
            signed[:, 0], signed[:, 1], signed[:, 2], signed[:, 3],
            np.clip(noise, -5, 5),
            np.log1p(run),
            repeat_rate,
            np.clip(gap, -5, 10),
            1 / np.sqrt(1 + n),
            signed[:, 4], signed[:, 5],
            np.minimum(prof.n / 8, 1.0),
        ],
        axis=1,
    ).astype(np.float32)  # fmt: skip

    center = np.where(mature, prof.mean, mean)
    spread = SPREAD * np.where(mature, psd, sd)
    evidence = np.stack(
        [np.abs(features[:, 0]), np.abs(features[:, 2]), np.abs(features[:, 3]),
         features[:, 4], features[:, 5] * (1 - features[:, 6]), features[:, 7]],
        axis=1,
    )  # fmt: skip

    tail = seg.tail
    new = np.empty((len(tail), COLUMNS))
    for column, series in (
        (N, n + 1), (TS, ts), (X, x), (LOG_DT, next_dt), (MEAN, next_mean), (VAR, next_var),
        (FAST, fast), (STEP, next_step), (FAST_STEP, fast_step), (RUN, run),
        (REPEAT, next_repeat), (DEV, dev), (JUMP, jumps), (DECIMALS, decimals),
        (SMALLEST, next_smallest),
    ):  # fmt: skip
        new[:, column] = series[tail]
    back = inverse(order)
    return Step(
        features[back], (center - spread)[back], (center + spread)[back],
        np.argmax(evidence, axis=1).astype(np.int64)[back],
        s[seg.head], new, prof.stream, prof.hour, prof.next_mean, prof.next_var, prof.next_n,
    )  # fmt: skip
