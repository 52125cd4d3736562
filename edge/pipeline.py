"""From raw message batches to readings, rejections and closed windows. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.decode import Rejection, decode
from edge.sequence import SequenceTracker, Verdict
from edge.settings import EdgeSettings
from edge.sources.base import RawMessage
from edge.windows import Windows, WindowSummary


@dataclass(slots=True)
class Counters:
    """Running totals since the agent started: what heartbeats and /metrics report."""

    messages: int = 0
    readings: int = 0
    duplicates: int = 0
    restarts: int = 0
    missing: int = 0
    dead_letters: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one batch produced for the store."""

    rejections: list[Rejection]


class Pipeline:
    """Decode, validate, de-duplicate and window readings, keeping counts of everything."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._limits = settings.validation
        self._sequences = SequenceTracker()
        self.windows = Windows(settings.windows.length_s, settings.windows.lateness_s)
        self.counters = Counters()

    def process(self, batch: list[RawMessage]) -> Outcome:
        """Feed one batch through; returns what must be dead-lettered."""
        rejections: list[Rejection] = []
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
            for reading in result:
                seen = self._sequences.observe(reading.sensor, reading.seq)
                if seen.verdict is Verdict.DUPLICATE:
                    counters.duplicates += 1
                    continue
                counters.restarts += seen.verdict is Verdict.RESTART
                counters.missing += seen.missing
                counters.readings += 1
                assert reading.ts is not None  # decode() stamps readings that had no time
                self.windows.add(
                    reading.sensor, reading.kind, reading.seq, reading.ts, reading.metrics,
                    message.received_at,
                )  # fmt: skip
        counters.dead_letters += len(rejections)
        return Outcome(rejections)

    def close_due(self, now: float) -> list[WindowSummary]:
        """Windows that are complete at gateway time ``now``."""
        return self.windows.close_due(now)
