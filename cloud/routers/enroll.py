"""POST /api/v1/enroll: a gateway exchanges its one-time code for its token (public)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from cloud import provisioning
from cloud.access_models import EnrollCreate, EnrollResult
from cloud.deps import StoreDep
from cloud.models import NOT_JSON, errors

router = APIRouter(tags=["gateways"])


@router.post(
    "/api/v1/enroll",
    responses=errors({**NOT_JSON, 403: "The code is wrong, already used, or expired"}),
)
async def enroll(body: EnrollCreate, store: StoreDep) -> EnrollResult:
    """The gateway's bearer token for ingest, once per code; it replaces any earlier token."""
    token = await provisioning.enroll(store, body.gateway, body.code, time.time())
    return EnrollResult(gateway=body.gateway, token=token)
