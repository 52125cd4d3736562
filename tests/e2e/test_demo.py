"""`citytwin demo` brings the whole chain up, shows live values and alerts for its injected
anomalies within seconds, and Ctrl-C leaves nothing."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


_DRILL = re.compile(r"drill \d+: (\S+) \S+ = \S+ at ts ([\d.]+)")


def _get(url: str, **params: Any) -> list[dict[str, Any]]:
    try:
        response = httpx.get(url, params={"limit": 500, **params}, timeout=5)
    except httpx.HTTPError:
        return []
    items: list[dict[str, Any]] = response.json()["items"] if response.is_success else []
    return items


def _entities(url: str) -> list[dict[str, Any]]:
    """The sensors with live values (the twin also holds the city's districts, roads...)."""
    return [e for e in _get(url) if e["sensor"] and e["status"]]


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _newest(entity: dict[str, Any]) -> float:
    return max(m["observed_at"] for m in entity["status"].values())


def test_demo_runs_the_chain_and_stops_cleanly(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", free_port()))
    taken.listen()
    port = taken.getsockname()[1]
    demo = subprocess.Popen(
        [sys.executable, "-m", "citytwin", "demo", "--port", str(port), "--gateways", "2",
         "--sensors", "3", "--window", "1", "--anomaly-rate", "0", "--drill", "3",
         "--workdir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        line = demo.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/api/v1/entities)", line)
        assert match, line
        url = match[1]
        assert f":{port}/" not in url  # the taken port was avoided

        _wait(lambda: len(_entities(url)) == 6, 60, "6 sensors with values")
        before = {e["sensor"]: _newest(e) for e in _entities(url)}
        _wait(
            lambda: all(_newest(e) > before[e["sensor"]] for e in _entities(url)),
            30,
            "values that change over time",
        )
        incidents_url = url.replace("/entities", "/incidents")
        # The simulator logs every drill as it sends it; wait for an incident opened or updated
        # by one of those readings, and see how long after the reading the cloud had it.
        log = tmp_path / "demo" / "sensors.log"
        delays: list[float] = []

        def drill_caught() -> bool:
            drills = {(m[1], float(m[2])) for m in _DRILL.finditer(log.read_text())}
            alerted = {}
            for i in _get(incidents_url):
                sensor = i["entity"].rsplit(":", 1)[-1]
                alerted[sensor, i["first_alert_at"]] = i["opened_at"]
                alerted[sensor, i["last_alert_at"]] = i["updated_at"]
            delays[:] = [alerted[key] - key[1] for key in drills if key in alerted]
            return bool(delays)

        _wait(drill_caught, 90, "an incident from an injected anomaly")
        assert min(delays) < 5.0
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 6  # cloud, sensors, and per gateway: broker, agent
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            _, stderr = demo.communicate(timeout=60)
        finally:
            if demo.poll() is None:  # never leave a demo behind, even when the test fails
                demo.kill()
                demo.communicate()
            taken.close()
    assert demo.returncode == 0, stderr
    assert f"port {port} is taken" in stderr
    assert "Traceback" not in stderr
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [p.cmdline() for p in alive]
