"""Builders of valid v1 uplink records and batches; keyword arguments override any field."""

from __future__ import annotations

from typing import Any

from shared.wire.uplink import Alert, Batch, Gap, Heartbeat, Record, Summary, encode_batch

T0 = 1_700_000_000.0  # a fixed epoch, so tests read the same every run


def summary(seq: int, sensor: str = "aq-0001", **fields: Any) -> Summary:
    """A one-minute pm25 window of an air-quality sensor, ending with ``last_value``."""
    start = fields.pop("start", T0)
    value = fields.pop("last_value", 12.5)
    data: dict[str, Any] = {
        "seq": seq, "sensor": sensor, "kind": "air_quality", "metric": "pm25",
        "start": start, "end": start + 60, "count": 6, "sum": value * 6, "min": value,
        "max": value, "m2": 0.0, "first_ts": start, "last_ts": start + 50,
        "last_value": value,
    }  # fmt: skip
    return Summary.model_validate(data | fields)


def alert(seq: int, sensor: str = "aq-0001", **fields: Any) -> Alert:
    """A critical pm25 alert."""
    data: dict[str, Any] = {
        "seq": seq, "sensor": sensor, "kind": "air_quality", "metric": "pm25", "ts": T0 + 30,
        "value": 480.0, "high": 250.0, "score": 0.97, "severity": "critical",
        "reason": "above the physical range of a healthy sensor",
    }  # fmt: skip
    return Alert.model_validate(data | fields)


def heartbeat(seq: int, **fields: Any) -> Heartbeat:
    """A healthy gateway's heartbeat."""
    data: dict[str, Any] = {
        "seq": seq, "ts": T0, "uptime_s": 3600.0, "cpu_percent": 12.0, "rss_mb": 80.0,
        "disk_free_mb": 9000.0, "buffer_depth": 42, "oldest_unsent_age_s": 1.5,
        "readings_total": 100_000, "readings_per_s": 25.0, "dead_letter_total": 0,
        "shed_total": 0, "model_version": "aq-ae-3", "config_version": 1,
    }  # fmt: skip
    return Heartbeat.model_validate(data | fields)


def gap(seq: int, **fields: Any) -> Gap:
    """Readings the gateway shed under pressure."""
    data: dict[str, Any] = {
        "seq": seq, "sensor": "aq-0001", "metric": "pm25", "start": T0, "end": T0 + 600,
        "count": 60, "reason": "shed",
    }  # fmt: skip
    return Gap.model_validate(data | fields)


def batch(records: list[Record], gateway: str = "gw-01", sent_at: float = T0 + 120) -> Batch:
    """A batch of ``records`` from ``gateway``."""
    return Batch(gateway=gateway, sent_at=sent_at, records=records)


def body(records: list[Record], gateway: str = "gw-01", *, compress: bool = True) -> bytes:
    """A request body: the batch as JSON, gzip-compressed unless ``compress`` is False."""
    return encode_batch(batch(records, gateway), compress=compress)
