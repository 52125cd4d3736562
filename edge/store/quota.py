"""The store's disk quota: what goes first when the SQLite file is full, and the gaps it leaves.

Used space is ``(page_count - freelist_count) * page_size``: SQLite keeps the pages a delete
frees inside the file and reuses them, so the file's size never shrinks and would overstate it.

When a commit leaves the store above its quota, the writer sheds, in that same transaction, down
to ``LOW_WATER`` of the quota (so a store at its limit does not shed again at every commit):

1. ring messages already summarised (and the marks of windows closed before them). The cloud
   loses nothing: they are kept for local inspection only. Messages of windows still open are
   never shed: crash recovery replays them.
2. heartbeats waiting for the cloud, all but the newest, which supersedes them.
3. the oldest summaries waiting for the cloud. The summaries of one sensor and metric shed
   together become one gap record (reason ``shed``) counting the readings they held, so the
   cloud shows a gap, not a quiet sensor. While that record waits, later passes widen it.

Never shed: alerts, gap records, and records the uplink has handed to the cloud without an
acknowledgement yet (the cloud may hold them already: shedding one would count its readings as
delivered and as lost).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from edge.store.schema import PRIORITY

log = logging.getLogger(__name__)

LOW_WATER = 0.9  # shed down to this fraction of the quota
_FIRST_CHUNK = 256
_MAX_CHUNK = 50_000
_COUNTERS = ("shed_messages", "shed_heartbeats", "shed_summaries", "shed_readings")


@dataclass(frozen=True, slots=True)
class Shed:
    """What the quota made the store drop: records, and the readings the cloud will miss."""

    messages: int = 0
    heartbeats: int = 0
    summaries: int = 0
    readings: int = 0  # readings of the shed summaries: the sum of the shed gap counts

    def __add__(self, other: Shed) -> Shed:
        return Shed(
            self.messages + other.messages,
            self.heartbeats + other.heartbeats,
            self.summaries + other.summaries,
            self.readings + other.readings,
        )

    def __bool__(self) -> bool:
        return bool(self.messages or self.heartbeats or self.summaries)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the file holding data (pages in use, not free pages awaiting reuse)."""
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int((pages - free) * size)


def read_counters(conn: sqlite3.Connection) -> Shed:
    """Everything shed since the store was created."""
    rows = dict(conn.execute("SELECT name, value FROM counters WHERE name LIKE 'shed_%'"))
    return Shed(*(int(rows.get(name, 0)) for name in _COUNTERS))


# A step deletes up to ``n`` rows of one class and says what it shed; ``now`` dates gap records.
Step = Callable[[sqlite3.Connection, int, Collection[int], float], Shed]


def _ring(conn: sqlite3.Connection, n: int, _lent: Collection[int], _now: float) -> Shed:
    cursor = conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE id <"
        " (SELECT value FROM counters WHERE name = 'replay_from') ORDER BY id LIMIT ?)",
        [n],
    )
    # Marks of windows closed before every message a restart replays are never read again.
    conn.execute(
        "DELETE FROM closed_windows"
        " WHERE through_id < (SELECT value FROM counters WHERE name = 'replay_from')"
    )
    return Shed(messages=cursor.rowcount)


def _oldest(
    conn: sqlite3.Connection, priority: int, kind: str, n: int, lent: Collection[int]
) -> list[int]:
    rows = conn.execute(
        "SELECT seq FROM outbox WHERE priority = ? AND type = ? ORDER BY seq LIMIT ?",
        [priority, kind, n + len(lent)],
    ).fetchall()
    return [seq for (seq,) in rows if seq not in lent][:n]


def _heartbeats(conn: sqlite3.Connection, n: int, lent: Collection[int], _now: float) -> Shed:
    oldest = _oldest(conn, PRIORITY["heartbeat"], "heartbeat", n + 1, lent)
    (newest,) = conn.execute("SELECT MAX(seq) FROM outbox WHERE type = 'heartbeat'").fetchone()
    seqs = [(seq,) for seq in oldest if seq != newest][:n]
    conn.executemany("DELETE FROM outbox WHERE seq = ?", seqs)
    return Shed(heartbeats=len(seqs))


