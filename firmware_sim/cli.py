"""``citytwin sim``: a thin shell over the simulator; its errors become one-line messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from firmware_sim import runner
from firmware_sim.errors import SimError
from firmware_sim.fleet import make_fleet
from firmware_sim.settings import SimSettings, load

_F = TypeVar("_F", bound=Callable[..., Any])
_ENV_NOTE = "Every option can also be set as CITYTWIN_SIM_<OPTION> in the environment."


def _default(name: str) -> Any:
    """The settings default of ``name``: the model is the one place defaults are written."""
    return SimSettings.model_fields[name].default


def _settings(ctx: click.Context, options: dict[str, Any]) -> SimSettings:
    """Settings from the options given on the command line, over the environment."""
    given = {
        name: value
        for name, value in options.items()
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    try:
        return load(**given)
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc


def _fleet_options(function: _F) -> _F:
    """The options that pick a fleet, shared by every command that needs one."""
    decorators = [
        click.option(
            "--sensors",
            type=int,
            default=_default("sensors"),
            show_default=True,
            help="Number of sensors, cycling through every kind.",
        ),
        click.option(
            "--seed",
            type=int,
            default=_default("seed"),
            show_default=True,
            help="The same seed gives the same fleet and the same signals.",
        ),
        click.option(
            "--prefix",
            default=_default("prefix"),
            show_default=True,
            help="Start of every sensor id, as in sim-aq-0001.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.group(name="sim", epilog=_ENV_NOTE)
def group() -> None:
    """Simulate a fleet of city sensors."""


@group.command(epilog=_ENV_NOTE)
@click.option(
    "--broker",
    metavar="mqtt://HOST:PORT",
    default=_default("broker"),
    show_default=True,
    help="MQTT broker the sensors publish to.",
)
@_fleet_options
@click.option(
    "--interval",
    type=float,
    default=_default("interval"),
    show_default=True,
    help="Wall-clock seconds between two readings of a sensor.",
)
@click.option(
    "--speed",
    type=float,
    default=_default("speed"),
    show_default=True,
    help="How many times faster than the wall clock simulated time runs (60: an hour a minute).",
)
@click.option(
    "--duration",
    type=float,
    help="Wall-clock seconds to run.  [default: until Ctrl-C or SIGTERM]",
)
@click.option(
    "--qos",
    type=click.IntRange(0, 1),
    default=_default("qos"),
    show_default=True,
    help="MQTT QoS of readings (statuses always use 1).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log lost and regained connections.")
@click.pass_context
def run(ctx: click.Context, /, verbose: bool, **options: Any) -> None:
    """Run a simulated sensor fleet that publishes readings over MQTT.

    Each sensor has its own connection, with a last will that reports it offline if this
    process dies. Ctrl-C or SIGTERM stops every sensor cleanly.
    """
    settings = _settings(ctx, options)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    click.echo(
        f"simulating {settings.sensors} sensors -> {settings.broker}, a reading every "
        f"{settings.interval:g} s at {settings.speed:g}x speed; Ctrl-C stops",
        err=True,
    )
    try:
        report = runner.main(settings)
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"stopped after {report.elapsed_s:.1f} s: {report.sent} readings sent, "
        f"{report.lost} lost while the broker was unreachable",
        err=True,
    )


@group.command(epilog=_ENV_NOTE)
@_fleet_options
@click.pass_context
def fleet(ctx: click.Context, /, **options: Any) -> None:
    """Print the fleet as JSON lines: the id, kind, lat and lon of every sensor."""
    settings = _settings(ctx, options)
    for sensor in make_fleet(settings.seed, settings.sensors, settings.prefix):
        line = {"id": sensor.id, "kind": sensor.kind, "lat": sensor.lat, "lon": sensor.lon}
        click.echo(json.dumps(line))
