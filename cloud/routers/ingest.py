"""POST /api/v1/ingest: a gateway's batch, stored once per (gateway, seq)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from cloud import auth
from cloud.decode import decode_batch
from cloud.deps import CallerDep, SettingsDep, StoreDep
from cloud.errors import BatchTooLarge
from shared.wire.uplink import INGEST_PATH, IngestResult

router = APIRouter(tags=["ingest"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not gzip or not JSON"},
    401: {"description": "No token, or an unknown one"},
    403: {"description": "The token belongs to another gateway"},
    413: {"description": "Body over the size limit, compressed or not"},
    422: {"description": "JSON that breaks the batch schema"},
    503: {"description": "The store is busy or failing: send the batch again later"},
}


@router.post(INGEST_PATH, responses=_ERRORS)
async def ingest(
    request: Request, settings: SettingsDep, store: StoreDep, caller: CallerDep
) -> IngestResult:
    """Store a batch (JSON, gzip if Content-Encoding says so); re-sent records change nothing."""
    body = await _read_body(request, settings.max_body_bytes)
    batch = decode_batch(body, request.headers.get("content-encoding"), settings.max_body_bytes)
    auth.authorize(caller, batch.gateway)
    outcome = await store.ingest(batch, received_at=time.time())
    return IngestResult(
        accepted=outcome.accepted, duplicates=outcome.duplicates, desired=outcome.desired
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BatchTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BatchTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
