"""The MQTT codec: topics, every refusal with its reason code, and round trips."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ContractError, DecodeError, SchemaError
from shared.reading import Reading
from shared.wire import mqtt
from shared.wire.uplink import Alert
from tests.shared import strategies

SENSOR = "aq-0042"
VALID: dict[str, Any] = {
    "v": 1,
    "sensor": SENSOR,
    "kind": "air_quality",
    "seq": 7,
    "ts": 1717243200,
    "metrics": {"pm25": 12.4},
}


def payload(**changes: Any) -> bytes:
    """VALID with fields replaced (or removed, for the value ``...``), as JSON bytes."""
    body = {k: v for k, v in (VALID | changes).items() if v is not ...}
    return json.dumps(body).encode()


def batch(items: Any, **changes: Any) -> bytes:
    """A batch payload of ``items``."""
    return payload(seq=..., ts=..., metrics=..., readings=items, **changes)


ITEM = {"seq": 1, "metrics": {"pm25": 1}}


def test_topics() -> None:
    assert mqtt.readings_topic(SENSOR) == "citytwin/v1/sensors/aq-0042/readings"
    assert mqtt.status_topic(SENSOR) == "citytwin/v1/sensors/aq-0042/status"
    assert mqtt.alert_topic(SENSOR) == "citytwin/v1/alerts/aq-0042"
    assert mqtt.READINGS_FILTER == "citytwin/v1/sensors/+/readings"
    assert mqtt.STATUS_FILTER == "citytwin/v1/sensors/+/status"
    assert mqtt.sensor_from_topic(mqtt.readings_topic(SENSOR)) == SENSOR
    assert mqtt.sensor_from_topic(mqtt.status_topic(SENSOR)) == SENSOR


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("citytwin/v2/sensors/aq-0042/readings", "bad_topic"),
        ("citytwin/v1/sensor/aq-0042/readings", "bad_topic"),
        ("citytwin/v1/sensors/aq-0042", "bad_topic"),
        ("citytwin/v1/sensors/aq/0042/readings", "bad_topic"),
        ("other/v1/sensors/aq-0042/readings", "bad_topic"),
        ("", "bad_topic"),
        ("citytwin/v1/sensors//readings", "bad_sensor"),
        ("citytwin/v1/sensors/aq 0042/readings", "bad_sensor"),
        ("citytwin/v1/sensors/+/readings", "bad_sensor"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        mqtt.sensor_from_topic(topic)
    assert caught.value.reason == reason


def test_single_reading() -> None:
    (reading,) = mqtt.decode_readings(SENSOR, payload())
    assert reading == Reading(SENSOR, "air_quality", 7, 1717243200.0, {"pm25": 12.4})


@pytest.mark.parametrize(
    ("changes", "expected_ts"),
    [
        ({"v": ...}, 1717243200.0),  # a missing version means 1
        ({"sensor": ...}, 1717243200.0),  # the topic names the sensor
        ({"ts": ...}, None),
        ({"ts": None}, None),
        ({"ts": 1717243200500}, 1717243200.5),
        ({"ts": "2024-06-01T14:00:00+02:00"}, 1717243200.0),
        ({"unknown": "ignored", "location": [1, 2]}, 1717243200.0),
    ],
)
def test_lenient_fields(changes: dict[str, Any], expected_ts: float | None) -> None:
    (reading,) = mqtt.decode_readings(SENSOR, payload(**changes))
    assert reading.ts == expected_ts


ERRORS: list[tuple[str, bytes, str]] = [
    ("not JSON", b"{", "not_json"),
    ("empty", b"", "not_json"),
    ("not UTF-8", b'{"v":1,"kind":"\xff"}', "not_json"),
    ("plain text", b"pm25=12", "not_json"),
    ("array", b"[1, 2]", "not_object"),
    ("string", b'"reading"', "not_object"),
    ("number", b"12.4", "not_object"),
    ("null", b"null", "not_object"),
    ("too large", payload(pad="x" * mqtt.MAX_PAYLOAD), "too_large"),
    ("version 2", payload(v=2), "bad_version"),
    ("version as string", payload(v="1"), "bad_version"),
    ("version as bool", payload(v=True), "bad_version"),
    ("version null", payload(v=None), "bad_version"),
    ("sensor not an id", payload(sensor="aq 0042"), "bad_sensor"),
    ("sensor a number", payload(sensor=42), "bad_sensor"),
    ("sensor mismatch", payload(sensor="aq-0043"), "sensor_mismatch"),
    ("kind missing", payload(kind=...), "bad_kind"),
    ("kind a number", payload(kind=3), "bad_kind"),
    ("kind unknown", payload(kind="pollen"), "unknown_kind"),
    ("seq missing", payload(seq=...), "bad_seq"),
    ("seq a string", payload(seq="7"), "bad_seq"),
    ("seq a float", payload(seq=7.0), "bad_seq"),
    ("seq a bool", payload(seq=True), "bad_seq"),
    ("seq negative", payload(seq=-1), "bad_seq"),
    ("seq too big", payload(seq=2**32), "bad_seq"),
    ("ts text", payload(ts="now"), "bad_ts"),
    ("ts without zone", payload(ts="2024-06-01T12:00:00"), "bad_ts"),
    ("ts a bool", payload(ts=True), "bad_ts"),
    ("ts negative", payload(ts=-5), "bad_ts"),
    ("ts NaN", payload(ts=float("nan")), "bad_ts"),
    ("ts huge", payload(ts=10**400), "bad_ts"),
    ("metrics missing", payload(metrics=...), "bad_metrics"),
    ("metrics empty", payload(metrics={}), "bad_metrics"),
    ("metrics a list", payload(metrics=[12.4]), "bad_metrics"),
    ("metric unknown", payload(metrics={"pm1": 3}), "unknown_metric"),
    ("metric of another kind", payload(metrics={"LAeq": 3}), "unknown_metric"),
    ("value a string", payload(metrics={"pm25": "12.4"}), "bad_value"),
    ("value a bool", payload(metrics={"pm25": True}), "bad_value"),
    ("value null", payload(metrics={"pm25": None}), "bad_value"),
    ("value NaN", b'{"v":1,"kind":"air_quality","seq":1,"metrics":{"pm25":NaN}}', "out_of_range"),
    ("value Infinity", payload(metrics={"pm25": float("inf")}), "out_of_range"),
    ("value huge", payload(metrics={"pm25": 10**400}), "out_of_range"),
    ("value negative", payload(metrics={"pm25": -0.1}), "out_of_range"),
    ("value too high", payload(metrics={"pm25": 1000.1}), "out_of_range"),
    ("batch empty", batch([]), "bad_batch"),
    ("batch not a list", batch({"seq": 1}), "bad_batch"),
    ("batch of numbers", batch([1, 2]), "bad_batch"),
    ("batch too long", batch([ITEM] * (mqtt.MAX_BATCH + 1)), "bad_batch"),
    ("batch item bad seq", batch([ITEM, {"metrics": {"pm25": 1}}]), "bad_seq"),
    ("batch item bad ts", batch([{**ITEM, "ts": "x"}]), "bad_ts"),
    ("batch item out of range", batch([ITEM, {"seq": 2, "metrics": {"pm25": -1}}]), "out_of_range"),
    ("batch of unknown kind", batch([ITEM], kind="pollen"), "unknown_kind"),
    ("batch sensor mismatch", batch([ITEM], sensor="aq-0043"), "sensor_mismatch"),
]


@pytest.mark.parametrize(("data", "reason"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        mqtt.decode_readings(SENSOR, data)
    assert caught.value.reason == reason
    decode_level = {"not_json", "too_large"}
    assert isinstance(caught.value, DecodeError if reason in decode_level else SchemaError)


def test_batch_errors_name_the_item() -> None:
    with pytest.raises(SchemaError, match=r"readings\[1\]\.metrics\.pm25"):
        mqtt.decode_readings(SENSOR, batch([ITEM, {"seq": 2, "metrics": {"pm25": -1}}]))


def test_largest_batch_and_payload_are_accepted() -> None:
    items = [{"seq": i, "metrics": {"pm25": 1}} for i in range(mqtt.MAX_BATCH)]
    assert len(mqtt.decode_readings(SENSOR, batch(items))) == mqtt.MAX_BATCH
    data = payload(pad="")
    padded = payload(pad="x" * (mqtt.MAX_PAYLOAD - len(data)))
    assert len(padded) == mqtt.MAX_PAYLOAD
    assert len(mqtt.decode_readings(SENSOR, padded)) == 1


@given(strategies.readings())
def test_single_round_trip(reading: Reading) -> None:
    data = mqtt.encode_reading(reading)
    assert mqtt.decode_readings(reading.sensor, data) == [reading]


@given(strategies.reading_batches())
def test_batch_round_trip(readings: list[Reading]) -> None:
    data = mqtt.encode_batch(readings)
    assert mqtt.decode_readings(readings[0].sensor, data) == readings


@pytest.mark.parametrize("online", [True, False])
def test_status_round_trip(online: bool) -> None:
    assert mqtt.decode_status(mqtt.encode_status(online)) is online


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"online", "not_json"),
        (b"[]", "bad_status"),
        (b'{"v": 1}', "bad_status"),
        (b'{"v": 1, "status": "ONLINE"}', "bad_status"),
        (b'{"v": 1, "status": true}', "bad_status"),
    ],
)
def test_bad_status(data: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        mqtt.decode_status(data)
    assert caught.value.reason == reason


ALERT = Alert(
    seq=3,
    sensor=SENSOR,
    kind="air_quality",
    metric="pm25",
    ts=1717243200.0,
    value=480.0,
    high=250.0,
    score=0.9,
    severity="critical",
)


def test_alert_round_trip() -> None:
    data = mqtt.encode_alert(ALERT)
    assert json.loads(data)["v"] == 1
    assert "low" not in json.loads(data)  # absent optional fields are left out
    assert mqtt.decode_alert(data) == ALERT


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"alert!", "not_json"),
        (b"[]", "not_object"),
        (mqtt.encode_alert(ALERT).replace(b'"v":1', b'"v":2'), "bad_version"),
        (mqtt.encode_alert(ALERT).replace(b'"critical"', b'"panic"'), "bad_alert"),
        (mqtt.encode_alert(ALERT).replace(b'"score":0.9', b'"score":9'), "bad_alert"),
        (b'{"v": 1, "type": "alert"}', "bad_alert"),
    ],
)
def test_bad_alerts(data: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        mqtt.decode_alert(data)
    assert caught.value.reason == reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
near_misses = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 1.0, 2, "1", True, None]),
        "sensor": st.sampled_from([SENSOR, "other", "", 5]),
        "kind": st.sampled_from(["air_quality", "noise", "", 1]),
        "seq": json_values,
        "ts": json_values,
        "metrics": json_values | st.dictionaries(st.sampled_from(["pm25", "LAeq"]), json_values),
        "readings": json_values | st.lists(json_values, max_size=3),
    },
)


@given(json_values | near_misses)
def test_any_json_is_decoded_or_refused_never_crashes(value: Any) -> None:
    data = json.dumps(value).encode()
    with contextlib.suppress(ContractError):
        for reading in mqtt.decode_readings(SENSOR, data):
            assert reading.sensor == SENSOR


@given(st.binary(max_size=200))
def test_any_bytes_are_decoded_or_refused_never_crash(data: bytes) -> None:
    with contextlib.suppress(ContractError):
        mqtt.decode_readings(SENSOR, data)
    with contextlib.suppress(ContractError):
        mqtt.decode_status(data)
    with contextlib.suppress(ContractError):
        mqtt.decode_alert(data)
