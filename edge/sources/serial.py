"""Serial source: framed, checksummed lines from a UART or USB adapter (docs/protocol.md).

A thread per port reads whatever is waiting in one call and splits lines itself: pyserial's
``readline`` reads byte by byte and costs a core at a few thousand lines/s. When the device
disappears (USB unplugged) the thread closes it and tries again every ``reopen_s`` until it
comes back, at the same path (use a stable name such as /dev/serial/by-id/...).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

import serial

from edge.settings import SerialSettings
from edge.sources.base import RawMessage
from edge.sources.handoff import Handoff
from shared.wire.serial import MAX_LINE, is_frame

log = logging.getLogger(__name__)


class SerialSource:
    """Reads one serial port; yields each frame line as a RawMessage."""

    def __init__(self, settings: SerialSettings, queue_max: int) -> None:
        self._settings = settings
        self._handoff = Handoff(queue_max)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.opened = 0  # how many times the port was (re)opened
        self.noise_lines = 0  # lines that were not frames (boot banners, debug prints)
        self._skipping = False  # inside a line already handed on as too long

    async def __aenter__(self) -> Self:
        self._handoff.bind(asyncio.get_running_loop())
        self._thread = threading.Thread(
            target=self._run, name=f"serial {self._settings.port}", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._handoff.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def batches(self) -> AsyncIterator[list[RawMessage]]:
        """Frame lines in arrival order, one batch per wake-up."""
        return self._handoff.batches()

    def ack(self, batch: list[RawMessage]) -> None:
        """A serial line has no acknowledgements."""

    # -- port thread -------------------------------------------------------------------------

    def _run(self) -> None:
        port = self._settings.port
        missing_logged = False
        while not self._stop.is_set():
            try:
                device = serial.Serial(port, self._settings.baudrate, timeout=0.2)
            except (serial.SerialException, OSError) as exc:
                if not missing_logged:
                    log.warning("serial port %s unavailable (%s); retrying", port, exc)
                    missing_logged = True
                self._stop.wait(self._settings.reopen_s)
                continue
            missing_logged = False
            self.opened += 1
            log.info("serial port %s open", port)
            with device:
                self._read(device)

    def _read(self, device: serial.Serial) -> None:
        buffer = b""
        self._skipping = False
        while not self._stop.is_set():
            try:
                chunk = device.read(max(1, device.in_waiting))
            except (serial.SerialException, OSError) as exc:
                log.warning("serial port %s lost (%s); waiting for it", self._settings.port, exc)
                return
            if chunk:
                buffer = self._split(buffer + chunk)

    def _split(self, buffer: bytes) -> bytes:
        *lines, rest = buffer.split(b"\n")
        if self._skipping and lines:
            # The tail of a line already handed on as too long: part of that line, not noise.
            lines, self._skipping = lines[1:], False
        elif self._skipping:
            return b""
        now = time.time()
        for line in lines:
            self._emit(line.rstrip(b"\r"), now)
        if len(rest) > MAX_LINE:
            # No line end in sight: hand it on so the decoder dead-letters it as too large, and
            # drop the rest of it when it comes.
            self._emit(rest, now)
            self._skipping = True
            return b""
        return rest

    def _emit(self, line: bytes, now: float) -> None:
        if not line.strip():
            return
        if not is_frame(line):
            self.noise_lines += 1
            return
        self._handoff.put(RawMessage("serial", self._settings.port, line, now))
