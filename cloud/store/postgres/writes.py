"""The ingest transaction on PostgreSQL: claim the batch's records, then a statement per table.

Deduplication is the first statement: ``INSERT INTO records ... ON CONFLICT DO NOTHING
RETURNING seq`` claims the records no one stored before. Two processes given the same batch
at once both try; the second waits on the first's index entries and, once it commits, gets
nothing back, so it writes nothing else. Rows are sent sorted by key so that concurrent
batches lock shared rows (an entity, its latest value) in one order and rarely deadlock.
"""

from __future__ import annotations

from typing import Any

from cloud.store import history, rows
from cloud.store.base import IngestOutcome
from cloud.store.postgres import incidents
from cloud.store.postgres.bulk import Insert, Row, rounds
from cloud.store.postgres.db import Conn
from shared.wire.uplink import Batch, DesiredState, Heartbeat

_RECORDS = Insert(
    "records",
    (("gateway", "text"), ("seq", "int8"), ("type", "text"), ("received_at", "float8")),
    "ON CONFLICT DO NOTHING RETURNING seq",
)
_ENTITIES = Insert(
    "entities",
    (
        ("id", "text"), ("sensor", "text"), ("kind", "text"), ("type", "text"),
        ("category", "text"), ("gateway", "text"), ("first_seen", "float8"),
        ("updated_at", "float8"),
    ),
    """ON CONFLICT (id) DO UPDATE SET gateway = excluded.gateway, updated_at = excluded.updated_at
    RETURNING id, rid""",
)  # fmt: skip
_TYPES = {
    "bucket": "int8", "entity": "int8", "metric": "text", "count": "int8", "anomalies": "int8",
    "expected": "int8", "parts": "int8",
}  # fmt: skip
# The exact merge of docs/protocol.md 8.2, as in cloud/store/history.py: every right-hand side
# sees the stored row (w) as it was before this update.
_D = "(excluded.total / excluded.count - w.total / w.count)"
_WINDOWS = Insert(
    "windows AS w",
    tuple((name, _TYPES.get(name, "float8")) for name in history.COLUMNS),
    f"""ON CONFLICT (bucket, entity, metric, window_start, window_end) DO UPDATE SET
    count = w.count + excluded.count,
    total = w.total + excluded.total,
    low = least(w.low, excluded.low),
    high = greatest(w.high, excluded.high),
    m2 = w.m2 + excluded.m2 + {_D} * {_D} * w.count * excluded.count / (w.count + excluded.count),
    first_ts = least(w.first_ts, excluded.first_ts),
    last_value = CASE WHEN excluded.last_ts >= w.last_ts THEN excluded.last_value
        ELSE w.last_value END,
    last_ts = greatest(w.last_ts, excluded.last_ts),
    anomalies = w.anomalies + excluded.anomalies,
    max_score = CASE WHEN w.max_score IS NULL THEN excluded.max_score
        WHEN excluded.max_score IS NULL THEN w.max_score
        ELSE greatest(w.max_score, excluded.max_score) END,
    expected = CASE WHEN w.expected IS NULL OR excluded.expected IS NULL THEN NULL
        ELSE greatest(w.expected, excluded.expected, w.count + excluded.count) END,
    parts = w.parts + excluded.parts""",
)
_ALERTS = Insert(
    "alerts",
    (
        ("gateway", "text"), ("seq", "int8"), ("entity", "text"), ("sensor", "text"),
        ("kind", "text"), ("metric", "text"), ("ts", "float8"), ("value", "float8"),
        ("low", "float8"), ("high", "float8"), ("score", "float8"), ("severity", "text"),
        ("reason", "text"), ("received_at", "float8"),
    ),
)  # fmt: skip
_GAPS = Insert(
    "gaps",
    (
        ("gateway", "text"), ("seq", "int8"), ("sensor", "text"), ("metric", "text"),
        ("gap_start", "float8"), ("gap_end", "float8"), ("count", "int8"), ("reason", "text"),
        ("received_at", "float8"),
    ),
)  # fmt: skip
# Backfill keeps its observation time and never overwrites a newer live value.
_LATEST = Insert(
    "latest AS l",
    (("entity", "text"), ("metric", "text"), ("value", "float8"), ("observed_at", "float8")),
    """ON CONFLICT (entity, metric) DO UPDATE
    SET value = excluded.value, observed_at = excluded.observed_at
    WHERE excluded.observed_at > l.observed_at""",
)
_GATEWAY = """INSERT INTO gateways AS g (id, first_seen, last_seen) VALUES (%s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET last_seen = greatest(g.last_seen, excluded.last_seen)
    RETURNING desired_config_version, desired_model_version"""
_HEARTBEAT = """UPDATE gateways SET heartbeat = %s, heartbeat_seq = %s, heartbeat_at = %s
    WHERE id = %s AND (heartbeat_seq IS NULL OR heartbeat_seq < %s)"""


async def ingest(conn: Conn, batch: Batch, received_at: float) -> IngestOutcome:
    """Store the batch's new records and return what happened."""
    unique = rows.fresh(batch.records, set())  # a seq twice in one batch counts once
    claim = sorted(((batch.gateway, r.seq, r.type, received_at) for r in unique), key=_seq)
    claimed = {seq for (seq,) in await _RECORDS.run(conn, claim)}
    new = [record for record in unique if record.seq in claimed]
    plan = rows.plan(batch.gateway, new, received_at)
    await _write(conn, plan)
    desired = await _touch_gateway(conn, batch.gateway, received_at)
    if plan.heartbeat is not None:
        await _heartbeat(conn, batch.gateway, plan.heartbeat, received_at)
    return IngestOutcome(len(new), len(batch.records) - len(new), desired)


async def _write(conn: Conn, plan: rows.WritePlan) -> None:
    entities = sorted(plan.entities.values(), key=_first)
    rids = dict(await _ENTITIES.run(conn, entities))
    windows = [history.window_row((rids[s[0]], *s[1:])) for s in plan.summaries]
    for part in rounds(sorted(windows, key=_window_key), _window_key):
        await _WINDOWS.run(conn, part)
    await _ALERTS.run(conn, plan.alerts)
    await incidents.record(conn, plan.alerts)
    await _GAPS.run(conn, plan.gaps)
    await _LATEST.run(conn, sorted(plan.latest_rows(), key=_first_two))


async def _touch_gateway(conn: Conn, gateway: str, received_at: float) -> DesiredState:
    cursor = await conn.execute(_GATEWAY, (gateway, received_at, received_at))
    row = await cursor.fetchone()
    assert row is not None  # an upsert always returns its row
    return DesiredState(config_version=row[0], model_version=row[1])


async def _heartbeat(conn: Conn, gateway: str, hb: Heartbeat, received_at: float) -> None:
    await conn.execute(_HEARTBEAT, (hb.model_dump_json(), hb.seq, received_at, gateway, hb.seq))


def _seq(row: Row) -> int:
    seq = row[1]
    assert isinstance(seq, int)
    return seq


def _first(row: Row) -> str:
    return str(row[0])


def _first_two(row: Row) -> tuple[str, str]:
    return str(row[0]), str(row[1])


def _window_key(row: Row) -> tuple[Any, ...]:
    """(bucket, entity rid, metric, start, end): the primary key of ``windows``."""
    return tuple(row[:5])
