"""/api/v1/incidents: alerts grouped per entity and cause, and what operators do about them."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from cloud.deps import StoreDep
from cloud.incidents import Action, State
from cloud.models import ActionCreate, AssignCreate, CommentCreate, IncidentPage, IncidentPublic
from cloud.store import Change, IncidentQuery

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such incident"},
    409: {"description": "The incident's state does not allow this action"},
}


@router.get("")
async def list_incidents(
    store: StoreDep,
    state: Annotated[State | None, Query(description="open, acknowledged or resolved")] = None,
    department: Annotated[str | None, Query(description="the responsible department")] = None,
    entity: Annotated[str | None, Query(description="the entity the alerts are about")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """Incidents, the most recently changed first."""
    query = IncidentQuery(state, department, entity, limit, offset)
    page = await store.incidents(query)
    return IncidentPage(items=[IncidentPublic.of(i) for i in page.items], total=page.total)


@router.get("/{incident_id}", responses={404: {"description": "No such incident"}})
async def get_incident(incident_id: int, store: StoreDep) -> IncidentPublic:
    """One incident with its audit trail."""
    found = await store.incident(incident_id)
    if found is None:
        raise HTTPException(404, detail=f"no incident {incident_id}")
    return IncidentPublic.of(found, events=True)


@router.post("/{incident_id}/acknowledge", responses=_CHANGE_ERRORS)
async def acknowledge(incident_id: int, body: ActionCreate, store: StoreDep) -> IncidentPublic:
    """Someone is on it: open -> acknowledged."""
    change = Change(body.by, Action.ACKNOWLEDGED, time.time(), body.note)
    return IncidentPublic.of(await store.act(incident_id, change), events=True)


@router.post("/{incident_id}/resolve", responses=_CHANGE_ERRORS)
async def resolve(incident_id: int, body: ActionCreate, store: StoreDep) -> IncidentPublic:
    """Dealt with: open or acknowledged -> resolved. A later alert opens a new incident."""
    change = Change(body.by, Action.RESOLVED, time.time(), body.note)
    return IncidentPublic.of(await store.act(incident_id, change), events=True)


@router.post("/{incident_id}/assign", responses=_CHANGE_ERRORS)
async def assign(incident_id: int, body: AssignCreate, store: StoreDep) -> IncidentPublic:
    """Give the incident to someone (not once it is resolved)."""
    change = Change(body.by, Action.ASSIGNED, time.time(), body.assignee, body.assignee)
    return IncidentPublic.of(await store.act(incident_id, change), events=True)


@router.post("/{incident_id}/comments", responses=_CHANGE_ERRORS)
async def comment(incident_id: int, body: CommentCreate, store: StoreDep) -> IncidentPublic:
    """Add a comment to the audit trail."""
    change = Change(body.by, Action.COMMENTED, time.time(), body.text)
    return IncidentPublic.of(await store.act(incident_id, change), events=True)
