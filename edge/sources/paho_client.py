"""paho's MQTT client, reading its socket in large chunks.

paho reads each packet with several tiny ``recv()`` calls (the fixed header byte, each byte of
the remaining length, then the body) and handles one packet per ``select()``: four system
calls per small message, each one releasing and retaking the GIL. Reading 256 KiB at a time and
handling every packet already read before the next ``select()`` lets a bare subscriber on a
local Mosquitto drain ~41,000 msg/s instead of ~25,000 (measured side by side on the
development machine; ``bench/edge_ingest.py`` reports the agent's figures).

With a ``publish_handler``, PUBLISH packets of QoS 0 and 1 that lie whole in the buffer are
parsed here and handed over as (topic, payload, packet id, QoS), without paho's per-packet
machinery (a message object, logging, callback matching): under a flood that machinery was
most of the link's time per message. Every other packet, and a PUBLISH not yet read whole,
goes through paho as before; QoS 1 messages are acknowledged with ``ack`` as paho's own are
under ``manual_ack_set`` (MQTT 3.1.1 only: the link speaks nothing else).

Three of paho's methods are overridden (paho-mqtt 2.x; pyproject pins it below 3). Every test
that starts an agent exercises them against a real broker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_CHUNK: Final = 1 << 18
_PUBLISH: Final = 0x30

PublishHandler = Callable[[bytes, bytes, int, int], None]  # topic, payload, packet id, QoS


class BufferedClient(mqtt.Client):
    """A paho ``Client`` whose reads come from a buffer refilled one large ``recv()`` at a time."""

    def __init__(
        self,
        *args: Any,
        read_gap_s: float = 0.0,
        publish_handler: PublishHandler | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._publish_handler = publish_handler
        self._buffer = bytearray()
        self._buffered_from: object = None  # the socket the buffer's bytes came from
        self._read_gap_s = read_gap_s
        self._last_short_read = -math.inf  # monotonic time of the last read that emptied it

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._buffered_from:
            # A new connection: bytes left from the old one belong to no packet of this one.
            self._buffered_from = self._sock
            self._buffer.clear()
        buffer = self._buffer
        if not buffer:
            # The last read found the socket nearly empty: let a few more messages arrive
            # first, so one read and one pass of the loop serve many (a trickle of small
            # messages otherwise costs a full wake-up each). A backlog is read at once.
            idle = time.monotonic() - self._last_short_read
            if idle < self._read_gap_s:
                time.sleep(self._read_gap_s - idle)
            data = super()._sock_recv(_CHUNK)
            if len(data) < _CHUNK:
                self._last_short_read = time.monotonic()
            if len(data) <= bufsize:  # also b"" (connection closed), which paho handles
                return data
            buffer += data
        out = bytes(buffer[:bufsize])
        del buffer[:bufsize]  # cheap: bytearray deletes from the front by moving its start
        return out

    def _packet_read(self) -> MQTTErrorCode:
        handler = self._publish_handler
        if (
            handler is not None
            and self._in_packet["command"] == 0  # at a packet boundary, nothing half read
            and self._sock is self._buffered_from
            and self._buffer
            and self._buffer[0] & 0xF0 == _PUBLISH
        ):
            handled = _publishes(self._buffer, handler)
            if handled:
                with self._msgtime_mutex:
                    self._last_bytes_received = time.monotonic()
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle every packet read so far; return once the buffer is empty."""
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            # Bytes in the buffer are invisible to select(): stop only when it is empty, so
            # whatever arrives next wakes the loop.
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or not self._buffer:
                return MQTTErrorCode.MQTT_ERR_SUCCESS


def _publishes(buffer: bytearray, handler: PublishHandler) -> int:
    """Hand over every whole QoS 0/1 PUBLISH at the head of ``buffer``; remove them; count."""
    size = len(buffer)
    pos = handled = 0
    while pos < size and buffer[pos] & 0xF0 == _PUBLISH:
        qos = (buffer[pos] >> 1) & 3
        if qos == 2:
            break  # paho keeps the QoS 2 handshake
        # Remaining length: 1 to 4 bytes, 7 bits each, least significant first.
        length = shift = 0
        at = pos + 1
        while at < size and at - pos <= 4:
            byte = buffer[at]
            length |= (byte & 0x7F) << shift
            shift += 7
            at += 1
            if not byte & 0x80:
                break
        else:
            break  # the length is not all here yet (or malformed: paho will say so)
        end = at + length
        if end > size or length < 2:
            break  # not all here yet, or malformed
        topic_end = at + 2 + (buffer[at] << 8 | buffer[at + 1])
        body = topic_end + (2 if qos else 0)
        if body > end:
            break  # malformed: paho will say so
        mid = buffer[topic_end] << 8 | buffer[topic_end + 1] if qos else 0
        handler(bytes(buffer[at + 2 : topic_end]), bytes(buffer[body:end]), mid, qos)
        handled += 1
        pos = end
    del buffer[:pos]
    return handled
