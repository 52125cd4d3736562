"""Dashboard first render with many entities: time until the map shows its markers.

    python bench/dashboard_render.py [--entities 10000] [--runs 3]

Seeds a twin of ``--entities`` sensors (points over a 6 x 4.5 km city of nine districts) into a
real ``citytwin cloud serve`` and opens the map in the system's headless Chromium, each run in
a fresh browser context. Measured in the page: navigation start to the first marker or cluster
on screen (every entity loaded and handed to the clustering), the entity requests' share of it,
and one animation frame after it (is the page still responsive?). Prints a table and writes
bench/results/dashboard_render.json. The target (docs/dashboard.md): under 2 s at 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from cloud.dashboard import browser

RESULTS = Path(__file__).parent / "results" / "dashboard_render.json"
LON, LAT = -3.84, 43.44  # the simulated city's corner
WIDTH, HEIGHT = 0.075, 0.04  # degrees: about 6 x 4.5 km
KINDS = (("air_quality", "AirQualityObserved"), ("noise", "NoiseLevelObserved"),
         ("traffic_flow", "TrafficFlowObserved"))  # fmt: skip


def city(entities: int, seed: int = 7) -> dict[str, Any]:
    """Nine districts in a 3 x 3 grid and ``entities`` sensors spread over them."""
    rng = random.Random(seed)
    features: list[dict[str, Any]] = []
    w, h = WIDTH / 3, HEIGHT / 3
    for n in range(9):
        x, y = LON + (n % 3) * w, LAT + (n // 3) * h
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        features.append({
            "type": "Feature", "id": f"urn:ngsi-ld:District:district-{n + 1:02d}",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"category": "management_entities", "type": "District",
                           "name": f"District {n + 1}"},
        })  # fmt: skip
    for n in range(entities):
        kind, sdm = KINDS[n % len(KINDS)]
        sensor = f"bench-{n:05d}"
        district = rng.randrange(9)
        x = LON + (district % 3) * w + rng.random() * w
        y = LAT + (district // 3) * h + rng.random() * h
        features.append({
            "type": "Feature", "id": f"urn:ngsi-ld:{sdm}:{sensor}",
            "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
            "properties": {
                "category": "goods_and_equipment", "type": sdm, "name": sensor,
                "attributes": {"sensorId": sensor, "kind": kind, "gatewayId": f"gw-{n % 20:02d}"},
                "relationships": {"locatedIn": f"urn:ngsi-ld:District:district-{district + 1:02d}"},
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def serve(workdir: Path, city_file: Path) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-m", "citytwin", "cloud", "serve", "--port", "0"]
    argv += ["--log-level", "warning", "--database", str(workdir / "cloud.db")]
    argv += ["--city", str(city_file)]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    found = re.search(r"http://[\d.]+:\d+", proc.stderr.readline())
    if found is None:
        proc.terminate()
        raise SystemExit("the aggregator did not say where it listens")
    deadline = time.monotonic() + 120  # seeding 10,000 entities takes a few seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{found.group()}/healthz", timeout=2).status_code == 200:
                return proc, found.group()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the aggregator did not become healthy")


MEASURE = """async () => {
    const first = performance.now();
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const entities = performance.getEntriesByType("resource")
        .filter((e) => e.name.includes("/api/v1/entities"));
    const start = Math.min(...entities.map((e) => e.startTime));
    const end = Math.max(...entities.map((e) => e.responseEnd));
    return {first_render_ms: first, frame_after_ms: performance.now() - first,
            entity_requests: entities.length, entity_fetch_ms: end - start,
            markers: Number(document.body.dataset.mapMarkers || 0)};
}"""


def run(url: str, runs: int, size: tuple[int, int]) -> list[dict[str, float]]:
    out = []
    with sync_playwright() as pw:
        chrome = browser.launch(pw)
        try:
            for _ in range(runs):
                context = chrome.new_context(viewport={"width": size[0], "height": size[1]})
                page = context.new_page()
                page.goto(f"{url}/#/map")
                page.wait_for_selector(".leaflet-marker-icon", timeout=60_000)
                out.append(page.evaluate(MEASURE))
                context.close()
        finally:
            chrome.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citytwin-bench-") as tmp:
        city_file = Path(tmp) / "city.geojson"
        city_file.write_text(json.dumps(city(args.entities)))
        proc, url = serve(Path(tmp), city_file)
        try:
            sizes = ((1366, 768), (1920, 1080))
            rows = {f"{w}x{h}": run(url, args.runs, (w, h)) for w, h in sizes}
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    print(f"{args.entities} entities, {args.runs} runs per viewport (median)\n")
    print("| Viewport | first render with markers | entity requests | of which fetching | "
          "next frame |")  # fmt: skip
    print("|---|---|---|---|---|")
    summary = {}
    for viewport, measured in rows.items():
        med = {k: statistics.median(m[k] for m in measured) for k in measured[0]}
        summary[viewport] = {"median": med, "runs": measured}
        print(f"| {viewport} | {med['first_render_ms']:.0f} ms | {med['entity_requests']:.0f} | "
              f"{med['entity_fetch_ms']:.0f} ms | {med['frame_after_ms']:.0f} ms |")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "entities": args.entities, "runs": args.runs, "machine": platform.machine(),
        "cpus": os.cpu_count(), "viewports": summary, "at": time.time(),
    }, indent=2))  # fmt: skip
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
