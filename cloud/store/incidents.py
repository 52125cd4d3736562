"""Incidents in SQLite: opened or joined by edge alerts at ingest, changed by operators.

Runs on the writer thread (``record``, ``act``) or a reader (``page``, ``one``). Routing:
the entity's ``responsibleDepartment`` relationship, else the department whose
``responsibleFor`` lists the entity's type (both come from the city file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from cloud import incidents as rules
from cloud.incidents import Action, Event, Incident, NoSuchIncident, State
from cloud.store.base import Page

_COLUMNS = (
    "id, entity, cause, department, state, severity, assignee, alerts, first_alert_at, "
    "last_alert_at, last_value, opened_at, updated_at"
)
_RANK = "CASE {} WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END"
_JOIN = f"""UPDATE incidents SET alerts = alerts + 1,
    severity = CASE WHEN {_RANK.format("?")} > {_RANK.format("severity")} THEN ? ELSE severity END,
    last_value = CASE WHEN ? >= last_alert_at THEN ? ELSE last_value END,
    first_alert_at = min(first_alert_at, ?), last_alert_at = max(last_alert_at, ?),
    updated_at = ?
    WHERE entity = ? AND cause = ? AND state != 'resolved' RETURNING id"""  # noqa: S608
_OPEN = """INSERT INTO incidents (entity, cause, department, state, severity, alerts,
    first_alert_at, last_alert_at, last_value, opened_at, updated_at)
    VALUES (?, ?, ?, 'open', ?, 1, ?, ?, ?, ?, ?) RETURNING id"""
_DEPARTMENT = """SELECT coalesce(
    (SELECT object FROM relationships WHERE subject = :e AND name = 'responsibleDepartment'),
    (SELECT d.id FROM entities AS d, json_each(d.attributes, '$.responsibleFor') AS r
     WHERE d.type = 'Department' AND r.value = (SELECT type FROM entities WHERE id = :e)
     ORDER BY d.id LIMIT 1))"""
_EVENT = "INSERT INTO incident_events (incident, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)"


def record(conn: sqlite3.Connection, alerts: Sequence[Sequence[Any]]) -> None:
    """Open or join incidents for alert rows (as rows.WritePlan.alerts holds them)."""
    for gateway, _seq, entity, _s, _k, metric, ts, value, *_, severity, reason, received in alerts:
        cause = rules.cause(metric)
        detail = f"{severity} {metric}={value} at {ts} from {gateway}" + (
            f": {reason}" if reason else ""
        )
        joined = conn.execute(
            _JOIN, (severity, severity, ts, value, ts, ts, received, entity, cause)
        ).fetchone()
        if joined is not None:
            conn.execute(_EVENT, (joined[0], received, gateway, Action.ALERT, detail))
            continue
        (department,) = conn.execute(_DEPARTMENT, {"e": entity}).fetchone()
        (new,) = conn.execute(
            _OPEN, (entity, cause, department, severity, ts, ts, value, received, received)
        ).fetchone()
        conn.execute(_EVENT, (new, received, gateway, Action.OPENED, detail))


def act(
    conn: sqlite3.Connection,
    incident: int,
    actor: str,
    action: Action,
    at: float,
    *,
    detail: str = "",
    assignee: str | None = None,
) -> Incident:
    """Apply an operator's action, with its audit event; the incident as it is after."""
    found = conn.execute("SELECT state FROM incidents WHERE id = ?", (incident,)).fetchone()
    if found is None:
        raise NoSuchIncident(f"no incident {incident}")
    state = rules.after(State(found[0]), action)
    conn.execute(
        "UPDATE incidents SET state = ?, assignee = coalesce(?, assignee), updated_at = ? "
        "WHERE id = ?",
        (state, assignee, at, incident),
    )
    conn.execute(_EVENT, (incident, at, actor, action, detail))
    done = one(conn, incident)
    assert done is not None
    return done


def page(
    conn: sqlite3.Connection,
    *,
    state: str | None,
    department: str | None,
    entity: str | None,
    limit: int,
    offset: int,
) -> Page[Incident]:
    """Incidents matching every filter given, the most recently changed first."""
    wanted = {"state": state, "department": department, "entity": entity}
    clauses = [f"{column} = ?" for column, value in wanted.items() if value is not None]
    params = [value for value in wanted.values() if value is not None]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    # Only fixed column names reach the SQL text; values are bound.
    (total,) = conn.execute(f"SELECT count(*) FROM incidents {where}", params).fetchone()  # noqa: S608
    found = conn.execute(
        f"SELECT {_COLUMNS} FROM incidents {where} ORDER BY updated_at DESC, id DESC "  # noqa: S608
        "LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return Page(tuple(_incident(row) for row in found), total)


def one(conn: sqlite3.Connection, incident: int) -> Incident | None:
    """One incident with its audit trail, or None."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident,)).fetchone()  # noqa: S608
    if row is None:
        return None
    events = tuple(
        Event(at, actor, Action(action), detail)
        for at, actor, action, detail in conn.execute(
            "SELECT at, actor, action, detail FROM incident_events WHERE incident = ? ORDER BY id",
            (incident,),
        )
    )
    return _incident(row, events)


def _incident(row: Any, events: tuple[Event, ...] = ()) -> Incident:
    id_, entity, cause, department, state, severity, assignee, alerts, *times = row
    first, last, last_value, opened, updated = times
    return Incident(
        id_, entity, cause, department, State(state), severity, assignee, alerts, first, last,
        last_value, opened, updated, events,
    )  # fmt: skip
