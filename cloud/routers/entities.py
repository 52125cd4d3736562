"""GET /api/v1/entities: the twin's entities with their live status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud.deps import StoreDep
from cloud.models import EntityPage, EntityPublic
from cloud.store import EntityQuery

router = APIRouter(prefix="/api/v1/entities", tags=["entities"])


@router.get("")
async def list_entities(
    store: StoreDep,
    kind: Annotated[str | None, Query(description="sensor kind, e.g. air_quality")] = None,
    type_: Annotated[str | None, Query(alias="type", description="e.g. AirQualityObserved")] = None,
    gateway: Annotated[str | None, Query(description="the gateway that reports it")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EntityPage:
    """Entities ordered by id, filtered by kind, type and gateway."""
    query = EntityQuery(kind=kind, type=type_, gateway=gateway, limit=limit, offset=offset)
    page = await store.entities(query)
    return EntityPage(items=[EntityPublic.of(e) for e in page.items], total=page.total)


@router.get("/{entity_id}", responses={404: {"description": "No such entity"}})
async def get_entity(entity_id: str, store: StoreDep) -> EntityPublic:
    """One entity, e.g. urn:ngsi-ld:AirQualityObserved:aq-0001."""
    found = await store.entity(entity_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no entity {entity_id!r}")
    return EntityPublic.of(found)
