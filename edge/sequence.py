"""Per-sensor sequence tracking: duplicates, gaps and restarts, from sequence numbers and time.

Each sensor numbers its readings 0, 1, 2, ... . The tracker remembers the highest number seen,
which of the previous ``WINDOW`` numbers arrived and the latest observation time, so a
re-delivered reading (MQTT QoS 1 after a reconnect or a broker restart) is recognised as a
duplicate while a late one still counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

WINDOW = 1024


class Verdict(Enum):
    """What a sequence number says about its reading."""

    NEW = "new"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass(slots=True)
class _SensorSeq:
    high: int
    seen: int  # bit i set: reading high - i arrived
    latest_ts: float


@dataclass(frozen=True, slots=True)
class Observation:
    """The verdict on one sequence number and how many readings it shows missing."""

    verdict: Verdict
    missing: int = 0
    since: float = -math.inf  # with ``missing``: the latest time seen before the jump


_NEW = Observation(Verdict.NEW)  # the common answer, made once (it is immutable)
_DUPLICATE = Observation(Verdict.DUPLICATE)
_RESTART = Observation(Verdict.RESTART)


class SequenceTracker:
    """Remembers sequence numbers per sensor."""

    def __init__(self) -> None:
        self._sensors: dict[str, _SensorSeq] = {}

    def observe(self, sensor: str, seq: int, ts: float = -math.inf) -> Observation:
        """Record ``seq`` (observed at ``ts``) for ``sensor`` and classify it."""
        state = self._sensors.get(sensor)
        if state is None:
            self._sensors[sensor] = _SensorSeq(seq, 1, ts)
            return _NEW
        if seq > state.high:
            missing, since = seq - state.high - 1, state.latest_ts
            state.seen = ((state.seen << (seq - state.high)) | 1) & ((1 << WINDOW) - 1)
            state.high = seq
            state.latest_ts = max(state.latest_ts, ts)
            return Observation(Verdict.NEW, missing, since) if missing else _NEW
        back = state.high - seq
        bit = 1 << back if back < WINDOW else 0
        # Far below, or a number already seen but observed after everything seen so far: the
        # sensor rebooted. A redelivered copy carries its original, older time.
        if back >= WINDOW or (state.seen & bit and ts > state.latest_ts):
            self._sensors[sensor] = _SensorSeq(seq, 1, ts)
            return _RESTART
        if state.seen & bit:
            return _DUPLICATE
        state.seen |= bit
        state.latest_ts = max(state.latest_ts, ts)
        return _NEW
