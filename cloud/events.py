"""In-process publish/subscribe of the twin's changes, for the live stream (docs/api.md).

    route, after commit --publish--> Bus --filter--> Subscription (bounded, coalescing) --> SSE
                                      +--> replay ring, for a client coming back with Last-Event-ID

Publishing never waits: it runs on the event loop, appends to each matching subscription and
returns, so a slow client cannot slow ingest. A subscription holds at most one pending event
per subject (an entity, an incident, a gateway): a newer one is merged into it (the payload's
``coalesce``) and moves to the back. Overflow policy: when a subscription is full, its oldest
pending event is dropped and counted, and the client is sent one ``resync`` event (ahead of
what is still pending) telling it to read the current state over the REST API again.

Several processes on one database tell each other what they changed (cloud/fanout.py); each
builds the events of the others' changes as it does its own and publishes them here, and
when it cannot know what it missed it calls ``lost``: every client is sent a ``resync``.

Event ids are ``<boot>-<seq>``, ``boot`` random per process. A client that reconnects with a
``Last-Event-ID`` the ring still covers is sent what it missed; otherwise (another process
or boot, evicted from the ring, or events that were never built because nobody listened) it
gets a ``resync`` first. Publishers build events only while ``listening``: while someone is
subscribed, and for ``linger_s`` after the last one left, so a reconnect finds them all.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

QUEUE_SIZE: Final = 2048
REPLAY: Final = 10_000
LINGER_S: Final = 60.0


class Kind(enum.StrEnum):
    """What an event is about; the SSE ``event:`` field."""

    TWIN = "twin"
    INCIDENT = "incident"
    GATEWAY = "gateway"
    RESYNC = "resync"


SUBSCRIBABLE: Final = frozenset({Kind.TWIN, Kind.INCIDENT, Kind.GATEWAY})


class Payload(Protocol):
    """An event's data: JSON on the wire, and merged with an older one of the same subject."""

    def coalesce(self, older: Self) -> Self:
        """This payload with what ``older`` knew and this one does not."""
        ...

    def model_dump_json(self) -> str:
        """The ``data:`` of the SSE event."""
        ...


# overflow: this client fell behind; unknown_last_event_id: a reconnect the ring cannot serve;
# lost: changes another process made were never heard here (cloud/fanout.py).
Reason = Literal["overflow", "unknown_last_event_id", "lost"]


class Resync(BaseModel):
    """Events were lost to this client: read the current state over the REST API again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Reason
    dropped: int

    def coalesce(self, older: Resync) -> Resync:
        """Two resyncs are one, with the drops of both."""
        return Resync(reason=self.reason, dropped=self.dropped + older.dropped)


@dataclass(frozen=True, slots=True)
class Event:
    """One published change: its subject (``kind``, ``key``), where it is, and its payload."""

    kind: Kind
    key: str
    payload: Payload
    district: str | None = None
    department: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Filter:
    """What a subscriber wants: kinds of event, and one district or department (None: any)."""

    kinds: frozenset[Kind] = SUBSCRIBABLE
    district: str | None = None
    department: str | None = None

    def matches(self, event: Event) -> bool:
        """True if ``event`` is one the subscriber asked for."""
        return (
            event.kind in self.kinds
            and (self.district is None or event.district == self.district)
            and (self.department is None or event.department == self.department)
        )


@dataclass(slots=True)
class Counters:
    """What the bus did since it started."""

    published: int = 0
    dropped: int = 0
    resyncs: int = 0
    skipped: int = 0


class Subscription:
    """One client's pending events: at most ``size``, one per subject, oldest dropped first."""

    def __init__(self, bus: Bus, wanted: Filter, size: int) -> None:
        self.filter = wanted
        self._bus = bus
        self._size = size
        self._pending: OrderedDict[tuple[Kind, str], Event] = OrderedDict()
        self._resync: Resync | None = None
        self._wake = asyncio.Event()
        self.closed = False

    def offer(self, event: Event) -> None:
        """Queue ``event`` if the filter takes it (called by the bus; never waits)."""
        if not self.filter.matches(event):
            return
        subject = (event.kind, event.key)
        older = self._pending.pop(subject, None)
        if older is not None:
            event = replace(event, payload=event.payload.coalesce(older.payload))
        elif len(self._pending) >= self._size:
            self._pending.popitem(last=False)
            self.resync("overflow", dropped=1)
        self._pending[subject] = event
        self._wake.set()

    def resync(self, reason: Reason, dropped: int) -> None:
        """Tell the client, ahead of anything pending, that it must read the state again."""
        if self._resync is None:
            self._bus.counters.resyncs += 1
            if reason == "overflow":
                log.warning("a stream client is %d events behind: dropping its oldest", self._size)
        self._bus.counters.dropped += dropped
        fresh = Resync(reason=reason, dropped=dropped)
        self._resync = fresh if self._resync is None else fresh.coalesce(self._resync)
        self._wake.set()

    async def wait(self, timeout: float) -> bool:
        """True once something is pending (or the bus closed); False after ``timeout`` idle."""
        if self._pending or self._resync is not None or self.closed:
            return True
        self._wake.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    def drain(self) -> list[Event]:
        """Everything pending, oldest first, behind a resync if one is due."""
        out = []
        if self._resync is not None:
            out.append(Event(Kind.RESYNC, "", self._resync))
            self._resync = None
        out += self._pending.values()
        self._pending.clear()
        return out

    def close(self) -> None:
        """Stop: the bus is closing."""
        self.closed = True
        self._wake.set()


