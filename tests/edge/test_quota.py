"""The disk quota: raw messages go first, then the oldest summaries as gaps, never alerts."""

from __future__ import annotations

import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.store import MessageRow, Store
from edge.store.quota import used_bytes
from tests.conftest import Mosquitto
from tests.edge.conftest import CloudProcess, open_session

QUOTA = 1 << 20
AQ_SENSORS, AQ_READINGS = 40, 100  # five metrics each: five summaries per reading
STUCK_READINGS, STUCK_FROM = 400, 250  # one noise sensor that flatlines: it raises an alert


def _summary(sensor: str, start: float, count: int) -> dict[str, Any]:
    return {"type": "summary", "sensor": sensor, "kind": "noise", "metric": "LAeq",
            "start": start, "end": start + 1, "count": count, "sum": 40.0 * count, "min": 40.0,
            "max": 40.0, "m2": 0.0, "first_ts": start, "last_ts": start, "last_value": 40.0,
            "anomalies": 0, "late": False}  # fmt: skip


def _outbox(db: Path, kind: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT body FROM outbox WHERE type = ?", [kind]).fetchall()
    return [json.loads(body) for (body,) in rows]


async def test_the_store_sheds_summarised_messages_then_summaries_and_keeps_alerts(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "edge.db", dead_letter_max=10, quota_bytes=QUOTA)
    store.open()
    try:
        alert = {"type": "alert", "sensor": "n-1", "kind": "noise", "metric": "LAeq", "ts": 1.0,
                 "value": 99.0, "score": 0.99, "severity": "critical"}  # fmt: skip
        await store.append_numbered([alert], time.time())
        lent = store.pending(1000)  # the uplink has the alert and the first summaries in flight
        next_id, readings = 1, 0
        for step in range(400):
            rows = [
                MessageRow(next_id + k, time.time(), "mqtt", "t", b"x" * 200) for k in range(20)
            ]
            next_id += len(rows)
            await store.store_batch(rows, [])
            summaries = [_summary(f"n-{n}", step, 3) for n in range(10)]
            readings += 30
            # Only the last 100 messages belong to open windows: the rest may go.
            await store.close_windows(summaries, [], next_id - 100, time.time())
            if step == 0:
                lent = store.pending(1000)
        with closing(sqlite3.connect(store.path)) as conn:
            used = used_bytes(conn)
            (ring,) = conn.execute("SELECT COUNT(*) FROM messages").fetchone()
        shed = store.shed()
        remaining = _outbox(store.path, "summary")
        gaps = _outbox(store.path, "gap")
    finally:
        store.close()
    assert used <= QUOTA
    assert shed.messages > 0
    assert shed.summaries > 0
    assert ring >= 100  # the messages of open windows stayed
    assert len(_outbox(store.path, "alert")) == 1
    assert {row.seq for row in lent} <= _seqs(store.path)  # in flight: kept
    assert all(g["reason"] == "shed" for g in gaps)
    assert sum(g["count"] for g in gaps) == shed.readings
    assert sum(s["count"] for s in remaining) + shed.readings == readings
    # Oldest first: per sensor, the shed windows precede those left (but those in flight).
    in_flight = {json.loads(row.body).get("start") for row in lent}
    for gap in gaps:
        left = [s["start"] for s in remaining if s["sensor"] == gap["sensor"]]
        assert gap["end"] <= min(start for start in left if start not in in_flight)


def _seqs(db: Path) -> set[int]:
    with closing(sqlite3.connect(db)) as conn:
        return {seq for (seq,) in conn.execute("SELECT seq FROM outbox")}


# -- a real agent process with the cloud away ---------------------------------------------------


def _flood(broker: Mosquitto) -> int:
    """Publish the readings (QoS 1, all valid); returns how many metric values they hold."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="quota-flood")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    rng = random.Random(7)
    base, infos, values = time.time() - 2 * STUCK_READINGS * 10, [], 0
    for seq in range(AQ_READINGS):
        for n in range(AQ_SENSORS):
            # One second apart: each reading fills windows of its own, five summaries.
            metrics = {m: rng.uniform(5, 60) for m in ("pm25", "pm10", "no2", "o3", "co")}
            body = {"sensor": f"aq-{n}", "kind": "air_quality", "seq": seq,
                    "ts": base + seq, "metrics": metrics}  # fmt: skip
            infos.append(client.publish(f"citytwin/v1/sensors/aq-{n}/readings",
                                        json.dumps(body), qos=1))  # fmt: skip
            values += len(metrics)
    level = [50 + 5 * math.sin(i / 20) + rng.gauss(0, 1) for i in range(STUCK_READINGS)]
    level[STUCK_FROM:] = [level[STUCK_FROM - 1]] * (STUCK_READINGS - STUCK_FROM)
    for seq, value in enumerate(level):
        body = {"sensor": "nz-1", "kind": "noise", "seq": seq, "ts": base + seq * 10,
                "metrics": {"LAeq": value}}  # fmt: skip
        infos.append(client.publish("citytwin/v1/sensors/nz-1/readings", json.dumps(body), qos=1))
        values += 1
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()
    return values


def _siren(broker: Mosquitto) -> tuple[mqtt.Client, list[bytes]]:
    """A local subscriber to the agent's alerts, as a siren on the gateway's broker would be."""
    heard: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="siren")
    client.on_message = lambda _c, _u, message: heard.append(message.payload)
    client.connect("127.0.0.1", broker.port)
    client.subscribe("citytwin/v1/alerts/#", qos=1)
    client.loop_start()
    return client, heard


def _wait(predicate: Any, timeout: float, what: Any = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s: {what()}")
        time.sleep(0.2)


def _query(db: Path, sql: str) -> Any:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchone()[0]


def _latest_heartbeat(db: Path) -> dict[str, Any]:
    if not db.exists():
        return {}  # the agent is still starting
    bodies = _outbox(db, "heartbeat")
    return bodies[-1] if bodies else {}


def test_a_full_store_sheds_and_the_cloud_gets_gaps_that_match(
    mosquitto: Mosquitto, cloud: CloudProcess, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    edge_db = tmp_path / "edge" / "edge.db"
    config.write_text(
        'gateway_id = "gw-quota"\n'
        f'data_dir = "{tmp_path / "edge"}"\n'
        "heartbeat_s = 1\n"
        f'[mqtt]\nurl = "{mosquitto.url}"\n'
        f'[cloud]\nurl = "{cloud.url}"\nbatch_interval_s = 0.2\nbackoff_max_s = 1\n'
        "[windows]\nlength_s = 1\nlateness_s = 0.5\n"
        f"[store]\nquota_bytes = {QUOTA}\n"
    )
    siren, heard = _siren(mosquitto)
    open_session(mosquitto, "gw-quota")  # the broker keeps every reading for the agent
    log = tmp_path / "agent.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "citytwin", "edge", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        readings = AQ_SENSORS * AQ_READINGS + STUCK_READINGS
        values = _flood(mosquitto)
        # The cloud is away: everything is windowed into a store too small to hold it.
        _wait(
            lambda: (
                _latest_heartbeat(edge_db).get("readings_total") == readings
                and _latest_heartbeat(edge_db).get("shed_total", 0) > 0
            ),
            60,
            lambda: f"{_latest_heartbeat(edge_db)}\n{log.read_text()[-2000:]}",
        )
        time.sleep(3)  # every window closes (length + lateness without news)
        with closing(sqlite3.connect(edge_db)) as conn:
            assert used_bytes(conn) <= QUOTA
        cloud.start()
        _wait(lambda: not _outbox(edge_db, "summary") and not _outbox(edge_db, "gap"), 60)
        _wait(  # the cloud's last heartbeat has the final count
            lambda: _cloud_heartbeat(cloud)["shed_total"] == _shed_counters(edge_db)["readings"],
            20,
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
        siren.loop_stop()
    assert code == 0, log.read_text()[-3000:]

    delivered = _query(cloud.database, "SELECT COALESCE(SUM(count), 0) FROM windows")
    shed = _query(cloud.database, "SELECT COALESCE(SUM(count), 0) FROM gaps WHERE reason = 'shed'")
    counters = _shed_counters(edge_db)
    assert counters["messages"] > 0
    assert counters["summaries"] > 0
    assert shed == counters["readings"] > 0
    assert delivered > 0
    assert delivered + shed == values  # every reading delivered or reported as shed, once
    assert _query(cloud.database, "SELECT COUNT(*) FROM gaps WHERE reason != 'shed'") == 0
    alerts = _query(cloud.database, "SELECT COUNT(*) FROM alerts")
    assert alerts == len(heard) > 0  # every alert raised reached the cloud: none was shed


def _cloud_heartbeat(cloud: CloudProcess) -> dict[str, Any]:
    body = _query(cloud.database, "SELECT heartbeat FROM gateways WHERE id = 'gw-quota'")
    return json.loads(body) if body else {"shed_total": -1}


def _shed_counters(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT name, value FROM counters WHERE name LIKE 'shed_%'")
        return {name.removeprefix("shed_"): value for name, value in rows}
