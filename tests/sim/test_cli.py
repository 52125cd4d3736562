"""``citytwin sim``: help, the fleet listing, one-line errors, and signals to a real process."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from citytwin.cli import cli
from firmware_sim.fleet import make_fleet
from tests.conftest import Mosquitto, free_port
from tests.sim.conftest import Recorder, citytwin_command


@pytest.mark.parametrize("args", [["sim"], ["sim", "run"], ["sim", "fleet"]])
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "CITYTWIN_SIM_" in result.output


def test_fleet_prints_one_json_line_per_sensor() -> None:
    result = CliRunner().invoke(cli, ["sim", "fleet", "--sensors", "12", "--seed", "4"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    expected = [{"id": s.id, "kind": s.kind, "lat": s.lat, "lon": s.lon} for s in make_fleet(4, 12)]
    assert lines == expected


def test_fleet_options_can_come_from_the_environment() -> None:
    env = {"CITYTWIN_SIM_SENSORS": "3", "CITYTWIN_SIM_PREFIX": "env"}
    result = CliRunner(env=env).invoke(cli, ["sim", "fleet", "--sensors", "2"])
    assert [json.loads(line)["id"] for line in result.output.splitlines()] == [
        "env-aq-0001",
        "env-tf-0002",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--broker", "http://127.0.0.1:1883"], "broker: 'http://127.0.0.1:1883' is not mqtt://"),
        (["--broker", "mqtt://127.0.0.1:99999"], "broker: 'mqtt://127.0.0.1:99999' has an invalid"),
        (["--sensors", "0"], "sensors: Input should be greater than or equal to 1"),
        (["--interval", "0"], "interval: Input should be greater than 0"),
        (["--speed", "-2"], "speed: Input should be greater than 0"),
        (["--duration", "0"], "duration: Input should be greater than 0"),
        (["--prefix", "no spaces"], "prefix: 'no spaces' makes ids like"),
        (["--seed", "-1"], "seed: Input should be greater than or equal to 0"),
    ],
)
def test_bad_options_give_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["sim", "run", *args])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {message}")


def run_sim(*args: str) -> subprocess.Popen[str]:
    """``citytwin sim run`` as its own process."""
    return subprocess.Popen(
        [*citytwin_command(), "sim", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_an_unreachable_broker_is_one_line_and_a_failing_exit() -> None:
    proc = run_sim("--broker", f"mqtt://127.0.0.1:{free_port()}", "--sensors", "2")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "cannot connect to broker" in errors[0]
    assert "Connection refused" in errors[0]


@pytest.fixture
def running_fleet(mosquitto: Mosquitto, recorder: Recorder) -> Iterator[subprocess.Popen[str]]:
    """Three sensors in their own process, all online and publishing."""
    proc = run_sim("--broker", mosquitto.url, "--sensors", "3", "--interval", "0.1", "--qos", "1")
    try:
        recorder.wait_for(lambda rec: len(rec.readings()) == 3 and len(rec.statuses()) == 3, 20)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_a_killed_process_leaves_its_last_will(
    running_fleet: subprocess.Popen[str], recorder: Recorder
) -> None:
    running_fleet.send_signal(signal.SIGKILL)
    running_fleet.wait(timeout=10)
    recorder.wait_for(lambda rec: all(s[-1:] == [False] for s in rec.statuses().values()))
    assert all(statuses == [True, False] for statuses in recorder.statuses().values())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_sensor_cleanly(
    running_fleet: subprocess.Popen[str], recorder: Recorder, signum: signal.Signals
) -> None:
    running_fleet.send_signal(signum)
    _, stderr = running_fleet.communicate(timeout=10)
    assert running_fleet.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped after" in stderr
    assert all(statuses == [True, False] for statuses in recorder.statuses().values())
    for readings in recorder.readings().values():
        assert [r.seq for r in readings] == list(range(len(readings)))
