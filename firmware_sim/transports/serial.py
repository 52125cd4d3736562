"""Serial transport: every sensor writes its lines on one shared serial line, as on a bus.

The line is a real port (or any path pyserial opens, such as one end of a pty pair), or a new
pty pair whose other end a gateway opens by the path printed at start. Lines go out whole and
in order. A serial sensor cannot know whether anyone listens: if the line does not take a line
within ``WRITE_TIMEOUT_S`` (nobody reads a pty, a port stalled by flow control), the line is
lost and counted, as the bytes of a real UART would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from types import TracebackType
from typing import Final, Self

import serial

from firmware_sim.errors import LinkError

BAUD: Final = 115_200
WRITE_TIMEOUT_S: Final = 1.0
PTY: Final = "pty"


class SerialLine:
    """The shared line: ``async with`` it, then ``link()`` one sensor at a time."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.path = spec  # for a new pty pair, the other end's path once open
        self._port: serial.Serial | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = asyncio.Lock()
        self.lost = 0

    async def __aenter__(self) -> Self:
        if self.spec == PTY:
            self._master, self._slave = os.openpty()
            # Raw: no echo back into our own end, no CR/LF translation of the frames.
            tty.setraw(self._slave)
            os.set_blocking(self._master, False)
            self.path = os.ttyname(self._slave)
            return self
        try:
            self._port = serial.Serial(self.spec, BAUD, write_timeout=WRITE_TIMEOUT_S)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"cannot open serial port {self.spec}: {exc}") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._port is not None:
            self._port.close()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._port = self._master = self._slave = None

    def link(self) -> SerialLink:
        """A sensor's view of the line."""
        return SerialLink(self)

    async def write(self, line: bytes) -> bool:
        """Write one whole line; False if the line did not take it."""
        async with self._lock:  # one line at a time: frames of two sensors never interleave
            if self._master is not None:
                return await self._write_pty(self._master, line)
            if self._port is None:
                raise LinkError(f"serial port {self.spec} is not open")
            try:
                await asyncio.to_thread(self._port.write, line)
            except serial.SerialTimeoutException:
                self.lost += 1
                return False
            except serial.SerialException as exc:
                raise LinkError(f"serial port {self.spec} failed: {exc}") from exc
            return True

    async def _write_pty(self, master: int, line: bytes) -> bool:
        view = memoryview(line)
        while view:
            try:
                view = view[os.write(master, view) :]
            except BlockingIOError:
                # The pty's buffer is full: nobody reads the other end (yet). Part of the line
                # may be out; the reader splits on CRLF and refuses that broken frame.
                if not await _writable(master, WRITE_TIMEOUT_S):
                    self.lost += 1
                    return False
        return True


async def _writable(fd: int, timeout: float) -> bool:
    """Wait until ``fd`` takes more bytes; False after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_writable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, on_writable)
    try:
        async with asyncio.timeout(timeout):
            await ready
    except TimeoutError:
        return False
    finally:
        loop.remove_writer(fd)
    return True


class SerialLink:
    """One sensor on the shared line; opening and closing it is the line's business."""

    transport: Final = "serial"

    def __init__(self, line: SerialLine) -> None:
        self._line = line

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def send(self, frame: bytes) -> bool:
        """Write one line; False if it was lost."""
        return await self._line.write(frame)
