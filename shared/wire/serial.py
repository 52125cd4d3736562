"""Sensor -> gateway over a serial line: an ASCII line protocol with a CRC (docs/protocol.md).

One reading per line:

    $CT1,<sensor>,<kind>,<seq>,<ts>,<metric>=<value>[,<metric>=<value>...]*<CRC>\\r\\n

``<ts>`` is epoch seconds, RFC 3339, or empty (no clock). ``<CRC>`` is CRC-16/CCITT-FALSE
(poly 0x1021, init 0xFFFF) over the bytes between ``$`` and ``*``, as four hex digits.
Lines that do not start with ``$`` are noise (boot banners, debug prints) and are skipped.
"""

from __future__ import annotations

import binascii
import re
from typing import Final

from shared.errors import DecodeError, SchemaError
from shared.reading import Reading, check_metrics, check_sensor_id, check_seq, parse_ts

TAG: Final = "CT1"
MAX_LINE: Final = 1024
_CRC = re.compile(rb"[0-9A-Fa-f]{4}")
_ANY_TAG = re.compile(r"CT[0-9]+")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_line(reading: Reading) -> bytes:
    """A reading as one framed, checksummed line, CRLF included."""
    ts = "" if reading.ts is None else _number(round(reading.ts, 3))
    fields = [TAG, reading.sensor, reading.kind, str(reading.seq), ts]
    fields += [f"{name}={_number(value)}" for name, value in reading.metrics.items()]
    body = ",".join(fields).encode("ascii")
    return b"$" + body + b"*" + f"{crc16(body):04X}".encode() + b"\r\n"


def is_frame(line: bytes) -> bool:
    """True if ``line`` is meant as a frame (starts with ``$``); other lines are noise."""
    return line.lstrip().startswith(b"$")


def decode_line(line: bytes) -> Reading:
    """Decode one frame (with or without its line ending) into a Reading."""
    if len(line) > MAX_LINE:
        raise DecodeError(f"line of {len(line)} bytes exceeds {MAX_LINE}", reason="too_large")
    frame = line.strip()
    star = frame.rfind(b"*")
    if not frame.startswith(b"$") or star < 0 or not _CRC.fullmatch(frame[star + 1 :]):
        raise DecodeError("frame must be $...*XXXX (4 hex digits)", reason="bad_frame")
    body = frame[1:star]
    sent_crc = int(frame[star + 1 :], 16)
    if crc16(body) != sent_crc:
        raise DecodeError(
            f"checksum mismatch: line says {sent_crc:04X}, content gives {crc16(body):04X}",
            reason="bad_checksum",
        )
    try:
        fields = body.decode("ascii").split(",")
    except UnicodeDecodeError as exc:
        raise DecodeError("frame is not ASCII", reason="bad_frame") from exc
    if fields[0] != TAG and _ANY_TAG.fullmatch(fields[0]):
        raise DecodeError(f"{fields[0]}: unsupported protocol version", reason="bad_version")
    if len(fields) < 6 or fields[0] != TAG:
        raise DecodeError(f"expected {TAG},sensor,kind,seq,ts,metric=value...", reason="bad_frame")
    _, sensor, kind, seq_text, ts_text = fields[:5]
    try:
        seq = int(seq_text)
    except ValueError as exc:
        raise SchemaError(f"seq: {seq_text!r} is not an integer", reason="bad_seq") from exc
    return Reading(
        sensor=check_sensor_id(sensor),
        kind=kind,
        seq=check_seq(seq),
        ts=parse_ts(_ts_value(ts_text)),
        metrics=check_metrics(kind, _metric_pairs(fields[5:])),
    )


def _number(value: float) -> str:
    # repr is the shortest text that reads back as the same float; "%g" would keep 6 digits.
    text = repr(float(value))
    return text.removesuffix(".0")


def _ts_value(text: str) -> float | str | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _metric_pairs(fields: list[str]) -> dict[str, object]:
    pairs: dict[str, object] = {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep:
            raise SchemaError(f"metrics: {field!r} is not name=value", reason="bad_metrics")
        try:
            pairs[name] = float(value)
        except ValueError:
            pairs[name] = value  # check_metrics names the field and rejects it
    return pairs
