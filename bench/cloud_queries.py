"""Cloud query latency on a big twin: entity filters, bbox, near, one entity, one day of history.

    python bench/cloud_queries.py [--entities 100000] [--series 1000] [--days 30] [--requests 200]

Builds a database of ``--entities`` seeded entities (points spread over a 6 x 4.5 km city, ten
types, nine districts) and ``--days`` of 1-minute pm25 windows for ``--series`` of them, written
with the store's own schema and window rows (straight into SQLite, to build it in minutes, not
through HTTP). Then serves it with a real ``citytwin cloud serve`` and times requests one at a
time over HTTP. Prints a table and writes bench/results/cloud_queries.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
from cloud_ingest import start_server

from cloud import geo
from cloud.city import SeedEntity
from cloud.store import history, seeding
from cloud.store.schema import migrate

RESULTS = Path(__file__).parent / "results" / "cloud_queries.json"
LON, LAT = -3.80, 43.46  # the simulated city's corner
TYPES = (
    "Streetlight", "Building", "RoadSegment", "AirQualityObserved", "NoiseLevelObserved",
    "TrafficFlowObserved", "OffStreetParking", "WeatherObserved", "Beach", "Gateway",
)  # fmt: skip
T_END = 1_700_000_000.0 - 1_700_000_000.0 % 86_400


def entity(n: int, rng: random.Random) -> SeedEntity:
    lon, lat = LON + rng.uniform(0, 0.075), LAT + rng.uniform(0, 0.04)
    kind = TYPES[n % len(TYPES)]
    district = f"urn:ngsi-ld:District:district-{n % 9 + 1:02d}"
    return SeedEntity(
        id=f"urn:ngsi-ld:{kind}:e-{n:06d}", type=kind, category="goods_and_equipment",
        name=f"e-{n}", location={"type": "Point", "coordinates": [lon, lat]},
        bounds=geo.Box(lon, lat, lon, lat), attributes={"n": n},
        relationships={"locatedIn": (district,)}, sensor=f"e-{n:06d}", kind="air_quality",
        gateway=f"gw-{n % 9 + 1:02d}", district=district,
    )  # fmt: skip


def build(path: Path, args: argparse.Namespace) -> list[str]:
    """The database; returns the ids of the entities with history."""
    migrate(path)
    rng = random.Random(1)
    entities = [entity(n, rng) for n in range(args.entities)]
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        seeding.seed(conn, entities, time.time())
        conn.execute("COMMIT")
        rids = dict(conn.execute("SELECT id, rid FROM entities"))
        chosen = [e.id for e in entities[: args.series]]
        start = T_END - args.days * 86_400
        # Minute by minute over every series, as live ingest writes them.
        per = 8192 // len(history.COLUMNS)
        sql = history.upsert_sql(per)
        for day in range(args.days):
            conn.execute("BEGIN")
            rows = []
            for minute in range(1440):
                ws = start + day * 86_400 + minute * 60
                for e in chosen:
                    v = rng.uniform(5, 40)
                    stats = (6, 6 * v, v - 2, v + 3, 8.0, ws, ws + 50, v, 0, None, 6)
                    rows.append(history.window_row((rids[e], "pm25", ws, ws + 60, *stats)))
                    if len(rows) == per:
                        conn.execute(sql, [x for r in rows for x in r])
                        rows = []
            if rows:
                conn.execute(history.upsert_sql(len(rows)), [x for r in rows for x in r])
            conn.execute("COMMIT")
            print(f"  day {day + 1}/{args.days} written", flush=True)
    return chosen


def timed(
    http: httpx.Client, n: int, make: Callable[[random.Random], tuple[str, dict[str, object]]]
) -> dict[str, float]:
    rng = random.Random(2)
    ms = []
    for _ in range(n):
        path, params = make(rng)
        began = time.perf_counter()
        response = http.get(path, params=params)
        ms.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    ms.sort()
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 1),
    }


def queries(
    chosen: list[str], days: int
) -> dict[str, Callable[[random.Random], tuple[str, dict[str, object]]]]:
    def history_day(rng: random.Random) -> tuple[str, dict[str, object]]:
        end = T_END - rng.randrange(days) * 86_400
        return f"/api/v1/entities/{rng.choice(chosen)}/history", {
            "metric": "pm25", "start": end - 86_400, "end": end, "step": 300}  # fmt: skip

    def point(rng: random.Random) -> tuple[float, float]:
        return LON + rng.uniform(0, 0.075), LAT + rng.uniform(0, 0.04)

    return {
        "type filter (page of 100)": lambda r: ("/api/v1/entities", {"type": r.choice(TYPES)}),
        "type + district": lambda r: (
            "/api/v1/entities",
            {"type": r.choice(TYPES), "district": f"district-0{r.randint(1, 9)}"},
        ),
        "bbox 500 m": lambda r: (
            "/api/v1/entities",
            {"bbox": "{},{},{},{}".format(*(p := point(r)), p[0] + 0.006, p[1] + 0.0045)},
        ),
        "near 200 m": lambda r: (
            "/api/v1/entities",
            {"near": "{},{}".format(*point(r)), "max_distance": 200},
        ),
        "one entity": lambda r: (f"/api/v1/entities/{r.choice(chosen)}", {}),
        "history 1 day / 5 min": history_day,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build here and keep it (reused if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "cloud.db"
        began = time.perf_counter()
        reused = path.exists()
        chosen = build(path, args) if not reused else [
            entity(n, random.Random(1)).id for n in range(args.series)]  # fmt: skip
        built_s = None if reused else round(time.perf_counter() - began, 1)
        proc, url = start_server(path)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                rows = [{"query": name, **timed(http, args.requests, make)}
                        for name, make in queries(chosen, args.days).items()]  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        size_mb = round(path.stat().st_size / 2**20)
    print(f"{args.entities} entities, {args.days} days x 1440 windows x {args.series} series, "
          f"{size_mb} MB, built in {built_s} s")  # fmt: skip
    for r in rows:
        print(f"{r['query']:>28}  p50 {r['p50_ms']:>6} ms  p99 {r['p99_ms']:>6} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "entities": args.entities, "series": args.series, "days": args.days,
            "requests": args.requests, "database_mb": size_mb, "build_s": built_s}  # fmt: skip
    RESULTS.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
