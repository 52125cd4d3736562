"""Tumbling windows per sensor and metric, with mergeable statistics. Pure: no I/O, no clock.

Late and out-of-order policy (also in docs/protocol.md):
- readings are placed by their observation time, never by arrival time;
- a window closes once its sensor has reported ``lateness`` past the window's end (event
  time), or once the window has heard nothing for ``length + lateness`` seconds of gateway
  time (a sensor that went quiet);
- a reading for a window that already closed opens a *late* window for the same interval,
  sent as a separate summary with ``late: true``; the cloud merges it exactly, so nothing is
  dropped and nothing is counted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.columns import NO_SEQ, Columns, Scores, group, restarts
from shared.reading import Reading
from shared.stats import Stats

Key = tuple[str, str, float]  # sensor, metric, window start


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """One closed window of one metric of one sensor."""

    sensor: str
    kind: str
    metric: str
    start: float
    end: float
    stats: Stats
    first_ts: float
    last_ts: float
    last_value: float
    expected: int | None
    late: bool
    through_id: int  # the highest stored-reading id this summary includes (crash recovery)
    anomalies: int = 0
    max_score: float | None = None

    def record(self) -> dict[str, Any]:
        """The uplink ``summary`` record, without its outbox sequence number."""
        body: dict[str, Any] = {
            "type": "summary",
            "sensor": self.sensor,
            "kind": self.kind,
            "metric": self.metric,
            "start": self.start,
            "end": self.end,
            "count": self.stats.count,
            "sum": self.stats.total,
            "min": self.stats.low,
            "max": self.stats.high,
            "m2": self.stats.m2,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "last_value": self.last_value,
            "anomalies": self.anomalies,
            "late": self.late,
        }
        if self.expected is not None:
            body["expected"] = self.expected
        if self.max_score is not None:
            body["max_score"] = self.max_score
        return body


@dataclass(slots=True)
class _Open:
    # Running statistics as plain floats, merged per batch with Chan's formula.
    kind: str
    count: int
    mean: float
    m2: float
    low: float
    high: float
    first_ts: float
    last_ts: float
    last_value: float
    seq_lo: int
    seq_hi: int
    restarted: bool
    late: bool
    touched: float
    first_id: int
    last_id: int
    anomalies: int = 0
    max_score: float | None = None


# A number this far below the lowest of its window: the sensor restarted its numbering.
_RESTART_JUMP = 1024


class Windows:
    """Open windows, keyed by sensor, metric and start."""

    def __init__(self, length: float, lateness: float) -> None:
        self.length = length
        self.lateness = lateness
        self._open: dict[Key, _Open] = {}
        self._watermark: dict[str, float] = {}
        self._closed_until: dict[tuple[str, str], float] = {}
        self._streams: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._open)

    def add(self, reading: Reading, *, rid: int, now: float) -> None:
        """Add one stored reading (id ``rid``, all its metrics) that arrived at ``now``."""
        cols = Columns()
        cols.add(reading, rid, now)
        self.add_columns(cols)

    def add_columns(self, cols: Columns, score: Scores | None = None, on: float = 1.0) -> None:
        """Add a batch of stored metric values; with ``score``, count those at or above ``on``."""
        if not len(cols):
            return
        streams = self._streams
        keys = list(zip(cols.sensor, cols.metric, strict=True))
        for pair in keys:
            if pair not in streams:
                streams[pair] = len(streams)
        ids = np.fromiter(map(streams.__getitem__, keys), dtype=np.int64, count=len(keys))
        groups, gid, seq = group(ids, cols, self.length, score, on)
        length, opened = self.length, self._open
        sensors, metrics, kinds = cols.sensor, cols.metric, cols.kind
        keys3 = [
            (sensors[row], metrics[row], window * length)
            for row, window in zip(groups.row, groups.window, strict=True)
        ]
        found = list(map(opened.get, keys3))
        lo_before = np.array([NO_SEQ if w is None else w.seq_lo for w in found], dtype=np.int64)
        fell = restarts(gid, seq, groups.starts, lo_before, _RESTART_JUMP)
        watermark, closed_until = self._watermark, self._closed_until
        for key, window, row, stats, restarted in zip(
            keys3, found, groups.row, groups.stats(), fell, strict=True
        ):
            (count, mean, m2, low, high, first_ts, last_ts, last_value, seq_lo, seq_hi,
             first_id, last_id, touched, anomalies, max_score) = stats  # fmt: skip
            sensor = key[0]
            if last_ts > watermark.get(sensor, -math.inf):
                watermark[sensor] = last_ts
            top = None if math.isnan(max_score) else max_score
            if window is None:
                late = key[2] < closed_until.get((sensor, key[1]), -math.inf)
                opened[key] = _Open(
                    kinds[row], count, mean, m2, low, high, first_ts, last_ts, last_value,
                    seq_lo, seq_hi, restarted, late, touched, first_id, last_id, anomalies, top,
                )  # fmt: skip
                continue
            na = window.count
            total = na + count
            delta = mean - window.mean
            window.mean += delta * count / total
            window.m2 += m2 + delta * delta * na * count / total
            window.count = total
            window.low = min(window.low, low)
            window.high = max(window.high, high)
            window.first_ts = min(window.first_ts, first_ts)
            if last_ts >= window.last_ts:
                window.last_ts, window.last_value = last_ts, last_value
            window.seq_lo = min(window.seq_lo, seq_lo)
            window.seq_hi = max(window.seq_hi, seq_hi)
            window.restarted = window.restarted or restarted
            window.touched = touched
            window.last_id = max(window.last_id, last_id)
            window.anomalies += anomalies
            if top is not None and (window.max_score is None or top > window.max_score):
                window.max_score = top

    def mark_closed(self, sensor: str, metric: str, end: float) -> None:
        """Remember that a window of this metric ending at ``end`` was already summarised."""
        bound = self._closed_until.get((sensor, metric), -math.inf)
        self._closed_until[(sensor, metric)] = max(bound, end)

    def oldest_open_id(self) -> int | None:
        """The lowest stored-reading id still only in an open window (where replay starts)."""
        return min((w.first_id for w in self._open.values()), default=None)

    def close_due(self, now: float) -> list[WindowSummary]:
        """Close and return every window that is complete by the policy above."""
        idle = self.length + self.lateness
        due = [
            key
            for key, w in self._open.items()
            if key[2] + self.length + self.lateness <= self._watermark[key[0]]
            or now - w.touched >= idle
        ]
        return [self._close(key) for key in due]

    def close_all(self) -> list[WindowSummary]:
        """Close every open window (on shutdown, so nothing waits in memory)."""
        return [self._close(key) for key in list(self._open)]

    def _close(self, key: Key) -> WindowSummary:
        sensor, metric, start = key
        w = self._open.pop(key)
        end = start + self.length
        self.mark_closed(sensor, metric, end)
        expected = None if w.restarted else w.seq_hi - w.seq_lo + 1
        summary = Stats(w.count, w.mean * w.count, w.low, w.high, w.m2)
        return WindowSummary(
            sensor, w.kind, metric, start, end, summary, w.first_ts, w.last_ts, w.last_value,
            expected, w.late, w.last_id, w.anomalies, w.max_score,
        )  # fmt: skip
