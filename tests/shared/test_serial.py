"""The serial line codec: framing, the CRC, every refusal with its reason code, round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ContractError, DecodeError, SchemaError
from shared.reading import Reading
from shared.wire import serial
from tests.shared import strategies

WQ = "CT1,wq-beach-07,water_quality"
BODY = f"{WQ},412,1717243200,temperature=18.4,pH=8.1"


def frame(body: str | bytes, crc: int | None = None, end: bytes = b"\r\n") -> bytes:
    """``body`` framed with its CRC (or with ``crc``)."""
    raw = body.encode() if isinstance(body, str) else body
    value = serial.crc16(raw) if crc is None else crc
    return b"$" + raw + b"*" + f"{value:04X}".encode() + end


def test_crc_check_value() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE (also known as CRC-16/IBM-3740).
    assert serial.crc16(b"123456789") == 0x29B1
    assert serial.crc16(b"") == 0xFFFF


def test_decode() -> None:
    assert serial.decode_line(frame(BODY)) == Reading(
        "wq-beach-07", "water_quality", 412, 1717243200.0, {"temperature": 18.4, "pH": 8.1}
    )


@pytest.mark.parametrize(
    "line",
    [
        frame(BODY),
        frame(BODY, end=b"\n"),
        frame(BODY, end=b""),
        b"  \t" + frame(BODY, end=b" \r\n"),
        b"$" + BODY.encode() + b"*" + f"{serial.crc16(BODY.encode()):04x}".encode() + b"\r\n",
    ],
    ids=["crlf", "lf", "no ending", "blanks around", "lowercase crc"],
)
def test_accepted_framings(line: bytes) -> None:
    assert serial.decode_line(line).seq == 412


@pytest.mark.parametrize(
    ("ts_field", "expected"),
    [
        ("", None),
        ("1717243200.5", 1717243200.5),
        ("1717243200500", 1717243200.5),
        ("2024-06-01T14:00:00+02:00", 1717243200.0),
        ("2024-06-01T12:00:00Z", 1717243200.0),
    ],
)
def test_times(ts_field: str, expected: float | None) -> None:
    line = frame(f"CT1,noise-17,noise,1,{ts_field},LAeq=50")
    assert serial.decode_line(line).ts == expected


@pytest.mark.parametrize(
    ("line", "noise"),
    [
        (b"ESP-ROM:esp32s3-20210327\r\n", True),
        (b"\r\n", True),
        (b"# $CT1 is not at the start\r\n", True),
        (frame(BODY), False),
        (b"  " + frame(BODY), False),
        (b"$garbage\r\n", False),  # meant as a frame: refused, not ignored
    ],
)
def test_noise(line: bytes, noise: bool) -> None:
    assert serial.is_frame(line) is not noise


def corrupt(line: bytes) -> bytes:
    """``line`` with its last CRC digit changed."""
    digit = line[-3:-2]
    return line[:-3] + (b"0" if digit != b"0" else b"1") + line[-2:]


ERRORS: list[tuple[str, bytes, str]] = [
    ("too large", frame("CT1,n,noise,1,,LAeq=1" + ",LAeq=1" * 200), "too_large"),
    ("no dollar", frame(BODY)[1:], "bad_frame"),
    ("no star", b"$" + BODY.encode() + b"\r\n", "bad_frame"),
    ("short crc", frame(BODY)[:-3] + b"\r\n", "bad_frame"),
    ("long crc", frame(BODY)[:-2] + b"0\r\n", "bad_frame"),
    ("crc not hex", b"$" + BODY.encode() + b"*XYZW\r\n", "bad_frame"),
    ("crc with 0x", b"$" + BODY.encode() + b"*0x12\r\n", "bad_frame"),
    ("crc with sign", b"$" + BODY.encode() + b"*+1AB\r\n", "bad_frame"),
    ("wrong crc", corrupt(frame(BODY)), "bad_checksum"),
    ("changed value", frame(BODY).replace(b"18.4", b"18.5"), "bad_checksum"),
    ("non-ASCII", frame("CT1,noise-17,noise,1,,LAeq=50,caf\u00e9".encode()), "bad_frame"),
    ("tag missing", frame("wq-beach-07,water_quality,412,,pH=8"), "bad_frame"),
    ("other tag", frame("XY1,wq-beach-07,water_quality,412,,pH=8"), "bad_frame"),
    ("version 2", frame("CT2,wq-beach-07,water_quality,412,,pH=8"), "bad_version"),
    ("tag only", frame("CT1"), "bad_frame"),
    ("no metrics", frame(f"{WQ},412,1717243200"), "bad_frame"),
    ("empty body", frame(""), "bad_frame"),
    ("bad sensor", frame("CT1,wq beach,water_quality,412,,pH=8"), "bad_sensor"),
    ("empty sensor", frame("CT1,,water_quality,412,,pH=8"), "bad_sensor"),
    ("unknown kind", frame("CT1,wq-beach-07,water,412,,pH=8"), "unknown_kind"),
    ("seq not a number", frame(f"{WQ},x,,pH=8"), "bad_seq"),
    ("seq empty", frame(f"{WQ},,,pH=8"), "bad_seq"),
    ("seq negative", frame(f"{WQ},-1,,pH=8"), "bad_seq"),
    ("seq too big", frame(f"{WQ},4294967296,,pH=8"), "bad_seq"),
    ("ts text", frame(f"{WQ},1,now,pH=8"), "bad_ts"),
    ("ts without zone", frame(f"{WQ},1,2024-06-01T12:00:00,pH=8"), "bad_ts"),
    ("ts nan", frame(f"{WQ},1,nan,pH=8"), "bad_ts"),
    ("ts negative", frame(f"{WQ},1,-5,pH=8"), "bad_ts"),
    ("metric without =", frame(f"{WQ},1,,pH"), "bad_metrics"),
    ("unknown metric", frame(f"{WQ},1,,salinity=3"), "unknown_metric"),
    ("empty metric name", frame(f"{WQ},1,,=3"), "unknown_metric"),
    ("value not a number", frame(f"{WQ},1,,pH=acid"), "bad_value"),
    ("value empty", frame(f"{WQ},1,,pH="), "bad_value"),
    ("value out of range", frame(f"{WQ},1,,pH=15"), "out_of_range"),
    ("value nan", frame(f"{WQ},1,,pH=nan"), "out_of_range"),
    ("value inf", frame(f"{WQ},1,,pH=inf"), "out_of_range"),
]


@pytest.mark.parametrize(("line", "reason"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_refusals(line: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        serial.decode_line(line)
    assert caught.value.reason == reason
    decode_level = {"too_large", "bad_frame", "bad_checksum", "bad_version"}
    assert isinstance(caught.value, DecodeError if reason in decode_level else SchemaError)


def test_longest_line_is_accepted() -> None:
    short = frame("CT1,n,noise,1,,LAeq=1")
    padded = frame("CT1,n,noise,1,,LAeq=1" + ",LAeq=1" * ((serial.MAX_LINE - len(short)) // 7))
    assert len(padded) <= serial.MAX_LINE
    assert len(padded) > serial.MAX_LINE - 7
    assert serial.decode_line(padded).metrics == {"LAeq": 1.0}


def test_encoded_values_keep_full_precision() -> None:
    reading = Reading("em-1", "energy_meter", 1, None, {"totalActiveEnergyImport": 123456789.5})
    line = serial.encode_line(reading)
    assert b"totalActiveEnergyImport=123456789.5*" in line
    assert serial.decode_line(line) == reading


@given(strategies.readings())
def test_round_trip(reading: Reading) -> None:
    line = serial.encode_line(reading)
    assert line.startswith(b"$CT1,")
    assert line.endswith(b"\r\n")
    assert len(line) <= serial.MAX_LINE
    assert serial.decode_line(line) == reading


@given(st.binary(max_size=200))
def test_crc_matches_the_bitwise_definition(data: bytes) -> None:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    assert serial.crc16(data) == crc


@given(st.binary(max_size=serial.MAX_LINE + 10))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(ContractError):
        serial.decode_line(data)


@given(strategies.readings(), st.integers(0, 200), st.integers(1, 255))
def test_any_corruption_is_caught(reading: Reading, position: int, flip: int) -> None:
    line = bytearray(serial.encode_line(reading).rstrip(b"\r\n"))
    index = 1 + position % (len(line) - 1)  # anywhere after the $
    line[index] ^= flip
    with pytest.raises(ContractError):
        serial.decode_line(bytes(line))