class Bus:
    """Fans published events out to subscriptions, and keeps recent ones for reconnects."""

    def __init__(
        self,
        *,
        queue_size: int = QUEUE_SIZE,
        replay: int = REPLAY,
        linger_s: float = LINGER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_size = queue_size
        self.linger_s = linger_s
        self.boot = secrets.token_hex(4)
        self.counters = Counters()
        self._clock = clock
        self._seq = 0
        # The newest seq that no ring entry stands for: a replay cannot reach back past it.
        self._broken_at = 0
        self._ring: deque[Event] = deque(maxlen=replay)
        self._subscriptions: set[Subscription] = set()
        self._idle_since: float | None = None

    @property
    def listening(self) -> bool:
        """Whether publishers should build events (someone listens, or just left)."""
        if self._subscriptions:
            return True
        return self._idle_since is not None and self._clock() - self._idle_since < self.linger_s

    @property
    def subscribers(self) -> int:
        """Subscriptions open now."""
        return len(self._subscriptions)

    def publish(
        self,
        kind: Kind,
        key: str,
        payload: Payload,
        *,
        district: str | None = None,
        department: str | None = None,
    ) -> Event:
        """Hand an event to every subscription whose filter takes it; returns it with its seq."""
        self._seq += 1
        event = Event(kind, key, payload, district, department, self._seq)
        self._ring.append(event)
        self.counters.published += 1
        for subscription in self._subscriptions:
            subscription.offer(event)
        return event

    def skipped(self) -> None:
        """A publisher built no events (nobody listened): a replay cannot span this moment."""
        self._seq += 1
        self._broken_at = self._seq
        self.counters.skipped += 1

    def lost(self) -> None:
        """Changes were made that no event will tell (another process's): every client resyncs."""
        self.skipped()
        for subscription in self._subscriptions:
            subscription.resync("lost", dropped=0)

    def event_id(self, event: Event) -> str:
        """The SSE id of ``event``."""
        return f"{self.boot}-{event.seq}"

    def subscribe(self, wanted: Filter, last_event_id: str | None = None) -> Subscription:
        """A new subscription; with ``last_event_id``, what the client missed is queued first."""
        subscription = Subscription(self, wanted, self.queue_size)
        if last_event_id:
            self._replay(subscription, last_event_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (the client went away)."""
        self._subscriptions.discard(subscription)
        if not self._subscriptions:
            self._idle_since = self._clock()

    def close(self) -> None:
        """End every subscription."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    def _replay(self, subscription: Subscription, last_event_id: str) -> None:
        seq = self._seq_of(last_event_id)
        oldest = self._ring[0].seq if self._ring else self._seq + 1
        if seq is None or seq > self._seq or seq < self._broken_at or seq < oldest - 1:
            subscription.resync("unknown_last_event_id", dropped=0)
            return
        for event in self._ring:
            if event.seq > seq:
                subscription.offer(event)

    def _seq_of(self, event_id: str) -> int | None:
        boot, _, seq = event_id.strip().partition("-")
        return int(seq) if boot == self.boot and seq.isdigit() else None
