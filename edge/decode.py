"""Raw bytes to validated readings: pure functions, no I/O.

Anything that fails becomes a Rejection carrying the raw message and the reason, for the
dead-letter store; nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from edge.settings import ValidationSettings
from edge.sources.base import RawMessage
from shared.errors import ContractError
from shared.reading import Reading
from shared.wire import mqtt, serial


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that could not be accepted, and why."""

    message: RawMessage
    reason: str
    detail: str

    def row(self) -> tuple[float, str, str, str, str, bytes]:
        """The dead-letter row: received, transport, channel, reason, detail, payload."""
        m = self.message
        return (m.received_at, m.transport, m.channel, self.reason, self.detail, m.payload)


def decode(message: RawMessage, limits: ValidationSettings) -> list[Reading] | Rejection:
    """Decode and validate one raw message into readings, or say why not."""
    try:
        if message.transport == "serial":
            readings = [serial.decode_line(message.payload)]
        else:
            sensor = mqtt.sensor_from_topic(message.channel)
            readings = mqtt.decode_readings(sensor, message.payload)
        return [_check_time(r, message.received_at, limits) for r in readings]
    except ContractError as exc:
        return Rejection(message, exc.reason, str(exc))


def _check_time(reading: Reading, received_at: float, limits: ValidationSettings) -> Reading:
    if reading.ts is None:
        # No clock on the sensor: the arrival time is the best observation time we have.
        return dataclasses.replace(reading, ts=received_at)
    if reading.ts > received_at + limits.max_future_s:
        raise ContractError(
            f"ts: {reading.ts - received_at:.0f} s ahead of the gateway clock "
            f"(limit {limits.max_future_s:g} s); is the sensor clock set?",
            reason="future_ts",
        )
    if reading.ts < received_at - limits.max_age_s:
        raise ContractError(
            f"ts: {received_at - reading.ts:.0f} s old (limit {limits.max_age_s:g} s)",
            reason="stale_ts",
        )
    return reading
