"""Fixtures for the edge agent: a real agent on a real broker, in the test's event loop;
the real cloud in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.settings import EdgeSettings
from shared.wire.mqtt import READINGS_FILTER
from tests.conftest import Mosquitto, free_port, wait_for_port


def edge_settings(
    broker: Mosquitto, data_dir: Path, cloud_url: str | None = None, **overrides: Any
) -> EdgeSettings:
    """Settings for a test agent: short windows, fast heartbeats, ``overrides`` on top."""
    fields: dict[str, Any] = {
        "gateway_id": "gw-test",
        "data_dir": data_dir,
        "heartbeat_s": 1.0,
        "mqtt": {"url": broker.url},
        "cloud": {"url": cloud_url or f"http://127.0.0.1:{free_port()}", "batch_interval_s": 0.2},
        "windows": {"length_s": 1.0, "lateness_s": 0.5},
    }
    return EdgeSettings(**(fields | overrides))


class RunningAgent:
    """An agent running as a task; ``stop()`` shuts it down the way SIGTERM does."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(agent.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, 15)


class CloudProcess:
    """`citytwin cloud serve` as its own process on a fixed port, to stop and start again."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "citytwin", "cloud", "serve", "--port", str(self.port),
             "--database", str(self.database)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, timeout=60)  # a loaded machine imports slowly

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
            self.proc = None

    def summed_count(self) -> int:
        with sqlite3.connect(self.database) as db:
            (count,) = db.execute("SELECT COALESCE(SUM(count), 0) FROM windows").fetchone()
        return int(count)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudProcess]:
    """The cloud as its own process on a port chosen now; the test decides when it starts."""
    process = CloudProcess(tmp_path / "cloud.db")
    yield process
    process.stop()


@pytest.fixture
async def start_agent() -> AsyncIterator[Callable[[EdgeSettings], RunningAgent]]:
    """Start agents; every one still running is stopped at the end of the test."""
    running: list[RunningAgent] = []

    def start(settings: EdgeSettings) -> RunningAgent:
        agent = RunningAgent(Agent(settings))
        running.append(agent)
        return agent

    yield start
    for agent in running:
        with contextlib.suppress(Exception):
            await agent.stop()


def publisher(broker: Mosquitto) -> mqtt.Client:
    """A connected paho client for publishing test messages."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def open_session(broker: Mosquitto, gateway_id: str) -> None:
    """Create the agent's persistent session on the broker, as its first run would.

    From then on the broker keeps every reading for the agent, whether or not it has
    connected yet: a test can start an agent process and publish at once.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"citytwin-edge-{gateway_id}", clean_session=False
    )
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.subscribe(READINGS_FILTER, qos=1)
    assert subscribed.wait(10), "the broker did not confirm the subscription"
    client.disconnect()
    client.loop_stop()


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 10.0,
    what: Callable[[], str] = lambda: "",
) -> None:
    """Wait for ``predicate`` to hold, checking every 50 ms; ``what`` describes a failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout} s {what()}")
        await asyncio.sleep(0.05)
