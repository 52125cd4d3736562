"""The agent on a real broker: bad input is kept with its reason, good input is windowed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from edge.settings import EdgeSettings
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, publisher, wait_until

TOPIC = "citytwin/v1/sensors/aq-1/readings"


def _good(seq: int, pm25: float) -> bytes:
    body = {"v": 1, "sensor": "aq-1", "kind": "air_quality", "seq": seq, "metrics": {"pm25": pm25}}
    return json.dumps(body).encode()


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_malformed_input_is_dead_lettered_and_the_agent_keeps_going(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    settings = edge_settings(mosquitto, tmp_path / "edge")
    running = start_agent(settings)
    counters = running.agent.pipeline.counters
    pub = publisher(mosquitto)
    await wait_until(lambda: running.agent.uplink is not None)
    await wait_until(lambda: _subscribed(running))
    bad = {
        "not_json": b"\x00\xffnot json at all",
        "bad_value": json.dumps(
            {"sensor": "aq-1", "kind": "air_quality", "seq": 1, "metrics": {"pm25": "high"}}
        ).encode(),
        "bad_seq": json.dumps(
            {"sensor": "aq-1", "kind": "air_quality", "seq": "one", "metrics": {"pm25": 3}}
        ).encode(),
        "unknown_kind": json.dumps(
            {"sensor": "aq-1", "kind": "toaster", "seq": 1, "metrics": {"pm25": 3}}
        ).encode(),
        "too_large": b"{" + b" " * 1_000_000 + b"}",
    }
    pub.publish(TOPIC, _good(0, 10.0), qos=1).wait_for_publish()
    for payload in bad.values():
        pub.publish(TOPIC, payload, qos=1).wait_for_publish()
    pub.publish(TOPIC, _good(1, 20.0), qos=1).wait_for_publish()

    await wait_until(lambda: counters.readings == 2 and counters.dead_letters == len(bad))
    # Counted when decoded; stored by the batch's landing a moment later.
    await wait_until(lambda: len(running.agent.store.dead_letters(100)) == len(bad))
    reasons = {r.reason for r in running.agent.store.dead_letters(100)}
    assert reasons == set(bad)
    [big] = running.agent.store.dead_letters(1, "too_large")
    assert big.size == len(bad["too_large"])  # the size is kept even though the bytes are capped

    await running.stop()
    summaries = [
        json.loads(body)
        for (body,) in _rows(settings.db_path, "SELECT body FROM outbox WHERE type = 'summary'")
    ]
    assert sum(s["count"] for s in summaries) == 2
    assert {s["min"] for s in summaries} | {s["max"] for s in summaries} == {10.0, 20.0}
    pub.loop_stop()


def _subscribed(running: RunningAgent) -> bool:
    return running.agent.source.subscribed


async def test_a_jump_in_sequence_numbers_becomes_a_gap_report(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    settings = edge_settings(mosquitto, tmp_path / "edge")
    running = start_agent(settings)
    await wait_until(lambda: running.agent.source.subscribed)
    pub = publisher(mosquitto)
    for seq in (0, 1, 5):  # 2, 3 and 4 never arrive
        pub.publish(TOPIC, _good(seq, 10.0), qos=1).wait_for_publish()
    pub.loop_stop()
    await wait_until(lambda: running.agent.pipeline.counters.readings == 3)
    await running.stop()
    gaps = [
        json.loads(body)
        for (body,) in _rows(settings.db_path, "SELECT body FROM outbox WHERE type = 'gap'")
    ]
    assert [(g["sensor"], g["count"], g["reason"]) for g in gaps] == [("aq-1", 3, "sequence_gap")]
    assert gaps[0]["start"] <= gaps[0]["end"]
