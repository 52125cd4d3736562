"""A record the cloud refuses for what it holds is set aside; the rest of the outbox flows."""

from __future__ import annotations

import http.server
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.settings import EdgeSettings
from edge.store import Store, refused
from tests.conftest import Mosquitto
from tests.edge.conftest import CloudProcess, RunningAgent, edge_settings, publisher, wait_until

# What an agent of another version might have queued: the cloud's schema refuses it (422).
_BAD = {"type": "summary", "sensor": "old-1", "metric": "LAeq", "start": 0.0}


async def _queue_bad_record(settings: EdgeSettings) -> int:
    store = Store(settings.db_path, dead_letter_max=100)
    store.open()
    try:
        [seq] = await store.append_numbered([_BAD], time.time())
    finally:
        store.close()
    return seq


async def test_a_refused_record_is_set_aside_and_can_be_retried(
    mosquitto: Mosquitto,
    cloud: CloudProcess,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    settings = edge_settings(
        mosquitto, tmp_path / "edge", cloud.url,
        cloud={"url": cloud.url, "batch_interval_s": 0.2, "backoff_max_s": 1.0},
    )  # fmt: skip
    bad_seq = await _queue_bad_record(settings)
    cloud.start()
    running = start_agent(settings)
    await wait_until(lambda: running.agent.source.subscribed)
    pub = publisher(mosquitto)
    for seq in range(20):
        for n in range(5):
            body = {"sensor": f"p-{n}", "kind": "parking", "seq": seq, "ts": time.time(),
                    "metrics": {"occupancy": 0.5}}  # fmt: skip
            pub.publish(f"citytwin/v1/sensors/p-{n}/readings", json.dumps(body), qos=1)
    pub.loop_stop()
    uplink = running.agent.uplink
    assert uplink is not None
    # Everything else reaches the cloud although the outbox's first record is refused.
    await wait_until(lambda: cloud.summed_count() == 100, timeout=30)
    await wait_until(lambda: uplink.state.refused == 1, timeout=30)
    await running.stop()

    [record] = _refused(settings)
    assert record[0] == bad_seq
    assert record[1] == 422
    listed = _citytwin("edge", "refused", "list", "--data-dir", str(settings.data_dir))
    assert f"{bad_seq}" in listed
    assert "cloud said 422" in listed
    retried = _citytwin("edge", "refused", "retry", "--data-dir", str(settings.data_dir))
    assert retried.startswith("1 records back in the outbox")
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("SELECT seq FROM outbox WHERE type = 'summary' AND body LIKE '%old-1%'"
                          ).fetchall() == [(bad_seq,)]  # fmt: skip
        assert db.execute("SELECT COUNT(*) FROM refused").fetchone() == (0,)


def _citytwin(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "citytwin", *args],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _refused(settings: EdgeSettings) -> list[tuple[int, int]]:
    with sqlite3.connect(settings.db_path) as db:
        return db.execute("SELECT seq, status FROM refused").fetchall()


class _RefusesEverything(http.server.BaseHTTPRequestHandler):
    """A cloud gone wrong: every batch is 'invalid'."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"detail":"invalid batch: everything"}'
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


async def test_nothing_is_set_aside_when_the_cloud_refuses_everything(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusesEverything)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings = edge_settings(
        mosquitto, tmp_path / "edge", url,
        cloud={"url": url, "batch_interval_s": 0.2, "backoff_max_s": 0.5},
    )  # fmt: skip
    await _queue_bad_record(settings)
    running = start_agent(settings)
    agent = running.agent
    await wait_until(lambda: agent.uplink is not None and agent.uplink.state.rejected >= 6)
    await running.stop()
    server.shutdown()
    server.server_close()
    uplink = agent.uplink
    assert uplink is not None
    assert uplink.state.refused == 0  # the records wait: the cloud, not they, is at fault
    assert _refused(settings) == []
    with sqlite3.connect(settings.db_path) as db:
        waiting = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert waiting >= 2  # the queued record and the agent's heartbeats


async def test_the_refused_table_keeps_the_newest_records_by_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refused, "KEEP", 2)
    store = Store(tmp_path / "edge.db", dead_letter_max=100)
    store.open()
    try:
        seqs = []
        for _ in range(3):
            seqs += await store.append_numbered([_BAD], time.time())
            await store.append([{"type": "heartbeat"}] * 50, time.time())  # seqs move on
        await store.refuse(seqs[0], 422, "invalid")
        await store.refuse(seqs[1], 422, "invalid")
        both = [record.seq for record in store.refused(10)]
        await store.refuse(seqs[2], 422, "invalid")
        newest = [record.seq for record in store.refused(10)]
    finally:
        store.close()
    assert both == [seqs[1], seqs[0]]  # two records, however far apart their seqs
    assert newest == [seqs[2], seqs[1]]
