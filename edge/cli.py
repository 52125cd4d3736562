"""``citytwin edge``: run the gateway agent and inspect its store."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from edge.anomaly.cli import replay
from edge.errors import EdgeError
from edge.settings import EdgeSettings, load

if TYPE_CHECKING:
    from edge.agent import Agent
    from edge.store import Store

_T = TypeVar("_T")


@click.group("edge")
def group() -> None:
    """Run and inspect the gateway agent."""


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (see docs/edge.md).",
)


def _settings(config_path: Path | None, **overrides: object) -> EdgeSettings:
    try:
        return load(config_path, **overrides)
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc


@group.command()
@_config_option
@click.option("--gateway-id", help="Overrides gateway_id from the config.")
@click.option("--mqtt-url", help="Local broker, mqtt://host:port.")
@click.option("--cloud-url", help="Cloud aggregator, http(s)://host:port.")
@click.option("--cloud-token", help="The gateway's bearer token for the cloud.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def run(
    config_path: Path | None,
    gateway_id: str | None,
    mqtt_url: str | None,
    cloud_url: str | None,
    cloud_token: str | None,
    data_dir: Path | None,
    verbose: bool,
) -> None:
    """Run the agent until SIGINT or SIGTERM, then flush and exit."""
    from edge.agent import Agent

    base = _settings(config_path) if config_path else None
    mqtt = {**(base.mqtt.model_dump() if base else {}), **({"url": mqtt_url} if mqtt_url else {})}
    cloud = base.cloud.model_dump() if base else {}
    cloud.update({k: v for k, v in {"url": cloud_url, "token": cloud_token}.items() if v})
    settings = _settings(
        config_path, gateway_id=gateway_id, data_dir=data_dir, mqtt=mqtt or None,
        cloud=cloud or None,
    )  # fmt: skip
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s {settings.gateway_id} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    try:
        asyncio.run(_run_until_signal(Agent(settings)))
    except* EdgeError as group_exc:
        raise click.ClickException(str(group_exc.exceptions[0])) from group_exc


async def _run_until_signal(agent: Agent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.run(stop)


@group.group()
def dlq() -> None:
    """Inspect the dead-letter store: what the agent refused, and why."""


@dlq.command("list")
@_config_option
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", default=20, show_default=True, help="Newest N entries.")
@click.option("--reason", help="Only this reason code (e.g. not_json, out_of_range).")
def dlq_list(
    config_path: Path | None, data_dir: Path | None, limit: int, reason: str | None
) -> None:
    """List the newest dead letters."""
    letters = _read_store(config_path, data_dir, lambda store: store.dead_letters(limit, reason))
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.received))
        preview = letter.payload[:60].decode("utf-8", "replace").replace("\n", " ")
        click.echo(f"{letter.id:>6} {when}Z {letter.reason:<14} {letter.channel}")
        click.echo(f"       {letter.detail}")
        click.echo(f"       {letter.size} bytes: {preview!r}")


@dlq.command("replay")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The agent's TOML settings, as fixed: messages are judged by them.",
)
@click.option("--reason", help="Only dead letters of this reason code.")
def dlq_replay(config_path: Path, reason: str | None) -> None:
    """Decode dead letters again; move those now accepted to the agent (stop it first)."""
    from edge.dlq import replay as replay_letters

    settings = _settings(config_path)
    _db_path(config_path, None)
    try:
        report = replay_letters(settings, reason)
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"accepted {report.accepted} dead letters ({report.readings} readings):"
        " the agent sends them when it next starts"
    )
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(report.failing.items()))
    click.echo(f"still failing {report.still_failing}" + (f" ({reasons})" if reasons else ""))


@group.group()
def refused() -> None:
    """Records the cloud refused for what they hold, set aside so the rest could flow."""


@refused.command("list")
@_config_option
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", default=20, show_default=True, help="Newest N records.")
def refused_list(config_path: Path | None, data_dir: Path | None, limit: int) -> None:
    """List the newest refused records with the cloud's answer."""
    records = _read_store(config_path, data_dir, lambda store: store.refused(limit))
    if not records:
        click.echo("no refused records")
    for record in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.refused_at))
        click.echo(f"{record.seq:>20} {when}Z {record.type:<10} cloud said {record.status}")
        click.echo(f"{'':>21}{record.detail}")
        click.echo(f"{'':>21}{record.body[:100]}")


@refused.command("retry")
@_config_option
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
def refused_retry(config_path: Path | None, data_dir: Path | None) -> None:
    """Put refused records back in the outbox, once the cloud takes them (stop the agent)."""
    from edge.store import Store

    store = Store(_db_path(config_path, data_dir), dead_letter_max=10)

    async def move() -> int:
        return await store.retry_refused()

    try:
        store.open()
        moved = asyncio.run(move())
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"{moved} records back in the outbox: the agent sends them when it next runs")


@group.command()
@_config_option
@click.option("--gateway-id", help="Overrides gateway_id from the config.")
@click.option("--cloud-url", help="Cloud aggregator, http(s)://host:port.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("code")
def enroll(
    config_path: Path | None,
    gateway_id: str | None,
    cloud_url: str | None,
    data_dir: Path | None,
    code: str,
) -> None:
    """Trade the one-time enrollment CODE an operator issued for this gateway's cloud token.

    The token is saved in the data folder (readable by its owner only), and `edge run` with the
    same config uses it. The operator gets CODE from `citytwin cloud gateways register GW`.
    """
    from edge.enroll import EnrollmentError, exchange, save_token

    base = _settings(config_path) if config_path else None
    cloud = base.cloud.model_dump() if base else {}
    cloud.update({"url": cloud_url} if cloud_url else {})
    settings = _settings(config_path, gateway_id=gateway_id, data_dir=data_dir,
                         cloud=cloud or None)  # fmt: skip
    try:
        enrolled = asyncio.run(exchange(settings.cloud.url, settings.gateway_id, code))
        save_token(settings.token_path, enrolled.token)
    except EnrollmentError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot save the token: {exc}") from exc
    click.echo(
        f"gateway {enrolled.gateway} enrolled with {settings.cloud.url}; token saved to "
        f"{settings.token_path}: `citytwin edge run` uses it"
    )


def _read_store(config_path: Path | None, data_dir: Path | None, read: Callable[[Store], _T]) -> _T:
    """``read`` the agent's store; works beside a running agent: it reads, never writes."""
    from edge.store import Store

    store = Store(_db_path(config_path, data_dir), dead_letter_max=10)
    try:
        store.open(readonly=True)
        return read(store)
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _db_path(config_path: Path | None, data_dir: Path | None) -> Path:
    if data_dir is not None:
        path = data_dir / "edge.db"
    elif config_path is not None:
        path = _settings(config_path).db_path
    else:
        raise click.UsageError("give --config or --data-dir")
    if not path.exists():
        raise click.ClickException(f"no store at {path}: has the agent run with this config?")
    return path


group.add_command(replay)
