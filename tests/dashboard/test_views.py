"""Each view of the dashboard in a real Chromium against a real aggregator with a seeded city."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Dashboard, open_view
from tests.support import batches as b
from tests.support.cloud import ingest

WAIT_MS = 15_000  # the page polls every 5 s without a stream: two rounds and some slack


def districts(dashboard: Dashboard) -> list[str]:
    features = dashboard.city["features"]
    assert isinstance(features, list)
    return [f["id"] for f in features if f["properties"]["type"] == "District"]


def points(dashboard: Dashboard) -> int:
    features = dashboard.city["features"]
    assert isinstance(features, list)
    drawn = [f for f in features if f["geometry"] and f["geometry"]["type"] == "Point"]
    return len([f for f in drawn if f["properties"]["type"] != "District"])


def new_alert(dashboard: Dashboard, sensor_index: int, seq: int) -> int:
    """Send an edge alert for a sensor of the city, as its gateway would; the incident's id."""
    sensor = dashboard.sensors[sensor_index]
    record = b.alert(seq, sensor.sensor, kind=sensor.kind, metric="probe", ts=time.time())
    response = ingest(dashboard.http, b.body([record], gateway=sensor.gateway))
    assert response.status_code == 200, response.text
    found = dashboard.http.get("/api/v1/incidents", params={"entity": sensor.id}).json()
    return next(int(i["id"]) for i in found["items"] if i["cause"] == "anomaly:probe")


def test_the_map_shows_districts_and_status_markers(page: Page, dashboard: Dashboard) -> None:
    open_view(page, dashboard.url, "#/map")

    shapes = page.locator("path[data-district]")
    expect(shapes).to_have_count(len(districts(dashboard)))
    # Every point entity has a marker; clusters hold those too close to draw apart.
    expect(page.locator("body")).to_have_attribute("data-map-markers", str(points(dashboard)))
    assert page.locator(".leaflet-marker-icon.mk, .leaflet-marker-icon.cluster").count() > 0
    # The scene's alerts make incidents: their sensors (or their clusters) show as anomalous.
    assert page.locator(".mk-anomalous, .cluster-anomalous").count() > 0
    # Status is never colour alone: the legend names each one beside its shape and glyph.
    legend = page.locator("#legend li")
    expect(legend).to_have_count(5)
    expect(page.locator("#legend")).to_contain_text("anomalous")
    expect(page.locator("#legend")).to_contain_text("offline")


def test_a_marker_opens_the_entity_card(page: Page, dashboard: Dashboard) -> None:
    open_view(page, dashboard.url, "#/map")
    page.wait_for_selector(".leaflet-marker-icon", timeout=WAIT_MS)
    # Zoom in until single markers appear (clusters split), then choose one by keyboard.
    page.locator(".leaflet-marker-icon.mk").first.wait_for(timeout=WAIT_MS)
    marker = page.locator(".leaflet-marker-icon.mk").first
    title = marker.get_attribute("title")
    assert title
    marker.focus()
    page.keyboard.press("Enter")

    card = page.locator("#entity-card")
    expect(card).to_be_visible()
    expect(card.locator("h2")).to_have_text(title.split(" (")[0])


def test_an_incident_from_ingest_appears_without_a_reload(page: Page, dashboard: Dashboard) -> None:
    open_view(page, dashboard.url, "#/incidents")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    incident = new_alert(dashboard, 3, seq=90_001)

    row = page.locator(f'#incident-table tr[data-incident-id="{incident}"]')
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row).to_contain_text("critical")
    assert page.evaluate("window.__sameDocument") is True


def test_acknowledging_from_the_panel_changes_the_incident(
    page: Page, dashboard: Dashboard
) -> None:
    incident = new_alert(dashboard, 4, seq=90_002)
    open_view(page, dashboard.url, f"#/incidents/{incident}")
    detail = page.locator("#incident-detail")
    expect(detail).to_have_attribute("data-state", "open")

    detail.locator('button[data-action="acknowledge"]').click()

    expect(detail).to_have_attribute("data-state", "acknowledged", timeout=WAIT_MS)
    found = dashboard.http.get(f"/api/v1/incidents/{incident}").json()
    assert found["state"] == "acknowledged"
    assert [e["action"] for e in found["events"]][-1] == "acknowledged"
    expect(detail.locator('.trail li[data-action="acknowledged"]')).to_have_count(1)
    expect(detail.locator('button[data-action="acknowledge"]')).to_be_disabled()