def _summaries(conn: sqlite3.Connection, n: int, lent: Collection[int], now: float) -> Shed:
    seqs = _json(_oldest(conn, PRIORITY["summary"], "summary", n, lent))
    # SQLite reads the bodies: several times faster than json.loads per row in Python.
    spans = {
        (sensor, metric): {"type": "gap", "sensor": sensor, "metric": metric, "start": start,
                           "end": end, "count": count, "reason": "shed"}
        for sensor, metric, start, end, count in conn.execute(
            "SELECT json_extract(body, '$.sensor'), json_extract(body, '$.metric'),"
            " MIN(json_extract(body, '$.start')), MAX(json_extract(body, '$.end')),"
            " SUM(json_extract(body, '$.count')) FROM outbox"
            " WHERE seq IN (SELECT value FROM json_each(?)) GROUP BY 1, 2",
            [seqs],
        )
    }  # fmt: skip
    shed = conn.execute(
        "DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))", [seqs]
    ).rowcount
    # One gap record per stream while it waits, not one per shedding pass: widen the waiting
    # one (never one handed to the uplink: the cloud may hold it as it was).
    waiting = {
        (g["sensor"], g["metric"]): (seq, g)
        for seq, g in _shed_gaps(conn)
        if seq not in lent and (g["sensor"], g["metric"]) in spans
    }
    updates, inserts = [], []
    for key, span in spans.items():
        if key in waiting:
            seq, gap = waiting[key]
            _widen(gap, span)
            updates.append((_json(gap), seq))
        else:
            inserts.append((PRIORITY["gap"], now, _json(span)))
    conn.executemany("UPDATE outbox SET body = ? WHERE seq = ?", updates)
    conn.executemany(
        "INSERT INTO outbox (priority, type, created, body) VALUES (?, 'gap', ?, ?)", inserts
    )
    return Shed(summaries=shed, readings=sum(span["count"] for span in spans.values()))


def _widen(gap: dict[str, Any], other: dict[str, Any]) -> None:
    gap["start"] = min(gap["start"], other["start"])
    gap["end"] = max(gap["end"], other["end"])
    gap["count"] += other["count"]


def _shed_gaps(conn: sqlite3.Connection) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute(
        "SELECT seq, body FROM outbox WHERE priority = ? AND type = 'gap'", [PRIORITY["gap"]]
    )
    gaps = [(seq, json.loads(body)) for seq, body in rows]
    return [(seq, g) for seq, g in gaps if g["reason"] == "shed"]


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


STEPS: tuple[Step, ...] = (_ring, _heartbeats, _summaries)


class Quota:
    """Keeps one store under ``limit`` bytes; used by the writer thread only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._stuck = False  # over the quota with nothing left to shed (logged once)

    def over(self, conn: sqlite3.Connection) -> bool:
        """True if the data in the file exceeds the quota (cheap: three header reads)."""
        return used_bytes(conn) > self.limit

    def enforce(self, conn: sqlite3.Connection, lent: Collection[int], now: float) -> Shed:
        """Shed down to the low-water mark, in the caller's transaction; counts what went."""
        target = int(self.limit * LOW_WATER)
        before = used_bytes(conn)
        shed = Shed()
        for step in STEPS:
            shed += _run(step, conn, target, lent, now)
            if used_bytes(conn) <= target:
                break
        if shed:
            conn.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                list(zip(_COUNTERS, (shed.messages, shed.heartbeats, shed.summaries,
                                     shed.readings), strict=True)),
            )  # fmt: skip
            log.warning(
                "store over its quota (%d of %d bytes): shed %d ring messages, %d heartbeats,"
                " %d summaries (%d readings, reported as gaps)",
                before, self.limit, shed.messages, shed.heartbeats, shed.summaries, shed.readings,
            )  # fmt: skip
        stuck = used_bytes(conn) > self.limit
        if stuck and not self._stuck:
            log.error(
                "store still over its quota of %d bytes: only alerts, gap records, open windows"
                " and records in flight are left; raise store.quota_bytes",
                self.limit,
            )
        self._stuck = stuck
        return shed


def _run(
    step: Step, conn: sqlite3.Connection, target: int, lent: Collection[int], now: float
) -> Shed:
    """Apply ``step`` in chunks sized from what the previous chunk freed, until under target."""
    used, chunk, shed = used_bytes(conn), _FIRST_CHUNK, Shed()
    while used > target:
        done = step(conn, chunk, lent, now)
        rows = done.messages + done.heartbeats + done.summaries
        if not rows:
            break
        shed += done
        after = used_bytes(conn)
        per_row = max((used - after) / rows, 1.0)
        used = after
        # Deletes free whole pages only now and then: grow at most twofold per chunk.
        chunk = max(16, min(int((used - target) / per_row * 1.1) + 1, chunk * 2, _MAX_CHUNK))
    return shed
