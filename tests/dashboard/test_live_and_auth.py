"""The live indicator, KPI tiles and sign-in, with faults injected at the browser's network layer.

The aggregator is real; Playwright's routing stands in only where a test needs a refusal (401),
a missing endpoint, or a stream that drops.
"""

from __future__ import annotations

from playwright.sync_api import Page, Request, Route, expect

from tests.dashboard.conftest import Dashboard, open_view

KEY = "key-of-an-operator-0123456789"


def missing(route: Route) -> None:
    route.fulfill(status=404, json={"detail": "Not Found"})


def test_without_a_stream_the_page_polls_and_kpis_say_no_data(
    page: Page, dashboard: Dashboard
) -> None:
    page.route("**/api/v1/stream", missing)
    page.route("**/api/v1/kpis", missing)
    open_view(page, dashboard.url, "#/map")

    expect(page.locator("#live")).to_have_attribute("data-state", "polling")
    expect(page.locator("#live")).to_contain_text("polling every 5 s")
    expect(page.locator("#kpis")).to_contain_text("no data")
    # Polling means the page asks again by itself.
    with page.expect_request("**/api/v1/gateways?**", timeout=8_000):
        pass


def test_a_dropped_stream_shows_reconnecting(page: Page, dashboard: Dashboard) -> None:
    def ends_at_once(route: Route) -> None:
        body = 'event: incident\ndata: {"type": "incident"}\n\n'
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route("**/api/v1/stream", ends_at_once)
    open_view(page, dashboard.url, "#/map")

    expect(page.locator("#live")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#live")).to_contain_text("reconnecting")
    # It tries again on its own.
    with page.expect_request("**/api/v1/stream", timeout=8_000):
        pass


def test_kpi_tiles_read_the_aggregators_kpis(page: Page, dashboard: Dashboard) -> None:
    # The shape of cloud/kpis.py's Kpis, city-wide (district null) and for one district.
    def kpis(route: Route) -> None:
        city = {
            "district": None, "name": None,
            "air_quality": {"level": 2, "pollutant": "pm25", "previous_level": 3},
            "congestion": {"index": 0.31, "previous_index": 0.2},
            "bathing_water": {"status": "green", "previous_status": "green"},
            "noise": {"laeq_db": 61.2, "previous_laeq_db": 61.2},
            "energy": {"load_kw": None, "previous_load_kw": None},
        }  # fmt: skip
        district = city | {
            "district": "urn:ngsi-ld:District:district-01", "name": "Lomas",
            "air_quality": {"level": 4, "pollutant": "no2", "previous_level": 3},
        }  # fmt: skip
        route.fulfill(status=200, json={"items": [city, district]})

    page.route("**/api/v1/kpis", kpis)
    open_view(page, dashboard.url, "#/map")

    tiles = page.locator("#kpis .tile")
    expect(tiles).to_have_count(5)
    expect(page.locator('.tile[data-kpi="air_quality"]')).to_contain_text("2 fair")
    expect(page.locator('.tile[data-kpi="air_quality"]')).to_contain_text("falling")
    expect(page.locator('.tile[data-kpi="congestion"]')).to_contain_text("rising")
    expect(page.locator('.tile[data-kpi="bathing_water"]')).to_contain_text("green")
    expect(page.locator('.tile[data-kpi="energy"]')).to_contain_text("no data")
    # The same tiles for one district, by name, with its own trend.
    page.locator("#kpi-scope").select_option(label="Lomas")
    expect(page.locator("#kpis")).to_have_attribute(
        "data-scope", "urn:ngsi-ld:District:district-01"
    )
    expect(page.locator('.tile[data-kpi="air_quality"]')).to_contain_text("4 poor")
    expect(page.locator('.tile[data-kpi="air_quality"]')).to_contain_text("rising")
    page.locator("#kpi-scope").select_option("city")
    expect(page.locator('.tile[data-kpi="air_quality"]')).to_contain_text("2 fair")
    # The map can shade districts by any of them.
    page.locator("#map-shade").select_option("congestion")
    expect(page.locator("#map-shade")).to_have_value("congestion")


def test_dev_mode_needs_no_key(page: Page, dashboard: Dashboard) -> None:
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if "/api/v1/" in r.url else None)
    open_view(page, dashboard.url, "#/map")

    expect(page.locator("#login")).not_to_be_visible()
    assert sent
    assert all("authorization" not in r.headers for r in sent)


def test_a_refused_request_asks_for_a_key_then_sends_it(page: Page, dashboard: Dashboard) -> None:
    seen: list[str | None] = []

    def guarded(route: Route) -> None:
        given = route.request.headers.get("authorization")
        seen.append(given)
        if given == f"Bearer {KEY}":
            # The key is checked here, so the aggregator (auth off) gets the request without it.
            rest = {k: v for k, v in route.request.headers.items() if k != "authorization"}
            route.continue_(headers=rest)
        else:
            route.fulfill(status=401, json={"detail": "missing API key"})

    page.route("**/api/v1/**", guarded)
    page.goto(f"{dashboard.url}/#/map")

    dialog = page.locator("#login")
    expect(dialog).to_be_visible()
    dialog.get_by_label("API key").fill(KEY)
    dialog.get_by_label("Your name").fill("ana")
    dialog.get_by_role("button", name="Sign in").click()

    expect(dialog).not_to_be_visible()
    expect(page.locator("path[data-district]").first).to_be_visible()
    expect(page.locator("#key-button")).to_contain_text("ana")
    assert page.evaluate("sessionStorage.getItem('citytwin.apiKey')") == KEY
    assert f"Bearer {KEY}" in seen
    # Once signed in, every request carries the key.
    first_with_key = seen.index(f"Bearer {KEY}")
    assert all(h == f"Bearer {KEY}" for h in seen[first_with_key:])


def test_the_indicator_says_how_the_page_keeps_current(page: Page, dashboard: Dashboard) -> None:
    paths = dashboard.http.get("/openapi.json").json()["paths"]
    expected = "live" if "/api/v1/stream" in paths else "polling"
    open_view(page, dashboard.url, "#/map")

    expect(page.locator("#live")).to_have_attribute("data-state", expected)
