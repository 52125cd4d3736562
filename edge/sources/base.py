"""What every source yields, and the interface a new transport implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Literal, NamedTuple, Protocol, Self

Transport = Literal["mqtt", "serial", "replay"]


class RawMessage(NamedTuple):
    """Bytes as they arrived, before any decoding: what the dead-letter store keeps.

    Immutable like the other boundary types, and a tuple because tens of thousands a second
    are built from what the MQTT link sends (a tuple builds ~3x faster than a frozen dataclass).
    """

    transport: Transport
    channel: str  # MQTT topic or serial port
    payload: bytes
    received_at: float
    # What the transport needs to confirm delivery once the message is stored (MQTT: mid, QoS).
    mid: int = 0
    qos: int = 0


class Source(Protocol):
    """A transport: an async context manager that yields batches of raw messages."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def batches(self) -> AsyncIterator[list[RawMessage]]:
        """Batches of messages in arrival order; ends when the source is closed."""
        ...

    def ack(self, batch: list[RawMessage]) -> None:
        """Confirm a batch to its senders: it is stored, they may forget it."""
        ...
