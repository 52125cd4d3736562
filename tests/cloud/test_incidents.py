"""Incidents: edge alerts grouped per entity and cause, routed, with a lifecycle and a trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.incidents import Action, InvalidTransition, State, after
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"
TF2 = "urn:ngsi-ld:TrafficFlowObserved:sim-tf-0002"


@pytest.fixture
def city(tmp_path: Path) -> Iterator[httpx.Client]:
    """A seeded aggregator, so alerts can be routed to departments."""
    write_city(tmp_path / "city.geojson", sensors=10)
    with (
        CloudServer(tmp_path / "c.db", city=tmp_path / "city.geojson") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield http


def alert(seq: int, sensor: str = "sim-aq-0001", **fields: Any) -> Any:
    return b.alert(seq, sensor, **fields)


def incidents(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/api/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_alerts_of_one_entity_and_cause_make_one_incident(city: httpx.Client) -> None:
    ingest(city, b.body([alert(1, severity="warning", ts=b.T0 + 30, value=300.0)]))
    ingest(city, b.body([alert(2, severity="critical", ts=b.T0 + 90, value=480.0)]))
    ingest(city, b.body([alert(3, severity="info", ts=b.T0 + 60, value=200.0)]))
    ingest(city, b.body([alert(4, metric="pm10")]))

    found = {i["cause"]: i for i in incidents(city)}

    pm25 = found["anomaly:pm25"]
    assert set(found) == {"anomaly:pm25", "anomaly:pm10"}
    assert (pm25["entity"], pm25["alerts"], pm25["severity"]) == (AQ1, 3, "critical")
    assert (pm25["first_alert_at"], pm25["last_alert_at"]) == (b.T0 + 30, b.T0 + 90)
    assert pm25["last_value"] == 480.0
    assert pm25["state"] == "open"


@pytest.mark.parametrize(
    ("sensor", "kind", "department"),
    [
        ("sim-aq-0001", "air_quality", "urn:ngsi-ld:Department:dept-environment"),
        ("sim-tf-0002", "traffic_flow", "urn:ngsi-ld:Department:dept-mobility"),
        ("unknown-1", "air_quality", "urn:ngsi-ld:Department:dept-environment"),
    ],
    ids=["by relationship", "another department", "by type, not in the city file"],
)
def test_an_incident_is_routed_to_the_responsible_department(
    city: httpx.Client, sensor: str, kind: str, department: str
) -> None:
    ingest(city, b.body([alert(1, sensor, kind=kind, metric="intensity")]))

    [found] = incidents(city)

    assert found["department"] == department
    assert incidents(city, department=department) == [found]
    assert incidents(city, department="urn:ngsi-ld:Department:nobody") == []


def test_without_a_city_an_incident_is_unrouted(client: httpx.Client) -> None:
    ingest(client, b.body([b.alert(1)]))

    assert incidents(client)[0]["department"] is None


def test_the_lifecycle_with_its_audit_trail(city: httpx.Client) -> None:
    ingest(city, b.body([alert(1)]))
    [opened] = incidents(city)
    url = f"/api/v1/incidents/{opened['id']}"

    acked = city.post(f"{url}/acknowledge", json={"by": "ana", "note": "on my way"})
    assigned = city.post(f"{url}/assign", json={"by": "ana", "assignee": "luis"})
    commented = city.post(f"{url}/comments", json={"by": "luis", "text": "sensor cleaned"})
    resolved = city.post(f"{url}/resolve", json={"by": "luis"})

    for response in (acked, assigned, commented, resolved):
        assert response.status_code == 200, response.text
    assert acked.json()["state"] == "acknowledged"
    final = city.get(url).json()
    assert (final["state"], final["assignee"]) == ("resolved", "luis")
    trail = [(e["actor"], e["action"], e["detail"]) for e in final["events"]]
    assert trail[0][:2] == ("gw-01", "opened")
    assert trail[1:] == [
        ("ana", "acknowledged", "on my way"),
        ("ana", "assigned", "luis"),
        ("luis", "commented", "sensor cleaned"),
        ("luis", "resolved", ""),
    ]
    assert incidents(city, state="resolved")[0]["id"] == opened["id"]


def test_an_alert_after_resolution_opens_a_new_incident(city: httpx.Client) -> None:
    ingest(city, b.body([alert(1)]))
    [first] = incidents(city)
    city.post(f"/api/v1/incidents/{first['id']}/resolve", json={"by": "ana"})

    ingest(city, b.body([alert(2)]))

    assert [(i["state"], i["alerts"]) for i in incidents(city)] == [("open", 1), ("resolved", 1)]


def test_a_resent_alert_does_not_count_twice(city: httpx.Client) -> None:
    body = b.body([alert(1)])
    ingest(city, body)

    ingest(city, body)

    assert incidents(city)[0]["alerts"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        ("/api/v1/incidents/999/acknowledge", {"by": "a"}, 404, "no incident 999"),
        ("/api/v1/incidents/{id}/acknowledge", {"by": "a"}, 409, "cannot acknowledge an incident"
         " that is resolved"),
        ("/api/v1/incidents/{id}/assign", {"by": "a", "assignee": "b"}, 409, "cannot assign"),
        ("/api/v1/incidents/{id}/resolve", {}, 422, "Field required"),
    ],
    ids=["unknown", "acknowledge resolved", "assign resolved", "no actor"],
)  # fmt: skip
def test_changes_that_cannot_be_made_are_refused(
    city: httpx.Client, path: str, body: dict[str, str], status: int, detail: str
) -> None:
    ingest(city, b.body([alert(1)]))
    [found] = incidents(city)
    city.post(f"/api/v1/incidents/{found['id']}/resolve", json={"by": "ana"})

    response = city.post(path.format(id=found["id"]), json=body)

    assert response.status_code == status
    assert detail in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        (State.OPEN, Action.ACKNOWLEDGED, State.ACKNOWLEDGED),
        (State.OPEN, Action.RESOLVED, State.RESOLVED),
        (State.ACKNOWLEDGED, Action.RESOLVED, State.RESOLVED),
        (State.ACKNOWLEDGED, Action.ASSIGNED, State.ACKNOWLEDGED),
        (State.RESOLVED, Action.COMMENTED, State.RESOLVED),
        (State.ACKNOWLEDGED, Action.ACKNOWLEDGED, None),
        (State.RESOLVED, Action.RESOLVED, None),
    ],
)
def test_transitions(state: State, action: Action, expected: State | None) -> None:
    if expected is None:
        with pytest.raises(InvalidTransition):
            after(state, action)
    else:
        assert after(state, action) is expected
