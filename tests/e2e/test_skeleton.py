"""A simulated reading travels broker -> edge agent -> cloud and shows in the city state."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Mosquitto
from tests.support.cloud import CloudServer

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-0123456789"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    server = CloudServer(tmp_path / "cloud.db", gateway_tokens={"gw-e2e": TOKEN})
    server.start()
    yield server
    server.stop()


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "citytwin", *args], stdout=out, stderr=subprocess.STDOUT
        )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def _entities(cloud: CloudServer) -> list[dict[str, Any]]:
    response = httpx.get(f"{cloud.url}/api/v1/entities", params={"limit": 100})
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_simulated_readings_reach_the_city_state(
    mosquitto: Mosquitto, cloud: CloudServer, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'gateway_id = "gw-e2e"\n'
        f'data_dir = "{tmp_path / "edge"}"\n'
        "heartbeat_s = 1\n"
        f'[mqtt]\nurl = "{mosquitto.url}"\n'
        f'[cloud]\nurl = "{cloud.url}"\ntoken = "{TOKEN}"\nbatch_interval_s = 0.2\n'
        "[windows]\nlength_s = 1\nlateness_s = 0.5\n"
    )
    edge = _spawn(["edge", "run", "--config", str(config)], tmp_path / "edge.log")
    sim = _spawn(
        ["sim", "run", "--broker", mosquitto.url, "--sensors", "8", "--seed", "3",
         "--prefix", "e2e", "--interval", "0.5", "--qos", "1", "--anomaly-rate", "0"],
        tmp_path / "sim.log",
    )  # fmt: skip
    try:
        _wait(lambda: len(_entities(cloud)) == 8, 30, "8 sensors in the city state")
        first = {e["sensor"]: e["status"] for e in _entities(cloud)}
        assert all(first.values()), first
        # Live: observation times move on as new windows arrive.
        _wait(
            lambda: all(
                max(m["observed_at"] for m in e["status"].values())
                > max(m["observed_at"] for m in first[e["sensor"]].values())
                for e in _entities(cloud)
            ),
            20,
            "newer values for every sensor",
        )
        gateways = httpx.get(f"{cloud.url}/api/v1/gateways").json()["items"]
        assert [(g["id"], g["status"]) for g in gateways] == [("gw-e2e", "ONLINE")]
    finally:
        assert _stop(sim) == 0, (tmp_path / "sim.log").read_text()[-2000:]
        assert _stop(edge) == 0, (tmp_path / "edge.log").read_text()[-2000:]

    entity = _entities(cloud)[0]
    assert entity["id"].startswith("urn:ngsi-ld:")
    assert entity["gateway"] == "gw-e2e"
    for metric, latest in entity["status"].items():
        assert isinstance(latest["value"], float), metric
    # The edge flushed everything on SIGTERM: its outbox is empty and nothing was refused.
    dead = subprocess.run(
        [sys.executable, "-m", "citytwin", "edge", "dlq", "list", "--config", str(config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "no dead letters" in dead.stdout
    with sqlite3.connect(tmp_path / "edge" / "edge.db") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
    log = (tmp_path / "edge.log").read_text()
    assert "Traceback" not in log, log[-3000:]
