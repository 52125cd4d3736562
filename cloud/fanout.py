"""What one aggregator process tells the others it changed, so their live streams say it too.

    process A: route, after commit --> Outbox (gathered for a tick) --Fanout.send--> database
    process B: Fanout.receive --> receive(): skip B's own, spot gaps --> apply (cloud/live.py)

A note says what changed, not how it looks now: the observation time of each metric a batch
set per entity, the entities a batch alerted on, a gateway's heartbeat, an incident an
operator changed. The receiver reads the current state from the store, as its hub does after
a local commit, and builds the same events (so coalescing and bounded queues apply as ever).
Notes are JSON, packed into notices under the fan-out's size limit (PostgreSQL: 8000 bytes).

Losses are told, not hidden. Each process numbers its notes; a receiver that finds a number
skipped, or whose link was down (``Listening`` after a loss), calls ``lost``, and the bus
sends every client a ``resync``. A send that fails, or notes dropped because too many were
pending (overflow policy: the newest are dropped, counted and logged), leave such a gap on
purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

from cloud.errors import CloudError
from cloud.incidents import Action
from cloud.store.base import Fanout, Listening

log = logging.getLogger(__name__)

# Pieces (a metric of an entity, an alert, a heartbeat, an action) waiting for the next tick.
MAX_PENDING: Final = 100_000
# A note's fields and punctuation around its pieces, with room to spare.
_ENVELOPE: Final = 160
_ORIGINS: Final = 1024

Newest = dict[str, dict[str, float]]  # entity -> metric -> observed_at of its newest value


class _Note(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Alerted(_Note):
    """A batch received at ``received_at`` alerted on ``entity``."""

    entity: str
    received_at: float


class Beat(_Note):
    """A gateway's heartbeat, received at ``received_at``."""

    gateway: str
    received_at: float
    buffer_depth: int
    oldest_unsent_age_s: float


class Acted(_Note):
    """An operator changed incident ``incident``."""

    incident: int
    change: Action


class Note(_Note):
    """What process ``origin`` committed during one tick (or part of it), its ``seq``-th note."""

    origin: str
    seq: int
    twin: Newest = {}
    alerted: list[Alerted] = []
    beats: list[Beat] = []
    acted: list[Acted] = []


class Outbox:
    """Gathers what this process commits, and sends it to the others once per tick."""

    def __init__(self, fanout: Fanout, origin: str, *, max_pending: int = MAX_PENDING) -> None:
        self.origin = origin
        self.dropped = 0
        self._fanout = fanout
        self._max = max_pending
        self._seq = 0
        self._size = 0
        self._twin: Newest = {}
        self._alerted: list[Alerted] = []
        self._beats: dict[str, Beat] = {}
        self._acted: list[Acted] = []

    def add(
        self,
        twin: Newest,
        alerted: list[Alerted] | None = None,
        beat: Beat | None = None,
        acted: Acted | None = None,
    ) -> None:
        """Remember what a commit changed, for the next send (never waits)."""
        pieces = sum(map(len, twin.values())) + len(alerted or ()) + (beat is not None)
        if self._size + pieces + (acted is not None) > self._max:
            self._drop(pieces)
            return
        for entity, metrics in twin.items():
            known = self._twin.setdefault(entity, {})
            for metric, at in metrics.items():
                self._size += metric not in known
                known[metric] = max(at, known.get(metric, at))
        self._alerted += alerted or ()
        if beat is not None:
            self._size += beat.gateway not in self._beats
            self._beats[beat.gateway] = beat  # the newest heartbeat says all an older one did
        if acted is not None:
            self._acted.append(acted)
        self._size += len(alerted or ()) + (acted is not None)

    async def run(self, tick_s: float) -> None:
        """Send every ``tick_s``, forever (the task's supervisor)."""
        while True:
            await asyncio.sleep(tick_s)
            try:
                await self.flush()
            except Exception:  # the supervisor of this task: log, and go on next tick
                log.exception("fan-out: sending this process's changes failed")

    async def flush(self) -> None:
        """Send what was gathered since the last flush; lost (and logged) if the send fails."""
        if not self._size:
            return
        notes = self._take()
        try:
            await self._fanout.send([note.model_dump_json() for note in notes])
        except CloudError as exc:
            # The numbers of these notes are never seen: the receivers resync their clients.
            log.warning("fan-out: %d notes not sent: %s", len(notes), exc)

    def _drop(self, pieces: int) -> None:
        if not self.dropped:
            log.warning("fan-out: over %d changes pending: dropping the newest", self._max)
        self.dropped += pieces
        self._seq += 1  # a number never sent: the receivers see the gap and resync

    def _take(self) -> list[Note]:
        notes = pack(
            self.origin, self._seq + 1, self._fanout.max_bytes,
            _pieces(self._twin, self._alerted, list(self._beats.values()), self._acted),
        )  # fmt: skip
        self._seq += len(notes)
        self._twin, self._alerted, self._beats, self._acted, self._size = {}, [], {}, [], 0
        return notes


