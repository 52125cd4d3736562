"""Edge drain: an offline backlog reaches the cloud, while 1,000 readings/s keep arriving.

    python bench/edge_drain.py [--offline-s 60] [--window-s 1] [--rate 1000] [--sensors 200]

Real processes: its own Mosquitto on a free port, the agent (`citytwin edge run`) and the cloud
(`citytwin cloud serve --auth off`) on a port the agent is configured for but that nothing
serves yet. A paced flood (`firmware_sim.flood`, QoS 1) runs from start to end.

Phase 1, offline: the cloud is not running; the agent's outbox fills with window summaries
and heartbeats (and gap records, if any).
Phase 2, drain: the cloud starts; the flood goes on. Measured from the cloud accepting
connections: when the last request carrying records of the backlog (the outbox at that moment)
arrived (the cloud's `records.received_at`), and when the agent's outbox no longer held any of
them, i.e. all acknowledged (read-only, sampled every 0.25 s: the drain time, an upper bound);
the drain rate in summaries/s; whether live data kept arriving meanwhile: live records the
cloud received before the backlog was complete, and the age of the end of the cloud's newest
window, sampled every 0.25 s.
At the end: the flood stops, the outbox empties, the agent stops. Zero loss: the readings the
cloud's `windows` hold (SUM(count) per sensor and metric; every metric of a sensor must agree)
equal the readings the agent accepted (its /metrics counter). Zero duplicates: each (gateway,
seq) once in `records`, and SUM(parts) over `windows` equals the summaries received.

Scale: a backlog is a number of records, and summaries are the same size whatever their window
length. One summary per sensor and metric per window, so `--offline-s S --window-s W` builds the
backlog that 60 s windows build in S * 60 / W seconds: the default 60 s with 1 s windows (and
heartbeats every 0.5 s instead of 30 s) is an hour's backlog. The live load during the drain is
heavier than in that hour (summaries of 1 s windows), which only makes the drain harder.
`--offline-s 3600 --window-s 60` runs a true hour. The reported ratio is the hour-equivalent
accumulation time over the drain time (target: at least 20).
The agent keeps its default backoff (at most 60 s between attempts) unless told otherwise: the
wait for its next attempt after the cloud is back counts in the drain time and is shown apart.
Every heartbeat and alert wakes the uplink for an attempt, so the scaled heartbeats shorten that
wait; the table also gives the ratio with the longest wait of a true hour (30 s heartbeats).
Prints a table and writes bench/results/edge_drain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil
from sim_flood import free_port, start_broker

from firmware_sim.flood import FloodReport, flood

RESULTS = Path(__file__).parent / "results" / "edge_drain.json"
GATEWAY = "bench-drain"
REFERENCE_WINDOW_S = 60.0  # the agent's default window length, the one the target speaks of
REFERENCE_HEARTBEAT_S = 30.0
POLL_S = 0.25


def _config(work: Path, broker: int, cloud: int, metrics: int, args: argparse.Namespace) -> Path:
    scale = args.window_s / REFERENCE_WINDOW_S
    config = work / "gateway.toml"
    config.write_text(
        f'gateway_id = "{GATEWAY}"\ndata_dir = "{work / "edge"}"\n'
        f"heartbeat_s = {REFERENCE_HEARTBEAT_S * scale}\nmetrics_port = {metrics}\n"
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker}"\n'
        f'[cloud]\nurl = "http://127.0.0.1:{cloud}"\nbackoff_max_s = {args.backoff_max_s}\n'
        f"[windows]\nlength_s = {args.window_s}\nlateness_s = {max(0.5, args.window_s / 12)}\n"
    )
    return config


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "citytwin", *command], stdout=out, stderr=subprocess.STDOUT
        )


def _start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    proc = _start(["edge", "run", "--config", str(config)], log)
    deadline = time.monotonic() + 60
    while "connected to" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"the agent did not connect:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    time.sleep(1.0)  # the SUBACK follows the connection
    return proc


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


def _read(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on ``db``, opened read-only beside the process that writes it."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _outbox(db: Path, through: int | None = None) -> dict[str, int]:
    """Outbox records by type (all of them, or those with seq up to ``through``)."""
    limit = through if through is not None else 2**62
    rows = _read(db, "SELECT type, COUNT(*) FROM outbox WHERE seq <= ? GROUP BY type", (limit,))
    return {str(kind): int(n) for kind, n in rows}


def _family_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the agent has an MQTT link process)."""
    try:
        proc = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0.0


