"""/api/v1/incidents: alerts grouped per entity and cause, and what operators do about them."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud import auth, live
from cloud.auth import Principal
from cloud.deps import OperatorDep, StoreDep, ViewerDep
from cloud.incidents import Action, Incident, NoSuchIncident, State
from cloud.live import Hub, HubDep
from cloud.models import (
    NOT_JSON,
    OPERATOR_ERRORS,
    READER_ERRORS,
    ActionCreate,
    AssignCreate,
    CommentCreate,
    IncidentId,
    IncidentPage,
    IncidentPublic,
    Limit,
    Offset,
    errors,
)
from cloud.store import Change, IncidentQuery, Store

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_CHANGE_ERRORS = errors(
    {
        **NOT_JSON,
        **OPERATOR_ERRORS,
        403: "Not an operator or admin key, or an operator of another department",
        404: "No such incident",
        409: "The incident's state does not allow this action",
    }
)


@router.get("", responses=errors(READER_ERRORS))
async def list_incidents(
    store: StoreDep,
    _: ViewerDep,
    state: Annotated[State | None, Query(description="open, acknowledged or resolved")] = None,
    department: Annotated[str | None, Query(description="the responsible department")] = None,
    entity: Annotated[str | None, Query(description="the entity the alerts are about")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> IncidentPage:
    """Incidents, the most recently changed first."""
    query = IncidentQuery(state, department, entity, limit, offset)
    page = await store.incidents(query)
    return IncidentPage(items=[IncidentPublic.of(i) for i in page.items], total=page.total)


@router.get("/{incident_id}", responses=errors({**READER_ERRORS, 404: "No such incident"}))
async def get_incident(incident_id: IncidentId, store: StoreDep, _: ViewerDep) -> IncidentPublic:
    """One incident with its audit trail."""
    found = await store.incident(incident_id)
    if found is None:
        raise HTTPException(404, detail=f"no incident {incident_id}")
    return IncidentPublic.of(found, events=True)


@router.post("/{incident_id}/acknowledge", responses=_CHANGE_ERRORS)
async def acknowledge(
    incident_id: IncidentId, body: ActionCreate, store: StoreDep, caller: OperatorDep, hub: HubDep
) -> IncidentPublic:
    """Someone is on it: open -> acknowledged."""
    change = Change(auth.actor(caller, body.by), Action.ACKNOWLEDGED, time.time(), body.note)
    return IncidentPublic.of(await _act(store, hub, caller, incident_id, change), events=True)


@router.post("/{incident_id}/resolve", responses=_CHANGE_ERRORS)
async def resolve(
    incident_id: IncidentId, body: ActionCreate, store: StoreDep, caller: OperatorDep, hub: HubDep
) -> IncidentPublic:
    """Dealt with: open or acknowledged -> resolved. A later alert opens a new incident."""
    change = Change(auth.actor(caller, body.by), Action.RESOLVED, time.time(), body.note)
    return IncidentPublic.of(await _act(store, hub, caller, incident_id, change), events=True)


@router.post("/{incident_id}/assign", responses=_CHANGE_ERRORS)
async def assign(
    incident_id: IncidentId, body: AssignCreate, store: StoreDep, caller: OperatorDep, hub: HubDep
) -> IncidentPublic:
    """Give the incident to someone (not once it is resolved)."""
    actor = auth.actor(caller, body.by)
    change = Change(actor, Action.ASSIGNED, time.time(), body.assignee, body.assignee)
    return IncidentPublic.of(await _act(store, hub, caller, incident_id, change), events=True)


@router.post("/{incident_id}/comments", responses=_CHANGE_ERRORS)
async def comment(
    incident_id: IncidentId, body: CommentCreate, store: StoreDep, caller: OperatorDep, hub: HubDep
) -> IncidentPublic:
    """Add a comment to the audit trail."""
    change = Change(auth.actor(caller, body.by), Action.COMMENTED, time.time(), body.text)
    return IncidentPublic.of(await _act(store, hub, caller, incident_id, change), events=True)


async def _act(
    store: Store, hub: Hub, caller: Principal, incident_id: int, change: Change
) -> Incident:
    """Apply ``change`` if the caller may act for the incident's department; tell the stream."""
    found = await store.incident(incident_id)
    if found is None:
        raise NoSuchIncident(f"no incident {incident_id}")
    # An incident keeps the department it was routed to, so the check cannot go stale.
    auth.require_department(caller, found.department)
    done = await store.act(incident_id, change)
    await live.after_action(hub, store, done, change.action)
    return done
