"""Per-client token buckets for the open-data API: pure arithmetic, the clock passed in.

A client's bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` tokens a
second; a request takes one token or is refused with the wait until one is back. A refused
request takes nothing, so a client that keeps retrying is not pushed further back.

``Limiter`` keeps one bucket per client in an LRU of ``max_clients``. Overflow policy: the
bucket of the client seen longest ago is dropped (counted in ``evicted``), and that client
starts again with a full bucket. An idle bucket is full again after ``burst / rate`` seconds
anyway, so eviction forgives something only when more than ``max_clients`` clients arrive
within that time; memory stays bounded whatever the number of clients.

The limiter is not locked: the app calls it from its one event loop, never from threads.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Log the first eviction, then one line per this many, so a flood does not flood the log too.
_LOG_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Rate:
    """Sustained requests per minute, and how many may come at once."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0:
            raise ValueError(f"per_minute must be positive, not {self.per_minute}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")

    @property
    def per_second(self) -> float:
        """Tokens added a second."""
        return self.per_minute / 60.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """Tokens left at a moment (seconds on the caller's clock)."""

    tokens: float
    at: float


def full(rate: Rate, now: float) -> Bucket:
    """The bucket of a client not seen before."""
    return Bucket(float(rate.burst), now)


def refill(bucket: Bucket, rate: Rate, now: float) -> Bucket:
    """``bucket`` at ``now``, refilled for the time since, never above ``burst``."""
    # A clock that steps back must not drain the bucket: no time passed, nothing added.
    elapsed = max(0.0, now - bucket.at)
    return Bucket(min(float(rate.burst), bucket.tokens + elapsed * rate.per_second), now)


def take(bucket: Bucket, rate: Rate, now: float) -> tuple[Bucket, float]:
    """Take one token: the bucket after, and 0.0, or seconds to wait (nothing taken)."""
    current = refill(bucket, rate, now)
    if current.tokens >= 1.0:
        return Bucket(current.tokens - 1.0, now), 0.0
    return current, (1.0 - current.tokens) / rate.per_second


class Limiter:
    """Token buckets of the most recently seen ``max_clients`` clients."""

    def __init__(self, rate: Rate, max_clients: int) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, not {max_clients}")
        self.rate = rate
        self.max_clients = max_clients
        self.evicted = 0
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, client: str, now: float) -> float:
        """Take a token for ``client`` at ``now``: 0.0 if allowed, else seconds to wait."""
        bucket = self._buckets.pop(client, None) or full(self.rate, now)
        self._buckets[client], wait = take(bucket, self.rate, now)  # now the most recent
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
            self.evicted += 1
            if self.evicted % _LOG_EVERY == 1:
                log.warning(
                    "open-data rate limiter over %d clients: %d buckets dropped, oldest first",
                    self.max_clients,
                    self.evicted,
                )
        return wait