def _newest_observation(cloud_db: Path) -> float | None:
    """The end of the newest window the cloud holds (the newest time bucket holds it)."""
    value = _read(cloud_db,
        "SELECT MAX(window_end) FROM windows"
        " WHERE bucket >= (SELECT COALESCE(MAX(bucket), 0) FROM windows)")[0][0]  # fmt: skip
    return None if value is None else float(value)


def _watch(edge_db: Path, cloud_db: Path, through: int, timeout: float) -> list[dict[str, Any]]:
    """Sample the outbox backlog left and the cloud's freshness until the backlog is gone."""
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        left = sum(_outbox(edge_db, through).values())
        newest = _newest_observation(cloud_db)
        samples.append({"at": now, "backlog_left": left,
                        "lag_s": None if newest is None else now - newest})  # fmt: skip
        if left == 0:
            break
        time.sleep(POLL_S)
    return samples


def _live_lag(cloud_db: Path, seconds: float) -> list[float]:
    """Age of the cloud's newest observation, sampled for ``seconds``."""
    lags = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        newest = _newest_observation(cloud_db)
        if newest is not None:
            lags.append(time.time() - newest)
        time.sleep(POLL_S)
    return lags


def _scrape(port: int) -> dict[str, float]:
    """The agent's Prometheus counters, by name without prefix and gateway label."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("citytwin_edge_") and "{" in line:
            name, value = line.split("{", 1)[0], line.rsplit(" ", 1)[1]
            out[name.removeprefix("citytwin_edge_")] = float(value)
    return out


def _wait_empty(edge_db: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    left = sum(_outbox(edge_db).values())
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = sum(_outbox(edge_db).values())
    return left


def _timing(cloud_db: Path, through: int, cloud_up: float) -> dict[str, Any]:
    """When the backlog (seq <= ``through``) reached the cloud, request by request."""
    requests = _read(cloud_db,
        "SELECT received_at, SUM(seq <= ?), SUM(seq > ? AND type = 'summary'), SUM(seq > ?)"
        " FROM records WHERE gateway = ? GROUP BY received_at ORDER BY received_at",
        (through, through, through, GATEWAY))  # fmt: skip
    uploads = [(at - cloud_up, int(old), int(live_summaries), int(live))
               for at, old, live_summaries, live in requests]  # fmt: skip
    with_backlog = [u for u in uploads if u[1]]
    if not with_backlog:
        raise SystemExit("none of the backlog reached the cloud")
    last = with_backlog[-1][0]
    before_last = [u for u in uploads if u[0] < last]
    live_types = _read(cloud_db,
        "SELECT type, COUNT(*) FROM records WHERE gateway = ? AND seq > ? AND received_at < ?"
        " GROUP BY type", (GATEWAY, through, last + cloud_up))  # fmt: skip
    return {"backlog_records_received": sum(u[1] for u in uploads),
            "first_upload_s": uploads[0][0], "last_backlog_request_s": last,
            "requests_with_backlog": len(with_backlog),
            # Live records in requests before the one that completed the backlog: interleaving.
            "live_records_before_last_backlog_request": sum(u[3] for u in before_last),
            "live_summaries_before_last_backlog_request": sum(u[2] for u in before_last),
            "live_records_in_last_backlog_request": with_backlog[-1][3],
            "live_before_last_backlog_request_by_type": {str(k): int(n) for k, n in live_types},
            "requests": uploads[: len(with_backlog) + 5]}  # fmt: skip


def _verify(cloud_db: Path) -> dict[str, Any]:
    """Readings held by the cloud's windows, and the duplicate checks."""
    per_metric = _read(cloud_db,
        "SELECT e.sensor, w.metric, SUM(w.count) FROM windows AS w"
        " JOIN entities AS e ON e.rid = w.entity GROUP BY e.sensor, w.metric")  # fmt: skip
    by_sensor: dict[str, set[int]] = defaultdict(set)
    for sensor, _metric, count in per_metric:
        by_sensor[str(sensor)].add(int(count))
    disagree = sorted(s for s, counts in by_sensor.items() if len(counts) > 1)
    sql = "SELECT COUNT(*), COUNT(DISTINCT seq) FROM records WHERE gateway = ?"
    ((records, distinct),) = _read(cloud_db, sql, (GATEWAY,))
    types = dict(_read(cloud_db, "SELECT type, COUNT(*) FROM records GROUP BY type"))
    (parts, observations), = _read(cloud_db,
        "SELECT COALESCE(SUM(parts), 0), COALESCE(SUM(count), 0) FROM windows")  # fmt: skip
    gaps = dict(_read(cloud_db, "SELECT reason, SUM(count) FROM gaps GROUP BY reason"))
    return {"readings": sum(max(c) for c in by_sensor.values()), "sensors": len(by_sensor),
            "sensors_whose_metrics_disagree": disagree, "observations": int(observations),
            "records": records, "duplicate_records": records - distinct,
            "records_by_type": types, "window_parts": int(parts),
            "summaries_merged_twice_or_missing": int(parts) - int(types.get("summary", 0)),
            "gaps_by_reason": gaps}  # fmt: skip


def _flood_thread(port: int, args: argparse.Namespace, stop: threading.Event,
                  out: list[FloodReport]) -> threading.Thread:  # fmt: skip
    def run() -> None:
        out.append(flood("127.0.0.1", port, args.sensors, args.rate, None, 1, 1,
                         prefix="drain", stop=stop))  # fmt: skip

    thread = threading.Thread(target=run, name="flood")
    thread.start()
    return thread


Reconnect = tuple[subprocess.Popen[bytes], float, int, dict[str, int]]


def _reconnect(edge_db: Path, cloud: list[str], work: Path) -> Reconnect:
    """Start the cloud; at the moment it accepts connections, note the outbox backlog."""
    proc = _start(cloud, work / "cloud.log")
    _wait_port(int(cloud[cloud.index("--port") + 1]), 120)  # a loaded machine imports slowly
    cloud_up = time.time()
    through = int(_read(edge_db, "SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0])
    return proc, cloud_up, through, _outbox(edge_db, through)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    broker, mqtt_port = start_broker(work)
    cloud_port, metrics_port = free_port(), free_port()
    cloud_db, edge_db = work / "cloud.db", work / "edge" / "edge.db"
    cloud_cmd = ["cloud", "serve", "--port", str(cloud_port), "--database", str(cloud_db),
                 "--auth", "off", "--log-level", "warning"]  # fmt: skip
    stop, reports = threading.Event(), list[FloodReport]()
    agent = cloud = None
    try:
        agent = _start_agent(_config(work, mqtt_port, cloud_port, metrics_port, args),
                             work / "agent.log")  # fmt: skip
        sender = _flood_thread(mqtt_port, args, stop, reports)
        began = time.time()
        time.sleep(args.offline_s)
        cpu0 = (_family_cpu(agent.pid), time.time())
        cloud, cloud_up, through, backlog = _reconnect(edge_db, cloud_cmd, work)
        samples = _watch(edge_db, cloud_db, through, args.timeout_s)
        cpu1 = (_family_cpu(agent.pid), time.time())
        after = _live_lag(cloud_db, args.after_s)
        stop.set()
        sender.join(120)
        time.sleep(args.window_s + max(0.5, args.window_s / 12) + 2.0)  # open windows close
        left_running = _wait_empty(edge_db, 120)
        counters = _scrape(metrics_port)
        agent_rc = _stop(agent)
        left_after_stop = sum(_outbox(edge_db).values())
        _stop(cloud)
    finally:
        stop.set()
        for proc in (agent, cloud, broker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    return {
        "accumulated_s": cloud_up - began, "cloud_up": cloud_up, "backlog_seq_through": through,
        "backlog_at_reconnect": backlog, "samples": samples, "after_lags_s": after,
        "agent_cpu_percent_during_drain": 100 * (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]),
        "timing": _timing(cloud_db, through, cloud_up), "cloud": _verify(cloud_db),
        "agent": counters, "agent_exit_code": agent_rc,
        "outbox_left": {"before_stop": left_running, "after_stop": left_after_stop},
        "flood": {"readings": reports[0].readings if reports else None,
                  "elapsed_s": reports[0].elapsed_s if reports else None},
    }  # fmt: skip


def summarise(args: argparse.Namespace, raw: dict[str, Any]) -> dict[str, Any]:
    """The figures the target speaks of, from the raw measurements."""
    timing, cloud, agent = raw["timing"], raw["cloud"], raw["agent"]
    summaries = raw["backlog_at_reconnect"].get("summary", 0)
    scale = REFERENCE_WINDOW_S / args.window_s
    equivalent_s = raw["accumulated_s"] * scale
    lags = [s["lag_s"] for s in raw["samples"] if s["lag_s"] is not None]
    accepted = int(agent.get("readings_total", -1))
    # Acknowledged: the first sample with none of the backlog left in the outbox (an upper
    # bound, within one sampling interval).
    acked = raw["samples"][-1]["at"] - raw["cloud_up"]
    transfer = acked - timing["first_upload_s"]
    if raw["samples"][-1]["backlog_left"]:
        print(f"the backlog did not drain within --timeout-s {args.timeout_s:g}: figures are "
              "bounds")  # fmt: skip
    return {
        "backlog_records": sum(raw["backlog_at_reconnect"].values()),
        "backlog_summaries": summaries,
        "accumulated_s": raw["accumulated_s"], "equivalent_offline_s": equivalent_s,
        "accumulation_rate_here": summaries / raw["accumulated_s"],
        "accumulation_rate_equivalent": summaries / equivalent_s,
        "first_upload_s": timing["first_upload_s"],
        "reached_s": timing["last_backlog_request_s"], "drain_s": acked,
        "transfer_s": transfer, "drain_rate": summaries / acked,
        "transfer_rate": summaries / transfer, "ratio": equivalent_s / acked,
        "ratio_without_backoff_wait": equivalent_s / transfer,
        # Heartbeats and alerts wake the uplink from its backoff, so after a true hour the
        # first attempt comes within min(backoff_max_s, 30 s heartbeats); the scaled heartbeats
        # here come every 0.5 s. The ratio if that whole wait came first:
        "ratio_worst_reconnect_wait": equivalent_s
        / (min(args.backoff_max_s, REFERENCE_HEARTBEAT_S) + transfer),
        "upload_failures_offline": int(agent.get("upload_failures_total", -1)),
        "live_records_before_last_backlog_request":
            timing["live_records_before_last_backlog_request"],
        "live_summaries_before_last_backlog_request":
            timing["live_summaries_before_last_backlog_request"],
        "backlog_requests": timing["requests_with_backlog"],
        "live_before_last_backlog_request_by_type":
            timing["live_before_last_backlog_request_by_type"],
        "lag_at_reconnect_s": raw["samples"][0]["lag_s"],
        "lag_worst_during_drain_s": max(lags) if lags else None,
        "lag_at_backlog_done_s": lags[-1] if lags else None,
        "lag_after_drain_s": max(raw["after_lags_s"]) if raw["after_lags_s"] else None,
        "readings_accepted": accepted, "readings_in_cloud": cloud["readings"],
        "lost": accepted - cloud["readings"], "duplicate_records": cloud["duplicate_records"],
        "summaries_merged_twice_or_missing": cloud["summaries_merged_twice_or_missing"],
    }  # fmt: skip


def _lag(value: float | None) -> str:
    return "none yet" if value is None else f"{value:.1f} s"


def print_table(args: argparse.Namespace, s: dict[str, Any], raw: dict[str, Any]) -> None:
    backlog = ", ".join(f"{n:,} {k}" for k, n in sorted(raw["backlog_at_reconnect"].items()))
    flood = raw["flood"]
    by_type = s["live_before_last_backlog_request_by_type"]
    live = ", ".join(f"{n:,} {k}" for k, n in sorted(by_type.items())) or "no records"
    rows = [
        ("flood achieved", f"{flood['readings'] / flood['elapsed_s']:,.0f} readings/s over "
                           f"{flood['elapsed_s']:.0f} s, QoS 1, {args.sensors} sensors"),
        ("offline", f"{s['accumulated_s']:.1f} s, windows of {args.window_s:g} s"),
        ("same backlog with 60 s windows", f"{s['equivalent_offline_s'] / 60:.1f} min offline"),
        ("backlog at reconnect", f"{s['backlog_records']:,} records ({backlog})"),
        ("cloud back -> first upload", f"{s['first_upload_s']:.1f} s (the agent's backoff; "
                                       f"{s['upload_failures_offline']} failed attempts in "
                                       "the outage)"),
        ("cloud back -> backlog in cloud", f"{s['reached_s']:.1f} s (last request in), "
                                           f"acknowledged by {s['drain_s']:.1f} s, "
                                           f"{s['backlog_requests']} requests"),
        ("first upload -> acknowledged", f"{s['transfer_s']:.1f} s"),
        ("drain rate", f"{s['drain_rate']:,.0f} summaries/s "
                       f"({s['transfer_rate']:,.0f}/s once uploading)"),
        ("accumulation rate", f"{s['accumulation_rate_here']:,.0f} summaries/s here, "
                              f"{s['accumulation_rate_equivalent']:,.1f}/s with 60 s windows"),
        ("drain ratio (target >= 20x)", f"{s['ratio']:,.0f}x "
                                        f"({s['ratio_without_backoff_wait']:,.0f}x from the "
                                        "first upload, "
                                        f"{s['ratio_worst_reconnect_wait']:,.0f}x with a "
                                        f"{min(args.backoff_max_s, REFERENCE_HEARTBEAT_S):g} s "
                                        "wait first)"),
        ("live data before backlog done", f"{live} in the {s['backlog_requests'] - 1} requests "
                                          "before the last with backlog"),
        ("cloud's newest window age", f"at reconnect {_lag(s['lag_at_reconnect_s'])}, "
                                           f"worst in drain {_lag(s['lag_worst_during_drain_s'])}, "
                                           f"at backlog done {_lag(s['lag_at_backlog_done_s'])}, "
                                           f"after {_lag(s['lag_after_drain_s'])}"),
        ("readings accepted / in cloud", f"{s['readings_accepted']:,} / "
                                         f"{s['readings_in_cloud']:,}: lost {s['lost']}"),
        ("duplicates", f"{s['duplicate_records']} (gateway, seq); summaries merged twice or "
                       f"missing: {s['summaries_merged_twice_or_missing']}"),
    ]  # fmt: skip
    for name, value in rows:
        print(f"{name:<32}{value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline-s", type=float, default=60.0, help="phase 1 length")
    parser.add_argument("--window-s", type=float, default=1.0, help="the agent's window length")
    parser.add_argument("--rate", type=float, default=1000.0, help="readings/s, all along")
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--backoff-max-s", type=float, default=60.0, help="the agent's default")
    parser.add_argument("--after-s", type=float, default=10.0, help="live phase after the drain")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="longest drain awaited")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        raw = run(args, Path(tmp))
    summary = summarise(args, raw)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m_before": round(load, 2),
                    "load_average_1m_after": round(os.getloadavg()[0], 2)},
        "args": vars(args), "summary": summary, "raw": raw,
    }  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(args, summary, raw)
    print(
        f"notes: a backlog of S s at W s windows holds as many summaries as S * 60 / W s at "
        f"60 s windows; agent CPU during the drain {raw['agent_cpu_percent_during_drain']:.0f}% "
        f"of one core; shared {os.cpu_count()}-core machine, other work running (load "
        f"{load:.2f} before, {os.getloadavg()[0]:.2f} after); one run, not an average"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
