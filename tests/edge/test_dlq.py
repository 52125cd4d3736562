"""`citytwin edge dlq replay`: fix the config, replay what was refused, and the cloud gets it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import Mosquitto
from tests.edge.conftest import open_session, publisher
from tests.edge.test_cli import citytwin
from tests.support.cloud import CloudServer

TOPIC = "citytwin/v1/sensors/aq-1/readings"
OLD = 2 * 3600.0  # the readings a sensor kept while offline: two hours old


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    server = CloudServer(tmp_path / "cloud.db")
    server.start()
    yield server
    server.stop()


def _config(path: Path, broker: Mosquitto, cloud: CloudServer, max_age_s: float) -> None:
    path.write_text(
        'gateway_id = "gw-dlq"\n'
        f'data_dir = "{path.parent / "edge"}"\n'
        f'[mqtt]\nurl = "{broker.url}"\n'
        f'[cloud]\nurl = "{cloud.url}"\nbatch_interval_s = 0.2\n'
        "[windows]\nlength_s = 1\nlateness_s = 0.5\n"
        f"[validation]\nmax_age_s = {max_age_s}\n"
    )


def _agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "citytwin", "edge", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(agent: subprocess.Popen[bytes], log: Path) -> None:
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0, log.read_text()[-3000:]


def _wait(predicate: object, timeout: float, what: object = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s {what}")
        time.sleep(0.2)


def _one(db: Path, sql: str) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_replay_after_fixing_the_config_delivers_what_was_refused(
    mosquitto: Mosquitto, cloud: CloudServer, tmp_path: Path
) -> None:
    config, log = tmp_path / "gateway.toml", tmp_path / "agent.log"
    edge_db, cloud_db = tmp_path / "edge" / "edge.db", cloud.settings.database
    _config(config, mosquitto, cloud, max_age_s=3600)
    open_session(mosquitto, "gw-dlq")  # the broker keeps every reading for the agent
    agent = _agent(config, log)
    pub, now = publisher(mosquitto), time.time()
    for seq in range(10):  # five readings two hours old, refused as stale, then five live ones
        ts = now - OLD + seq if seq < 5 else now
        body = {"sensor": "aq-1", "kind": "air_quality", "seq": seq, "ts": ts,
                "metrics": {"pm25": 10.0 + seq}}  # fmt: skip
        pub.publish(TOPIC, json.dumps(body), qos=1).wait_for_publish()
    pub.publish(TOPIC, b"{not json", qos=1).wait_for_publish()
    pub.loop_stop()
    _wait(lambda: edge_db.exists() and _one(edge_db, "SELECT COUNT(*) FROM dead_letters") == 6, 20)
    _wait(lambda: _one(cloud_db, "SELECT COALESCE(SUM(count), 0) FROM windows") == 5, 20)

    busy = citytwin("edge", "dlq", "replay", "--config", str(config))
    assert busy.returncode != 0
    assert "in use by process" in busy.stderr
    assert "stop it first" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
    beside = citytwin("edge", "dlq", "list", "--config", str(config), "--reason", "stale_ts")
    assert beside.returncode == 0, beside.stderr
    assert beside.stdout.count("stale_ts") == 5
    _stop(agent, log)

    _config(config, mosquitto, cloud, max_age_s=86400)  # the technician widens the limit
    done = citytwin("edge", "dlq", "replay", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "accepted 5 dead letters (5 readings)" in done.stdout
    assert "still failing 1 (not_json 1)" in done.stdout
    left = citytwin("edge", "dlq", "list", "--config", str(config))
    assert "not_json" in left.stdout
    assert "stale_ts" not in left.stdout

    agent = _agent(config, log)
    try:
        _wait(lambda: _one(cloud_db, "SELECT COALESCE(SUM(count), 0) FROM windows") == 10, 30)
    finally:
        _stop(agent, log)
    # Delivered once, with the times they were observed at, not the time of the replay.
    assert _one(cloud_db, "SELECT COALESCE(SUM(count), 0) FROM windows") == 10
    assert (
        _one(cloud_db, f"SELECT COUNT(*) FROM windows WHERE window_start < {now - OLD + 10}") == 5
    )
    assert _one(edge_db, "SELECT COUNT(*) FROM dead_letters") == 1
    again = citytwin("edge", "dlq", "replay", "--config", str(config))
    assert "accepted 0 dead letters" in again.stdout  # nothing replays twice
