"""GET /api/v1/stream: the twin's changes, incidents and fleet status as server-sent events.

Frames, in the order a client sees them (docs/api.md, "Live stream"):

    retry: 3000            once, first: reconnect after 3 s
    : ping                 every 15 s without events, so proxies keep the connection
    event: twin|incident|gateway, id: <boot>-<seq>, data: <JSON>
    event: resync, data: {"reason": ..., "dropped": n}     (no id) read the state again

Events are sent in bursts at most every 250 ms; within a burst a subject appears once (the
subscription coalesces), so a busy ingest costs a client one event per changed entity per
burst, not one per reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict

from cloud import auth
from cloud.deps import ViewerDep
from cloud.events import SUBSCRIBABLE, Bus, Event, Filter, Kind, Subscription
from cloud.live import HubDep
from cloud.models import READER_ERRORS, errors, json_errors
from cloud.store.kpis import district_id

router = APIRouter(prefix="/api/v1", tags=["stream"])

HEARTBEAT_S = 15.0
TICK_S = 0.25
RETRY_MS = 3000


class StreamStats(BaseModel):
    """What the stream's bus did since this process started."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    boot: str
    subscribers: int
    published: int
    dropped: int
    resyncs: int
    skipped: int


async def _filter(
    district: Annotated[
        str | None, Query(max_length=256, description="URN or local id, e.g. district-03")
    ] = None,
    department: Annotated[
        str | None, Query(max_length=256, description="URN or local id, e.g. dept-mobility")
    ] = None,
    types: Annotated[
        str | None, Query(max_length=64, description="comma-separated: twin,incident,gateway")
    ] = None,
) -> Filter:
    # A dependency, so a bad filter is a 422 before the stream's 200 is sent.
    kinds = SUBSCRIBABLE
    if types is not None:
        asked = {t.strip() for t in types.split(",") if t.strip()}
        unknown = asked - {k.value for k in SUBSCRIBABLE}
        if unknown or not asked:
            raise HTTPException(
                422, detail=f"types must be among twin, incident, gateway: {types!r}"
            )
        kinds = frozenset(Kind(t) for t in asked)
    return Filter(
        kinds=kinds,
        district=district_id(district) if district else None,
        department=auth.department_id(department) if department else None,
    )


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=json_errors({**READER_ERRORS, 422: "An unknown event type in ``types``"}),
)
async def stream(
    hub: HubDep,
    _: ViewerDep,
    wanted: Annotated[Filter, Depends(_filter)],
    last_event_id: Annotated[
        str | None, Header(max_length=64, description="the id of the last event received")
    ] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Twin changes, new and changed incidents and gateway status, as they are committed."""
    subscription = hub.bus.subscribe(wanted, last_event_id)
    async for frame in frames(hub.bus, subscription, HEARTBEAT_S, TICK_S):
        yield frame


@router.get("/stream/stats", responses=errors(READER_ERRORS))
async def stream_stats(hub: HubDep, _: ViewerDep) -> StreamStats:
    """Subscribers now, and events published, dropped for slow clients, resyncs sent."""
    bus, c = hub.bus, hub.bus.counters
    return StreamStats(
        boot=bus.boot, subscribers=bus.subscribers, published=c.published,
        dropped=c.dropped, resyncs=c.resyncs, skipped=c.skipped,
    )  # fmt: skip


async def frames(
    bus: Bus, subscription: Subscription, heartbeat_s: float, tick_s: float
) -> AsyncIterator[ServerSentEvent]:
    """The SSE frames of one subscription, until the bus closes or the client goes away."""
    try:
        yield ServerSentEvent(comment="citytwin live stream", retry=RETRY_MS)
        while not subscription.closed:
            if not await subscription.wait(heartbeat_s):
                yield ServerSentEvent(comment="ping")
                continue
            for event in subscription.drain():
                yield _frame(bus, event)
            # Let the next burst gather: changes of one entity within a tick become one event.
            await asyncio.sleep(tick_s)
    finally:
        bus.unsubscribe(subscription)


def _frame(bus: Bus, event: Event) -> ServerSentEvent:
    # A resync has no id: the client's Last-Event-ID stays that of the last real event.
    event_id = bus.event_id(event) if event.kind is not Kind.RESYNC else None
    return ServerSentEvent(
        event=event.kind.value, id=event_id, raw_data=event.payload.model_dump_json()
    )
