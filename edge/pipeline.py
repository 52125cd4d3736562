"""From raw message batches to stored readings, rejections and closed windows. No I/O here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.anomaly.alerts import Alerter
from edge.anomaly.detector import Detector, Scored
from edge.columns import Columns
from edge.decode import Rejection, decode
from edge.sequence import SequenceTracker, Verdict
from edge.settings import EdgeSettings
from edge.sources.base import RawMessage, Transport
from edge.store import MessageRow, Recovery
from edge.streams import Registry
from edge.windows import Windows, WindowSummary
from shared.reading import Reading

Ints = npt.NDArray[np.int64]
_RESTORE_CHUNK = 8192  # metric values per window update while replaying the store


@dataclass(slots=True)
class Counters:
    """Running totals since the agent started: what heartbeats and /metrics report."""

    messages: int = 0
    readings: int = 0
    duplicates: int = 0
    restarts: int = 0
    missing: int = 0
    dead_letters: int = 0
    replayed: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A decoded batch: messages to keep, messages to dead-letter, values to score and window."""

    stored: list[MessageRow]
    rejections: list[Rejection]
    cols: Columns
    first_id: int | None  # the id of the batch's first stored message (None: it stores none)


@dataclass(frozen=True, slots=True)
class Scoring:
    """A prepared batch's stream ids (one per value) and, with a model, its scores."""

    ids: Ints
    scored: Scored | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one batch produced for the store: messages to keep, messages to dead-letter."""

    stored: list[MessageRow]
    rejections: list[Rejection]
    alerts: list[dict[str, Any]] = field(default_factory=list)


class Pipeline:
    """Decode, validate, de-duplicate and window readings, keeping counts of everything."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._limits = settings.validation
        self._sequences = SequenceTracker()
        self._streams = Registry()  # (sensor, metric) -> dense id, for windows and detector
        self.windows = Windows(
            settings.windows.length_s, settings.windows.lateness_s, streams=self._streams
        )
        self.counters = Counters()
        self._next_id = 1
        # First stored ids of the batches prepared and not yet windowed (several sources may
        # have one each in flight, finishing in any order).
        self._unwindowed: set[int] = set()
        self._gaps: list[dict[str, Any]] = []
        self._detector: Detector | None = None
        self._alerter: Alerter | None = None

    def use_detector(self, detector: Detector) -> None:
        """Score every accepted reading with ``detector`` from now on."""
        self._detector = detector
        self._alerter = Alerter(detector.model.card.policy)

    @property
    def model_version(self) -> str | None:
        """The anomaly model in use, for heartbeats."""
        return None if self._detector is None else self._detector.version

    def process(self, batch: list[RawMessage]) -> Outcome:
        """Feed one batch through; returns what the store must keep before the batch is acked."""
        prepared = self.prepare(batch)
        alerts = self.window(prepared, self.score(prepared))
        return Outcome(prepared.stored, prepared.rejections, alerts)

    def prepare(self, batch: list[RawMessage]) -> Prepared:
        """The first half: decode, validate and de-duplicate (pure Python, one thread)."""
        stored: list[MessageRow] = []
        rejections: list[Rejection] = []
        cols = Columns()
        counters = self.counters
        counters.messages += len(batch)
        for message in batch:
            result = decode(message, self._limits)
            if isinstance(result, Rejection):
                rejections.append(result)
                counters.rejected_by_reason[result.reason] = (
                    counters.rejected_by_reason.get(result.reason, 0) + 1
                )
                continue
            rid = self._next_id
            accepted = 0
            for reading in result:
                if self._is_new(reading):
                    cols.add(reading, rid, message.received_at)
                    accepted += 1
            if accepted:
                self._next_id += 1
                counters.readings += accepted
                m = message
                stored.append(MessageRow(rid, m.received_at, m.transport, m.channel, m.payload))
        counters.dead_letters += len(rejections)
        first = stored[0].id if stored else None
        if first is not None:
            self._unwindowed.add(first)
        return Prepared(stored, rejections, cols, first)

    def score(self, prepared: Prepared) -> Scoring:
        """Number the batch's streams and score it in one model call (if there is a model).

        Numpy and onnxruntime, which let go of the interpreter lock: the agent runs this on a
        thread of its own while its event loop windows the previous batch and prepares the
        next. It touches the stream ids and the detector only, so calls must come one at a
        time, in batch order.
        """
        pv = prepared.cols.per_value()
        ids = self._streams.ids(pv.sensor, pv.metric)
        if self._detector is None or not len(ids):
            return Scoring(ids, None)
        return Scoring(ids, self._detector.score_ids(ids, pv.ts, pv.value))

    def window(self, prepared: Prepared, scoring: Scoring) -> list[dict[str, Any]]:
        """Add a scored batch to its windows; returns the alerts it raises (batch order)."""
        cols, scored = prepared.cols, scoring.scored
        if prepared.first_id is not None:
            self._unwindowed.discard(prepared.first_id)
        if scored is None or self._alerter is None:
            self.windows.add_columns(cols, scoring.ids)
            return []
        self.windows.add_columns(cols, scoring.ids, scored.score, self._alerter.policy.on)
        pv = cols.per_value()
        return self._alerter.update(
            pv.sensor, pv.kind, pv.metric, pv.ts, pv.value, scored.score,
            scored.low, scored.high, scored.cause, scoring.ids,
        )  # fmt: skip

    def _is_new(self, reading: Reading) -> bool:
        assert reading.ts is not None
        seen = self._sequences.observe(reading.sensor, reading.seq, reading.ts)
        if seen.verdict is Verdict.DUPLICATE:
            self.counters.duplicates += 1
            return False
        self.counters.restarts += seen.verdict is Verdict.RESTART
        if seen.missing:
            self.counters.missing += seen.missing
            # The cloud is told what never arrived, so history shows a gap, not a quiet sensor.
            start = seen.since if math.isfinite(seen.since) else reading.ts
            self._gaps.append(
                {"type": "gap", "sensor": reading.sensor, "start": min(start, reading.ts),
                 "end": reading.ts, "count": seen.missing, "reason": "sequence_gap"}
            )  # fmt: skip
        return True

    def restore(self, recovery: Recovery) -> None:
        """Rebuild sequence state and open windows from the store after a restart or crash."""
        self._next_id = recovery.next_id
        length = self.windows.length
        for sensor, metric, start in recovery.closed:
            self.windows.mark_closed(sensor, metric, start + length)
        cols = Columns()
        for row in recovery.messages:
            transport: Transport = "serial" if row.transport == "serial" else "mqtt"
            raw = RawMessage(transport, row.channel, row.payload, row.received)
            result = decode(raw, self._limits)
            if isinstance(result, Rejection):
                continue  # it was accepted under other settings; it is in the ring, not lost
            for reading in result:
                if not self._is_new(reading) or row.id < recovery.replay_from:
                    continue  # older rows only rebuild sequence state: they are summarised
                assert reading.ts is not None
                start = math.floor(reading.ts / length) * length
                metrics = {
                    metric: value
                    for metric, value in reading.metrics.items()
                    if recovery.closed.get((reading.sensor, metric, start), 0) < row.id
                }
                if metrics:
                    cols.add(replace(reading, metrics=metrics), row.id, row.received)
                    self.counters.replayed += 1
            if len(cols) >= _RESTORE_CHUNK:
                self.windows.add_columns(cols)
                cols = Columns()
        self.windows.add_columns(cols)

    def replay_from(self) -> int:
        """The lowest reading id a restart would have to replay.

        Batches prepared but not yet windowed count as open: their messages must be replayed.
        """
        oldest = self.windows.oldest_open_id()
        pending = min(self._unwindowed, default=self._next_id)
        return pending if oldest is None else min(oldest, pending)

    def close_due(self, now: float) -> list[WindowSummary]:
        """Windows that are complete at gateway time ``now``."""
        return self.windows.close_due(now)

    def take_gaps(self) -> list[dict[str, Any]]:
        """Gap records (without outbox seq) found since the last call."""
        gaps, self._gaps = self._gaps, []
        return gaps
