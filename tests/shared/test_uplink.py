"""The gateway -> cloud batch: what validates, what is refused, and how it is encoded."""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from shared.wire import uplink
from shared.wire.uplink import Batch, DesiredState, IngestResult

SUMMARY: dict[str, Any] = {
    "seq": 1, "type": "summary", "sensor": "aq-0042", "kind": "air_quality", "metric": "pm25",
    "start": 1717243200.0, "end": 1717243260.0, "count": 2, "sum": 24.0, "min": 11.0,
    "max": 13.0, "m2": 2.0, "first_ts": 1717243205.0, "last_ts": 1717243255.0,
    "last_value": 13.0,
}  # fmt: skip
ALERT: dict[str, Any] = {
    "seq": 2, "type": "alert", "sensor": "aq-0042", "kind": "air_quality", "metric": "pm25",
    "ts": 1717243255.0, "value": 480.0, "score": 0.9, "severity": "critical",
}  # fmt: skip
HEARTBEAT: dict[str, Any] = {
    "seq": 3, "type": "heartbeat", "ts": 1717243260.0, "uptime_s": 60.0, "cpu_percent": 3.0,
    "rss_mb": 80.0, "disk_free_mb": 1000.0, "buffer_depth": 0, "oldest_unsent_age_s": 0.0,
    "readings_total": 10, "readings_per_s": 0.2, "dead_letter_total": 0, "shed_total": 0,
}  # fmt: skip
GAP: dict[str, Any] = {
    "seq": 4, "type": "gap", "start": 1717243200.0, "end": 1717243260.0, "count": 3,
    "reason": "shed",
}  # fmt: skip
RECORDS = [SUMMARY, ALERT, HEARTBEAT, GAP]


def envelope(*records: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A valid batch dict of ``records`` (all four kinds by default), with fields replaced."""
    body = {"v": 1, "gateway": "gw-1", "sent_at": 1717243261.0, "records": list(records or RECORDS)}
    return {k: v for k, v in (body | changes).items() if v is not ...}


def test_every_record_type_validates() -> None:
    batch = Batch.model_validate(envelope())
    types = [type(r) for r in batch.records]
    assert types == [uplink.Summary, uplink.Alert, uplink.Heartbeat, uplink.Gap]
    assert [r.seq for r in batch.records] == [1, 2, 3, 4]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["type"])
def test_record_from_dict(record: dict[str, Any]) -> None:
    dumped = uplink.record_from_dict(record).model_dump()
    assert {name: dumped[name] for name in record} == record


def with_(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``record`` with fields replaced (or removed, for the value ``...``)."""
    return {k: v for k, v in (record | changes).items() if v is not ...}


INVALID: list[tuple[str, dict[str, Any]]] = [
    ("version 2", envelope(v=2)),
    ("version as string", envelope(v="1")),
    ("no gateway", envelope(gateway=...)),
    ("bad gateway id", envelope(gateway="gw 1")),
    ("gateway id with a newline", envelope(gateway="gw-1\n")),
    ("gateway id too long", envelope(gateway="g" * 65)),
    ("negative sent_at", envelope(sent_at=-1)),
    ("no records", envelope(records=[])),
    ("too many records", envelope(records=[GAP] * (uplink.MAX_RECORDS + 1))),
    ("extra envelope field", envelope(extra=1)),
    ("unknown record type", envelope(with_(GAP, type="reading"))),
    ("record without type", envelope(with_(GAP, type=...))),
    ("record without seq", envelope(with_(GAP, seq=...))),
    ("negative seq", envelope(with_(GAP, seq=-1))),
    ("extra record field", envelope(with_(SUMMARY, colour="red"))),
    ("summary count 0", envelope(with_(SUMMARY, count=0))),
    ("summary negative m2", envelope(with_(SUMMARY, m2=-1.0))),
    ("summary min above max", envelope(with_(SUMMARY, min=14.0))),
    ("summary start after end", envelope(with_(SUMMARY, start=1717243261.0))),
    ("summary first after last", envelope(with_(SUMMARY, first_ts=1717243256.0))),
    ("summary NaN sum", envelope(with_(SUMMARY, sum=math.nan))),
    ("summary infinite end", envelope(with_(SUMMARY, end=math.inf))),
    ("summary max_score above 1", envelope(with_(SUMMARY, max_score=1.5))),
    ("summary bad sensor", envelope(with_(SUMMARY, sensor="a/b"))),
    ("alert score above 1", envelope(with_(ALERT, score=1.1))),
    ("alert bad severity", envelope(with_(ALERT, severity="panic"))),
    ("alert NaN value", envelope(with_(ALERT, value=math.nan))),
    ("heartbeat negative depth", envelope(with_(HEARTBEAT, buffer_depth=-1))),
    ("heartbeat missing field", envelope(with_(HEARTBEAT, rss_mb=...))),
    ("gap bad reason", envelope(with_(GAP, reason="lost"))),
    ("gap start after end", envelope(with_(GAP, start=1717243300.0))),
]


@pytest.mark.parametrize("data", [i[1] for i in INVALID], ids=[i[0] for i in INVALID])
def test_invalid_batches_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Batch.model_validate(data)


def test_nan_in_json_is_refused() -> None:
    text = json.dumps(envelope(with_(SUMMARY, sum=math.nan)))
    assert "NaN" in text
    with pytest.raises(ValidationError):
        Batch.model_validate_json(text)


def test_largest_batch_validates() -> None:
    records = [with_(GAP, seq=i) for i in range(uplink.MAX_RECORDS)]
    assert len(Batch.model_validate(envelope(*records)).records) == uplink.MAX_RECORDS


def test_encode_batch_round_trip() -> None:
    batch = Batch.model_validate(envelope())
    body = uplink.encode_batch(batch)
    assert body[:2] == b"\x1f\x8b"  # gzip magic
    assert Batch.model_validate_json(gzip.decompress(body)) == batch
    plain = uplink.encode_batch(batch, compress=False)
    assert Batch.model_validate_json(plain) == batch
    assert b"null" not in plain  # absent optional fields are left out, not sent as null


def test_encode_records_matches_encode_batch() -> None:
    batch = Batch.model_validate(envelope())
    records = [r.model_dump_json(exclude_none=True) for r in batch.records]
    body = uplink.encode_records(batch.gateway, batch.sent_at, records)
    assert Batch.model_validate_json(gzip.decompress(body)) == batch


def test_answers_ignore_fields_a_newer_cloud_may_add() -> None:
    text = '{"accepted": 1, "duplicates": 0, "desired": {"config_version": 2, "x": 1}, "y": 2}'
    result = IngestResult.model_validate_json(text)
    assert result == IngestResult(accepted=1, duplicates=0, desired=DesiredState(config_version=2))


def test_desired_state_defaults() -> None:
    assert DesiredState.model_validate({}) == DesiredState(config_version=0, model_version=None)
