"""Pure: a metric's history at a chosen step, window summaries merged exactly, gaps kept as gaps.

A step ``[t, t + step)`` holds the windows that start in it, merged with shared.stats.merge
(count, sum, min, max and M2, so mean and variance are exact). A step is a gap when no window
starts in it ("no_data") or when a gap record of the sensor overlaps it (its reason): a gap
is never shown as a zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from shared import stats

MAX_POINTS: Final = 10_000
NO_DATA: Final = "no_data"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """One metric of one entity over [start, end) at ``step`` seconds."""

    entity: str
    metric: str
    start: float
    end: float
    step: float

    @property
    def points(self) -> int:
        """How many steps the range holds (the last one may end after ``end``)."""
        return math.ceil((self.end - self.start) / self.step)


@dataclass(frozen=True, slots=True)
class Point:
    """One step: the merged statistics of its windows (None: no data) and why it is a gap."""

    start: float
    end: float
    stats: stats.Stats | None
    anomalies: int
    gaps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class History:
    """The steps of a query, with the unit of the metric."""

    query: HistoryQuery
    unit: str | None
    points: tuple[Point, ...]


# (window_start, window_end, count, total, low, high, m2, anomalies)
WindowRow = tuple[float, ...]
# (gap_start, gap_end, reason)
GapRow = tuple[float, float, str]


def steps(
    query: HistoryQuery, windows: Iterable[WindowRow], gaps: Iterable[GapRow]
) -> tuple[Point, ...]:
    """The points of ``query`` from the windows and gap records in its range."""
    n = query.points
    merged: list[stats.Stats | None] = [None] * n
    anomalies = [0] * n
    for start, _end, count, total, low, high, m2, flagged in windows:
        i = int((start - query.start) // query.step)
        if not 0 <= i < n:
            continue
        part = stats.Stats(int(count), total, low, high, m2)
        known = merged[i]
        merged[i] = part if known is None else stats.merge(known, part)
        anomalies[i] += int(flagged)
    reasons: list[set[str]] = [set() for _ in range(n)]
    for gap_start, gap_end, reason in gaps:
        for i in _overlapped(query, gap_start, gap_end):
            reasons[i].add(reason)
    points = []
    for i in range(n):
        begin = query.start + i * query.step
        why = reasons[i] | ({NO_DATA} if merged[i] is None else set())
        points.append(Point(begin, begin + query.step, merged[i], anomalies[i], tuple(sorted(why))))
    return tuple(points)


def _overlapped(query: HistoryQuery, start: float, end: float) -> range:
    """Steps that [start, end) overlaps; a gap of no length marks the step it falls in."""
    first = math.floor((start - query.start) / query.step)
    last = first if end <= start else math.ceil((end - query.start) / query.step) - 1
    return range(max(0, first), min(query.points - 1, last) + 1)
