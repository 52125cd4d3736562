"""The link's PUBLISH fast path: whole packets parsed, anything else left for paho."""

from __future__ import annotations

from edge.sources.paho_client import _publishes


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    body += payload
    return bytes([0x30 | qos << 1]) + _length(len(body)) + body


def _take(buffer: bytearray) -> list[tuple[bytes, bytes, int, int]]:
    got: list[tuple[bytes, bytes, int, int]] = []
    _publishes(buffer, lambda *message: got.append(message))
    return got


def test_whole_packets_of_any_length_are_handed_over_and_removed() -> None:
    big = b"x" * 20_000  # a three-byte remaining length
    buffer = bytearray(
        _publish(b"a/b", b"{}") + _publish(b"c", b"y" * 200, qos=1, mid=513) + _publish(b"d", big)
    )
    assert _take(buffer) == [(b"a/b", b"{}", 0, 0), (b"c", b"y" * 200, 513, 1), (b"d", big, 0, 0)]
    assert buffer == b""


def test_a_packet_not_read_whole_stays_for_later() -> None:
    whole, partial = _publish(b"t", b"one"), _publish(b"t", b"two" * 100, qos=1, mid=7)
    for cut in range(1, len(partial)):
        buffer = bytearray(whole + partial[:cut])
        assert _take(buffer) == [(b"t", b"one", 0, 0)]
        assert buffer == partial[:cut]  # untouched: it completes on the next read
        buffer += partial[cut:]
        assert _take(buffer) == [(b"t", b"two" * 100, 7, 1)]


def test_other_packets_and_qos_2_are_left_to_paho() -> None:
    pingresp = b"\xd0\x00"
    buffer = bytearray(_publish(b"t", b"1") + pingresp + _publish(b"t", b"2"))
    assert _take(buffer) == [(b"t", b"1", 0, 0)]
    assert buffer == pingresp + _publish(b"t", b"2")
    qos2 = bytearray(_publish(b"t", b"3", qos=2, mid=9))
    assert _take(qos2) == []
    assert qos2 == _publish(b"t", b"3", qos=2, mid=9)


def test_a_malformed_packet_is_left_for_paho_to_refuse() -> None:
    bad_length = bytearray(b"\x30\xff\xff\xff\xff\x01")  # a remaining length of five bytes
    assert _take(bad_length) == []
    assert len(bad_length) == 6
    short = bytearray(b"\x32\x03\x00\x05ab")  # a topic longer than the packet
    assert _take(short) == []
    assert len(short) == 6
