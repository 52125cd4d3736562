"""Fixtures for the edge agent: a real agent on a real broker, in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.settings import EdgeSettings
from tests.conftest import Mosquitto, free_port


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
