"""Cloud rules in SQLite: what the rules read, and their findings applied to incidents.

``apply`` runs on the writer thread, so one evaluation is one transaction and never races
another; ``silence`` on a reader. Routing is that of edge alerts (cloud/store/incidents.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from cloud import rules
from cloud.incidents import Action, State
from cloud.rules import Finding, Heard, Ruled
from cloud.store.incidents import _DEPARTMENT, one

# Sensors silent since ``before``, and those with an active sensor:silent incident (their
# data may have resumed): each with its newest observation of any metric.
_SILENCE = """SELECT l.entity, max(l.observed_at), e.gateway FROM latest AS l
    JOIN entities AS e ON e.id = l.entity AND e.sensor IS NOT NULL
    GROUP BY l.entity, e.gateway HAVING max(l.observed_at) < :before
    UNION
    SELECT l.entity, max(l.observed_at), e.gateway FROM latest AS l
    JOIN entities AS e ON e.id = l.entity
    WHERE l.entity IN (SELECT entity FROM incidents WHERE cause = :cause AND state != 'resolved')
    GROUP BY l.entity, e.gateway"""
_ACTIVE = """SELECT id, state FROM incidents
    WHERE entity = ? AND cause = ? AND state != 'resolved'"""
_LAST = """SELECT action FROM incident_events WHERE incident = ? AND actor = ?
    ORDER BY id DESC LIMIT 1"""
_OPEN = """INSERT INTO incidents (entity, cause, department, state, severity, alerts,
    first_alert_at, last_alert_at, last_value, opened_at, updated_at)
    VALUES (?, ?, ?, 'open', ?, 1, ?, ?, ?, ?, ?) RETURNING id"""
_AGAIN = """UPDATE incidents SET alerts = alerts + 1, severity = ?, last_alert_at = ?,
    last_value = ?, updated_at = ? WHERE id = ?"""
_CLEAR = "UPDATE incidents SET state = ?, updated_at = ? WHERE id = ?"
_EVENT = "INSERT INTO incident_events (incident, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)"


def silence(conn: sqlite3.Connection, before: float) -> dict[str, Heard]:
    """Sensors silent since ``before`` or marked silent: when last heard of, through what."""
    found = conn.execute(_SILENCE, {"before": before, "cause": rules.SENSOR_SILENT})
    return {entity: Heard(newest, gateway) for entity, newest, gateway in found}


def apply(conn: sqlite3.Connection, findings: Sequence[Finding], at: float) -> list[Ruled]:
    """Open, note or resolve the incidents of ``findings``; the incidents changed."""
    changed = []
    for finding in findings:
        active = conn.execute(_ACTIVE, (finding.entity, finding.cause)).fetchone()
        state, was_firing = None, None
        if active is not None:
            state = State(active[1])
            last = conn.execute(_LAST, (active[0], rules.ACTOR)).fetchone()
            was_firing = None if last is None else Action(last[0]) in rules.FIRING_ACTIONS
        action = rules.step(state, was_firing, finding.firing)
        if action is None:
            continue
        incident = _open(conn, finding, at) if active is None else active[0]
        if action is Action.ALERT:
            conn.execute(_AGAIN, (finding.severity, at, finding.value, at, incident))
        elif action is Action.RESOLVED:
            conn.execute(_CLEAR, (State.RESOLVED, at, incident))
        elif action is Action.COMMENTED:
            conn.execute(_CLEAR, (state, at, incident))
        conn.execute(_EVENT, (incident, at, rules.ACTOR, action, finding.detail))
        done = one(conn, incident)
        assert done is not None  # written in this transaction
        changed.append(Ruled(done, action))
    return changed


def _open(conn: sqlite3.Connection, finding: Finding, at: float) -> int:
    department = finding.department
    if department is None:
        (department,) = conn.execute(_DEPARTMENT, {"e": finding.entity}).fetchone()
    (new,) = conn.execute(
        _OPEN,
        (finding.entity, finding.cause, department, finding.severity, at, at, finding.value,
         at, at),
    ).fetchone()  # fmt: skip
    return int(new)
