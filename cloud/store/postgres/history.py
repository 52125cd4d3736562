"""History reads on PostgreSQL: the windows of one metric of one entity, and its gap records.

The windows are merged at ingest (writes.py), keyed as on SQLite (cloud/store/history.py);
the pure step arithmetic is shared (cloud/history.py).
"""

from __future__ import annotations

from cloud import twin
from cloud.history import History, HistoryQuery, steps
from cloud.store.history import BUCKET_S
from cloud.store.postgres.db import Conn, fetch_all, fetch_one

# Bucket first: the range is one index scan of the primary key.
_WINDOWS = """SELECT window_start, window_end, count, total, low, high, m2, anomalies
    FROM windows WHERE bucket BETWEEN %s AND %s AND entity = %s AND metric = %s
    AND window_start >= %s AND window_start < %s
    ORDER BY bucket, window_start, window_end"""
_GAPS = """SELECT gap_start, gap_end, reason FROM gaps
    WHERE sensor = %s AND (metric IS NULL OR metric = %s) AND gap_start < %s AND gap_end >= %s
    UNION ALL
    SELECT gap_start, gap_end, reason FROM gaps
    WHERE gateway = %s AND sensor IS NULL AND gap_start < %s AND gap_end >= %s"""


async def read(conn: Conn, query: HistoryQuery) -> History | None:
    """The history of one metric of one entity, or None if there is no such entity."""
    found = await fetch_one(
        conn, "SELECT rid, sensor, kind, gateway FROM entities WHERE id = %s", (query.entity,)
    )
    if found is None:
        return None
    rid, sensor, kind, gateway = found
    start = query.start
    end = start + query.points * query.step
    rows = await fetch_all(
        conn,
        _WINDOWS,
        (int(start // BUCKET_S), int(end // BUCKET_S), rid, query.metric, start, end),
    )
    gap_rows = await fetch_all(conn, _GAPS, (sensor, query.metric, end, start, gateway, end, start))
    return History(query, twin.unit(kind, query.metric), steps(query, rows, gap_rows))
