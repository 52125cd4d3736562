"""Reading a stream's resolution off its values."""

from __future__ import annotations

import numpy as np
import pytest

from edge.anomaly.resolution import decimal, grain, nonzero


@pytest.mark.parametrize(
    ("value", "resolution"),
    [
        (0.796, 1e-3),
        (12.55, 1e-2),
        (-12.5, 1e-1),
        (434.0, 1.0),
        (1e120, 0.0),  # too many digits to be read off an instrument
        (20.123456789012345, 0.0),  # computed, not rounded
        (0.0, np.inf),  # an integer at any resolution: bounds nothing
    ],
)
def test_decimal_resolution_of_a_value(value: float, resolution: float) -> None:
    assert decimal(np.array([value]))[0] == pytest.approx(resolution)


def test_decimal_resolution_follows_units_by_powers_of_ten() -> None:
    values = np.array([0.8, 0.796, 0.795])
    # 800 is an integer, so it alone bounds the resolution by 1, not 100; the stream's running
    # minimum, which the features use, scales exactly.
    assert decimal(values * 1000).min() == pytest.approx(decimal(values).min() * 1000)


def test_decimals_come_first_and_the_smallest_step_serves_the_rest() -> None:
    decimals = np.array([1e-2, 1e-2, 0.0, np.inf, np.inf])
    smallest = nonzero(np.array([0.0, 3.0, 0.0556, 0.0, 2.0]))
    # A spike of 3 as a stream's first move does not coarsen a known decimal resolution.
    np.testing.assert_allclose(grain(decimals, smallest), [1e-2, 1e-2, 0.0556, 0.0, 2.0])


def test_decimal_resolution_of_many_values_is_each_ones_fewest_decimals() -> None:
    """The pass-by-pass search answers as the definition does: the fewest of 0..9 decimals
    that write the value (within the tolerance, under nine significant digits), else 0."""
    rng = np.random.default_rng(5)
    parts = [np.round(rng.normal(50, 20, 500), d) for d in range(10)]
    parts += [rng.normal(0, 1e6, 200), rng.normal(0, 1, 200) * 1e-12, np.array([1e300, -0.0])]
    x = np.concatenate(parts)
    rng.shuffle(x)
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300 scaled up overflows to inf
        scaled = np.abs(x)[:, None] * 10.0 ** np.arange(10)
        exact = (scaled < 1e9) & (np.abs(scaled - np.rint(scaled)) <= 1e-6)
        expected = np.where(exact.any(axis=1), 10.0 ** -np.argmax(exact, axis=1), 0.0)
        expected[x == 0] = np.inf
        assert np.array_equal(decimal(x), expected)
