"""The serial source on real pty pairs: frames, noise, bad checksums, unplug and replug."""

from __future__ import annotations

import os
import tty
from collections.abc import Callable
from pathlib import Path

from edge.settings import EdgeSettings
from edge.sources.serial import SerialSource
from shared.reading import Reading
from shared.wire.serial import MAX_LINE, encode_line
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, wait_until


class Cable:
    """A pty pair standing in for a USB serial adapter, reached through a stable symlink."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # a UART: no echo, no newline translation
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)

    def send(self, data: bytes) -> None:
        # A pty takes what its buffer has room for: a write may be short when the reader lags.
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]


async def _agent_on(
    cable: Cable,
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> tuple[RunningAgent, SerialSource]:
    """Plug ``cable`` in and start an agent reading it; the agent once the port is open."""
    cable.plug()
    settings = edge_settings(
        mosquitto, tmp_path / "edge", serial=[{"port": str(cable.link), "reopen_s": 0.2}]
    )
    running = start_agent(settings)
    [port] = running.agent.serial
    await wait_until(lambda: port.opened == 1)
    return running, port


def _line(seq: int, value: float) -> bytes:
    return encode_line(Reading("wq-1", "water_quality", seq, None, {"turbidity": value}))


async def test_serial_frames_noise_and_replug(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    cable = Cable(tmp_path / "ttyUSB0")
    running, port = await _agent_on(cable, mosquitto, tmp_path, start_agent)
    counters = running.agent.pipeline.counters

    corrupt = bytearray(_line(2, 5.0))
    corrupt[10] ^= 0x01  # one flipped bit: the CRC must catch it
    cable.send(b"BOOT v1.2 ready\r\n" + _line(0, 3.0) + _line(1, 4.0)[:20])
    cable.send(_line(1, 4.0)[20:] + bytes(corrupt))  # a frame split across two reads
    await wait_until(lambda: counters.readings == 2 and counters.dead_letters == 1)
    assert port.noise_lines == 1
    [letter] = running.agent.store.dead_letters(5)
    assert letter.reason == "bad_checksum"
    assert letter.transport == "serial"

    cable.unplug()
    cable.plug()  # the same path comes back, as udev's by-id links do
    await wait_until(lambda: port.opened == 2)
    cable.send(_line(3, 6.0))
    await wait_until(lambda: counters.readings == 3)
    await running.stop()
    cable.unplug()


async def test_a_line_too_long_is_one_dead_letter_even_when_it_arrives_in_pieces(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    cable = Cable(tmp_path / "ttyUSB0")
    running, port = await _agent_on(cable, mosquitto, tmp_path, start_agent)
    counters = running.agent.pipeline.counters

    endless = b"$CT1," + b"9" * (MAX_LINE + 200)
    cable.send(endless[: MAX_LINE + 100])  # more than a line may hold, with no end yet
    await wait_until(lambda: counters.dead_letters == 1)
    cable.send(endless[MAX_LINE + 100 :] + b"*0000\r\n" + _line(0, 3.0))
    await wait_until(lambda: counters.readings == 1)

    [letter] = running.agent.store.dead_letters(5)
    assert letter.reason == "too_large"
    assert port.noise_lines == 0  # its tail belonged to it: not a line of its own
    await running.stop()
    cable.unplug()
