"""``citytwin cloud keys ...`` and ``citytwin cloud gateways ...``: credentials from the shell.

They write to the database directly, so the first admin key needs no running server; a
running server sees new keys at once and revocations within seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from cloud import provisioning
from cloud.access_models import MAX_TTL_S, GatewayRegister, KeyCreate, KeyPublic
from cloud.errors import StoreError
from cloud.settings import CloudSettings
from cloud.store import Store, store_for

T = TypeVar("T")

database_option = click.option(
    "--database",
    metavar="PATH|URL",
    # A string, not a click.Path: a path would fold the // of a postgresql:// URL.
    help="SQLite file of the twin (created if missing), or postgresql://USER@HOST:PORT/DB.  "
    "[default: citytwin-cloud.db]",
)


def _settings(database: str | None) -> CloudSettings:
    given: dict[str, Any] = {"database": database} if database is not None else {}
    return CloudSettings(**given)


def _run(database: str | None, job: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``job`` on the store of the settings' database; store errors become one line."""
    settings = _settings(database)

    async def main() -> T:
        async with store_for(settings.database) as store:
            return await job(store)

    try:
        return asyncio.run(main())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _invalid(exc: ValidationError) -> click.ClickException:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
    )
    return click.ClickException(problems)


@click.group()
def keys() -> None:
    """API keys of operators and services (viewer, operator, admin)."""


@keys.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option(
    "--department",
    "departments",
    multiple=True,
    help="A department an operator acts for: its id (dept-mobility) or URN (repeatable).",
)
@click.option("--name", default="cli", show_default=True, help="Who holds the key.")
@database_option
def create_key(role: str, departments: tuple[str, ...], name: str, database: str | None) -> None:
    """Create a key and print it, this once (only its digest is stored)."""
    try:
        request = KeyCreate(name=name, role=role, departments=departments)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    key, token = _run(database, lambda s: provisioning.create_key(s, request, time.time()))
    click.echo(f"created {key.role} key {key.id} for {key.name!r}; it is shown only now:", err=True)
    click.echo(token)


@keys.command("list")
@database_option
def list_keys(database: str | None) -> None:
    """List keys (never their secrets), the newest first."""
    page = _run(database, lambda s: s.keys(1000, 0))
    for key in page.items:
        public = KeyPublic.of(key)
        state = "revoked" if public.revoked_at is not None else "active"
        departments = ",".join(public.departments) or "-"
        click.echo(f"{public.id}  {public.role:<8}  {state:<7}  {public.name}  {departments}")


@keys.command("revoke")
@click.argument("key_id")
@database_option
def revoke_key(key_id: str, database: str | None) -> None:
    """Revoke the key KEY_ID (as `keys list` shows it)."""
    revoked = _run(database, lambda s: s.revoke_key(key_id, time.time()))
    if revoked is None:
        raise click.ClickException(f"no key {key_id!r}")
    click.echo(f"revoked key {key_id} ({revoked.name})")


@click.group()
def gateways() -> None:
    """Register gateways (one-time enrollment codes) and revoke them."""


@gateways.command("register")
@click.argument("gateway")
@click.option(
    "--expires-in",
    type=click.FloatRange(1, MAX_TTL_S),
    help="Seconds the code stays good.  [default: a day, or CITYTWIN_CLOUD_ENROLLMENT_TTL_S]",
)
@database_option
def register_gateway(gateway: str, expires_in: float | None, database: str | None) -> None:
    """Print a one-time enrollment code for GATEWAY (`citytwin edge enroll` takes it)."""
    try:
        request = GatewayRegister(gateway=gateway, expires_in_s=expires_in)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    ttl = request.expires_in_s or _settings(database).enrollment_ttl_s
    enrollment, code = _run(
        database, lambda s: provisioning.register_gateway(s, request.gateway, ttl, time.time())
    )
    hours = (enrollment.expires_at - enrollment.created_at) / 3600
    click.echo(f"enrollment code for {gateway}, good once within {hours:g} h:", err=True)
    click.echo(code)


@gateways.command("revoke")
@click.argument("gateway")
@database_option
def revoke_gateway(gateway: str, database: str | None) -> None:
    """Revoke GATEWAY's token and void its unused code."""
    revoked = _run(database, lambda s: s.revoke_gateway(gateway, time.time()))
    if revoked is None:
        raise click.ClickException(f"gateway {gateway!r} was never registered")
    click.echo(f"revoked {revoked} token(s) of {gateway}")
