"""Per-sensor sequence tracking: duplicates, gaps and restarts, from sequence numbers alone.

Each sensor numbers its readings 0, 1, 2, ... . The tracker remembers the highest number seen
and which of the previous ``WINDOW`` numbers arrived, so a re-delivered reading (MQTT QoS 1
after a reconnect) is recognised as a duplicate while a late one still counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

WINDOW = 1024
# A number this far below the highest seen means the sensor rebooted and started again.
_RESTART_BELOW = WINDOW


class Verdict(Enum):
    """What a sequence number says about its reading."""

    NEW = "new"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass(slots=True)
class _SensorSeq:
    high: int
    seen: int  # bit i set: reading high - i arrived


@dataclass(frozen=True, slots=True)
class Observation:
    """The verdict on one sequence number and how many readings it shows missing."""

    verdict: Verdict
    missing: int = 0


class SequenceTracker:
    """Remembers sequence numbers per sensor."""

    def __init__(self) -> None:
        self._sensors: dict[str, _SensorSeq] = {}

    def observe(self, sensor: str, seq: int) -> Observation:
        """Record ``seq`` for ``sensor`` and classify it."""
        state = self._sensors.get(sensor)
        if state is None:
            self._sensors[sensor] = _SensorSeq(seq, 1)
            return Observation(Verdict.NEW)
        if seq > state.high:
            missing = seq - state.high - 1
            state.seen = ((state.seen << (seq - state.high)) | 1) & ((1 << WINDOW) - 1)
            state.high = seq
            return Observation(Verdict.NEW, missing)
        back = state.high - seq
        # Sequence 0 after anything higher is a reboot (the protocol says so); so is a number
        # far below the highest, from a sensor that rebooted while we were not listening.
        if seq == 0 or back >= _RESTART_BELOW:
            self._sensors[sensor] = _SensorSeq(seq, 1)
            return Observation(Verdict.RESTART)
        bit = 1 << back
        if state.seen & bit:
            return Observation(Verdict.DUPLICATE)
        state.seen |= bit
        return Observation(Verdict.NEW)
