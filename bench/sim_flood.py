"""Flood mode throughput: readings/s from `firmware_sim.flood` into a local Mosquitto.

    python bench/sim_flood.py [--readings 300000] [--sensors 1000] [--processes 1 2 3]

Starts its own Mosquitto on a free port. Each run publishes to it with `flood()` (no rate
limit) and checks the broker's own counter of PUBLISH packets received, so a figure counts
only what reached the broker. Also measures the two halves of a reading's cost in one process:
building and encoding it (firmware + shared.wire.mqtt), and publishing a ready payload with
paho. Reports the publisher's CPU time per reading, which bounds what one process can do
however busy the machine is. Prints a table and writes bench/results/sim_flood.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.firmware import NO_FAULTS
from firmware_sim.flood import FloodReport, fleet_values, flood
from firmware_sim.transports.paho import PahoPublisher

RESULTS = Path(__file__).parent / "results" / "sim_flood.json"
RECEIVED = "$SYS/broker/publish/messages/received"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\n"
        "max_inflight_messages 0\nmax_queued_messages 0\n"
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def broker_received(port: int) -> int:
    """The broker's count of PUBLISH packets received so far (refreshed every second)."""
    got: list[int] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{time.time_ns()}")

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        got.append(int(message.payload))
        done.set()

    client.on_connect = lambda c, *_: c.subscribe(RECEIVED)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else -1


def settled_count(port: int, at_least: int) -> int:
    """The broker's received count once it has caught up with ``at_least`` (or after 5 s)."""
    deadline = time.monotonic() + 5
    count = broker_received(port)
    while count < at_least and time.monotonic() < deadline:
        time.sleep(1.1)
        count = broker_received(port)
    return count


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _flood(args: tuple[int, int, int, int, int, int, Any]) -> dict[str, float]:
    port, sensors, readings, qos, batch, n, barrier = args
    # flood() first builds its fleet's day of values: time that once, to leave it out of the
    # CPU the publishing costs.
    cpu = time.process_time()
    fleet_values(n, sensors, f"p{n}", NO_FAULTS)
    setup = time.process_time() - cpu
    if barrier is not None:
        barrier.wait()
    cpu = time.process_time()
    report: FloodReport = flood("127.0.0.1", port, sensors, None, readings, qos,  # type: ignore[arg-type]
                                batch, seed=n, prefix=f"p{n}")  # fmt: skip
    return {"readings": report.readings, "messages": report.messages,
            "elapsed_s": report.elapsed_s,
            "cpu_s": max(time.process_time() - cpu - setup, 0.0)}  # fmt: skip


def run(
    broker: subprocess.Popen[bytes], port: int, processes: int, args: argparse.Namespace,
    qos: int, batch: int, readings: int, before: int,
) -> dict[str, Any]:  # fmt: skip
    """One flood run of ``processes`` side by side; ``before``: the broker's count so far."""
    broker_cpu = cpu_seconds(broker.pid)
    if processes == 1:
        parts = [_flood((port, args.sensors, readings, qos, batch, 0, None))]
    else:
        with multiprocessing.Manager() as manager:
            barrier = manager.Barrier(processes)
            jobs = [(port, args.sensors, readings, qos, batch, n, barrier)
                    for n in range(processes)]  # fmt: skip
            with multiprocessing.Pool(processes) as pool:
                parts = pool.map(_flood, jobs)
    broker_cpu = cpu_seconds(broker.pid) - broker_cpu
    sent = sum(int(p["readings"]) for p in parts)
    messages = sum(int(p["messages"]) for p in parts)
    elapsed = max(p["elapsed_s"] for p in parts)  # the processes ran side by side
    received = settled_count(port, before + messages) - before
    return {
        "processes": processes, "qos": qos, "batch": batch, "sensors": args.sensors * processes,
        "readings": sent, "messages": messages, "broker_received": received,
        "seconds": round(elapsed, 3), "readings_per_s": round(sent / elapsed),
        "messages_per_s": round(messages / elapsed),
        "publisher_cpu_s": round(sum(p["cpu_s"] for p in parts), 2),
        # CPU a reading costs the publisher (its fleet's setup left out): what bounds one
        # process, whatever else the machine runs.
        "publisher_us_per_reading": round(sum(p["cpu_s"] for p in parts) / sent * 1e6, 1),
        "broker_cpu_s": round(broker_cpu, 2),
    }  # fmt: skip


def halves(port: int, sensors: int, readings: int) -> dict[str, int]:
    """Readings/s of encoding alone and of publishing ready payloads alone, in one process."""
    fleet = fleet_values(0, sensors, "half", NO_FAULTS)
    began = time.perf_counter()
    payloads = []
    for i in range(readings):
        sensor = fleet[i % len(fleet)]
        values = sensor.values[i // len(fleet) % len(sensor.values)]
        payloads.append(sensor.firmware.payload(sensor.firmware.readings(time.time(), values)))
    encode = readings / (time.perf_counter() - began)
    topics = [s.topic for s in fleet]
    with PahoPublisher("127.0.0.1", port, "bench-publish-only", 0) as link:
        began = time.perf_counter()
        for i, payload in enumerate(payloads):
            link.publish(topics[i % len(topics)], payload)
            if i % 64 == 0:
                link.service()
        link.drain(30)
        publish = readings / (time.perf_counter() - began)
    return {"encode_readings_per_s": round(encode), "publish_messages_per_s": round(publish)}


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = ("processes", "qos", "batch", "readings", "broker_received", "seconds",
               "readings_per_s", "messages_per_s", "publisher_cpu_s", "publisher_us_per_reading",
               "broker_cpu_s")  # fmt: skip
    print("  ".join(f"{c:>12.12}" for c in columns))
    for r in rows:
        print("  ".join(f"{r[c]!s:>12}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=300_000, help="per process and run")
    parser.add_argument("--sensors", type=int, default=1000, help="per process")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    plans = [(p, 0, 1, args.readings) for p in args.processes]
    plans += [(1, 0, 10, args.readings), (1, 1, 1, args.readings // 3)]
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        try:
            split = halves(port, args.sensors, args.readings // 2)
            total = settled_count(port, args.readings // 2)
            for processes, qos, batch, readings in plans:
                rows.append(run(broker, port, processes, args, qos, batch, readings, total))
                total += rows[-1]["broker_received"]
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    print_table(rows)
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"one process, QoS 0, batch 1: building and encoding alone "
          f"{split['encode_readings_per_s']} readings/s; publishing ready payloads alone "
          f"{split['publish_messages_per_s']} messages/s")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_average_1m_before": round(load_before, 2),
            "load_average_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
    RESULTS.write_text(json.dumps({"meta": meta, "halves": split, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
