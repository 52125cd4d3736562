"""``citytwin sim``: a thin shell over the simulator; its errors become one-line messages."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from firmware_sim import runner
from firmware_sim.anomalies import Rates
from firmware_sim.city import generate_city, twin
from firmware_sim.dataset import DEFAULT_INTERVAL_S, DEFAULT_START, DatasetPlan, make_dataset
from firmware_sim.errors import SimError
from firmware_sim.export import write_dataset
from firmware_sim.firmware import FAULTS
from firmware_sim.fleet import SimSensor, make_fleet
from firmware_sim.flood import FloodReport, flood, stop_on_signals
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
        click.option(
            "--gateways",
            type=int,
            help="Spread the sensors over the city's first N gateways (gw-01...): the fleet's "
            "first --sensors sensors that report to one of them.  [default: every gateway]",
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
    multiple=True,
    default=[_default("broker")],
    show_default=True,
    help="MQTT broker the sensors publish to. Give it once per gateway (with --gateways) "
    "for one broker per gateway: each sensor publishes to its own gateway's.",
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
@click.option(
    "--anomaly-rate",
    type=float,
    default=_default("anomaly_rate"),
    show_default=True,
    help="Sensor faults (spikes, drift, dropouts...) per sensor and simulated day.",
)
@click.option(
    "--drill",
    type=float,
    metavar="SECONDS",
    help="Every SECONDS of wall time, one sensor sends one reading with a spike on one metric "
    "(labelled like the other anomalies): anomalies a live demonstration can show at once.",
)
@click.option(
    "--fault-rate",
    metavar="NAME=P,...",
    default=_default("fault_rate"),
    help=f"Faulty firmware: chance per reading of each of {', '.join(FAULTS)}.",
)
@click.option(
    "--serial",
    metavar="PATH|pty",
    help="Write serial lines to this port instead of MQTT; 'pty' makes a pty pair and "
    "prints the path of the end a gateway opens.",
)
@click.option(
    "--rate",
    type=float,
    help="Flood mode: publish up to this many readings/s (0: as fast as the broker takes "
    "them) on one connection, and report the rate achieved.",
)
@click.option("--total", type=int, help="Flood mode: stop after this many readings.")
@click.option(
    "--batch",
    type=int,
    default=_default("batch"),
    show_default=True,
    help="Flood mode: readings of one sensor per message.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the anomalies the run sent to this CSV (the columns of sim export's "
    "labels.csv), so a live run can be scored.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log lost and regained connections.")
@click.pass_context
def run(ctx: click.Context, /, verbose: bool, **options: Any) -> None:
    """Run a simulated sensor fleet that publishes readings over MQTT or a serial line.

    Values follow the simulated city: daily and weekly cycles, weather, events, neighbours and
    sensor faults. Over MQTT each sensor has its own connection, with a last will that reports
    it offline if this process dies. Ctrl-C or SIGTERM stops every sensor cleanly.
    """
    options["broker"] = ",".join(options["broker"])
    settings = _settings(ctx, options)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.rate is not None:
        _flood(settings)
        return
    target = settings.broker if settings.serial is None else f"serial {settings.serial}"
    click.echo(
        f"simulating {settings.sensors} sensors -> {target}, a reading every "
        f"{settings.interval:g} s at {settings.speed:g}x speed; Ctrl-C stops",
        err=True,
    )
    try:
        report = runner.main(settings, announce=lambda text: click.echo(text, err=True))
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"stopped after {report.elapsed_s:.1f} s: {report.readings} readings, "
        f"{report.sent} messages sent, {report.lost} lost while the peer was unreachable"
        + _faults_text(report.faults()),
        err=True,
    )
    if settings.labels is not None:
        click.echo(f"wrote {report.labels} labels to {settings.labels}", err=True)


def _flood(settings: SimSettings) -> None:
    """Flood mode, until done or Ctrl-C/SIGTERM."""
    host, port = settings.broker_address
    rate = settings.rate or None
    click.echo(
        f"flooding {settings.broker} from {settings.sensors} sensors at "
        f"{'full speed' if rate is None else f'up to {rate:g} readings/s'}; Ctrl-C stops",
        err=True,
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        try:
            report = flood(host, port, settings.sensors, rate, settings.total, settings.qos,
                           settings.batch, seed=settings.seed, prefix=settings.prefix,
                           faults=settings.fault_rates, duration=settings.duration,
                           stop=stop, gateways=settings.gateways)  # fmt: skip
        except SimError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"sent {report.readings} readings in {report.messages} messages in "
        f"{report.elapsed_s:.2f} s: {report.rate:.0f} readings/s, "
        f"{report.message_rate:.0f} messages/s"
        + _faults_text(report.faults)
        + _outage_text(report)
        + ("" if report.drained else "; the broker had not taken everything at the end"),
        err=True,
    )


def _outage_text(report: FloodReport) -> str:
    if not report.disconnected_s:
        return ""
    return (
        f"; without a broker for {report.disconnected_s:.1f} s, {report.reconnects} "
        f"reconnection(s), {report.unsent} readings not sent"
    )


def _faults_text(faults: Mapping[str, int]) -> str:
    if not faults:
        return ""
    return "; firmware faults: " + ", ".join(f"{name}={n}" for name, n in faults.items())


def _fleet(settings: SimSettings) -> tuple[SimSensor, ...]:
    """The sensors ``sim run`` runs with these settings."""
    if settings.gateways is None:  # no need to lay out the city
        return make_fleet(settings.seed, settings.sensors, settings.prefix)
    try:
        city = generate_city(settings.seed, settings.sensors, settings.prefix,
                             gateways=settings.gateways)  # fmt: skip
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    return tuple(placed.sensor for placed in city.sensors)


@group.command(epilog=_ENV_NOTE)
@_fleet_options
@click.pass_context
def fleet(ctx: click.Context, /, **options: Any) -> None:
    """Print the fleet as JSON lines: the id, kind, lat and lon of every sensor."""
    settings = _settings(ctx, options)
    for sensor in _fleet(settings):
        line = {"id": sensor.id, "kind": sensor.kind, "lat": sensor.lat, "lon": sensor.lon}
        click.echo(json.dumps(line))


@group.command(epilog=_ENV_NOTE)
@_fleet_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    show_default=True,
    help="File to write the GeoJSON to; - is standard output.",
)
@click.pass_context
def city(ctx: click.Context, /, out: str, **options: Any) -> None:
    """Write the city of a seed as a GeoJSON FeatureCollection of twin entities.

    Districts, the sea, the river, beaches, buildings, road segments, gateways, streetlights,
    departments and the fleet's sensors (the same ids as `sim run` with the same options),
    each with its category, type, attributes and relationships. See docs/simulator.md.
    """
    settings = _settings(ctx, options)
    try:
        city = generate_city(settings.seed, settings.sensors, settings.prefix,
                             gateways=settings.gateways)  # fmt: skip
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    text = twin.dumps(city)
    if out == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"out: cannot write {out}: {exc.strerror}") from exc
    click.echo(f"wrote {out}", err=True)


@group.command()
@click.option("--days", type=float, default=14.0, show_default=True, help="Days to simulate.")
@click.option("--sensors", type=int, default=200, show_default=True, help="Number of sensors.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed, the same bytes."
)
@click.option("--prefix", default="sim", show_default=True, help="Start of every sensor id.")
@click.option(
    "--interval",
    type=float,
    default=DEFAULT_INTERVAL_S,
    show_default=True,
    help="Seconds between two readings of a sensor.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=datetime.fromtimestamp(DEFAULT_START, UTC).strftime("%Y-%m-%d"),
    show_default=True,
    help="First sample, in UTC.",
)
@click.option(
    "--fault-rate",
    type=float,
    default=Rates().faults_per_sensor_day,
    show_default=True,
    help="Sensor faults per sensor and day.",
)
@click.option(
    "--event-rate",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplies how often traffic incidents and pollution episodes happen.",
)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
def export(
    days: float,
    sensors: int,
    seed: int,
    prefix: str,
    interval: float,
    start: datetime,
    fault_rate: float,
    event_rate: float,
    out: str,
) -> None:
    """Write a labelled dataset (readings, labels, sensors, weather, city) without a broker.

    Readings go to one CSV per sensor kind, anomalies to labels.csv; docs/simulator.md
    describes every file and column. The same options give byte-identical files.
    """
    defaults = Rates()
    rates = Rates(
        faults_per_sensor_day=fault_rate,
        incidents_per_day=defaults.incidents_per_day * event_rate,
        episodes_per_day=defaults.episodes_per_day * event_rate,
    )
    plan = DatasetPlan(seed, sensors, days, interval, start.replace(tzinfo=UTC).timestamp(),
                       prefix, rates)  # fmt: skip
    began = time.perf_counter()
    try:
        report = write_dataset(make_dataset(plan), Path(out))
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"out: cannot write {out}: {exc.strerror}") from exc
    click.echo(
        f"wrote {report.readings} readings and {report.labels} labels to {out} "
        f"in {time.perf_counter() - began:.1f} s",
        err=True,
    )


@group.command()
@click.option("--days", type=float, default=7.0, show_default=True, help="Days to simulate.")
@click.option("--seed", type=int, default=7, show_default=True, help="The city's seed.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
def plots(days: float, seed: int, out: str) -> None:
    """Write one PNG per sensor kind: a week of readings, rain, and the injected anomalies.

    Needs matplotlib (pip install 'citytwin[plots]').
    """
    from firmware_sim.plots import write_plots

    try:
        written = write_plots(seed, days, Path(out))
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"out: cannot write {out}: {exc.strerror}") from exc
    click.echo(f"wrote {len(written)} plots to {out}", err=True)
