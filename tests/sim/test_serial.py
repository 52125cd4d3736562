"""The serial transport on real pty pairs: whole lines, shared codecs, faults, the CLI."""

from __future__ import annotations

import os
import subprocess
import tty
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
import serial

from firmware_sim.city import generate_city
from firmware_sim.firmware import parse_rates
from firmware_sim.live import NO_ANOMALIES, LiveWorld
from firmware_sim.runner import RunPlan, run_fleet
from firmware_sim.transports.serial import SerialLine
from shared.errors import ContractError
from shared.wire.serial import decode_line, is_frame
from tests.sim.conftest import citytwin_command


def read_lines(read: bytes) -> list[bytes]:
    """Whole CRLF-terminated lines of ``read``."""
    return [line + b"\r\n" for line in read.split(b"\r\n")[:-1]]


def drain(fd: int) -> bytes:
    """Everything waiting on ``fd``."""
    os.set_blocking(fd, False)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            return out
        if not chunk:
            return out
        out += chunk


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pty pair: our end's descriptor, and the path of the end the simulator opens."""
    ours, theirs = os.openpty()
    tty.setraw(ours)
    tty.setraw(theirs)
    yield ours, os.ttyname(theirs)
    os.close(ours)
    os.close(theirs)


async def test_sensors_write_whole_decodable_lines(pty_pair: tuple[int, str]) -> None:
    ours, path = pty_pair
    world = LiveWorld(generate_city(5, 4, "ser"), NO_ANOMALIES)
    async with SerialLine(path) as line:
        report = await run_fleet(world, lambda _: line.link(), RunPlan(0.05, duration=0.5))
    lines = read_lines(drain(ours))
    assert len(lines) == report.sent == report.readings
    seqs = defaultdict(list)
    for raw in lines:
        reading = decode_line(raw)
        seqs[reading.sensor].append(reading.seq)
        assert reading.metrics == world.metrics(reading.sensor, reading.ts or 0.0)
    assert len(seqs) == 4
    assert all(s == list(range(len(s))) for s in seqs.values())


async def test_serial_faults_are_counted_exactly(pty_pair: tuple[int, str]) -> None:
    ours, path = pty_pair
    world = LiveWorld(generate_city(6, 3, "bad"), NO_ANOMALIES)
    plan = RunPlan(0.02, duration=0.6, faults=parse_rates("bad_checksum=0.1,noise=0.1"))
    async with SerialLine(path) as line:
        report = await run_fleet(world, lambda _: line.link(), plan)
    outcome: Counter[str] = Counter()
    for raw in read_lines(drain(ours)):
        if not is_frame(raw):
            outcome["noise"] += 1
            continue
        try:
            decode_line(raw)
            outcome["ok"] += 1
        except ContractError as exc:
            outcome[exc.reason] += 1
    faults = report.faults()
    assert faults["bad_checksum"] > 0
    assert faults["noise"] > 0
    assert outcome["bad_checksum"] == faults["bad_checksum"]
    assert outcome["noise"] == faults["noise"]
    assert outcome["ok"] + outcome["bad_checksum"] == report.readings


def test_a_new_pty_pair_prints_the_path_a_gateway_opens() -> None:
    args = ["sim", "run", "--serial", "pty", "--sensors", "3", "--interval", "0.05",
            "--duration", "3"]  # fmt: skip
    proc = subprocess.Popen([*citytwin_command(), *args], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        announced = [proc.stderr.readline() for _ in range(2)]
        path = next(line.split(": ", 1)[1].strip() for line in announced if "serial line" in line)
        with serial.Serial(path, 115200, timeout=2) as port:
            port.read_until(b"\r\n")  # the first line may have started before we opened
            lines = [port.read_until(b"\r\n") for _ in range(10)]
        readings = [decode_line(line) for line in lines]
        assert {r.sensor for r in readings} == {"sim-aq-0001", "sim-tf-0002", "sim-wq-0003"}
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "stopped after" in stderr
