"""The app factory: routers, error mapping, and a lifespan that owns the store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from citytwin import __version__
from cloud import city, live, rules_watch
from cloud.authenticator import Authenticator
from cloud.errors import (
    AuthError,
    BatchTooLarge,
    CloudError,
    Forbidden,
    InvalidBatch,
    StoreError,
    UnreadableBatch,
)
from cloud.incidents import InvalidTransition, NoSuchIncident
from cloud.routers import dashboard as dashboard_router
from cloud.routers import enroll, entities, gateways, health, history, incidents, ingest, keys
from cloud.routers import kpis as kpis_router
from cloud.routers import ngsi as ngsi_router
from cloud.routers import open_data as open_data_router
from cloud.routers import stream as stream_router
from cloud.settings import CloudSettings
from cloud.store import Store, store_for

log = logging.getLogger(__name__)

StoreFactory = Callable[[CloudSettings], Store]

# Looked up along the exception's MRO, so the most specific class wins.
_STATUS: dict[type[CloudError], int] = {
    UnreadableBatch: 400,
    InvalidBatch: 422,
    BatchTooLarge: 413,
    AuthError: 401,
    Forbidden: 403,
    StoreError: 503,
    NoSuchIncident: 404,
    InvalidTransition: 409,
}
_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": "Bearer"},
    503: {"Retry-After": "1"},
}


class State(TypedDict):
    """What the lifespan hands to requests (``request.state``)."""

    store: Store
    live: live.Hub


def create_app(settings: CloudSettings, *, store_factory: StoreFactory | None = None) -> FastAPI:
    """The aggregator's ASGI app; nothing is opened until the lifespan starts."""
    make_store = store_factory or _default_store
    authenticator = Authenticator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        async with (
            make_store(settings) as store,
            live.running(store, settings) as hub,
            rules_watch.running(store, settings, partial(live.after_action, hub, store)),
        ):
            await authenticator.start(store)
            if settings.city is not None:
                await seed_city(store, settings.city)
            log.info("cloud aggregator ready (database %s)", settings.database)
            yield {"store": store, "live": hub}
        log.info("cloud aggregator stopped")

    app = FastAPI(title="citytwin cloud aggregator", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.authenticator = authenticator
    for module in (ingest, entities, history, incidents, gateways, health):
        app.include_router(module.router)
    for access in (enroll, keys):
        app.include_router(access.router)
    app.include_router(dashboard_router.router)  # the page at / and its files
    for read in (kpis_router, stream_router):
        app.include_router(read.router)
    app.include_router(ngsi_router.router)  # the twin read as NGSI-LD: /ngsi-ld/v1
    open_data_router.install(app, settings)  # public, rate-limited: /open/v1
    app.add_exception_handler(CloudError, _cloud_error)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's own hook
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    # FastAPI.openapi builds the document once and keeps it in app.openapi_schema, which the
    # batch's schemas then extend in place.
    if app.openapi_schema is None:
        return ingest.add_batch_schemas(FastAPI.openapi(app))
    return app.openapi_schema


async def seed_city(store: Store, path: Path) -> int:
    """Load the city file at ``path`` into the twin; CityFileError if it cannot be read."""
    entities = await asyncio.to_thread(city.load, path)
    count = await store.seed(entities, time.time())
    log.info("seeded %d entities from %s", count, path)
    return count


def _default_store(settings: CloudSettings) -> Store:
    return store_for(settings.database)


async def _cloud_error(request: Request, exc: Exception) -> JSONResponse:
    status = next((_STATUS[c] for c in type(exc).__mro__ if c in _STATUS), 500)
    client = request.client.host if request.client else "?"
    if status >= 500:
        log.error("%s %s from %s failed: %s", request.method, request.url.path, client, exc)
    else:
        log.warning(
            "%s %s from %s refused (%d): %s", request.method, request.url.path, client, status, exc
        )
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=_HEADERS.get(status))
