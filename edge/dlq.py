"""Dead-letter replay: decode refused messages again under the settings as they are now.

Run after a technician fixed the configuration (a wider timestamp limit, say). The agent must be
stopped: the store has one writer, and the replay takes the writer's lock. Messages that now
decode move into the message ring with new ids, which the agent's start-up replays into windows
as it does after a crash, so they reach the cloud with their original times. The others stay,
with the reason they fail for now.

A message whose bytes were cut at the dead-letter store's size limit cannot be replayed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from edge.decode import Rejection, decode
from edge.settings import EdgeSettings
from edge.sources.base import RawMessage, Transport
from edge.store import DeadLetter, Store

_ALL = 1 << 62


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did: messages moved to the ring and their readings, reasons still failing."""

    accepted: int
    readings: int
    failing: dict[str, int] = field(default_factory=dict)

    @property
    def still_failing(self) -> int:
        """Dead letters left in the store."""
        return sum(self.failing.values())


def replay(settings: EdgeSettings, reason: str | None = None) -> ReplayReport:
    """Replay the dead letters (of one ``reason``, or all); StoreError if the store is busy."""
    store = Store(settings.db_path, dead_letter_max=settings.store.dead_letter_max)
    store.open()
    try:
        letters = store.dead_letters(_ALL, reason, oldest_first=True)
        accepted: list[DeadLetter] = []
        failing: list[tuple[int, str, str]] = []
        readings = 0
        for letter in letters:
            outcome = _decode(letter, settings)
            if isinstance(outcome, Rejection):
                failing.append((letter.id, outcome.reason, outcome.detail))
            else:
                accepted.append(letter)
                readings += outcome
        asyncio.run(_commit(store, accepted, failing))
    finally:
        store.close()
    return ReplayReport(len(accepted), readings, dict(Counter(r for _, r, _ in failing)))


def _decode(letter: DeadLetter, settings: EdgeSettings) -> Rejection | int:
    """The readings ``letter`` holds now, or why it still fails."""
    transport: Transport = "serial" if letter.transport == "serial" else "mqtt"
    raw = RawMessage(transport, letter.channel, letter.payload, letter.received)
    if letter.size > len(letter.payload):
        # Only the start of the message was kept: decoding it would judge other bytes.
        return Rejection(raw, letter.reason, letter.detail)
    result = decode(raw, settings.validation)
    return result if isinstance(result, Rejection) else len(result)


async def _commit(
    store: Store, accepted: list[DeadLetter], failing: list[tuple[int, str, str]]
) -> None:
    await store.requeue(accepted, failing)
