"""Faulty firmware: every fault happens at its rate, deterministically, and is counted exactly."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from firmware_sim.errors import SimConfigError
from firmware_sim.firmware import REJECTED, FaultRates, Firmware, Transport, parse_rates
from shared.errors import ContractError
from shared.reading import Reading
from shared.wire import mqtt, serial

T0 = 1_750_000_000.0
METRICS = {"pm25": 12.5, "pm10": 20.0, "no2": 31.0}
MQTT_FAULTS = "duplicate=0.02,out_of_order=0.02,reboot=0.01,clock_skew=0.01,clock_jump=0.02,"
MQTT_FAULTS += "malformed=0.02,wrong_types=0.02,oversize=0.01"
SERIAL_FAULTS = MQTT_FAULTS + ",bad_checksum=0.02,noise=0.02"
# How a gateway refuses each rejected fault (the time window is the gateway's default).
REASONS = {"malformed": {"not_json", "bad_frame"}, "wrong_types": {"bad_value"},
           "oversize": {"too_large"}, "bad_checksum": {"bad_checksum"},
           "clock_jump": {"stale_ts", "future_ts"}}  # fmt: skip


def frames(transport: Transport, rates: str, seed: int = 3, count: int = 4000) -> Firmware:
    """A firmware that has sent ``count`` observations, one a second.

    ``.sent`` holds (frame, when it was sent) pairs.
    """
    firmware = Firmware("sim-aq-0001", "air_quality", 1, seed, parse_rates(rates), transport)
    sent: list[tuple[bytes, float]] = []
    for n in range(count):
        sent += [(f, T0 + n) for f in firmware.frames(firmware.readings(T0 + n, METRICS))]
    sent += [(f, T0 + count) for f in firmware.frames(firmware.flush())]
    firmware.sent = sent  # type: ignore[attr-defined]
    return firmware


def gateway(transport: Transport, frame: bytes, now: float) -> list[Reading] | str:
    """What a gateway makes of one frame: readings, the reason it refuses it, or noise."""
    try:
        if transport == "serial":
            if not serial.is_frame(frame):
                return "noise"
            readings = [serial.decode_line(frame)]
        else:
            readings = mqtt.decode_readings("sim-aq-0001", frame)
    except ContractError as exc:
        return exc.reason
    for reading in readings:
        assert reading.ts is not None
        if reading.ts > now + 300:
            return "future_ts"
        if reading.ts < now - 7 * 86_400:
            return "stale_ts"
    return readings


def test_rates_parse_from_the_command_line_form() -> None:
    rates = parse_rates("malformed=0.01, oversize=0.001")
    assert (rates.malformed, rates.oversize, rates.duplicate) == (0.01, 0.001, 0.0)
    assert parse_rates("") == FaultRates()


@pytest.mark.parametrize(
    ("text", "message"),
    [("typo=0.1", "'typo=0.1' is not NAME=RATE"), ("malformed", "is not NAME=RATE"),
     ("malformed=x", "not a number"), ("malformed=2", "malformed=2 is not in 0..1"),
     ("malformed=0.6,oversize=0.6", "add up to more than 1")],
)  # fmt: skip
def test_bad_rates_are_refused_with_the_field_named(text: str, message: str) -> None:
    with pytest.raises(SimConfigError, match=message):
        parse_rates(text)


def test_serial_faults_are_refused_on_mqtt() -> None:
    with pytest.raises(SimConfigError, match="serial lines only"):
        Firmware("s", "noise", 1, 0, parse_rates("noise=0.1"), "mqtt")


def test_no_faults_gives_the_plain_encoding() -> None:
    firmware = frames("mqtt", "", count=5)
    expected = [mqtt.encode_reading(Reading("sim-aq-0001", "air_quality", n, T0 + n, METRICS))
                for n in range(5)]  # fmt: skip
    assert [frame for frame, _ in firmware.sent] == expected  # type: ignore[attr-defined]
    assert firmware.counts == Counter()


@pytest.mark.parametrize("transport", ["mqtt", "serial"])
def test_the_same_seed_gives_the_same_bytes(transport: Transport) -> None:
    rates = SERIAL_FAULTS if transport == "serial" else MQTT_FAULTS
    first, again = frames(transport, rates), frames(transport, rates)
    assert first.sent == again.sent  # type: ignore[attr-defined]
    assert first.sent != frames(transport, rates, seed=4).sent  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["mqtt", "serial"])
def test_the_gateway_refuses_exactly_the_counted_faults(transport: Transport) -> None:
    firmware = frames(transport, SERIAL_FAULTS if transport == "serial" else MQTT_FAULTS)
    outcomes = [gateway(transport, f, now) for f, now in firmware.sent]  # type: ignore[attr-defined]
    refused = Counter(o for o in outcomes if isinstance(o, str) and o != "noise")
    for fault in REJECTED:
        assert firmware.counts[fault] > 10 or (transport == "mqtt" and fault == "bad_checksum")
    by_reason = {fault: sum(refused[r] for r in REASONS[fault]) for fault in REASONS}
    assert by_reason == {f: firmware.counts[f] for f in REASONS}
    assert sum(refused.values()) == sum(firmware.counts[f] for f in REJECTED)
    assert outcomes.count("noise") == firmware.counts["noise"]


@pytest.mark.parametrize("transport", ["mqtt", "serial"])
def test_accepted_faults_show_in_sequence_numbers_and_times(transport: Transport) -> None:
    firmware = frames(transport, SERIAL_FAULTS if transport == "serial" else MQTT_FAULTS)
    outcomes = [gateway(transport, f, now) for f, now in firmware.sent]  # type: ignore[attr-defined]
    accepted = [r for o in outcomes if isinstance(o, list) for r in o]
    pairs = list(itertools.pairwise(r.seq for r in accepted))
    assert sum(a == b for a, b in pairs) == firmware.counts["duplicate"]
    assert sum(b == 0 for _, b in pairs) == firmware.counts["reboot"]
    late = sum(b == a - 1 for a, b in pairs)
    assert firmware.counts["out_of_order"] // 2 <= late <= firmware.counts["out_of_order"]
    # The observations are whole seconds apart: a skewed clock shows as a fraction.
    assert firmware.counts["clock_skew"] > 0
    assert any((r.ts or 0.0) % 1 for r in accepted)
