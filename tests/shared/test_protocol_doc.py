"""docs/protocol.md is the contract: its examples decode, its tables match the code."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import stats
from shared.stats import Stats
from shared.wire import mqtt, serial, uplink
from shared.wire.uplink import Batch, IngestResult, Summary
from tests.shared.docs import (
    ROOT,
    catalogue_table,
    doc_catalogue_table,
    doc_example,
    doc_examples,
    protocol_text,
)

EXAMPLES = {
    "mqtt-single",
    "mqtt-single-no-clock",
    "mqtt-single-rfc3339",
    "mqtt-batch",
    "mqtt-status-online",
    "mqtt-status-offline",
    "mqtt-alert",
    "mosquitto-pub",
    "serial-crc-input",
    "crc-python",
    "crc-c",
    "serial-line",
    "serial-session",
    "uplink-batch",
    "uplink-response",
    "summary-merged",
}


def decode_mqtt(text: str) -> list[Any]:
    """The readings of an MQTT example, as the gateway decodes them off its topic."""
    sensor = json.loads(text)["sensor"]
    topic = mqtt.readings_topic(sensor)
    return mqtt.decode_readings(mqtt.sensor_from_topic(topic), text.encode())


def test_the_examples_other_tests_rely_on_are_all_there() -> None:
    assert set(doc_examples()) == EXAMPLES


def test_unknown_example_names_fail_clearly() -> None:
    with pytest.raises(KeyError, match="no example called 'nope'"):
        doc_example("nope")


def test_mqtt_single() -> None:
    (reading,) = decode_mqtt(doc_example("mqtt-single"))
    assert (reading.sensor, reading.kind, reading.seq) == ("aq-0042", "air_quality", 1841)
    assert reading.ts == 1717243200.5
    assert reading.metrics == {"pm25": 12.4, "pm10": 20.1, "no2": 31.0}
    assert "\n" not in doc_example("mqtt-single")  # one line, ready to paste


def test_mqtt_single_without_clock() -> None:
    (reading,) = decode_mqtt(doc_example("mqtt-single-no-clock"))
    assert reading.ts is None
    assert reading.metrics["batteryLevel"] == 0.83


def test_mqtt_single_with_rfc3339_time() -> None:
    (reading,) = decode_mqtt(doc_example("mqtt-single-rfc3339"))
    assert reading.ts == 1717243200.0


def test_mqtt_batch() -> None:
    readings = decode_mqtt(doc_example("mqtt-batch"))
    assert [r.seq for r in readings] == [5120, 5121, 5122]
    assert {r.sensor for r in readings} == {"tf-ring-north-3"}


def test_mqtt_status() -> None:
    assert mqtt.decode_status(doc_example("mqtt-status-online").encode()) is True
    assert mqtt.decode_status(doc_example("mqtt-status-offline").encode()) is False
    assert doc_example("mqtt-status-online").encode() == mqtt.encode_status(True)
    assert doc_example("mqtt-status-offline").encode() == mqtt.encode_status(False)


def test_mqtt_alert() -> None:
    text = doc_example("mqtt-alert")
    alert = mqtt.decode_alert(text.encode())
    assert mqtt.encode_alert(alert) == text.encode()
    batch = Batch.model_validate_json(doc_example("uplink-batch"))
    assert alert in batch.records  # the same alert the uplink example sends


def test_mosquitto_pub_command() -> None:
    words = shlex.split(doc_example("mosquitto-pub").replace("\\\n", " "))
    assert words[0] == "mosquitto_pub"
    options = dict(zip(words[1::2], words[2::2], strict=True))
    assert options["-q"] in ("0", "1")
    (reading,) = mqtt.decode_readings(mqtt.sensor_from_topic(options["-t"]), options["-m"].encode())
    assert options["-t"] == mqtt.readings_topic(reading.sensor)
    assert reading.ts is None  # accepted whatever the day it is tried


def test_serial_line() -> None:
    line = doc_example("serial-line")
    reading = serial.decode_line(line.encode())
    assert (reading.sensor, reading.seq, reading.ts) == ("wq-beach-07", 412, 1717243200.0)
    assert serial.encode_line(reading) == line.encode() + b"\r\n"
    assert line[1 : line.index("*")] == doc_example("serial-crc-input")
    assert f"*{serial.crc16(doc_example('serial-crc-input').encode()):04X}" in line


def test_serial_worked_example_states_the_right_sizes_and_values() -> None:
    body = doc_example("serial-crc-input").encode()
    text = protocol_text()
    assert f"these {len(body)} bytes" in text
    assert f"after all {len(body)} bytes it is 0x{serial.crc16(body):04X}" in text
    running = [f"0x{serial.crc16(body[: i + 1]):04X}" for i in range(6)]
    assert "| CRC after it | " + " | ".join(running) + " | ... |" in text


def test_serial_session() -> None:
    lines = doc_example("serial-session").encode().splitlines()
    frames = [line for line in lines if serial.is_frame(line)]
    assert len(lines) - len(frames) == 3  # banner, boot message, ntp message
    readings = [serial.decode_line(line) for line in frames]
    assert [r.seq for r in readings] == [0, 1, 2, 9001]
    assert [r.ts for r in readings] == [None, 1717243210.0, 1717243220.0, 1717243200.0]


def load_python_crc() -> Callable[[bytes], int]:
    namespace: dict[str, Any] = {}
    exec(doc_example("crc-python"), namespace)
    function: Callable[[bytes], int] = namespace["crc16_ccitt_false"]
    return function


@given(st.binary(max_size=300))
def test_python_reference_crc(data: bytes) -> None:
    assert load_python_crc()(data) == serial.crc16(data)


def test_python_reference_crc_check_value() -> None:
    assert load_python_crc()(b"123456789") == 0x29B1


def test_c_reference_implementation(tmp_path: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    source = tmp_path / "ct.c"
    source.write_text(doc_example("crc-c"))
    program = tmp_path / "ct"
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    subprocess.run([compiler, *flags, "-o", str(program), str(source)], check=True, timeout=60)
    output = subprocess.run([str(program)], check=True, capture_output=True, timeout=10).stdout
    assert output == doc_example("serial-line").encode() + b"\r\n"


def test_uplink_batch() -> None:
    batch = Batch.model_validate_json(doc_example("uplink-batch"))
    assert {r.type for r in batch.records} == {"summary", "alert", "heartbeat", "gap"}
    assert batch.records[0].type == "alert"
    assert len({r.seq for r in batch.records}) == len(batch.records)
    assert Batch.model_validate_json(uplink.encode_batch(batch, compress=False)) == batch


def test_uplink_response() -> None:
    result = IngestResult.model_validate_json(doc_example("uplink-response"))
    batch = Batch.model_validate_json(doc_example("uplink-batch"))
    assert result.accepted + result.duplicates == len(batch.records)


def merge_summaries(a: Summary, b: Summary) -> dict[str, Any]:
    """The merge of docs/protocol.md section 8.2, written out from its table."""
    merged = stats.merge(
        Stats(a.count, a.sum, a.min, a.max, a.m2), Stats(b.count, b.sum, b.min, b.max, b.m2)
    )
    latest = b if b.last_ts >= a.last_ts else a
    scores = [s for s in (a.max_score, b.max_score) if s is not None]
    expected = None
    if a.expected is not None and b.expected is not None:
        expected = max(a.expected, b.expected, merged.count)
    return {
        "count": merged.count,
        "sum": merged.total,
        "min": merged.low,
        "max": merged.high,
        "m2": merged.m2,
        "first_ts": min(a.first_ts, b.first_ts),
        "last_ts": latest.last_ts,
        "last_value": latest.last_value,
        "anomalies": a.anomalies + b.anomalies,
        "max_score": max(scores) if scores else None,
        "expected": expected,
    }


def test_summary_merge_example() -> None:
    batch = Batch.model_validate_json(doc_example("uplink-batch"))
    on_time, late = (r for r in batch.records if isinstance(r, Summary))
    assert (on_time.late, late.late) == (False, True)
    assert (on_time.sensor, on_time.metric, on_time.start, on_time.end) == (
        late.sensor,
        late.metric,
        late.start,
        late.end,
    )
    expected = json.loads(doc_example("summary-merged"))
    assert merge_summaries(on_time, late) == expected
    assert merge_summaries(late, on_time) == expected  # order of arrival does not matter


def test_catalogue_table_matches_the_catalogue() -> None:
    assert doc_catalogue_table() == catalogue_table(), (
        "the catalogue in docs/protocol.md is stale: run python -m tests.shared.docs"
    )


def reason_codes_in_doc() -> set[str]:
    text = protocol_text()
    table = text[text.index("<!-- reason-codes -->") :].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def reason_codes_in_code() -> set[str]:
    sources = (ROOT / "shared").rglob("*.py")
    return {code for path in sources for code in re.findall(r'reason="(\w+)"', path.read_text())}


def test_every_reason_code_is_documented() -> None:
    assert reason_codes_in_code()  # the scan found something
    assert reason_codes_in_doc() == reason_codes_in_code()


@pytest.mark.parametrize(
    "fact",
    [
        mqtt.READINGS_FILTER,
        mqtt.STATUS_FILTER,
        "citytwin/v1/alerts/{sensor}",
        f"{mqtt.MAX_PAYLOAD} bytes (64 KiB)",
        f"| readings in a batch | 1 to {mqtt.MAX_BATCH} |",
        f"**{serial.MAX_LINE} bytes**",
        f"POST {uplink.INGEST_PATH}",
        f"1 to {uplink.MAX_RECORDS} records",
        f"({uplink.MAX_BODY} bytes)",
        "0 .. 4294967295",
        "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    ],
)
def test_limits_and_names_in_the_doc_match_the_code(fact: str) -> None:
    assert fact in protocol_text()


def test_doc_has_no_machine_specific_paths() -> None:
    text = protocol_text()
    assert str(ROOT) not in text
    assert "/home/" not in text
