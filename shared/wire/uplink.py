"""Gateway -> cloud batches, and the desired state the cloud answers with (docs/protocol.md).

A gateway POSTs a ``Batch`` (JSON, usually gzip-compressed) to ``/api/v1/ingest``. Every
record carries the gateway's outbox sequence number, so (gateway, seq) names it forever: the
cloud stores each key once and a re-sent batch changes nothing. Times are UTC epoch seconds.
"""

from __future__ import annotations

import gzip
import json
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from shared import PROTOCOL_VERSION
from shared.reading import SENSOR_ID

INGEST_PATH: Final = "/api/v1/ingest"
MAX_RECORDS: Final = 5000
MAX_BODY: Final = 8 * 1024 * 1024

# pydantic searches a pattern anywhere in the string: anchor it, or "gw 1" would pass as "gw".
SensorId = Annotated[str, Field(pattern=f"^{SENSOR_ID.pattern}$", max_length=64)]
Seq = Annotated[int, Field(ge=0)]
Time = Annotated[float, Field(ge=0)]


class _Record(BaseModel):
    # NaN and infinity would be serialised as null and then refused by the cloud: stop them here.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    seq: Seq


class Summary(_Record):
    """Mergeable statistics of one metric of one sensor over one tumbling window."""

    type: Literal["summary"] = "summary"
    sensor: SensorId
    kind: str
    metric: str
    start: Time
    end: Time
    count: Annotated[int, Field(ge=1)]
    sum: float
    min: float
    max: float
    m2: Annotated[float, Field(ge=0)]
    first_ts: Time
    last_ts: Time
    last_value: float
    anomalies: Annotated[int, Field(ge=0)] = 0
    max_score: Annotated[float, Field(ge=0, le=1)] | None = None
    expected: Annotated[int, Field(ge=0)] | None = None
    late: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_order("start", self.start, "end", self.end)
        _check_order("min", self.min, "max", self.max)
        _check_order("first_ts", self.first_ts, "last_ts", self.last_ts)
        return self


class Alert(_Record):
    """One abnormal reading, sent ahead of everything else."""

    type: Literal["alert"] = "alert"
    sensor: SensorId
    kind: str
    metric: str
    ts: Time
    value: float
    low: float | None = None
    high: float | None = None
    score: Annotated[float, Field(ge=0, le=1)]
    severity: Literal["info", "warning", "critical"]
    reason: str = ""


class Heartbeat(_Record):
    """The gateway's own health, as measured on the gateway."""

    type: Literal["heartbeat"] = "heartbeat"
    ts: Time
    uptime_s: Annotated[float, Field(ge=0)]
    cpu_percent: Annotated[float, Field(ge=0)]
    rss_mb: Annotated[float, Field(ge=0)]
    disk_free_mb: Annotated[float, Field(ge=0)]
    buffer_depth: Annotated[int, Field(ge=0)]
    oldest_unsent_age_s: Annotated[float, Field(ge=0)]
    readings_total: Annotated[int, Field(ge=0)]
    readings_per_s: Annotated[float, Field(ge=0)]
    dead_letter_total: Annotated[int, Field(ge=0)]
    shed_total: Annotated[int, Field(ge=0)]
    model_version: str | None = None
    config_version: int = 0
    clock_offset_s: float | None = None


class Gap(_Record):
    """Data the gateway knows it does not have or could not keep: the cloud shows it as a gap."""

    type: Literal["gap"] = "gap"
    sensor: SensorId | None = None
    metric: str | None = None
    start: Time
    end: Time
    count: Annotated[int, Field(ge=0)]
    reason: Literal["shed", "sequence_gap", "dead_letter"]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_order("start", self.start, "end", self.end)
        return self


def _check_order(low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise ValueError(f"{low_name} ({low}) is after {high_name} ({high})")


Record = Annotated[Summary | Alert | Heartbeat | Gap, Field(discriminator="type")]


class Batch(BaseModel):
    """The envelope of one upload."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    v: Literal[1] = 1
    gateway: SensorId
    sent_at: Time
    records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)]


class DesiredState(BaseModel):
    """What the cloud wants the gateway to run; the gateway converges to it."""

    # Answers are read by gateways that may be older than the cloud: unknown fields are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore")

    config_version: int = 0
    model_version: str | None = None


class IngestResult(BaseModel):
    """The cloud's answer to a batch: every record is durable once this arrives."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    accepted: int
    duplicates: int
    desired: DesiredState


_RECORD: TypeAdapter[Summary | Alert | Heartbeat | Gap] = TypeAdapter(Record)


def record_from_dict(data: dict[str, Any]) -> Summary | Alert | Heartbeat | Gap:
    """Validate one record given as a plain dict (as kept in the gateway's outbox)."""
    return _RECORD.validate_python(data)


def encode_batch(batch: Batch, *, compress: bool = True) -> bytes:
    """The batch as a request body (gzip-compressed unless ``compress`` is False)."""
    body = batch.model_dump_json(exclude_none=True).encode()
    return gzip.compress(body, compresslevel=5) if compress else body


def encode_records(gateway: str, sent_at: float, records: list[str]) -> bytes:
    """A gzip batch body from records already serialised as JSON (the outbox keeps them so)."""
    head = json.dumps({"v": PROTOCOL_VERSION, "gateway": gateway, "sent_at": sent_at})
    body = head[:-1] + ',"records":[' + ",".join(records) + "]}"
    return gzip.compress(body.encode(), compresslevel=5)
