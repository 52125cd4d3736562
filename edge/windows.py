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
    # Welford's running statistics, kept as plain floats: this is the per-reading hot path.
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


class Windows:
    """Open windows, keyed by sensor, metric and start."""

    def __init__(self, length: float, lateness: float) -> None:
        self.length = length
        self.lateness = lateness
        self._open: dict[Key, _Open] = {}
        self._watermark: dict[str, float] = {}
        self._closed_until: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._open)

    def add(self, reading: Reading, *, rid: int, now: float) -> None:
        """Add one stored reading (id ``rid``, all its metrics) that arrived at ``now``."""
        ts, sensor, seq = reading.ts, reading.sensor, reading.seq
        assert ts is not None  # the decoder stamps readings that came without a time
        start = math.floor(ts / self.length) * self.length
        if ts > self._watermark.get(sensor, -math.inf):
            self._watermark[sensor] = ts
        for metric, value in reading.metrics.items():
            key = (sensor, metric, start)
            window = self._open.get(key)
            if window is None:
                late = start < self._closed_until.get((sensor, metric), -math.inf)
                self._open[key] = _Open(
                    reading.kind, 1, value, 0.0, value, value, ts, ts, value, seq, seq,
                    False, late, now, rid, rid,
                )  # fmt: skip
                continue
            window.count += 1
            delta = value - window.mean
            window.mean += delta / window.count
            window.m2 += delta * (value - window.mean)
            if value < window.low:
                window.low = value
            elif value > window.high:
                window.high = value
            window.touched = now
            window.last_id = max(window.last_id, rid)
            window.first_ts = min(window.first_ts, ts)
            if ts >= window.last_ts:
                window.last_ts, window.last_value = ts, value
            if seq < window.seq_lo - 1024:
                window.restarted = True  # numbering restarted: completeness unknown
            window.seq_lo, window.seq_hi = min(window.seq_lo, seq), max(window.seq_hi, seq)

    def note_score(self, sensor: str, metric: str, ts: float, score: float, on: float) -> None:
        """Count a scored reading in its open window: anomalous at or above ``on``."""
        key = (sensor, metric, math.floor(ts / self.length) * self.length)
        window = self._open.get(key)
        if window is None:
            return  # its window closed already: the alert itself still goes upstream
        window.anomalies += score >= on
        if window.max_score is None or score > window.max_score:
            window.max_score = score

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
