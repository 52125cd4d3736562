"""Anomaly scoring speed: agent batches, latency at 1,000 readings/s, replay, float vs int8.

    .venv/bin/python bench/anomaly_scoring.py [--models DIR]

DIR is a `citytwin model train --out DIR` folder (model.onnx and model.float.onnx) for the
float vs int8 comparison. Prints a table and writes bench/results/anomaly_scoring.json.
The figures are wall-clock: on a shared machine, run it several times and take the median.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.anomaly import Detector
from edge.anomaly.features import FEATURES
from edge.anomaly.model import default_model
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


def latency(batch: int, streams: int = 1000, calls: int = 2000) -> dict[str, float]:
    """p50 and p99 of one Detector.score call, in ms: wall (what a batch of readings waits
    for) and the calling thread's CPU time (the work itself, without time spent preempted)."""
    detector = Detector.load()
    names, values = _fleet(streams, 50)
    wall, cpu = [], []
    for i in range(calls):
        rows = np.arange(i * batch, (i + 1) * batch) % streams
        sensor = [names[j] for j in rows]
        t0, c0 = time.perf_counter(), time.thread_time()
        detector.score(sensor, ["pm25"] * batch, 1.7e9 + i * 1.0 + rows * 0, values[i % 50, rows])
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    w50, w99 = np.quantile(wall, [0.5, 0.99]) * 1000
    c50, c99 = np.quantile(cpu, [0.5, 0.99]) * 1000
    return {"p50": float(w50), "p99": float(w99), "cpu_p50": float(c50), "cpu_p99": float(c99)}


def _replay_input(path: Path, rows: int) -> None:
    """A one-minute series with a day-long gap two thirds in and one spike."""
    rng = np.random.default_rng(0)
    ts = 1.7e9 + 60.0 * np.arange(rows)
    ts[2 * rows // 3 :] += 86400
    value = 20 + 5 * np.sin(ts / 86400 * 2 * np.pi) + rng.normal(0, 0.5, rows)
    value[rows // 4] += 30
    path.write_text(
        "timestamp,value\n" + "".join(f"{t:.0f},{v:.3f}\n" for t, v in zip(ts, value, strict=True))
    )


def replay_seconds(rows: int = 20_000) -> tuple[float, float]:
    """Wall time of replay() on a ``rows``-row CSV (model load included), and of the command."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        _replay_input(src, rows)
        began = time.perf_counter()
        replay(src, out)
        library = time.perf_counter() - began
        command = [sys.executable, "-c", "from citytwin.cli import main; main()",
                   "edge", "replay", str(src), "--out", str(out)]  # fmt: skip
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return library, time.perf_counter() - began


def model_call_us(batch: int, calls: int = 3000) -> float:
    """Median time of the model alone (onnxruntime and calibration) on ``batch`` rows, in us."""
    model = Detector.load().model
    x = np.random.default_rng(0).normal(0, 1, (batch, len(FEATURES))).astype(np.float32)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        model.score(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e6


def onnx_rate(path: Path, batch: int, basic: bool = False, seconds: float = 2.0) -> float:
    """Rows per second through the raw ONNX model at ``batch`` rows a call, one thread.

    ``basic``: graph optimisation level BASIC, which leaves the int8 QDQ pairs unfused (float
    kernels on dequantised weights) instead of fusing them into int8 kernels.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if basic:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(0, 1, (batch, len(FEATURES))).astype(np.float32)
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
        ms = latency(batch)
        results[f"latency_b{batch}_ms"] = ms
        rows.append((f"one score() call, batch {batch}",
                     f"p50 {ms['p50']:.3f} ms, p99 {ms['p99']:.3f} ms wall; "
                     f"p99 {ms['cpu_p99']:.3f} ms CPU"))  # fmt: skip
    for batch in (10, 1000):
        us = model_call_us(batch)
        results[f"model_call_b{batch}_us"] = us
        rows.append((f"model alone (onnxruntime + calibration), batch {batch}", f"{us:.1f} us"))
    library, command = replay_seconds()
    results["replay_20000_s"] = library
    results["replay_20000_command_s"] = command
    rows.append(("replay() of a 20,000-row CSV", f"{library:.2f} s"))
    rows.append(("`citytwin edge replay` of it, process start included", f"{command:.2f} s"))
    models = [("default.onnx", default_model())]
    if args.models:
        models += [(name, args.models / name) for name in ("model.float.onnx", "model.onnx")]
    for name, path in models:
        for batch in (256, 4096):
            for basic in (False, True):
                rate = onnx_rate(path, batch, basic)
                level = "basic" if basic else "all"
                results[f"onnx_{name}_b{batch}_{level}"] = rate
                rows.append((f"raw ONNX {name}, batch {batch}, optimisation {level}",
                             f"{rate / 1e6:.2f} M rows/s"))  # fmt: skip
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "anomaly_scoring.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
