"""A broker that refuses the gateway's credentials stops the agent with one clear line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Mosquitto


@pytest.fixture
def locked_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real broker that only lets user ``edge`` with password ``right`` in."""
    workdir = tmp_path / "locked"
    workdir.mkdir()
    passwords = workdir / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "edge", "right"], check=True)
    broker = Mosquitto(workdir)
    broker.conf.write_text(
        broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
        + f"password_file {passwords}\n"
    )
    broker.start()
    yield broker
    broker.stop()


def _run(broker: Mosquitto, tmp_path: Path, password: str) -> tuple[subprocess.Popen[bytes], Path]:
    config = tmp_path / f"gateway-{password}.toml"
    config.write_text(
        'gateway_id = "gw-locked"\n'
        f'data_dir = "{tmp_path / password}"\n'
        f'[mqtt]\nurl = "{broker.url}"\nusername = "edge"\npassword = "{password}"\n'
        "[anomaly]\nenabled = false\n"
    )
    log = tmp_path / f"agent-{password}.log"
    with log.open("wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "citytwin", "edge", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return agent, log


def test_a_wrong_password_stops_the_agent_with_a_clear_error(
    locked_broker: Mosquitto, tmp_path: Path
) -> None:
    agent, log = _run(locked_broker, tmp_path, "wrong")
    code = agent.wait(timeout=30)  # it gives up: no retrying forever
    stderr = log.read_text()
    assert code != 0
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error: "), stderr
    assert "refused" in last, stderr
    assert "Traceback" not in stderr


def test_the_right_password_connects(locked_broker: Mosquitto, tmp_path: Path) -> None:
    agent, log = _run(locked_broker, tmp_path, "right")
    try:
        deadline = time.monotonic() + 30
        while "connected to" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "connected to" in log.read_text()
        time.sleep(1)
        assert agent.poll() is None, log.read_text()  # and keeps running
    finally:
        agent.terminate()
        agent.wait(30)
