"""GET /healthz: 200 while the store can serve reads, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter

from citytwin import __version__
from cloud.deps import StoreDep
from cloud.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "The store cannot serve"}})
async def healthz(store: StoreDep) -> Health:
    """Liveness and readiness in one: the process answers and its store reads."""
    await store.check()
    return Health(version=__version__)
