"""The uplink: sends the outbox to the cloud and deletes only what the cloud acknowledged.

At-least-once on the wire: a batch that may or may not have arrived (timeout, 5xx) is sent
again with the same (gateway, seq) keys, and the cloud stores each key once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from edge.errors import Rejected, StoreError, UplinkError
from edge.settings import CloudSettings
from edge.store import OutboxRow, Store
from shared.wire.uplink import INGEST_PATH, DesiredState, IngestResult, encode_records

log = logging.getLogger(__name__)

# Answers that judge a batch's content (unreadable, too large, breaking the schema), not the
# gateway's right to send it: a record that causes one is set aside rather than retried.
_CONTENT = frozenset({400, 413, 422})


class Unreachable(UplinkError):
    """No connection to the cloud: the batch never left the gateway."""


@dataclass(slots=True)
class UplinkState:
    """What the uplink knows, for heartbeats and diagnostics."""

    sent: int = 0
    batches: int = 0
    failures: int = 0
    rejected: int = 0  # batches the cloud answered with a 4xx
    refused: int = 0  # records set aside because the cloud refused their content
    last_success: float | None = None
    last_error: str | None = None
    desired: DesiredState | None = None
    clock_offset_s: float | None = None  # the cloud's clock minus ours


class ClockOffset:
    """The cloud's clock minus the gateway's, from the HTTP ``Date`` of its answers.

    ``Date`` has whole seconds: an answer dated ``D`` that took from ``t0`` to ``t1`` bounds
    the offset to ``[D - t1, D + 1 - t0]``. Intersecting the bounds of recent answers narrows
    it well below a second. Bounds that stop overlapping mean a clock was stepped (NTP, a
    reboot without a real-time clock): the estimate starts again from the newest answer.
    """

    def __init__(self, keep: int = 32) -> None:
        self._bounds: deque[tuple[float, float]] = deque(maxlen=keep)

    def add(self, date: float, t0: float, t1: float) -> None:
        """One answer dated ``date`` (whole seconds) to a request sent at t0, answered at t1."""
        self._bounds.append((date - t1, date + 1.0 - t0))
        if self._low() > self._high():
            self._bounds = deque([self._bounds[-1]], maxlen=self._bounds.maxlen)

    @property
    def value(self) -> float | None:
        """The middle of what the answers allow, or None before the first answer."""
        return (self._low() + self._high()) / 2 if self._bounds else None

    def _low(self) -> float:
        return max(low for low, _ in self._bounds)

    def _high(self) -> float:
        return min(high for _, high in self._bounds)


class CloudClient:
    """The HTTP adapter: one method, ``send``, converting transport errors once."""

    def __init__(self, settings: CloudSettings, gateway_id: str) -> None:
        self._gateway_id = gateway_id
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._http = httpx.AsyncClient(
            base_url=settings.url, headers=headers, timeout=settings.timeout_s
        )
        self.clock = ClockOffset()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(self, rows: list[OutboxRow]) -> IngestResult:
        """POST one batch; returns the cloud's answer or raises UplinkError/Rejected."""
        body = encode_records(self._gateway_id, time.time(), [r.wire() for r in rows])
        sent = time.time()
        try:
            response = await self._http.post(INGEST_PATH, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"cloud unreachable: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise UplinkError(f"no answer from the cloud: {exc!r}") from exc
        self._note_date(response.headers.get("date"), sent, time.time())
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise Rejected(response.status_code, response.text[:500])
        if response.status_code != 200:
            raise UplinkError(f"cloud answered {response.status_code}")
        return IngestResult.model_validate_json(response.content)

    def _note_date(self, header: str | None, sent: float, answered: float) -> None:
        if header is None:
            return
        try:
            date = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return  # a proxy's odd header: no measurement, not an error
        self.clock.add(date, sent, answered)


class Uplink:
    """Drains the outbox to the cloud, with capped, jittered backoff while it is away."""

    def __init__(self, settings: CloudSettings, store: Store, client: CloudClient) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._wake = asyncio.Event()
        self._backing_off = False
        self.state = UplinkState()

    def nudge(self) -> None:
        """Something urgent (an alert) is in the outbox: send now rather than at the tick.

        Not while backing off: the cloud is away, and a retry per alert or heartbeat would
        hammer it (a fleet of gateways, each several times a second) when it comes back.
        """
        if not self._backing_off:
            self._wake.set()

    async def run(self) -> None:
        """Send batches forever."""
        failures = 0
        while True:
            rows = await asyncio.to_thread(self._store.pending, self._settings.batch_max)
            if not rows:
                await self._pause(self._settings.batch_interval_s)
                continue
            try:
                await self._send(rows)
            except UplinkError as exc:
                failures += 1
                self.state.failures += 1
                self.state.last_error = str(exc)
                delay = self._backoff(failures)
                log.warning("upload failed (%s); retrying in %.1f s", exc, delay)
                self._backing_off = True
                try:
                    await self._pause(delay)
                finally:
                    self._backing_off = False
                continue
            failures = 0
            if len(rows) < self._settings.batch_max:
                await self._pause(self._settings.batch_interval_s)

    async def flush(self, timeout: float) -> None:
        """Try to send everything pending within ``timeout`` seconds (on shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(self._store.pending, self._settings.batch_max)
            if not rows:
                return
            try:
                await asyncio.wait_for(self._send(rows), deadline - time.monotonic())
            except (UplinkError, StoreError, TimeoutError):
                return

    async def _send(self, rows: list[OutboxRow]) -> None:
        # The rows stay lent (the quota cannot shed them) until each is acknowledged, set
        # aside, or surely not at the cloud: refused, or never sent. After a timeout the
        # cloud may hold some, and they stay lent until a later upload settles them.
        try:
            await self._deliver(rows)
        except Rejected as exc:
            try:
                if exc.status not in _CONTENT:
                    raise
                await self._isolate(rows, exc)
            except (Rejected, Unreachable):
                await self._release(rows)
                raise
            await self._release(rows)

    async def _isolate(self, rows: list[OutboxRow], refusal: Rejected) -> None:
        """Find the record a refused batch is refused for, and set it aside (``refused``).

        Halving keeps the part that is still refused and sends the other, so one record
        costs about two requests per halving. A record is set aside only when the cloud took
        records beside it: if every part is refused, the cloud is more likely at fault than
        the records, and the whole batch waits and is tried again like any failure.
        """
        took_some = False
        while len(rows) > 1:
            left, right = rows[: len(rows) // 2], rows[len(rows) // 2 :]
            left_refused = await self._attempt(left)
            if left_refused is None:
                took_some, rows = True, right
                continue
            took_some |= await self._attempt(right) is None
            refusal, rows = left_refused, left
        if not took_some:
            raise refusal
        [row] = rows
        alone = await self._attempt(rows)
        if alone is None:
            return  # refused only in company (a batch too large, say): delivered now
        await self._store.refuse(row.seq, alone.status, alone.detail)
        self.state.refused += 1
        log.error(
            "record seq %d set aside: the cloud refuses it (%d: %s); the outbox goes on "
            "(`citytwin edge refused list` shows it)", row.seq, alone.status, alone.detail,
        )  # fmt: skip

    async def _attempt(self, rows: list[OutboxRow]) -> Rejected | None:
        """Deliver ``rows``: None if the cloud took them, its refusal if it refused their
        content; any other failure is raised."""
        try:
            await self._deliver(rows)
        except Rejected as exc:
            if exc.status not in _CONTENT:
                raise
            return exc
        return None

    async def _deliver(self, rows: list[OutboxRow]) -> None:
        try:
            result = await self._client.send(rows)
        except Rejected as exc:
            # Kept and retried with backoff like any failure (a 401/403 clears once the token
            # is fixed), or isolated (``_isolate``); ``_send`` releases the rows after.
            self.state.rejected += 1
            log.error("batch seq %d..%d rejected: %s", rows[0].seq, rows[-1].seq, exc.detail)
            raise
        except Unreachable:
            # Surely not at the cloud: the store may shed these rows again if it must. After
            # any other failure the cloud may hold them, and they stay protected.
            await self._release(rows)
            raise
        await self._store.ack([r.seq for r in rows])
        self.state.sent += len(rows)
        self.state.batches += 1
        self.state.last_success = time.time()
        self.state.last_error = None
        if result.desired != self.state.desired:
            log.info("cloud desires %s", result.desired)
        self.state.desired = result.desired
        self.state.clock_offset_s = self._client.clock.value

    async def _release(self, rows: list[OutboxRow]) -> None:
        await asyncio.to_thread(self._store.release, [r.seq for r in rows])

    def _backoff(self, failures: int) -> float:
        cap = min(self._settings.backoff_max_s, 0.5 * 2**failures)
        return random.uniform(cap / 2, cap)  # jitter spreads a fleet's retries apart

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
