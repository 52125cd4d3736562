"""The field rules every transport shares: sensor ids, sequence numbers, times, metrics."""

from __future__ import annotations

import math

import pytest

from shared.catalogue import DEVICE_METRICS, KINDS
from shared.errors import ContractError, SchemaError
from shared.reading import MAX_SEQ, check_metrics, check_sensor_id, check_seq, parse_ts

NOON = 1717243200.0  # 2024-06-01T12:00:00Z


@pytest.mark.parametrize("value", ["a", "A", "0", "aq-0042", "st-12.wx", "a_b", "x" * 64])
def test_valid_sensor_ids(value: str) -> None:
    assert check_sensor_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "-a", ".a", "_a", "a b", "a/b", "a+", "a#", "x" * 65, "café", "a\n", 7, None, True],
)
def test_invalid_sensor_ids(value: object) -> None:
    with pytest.raises(SchemaError) as caught:
        check_sensor_id(value)
    assert caught.value.reason == "bad_sensor"


@pytest.mark.parametrize("value", [0, 1, MAX_SEQ])
def test_valid_seq(value: int) -> None:
    assert check_seq(value) == value


@pytest.mark.parametrize("value", [-1, MAX_SEQ + 1, 1.0, 1.5, "1", None, True, False])
def test_invalid_seq(value: object) -> None:
    with pytest.raises(SchemaError) as caught:
        check_seq(value)
    assert caught.value.reason == "bad_seq"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0.0),
        (NOON, NOON),
        (1717243200, NOON),
        (NOON + 0.5, NOON + 0.5),
        (1e11, 1e11),  # the threshold itself is still seconds
        (1717243200500, NOON + 0.5),  # milliseconds, detected
        ("2024-06-01T12:00:00Z", NOON),
        ("2024-06-01T12:00:00+00:00", NOON),
        ("2024-06-01T14:00:00+02:00", NOON),
        ("2024-06-01T07:00:00-05:00", NOON),
        ("2024-06-01T12:00:00.250Z", NOON + 0.25),
        ("2024-06-01T14:00:00.5+02:00", NOON + 0.5),
        ("2024-06-01 12:00:00Z", NOON),
    ],
)
def test_observation_times(value: object, expected: float | None) -> None:
    assert parse_ts(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        math.nan,
        math.inf,
        10**400,  # a JSON integer no float can hold
        True,
        "yesterday",
        "",
        "1717243200",  # a number in a string is not RFC 3339
        "2024-06-01T12:00:00",  # no zone: ambiguous
        "2024-06-01",
        "1960-01-01T00:00:00Z",
        [NOON],
        {"ts": NOON},
    ],
)
def test_invalid_observation_times(value: object) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_ts(value)
    assert caught.value.reason == "bad_ts"


def test_metrics_are_floats() -> None:
    assert check_metrics("noise", {"LAeq": 58, "LAmax": 71.5}) == {"LAeq": 58.0, "LAmax": 71.5}


@pytest.mark.parametrize("name", sorted(DEVICE_METRICS))
def test_device_metrics_are_accepted_for_every_kind(name: str) -> None:
    low = DEVICE_METRICS[name].low
    for kind in KINDS:
        assert check_metrics(kind, {name: low}) == {name: low}


@pytest.mark.parametrize(
    ("kind", "name"), [(k.name, m.name) for k in KINDS.values() for m in k.metrics.values()]
)
def test_range_bounds_are_inclusive(kind: str, name: str) -> None:
    metric = KINDS[kind].metrics[name]
    assert check_metrics(kind, {name: metric.low}) == {name: metric.low}
    assert check_metrics(kind, {name: metric.high}) == {name: metric.high}
    for outside in (metric.low - 1, metric.high + 1):
        with pytest.raises(SchemaError) as caught:
            check_metrics(kind, {name: outside})
        assert caught.value.reason == "out_of_range"


@pytest.mark.parametrize(
    ("kind", "metrics", "reason"),
    [
        ("sound", {"LAeq": 50}, "unknown_kind"),
        ("", {"LAeq": 50}, "unknown_kind"),
        ("noise", None, "bad_metrics"),
        ("noise", {}, "bad_metrics"),
        ("noise", [50], "bad_metrics"),
        ("noise", "LAeq=50", "bad_metrics"),
        ("noise", {"laeq": 50}, "unknown_metric"),  # names are case-sensitive
        ("noise", {"pm25": 10}, "unknown_metric"),  # a metric of another kind
        ("noise", {"LAeq": "50"}, "bad_value"),
        ("noise", {"LAeq": None}, "bad_value"),
        ("noise", {"LAeq": True}, "bad_value"),  # a bool is not a number here
        ("noise", {"LAeq": [50]}, "bad_value"),
        ("noise", {"LAeq": math.nan}, "out_of_range"),
        ("noise", {"LAeq": math.inf}, "out_of_range"),
        ("noise", {"LAeq": -math.inf}, "out_of_range"),
        ("noise", {"LAeq": 10**400}, "out_of_range"),
        ("noise", {"LAeq": 50, "LAmax": 500}, "out_of_range"),  # one bad metric spoils all
    ],
)
def test_invalid_metrics(kind: str, metrics: object, reason: str) -> None:
    with pytest.raises(SchemaError) as caught:
        check_metrics(kind, metrics)
    assert caught.value.reason == reason


def test_errors_are_value_errors_with_a_message_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"metrics\.LAeq") as caught:
        check_metrics("noise", {"LAeq": -3})
    assert isinstance(caught.value, ContractError)
