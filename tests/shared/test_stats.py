"""Mergeable statistics agree with numpy, however the values are split and merged."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import stats
from shared.stats import Stats

values = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=200
)
relaxed = settings(deadline=None)  # numpy's first call can be slow on a busy machine


def assert_matches(result: Stats, data: list[float]) -> None:
    """``result`` describes ``data`` within floating-point tolerance of numpy."""
    array = np.array(data, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(array))))
    assert result.count == len(data)
    assert math.isclose(result.total, float(np.sum(array)), rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert result.low == float(np.min(array))
    assert result.high == float(np.max(array))
    m2 = float(np.var(array) * len(data))
    tolerance = 1e-9 * scale * scale * len(data)
    assert math.isclose(result.m2, m2, rel_tol=1e-7, abs_tol=tolerance)
    assert result.m2 >= 0
    if len(data) > 1:
        variance = float(np.var(array, ddof=1))
        assert math.isclose(result.variance, variance, rel_tol=1e-7, abs_tol=tolerance)
    assert math.isclose(result.mean, float(np.mean(array)), rel_tol=1e-9, abs_tol=1e-9 * scale)


def folded(data: list[float]) -> Stats:
    """Statistics built one value at a time, as a window does."""
    result: Stats | None = None
    for value in data:
        result = stats.add(result, value)
    assert result is not None
    return result


@relaxed
@given(values)
def test_of_matches_numpy(data: list[float]) -> None:
    assert_matches(stats.of(data), data)


@relaxed
@given(values)
def test_add_matches_numpy(data: list[float]) -> None:
    assert_matches(folded(data), data)


@relaxed
@given(values, values)
def test_merge_matches_numpy(a: list[float], b: list[float]) -> None:
    assert_matches(stats.merge(stats.of(a), stats.of(b)), a + b)
    assert_matches(stats.merge(folded(a), folded(b)), a + b)


@relaxed
@given(st.lists(values, min_size=1, max_size=10))
def test_merging_many_parts_matches_numpy(parts: list[list[float]]) -> None:
    merged = reduce(stats.merge, [stats.of(part) for part in parts])
    assert_matches(merged, [v for part in parts for v in part])


@relaxed
@given(values, values, values)
def test_merge_is_associative(a: list[float], b: list[float], c: list[float]) -> None:
    sa, sb, sc = stats.of(a), stats.of(b), stats.of(c)
    left = stats.merge(stats.merge(sa, sb), sc)
    right = stats.merge(sa, stats.merge(sb, sc))
    assert_close(left, right, a + b + c)


@relaxed
@given(values, values)
def test_merge_is_commutative(a: list[float], b: list[float]) -> None:
    sa, sb = stats.of(a), stats.of(b)
    assert_close(stats.merge(sa, sb), stats.merge(sb, sa), a + b)


def assert_close(x: Stats, y: Stats, data: list[float]) -> None:
    """Two statistics of the same ``data`` agree within rounding."""
    scale = max(1.0, *(abs(v) for v in data))
    assert (x.count, x.low, x.high) == (y.count, y.low, y.high)
    assert math.isclose(x.total, y.total, rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert math.isclose(x.m2, y.m2, rel_tol=1e-7, abs_tol=1e-9 * scale * scale * len(data))


def test_single_value() -> None:
    one = stats.add(None, 4.0)
    assert one == Stats(1, 4.0, 4.0, 4.0, 0.0)
    assert one.variance == 0.0
    assert stats.of([4.0]) == one


def test_worked_example_of_the_protocol() -> None:
    # docs/protocol.md, section 8.2: values 12, 14, 10, 12, 12 on time, then 18 late.
    on_time = stats.of([12.0, 14.0, 10.0, 12.0, 12.0])
    late = stats.of([18.0])
    assert on_time == Stats(5, 60.0, 10.0, 14.0, 8.0)
    assert stats.merge(on_time, late) == Stats(6, 78.0, 10.0, 18.0, 38.0)


def test_large_offset_does_not_cancel() -> None:
    # A sum of squares would lose these small deviations on a large mean; M2 keeps them.
    data = [1e9 + v for v in (4.0, 7.0, 13.0, 16.0)]
    assert stats.of(data).variance == 30.0
    assert folded(data).variance == 30.0
    assert stats.merge(stats.of(data[:2]), stats.of(data[2:])).variance == 30.0
