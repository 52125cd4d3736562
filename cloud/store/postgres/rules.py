"""Cloud rules on PostgreSQL: what the rules read, and their findings applied to incidents.

Every process sharing the database runs the rules. An evaluation takes a transaction-level
advisory lock first, so evaluations run one after the other: the second reads the trail the
first left and finds nothing to do, instead of both noting the same change. The
one-active-incident index stays the last guard: an open that conflicts does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloud import rules
from cloud.incidents import Action, State
from cloud.rules import Finding, Heard, Ruled
from cloud.store.postgres.db import Conn, fetch_all, fetch_one
from cloud.store.postgres.incidents import _DEPARTMENT, one

# Any fixed number, the same in every process: "citytwin rules" in ASCII.
_LOCK = 0x6374_7275_6C65
_SILENCE = """SELECT l.entity, max(l.observed_at), e.gateway FROM latest AS l
    JOIN entities AS e ON e.id = l.entity AND e.sensor IS NOT NULL
    GROUP BY l.entity, e.gateway HAVING max(l.observed_at) < %(before)s
    UNION
    SELECT l.entity, max(l.observed_at), e.gateway FROM latest AS l
    JOIN entities AS e ON e.id = l.entity
    WHERE l.entity IN (SELECT entity FROM incidents WHERE cause = %(cause)s AND state <> 'resolved')
    GROUP BY l.entity, e.gateway"""
_ACTIVE = """SELECT id, state FROM incidents
    WHERE entity = %s AND cause = %s AND state <> 'resolved'"""
_LAST = """SELECT action FROM incident_events WHERE incident = %s AND actor = %s
    ORDER BY id DESC LIMIT 1"""
_OPEN = """INSERT INTO incidents (entity, cause, department, state, severity, alerts,
    first_alert_at, last_alert_at, last_value, opened_at, updated_at)
    VALUES (%s, %s, %s, 'open', %s, 1, %s, %s, %s, %s, %s)
    ON CONFLICT (entity, cause) WHERE state <> 'resolved' DO NOTHING RETURNING id"""
_AGAIN = """UPDATE incidents SET alerts = alerts + 1, severity = %s, last_alert_at = %s,
    last_value = %s, updated_at = %s WHERE id = %s"""
_CLEAR = "UPDATE incidents SET state = %s, updated_at = %s WHERE id = %s"
_EVENT = """INSERT INTO incident_events (incident, at, actor, action, detail)
    VALUES (%s, %s, %s, %s, %s)"""


async def silence(conn: Conn, before: float) -> dict[str, Heard]:
    """Sensors silent since ``before`` or marked silent: when last heard of, through what."""
    found = await fetch_all(conn, _SILENCE, {"before": before, "cause": rules.SENSOR_SILENT})
    return {entity: Heard(float(newest), gateway) for entity, newest, gateway in found}


async def apply(conn: Conn, findings: Sequence[Finding], at: float) -> list[Ruled]:
    """Open, note or resolve the incidents of ``findings``; the incidents changed."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
    changed = []
    for finding in findings:
        active = await fetch_one(conn, _ACTIVE, (finding.entity, finding.cause))
        state, was_firing = None, None
        if active is not None:
            state = State(active[1])
            last = await fetch_one(conn, _LAST, (active[0], rules.ACTOR))
            was_firing = None if last is None else Action(last[0]) in rules.FIRING_ACTIONS
        action = rules.step(state, was_firing, finding.firing)
        if action is None:
            continue
        incident = await _open(conn, finding, at) if active is None else active[0]
        if incident is None:  # opened meanwhile, not under the lock: the next evaluation sees it
            continue
        if action is Action.ALERT:
            await conn.execute(_AGAIN, (finding.severity, at, finding.value, at, incident))
        elif action is Action.RESOLVED:
            await conn.execute(_CLEAR, (str(State.RESOLVED), at, incident))
        elif action is Action.COMMENTED:
            await conn.execute(_CLEAR, (str(state), at, incident))
        await conn.execute(_EVENT, (incident, at, rules.ACTOR, str(action), finding.detail))
        done = await one(conn, incident)
        assert done is not None  # written in this transaction
        changed.append(Ruled(done, action))
    return changed


async def _open(conn: Conn, finding: Finding, at: float) -> int | None:
    department = finding.department
    if department is None:
        found = await fetch_one(conn, _DEPARTMENT, {"e": finding.entity})
        department = found[0] if found else None
    opened = await fetch_one(
        conn,
        _OPEN,
        (finding.entity, finding.cause, department, finding.severity, at, at, finding.value,
         at, at),
    )  # fmt: skip
    return int(opened[0]) if opened is not None else None
