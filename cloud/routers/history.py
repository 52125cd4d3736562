"""GET /api/v1/entities/{id}/history: one metric over time, merged exactly, gaps as gaps."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud.deps import StoreDep, ViewerDep
from cloud.history import MAX_POINTS, HistoryQuery
from cloud.models import READER_ERRORS, HistoryPublic, errors

router = APIRouter(prefix="/api/v1/entities", tags=["history"])

_DAY = 86_400.0


@router.get(
    "/{entity_id}/history",
    responses=errors(
        {**READER_ERRORS, 404: "No such entity", 422: "A range or step out of bounds"}
    ),
)
async def get_history(
    entity_id: str,
    store: StoreDep,
    _: ViewerDep,
    metric: Annotated[str, Query(min_length=1, max_length=64, description="e.g. pm25")],
    start: Annotated[float | None, Query(ge=0, description="epoch s; default end - 1 day")] = None,
    end: Annotated[float | None, Query(ge=0, description="epoch s, excluded; default now")] = None,
    step: Annotated[float, Query(ge=1, le=366 * _DAY, description="seconds per point")] = 300,
) -> HistoryPublic:
    """Count, mean, min, max and variance of ``metric`` per step; steps without data are gaps."""
    until = end if end is not None else time.time()
    since = start if start is not None else until - _DAY
    if since >= until:
        raise HTTPException(422, detail=f"start ({since}) must be before end ({until})")
    query = HistoryQuery(entity_id, metric, since, until, step)
    if query.points > MAX_POINTS:
        raise HTTPException(
            422, detail=f"{query.points} points asked; at most {MAX_POINTS} (raise step)"
        )
    found = await store.history(query)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no entity {entity_id!r}")
    return HistoryPublic.of(found)
