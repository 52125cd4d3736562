"""Faulty firmware: what a sensor's own software gets wrong, at configurable rates, counted.

A ``Firmware`` numbers and stamps one sensor's observations and turns them into what goes on
the wire. At each observation it draws once from its own random stream, keyed by (seed,
FIRMWARE, sensor number), and at most one fault happens:

    reading faults (the gateway accepts the reading, and must notice):
      duplicate      the reading is sent twice, same seq
      out_of_order   the reading is held back and sent after the next one
      reboot         the sensor restarts: seq starts again at 0
      clock_skew     the clock drifts off by 30 to 200 s, and stays off
    rejected faults (the gateway must dead-letter exactly these, with the reason given):
      clock_jump     one reading stamped 8 days in the past or 1 hour ahead   stale_ts, future_ts
      malformed      the payload is cut short                                 not_json, bad_frame
      wrong_types    a metric value sent as a string                          bad_value
      oversize       a payload over 64 KiB, or a line over 1024 bytes          too_large
      bad_checksum   (serial) the line's CRC is wrong                         bad_checksum
    harmless:
      noise          (serial) a debug print before the line, which gateways skip

The same seed, rates and observations give the same bytes. No I/O here.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final, Literal

from firmware_sim import streams
from firmware_sim.errors import SimConfigError
from shared.reading import MAX_SEQ, Reading
from shared.wire.mqtt import MAX_PAYLOAD, encode_batch, encode_reading
from shared.wire.serial import MAX_LINE, crc16, encode_line

Transport = Literal["mqtt", "serial"]
REJECTED: Final = ("clock_jump", "malformed", "wrong_types", "oversize", "bad_checksum")
SERIAL_ONLY: Final = ("bad_checksum", "noise")
_JUMP_BACK_S, _JUMP_AHEAD_S = 8 * 86_400.0, 3_600.0
_NOISE_LINE: Final = b"dbg: heap=%d rssi=-%d\r\n"


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Probability of each fault at each observation (their sum is at most 1)."""

    duplicate: float = 0.0
    out_of_order: float = 0.0
    reboot: float = 0.0
    clock_skew: float = 0.0
    clock_jump: float = 0.0
    malformed: float = 0.0
    wrong_types: float = 0.0
    oversize: float = 0.0
    bad_checksum: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        for name, rate in self.items():
            if not 0.0 <= rate <= 1.0:
                raise SimConfigError(f"fault_rate: {name}={rate:g} is not in 0..1", field=name)
        if sum(rate for _, rate in self.items()) > 1.0:
            raise SimConfigError("fault_rate: the rates add up to more than 1", field="fault_rate")

    def items(self) -> tuple[tuple[str, float], ...]:
        """(name, rate) of every fault, in a fixed order."""
        return tuple((f.name, float(getattr(self, f.name))) for f in fields(self))

    @property
    def any(self) -> bool:
        """True if some fault can happen."""
        return any(rate > 0 for _, rate in self.items())


NO_FAULTS: Final = FaultRates()
FAULTS: Final = tuple(name for name, _ in NO_FAULTS.items())


def parse_rates(text: str) -> FaultRates:
    """Rates from ``name=rate,name=rate``, e.g. ``malformed=0.01,oversize=0.001``."""
    given: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in FAULTS:
            raise SimConfigError(
                f"fault_rate: {part!r} is not NAME=RATE with NAME one of {', '.join(FAULTS)}",
                field="fault_rate",
            )
        try:
            given[name.strip()] = float(value)
        except ValueError as exc:
            raise SimConfigError(f"fault_rate: {part!r}: not a number", field=name) from exc
    return FaultRates(**given)