Piece = tuple[str, str, str, float] | Alerted | Beat | Acted  # ("twin", entity, metric, at)


def _pieces(
    twin: Newest, alerted: list[Alerted], beats: list[Beat], acted: list[Acted]
) -> Iterator[Piece]:
    for entity, metrics in twin.items():
        for metric, at in metrics.items():
            yield "twin", entity, metric, at
    yield from alerted
    yield from beats
    yield from acted


def pack(origin: str, first_seq: int, max_bytes: int, pieces: Iterator[Piece]) -> list[Note]:
    """The pieces as notes numbered from ``first_seq``, each under ``max_bytes`` as JSON."""
    notes: list[Note] = []
    room = max_bytes - _ENVELOPE - len(origin)
    fill: list[Piece] = []
    used = 0
    for piece in pieces:
        size = _size(piece)
        if size > room:  # only an absurdly long id: nothing can carry it
            log.warning("fan-out: a change of %d bytes cannot be sent", size)
            continue
        if used + size > room:
            notes.append(_note(origin, first_seq + len(notes), fill))
            fill, used = [], 0
        fill.append(piece)
        used += size
    if fill:
        notes.append(_note(origin, first_seq + len(notes), fill))
    return notes


def _size(piece: Piece) -> int:
    # An upper bound of the piece's bytes in the note: ASCII escapes are never shorter than
    # UTF-8, and a twin piece repeats its entity's key however many metrics share it.
    if isinstance(piece, tuple):
        _, entity, metric, at = piece
        return len(json.dumps(entity)) + len(json.dumps(metric)) + len(repr(at)) + 8
    return len(json.dumps(piece.model_dump(mode="json"))) + 1


def _note(origin: str, seq: int, pieces: list[Piece]) -> Note:
    twin: Newest = {}
    alerted: list[Alerted] = []
    beats: list[Beat] = []
    acted: list[Acted] = []
    for piece in pieces:
        match piece:
            case Alerted():
                alerted.append(piece)
            case Beat():
                beats.append(piece)
            case Acted():
                acted.append(piece)
            case (_, entity, metric, at):
                twin.setdefault(entity, {})[metric] = at
    return Note(origin=origin, seq=seq, twin=twin, alerted=alerted, beats=beats, acted=acted)


class _Sequences:
    """The last note number seen per origin (a bounded few: processes restarting add more)."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()

    def follows(self, note: Note) -> bool:
        """Whether ``note`` is the next of its origin, or the first one heard from it."""
        last = self._last.pop(note.origin, None)
        self._last[note.origin] = note.seq
        if len(self._last) > _ORIGINS:
            self._last.popitem(last=False)
        return last is None or note.seq == last + 1

    def clear(self) -> None:
        """Forget every origin (after the link was down, numbers skip anyway)."""
        self._last.clear()


async def receive(
    fanout: Fanout,
    origin: str,
    apply: Callable[[Note], Awaitable[None]],
    lost: Callable[[], None],
    listening: Callable[[], None],
) -> None:
    """Hand every other process's notes to ``apply``, forever: ``listening`` each time the link
    is up, ``lost`` when notes were missed."""
    seen = _Sequences()
    while True:
        try:
            async for notice in fanout.receive():
                if isinstance(notice, Listening):
                    listening()
                    if notice.down_s is not None:
                        seen.clear()
                        lost()
                elif (note := _read(notice)) is not None and note.origin != origin:
                    if not seen.follows(note):
                        log.warning("fan-out: notes of process %s were missed", note.origin)
                        lost()
                    await apply(note)
        except Exception:  # the supervisor of this task: log, tell the clients, start again
            log.exception("fan-out: receiving the other processes' changes failed")
            lost()
            await asyncio.sleep(1.0)


def _read(notice: str) -> Note | None:
    try:
        return Note.model_validate_json(notice)
    except ValidationError as exc:
        # Another release's notes, or another program on the channel: not ours to act on.
        log.warning("fan-out: ignored a notice that is not a note (%d errors)", exc.error_count())
        return None
