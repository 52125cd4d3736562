"""``citytwin demo``: brokers, the cloud, gateways and a simulated fleet, on this machine."""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from citytwin.broker import broker_argv
from citytwin.processes import Supervisor, free_port, port_is_free, tail, wait_for_port

_PY = [sys.executable, "-m", "citytwin"]


@dataclass(frozen=True)
class DemoPlan:
    """What the demo starts, decided before anything starts."""

    workdir: Path
    cloud_port: int
    gateways: int
    sensors: int
    window_s: float
    seed: int
    speed: float
    anomaly_rate: float
    drill_s: float

    @property
    def gateway_ids(self) -> list[str]:
        """The city's gateways the demo runs: gw-01, gw-02... (one per district)."""
        return [f"gw-{n:02d}" for n in range(1, self.gateways + 1)]


class _Stop(Exception):
    pass


@click.command("demo")
@click.option(
    "--port", default=8000, show_default=True, help="Cloud HTTP port (free one if taken)."
)
@click.option(
    "--gateways",
    default=3,
    show_default=True,
    type=click.IntRange(1, 9),
    help="Gateways, one per district of the simulated city.",
)
@click.option(
    "--sensors",
    default=8,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Simulated sensors per gateway, on average (districts differ).",
)
@click.option(
    "--window",
    "window_s",
    default=5.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Window length in seconds (short, so values change quickly).",
)
@click.option("--seed", default=7, show_default=True)
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(0.1, 3600))
@click.option(
    "--anomaly-rate",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0),
    help="Injected sensor faults (spikes, drift, dropouts...) per sensor and simulated day.",
)
@click.option(
    "--drill",
    "drill_s",
    default=15.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Every this many seconds one sensor sends a spike, so alerts show within seconds "
    "(0: none; the labels are in the work folder's labels.csv).",
)
@click.option("--duration", type=click.FloatRange(1), help="Stop after this many seconds.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep databases and logs here (default: a temporary folder, removed).",
)
def command(
    port: int,
    gateways: int,
    sensors: int,
    window_s: float,
    seed: int,
    speed: float,
    anomaly_rate: float,
    drill_s: float,
    duration: float | None,
    workdir: Path | None,
) -> None:
    """Run the whole system on this machine until Ctrl-C."""
    if not port_is_free(port):
        new_port = free_port()
        click.echo(f"port {port} is taken; the cloud uses {new_port} instead", err=True)
        port = new_port
    keep = workdir is not None
    root = workdir or Path(tempfile.mkdtemp(prefix="citytwin-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    plan = DemoPlan(root, port, gateways, sensors, window_s, seed, speed, anomaly_rate, drill_s)
    supervisor = Supervisor(root)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: take Ctrl-C explicitly so the demo always stops its children.
    previous_int = signal.signal(signal.SIGINT, _raise_stop)
    try:
        _start(plan, supervisor)
        site = f"http://127.0.0.1:{plan.cloud_port}"
        click.echo(f"citytwin demo is up: {site}/api/v1/entities")
        click.echo(f"operators' dashboard: {site}/")
        click.echo(f"incidents from injected anomalies: {site}/api/v1/incidents")
        click.echo(f"logs and databases in {root}; Ctrl-C stops everything")
        _watch(supervisor, duration)
    except (KeyboardInterrupt, _Stop):
        click.echo("\nstopping...", err=True)
    finally:
        supervisor.stop_all()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    click.echo("demo stopped", err=True)


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _start(plan: DemoPlan, supervisor: Supervisor) -> None:
    total = plan.sensors * plan.gateways
    fleet = ["--seed", str(plan.seed), "--sensors", str(total), "--gateways", str(plan.gateways)]
    city = plan.workdir / "city.geojson"
    _run_once(supervisor, "city", [*_PY, "sim", "city", *fleet, "--out", str(city)])
    tokens = {gateway: secrets.token_urlsafe(16) for gateway in plan.gateway_ids}
    cloud = supervisor.start(
        "cloud",
        [
            *_PY,
            "cloud",
            "serve",
            "--port",
            str(plan.cloud_port),
            "--database",
            str(plan.workdir / "cloud.db"),
            # The twin starts as the simulated city: districts, roads, beaches, sensors.
            "--city",
            str(city),
            # Dev mode: the printed URLs open in a browser without a key; the gateways still
            # present their own tokens, and those are checked.
            "--auth",
            "off",
            *[a for gw, tok in tokens.items() for a in ("--gateway-token", f"{gw}={tok}")],
        ],
    )
    _await_port(supervisor, cloud.name, plan.cloud_port)
    brokers = []
    for gateway, token in tokens.items():
        broker_port = free_port()
        name, argv = broker_argv(broker_port, plan.workdir)
        supervisor.start(f"{gateway}-{name}", argv)
        _await_port(supervisor, f"{gateway}-{name}", broker_port)
        config = _edge_config(plan, gateway, token, broker_port)
        supervisor.start(gateway, [*_PY, "edge", "run", "--config", str(config)])
        brokers += ["--broker", f"mqtt://127.0.0.1:{broker_port}"]
    # One fleet for the whole city: each sensor publishes to its own gateway's broker.
    drills = ["--drill", str(plan.drill_s)] if plan.drill_s > 0 else []
    supervisor.start(
        "sensors",
        # -v: the log names every drill (sensor, metric, time) as it goes out.
        [*_PY, "sim", "run", "-v", *fleet, *brokers, "--interval", "1", "--speed", str(plan.speed),
         "--anomaly-rate", str(plan.anomaly_rate), *drills,
         "--labels", str(plan.workdir / "labels.csv")],
    )  # fmt: skip


def _run_once(supervisor: Supervisor, name: str, argv: list[str]) -> None:
    if supervisor.run(name, argv) != 0:
        raise click.ClickException(f"{name} failed:\n{tail(supervisor.log_dir / f'{name}.log')}")


def _edge_config(plan: DemoPlan, gateway: str, token: str, broker_port: int) -> Path:
    path = plan.workdir / f"{gateway}.toml"
    path.write_text(
        f'gateway_id = "{gateway}"\n'
        f'data_dir = "{plan.workdir / gateway}"\n'
        "heartbeat_s = 10\n"
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker_port}"\n'
        f'[cloud]\nurl = "http://127.0.0.1:{plan.cloud_port}"\ntoken = "{token}"\n'
        f"[windows]\nlength_s = {plan.window_s}\nlateness_s = 1\n"
    )
    return path


def _await_port(supervisor: Supervisor, name: str, port: int) -> None:
    if not wait_for_port(port, timeout=30):
        child = next(c for c in supervisor.children if c.name == name)
        raise click.ClickException(
            f"{name} did not start listening on port {port}:\n{tail(child.log_path)}"
        )


def _watch(supervisor: Supervisor, duration: float | None) -> None:
    deadline = None if duration is None else time.monotonic() + duration
    while deadline is None or time.monotonic() < deadline:
        dead = supervisor.dead()
        if dead:
            child = dead[0]
            raise click.ClickException(
                f"{child.name} exited with code {child.proc.returncode}:\n{tail(child.log_path)}"
            )
        time.sleep(0.5)
