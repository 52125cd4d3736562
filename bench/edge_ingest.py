"""Edge agent ingest: readings/s through decode, validate, window and store, beside bare paho.

    python bench/edge_ingest.py [--readings 200000] [--sensors 200] [--batch 10]
                                [--batched-readings 1000000] [--batch-wait-ms 100] [--repeat 3]

Starts its own Mosquitto on a free port and, in the same run, floods it with
`firmware_sim.flood` at QoS 0 (as fast as it goes), in ``--repeat`` rounds of three floods
(medians reported, every round shown):
1. a bare paho subscriber that only counts messages (the reference drain rate);
2. `citytwin edge run`, single-reading messages: rate = readings stored / time from the first to
   the last stored, checked for zero loss and zero duplicates against the readings table;
3. the agent again with `--batch` readings per message (`--batched-readings` in all, so that
   it lasts about as long as the single-reading flood).
Then it paces 1,000 readings/s for 20 s, spread evenly as a fleet sends them, and reads the CPU
and resident memory of the agent and its MQTT link process together.
The agent's cloud is unreachable on purpose: uploads back off and do not compete for the CPU.
Prints a table and writes bench/results/edge_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from sim_flood import free_port, start_broker

from firmware_sim.flood import flood

RESULTS = Path(__file__).parent / "results" / "edge_ingest.json"


def _bare_subscriber(port: int, expected: int, ready: Any, out: Any) -> None:
    times: list[float] = []
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        times.append(time.perf_counter())
        if len(times) >= expected:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare")
    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.connect("127.0.0.1", port)
    client.subscribe("citytwin/v1/sensors/+/readings", qos=1)
    client.loop_start()
    done.wait(120)
    client.loop_stop()
    out.put((len(times), times[0] if times else 0.0, times[-1] if times else 0.0))


def bare_paho(port: int, args: argparse.Namespace) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_bare_subscriber, args=(port, args.readings, ready, out))
    proc.start()
    ready.wait(20)
    flood("127.0.0.1", port, args.sensors, None, args.readings, 0, 1, prefix="bare")
    count, first, last = out.get(timeout=180)
    proc.join()
    return {"messages": count, "rate": (count - 1) / (last - first)}


def _agent(port: int, workdir: Path, batch_wait_ms: int) -> tuple[subprocess.Popen[bytes], Path]:
    data = workdir / "edge"
    config = workdir / "gateway.toml"
    config.write_text(
        f'gateway_id = "bench"\ndata_dir = "{data}"\nheartbeat_s = 60\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\nbatch_wait_ms = {batch_wait_ms}\n'
        f'[cloud]\nurl = "http://127.0.0.1:{free_port()}"\nbackoff_max_s = 60\n'
    )
    log = (workdir / "agent.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "citytwin", "edge", "run", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    db = data / "edge.db"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "connected to" in (workdir / "agent.log").read_text(errors="replace"):
            break
        time.sleep(0.1)
    time.sleep(1.0)  # the SUBACK follows the connection
    return proc, db


def _family(pid: int) -> list[psutil.Process]:
    """The agent and its MQTT link process: both count towards CPU and memory."""
    agent = psutil.Process(pid)
    return [agent, *agent.children(recursive=True)]


def _rss_mb(pid: int) -> float:
    return sum(p.memory_info().rss for p in _family(pid)) / 1e6


def _cpu_s(family: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in family)


def _progress(db: Path) -> int:
    """Messages stored so far: the highest id (ids count up from 1), an index lookup, so
    watching costs the machine next to nothing while the agent works."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0])


