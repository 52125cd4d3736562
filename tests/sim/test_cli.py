"""``citytwin sim``: help, the fleet listing, one-line errors, and signals to a real process."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from citytwin.cli import cli
from firmware_sim.city import generate_city
from firmware_sim.export import LABEL_COLUMNS
from firmware_sim.fleet import make_fleet
from tests.conftest import Mosquitto, free_port
from tests.sim.conftest import Recorder, citytwin_command, wire_readings


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


def test_fleet_lists_the_sensors_of_the_first_gateways() -> None:
    args = ["sim", "fleet", "--sensors", "9", "--seed", "4", "--gateways", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in result.output.splitlines()]
    assert ids == [p.sensor.id for p in generate_city(4, 9, gateways=2).sensors]


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
        (["--gateways", "10"], "gateways: Input should be less than or equal to 9"),
        (
            ["--broker", "mqtt://a:1", "--broker", "mqtt://b:2"],
            "broker: 2 brokers need --gateways 2",
        ),
        (["--rate", "0", "--labels", "l.csv"], "labels: flood mode (--rate) injects no anomalies"),
    ],
)
def test_bad_options_give_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["sim", "run", *args])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {message}")


def test_an_unwritable_labels_file_fails_before_connecting(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "labels.csv"
    args = ["sim", "run", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--labels", str(missing)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: labels: cannot write {missing}: No such file or directory"
    )


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


def test_a_live_run_writes_the_labels_of_what_it_sent(
    mosquitto: Mosquitto, recorder: Recorder, tmp_path: Path
) -> None:
    path = tmp_path / "labels.csv"
    proc = run_sim("--broker", mosquitto.url, "--sensors", "8", "--seed", "1", "--interval",
                   "0.05", "--speed", "6000", "--anomaly-rate", "3", "--duration", "3",
                   "--labels", str(path))  # fmt: skip
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == LABEL_COLUMNS
        labels = list(reader)
    assert f"wrote {len(labels)} labels to {path}" in stderr
    assert labels, "five simulated hours of eight sensors hold anomalies"
    # A label starts and ends on readings that went out (a dropout's, on readings missing).
    recorder.wait_for(lambda rec: all(s[-1:] == [False] for s in rec.statuses().values()))
    sent = wire_readings(recorder)
    stamps = {(sensor, r.ts) for sensor, mine in sent.items() for r in mine}
    for label in labels:
        ends = {(label["sensor"], float(label["start"])), (label["sensor"], float(label["end"]))}
        assert not ends & stamps if label["type"] == "dropout" else ends <= stamps, label
