"""/api/v1/keys: API keys of operators and services, managed by admins."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException

from cloud import provisioning
from cloud.access_models import KeyCreate, KeyCreated, KeyPage, KeyPublic
from cloud.deps import AdminDep, AuthenticatorDep, StoreDep
from cloud.models import ADMIN_ERRORS, NOT_JSON, Limit, Offset, errors

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, responses=errors({**NOT_JSON, **ADMIN_ERRORS}))
async def create_key(body: KeyCreate, store: StoreDep, _: AdminDep) -> KeyCreated:
    """A new key; its secret (``key``) is in this response only."""
    key, token = await provisioning.create_key(store, body, time.time())
    return KeyCreated(**KeyPublic.of(key).model_dump(), key=token)


@router.get("", responses=errors(ADMIN_ERRORS))
async def list_keys(
    store: StoreDep,
    _: AdminDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> KeyPage:
    """Keys, the newest first, revoked ones too; never their secrets."""
    page = await store.keys(limit, offset)
    return KeyPage(items=[KeyPublic.of(k) for k in page.items], total=page.total)


@router.post("/{key_id}/revoke", responses=errors({**ADMIN_ERRORS, 404: "No such key"}))
async def revoke_key(
    key_id: str, store: StoreDep, authenticator: AuthenticatorDep, _: AdminDep
) -> KeyPublic:
    """Revoke a key at once (other processes stop accepting it within seconds)."""
    revoked = await store.revoke_key(key_id, time.time())
    if revoked is None:
        raise HTTPException(404, detail=f"no key {key_id!r}")
    authenticator.forget()
    return KeyPublic.of(revoked)
