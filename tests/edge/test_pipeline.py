"""The pipeline's two halves: what a restart must replay while batches are in flight."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.pipeline import Pipeline
from edge.settings import EdgeSettings
from edge.sources.base import RawMessage


def _message(sensor: str, seq: int, ts: float) -> RawMessage:
    body = {"sensor": sensor, "kind": "noise", "seq": seq, "ts": ts, "metrics": {"LAeq": 50.0}}
    topic = f"citytwin/v1/sensors/{sensor}/readings"
    return RawMessage("mqtt", topic, json.dumps(body).encode(), ts + 0.1)


def test_replay_covers_batches_prepared_but_not_yet_windowed(tmp_path: Path) -> None:
    """Two sources each have a batch in flight; the later one is windowed first. Until the
    earlier one is windowed too, a restart must replay it (its readings are in no window)."""
    pipeline = Pipeline(EdgeSettings(gateway_id="gw", data_dir=tmp_path))
    now = time.time()
    serial = pipeline.prepare([_message("a", 0, now - 100)])
    mqtt = pipeline.prepare([_message("b", 0, now - 100)])
    assert (serial.first_id, mqtt.first_id) == (1, 2)
    pipeline.window(mqtt, pipeline.score(mqtt))
    assert [w.sensor for w in pipeline.close_due(now)] == ["b"]
    assert pipeline.replay_from() == 1  # not 3: message 1 is stored and summarised nowhere
    pipeline.window(serial, pipeline.score(serial))
    assert pipeline.replay_from() == 1  # its window is open now
    assert [w.sensor for w in pipeline.close_due(now)] == ["a"]
    assert pipeline.replay_from() == 3


def test_a_batch_of_only_rejections_holds_nothing_back(tmp_path: Path) -> None:
    pipeline = Pipeline(EdgeSettings(gateway_id="gw", data_dir=tmp_path))
    bad = RawMessage("mqtt", "citytwin/v1/sensors/a/readings", b"{not json", time.time())
    prepared = pipeline.prepare([bad])
    assert prepared.stored == []
    assert len(prepared.rejections) == 1
    assert pipeline.replay_from() == 1


def test_a_batch_of_only_duplicates_does_not_release_the_next_batch(tmp_path: Path) -> None:
    """Redelivered messages store nothing; windowing them must not end the hold of a batch
    prepared after them."""
    pipeline = Pipeline(EdgeSettings(gateway_id="gw", data_dir=tmp_path))
    now = time.time()
    first = pipeline.prepare([_message("a", 0, now - 100)])
    pipeline.window(first, pipeline.score(first))
    again = pipeline.prepare([_message("a", 0, now - 100)])  # a redelivery: a duplicate
    assert again.stored == []
    later = pipeline.prepare([_message("b", 0, now - 100)])
    assert later.first_id == 2
    pipeline.window(again, pipeline.score(again))
    pipeline.close_due(now)
    assert pipeline.replay_from() == 2  # message 2 is in no window yet
