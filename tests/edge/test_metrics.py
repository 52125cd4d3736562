"""The opt-in Prometheus endpoint: the agent's own counters, scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.agent import Agent
from edge.errors import ConfigError
from edge.settings import EdgeSettings
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, publisher, wait_until


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_readings_dead_letters_and_report_the_outbox(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    running = start_agent(edge_settings(mosquitto, tmp_path / "edge", metrics_port=0))
    await wait_until(lambda: running.agent.source.subscribed and running.agent.metrics_port)
    port = running.agent.metrics_port
    assert port is not None
    pub = publisher(mosquitto)
    topic = "citytwin/v1/sensors/nl-1/readings"
    for seq in range(5):
        body = {"sensor": "nl-1", "kind": "noise", "seq": seq, "metrics": {"LAeq": 50.0 + seq}}
        pub.publish(topic, json.dumps(body), qos=1).wait_for_publish()
    pub.publish(topic, b"not json", qos=1).wait_for_publish()
    await wait_until(lambda: running.agent.pipeline.counters.messages == 6)
    # The cloud is unreachable in this test: summaries and heartbeats wait in the outbox.
    await wait_until(lambda: (running.agent.last_heartbeat or {}).get("buffer_depth", 0) >= 1)

    gw = (("gateway", "gw-test"),)
    metrics = _scrape(port)
    assert metrics["citytwin_edge_readings_total", gw] == 5
    assert metrics["citytwin_edge_messages_total", gw] == 6
    assert metrics["citytwin_edge_dead_letters_total", gw] == 1
    by_reason = (("gateway", "gw-test"), ("reason", "not_json"))
    assert metrics["citytwin_edge_dead_letters_by_reason_total", by_reason] == 1
    assert metrics["citytwin_edge_outbox_records", gw] >= 1
    assert metrics["citytwin_edge_uploaded_records_total", gw] == 0
    assert metrics["citytwin_edge_refused_records_total", gw] == 0
    assert metrics["citytwin_edge_resident_memory_megabytes", gw] > 10

    await running.stop()
    with pytest.raises(httpx.ConnectError):
        _scrape(port)  # the endpoint closes with the agent


async def test_a_taken_metrics_port_is_a_clear_error(mosquitto: Mosquitto, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        agent = Agent(edge_settings(mosquitto, tmp_path / "edge", metrics_port=port))
        with pytest.raises(ConfigError, match=f"metrics_port: cannot listen on 127.0.0.1:{port}"):
            await agent.run(stop=asyncio.Event())
