"""The open API's token buckets: pure arithmetic on an injected clock, and the LRU of clients."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.ratelimit import Bucket, Limiter, Rate, full, refill, take

T = 1000.0  # any moment: the clock is the caller's
PER_MINUTE = Rate(per_minute=60.0, burst=60)  # the defaults: one token a second


def test_a_new_client_may_send_a_burst_then_waits_for_the_next_token() -> None:
    limiter = Limiter(PER_MINUTE, max_clients=10)

    waits = [limiter.check("10.0.0.1", T) for _ in range(61)]

    assert waits[:60] == [0.0] * 60
    assert waits[60] == pytest.approx(1.0)


def test_tokens_come_back_at_the_rate_and_never_above_the_burst() -> None:
    rate = Rate(per_minute=30.0, burst=5)  # one token every two seconds
    empty = Bucket(0.0, T)

    assert refill(empty, rate, T + 3.0).tokens == pytest.approx(1.5)
    assert refill(empty, rate, T + 3600.0).tokens == 5.0


def test_a_refused_request_takes_nothing() -> None:
    rate = Rate(per_minute=60.0, burst=1)
    bucket, wait = take(Bucket(0.0, T), rate, T + 0.25)

    assert wait == pytest.approx(0.75)
    # Retrying does not push the client further back: the wait only shrinks.
    _, later = take(bucket, rate, T + 0.5)
    assert later == pytest.approx(0.5)
    _, done = take(bucket, rate, T + 1.0)
    assert done == 0.0


def test_a_clock_that_steps_back_neither_drains_nor_fills_a_bucket() -> None:
    bucket = Bucket(2.5, T)

    assert refill(bucket, PER_MINUTE, T - 30.0).tokens == 2.5


def test_clients_have_buckets_of_their_own() -> None:
    limiter = Limiter(Rate(per_minute=60.0, burst=1), max_clients=10)

    assert limiter.check("10.0.0.1", T) == 0.0
    assert limiter.check("10.0.0.1", T) > 0.0
    assert limiter.check("10.0.0.2", T) == 0.0


def test_past_max_clients_the_longest_unseen_bucket_is_dropped_and_counted() -> None:
    limiter = Limiter(Rate(per_minute=60.0, burst=1), max_clients=2)
    limiter.check("a", T)
    limiter.check("b", T)
    limiter.check("a", T)  # a is now the most recently seen: b is the oldest

    limiter.check("c", T)

    assert (len(limiter), limiter.evicted) == (2, 1)
    assert limiter.check("a", T) > 0.0  # a's empty bucket was kept
    assert limiter.check("b", T) == 0.0  # b starts again with a full one


@pytest.mark.parametrize(
    ("per_minute", "burst", "message"),
    [(0.0, 1, "per_minute must be positive"), (60.0, 0, "burst must be at least 1")],
)
def test_a_rate_that_allows_nothing_is_refused(per_minute: float, burst: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rate(per_minute, burst)


def test_a_limiter_without_room_for_a_client_is_refused() -> None:
    with pytest.raises(ValueError, match="max_clients must be at least 1"):
        Limiter(PER_MINUTE, max_clients=0)


@given(
    per_minute=st.floats(1.0, 600.0),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0.0, 5.0), max_size=300),
)
def test_no_client_gets_more_than_the_burst_plus_the_rate_over_any_time(
    per_minute: float, burst: int, gaps: list[float]
) -> None:
    rate = Rate(per_minute, burst)
    bucket, now, allowed = full(rate, T), T, 0
    for gap in gaps:
        now += gap
        bucket, wait = take(bucket, rate, now)
        allowed += wait == 0.0

    assert allowed <= burst + (now - T) * rate.per_second + 1e-9
