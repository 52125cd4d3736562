"""First-order linear recurrences over many segments at once, in log2(length) numpy steps.

Every piece of per-stream state is a recurrence ``y[t] = keep[t] * y[t-1] + add[t]`` (running
means with a time-varying rate, run lengths, counts). Solving it with a prefix scan instead of
a Python loop over readings lets a batch with thousands of readings of one stream (a replay, a
training chunk) cost about as many numpy calls as a batch of one reading per stream. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Segments:
    """Runs of equal keys in a key-sorted array: where each starts and ends, who is where."""

    head: Ints  # first row of each segment
    tail: Ints  # last row of each segment
    index: Ints  # segment of each row
    position: Ints  # rank of each row inside its segment
    span: int  # length of the longest segment

    @classmethod
    def of(cls, keys: Ints) -> Segments:
        """The segments of ``keys``, which must be sorted (equal keys adjacent)."""
        n = len(keys)
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, empty, 0)
        starts = np.empty(n, dtype=bool)
        starts[0] = True
        np.not_equal(keys[1:], keys[:-1], out=starts[1:])
        head = np.flatnonzero(starts)
        index = np.cumsum(starts) - 1
        tail = np.r_[head[1:] - 1, n - 1]
        return cls(head, tail, index, np.arange(n) - head[index], int((tail - head).max()) + 1)

    def before(self, after: Floats, init: Floats) -> Floats:
        """Each row's previous value in its segment: ``after`` shifted by one, ``init`` first."""
        if self.span == 1:  # one row per segment: the common case of an agent's batch
            return np.array(init, dtype=np.float64)
        out = np.empty_like(after)
        out[1:] = after[:-1]
        out[self.head] = init
        return out

    def recur(self, keep: Floats | float, add: Floats, init: Floats) -> tuple[Floats, Floats]:
        """Values before and after each row of ``y = keep * y_prev + add``, from ``init``."""
        if self.span == 1:
            return np.array(init, dtype=np.float64), keep * init + add
        a = np.broadcast_to(np.asarray(keep, dtype=np.float64), add.shape).copy()
        b = add.astype(np.float64, copy=True)
        # The state carried into a segment becomes part of its first row's input; a zero
        # factor there stops the scan from reaching back into the previous segment.
        b[self.head] += a[self.head] * init
        a[self.head] = 0.0
        after = linear(a, b, self.span)
        return self.before(after, init), after

    def mean(self, rate: Floats | float, target: Floats, init: Floats) -> tuple[Floats, Floats]:
        """Values before and after each row of the running mean ``y += rate * (target - y)``.

        Scanned as the deviation of the mean from the current target, so a stretch of equal
        targets keeps its mean exactly, as the one-reading-at-a-time update does, and a huge
        value's rounding error fades with its weight instead of outliving it.
        """
        if self.span == 1:  # the update itself, exactly as one reading at a time
            return np.array(init, dtype=np.float64), init + rate * (target - init)
        keep = np.subtract(1.0, rate)
        previous = self.before(target, target[self.head])
        gap = self.recur(keep, keep * (previous - target), init - target[self.head])[1]
        after = gap + target
        return self.before(after, init), after

    def least(self, values: Floats, init: Floats) -> tuple[Floats, Floats]:
        """Running minimum of ``values`` per segment, from ``init``: before and after each row.

        Minima are exact, so the scan gives the same numbers as one row at a time.
        """
        if self.span == 1:
            return np.array(init, dtype=np.float64), np.minimum(init, values)
        y = values.astype(np.float64, copy=True)
        y[self.head] = np.minimum(y[self.head], init)
        d = 1
        while d < self.span:
            # A row reaches back ``d`` rows only inside its own segment.
            reach = self.position[d:] >= d
            np.minimum(y[d:], y[:-d], out=y[d:], where=reach)
            d *= 2
        return self.before(y, init), y


def grouped(keys: Ints) -> Ints | None:
    """A stable order that brings equal keys together; None if ``keys`` are already sorted.

    An agent's batch usually holds each stream once, in registration order: no reordering.
    """
    if len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1])):
        return None
    return np.argsort(keys, kind="stable")


def inverse(order: Ints | None) -> Ints | slice:
    """What indexes rows taken in ``order`` back into input order."""
    if order is None:
        return slice(None)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return back


def linear(keep: Floats, add: Floats, span: int) -> Floats:
    """``y[t] = keep[t] * y[t-1] + add[t]`` with ``y[-1] = 0``, for every ``t``.

    ``span`` bounds how far back a row depends: ``keep`` is zero at least every ``span`` rows.
    Hillis-Steele scan: after the step with offset ``d``, ``y[t]`` sums the last ``2d`` terms and
    ``a[t]`` is the product of the last ``2d`` factors. Both arrays are overwritten.
    """
    a, y = keep, add
    d = 1
    while d < span:
        y[d:] += a[d:] * y[:-d]
        a[d:] *= a[:-d]
        d *= 2
    return y
