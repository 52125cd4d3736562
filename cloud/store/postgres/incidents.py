"""Incidents on PostgreSQL: opened or joined by edge alerts at ingest, changed by operators.

Routing and grouping are those of cloud/store/incidents.py. Two processes may see alerts of
one entity and cause at once: opening is ``ON CONFLICT DO NOTHING`` on the one-active-incident
index, and the loser joins the incident the winner opened. An operator's change locks the
incident row (``FOR UPDATE``) before checking the transition, so two operators acting at once
are applied one after the other, each checked against the state the other left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud import incidents as rules
from cloud.incidents import Action, Event, Incident, NoSuchIncident, State
from cloud.store.base import Page
from cloud.store.postgres.db import Conn, fetch_all, fetch_one

_COLUMNS = (
    "id, entity, cause, department, state, severity, assignee, alerts, first_alert_at, "
    "last_alert_at, last_value, opened_at, updated_at"
)
_RANK = "CASE {} WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END"
_JOIN = f"""UPDATE incidents AS i SET alerts = i.alerts + 1,
    severity = CASE WHEN {_RANK.format("%(severity)s")} > {_RANK.format("i.severity")}
        THEN %(severity)s ELSE i.severity END,
    last_value = CASE WHEN %(ts)s >= i.last_alert_at THEN %(value)s ELSE i.last_value END,
    first_alert_at = least(i.first_alert_at, %(ts)s),
    last_alert_at = greatest(i.last_alert_at, %(ts)s),
    updated_at = %(at)s
    WHERE entity = %(entity)s AND cause = %(cause)s AND state <> 'resolved' RETURNING id"""  # noqa: S608
_OPEN = """INSERT INTO incidents (entity, cause, department, state, severity, alerts,
    first_alert_at, last_alert_at, last_value, opened_at, updated_at)
    VALUES (%s, %s, %s, 'open', %s, 1, %s, %s, %s, %s, %s)
    ON CONFLICT (entity, cause) WHERE state <> 'resolved' DO NOTHING RETURNING id"""
# The types a department (d) is responsible for; a single string counts as a list of one, as
# SQLite's json_each has it.
RESPONSIBLE_FOR = """json_array_elements_text(CASE json_typeof(d.attributes -> 'responsibleFor')
    WHEN 'array' THEN d.attributes -> 'responsibleFor'
    ELSE json_build_array(d.attributes -> 'responsibleFor') END)"""
_DEPARTMENT = f"""SELECT coalesce(
    (SELECT object FROM relationships WHERE subject = %(e)s AND name = 'responsibleDepartment'
     ORDER BY object LIMIT 1),
    (SELECT d.id FROM entities AS d, {RESPONSIBLE_FOR} AS r (value)
     WHERE d.type = 'Department' AND r.value = (SELECT type FROM entities WHERE id = %(e)s)
     ORDER BY d.id LIMIT 1))"""  # noqa: S608
_EVENT = """INSERT INTO incident_events (incident, at, actor, action, detail)
    VALUES (%s, %s, %s, %s, %s)"""


async def record(conn: Conn, alerts: Sequence[Sequence[Any]]) -> None:
    """Open or join incidents for alert rows (as rows.WritePlan.alerts holds them)."""
    for gateway, _seq, entity, _s, _k, metric, ts, value, *_, severity, reason, received in alerts:
        cause = rules.cause(metric)
        detail = f"{severity} {metric}={value} at {ts} from {gateway}" + (
            f": {reason}" if reason else ""
        )
        join = {
            "severity": severity, "ts": float(ts), "value": float(value), "at": float(received),
            "entity": entity, "cause": cause,
        }  # fmt: skip
        joined = await fetch_one(conn, _JOIN, join)
        if joined is not None:
            await conn.execute(_EVENT, (joined[0], received, gateway, str(Action.ALERT), detail))
            continue
        department = await fetch_one(conn, _DEPARTMENT, {"e": entity})
        opened = await fetch_one(
            conn,
            _OPEN,
            (entity, cause, department[0] if department else None, severity, ts, ts, value,
             received, received),
        )  # fmt: skip
        if opened is not None:
            await conn.execute(_EVENT, (opened[0], received, gateway, str(Action.OPENED), detail))
            continue
        # Another process opened it since our join found nothing: join it now.
        joined = await fetch_one(conn, _JOIN, join)
        assert joined is not None  # the conflicting incident is active and committed
        await conn.execute(_EVENT, (joined[0], received, gateway, str(Action.ALERT), detail))


async def act(
    conn: Conn,
    incident: int,
    actor: str,
    action: Action,
    at: float,
    *,
    detail: str = "",
    assignee: str | None = None,
) -> Incident:
    """Apply an operator's action, with its audit event; the incident as it is after."""
    # The row lock makes a concurrent change wait, then check against the state this one left.
    found = await fetch_one(
        conn, "SELECT state FROM incidents WHERE id = %s FOR UPDATE", (incident,)
    )
    if found is None:
        raise NoSuchIncident(f"no incident {incident}")
    state = rules.after(State(found[0]), action)
    await conn.execute(
        "UPDATE incidents SET state = %s, assignee = coalesce(%s, assignee), updated_at = %s "
        "WHERE id = %s",
        (str(state), assignee, at, incident),
    )
    await conn.execute(_EVENT, (incident, at, actor, str(action), detail))
    done = await one(conn, incident)
    assert done is not None
    return done


async def page(
    conn: Conn,
    *,
    state: str | None,
    department: str | None,
    entity: str | None,
    limit: int,
    offset: int,
) -> Page[Incident]:
    """Incidents matching every filter given, the most recently changed first."""
    wanted = {"state": state, "department": department, "entity": entity}
    clauses = [f"{column} = %s" for column, value in wanted.items() if value is not None]
    params = [value for value in wanted.values() if value is not None]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    # Only fixed column names reach the SQL text; values are bound.
    total = await fetch_one(conn, f"SELECT count(*) FROM incidents {where}", params)  # noqa: S608
    found = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM incidents {where} ORDER BY updated_at DESC, id DESC "  # noqa: S608
        "LIMIT %s OFFSET %s",
        (*params, limit, offset),
    )
    return Page(tuple(_incident(row) for row in found), total[0] if total else 0)


async def one(conn: Conn, incident: int) -> Incident | None:
    """One incident with its audit trail, or None."""
    row = await fetch_one(conn, f"SELECT {_COLUMNS} FROM incidents WHERE id = %s", (incident,))  # noqa: S608
    if row is None:
        return None
    trail = await fetch_all(
        conn,
        "SELECT at, actor, action, detail FROM incident_events WHERE incident = %s ORDER BY id",
        (incident,),
    )
    events = tuple(Event(at, actor, Action(action), detail) for at, actor, action, detail in trail)
    return _incident(row, events)


def _incident(row: Any, events: tuple[Event, ...] = ()) -> Incident:
    id_, entity, cause, department, state, severity, assignee, alerts, *times = row
    first, last, last_value, opened, updated = times
    return Incident(
        id_, entity, cause, department, State(state), severity, assignee, alerts, first, last,
        last_value, opened, updated, events,
    )  # fmt: skip
