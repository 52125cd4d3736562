"""The ingest transaction: deduplicate on (gateway, seq), then a few statements per table.

Runs on the writer thread, inside the transaction the writer opened: either the whole
batch lands or none of it does.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from cloud.store import history, incidents, rows
from cloud.store.base import IngestOutcome
from shared.wire.uplink import Batch, DesiredState, Heartbeat

# Parameters per statement: well under SQLite's limit (32766), and a short statement to prepare.
_MAX_PARAMS = 8192


@dataclass(frozen=True, slots=True)
class Insert:
    """An INSERT sent as multi-row VALUES, a few hundred rows per statement.

    executemany would step once per row, releasing and retaking the GIL each time; while the
    event loop decodes the next batch, every retake waits: measured several times slower.
    """

    table: str
    columns: tuple[str, ...]
    tail: str = ""

    def run(self, conn: sqlite3.Connection, values: Sequence[rows.Row]) -> list[Any]:
        """Insert ``values`` (tuples in ``columns`` order); the rows a RETURNING tail gives."""
        per = max(1, _MAX_PARAMS // len(self.columns))
        out: list[Any] = []
        for start in range(0, len(values), per):
            chunk = values[start : start + per]
            out += conn.execute(self._sql(len(chunk)), list(chain.from_iterable(chunk)))
        return out

    def _sql(self, count: int) -> str:
        return _statement(self.table, self.columns, self.tail, count)


@functools.lru_cache(maxsize=256)
def _statement(table: str, columns: tuple[str, ...], tail: str, count: int) -> str:
    row = "(" + ",".join("?" * len(columns)) + ")"
    # Only the fixed names above reach the text; every value is a bound parameter.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([row] * count)} {tail}"  # noqa: S608


_KNOWN = "SELECT seq FROM records WHERE gateway = ? AND seq IN (SELECT value FROM json_each(?))"
_RECORDS = Insert("records", ("gateway", "seq", "type", "received_at"))
_WINDOWS = Insert("windows", history.COLUMNS, history.MERGE)
_ALERTS = Insert(
    "alerts",
    (
        "gateway", "seq", "entity", "sensor", "kind", "metric", "ts", "value", "low", "high",
        "score", "severity", "reason", "received_at",
    ),
)  # fmt: skip
_GAPS = Insert(
    "gaps",
    (
        "gateway", "seq", "sensor", "metric", "gap_start", "gap_end", "count", "reason",
        "received_at",
    ),
)  # fmt: skip
_ENTITIES = Insert(
    "entities",
    ("id", "sensor", "kind", "type", "category", "gateway", "first_seen", "updated_at"),
    """ON CONFLICT (id) DO UPDATE SET gateway = excluded.gateway, updated_at = excluded.updated_at
    RETURNING id, rid""",
)
# Backfill keeps its observation time and never overwrites a newer live value.
_LATEST = Insert(
    "latest",
    ("entity", "metric", "value", "observed_at"),
    """ON CONFLICT (entity, metric) DO UPDATE
    SET value = excluded.value, observed_at = excluded.observed_at
    WHERE excluded.observed_at > latest.observed_at""",
)
_GATEWAY = """INSERT INTO gateways (id, first_seen, last_seen) VALUES (?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen
    RETURNING desired_config_version, desired_model_version"""
_HEARTBEAT = """UPDATE gateways SET heartbeat = ?, heartbeat_seq = ?, heartbeat_at = ?
    WHERE id = ? AND (heartbeat_seq IS NULL OR heartbeat_seq < ?)"""


def ingest(conn: sqlite3.Connection, batch: Batch, received_at: float) -> IngestOutcome:
    """Store the batch's new records and return what happened."""
    new = rows.fresh(batch.records, _known(conn, batch))
    plan = rows.plan(batch.gateway, new, received_at)
    _write(conn, plan)
    desired = _touch_gateway(conn, batch.gateway, received_at)
    if plan.heartbeat is not None:
        _heartbeat(conn, batch.gateway, plan.heartbeat, received_at)
    return IngestOutcome(len(new), len(batch.records) - len(new), desired)


def _known(conn: sqlite3.Connection, batch: Batch) -> set[int]:
    seqs = json.dumps([record.seq for record in batch.records])
    return {seq for (seq,) in conn.execute(_KNOWN, (batch.gateway, seqs))}


def _write(conn: sqlite3.Connection, plan: rows.WritePlan) -> None:
    _RECORDS.run(conn, plan.records)
    rids = dict(_ENTITIES.run(conn, list(plan.entities.values())))
    _WINDOWS.run(conn, [history.window_row((rids[s[0]], *s[1:])) for s in plan.summaries])
    _ALERTS.run(conn, plan.alerts)
    incidents.record(conn, plan.alerts)
    _GAPS.run(conn, plan.gaps)
    _LATEST.run(conn, plan.latest_rows())


def _touch_gateway(conn: sqlite3.Connection, gateway: str, received_at: float) -> DesiredState:
    config_version, model_version = conn.execute(
        _GATEWAY, (gateway, received_at, received_at)
    ).fetchone()
    return DesiredState(config_version=config_version, model_version=model_version)


def _heartbeat(conn: sqlite3.Connection, gateway: str, hb: Heartbeat, received_at: float) -> None:
    conn.execute(_HEARTBEAT, (hb.model_dump_json(), hb.seq, received_at, gateway, hb.seq))
