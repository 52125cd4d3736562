"""Screenshots of each dashboard view: ``python -m cloud.dashboard.screenshots --out docs/images``.

Without ``--url`` it serves a sample city (``cloud.dashboard.scene``) with a real
``citytwin cloud serve`` on a free port; with ``--url`` it pictures a running aggregator (the
demo, say), whose first incident and first sensor it shows. Needs Playwright (the ``dev``
extra) and the system's Chromium.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from cloud.dashboard import browser, scene

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWS = ("map", "incidents", "entity", "fleet")
READY_MS = 30_000


@dataclass(frozen=True, slots=True)
class Target:
    """What to picture: the aggregator's URL, an incident and a sensor entity to open."""

    url: str
    incident: int | None
    entity: str | None


@contextmanager
def sample_aggregator(workdir: Path) -> Iterator[Target]:
    """``citytwin cloud serve`` on a free port with the sample city and its day of data."""
    city = workdir / "city.geojson"
    text = scene.city_text()
    city.write_text(text)
    argv = [sys.executable, "-m", "citytwin", "cloud", "serve", "--port", "0"]
    argv += ["--database", str(workdir / "cloud.db"), "--city", str(city), "--log-level", "warning"]
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        try:
            url = _listening_url(proc)
            with httpx.Client(base_url=url, timeout=60) as http:
                _wait_healthy(http)
                sensors = scene.populate(http, text, time.time())
                incident = _acknowledged_or_first(http)
            yield Target(url, incident, sensors[0].id if sensors else None)
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def _listening_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"http://[\d.]+:\d+", line)
        if found:
            return found.group()
    raise RuntimeError("the aggregator exited before it listened")


def _wait_healthy(http: httpx.Client, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the aggregator is not healthy after {timeout}s")


def _acknowledged_or_first(http: httpx.Client) -> int | None:
    items = http.get("/api/v1/incidents").json()["items"]
    chosen = next((i for i in items if i["state"] == "acknowledged"), items[0] if items else None)
    return None if chosen is None else int(chosen["id"])


def _running(url: str, key: str | None) -> Target:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        incident = _acknowledged_or_first(http)
        sensors = http.get("/api/v1/entities", params={"limit": 1000}).json()["items"]
    entity = next((e["id"] for e in sensors if e.get("sensor") and e.get("status")), None)
    return Target(url, incident, entity)


def shoot(target: Target, out: Path, size: tuple[int, int], key: str | None) -> list[Path]:
    """One PNG per view in ``out``: dashboard-<view>.png."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        chrome = browser.launch(pw)
        try:
            page = chrome.new_page(viewport={"width": size[0], "height": size[1]})
            if key:
                page.add_init_script(f"sessionStorage.setItem('citytwin.apiKey', {key!r})")
            for view in VIEWS:
                path = out / f"dashboard-{view}.png"
                _open(page, target, view)
                page.screenshot(path=str(path))
                written.append(path)
        finally:
            chrome.close()
    return written


def _open(page: Page, target: Target, view: str) -> None:
    fragment = {
        "map": "#/map",
        "incidents": f"#/incidents/{target.incident}" if target.incident else "#/incidents",
        "entity": f"#/entity/{target.entity}" if target.entity else "#/map",
        "fleet": "#/fleet",
    }[view]
    page.goto(f"{target.url}/{fragment}")
    page.wait_for_selector("body[data-ready]", state="attached", timeout=READY_MS)
    wait_for = {
        "map": ".leaflet-marker-icon",
        "incidents": "#incident-detail .trail li" if target.incident else "#incident-table",
        "entity": ".chart[data-values]" if target.entity else "#map",
        "fleet": "#fleet-table tbody tr",
    }[view]
    page.wait_for_selector(wait_for, timeout=READY_MS)
    page.wait_for_timeout(800)  # let the map's zoom animation and the charts settle


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--url", help="a running aggregator (default: serve the sample city)")
    parser.add_argument("--key", help="API key for --url, when its auth is on")
    parser.add_argument("--size", default="1366x768", help="viewport WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, _, height = args.size.partition("x")
    size = (int(width), int(height))
    try:
        if args.url:
            written = shoot(_running(args.url.rstrip("/"), args.key), args.out, size, args.key)
        else:
            with (
                tempfile.TemporaryDirectory(prefix="citytwin-shots-") as tmp,
                sample_aggregator(Path(tmp)) as target,
            ):
                written = shoot(target, args.out, size, None)
    except (browser.NoBrowser, RuntimeError, httpx.HTTPError) as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
