"""Segmented prefix scans: the same numbers as the one-row-at-a-time recurrences they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.anomaly.scan import Segments


def _sequential(
    keys: np.ndarray, keep: np.ndarray, add: np.ndarray, init: dict[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """y = keep * y_prev + add per key, one row at a time, from init[key]."""
    state = dict(init)
    before, after = np.empty(len(keys)), np.empty(len(keys))
    for i, k in enumerate(keys.tolist()):
        before[i] = state[k]
        state[k] = keep[i] * state[k] + add[i]
        after[i] = state[k]
    return before, after


@pytest.mark.parametrize(
    ("keys", "head", "tail", "position", "span"),
    [
        ([4, 4, 7, 9, 9, 9], [0, 2, 3], [1, 2, 5], [0, 1, 0, 0, 1, 2], 3),
        ([1], [0], [0], [0], 1),
        ([], [], [], [], 0),
    ],
)
def test_segments_of_sorted_keys(
    keys: list[int], head: list[int], tail: list[int], position: list[int], span: int
) -> None:
    seg = Segments.of(np.array(keys, dtype=np.int64))
    assert seg.head.tolist() == head
    assert seg.tail.tolist() == tail
    assert seg.position.tolist() == position
    assert seg.span == span


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 70), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_recur_equals_the_sequential_recurrence(lengths: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)
    keep = rng.choice([0.0, 1.0, 0.5, 1 - 1 / 288], size=len(keys))
    add = rng.normal(0, 10, len(keys))
    init = rng.normal(0, 10, len(lengths))
    before, after = Segments.of(keys).recur(keep, add, init)
    want_before, want_after = _sequential(keys, keep, add, dict(enumerate(init.tolist())))
    np.testing.assert_allclose(before, want_before, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(after, want_after, rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 70), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1.0, 1e-9, 1e6, 1e140]),
)
def test_running_mean_equals_the_sequential_update(
    lengths: list[int], seed: int, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    keys = np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)
    rate = rng.uniform(1 / 288, 1, len(keys))
    target = scale * rng.normal(5, 1, len(keys))
    init = scale * rng.normal(5, 1, len(lengths))
    _, after = Segments.of(keys).mean(rate, target, init)
    _, want = _sequential(keys, 1 - rate, rate * target, dict(enumerate(init.tolist())))
    np.testing.assert_allclose(after, want, rtol=1e-11)


def test_running_mean_of_a_constant_is_exact() -> None:
    keys = np.zeros(1000, dtype=np.int64)
    rate = np.maximum(1 / 288, 1 / np.arange(1, 1001))
    before, after = Segments.of(keys).mean(rate, np.full(1000, 3.25), np.array([3.25]))
    assert np.all(before == 3.25)
    assert np.all(after == 3.25)


def test_a_huge_value_fades_without_leaving_rounding_error_behind() -> None:
    target = np.r_[np.full(10, 20.0), 1e140, np.full(3000, 20.0)]
    keys = np.zeros(len(target), dtype=np.int64)
    rate = np.full(len(target), 1 / 6)
    _, after = Segments.of(keys).mean(rate, target, np.array([20.0]))
    _, want = _sequential(keys, 1 - rate, rate * target, {0: 20.0})
    np.testing.assert_allclose(after, want, rtol=1e-11)
    assert after[-1] == pytest.approx(20.0)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 70), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_running_minimum_equals_the_sequential_one(lengths: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)
    values = np.where(rng.random(len(keys)) < 0.3, np.inf, rng.exponential(1, len(keys)))
    init = np.where(rng.random(len(lengths)) < 0.5, np.inf, rng.exponential(1, len(lengths)))
    before, after = Segments.of(keys).least(values, init)
    state = dict(enumerate(init.tolist()))
    for i, k in enumerate(keys.tolist()):
        assert before[i] == state[k]
        state[k] = min(state[k], values[i])
        assert after[i] == state[k]
