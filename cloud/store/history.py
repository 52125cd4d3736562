"""History in SQLite: window rows merged at ingest, and the reads of one metric of one entity.

Every summary of one (entity, metric) and window is merged into one ``windows`` row by the
exact rules of docs/protocol.md section 8.2, in the UPSERT below, whether it is late or not and
in whichever order the summaries arrive. Rows are keyed (bucket, entity rid, metric, window):
see schema.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Final

from cloud import twin
from cloud.history import History, HistoryQuery, steps

BUCKET_S: Final = 300  # part of the stored keys: changing it needs a migration
SUMMARY_COLUMNS: Final = (
    "entities.rid", "metric", "window_start", "window_end", "count", "total", "low", "high", "m2",
    "first_ts", "last_ts", "last_value", "anomalies", "max_score", "expected",
)  # fmt: skip
COLUMNS: Final = (
    "bucket", "entity", "metric", "window_start", "window_end", "count", "total", "low", "high",
    "m2", "first_ts", "last_ts", "last_value", "anomalies", "max_score", "expected", "parts",
)  # fmt: skip
# Every right-hand side sees the row as it was before this update (SQL UPDATE semantics), so
# the merge reads like shared.stats.merge with a = the stored row, b = the new summary.
_D = "(excluded.total / excluded.count - total / count)"
MERGE: Final = f"""ON CONFLICT (bucket, entity, metric, window_start, window_end) DO UPDATE SET
    count = count + excluded.count,
    total = total + excluded.total,
    low = min(low, excluded.low),
    high = max(high, excluded.high),
    m2 = m2 + excluded.m2 + {_D} * {_D} * count * excluded.count / (count + excluded.count),
    first_ts = min(first_ts, excluded.first_ts),
    last_value = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_value
        ELSE last_value END,
    last_ts = max(last_ts, excluded.last_ts),
    anomalies = anomalies + excluded.anomalies,
    max_score = CASE WHEN max_score IS NULL THEN excluded.max_score
        WHEN excluded.max_score IS NULL THEN max_score
        ELSE max(max_score, excluded.max_score) END,
    expected = CASE WHEN expected IS NULL OR excluded.expected IS NULL THEN NULL
        ELSE max(expected, excluded.expected, count + excluded.count) END,
    parts = parts + excluded.parts"""

_WINDOWS = """SELECT w.window_start, w.window_end, w.count, w.total, w.low, w.high, w.m2,
    w.anomalies FROM json_each(?) AS b
    JOIN windows AS w ON w.bucket = b.value AND w.entity = ? AND w.metric = ?
    WHERE w.window_start >= ? AND w.window_start < ?"""
_GAPS = """SELECT gap_start, gap_end, reason FROM gaps
    WHERE sensor = ? AND (metric IS NULL OR metric = ?) AND gap_start < ? AND gap_end >= ?
    UNION ALL
    SELECT gap_start, gap_end, reason FROM gaps
    WHERE gateway = ? AND sensor IS NULL AND gap_start < ? AND gap_end >= ?"""


def upsert_sql(rows: int) -> str:
    """The statement that merges ``rows`` window rows into ``windows``."""
    row = "(" + ",".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO windows ({', '.join(COLUMNS)}) VALUES {','.join([row] * rows)} {MERGE}"  # noqa: S608


def window_row(summary: Sequence[object]) -> tuple[object, ...]:
    """A row of ``windows`` from (entity rid, metric, start, end, count, ..., expected)."""
    start = summary[2]
    assert isinstance(start, float | int)
    return (int(start // BUCKET_S), *summary, 1)


def windows(
    conn: sqlite3.Connection, entity: int, metric: str, start: float, end: float
) -> list[tuple[float, ...]]:
    """(start, end, count, total, low, high, m2, anomalies) of the windows starting in range."""
    first, last = int(start // BUCKET_S), int(end // BUCKET_S)
    buckets = json.dumps(list(range(first, last + 1)))
    return conn.execute(_WINDOWS, (buckets, entity, metric, start, end)).fetchall()


def gaps(
    conn: sqlite3.Connection,
    sensor: str | None,
    gateway: str | None,
    metric: str,
    start: float,
    end: float,
) -> list[tuple[float, float, str]]:
    """Gap records of the sensor (or of its whole gateway) overlapping [start, end)."""
    return conn.execute(_GAPS, (sensor, metric, end, start, gateway, end, start)).fetchall()


def read(conn: sqlite3.Connection, query: HistoryQuery) -> History | None:
    """The history of one metric of one entity, or None if there is no such entity."""
    found = conn.execute(
        "SELECT rid, sensor, kind, gateway FROM entities WHERE id = ?", (query.entity,)
    ).fetchone()
    if found is None:
        return None
    rid, sensor, kind, gateway = found
    end = query.start + query.points * query.step
    rows = windows(conn, rid, query.metric, query.start, end)
    gap_rows = gaps(conn, sensor, gateway, query.metric, query.start, end)
    return History(query, twin.unit(kind, query.metric), steps(query, rows, gap_rows))
