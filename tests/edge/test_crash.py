"""kill -9 of the agent in the middle of a flood loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Mosquitto
from tests.edge.conftest import open_session
from tests.support.cloud import CloudServer

SENSORS = 20
PER_SENSOR = 1000


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    server = CloudServer(tmp_path / "cloud.db")
    server.start()
    yield server
    server.stop()


def _agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "citytwin", "edge", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _flood(broker: Mosquitto, done: threading.Event) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    infos = []
    for seq in range(PER_SENSOR):
        for n in range(SENSORS):
            body = {"sensor": f"n-{n}", "kind": "noise", "seq": seq, "ts": time.time(),
                    "metrics": {"LAeq": 40.0 + seq % 7}}  # fmt: skip
            infos.append(
                client.publish(f"citytwin/v1/sensors/n-{n}/readings", json.dumps(body), qos=1)
            )
        if seq % 25 == 0:
            time.sleep(0.1)  # a steady flood over a few seconds, not one burst
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()
    done.set()


def _cloud_count(cloud: CloudServer) -> int:
    with sqlite3.connect(cloud.settings.database) as db:
        (count,) = db.execute("SELECT COALESCE(SUM(count), 0) FROM windows").fetchone()
    return int(count)


def test_kill_9_during_a_flood_loses_and_duplicates_nothing(
    mosquitto: Mosquitto, cloud: CloudServer, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'gateway_id = "gw-crash"\n'
        f'data_dir = "{tmp_path / "edge"}"\n'
        "heartbeat_s = 5\n"
        f'[mqtt]\nurl = "{mosquitto.url}"\n'
        f'[cloud]\nurl = "{cloud.url}"\nbatch_interval_s = 0.2\n'
        "[windows]\nlength_s = 1\nlateness_s = 0.5\n"
    )
    log = tmp_path / "agent.log"
    open_session(mosquitto, "gw-crash")  # the broker keeps every reading for the agent
    agent = _agent(config, log)
    done = threading.Event()
    flood = threading.Thread(target=_flood, args=(mosquitto, done))
    flood.start()
    while _cloud_count(cloud) == 0:  # kill once data flows end to end, mid-flood
        time.sleep(0.05)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    killed_at = _cloud_count(cloud)
    assert not done.is_set()
    agent = _agent(config, log)
    flood.join(60)
    assert done.is_set()
    deadline = time.monotonic() + 60
    while _cloud_count(cloud) < SENSORS * PER_SENSOR and time.monotonic() < deadline:
        time.sleep(0.5)
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0, log.read_text()[-3000:]
    assert 0 < killed_at < SENSORS * PER_SENSOR  # the kill really happened mid-flood
    assert _cloud_count(cloud) == SENSORS * PER_SENSOR, log.read_text()[-3000:]
