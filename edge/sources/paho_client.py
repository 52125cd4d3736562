"""paho's MQTT client, reading its socket in large chunks.

paho reads each packet with several tiny ``recv()`` calls (the fixed header byte, each byte of
the remaining length, then the body) and handles one packet per ``select()``: four system
calls per small message, each one releasing and retaking the GIL. Reading 256 KiB at a time and
handling every packet already read before the next ``select()`` lets a bare subscriber on a
local Mosquitto drain ~41,000 msg/s instead of ~25,000 (measured side by side on the
development machine; ``bench/edge_ingest.py`` reports the agent's figures).

Three of paho's methods are overridden (paho-mqtt 2.x; pyproject pins it below 3). Every test
that starts an agent exercises them against a real broker.
"""

from __future__ import annotations

import math
import time
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_CHUNK: Final = 1 << 18


class BufferedClient(mqtt.Client):
    """A paho ``Client`` whose reads come from a buffer refilled one large ``recv()`` at a time."""

    def __init__(self, *args: Any, read_gap_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        """Hand every message to ``on_message``, skipping paho's per-topic callback matcher.

        This client never registers per-topic callbacks, and walking the matcher cost about a
        tenth of the link's time per message under a flood.
        """
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)

    def message_callback_add(self, sub: str, callback: Any) -> None:
        """Not supported: ``_handle_on_message`` above skips per-topic callbacks."""
        raise NotImplementedError("BufferedClient delivers every message to on_message")
