"""The cloud away for a while, the broker restarted: everything arrives, exactly once."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from edge.settings import EdgeSettings
from tests.conftest import Mosquitto
from tests.edge.conftest import CloudProcess, RunningAgent, edge_settings, publisher, wait_until


def _publish(broker: Mosquitto, sensors: int, seqs: range) -> None:
    client = publisher(broker)
    infos = []
    for seq in seqs:
        for n in range(sensors):
            body = {"sensor": f"p-{n}", "kind": "parking", "seq": seq, "ts": time.time(),
                    "metrics": {"occupancy": (seq % 10) / 10}}  # fmt: skip
            topic = f"citytwin/v1/sensors/p-{n}/readings"
            infos.append(client.publish(topic, json.dumps(body), qos=1))
        time.sleep(0.01)
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()


async def test_cloud_outage_backlog_is_delivered_exactly_once(
    mosquitto: Mosquitto,
    cloud: CloudProcess,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    settings = edge_settings(
        mosquitto, tmp_path / "edge", cloud.url,
        cloud={"url": cloud.url, "batch_interval_s": 0.2, "backoff_max_s": 1.0},
    )  # fmt: skip
    running = start_agent(settings)
    await wait_until(lambda: running.agent.source.subscribed)
    _publish(mosquitto, sensors=10, seqs=range(100))
    uplink = running.agent.uplink
    assert uplink is not None
    # Offline: windows close into the outbox and uploads fail, nothing is lost meanwhile.
    await wait_until(lambda: running.agent.store.depth()[0] >= 10 and uplink.state.failures >= 2)
    assert uplink.state.sent == 0

    cloud.start()
    await wait_until(lambda: cloud.summed_count() == 1000, timeout=30)
    await wait_until(lambda: running.agent.store.depth()[0] == 0, timeout=30)
    await running.stop()
    assert cloud.summed_count() == 1000
    gateways = httpx.get(f"{cloud.url}/api/v1/gateways").json()["items"]  # noqa: ASYNC210
    assert [g["id"] for g in gateways] == ["gw-test"]


async def test_broker_restart_mid_stream_loses_nothing(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    running = start_agent(edge_settings(mosquitto, tmp_path / "edge"))
    await wait_until(lambda: running.agent.source.subscribed)
    _publish(mosquitto, sensors=5, seqs=range(50))
    counters = running.agent.pipeline.counters
    await wait_until(lambda: counters.readings == 250, what=lambda: f"{counters}")
    mosquitto.restart()
    source = running.agent.source
    await wait_until(
        lambda: source.connects >= 2 and source.subscribed,
        what=lambda: f"connects={source.connects} subscribed={source.subscribed}",
    )
    _publish(mosquitto, sensors=5, seqs=range(50, 100))
    await wait_until(lambda: counters.readings == 500, what=lambda: f"{counters}")
    await running.stop()
    # The broker may deliver again what it had not seen acknowledged before the restart:
    # those copies are recognised as duplicates, so every reading counts exactly once.
    assert counters.readings == 500
    assert counters.messages == 500 + counters.duplicates
    assert counters.missing == 0
    with sqlite3.connect(running.agent.settings.db_path) as db:
        bodies = db.execute("SELECT body FROM outbox WHERE type = 'summary'").fetchall()
    assert sum(json.loads(b)["count"] for (b,) in bodies) == 500
