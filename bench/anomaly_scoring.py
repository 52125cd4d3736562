"""Anomaly scoring speed: agent batches, latency at 1,000 readings/s, replay, float vs int8.

    .venv/bin/python bench/anomaly_scoring.py [--models DIR]

DIR is a `citytwin model train --out DIR` folder (model.onnx and model.float.onnx) for the
float vs int8 comparison. Prints a table and writes bench/results/anomaly_scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.anomaly import Detector
from edge.anomaly.replay import replay


def _fleet(streams: int, rounds: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    names = [f"sim-aq-{i:04d}" for i in range(streams)]
    return names, 20 + rng.normal(0, 1, (rounds, streams))


def throughput(batch: int, streams: int, seconds: float = 3.0) -> float:
    """Readings per second through Detector.score in batches of ``batch`` readings."""
    detector = Detector.load()
    names, values = _fleet(streams, 2000)
    per = batch // streams
    sensor, metric = names * per, ["pm25"] * batch
    done, began, r = 0, time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        ts = 1.7e9 + 300.0 * (r * per + np.repeat(np.arange(per), streams))
        detector.score(
            sensor, metric, ts, values[(r * per) % 1900 : (r * per) % 1900 + per].ravel()
        )
        done += batch
        r += 1
    return done / (time.perf_counter() - began)


def latency(batch: int, streams: int = 1000, calls: int = 2000) -> tuple[float, float]:
    """p50 and p99 of one Detector.score call, in ms (what a batch of readings waits for)."""
    detector = Detector.load()
    names, values = _fleet(streams, 50)
    times = []
    for i in range(calls):
        rows = np.arange(i * batch, (i + 1) * batch) % streams
        sensor = [names[j] for j in rows]
        t0 = time.perf_counter()
        detector.score(sensor, ["pm25"] * batch, 1.7e9 + i * 1.0 + rows * 0, values[i % 50, rows])
        times.append(time.perf_counter() - t0)
    p50, p99 = np.quantile(times, [0.5, 0.99]) * 1000
    return float(p50), float(p99)


def replay_seconds(rows: int = 20_000) -> float:
    """Wall time of replay() on a ``rows``-row CSV, model load included."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        value = 10 + np.random.default_rng(0).normal(0, 1, rows)
        src.write_text(
            "timestamp,value\n" + "".join(f"{i * 60},{v:.3f}\n" for i, v in enumerate(value))
        )
        began = time.perf_counter()
        replay(src, out)
        return time.perf_counter() - began


def onnx_rate(path: Path, batch: int, seconds: float = 2.0) -> float:
    """Rows per second through the raw ONNX model at ``batch`` rows a call, one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(0, 1, (batch, 12)).astype(np.float32)
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        session.run(None, {"features": x})
        done += batch
    return done / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, help="folder with model.onnx and model.float.onnx")
    args = parser.parse_args()
    results: dict[str, object] = {"cpu_count": os.cpu_count()}
    rows = []
    for batch, streams in ((1000, 1000), (5000, 1000), (1000, 100)):
        rate = throughput(batch, streams)
        results[f"throughput_b{batch}_s{streams}"] = rate
        rows.append((f"score, batch {batch} over {streams} streams", f"{rate:,.0f} readings/s"))
    for batch in (1, 10, 100):
        p50, p99 = latency(batch)
        results[f"latency_b{batch}_ms"] = {"p50": p50, "p99": p99}
        rows.append((f"one score() call, batch {batch}", f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"))
    seconds = replay_seconds()
    results["replay_20000_s"] = seconds
    rows.append(("replay of a 20,000-row CSV", f"{seconds:.2f} s"))
    if args.models:
        for name in ("model.float.onnx", "model.onnx"):
            for batch in (256, 4096):
                rate = onnx_rate(args.models / name, batch)
                results[f"onnx_{name}_b{batch}"] = rate
                rows.append((f"raw ONNX {name}, batch {batch}", f"{rate / 1e6:.2f} M rows/s"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "anomaly_scoring.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
