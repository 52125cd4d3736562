"""Pure: the rows a batch's new records become, grouped by table, ready to insert.

The batch is reduced before it reaches SQL: one entity row per sensor and one ``latest`` row
per (entity, metric), the newest observation of the batch, so a batch of 500 summaries from
50 sensors upserts 50 entities, not 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cloud import twin
from shared.wire.uplink import Alert, Gap, Heartbeat, Record, Summary

Row = tuple[object, ...]


@dataclass(slots=True)
class WritePlan:
    """Rows per table for one batch of new records."""

    records: list[Row] = field(default_factory=list)
    summaries: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    gaps: list[Row] = field(default_factory=list)
    entities: dict[str, Row] = field(default_factory=dict)
    # (entity, metric) -> (value, observed_at): the newest of the batch
    latest: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None

    def latest_rows(self) -> list[Row]:
        """``latest`` as (entity, metric, value, observed_at) rows."""
        return [(e, m, value, ts) for (e, m), (value, ts) in self.latest.items()]


def fresh(records: Sequence[Record], known: set[int]) -> list[Record]:
    """Records whose seq is neither in ``known`` nor earlier in the same batch."""
    seen = set(known)
    out: list[Record] = []
    for record in records:
        if record.seq not in seen:
            seen.add(record.seq)
            out.append(record)
    return out


def plan(gateway: str, records: Iterable[Record], received_at: float) -> WritePlan:
    """The rows that ``records`` (already deduplicated) add to the store."""
    rows = WritePlan()
    for record in records:
        rows.records.append((gateway, record.seq, record.type, received_at))
        match record:
            case Summary():
                _summary(rows, gateway, record, received_at)
            case Alert():
                _alert(rows, gateway, record, received_at)
            case Heartbeat():
                # Outbox order, not the gateway clock, says which is newer: a Pi without a
                # real-time clock can boot with a time earlier than its last heartbeat.
                if rows.heartbeat is None or record.seq > rows.heartbeat.seq:
                    rows.heartbeat = record
            case Gap():
                rows.gaps.append(_gap_row(gateway, record, received_at))
    return rows


def _summary(rows: WritePlan, gateway: str, s: Summary, received_at: float) -> None:
    entity = _entity(rows, gateway, s.kind, s.sensor, received_at)
    # Late or not, a summary is merged into its window's row: the flag needs no column.
    rows.summaries.append(
        (
            entity, s.metric, s.start, s.end, s.count, s.sum, s.min, s.max, s.m2,
            s.first_ts, s.last_ts, s.last_value, s.anomalies, s.max_score, s.expected,
        )
    )  # fmt: skip
    _observe(rows, entity, s.metric, s.last_value, s.last_ts)


def _alert(rows: WritePlan, gateway: str, a: Alert, received_at: float) -> None:
    entity = _entity(rows, gateway, a.kind, a.sensor, received_at)
    rows.alerts.append(
        (
            gateway, a.seq, entity, a.sensor, a.kind, a.metric, a.ts, a.value,
            a.low, a.high, a.score, a.severity, a.reason, received_at,
        )
    )  # fmt: skip
    # An alert is a real reading, and it arrives ahead of its window's summary.
    _observe(rows, entity, a.metric, a.value, a.ts)


def _gap_row(gateway: str, g: Gap, received_at: float) -> Row:
    return (gateway, g.seq, g.sensor, g.metric, g.start, g.end, g.count, g.reason, received_at)


def _entity(rows: WritePlan, gateway: str, kind: str, sensor: str, received_at: float) -> str:
    entity = twin.entity_id(kind, sensor)
    if entity not in rows.entities:
        rows.entities[entity] = (
            entity, sensor, kind, twin.entity_type(kind), twin.GOODS_AND_EQUIPMENT,
            gateway, received_at, received_at,
        )  # fmt: skip
    return entity


def _observe(rows: WritePlan, entity: str, metric: str, value: float, observed_at: float) -> None:
    key = (entity, metric)
    known = rows.latest.get(key)
    if known is None or observed_at > known[1]:
        rows.latest[key] = (value, observed_at)
