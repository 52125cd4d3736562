"""The dashboard of the running demo: districts and sensors on the map, a drilled anomaly's
incident appearing without a reload, acknowledged from the panel, and its sensor's chart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import free_port
from tests.dashboard.conftest import open_view

pytestmark = pytest.mark.e2e

WAIT_MS = 60_000  # a drill every 3 s; the first ones fall while the detectors warm up


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`citytwin demo`, small and drilling often; its site's URL."""
    workdir = tmp_path_factory.mktemp("demo")
    process = subprocess.Popen(
        [sys.executable, "-m", "citytwin", "demo", "--port", str(free_port()),
         "--gateways", "2", "--sensors", "3", "--window", "1", "--anomaly-rate", "0",
         "--drill", "3", "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        assert match, "the demo did not print its URL"
        yield match[1]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:  # never leave a demo behind, even when a test fails
                process.kill()
                process.communicate()


def _first_incident(site: str, timeout: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = httpx.get(f"{site}/api/v1/incidents", timeout=5).json()["items"]
        # A gateway's detector raised it (the cloud's own rules open incidents too).
        drilled = [i for i in items if str(i["cause"]).startswith("anomaly:")]
        if drilled:
            found: dict[str, object] = drilled[-1]
            return found
        time.sleep(0.5)
    raise AssertionError("no incident from the demo's drills")


def test_the_demo_map_shows_its_districts_and_sensors(page: Page, demo: str) -> None:
    open_view(page, demo, "#/map")
    expect(page.locator("path[data-district]")).to_have_count(9)  # the generated city's
    page.locator(".leaflet-marker-icon").first.wait_for(timeout=WAIT_MS)
    assert int(page.locator("body").get_attribute("data-map-markers") or 0) > 6


def test_a_drilled_anomaly_shows_up_is_acknowledged_and_charted(page: Page, demo: str) -> None:
    open_view(page, demo, "#/incidents")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    rows = page.locator("#incident-table tr[data-incident-id]")
    expect(rows.first).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True
    incident = _first_incident(demo)

    open_view(page, demo, f"#/incidents/{incident['id']}")
    detail = page.locator("#incident-detail")
    detail.locator('button[data-action="acknowledge"]').click()
    expect(detail).to_have_attribute("data-state", "acknowledged", timeout=WAIT_MS)
    found = httpx.get(f"{demo}/api/v1/incidents/{incident['id']}", timeout=5).json()
    assert found["state"] == "acknowledged"

    # An alert travels at once; the sensor's first window summary only once its window has
    # closed (a drill may fall in a sensor's first seconds): look again until the chart has it.
    charts = page.locator(".chart[data-values]")
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        open_view(page, demo, f"#/entity/{incident['entity']}")
        charts.first.wait_for(timeout=WAIT_MS)
        if int(charts.first.get_attribute("data-values") or 0) > 0 or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert charts.first.locator("canvas").count() == 1
    assert int(charts.first.get_attribute("data-values") or 0) > 0


def test_the_demo_twin_is_the_city_it_simulates(demo: str) -> None:
    districts = httpx.get(f"{demo}/api/v1/entities", params={"type": "District"}, timeout=5)
    assert districts.json()["total"] == 9
