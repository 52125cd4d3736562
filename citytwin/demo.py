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


class _Stop(Exception):
    pass


@click.command("demo")
@click.option(
    "--port", default=8000, show_default=True, help="Cloud HTTP port (free one if taken)."
)
@click.option("--gateways", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--sensors",
    default=8,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Simulated sensors per gateway.",
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
    plan = DemoPlan(root, port, gateways, sensors, window_s, seed, speed, anomaly_rate)
    supervisor = Supervisor(root)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: take Ctrl-C explicitly so the demo always stops its children.
    previous_int = signal.signal(signal.SIGINT, _raise_stop)
    try:
        _start(plan, supervisor)
        base = f"http://127.0.0.1:{plan.cloud_port}/api/v1"
        click.echo(f"citytwin demo is up: {base}/entities")
        click.echo(f"incidents from injected anomalies: {base}/incidents")
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
    tokens = {f"gw-{n}": secrets.token_urlsafe(16) for n in range(1, plan.gateways + 1)}
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
            # Dev mode: the printed URLs open in a browser without a key; the gateways still
            # present their own tokens, and those are checked.
            "--auth",
            "off",
            *[a for gw, tok in tokens.items() for a in ("--gateway-token", f"{gw}={tok}")],
        ],
    )
    _await_port(supervisor, cloud.name, plan.cloud_port)
    for n, (gateway, token) in enumerate(tokens.items(), start=1):
        broker_port = free_port()
        name, argv = broker_argv(broker_port, plan.workdir)
        supervisor.start(f"{gateway}-{name}", argv)
        _await_port(supervisor, f"{gateway}-{name}", broker_port)
        config = _edge_config(plan, gateway, token, broker_port)
        supervisor.start(gateway, [*_PY, "edge", "run", "--config", str(config)])
        supervisor.start(
            f"{gateway}-sensors",
            [
                *_PY,
                "sim",
                "run",
                "--broker",
                f"mqtt://127.0.0.1:{broker_port}",
                "--sensors",
                str(plan.sensors),
                "--seed",
                str(plan.seed + n),
                "--prefix",
                gateway,
                "--interval",
                "1",
                "--speed",
                str(plan.speed),
                "--anomaly-rate",
                str(plan.anomaly_rate),
            ],
        )


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
