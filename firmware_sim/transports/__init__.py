"""Transports: how a simulated sensor's readings leave the process, one module per protocol.

Each transport is a ``Link``: an async context manager for one sensor's connection that owns
its reconnect and backoff, and a ``send()`` of one encoded message (the sensor's ``Firmware``
encodes it through the shared codecs) that never raises for a lost peer: the message is then
lost, as it would be on a sensor without storage.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from firmware_sim.firmware import Transport
from firmware_sim.fleet import SimSensor


class Link(Protocol):
    """One sensor's connection to its gateway."""

    @property
    def transport(self) -> Transport:
        """Which wire format ``send`` expects."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, frame: bytes) -> bool:
        """Deliver one encoded message; False if it was lost because the peer is unreachable."""
        ...


LinkFactory = Callable[[SimSensor], Link]
"""Makes the (not yet connected) link of one sensor."""