def _stored(db: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        # The ring keeps each accepted message as received; every flood payload is unique.
        row = conn.execute("SELECT COUNT(*), COUNT(DISTINCT payload) FROM messages").fetchone()
        return int(row[0]), int(row[1])


def agent_run(
    port: int, args: argparse.Namespace, batch: int, readings: int, workdir: Path
) -> dict[str, Any]:
    workdir.mkdir()
    proc, db = _agent(port, workdir, args.batch_wait_ms)
    sender = threading.Thread(
        target=flood,
        args=("127.0.0.1", port, args.sensors, None, readings, 0, batch),
        kwargs={"prefix": f"b{batch}"},
    )
    sender.start()
    first = last = None
    count = 0
    messages = readings // batch
    deadline = time.monotonic() + 300
    while count < messages and time.monotonic() < deadline:
        time.sleep(0.05)
        count = _progress(db) if db.exists() else 0
        now = time.perf_counter()
        if count and first is None:
            first = (now, count)
        if first is not None and count > first[1]:
            last = (now, count)
    sender.join()
    time.sleep(0.5)  # anything still arriving would show as a duplicate or a loss below
    count, distinct = _stored(db)
    rss = _rss_mb(proc.pid)
    proc.terminate()
    proc.wait(30)
    assert first is not None
    assert last is not None
    rate = batch * (last[1] - first[1]) / (last[0] - first[0])
    return {"messages": count, "readings": count * batch, "lost": batch * (messages - distinct),
            "duplicates": batch * (count - distinct), "rate": rate, "rss_mb": rss}  # fmt: skip


def steady(port: int, workdir: Path, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    seconds = args.steady_seconds
    workdir.mkdir()
    proc, _db = _agent(port, workdir, args.batch_wait_ms)
    time.sleep(2.0)
    family = _family(proc.pid)
    sender = threading.Thread(
        target=flood, args=("127.0.0.1", port, 200, rate, None, 0, 1),
        kwargs={"prefix": "steady", "duration": seconds + 4},
    )  # fmt: skip
    sender.start()
    time.sleep(2.0)  # past start-up
    cpu0, t0 = _cpu_s(family), time.perf_counter()
    time.sleep(seconds)
    cpu1, t1 = _cpu_s(family), time.perf_counter()
    rss = _rss_mb(proc.pid)
    sender.join()
    proc.terminate()
    proc.wait(30)
    return {"rate": rate, "cpu_percent_of_one_core": 100 * (cpu1 - cpu0) / (t1 - t0),
            "rss_mb": rss}  # fmt: skip


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (its other figures with it)."""
    return sorted(runs, key=lambda run: run["rate"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--batched-readings", type=int, default=1_000_000,
        help="readings in the batched flood (a few seconds of work, not a start-up blip)",
    )  # fmt: skip
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--batch-wait-ms", type=int, default=100, help="the agent's setting")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three floods")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, port = start_broker(work)
        try:
            # Rounds alternate the three floods, so a slow moment of the machine falls on all
            # of them rather than on one; the medians are the figures.
            rounds = [
                {
                    "bare_paho": bare_paho(port, args),
                    "agent_single": agent_run(port, args, 1, args.readings, work / f"single{i}"),
                    "agent_batched": agent_run(
                        port, args, args.batch, args.batched_readings, work / f"batched{i}"
                    ),
                }
                for i in range(args.repeat)
            ]
            calm = steady(port, work / "steady", 1000.0, args)
        finally:
            broker.terminate()
            broker.wait()
    bare, single, batched = (
        _median_run([r[name] for r in rounds])
        for name in ("bare_paho", "agent_single", "agent_batched")
    )
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args), "rounds": rounds, "bare_paho": bare, "agent_single": single,
        "agent_batched": batched, "agent_at_1000_per_s": calm,
        "ratio_single_to_bare": single["rate"] / bare["rate"],
        "ratio_per_round": [r["agent_single"]["rate"] / r["bare_paho"]["rate"] for r in rounds],
    }  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"{args.repeat} rounds; rates are medians, lost and duplicates summed over the rounds")
    print(f"{'run':<34}{'readings/s':>12}{'lost':>7}{'dups':>7}{'RSS MB':>9}   each round")
    rates = " ".join(f"{r['bare_paho']['rate']:,.0f}" for r in rounds)
    print(f"{'bare paho subscriber (messages)':<34}{bare['rate']:>12,.0f}{'':>23}   {rates}")
    for key, name in (("agent_single", "agent, 1 reading/message"),
                      ("agent_batched", f"agent, {args.batch} readings/message")):  # fmt: skip
        run = result[key]
        lost = sum(r[key]["lost"] for r in rounds)
        dups = sum(r[key]["duplicates"] for r in rounds)
        rates = " ".join(f"{r[key]['rate']:,.0f}" for r in rounds)
        print(f"{name:<34}{run['rate']:>12,.0f}{lost:>7}{dups:>7}{run['rss_mb']:>9.0f}   {rates}")
    each = " ".join(f"{x:.0%}" for x in result["ratio_per_round"])
    print(f"agent / bare paho: {result['ratio_single_to_bare']:.0%} (medians; rounds: {each})")
    print(f"at 1,000 readings/s: {calm['cpu_percent_of_one_core']:.1f}% of one core, "
          f"{calm['rss_mb']:.0f} MB resident")  # fmt: skip
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
