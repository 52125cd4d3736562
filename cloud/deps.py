"""Dependencies of the routes, as Annotated aliases: the settings, the store, the caller.

A route states who may call it by taking one of these (FastAPI then documents it in the
OpenAPI document: the scheme, ApiKey or GatewayToken, and the roles it accepts):

    ViewerDep    any API key: viewer, operator or admin (gateway tokens are refused)
    OperatorDep  an operator or admin key; the route checks the operator's departments with
                 ``auth.require_department``
    AdminDep     an admin key
    GatewayDep   a gateway token; the route checks the batch is the gateway's own with
                 ``auth.authorize``

Each resolves to the caller's ``auth.Principal``: 401 without a known credential (unless auth
is off), 403 for the wrong role. A route without any of them is public.

They are ``async def`` though most never await: FastAPI runs plain ``def`` dependencies in a
thread pool, three thread hops per request for a few attribute lookups.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud import auth
from cloud.auth import Principal
from cloud.authenticator import Authenticator
from cloud.settings import CloudSettings
from cloud.store import Store

# Both read the same Authorization header; two schemes so the document tells them apart.
_api_key = HTTPBearer(
    scheme_name="ApiKey",
    auto_error=False,
    description="An API key (`citytwin cloud keys create`, or POST /api/v1/keys) bound to a "
    "role: viewer, operator (of departments) or admin. Each operation lists the roles it takes.",
)
_gateway_token = HTTPBearer(
    scheme_name="GatewayToken",
    auto_error=False,
    description="A gateway's token, from enrollment (POST /api/v1/enroll) or configured with "
    "--gateway-token. It can only ingest, and only the gateway's own batches.",
)
Bearer = HTTPAuthorizationCredentials | None


async def _settings(request: Request) -> CloudSettings:
    return cast(CloudSettings, request.app.state.settings)


async def _store(request: Request) -> Store:
    # Lifespan state: the store exists only between start-up and shutdown.
    return cast(Store, request.state.store)


async def _authenticator(request: Request) -> Authenticator:
    return cast(Authenticator, request.app.state.authenticator)


SettingsDep = Annotated[CloudSettings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]


async def _key_holder(
    authenticator: AuthenticatorDep, store: StoreDep, bearer: Annotated[Bearer, Depends(_api_key)]
) -> Principal:
    return await authenticator.authenticate(bearer.credentials if bearer else None, store)


async def _gateway_holder(
    authenticator: AuthenticatorDep,
    store: StoreDep,
    bearer: Annotated[Bearer, Depends(_gateway_token)],
) -> Principal:
    return await authenticator.authenticate(bearer.credentials if bearer else None, store)


async def _viewer(principal: Annotated[Principal, Depends(_key_holder)]) -> Principal:
    return auth.require_reader(principal)


async def _operator(principal: Annotated[Principal, Depends(_key_holder)]) -> Principal:
    return auth.require_operator(principal)


async def _admin(principal: Annotated[Principal, Depends(_key_holder)]) -> Principal:
    return auth.require_admin(principal)


async def _gateway(principal: Annotated[Principal, Depends(_gateway_holder)]) -> Principal:
    return auth.require_gateway(principal)


ViewerDep = Annotated[Principal, Security(_viewer, scopes=["viewer", "operator", "admin"])]
OperatorDep = Annotated[Principal, Security(_operator, scopes=["operator", "admin"])]
AdminDep = Annotated[Principal, Security(_admin, scopes=["admin"])]
GatewayDep = Annotated[Principal, Security(_gateway, scopes=["gateway"])]
