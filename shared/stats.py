"""Mergeable window statistics: the same numbers merge exactly at the edge and in the cloud.

Variance is kept as M2 (the sum of squared deviations from the mean), which merges exactly
with Chan's parallel formula, unlike a running sum of squares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    """count, sum, min, max and M2 of a set of values."""

    count: int
    total: float
    low: float
    high: float
    m2: float

    @property
    def mean(self) -> float:
        """Arithmetic mean."""
        return self.total / self.count

    @property
    def variance(self) -> float:
        """Sample variance (0 for a single value)."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0


def of(values: list[float]) -> Stats:
    """Statistics of a non-empty list of values."""
    count = len(values)
    total = sum(values)
    mean = total / count
    return Stats(count, total, min(values), max(values), sum((v - mean) ** 2 for v in values))


def add(stats: Stats | None, value: float) -> Stats:
    """``stats`` with one more value (Welford's update)."""
    if stats is None:
        return Stats(1, value, value, value, 0.0)
    count = stats.count + 1
    delta = value - stats.mean
    total = stats.total + value
    m2 = stats.m2 + delta * (value - total / count)
    return Stats(count, total, min(stats.low, value), max(stats.high, value), m2)


def merge(a: Stats, b: Stats) -> Stats:
    """Statistics of the union of two disjoint sets (Chan et al.)."""
    count = a.count + b.count
    delta = b.mean - a.mean
    m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / count
    return Stats(count, a.total + b.total, min(a.low, b.low), max(a.high, b.high), m2)
