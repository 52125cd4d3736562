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
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.columns import NO_SEQ, Columns, Groups, Ints, PerValue, Scores, group, restarts
from edge.streams import Registry
from shared.reading import Reading
from shared.stats import Stats

Key = tuple[str, str, float]  # sensor, metric, window start
Bools = npt.NDArray[np.bool_]


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


# A number this far below the lowest of its window: the sensor restarted its numbering.
_RESTART_JUMP = 1024
_FLOATS = ("mean", "m2", "low", "high", "first_ts", "last_ts", "last_value", "touched",
           "max_score", "start")  # fmt: skip
_INTS = ("count", "seq_lo", "seq_hi", "first_id", "last_id", "anomalies", "sensor")
_BOOLS = ("restarted", "late", "used")


class _Slots:
    """The open windows' running statistics, one row per window, as numpy columns.

    A batch merges into them with whole-column operations (Chan's formula for the variance),
    so the cost per batch grows with its groups' count only through a dict lookup each.
    Rows are reused once their window closes; the columns double when full.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = 0
        self.free: list[int] = []
        self.cols: dict[str, npt.NDArray[Any]] = {}
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        old, size = self.cols, self.capacity
        self.cols = {}
        for names, dtype in ((_FLOATS, np.float64), (_INTS, np.int64), (_BOOLS, np.bool_)):
            for name in names:
                column = np.zeros(capacity, dtype=dtype)
                if old:
                    column[:size] = old[name]
                self.cols[name] = column
        self.free.extend(range(capacity - 1, size - 1, -1))  # lowest rows first
        self.capacity = capacity

    def take(self, count: int) -> Ints:
        """Rows for ``count`` new windows."""
        while len(self.free) < count:
            self._grow(2 * self.capacity)
        rows = self.free[-count:] if count else []
        del self.free[len(self.free) - count :]
        return np.array(rows[::-1], dtype=np.int64)

    def release(self, rows: Ints) -> None:
        """Give the rows of closed windows back."""
        self.cols["used"][rows] = False
        self.free.extend(rows.tolist())


class Windows:
    """Open windows, keyed by sensor, metric and start."""

    def __init__(self, length: float, lateness: float, streams: Registry | None = None) -> None:
        self.length = length
        self.lateness = lateness
        self._rows: dict[Key, int] = {}  # open window -> its row in _slots
        self._key_of: dict[int, Key] = {}
        self._kind_of: dict[int, str] = {}
        self._slots = _Slots()
        # Shared with the pipeline (its detector numbers the streams first), if given.
        self._streams = Registry() if streams is None else streams
        self._stream_sensor: list[int] = []  # stream id -> sensor index
        self._sensors: dict[str, int] = {}
        self._watermark = np.full(16, -np.inf)  # per sensor index: latest observation time
        self._closed_until: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, reading: Reading, *, rid: int, now: float) -> None:
        """Add one stored reading (id ``rid``, all its metrics) that arrived at ``now``."""
        cols = Columns()
        cols.add(reading, rid, now)
        self.add_columns(cols)

    def add_columns(
        self, cols: Columns, ids: Ints | None = None, score: Scores | None = None, on: float = 1.0
    ) -> None:
        """Add a batch of stored metric values; with ``score``, count those at or above ``on``.

        ``ids`` are the values' stream ids in ``streams``, if the caller has them already.
        """
        if not len(cols):
            return
        pv = cols.per_value()
        if ids is None:
            ids = self._streams.ids(pv.sensor, pv.metric)
        self._learn()
        groups = group(ids, cols, self.length, score, on)
        length, rows_of = self.length, self._rows
        sensors, metrics = pv.sensor, pv.metric
        keys = [
            (sensors[row], metrics[row], window * length)
            for row, window in zip(groups.row.tolist(), groups.window.tolist(), strict=True)
        ]
        rows = np.fromiter(map(rows_of.get, keys, repeat(-1)), dtype=np.int64, count=len(keys))
        c = self._slots.cols
        old = rows >= 0
        lo_before = np.where(old, c["seq_lo"][rows], NO_SEQ)
        fell = restarts(groups, lo_before, _RESTART_JUMP)
        sensor_ix = np.asarray(self._stream_sensor, dtype=np.int64)[groups.stream]
        np.maximum.at(self._watermark, sensor_ix, groups.last_ts)
        if old.any():
            self._merge(rows[old], groups, np.flatnonzero(old), fell[old])
        if not old.all():
            fresh = np.flatnonzero(~old)
            self._open(fresh, [keys[g] for g in fresh.tolist()], groups, pv, fell, sensor_ix)

    def _learn(self) -> None:
        """Note the sensor of every stream numbered since the last batch."""
        for stream in range(len(self._stream_sensor), len(self._streams)):
            self._stream_sensor.append(self._sensor_index(self._streams.key(stream)[0]))

    def _sensor_index(self, sensor: str) -> int:
        index = self._sensors.setdefault(sensor, len(self._sensors))
        if index >= len(self._watermark):
            grown = np.full(2 * len(self._watermark), -np.inf)
            grown[: len(self._watermark)] = self._watermark
            self._watermark = grown
        return index

    def _merge(self, rows: Ints, groups: Groups, g: Ints, fell: Bools) -> None:
        """Fold groups ``g`` of the batch into the open windows at ``rows`` (Chan et al.)."""
        c = self._slots.cols
        na, nb = c["count"][rows], groups.count[g]
        total = na + nb
        delta = groups.mean[g] - c["mean"][rows]
        c["mean"][rows] += delta * nb / total
        c["m2"][rows] += groups.m2[g] + delta * delta * na * nb / total
        c["count"][rows] = total
        c["low"][rows] = np.minimum(c["low"][rows], groups.low[g])
        c["high"][rows] = np.maximum(c["high"][rows], groups.high[g])
        c["first_ts"][rows] = np.minimum(c["first_ts"][rows], groups.first_ts[g])
        newer = groups.last_ts[g] >= c["last_ts"][rows]
        c["last_ts"][rows[newer]] = groups.last_ts[g][newer]
        c["last_value"][rows[newer]] = groups.last_value[g][newer]
        c["seq_lo"][rows] = np.minimum(c["seq_lo"][rows], groups.seq_lo[g])
        c["seq_hi"][rows] = np.maximum(c["seq_hi"][rows], groups.seq_hi[g])
        c["restarted"][rows] |= fell
        c["touched"][rows] = groups.touched[g]
        c["last_id"][rows] = np.maximum(c["last_id"][rows], groups.last_id[g])
        c["anomalies"][rows] += groups.anomalies[g]
        c["max_score"][rows] = np.fmax(c["max_score"][rows], groups.max_score[g])  # nan: none

    def _open(
        self, g: Ints, keys: list[Key], groups: Groups, pv: PerValue, fell: Bools, sensor: Ints
    ) -> None:
        """Open a window for each of groups ``g`` of the batch."""
        rows = self._slots.take(len(g))
        for row, key, first in zip(rows.tolist(), keys, groups.row[g].tolist(), strict=True):
            self._rows[key] = row
            self._key_of[row] = key
            self._kind_of[row] = pv.kind[first]
        c = self._slots.cols
        for name in ("count", "mean", "m2", "low", "high", "first_ts", "last_ts", "last_value",
                     "seq_lo", "seq_hi", "touched", "first_id", "last_id", "anomalies",
                     "max_score"):  # fmt: skip
            c[name][rows] = getattr(groups, name)[g]
        c["restarted"][rows] = fell[g]
        c["start"][rows] = groups.window[g] * self.length
        c["sensor"][rows] = sensor[g]
        c["late"][rows] = [
            key[2] < self._closed_until.get((key[0], key[1]), -math.inf) for key in keys
        ]
        c["used"][rows] = True

    def mark_closed(self, sensor: str, metric: str, end: float) -> None:
        """Remember that a window of this metric ending at ``end`` was already summarised."""
        bound = self._closed_until.get((sensor, metric), -math.inf)
        self._closed_until[(sensor, metric)] = max(bound, end)

    def oldest_open_id(self) -> int | None:
        """The lowest stored-reading id still only in an open window (where replay starts)."""
        c = self._slots.cols
        ids = c["first_id"][c["used"]]
        return int(ids.min()) if len(ids) else None

    def close_due(self, now: float) -> list[WindowSummary]:
        """Close and return every window that is complete by the policy above."""
        c = self._slots.cols
        idle = self.length + self.lateness
        due = c["used"] & (
            (c["start"] + idle <= self._watermark[c["sensor"]]) | (now - c["touched"] >= idle)
        )
        return self._close(np.flatnonzero(due))

    def close_all(self) -> list[WindowSummary]:
        """Close every open window (on shutdown, so nothing waits in memory)."""
        return self._close(np.flatnonzero(self._slots.cols["used"]))

    def _close(self, rows: Ints) -> list[WindowSummary]:
        if not len(rows):
            return []
        c = self._slots.cols
        fields = [c[name][rows].tolist() for name in (
            "count", "mean", "m2", "low", "high", "first_ts", "last_ts", "last_value",
            "seq_lo", "seq_hi", "restarted", "late", "last_id", "anomalies", "max_score",
        )]  # fmt: skip
        out = []
        for row, (count, mean, m2, low, high, first_ts, last_ts, last_value, seq_lo, seq_hi,
                  restarted, late, last_id, anomalies, max_score) in zip(
            rows.tolist(), zip(*fields, strict=True), strict=True
        ):  # fmt: skip
            sensor, metric, start = key = self._key_of.pop(row)
            del self._rows[key]
            end = start + self.length
            self.mark_closed(sensor, metric, end)
            out.append(WindowSummary(
                sensor, self._kind_of.pop(row), metric, start, end,
                Stats(count, mean * count, low, high, m2), first_ts, last_ts, last_value,
                None if restarted else seq_hi - seq_lo + 1, late, last_id, anomalies,
                None if math.isnan(max_score) else max_score,
            ))  # fmt: skip
        self._slots.release(rows)
        return out
