"""GET /api/v1/gateways: the fleet, with status derived from heartbeat age."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.deps import SettingsDep, StoreDep
from cloud.models import GatewayPage, GatewayPublic

router = APIRouter(prefix="/api/v1/gateways", tags=["gateways"])


@router.get("")
async def list_gateways(
    store: StoreDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> GatewayPage:
    """Gateways ordered by id: ONLINE, STALE or OFFLINE from their newest heartbeat."""
    page = await store.gateways(limit, offset)
    now = time.time()
    items = [
        GatewayPublic.of(g, now, settings.stale_after_s, settings.offline_after_s)
        for g in page.items
    ]
    return GatewayPage(items=items, total=page.total)
