"""Dependencies of the routes, as Annotated aliases: the settings, the store, the caller.

They are ``async def`` though they never await: FastAPI runs plain ``def`` dependencies in a
thread pool, three thread hops per request for a few attribute lookups.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud import auth
from cloud.settings import CloudSettings
from cloud.store import Store

_bearer = HTTPBearer(auto_error=False, description="The gateway's token")


async def _settings(request: Request) -> CloudSettings:
    return cast(CloudSettings, request.app.state.settings)


async def _store(request: Request) -> Store:
    # Lifespan state: the store exists only between start-up and shutdown.
    return cast(Store, request.state.store)


SettingsDep = Annotated[CloudSettings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]


async def _caller(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    if settings.dev_mode:
        return None
    return auth.gateway_of(
        credentials.credentials if credentials else None, settings.gateway_tokens
    )


# The gateway the caller's token belongs to; None in dev mode, where anyone may send.
CallerDep = Annotated[str | None, Depends(_caller)]