def test_assign_comment_and_resolve_from_the_panel(page: Page, dashboard: Dashboard) -> None:
    incident = new_alert(dashboard, 6, seq=90_003)
    open_view(page, dashboard.url, f"#/incidents/{incident}")
    detail = page.locator("#incident-detail")
    expect(detail).to_have_attribute("data-state", "open")

    detail.locator('form[data-action="assign"] input').fill("luis")
    detail.locator('form[data-action="assign"] button').click()
    expect(detail.locator('.trail li[data-action="assigned"]')).to_have_count(1, timeout=WAIT_MS)
    detail.locator('form[data-action="comment"] textarea').fill("valve closed")
    detail.locator('form[data-action="comment"] button').click()
    expect(detail.locator('.trail li[data-action="commented"]')).to_have_count(1, timeout=WAIT_MS)
    detail.locator('button[data-action="resolve"]').click()
    expect(detail).to_have_attribute("data-state", "resolved", timeout=WAIT_MS)

    found = dashboard.http.get(f"/api/v1/incidents/{incident}").json()
    assert (found["state"], found["assignee"]) == ("resolved", "luis")
    assert "valve closed" in [e["detail"] for e in found["events"]]


@pytest.mark.parametrize(("field", "value"), [("severity", "warning"), ("state", "resolved")])
def test_incident_filters(page: Page, dashboard: Dashboard, field: str, value: str) -> None:
    if value == "resolved":  # make sure one exists whatever ran before
        resolved = new_alert(dashboard, 7, seq=90_004)
        dashboard.http.post(f"/api/v1/incidents/{resolved}/resolve", json={"by": "t"})
    open_view(page, dashboard.url, "#/incidents")
    page.locator(f'#incident-filters select[name="{field}"]').select_option(value)

    column = 1 if field == "severity" else 2
    # The list is redrawn when the filtered answer arrives: wait for every row to match.
    page.wait_for_function(
        """([column, value]) => {
            const cells = document.querySelectorAll(`#incident-table td:nth-child(${column})`);
            return cells.length > 0 && [...cells].every((td) => td.textContent.includes(value));
        }""",
        arg=[column, value],
        timeout=WAIT_MS,
    )
    shown = page.locator(f"#incident-table tbody td:nth-child({column})").all_inner_texts()
    assert shown
    assert all(value in text for text in shown)


def test_the_entity_chart_renders_its_history(page: Page, dashboard: Dashboard) -> None:
    entity = dashboard.sensors[0].id
    open_view(page, dashboard.url, f"#/entity/{entity}")

    charts = page.locator(".chart[data-values]")
    expect(charts).to_have_count(2, timeout=WAIT_MS)  # the scene sends two metrics per sensor
    for chart in charts.all():
        assert chart.locator("canvas").count() == 1
        assert int(chart.get_attribute("data-values") or 0) > 0
    # The scene's silent hours and the hour its gateway shed are reported, not drawn as data.
    captions = " ".join(page.locator(".chart-caption").all_inner_texts())
    assert "no data" in captions
    assert "shed" in captions

    page.get_by_role("button", name="1 h").click()
    expect(page.get_by_role("button", name="1 h")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".chart[data-values]")).to_have_count(2, timeout=WAIT_MS)
    expect(page.locator(".chart-caption").first).to_contain_text("steps of 60 s")


def test_the_fleet_is_sortable(page: Page, dashboard: Dashboard) -> None:
    gateways = dashboard.http.get("/api/v1/gateways").json()["items"]
    open_view(page, dashboard.url, "#/fleet")
    rows = page.locator("#fleet-table tbody tr")
    expect(rows).to_have_count(len(gateways))

    sort = page.locator('#fleet-table button[data-sort="buffer"]')
    sort.click()  # ascending
    sort.click()  # descending
    deepest = max(gateways, key=lambda g: g["buffer_depth"] or -1)
    expect(rows.first).to_have_attribute("data-gateway", deepest["id"])
    expect(page.locator("#fleet-table th").nth(3)).to_have_attribute("aria-sort", "descending")
    # The gateway that never sent a heartbeat is shown as such, not as connected.
    never = [g for g in gateways if g["heartbeat_at"] is None]
    assert never
    expect(page.locator(f'tr[data-gateway="{never[0]["id"]}"]')).to_contain_text("OFFLINE")
