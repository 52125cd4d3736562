"""Fixtures of the dashboard tests: a real aggregator with a sample city, a real Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from cloud.dashboard import browser as chromium
from cloud.dashboard import scene
from tests.support.city import write_city
from tests.support.cloud import CloudServer

READY_MS = 20_000


@dataclass(frozen=True)
class Dashboard:
    """A running aggregator seeded with a city and a few hours of its data."""

    server: CloudServer
    http: httpx.Client
    city: dict[str, object]
    sensors: list[scene.Sensor]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """One aggregator per test module: seeding and a few hours of ingest take a second or two."""
    tmp = tmp_path_factory.mktemp("dashboard")
    city = write_city(tmp / "city.geojson", sensors=12)
    text = (tmp / "city.geojson").read_text()
    with (
        CloudServer(tmp / "cloud.db", city=tmp / "city.geojson") as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        sensors = scene.populate(http, text, time.time(), hours=6)
        yield Dashboard(server, http, city, sensors)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it lives, and the asyncio tests that follow in the session need the thread free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system's Chromium, headless, driven by Playwright."""
    if chromium.find_chromium() is None:
        pytest.fail("Chromium is not installed (apt-get install chromium; scripts/test does it)")
    with sync_playwright() as pw:
        chrome = chromium.launch(pw)
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) at a laptop's size; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


def open_view(page: Page, url: str, fragment: str) -> None:
    """Load the dashboard at ``fragment`` and wait until its first load has finished."""
    page.goto(f"{url}/{fragment}")
    page.wait_for_selector("body[data-ready]", state="attached", timeout=READY_MS)
