"""MQTT source: the gateway's broker, read by a link process, batches handed to asyncio.

paho's per-message cost is most of what a Python subscriber spends; run beside the pipeline it
halves what the agent can take (see ``mqtt_link``). So paho runs in a child process, the link,
which sends whole batches over a socket pair; this side turns them into ``RawMessage`` batches
on the event loop and sends back acknowledgements once a batch is stored.

Overflow policy: when ``queue_max`` messages (or ``queue_max_bytes`` of payload) wait for the
pipeline, this side stops reading from the link; the link's queue then fills, paho's thread
blocks and the broker holds the backlog (QoS 1, persistent session). A QoS 0 publisher may
lose messages at the broker instead, as MQTT allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sys
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Final, Self

from edge.errors import AuthError, SourceError
from edge.settings import MqttSettings
from edge.sources.base import RawMessage
from edge.sources.mqtt_link import LinkConfig
from shared.wire.mqtt import READINGS_FILTER

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S: Final = 10.0


class MqttSource:
    """Subscribes to every sensor's readings on the gateway's broker."""

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        self._settings = settings
        self._client_id = settings.client_id or client_id
        self._pending: list[RawMessage] = []
        self._pending_bytes = 0
        self._wake = asyncio.Event()
        self._fatal: SourceError | None = None
        self._closed = False
        self._reading = False
        self._conn: Connection | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.subscribed = False  # True once the broker confirmed our subscription
        self.connects = 0

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "edge.sources.mqtt_link", str(theirs.fileno()),
                    pass_fds=[theirs.fileno()],
                )  # fmt: skip
            except OSError as exc:
                raise SourceError(f"cannot start the MQTT link process: {exc}") from exc
            self._conn = Connection(ours.detach())
        self._conn.send(dataclasses.asdict(self._link_config()))
        self._resume()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        self._pause()
        self._wake.set()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("close",))
        if self._proc is not None:
            try:
                await asyncio.wait_for(self._proc.wait(), _STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("the MQTT link did not stop in %.0f s; killing it", _STOP_TIMEOUT_S)
                self._proc.kill()
                await self._proc.wait()
        if self._conn is not None:
            self._conn.close()

    async def batches(self) -> AsyncIterator[list[RawMessage]]:
        """Messages in arrival order, one batch per wake-up."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            self._pending_bytes = 0
            if not self._closed and self._fatal is None:
                self._resume()
            if batch:
                yield batch
            if self._fatal is not None:
                raise self._fatal
            if self._closed:
                return

    def ack(self, batch: list[RawMessage]) -> None:
        """PUBACK every QoS 1 message of a stored batch, in arrival order."""
        acks = [(m.mid, m.qos) for m in batch if m.qos]
        if acks:
            self._send(("ack", acks))

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish (topic, payload) pairs on the local broker at QoS 1, in one hand-over to
        the link; paho queues them while the broker is away."""
        if messages:
            self._send(("publish", messages))

    def _send(self, command: tuple[Any, ...]) -> None:
        if self._conn is None or self._closed:
            return
        try:
            self._conn.send(command)
        except OSError as exc:
            self._fail(SourceError(f"the MQTT link process is gone: {exc}"))

    def _link_config(self) -> LinkConfig:
        s = self._settings
        root = logging.getLogger()
        return LinkConfig(
            host=s.host, port=s.port, url=s.url, client_id=self._client_id,
            topic_filter=READINGS_FILTER, username=s.username, password=s.password,
            keepalive_s=s.keepalive_s,
            queue_max=s.queue_max, queue_max_bytes=s.queue_max_bytes,
            batch_wait_s=s.batch_wait_ms / 1000,
            log_level=root.getEffectiveLevel(),
            log_format=f"%(asctime)s {self._client_id} %(levelname)s %(name)s: %(message)s",
        )  # fmt: skip

    # -- the link's messages, read on the event loop -----------------------------------------

    def _on_readable(self) -> None:
        conn = self._conn
        assert conn is not None
        try:
            while self._reading and conn.poll():
                self._handle(conn.recv())
        except (EOFError, OSError):
            code = self._proc.returncode if self._proc is not None else None
            self._fail(SourceError(f"the MQTT link process exited (code {code})"))

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "batch":
            items = message[1]
            self._pending += map(RawMessage._make, items)
            self._pending_bytes += sum(len(item[2]) for item in items)
            s = self._settings
            if len(self._pending) >= s.queue_max or self._pending_bytes >= s.queue_max_bytes:
                self._pause()  # the link's queue fills next, then the broker holds the rest
            self._wake.set()
        elif kind == "connected":
            self.connects += 1
            log.info("connected to %s (session present: %s)", self._settings.url, message[1])
        elif kind == "subscribed":
            self.subscribed = message[1]
            if not self.subscribed:
                log.error("broker %s refused our subscription: %s", self._settings.url, message[2])
        elif kind == "lost":
            self.subscribed = False
            if not self._closed:
                log.warning("lost broker %s (%s); reconnecting", self._settings.url, message[1])
        elif kind == "unreachable":
            log.warning("cannot reach broker %s; retrying", self._settings.url)
        elif kind == "fatal":
            self._fail((AuthError if message[1] else SourceError)(message[2]))

    def _fail(self, error: SourceError) -> None:
        if self._fatal is None:
            self._fatal = error
        self._pause()
        self._wake.set()

    def _resume(self) -> None:
        if not self._reading and self._conn is not None and self._loop is not None:
            self._loop.add_reader(self._conn.fileno(), self._on_readable)
            self._reading = True

    def _pause(self) -> None:
        if self._reading and self._conn is not None and self._loop is not None:
            self._loop.remove_reader(self._conn.fileno())
            self._reading = False
