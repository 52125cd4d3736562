"""Anomalies become one alert each: stored for the cloud and published on the local broker."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.pipeline import Prepared, Scoring
from edge.settings import EdgeSettings
from shared.wire.mqtt import decode_alert
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, publisher, wait_until

N, STUCK_FROM = 400, 250


def _series() -> list[float]:
    rng = random.Random(1)
    values = [50 + 5 * math.sin(i / 20) + rng.gauss(0, 1) for i in range(N)]
    return values[:STUCK_FROM] + [values[STUCK_FROM - 1]] * (N - STUCK_FROM)  # flatlined


def _publish_series(broker: Mosquitto) -> float:
    """Publish the series as one noise sensor, ten seconds apart; returns the first time."""
    pub = publisher(broker)
    start = time.time() - N * 10
    for seq, value in enumerate(_series()):
        body = {"sensor": "nz-1", "kind": "noise", "seq": seq, "ts": start + seq * 10,
                "metrics": {"LAeq": value}}  # fmt: skip
        pub.publish("citytwin/v1/sensors/nz-1/readings", json.dumps(body), qos=1)
    pub.loop_stop()
    return start


async def test_a_stuck_sensor_raises_one_alert_locally_and_upstream(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    local: list[bytes] = []
    heard = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        local.append(message.payload)
        heard.set()

    siren = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="siren")
    siren.on_message = on_message
    siren.connect("127.0.0.1", mosquitto.port)
    siren.subscribe("citytwin/v1/alerts/#", qos=1)
    siren.loop_start()

    settings = edge_settings(mosquitto, tmp_path / "edge", windows={"length_s": 60})
    running = start_agent(settings)
    await wait_until(lambda: running.agent.source.subscribed)
    start = _publish_series(mosquitto)
    await wait_until(lambda: running.agent.pipeline.counters.readings == N, timeout=20)
    await wait_until(heard.is_set, timeout=10)
    await running.stop()
    siren.loop_stop()

    with sqlite3.connect(settings.db_path) as db:
        rows = db.execute("SELECT seq, body FROM outbox WHERE type = 'alert'").fetchall()
        summaries = [json.loads(b) for (b,) in db.execute(
            "SELECT body FROM outbox WHERE type = 'summary'")]  # fmt: skip
    assert len(rows) == 1  # one incident, one alert
    seq, body = rows[0]
    alert = json.loads(body)
    assert alert["sensor"] == "nz-1"
    assert alert["metric"] == "LAeq"
    assert alert["ts"] >= start + STUCK_FROM * 10
    published = decode_alert(local[0])
    assert published.seq == seq
    assert published.ts == alert["ts"]
    assert sum(s["anomalies"] for s in summaries) >= 1
    assert max(s.get("max_score", 0.0) for s in summaries) >= 0.8


async def test_stopping_while_a_batch_is_scored_loses_neither_its_alert_nor_its_readings(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    settings = edge_settings(mosquitto, tmp_path / "edge", windows={"length_s": 60})
    running = start_agent(settings)
    pipeline = running.agent.pipeline
    score = pipeline.score

    def slow_score(prepared: Prepared) -> Scoring:
        time.sleep(0.5)  # injected: a scorer still busy when the stop comes
        return score(prepared)

    pipeline.score = slow_score  # type: ignore[method-assign]
    await wait_until(lambda: running.agent.source.subscribed)
    _publish_series(mosquitto)
    # Every reading decoded and stored: the last batch is on the scorer thread right now.
    await wait_until(lambda: pipeline.counters.readings == N, timeout=20)
    await running.stop()

    with sqlite3.connect(settings.db_path) as db:
        alerts = db.execute("SELECT COUNT(*) FROM outbox WHERE type = 'alert'").fetchone()[0]
        summaries = [json.loads(b) for (b,) in db.execute(
            "SELECT body FROM outbox WHERE type = 'summary'")]  # fmt: skip
    assert alerts == 1
    assert sum(s["count"] for s in summaries) == N
