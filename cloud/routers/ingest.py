"""POST /api/v1/ingest: a gateway's batch, stored once per (gateway, seq)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from cloud import auth, live
from cloud.decode import decode_batch
from cloud.deps import GatewayDep, SettingsDep, StoreDep
from cloud.errors import BatchTooLarge
from cloud.models import GATEWAY_ERRORS, errors
from shared.wire.uplink import INGEST_PATH, Batch, IngestResult

router = APIRouter(tags=["ingest"])

_ERRORS = errors(
    {
        400: "Not gzip or not JSON",
        **GATEWAY_ERRORS,
        413: "Body over the size limit, compressed or not",
        422: "JSON that breaks the batch schema",
        503: "The store is busy or failing: send the batch again later",
    }
)

_SCHEMAS = "#/components/schemas/{model}"
# The route reads its body itself (it may be gzip), so FastAPI cannot see it: it is described
# here, and add_batch_schemas puts the schemas it names into the document.
_BODY = {
    "requestBody": {
        "required": True,
        "description": "A Batch as JSON; gzip-compressed with Content-Encoding: gzip",
        "content": {"application/json": {"schema": {"$ref": _SCHEMAS.format(model="Batch")}}},
    }
}


@router.post(INGEST_PATH, responses=_ERRORS, openapi_extra=_BODY)
async def ingest(
    request: Request, settings: SettingsDep, store: StoreDep, caller: GatewayDep, hub: live.HubDep
) -> IngestResult:
    """Store a batch (JSON, gzip if Content-Encoding says so); re-sent records change nothing."""
    body = await _read_body(request, settings.max_body_bytes)
    batch = decode_batch(body, request.headers.get("content-encoding"), settings.max_body_bytes)
    auth.authorize(caller, batch.gateway)
    received_at = time.time()
    outcome = await store.ingest(batch, received_at=received_at)
    # After the commit: the stream tells what changed (a read, only while someone listens).
    await live.after_ingest(hub, store, batch, received_at, accepted=outcome.accepted)
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


def add_batch_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (the app's OpenAPI) with the schemas of the batch the route reads."""
    batch = Batch.model_json_schema(ref_template=_SCHEMAS)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    # A record model a response also names (Heartbeat) is already there, the same schema.
    for name, schema in batch.pop("$defs").items():
        record = schemas.setdefault(name, schema)
        # A record's ``type`` has a default, yet the batch's union needs it to tell records apart.
        if "type" in record["properties"] and "type" not in record.get("required", []):
            record.setdefault("required", []).append("type")
    schemas["Batch"] = batch
    return document
