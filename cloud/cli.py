"""``citytwin cloud ...``: a thin shell that builds the settings once and runs the app."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from pathlib import Path
from typing import Any

import click
import uvicorn

from cloud.app import create_app, seed_city
from cloud.city import CityFileError
from cloud.cli_credentials import gateways, keys
from cloud.errors import StoreError
from cloud.settings import AuthMode, CloudSettings
from cloud.store import store_for

_LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group()
def group() -> None:
    """Run the cloud aggregator."""


group.add_command(keys)
group.add_command(gateways)


@group.command()
@click.option("--host", help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=int, help="TCP port to listen on.  [default: 8000]")
@click.option(
    "--database",
    metavar="PATH|URL",
    # A string, not a click.Path: a path would fold the // of a postgresql:// URL.
    help="SQLite file of the twin (created if missing), or postgresql://USER@HOST:PORT/DB.  "
    "[default: citytwin-cloud.db]",
)
@click.option(
    "--gateway-token",
    "gateway_tokens",
    metavar="GATEWAY=TOKEN",
    multiple=True,
    help="Allow GATEWAY to ingest with TOKEN (repeatable), besides enrolled gateways.",
)
@click.option(
    "--auth",
    type=click.Choice([m.value for m in AuthMode]),
    help="required: every request but health, docs and enrollment needs a credential; off: "
    "dev mode, anyone may do anything; auto: required once any key, gateway or token exists.  "
    "[default: auto]",
)
@click.option(
    "--city",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="City file (citytwin sim city) to seed into the twin at start-up.",
)
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(
    host: str | None,
    port: int | None,
    database: str | None,
    gateway_tokens: tuple[str, ...],
    auth: str | None,
    city: Path | None,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve the ingest and twin API until SIGINT or SIGTERM.

    Options not given come from CITYTWIN_CLOUD_* environment variables, then the defaults.
    A configured admin key (to bootstrap without the CLI) comes only from the environment,
    CITYTWIN_CLOUD_ADMIN_KEY, so it shows in no process list.
    """
    given: dict[str, Any] = {
        "host": host, "port": port, "database": database, "city": city, "auth": auth
    }  # fmt: skip
    if gateway_tokens:
        given["gateway_tokens"] = _parse_tokens(gateway_tokens)
    settings = CloudSettings(**{k: v for k, v in given.items() if v is not None})
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sock = _listen(settings.host, settings.port)
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,  # the root logger configured above formats uvicorn's lines too
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        # Event streams never end on their own: without a bound, Ctrl-C would wait for every
        # dashboard to disconnect.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    click.echo(
        f"citytwin cloud listening on http://{settings.host}:{sock.getsockname()[1]}", err=True
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise click.ClickException("the aggregator did not start (see the log above)")


@group.command()
@click.option(
    "--database",
    metavar="PATH|URL",
    # A string, not a click.Path: a path would fold the // of a postgresql:// URL.
    help="SQLite file of the twin (created if missing), or postgresql://USER@HOST:PORT/DB.  "
    "[default: citytwin-cloud.db]",
)
@click.argument("city_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def seed(database: str | None, city_file: Path) -> None:
    """Load the entities of CITY_FILE (citytwin sim city) into the twin.

    Entities already there are updated; sensors keep their live status. Safe to repeat.
    """
    given: dict[str, Any] = {"database": database} if database is not None else {}
    settings = CloudSettings(**given)
    try:
        count = asyncio.run(_seed(settings, city_file))
    except (CityFileError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"seeded {count} entities from {city_file} into {settings.database}")


async def _seed(settings: CloudSettings, city_file: Path) -> int:
    async with store_for(settings.database) as store:
        return await seed_city(store, city_file)


def _parse_tokens(values: tuple[str, ...]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for value in values:
        gateway, sep, token = value.partition("=")
        if not sep or not gateway or not token:
            raise click.BadParameter(
                f"{value!r} is not GATEWAY=TOKEN", param_hint="--gateway-token"
            )
        if gateway in tokens:
            raise click.BadParameter(
                f"gateway {gateway!r} given twice", param_hint="--gateway-token"
            )
        tokens[gateway] = token
    return tokens


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so a taken port is one clear line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then, and
    # without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock
