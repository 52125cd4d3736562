"""Cloud ingest throughput: summaries/s into a real `citytwin cloud serve` on a fresh SQLite file.

    python bench/cloud_ingest.py [--batches 200] [--batch-size 500] [--concurrency 1 4]

Bodies are pre-encoded exactly as the edge uplink encodes them (gzip JSON), so the figure is
the server's: HTTP, gunzip, validation, dedup and the SQLite transaction. Prints a table and
writes bench/results/cloud_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from socket import IPPROTO_TCP, TCP_NODELAY

import httpx

from shared.wire.uplink import INGEST_PATH, encode_records

RESULTS = Path(__file__).parent / "results" / "cloud_ingest.json"
METRICS = ("pm25", "pm10", "no2", "o3", "co")
T0 = 1_700_000_000.0


def summary(seq: int, sensor: int, metric: str, window: int) -> str:
    start = T0 + 60 * window
    value = 10 + (seq * 7919 % 1000) / 100  # varied, so the body compresses like real data
    return json.dumps({
        "type": "summary", "seq": seq, "sensor": f"aq-{sensor:05d}", "kind": "air_quality",
        "metric": metric, "start": start, "end": start + 60, "count": 6, "sum": value * 6,
        "min": value - 1.5, "max": value + 2.25, "m2": 6.5, "first_ts": start + 1,
        "last_ts": start + 51, "last_value": value,
    })  # fmt: skip


def bodies(gateway: str, batches: int, size: int, sensors: int) -> list[bytes]:
    """``batches`` gzip bodies of ``size`` summaries each, windows advancing over ``sensors``."""
    out, seq = [], 0
    for _ in range(batches):
        records = []
        for _ in range(size):
            cell, metric = divmod(seq, len(METRICS))
            window, sensor = divmod(cell, sensors)
            records.append(summary(seq, sensor, METRICS[metric], window))
            seq += 1
        out.append(encode_records(gateway, time.time(), records))
    return out


def start_server(database: Path) -> tuple[subprocess.Popen[str], str]:
    citytwin = str(Path(sys.executable).parent / "citytwin")
    args = ["cloud", "serve", "--port", "0", "--database", str(database), "--log-level", "warning"]
    proc = subprocess.Popen([citytwin, *args], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    url = re.search(r"http://[\d.]+:\d+", proc.stderr.readline())
    assert url, "the server did not say where it listens"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url.group()}/healthz").status_code == 200:
                return proc, url.group()
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the server did not become healthy")


def send(url: str, chunk: list[bytes]) -> list[float]:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    latencies = []
    # Headers and body go out in two writes: without NODELAY, Nagle holds the body back
    # until the server's delayed ACK (~40 ms). The async client (the edge's) sets it already.
    transport = httpx.HTTPTransport(socket_options=[(IPPROTO_TCP, TCP_NODELAY, 1)])
    with httpx.Client(base_url=url, headers=headers, timeout=60, transport=transport) as http:
        for body in chunk:
            began = time.perf_counter()
            response = http.post(INGEST_PATH, content=body)
            latencies.append(time.perf_counter() - began)
            response.raise_for_status()
    return latencies


def run(url: str, gateway: str, args: argparse.Namespace, concurrency: int) -> dict[str, object]:
    work = bodies(gateway, args.batches, args.batch_size, args.sensors)
    chunks = [work[i::concurrency] for i in range(concurrency)]
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [x for part in pool.map(lambda c: send(url, c), chunks) for x in part]
    elapsed = time.perf_counter() - began
    total = args.batches * args.batch_size
    ms = sorted(x * 1000 for x in latencies)
    return {
        "concurrency": concurrency,
        "batches": args.batches,
        "batch_size": args.batch_size,
        "summaries": total,
        "seconds": round(elapsed, 3),
        "summaries_per_s": round(total / elapsed),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    columns = ("concurrency", "summaries", "seconds", "summaries_per_s", "p50_ms", "p99_ms")
    print("  ".join(f"{c:>15}" for c in columns))
    for r in rows:
        print("  ".join(f"{r[c]!s:>15}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "cloud.db")
        try:
            for n, concurrency in enumerate(args.concurrency):
                rows.append(run(url, f"bench-gw-{n}", args, concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine()}
    RESULTS.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
