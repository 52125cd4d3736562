"""Capped exponential backoff with jitter, so a fleet does not reconnect in lockstep."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that double from ``initial_s`` up to ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` consecutive failures (>= 1), jittered to 50-100%."""
        capped = min(self.max_s, self.initial_s * 2.0 ** min(max(failures - 1, 0), 32))
        return capped * (0.5 + 0.5 * rng.random())
