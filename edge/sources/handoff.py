"""Hand messages from a transport's own thread to asyncio, one wake-up per batch.

Overflow policy: when ``limit`` messages wait for the pipeline, the producing thread blocks
until the pipeline catches up. For MQTT the broker then holds the backlog (QoS 1, persistent
session); for a serial line the UART's buffer does. Nothing is dropped at the gateway.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

from edge.errors import SourceError
from edge.sources.base import RawMessage


class Handoff:
    """A bounded, thread-safe batch queue with an asyncio consumer."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._pending: list[RawMessage] = []
        self._fatal: SourceError | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the consumer's loop (call from it before producers start)."""
        self._loop = loop

    def put(self, message: RawMessage) -> None:
        """Called by the producer thread; blocks while the queue is full."""
        with self._lock:
            while len(self._pending) >= self._limit and not self._closed:
                self._room.wait(timeout=1.0)
            self._pending.append(message)
            first = len(self._pending) == 1
        if first:  # one wake-up per batch, not per message
            self._signal()

    def fail(self, error: SourceError) -> None:
        """Make the consumer raise ``error`` after the messages already queued."""
        with self._lock:
            self._fatal = error
        self._signal()

    def close(self) -> None:
        """End the consumer's iteration and release a blocked producer."""
        with self._lock:
            self._closed = True
            self._room.notify_all()
        self._signal()

    async def batches(self) -> AsyncIterator[list[RawMessage]]:
        """Messages in arrival order, one batch per wake-up."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, []
                self._room.notify_all()
                fatal, closed = self._fatal, self._closed
            if batch:
                yield batch
            if fatal is not None:
                raise fatal
            if closed:
                return

    def _signal(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)
