"""/api/v1/gateways: the fleet, with status derived from heartbeat age; registration by admins."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException

from cloud import provisioning
from cloud.access_models import EnrollmentCode, GatewayId, GatewayRegister, GatewayRevoked
from cloud.deps import AdminDep, AuthenticatorDep, SettingsDep, StoreDep, ViewerDep
from cloud.models import (
    ADMIN_ERRORS,
    NOT_JSON,
    READER_ERRORS,
    GatewayPage,
    GatewayPublic,
    Limit,
    Offset,
    errors,
)

router = APIRouter(prefix="/api/v1/gateways", tags=["gateways"])


@router.get("", responses=errors(READER_ERRORS))
async def list_gateways(
    store: StoreDep,
    settings: SettingsDep,
    _: ViewerDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> GatewayPage:
    """Gateways ordered by id: ONLINE, STALE or OFFLINE from their newest heartbeat."""
    page = await store.gateways(limit, offset)
    now = time.time()
    items = [
        GatewayPublic.of(g, now, settings.stale_after_s, settings.offline_after_s)
        for g in page.items
    ]
    return GatewayPage(items=items, total=page.total)


@router.post("", status_code=201, responses=errors({**NOT_JSON, **ADMIN_ERRORS}))
async def register_gateway(
    body: GatewayRegister, store: StoreDep, settings: SettingsDep, _: AdminDep
) -> EnrollmentCode:
    """A one-time enrollment code for the gateway (shown once); an earlier unused one stops
    working. The gateway exchanges it at POST /api/v1/enroll."""
    ttl = body.expires_in_s or settings.enrollment_ttl_s
    enrollment, code = await provisioning.register_gateway(store, body.gateway, ttl, time.time())
    return EnrollmentCode.of(enrollment, code)


@router.post(
    "/{gateway_id}/revoke",
    responses=errors({**ADMIN_ERRORS, 404: "The gateway was never registered"}),
)
async def revoke_gateway(
    gateway_id: GatewayId, store: StoreDep, authenticator: AuthenticatorDep, _: AdminDep
) -> GatewayRevoked:
    """Revoke the gateway's token and void its unused code; it must be registered again."""
    revoked = await store.revoke_gateway(gateway_id, time.time())
    if revoked is None:
        raise HTTPException(404, detail=f"gateway {gateway_id!r} was never registered")
    authenticator.forget()
    return GatewayRevoked(gateway=gateway_id, tokens_revoked=revoked)