class Firmware:
    """One sensor's firmware: numbers, stamps and encodes its readings, faults included."""

    def __init__(
        self,
        sensor: str,
        kind: str,
        number: int,
        seed: int,
        rates: FaultRates = NO_FAULTS,
        transport: Transport = "mqtt",
    ) -> None:
        if transport == "mqtt" and any(getattr(rates, name) > 0 for name in SERIAL_ONLY):
            raise SimConfigError(
                "fault_rate: bad_checksum and noise exist on serial lines only", field="fault_rate"
            )
        self.sensor, self.kind = sensor, kind
        self._rng = random.Random(f"{seed}:{streams.FIRMWARE}:{number}")
        self._transport = transport
        self._thresholds = _thresholds(rates)
        self._quiet = not rates.any
        self._seq = 0
        self._skew = 0.0
        self._held: Reading | None = None
        self._pending: str | None = None  # a payload fault drawn for the next payload
        self.counts: Counter[str] = Counter()

    def readings(self, ts: float, metrics: Mapping[str, float]) -> list[Reading]:
        """What the sensor sends for one observation at true time ``ts``, in sending order."""
        seq, self._seq = self._seq, (self._seq + 1) % (MAX_SEQ + 1)
        if self._quiet:
            return [Reading(self.sensor, self.kind, seq, ts, metrics)]
        fault = self._draw()
        if fault == "reboot":
            seq, self._seq = 0, 1
        elif fault == "clock_skew":
            self._skew = self._rng.choice((-1.0, 1.0)) * self._rng.uniform(30.0, 200.0)
        stamp = round(ts + self._skew, 3)
        if fault == "clock_jump":
            stamp = round(ts - _JUMP_BACK_S if self._rng.random() < 0.5 else ts + _JUMP_AHEAD_S, 3)
        reading = Reading(self.sensor, self.kind, seq, stamp, metrics)
        out = [reading, reading] if fault == "duplicate" else [reading]
        if self._held is not None:
            out.append(self._held)
            self._held = None
        if fault == "out_of_order":
            self._held, out = reading, out[1:]
        elif fault in ("malformed", "wrong_types", "oversize", "bad_checksum", "noise"):
            self._pending = fault
        if fault:
            self.counts[fault] += 1
        return out

    def skip(self) -> None:
        """An observation the sensor could not make: its number is used up, so the gap shows."""
        self._seq = (self._seq + 1) % (MAX_SEQ + 1)

    def frames(self, readings: list[Reading]) -> list[bytes]:
        """What goes on the wire for ``readings``: one message or line(s) each."""
        if self._transport == "serial":
            return [line for reading in readings for line in self.lines(reading)]
        return [self.payload([reading]) for reading in readings]

    def flush(self) -> list[Reading]:
        """A reading still held back for reordering, to send before the sensor stops."""
        held, self._held = self._held, None
        return [] if held is None else [held]

    def payload(self, readings: list[Reading]) -> bytes:
        """One MQTT payload: a single reading, or a batch of more, with a drawn fault applied."""
        body = encode_reading(readings[0]) if len(readings) == 1 else encode_batch(readings)
        fault, self._pending = self._pending, None
        return body if fault is None else _mangle_json(body, fault, self._rng)

    def lines(self, reading: Reading) -> list[bytes]:
        """The serial line(s) of one reading: the frame, perhaps mangled, perhaps after noise."""
        line = encode_line(reading)
        fault, self._pending = self._pending, None
        if fault is None:
            return [line]
        if fault == "noise":
            return [_NOISE_LINE % (self._rng.randrange(10_000, 99_999), 40 + reading.seq % 50),
                    line]  # fmt: skip
        return [_mangle_line(line, fault)]

    def _draw(self) -> str | None:
        u = self._rng.random()
        for threshold, name in self._thresholds:
            if u < threshold:
                return name
        return None


def _thresholds(rates: FaultRates) -> tuple[tuple[float, str], ...]:
    """Cumulative (upper bound, fault) pairs, for one uniform draw per observation."""
    out, total = [], 0.0
    for name, rate in rates.items():
        if rate > 0:
            total += rate
            out.append((total, name))
    return tuple(out)


def _mangle_json(body: bytes, fault: str, rng: random.Random) -> bytes:
    if fault == "malformed":
        return body[: len(body) // 2]  # cut in the middle: never a whole JSON value
    document = json.loads(body)
    if fault == "wrong_types":
        item = document["readings"][0] if "readings" in document else document
        name = rng.choice(sorted(item["metrics"]))
        item["metrics"][name] = str(item["metrics"][name])
    else:  # oversize: an unknown field, ignored by receivers, that takes it past the limit
        document["debug"] = "x" * MAX_PAYLOAD
    return json.dumps(document, separators=(",", ":")).encode()


def _mangle_line(line: bytes, fault: str) -> bytes:
    body = line[1 : line.rindex(b"*")]
    if fault == "malformed":
        return line[: line.rindex(b"*")] + b"\r\n"  # the checksum is lost
    if fault == "bad_checksum":
        return b"$" + body + b"*" + f"{crc16(body) ^ 0x0101:04X}".encode() + b"\r\n"
    if fault == "wrong_types":
        body = body.rpartition(b"=")[0] + b"=n/a"  # the last metric reads as text
    else:  # oversize: an extra field, framed and checksummed, too long to be read
        body += b",debug=" + b"x" * MAX_LINE
    return b"$" + body + b"*" + f"{crc16(body):04X}".encode() + b"\r\n"
