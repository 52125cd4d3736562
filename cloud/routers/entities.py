"""GET /api/v1/entities: the twin's entities, filtered, with relationships and live status."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud.city import Category
from cloud.deps import StoreDep, ViewerDep
from cloud.geo import Box
from cloud.models import (
    READER_ERRORS,
    EntityDetail,
    EntityPage,
    EntityPublic,
    Limit,
    Offset,
    errors,
)
from cloud.store import EntityQuery, Near

router = APIRouter(prefix="/api/v1/entities", tags=["entities"])

MAX_DISTANCE_M = 50_000.0
_INCOMING_SHOWN = 1000


@router.get("", responses=errors({**READER_ERRORS, 422: "A filter that cannot be read"}))
async def list_entities(
    store: StoreDep,
    _: ViewerDep,
    kind: Annotated[str | None, Query(description="sensor kind, e.g. air_quality")] = None,
    type_: Annotated[str | None, Query(alias="type", description="e.g. AirQualityObserved")] = None,
    category: Annotated[Category | None, Query(description="digital-twin-city category")] = None,
    gateway: Annotated[str | None, Query(description="the gateway that reports it")] = None,
    district: Annotated[
        str | None, Query(description="district URN, or its local id such as district-03")
    ] = None,
    bbox: Annotated[
        str | None,
        Query(description="minLon,minLat,maxLon,maxLat: entities whose bounds intersect it"),
    ] = None,
    near: Annotated[
        str | None, Query(description="lon,lat: entities within max_distance, nearest first")
    ] = None,
    max_distance: Annotated[
        float | None, Query(gt=0, le=MAX_DISTANCE_M, description="metres, with near")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EntityPage:
    """Entities ordered by id (by distance with ``near``), every filter given applied."""
    query = EntityQuery(
        kind=kind,
        type=type_,
        category=category,
        gateway=gateway,
        district=district,
        bbox=_bbox(bbox) if bbox is not None else None,
        near=_near(near, max_distance),
        limit=limit,
        offset=offset,
    )
    page = await store.entities(query)
    return EntityPage(items=[EntityPublic.of(e) for e in page.items], total=page.total)


@router.get("/{entity_id}", responses=errors({**READER_ERRORS, 404: "No such entity"}))
async def get_entity(entity_id: str, store: StoreDep, _: ViewerDep) -> EntityDetail:
    """One entity with its relationships both ways, e.g. urn:ngsi-ld:District:district-03."""
    found = await store.entity(entity_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no entity {entity_id!r}")
    incoming = await store.incoming(entity_id, _INCOMING_SHOWN)
    return EntityDetail.with_incoming(found, incoming)


def _numbers(name: str, text: str, count: int) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise HTTPException(422, detail=f"{name}: expected {count} comma-separated numbers")
    return values


def _bbox(text: str) -> Box:
    min_lon, min_lat, max_lon, max_lat = _numbers("bbox", text, 4)
    if min_lon > max_lon or min_lat > max_lat:
        raise HTTPException(
            422, detail="bbox: min must not exceed max (minLon,minLat,maxLon,maxLat)"
        )
    return Box(min_lon, min_lat, max_lon, max_lat)


def _near(text: str | None, max_distance: float | None) -> Near | None:
    if text is None:
        if max_distance is not None:
            raise HTTPException(422, detail="max_distance needs near=lon,lat")
        return None
    if max_distance is None:
        raise HTTPException(422, detail="near needs max_distance (metres)")
    lon, lat = _numbers("near", text, 2)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise HTTPException(422, detail="near: lon must be in -180..180 and lat in -90..90")
    return Near(lon, lat, max_distance)
