"""Cloud rules: gateways offline, sensors silent and KPI thresholds opening incidents.

The rules' pure functions over tables; their evaluation on a real store with an injected
clock (so nothing waits for time to pass); and the task in the running app, with tiny
thresholds, showing its incidents on the API and the live stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cloud import city, kpis, rules
from cloud.fleet import Gateway
from cloud.incidents import Action, State
from cloud.rules import Finding, Heard
from cloud.rules_watch import evaluate
from cloud.settings import CloudSettings, KpiRule
from cloud.store import IncidentQuery, Store, store_for
from cloud.store.base import Change
from shared.wire.uplink import DesiredState
from tests.cloud.test_stream import stream
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, backend_of, ingest

GW1 = "urn:ngsi-ld:Gateway:gw-01"
AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"  # observes district-01
DISTRICT1 = "urn:ngsi-ld:District:district-01"
BEACH2 = "urn:ngsi-ld:Beach:beach-2"  # observed by sim-wq-0003
ENVIRONMENT = "urn:ngsi-ld:Department:dept-environment"
NOW = 1_750_000_000.0


# -- pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "was_firing", "firing", "action"),
    [
        (None, None, True, Action.OPENED),
        (None, None, False, None),
        (State.OPEN, True, True, None),
        (State.OPEN, False, True, Action.ALERT),
        (State.ACKNOWLEDGED, False, True, Action.ALERT),
        (State.OPEN, True, False, Action.RESOLVED),
        (State.ACKNOWLEDGED, True, False, Action.COMMENTED),
        (State.OPEN, False, False, None),
        (State.ACKNOWLEDGED, False, False, None),
    ],
    ids=[
        "opens", "nothing to clear", "still firing", "fires again", "fires again, acked",
        "clears and resolves", "clears, left to its operator", "still clear", "still clear, acked",
    ],
)  # fmt: skip
def test_what_a_finding_does_to_its_incident(
    state: State | None, was_firing: bool | None, firing: bool, action: Action | None
) -> None:
    assert rules.step(state, was_firing, firing) is action


def _gateway(heartbeat_at: float | None) -> Gateway:
    return Gateway("gw-01", 0.0, 0.0, heartbeat_at, None, DesiredState())


@pytest.mark.parametrize(
    ("age", "firing"),
    [(10.0, False), (89.9, False), (90.0, None), (299.9, None), (300.0, True), (None, None)],
    ids=["online", "just online", "stale", "still stale", "offline", "never heard"],
)
def test_a_gateway_fires_offline_and_clears_online(age: float | None, firing: bool | None) -> None:
    heartbeat_at = None if age is None else NOW - age

    found = rules.gateway_findings([_gateway(heartbeat_at)], NOW, 90.0, 300.0)

    assert [(f.entity, f.cause, f.firing) for f in found] == (
        [] if firing is None else [(GW1, rules.GATEWAY_OFFLINE, firing)]
    )


def test_a_sensor_is_silent_past_its_threshold_only() -> None:
    heard = {
        "a": Heard(NOW - 900.0, "gw-01"),
        "b": Heard(NOW - 900.5, "gw-01"),
        "c": Heard(NOW + 5.0, None),
    }

    found = rules.silent_findings(heard, NOW, 900.0)

    assert [(f.entity, f.firing) for f in found] == [("a", False), ("b", True), ("c", False)]
    assert {f.cause for f in found} == {rules.SENSOR_SILENT}


def test_sensors_of_an_offline_gateway_are_not_silent_on_their_own() -> None:
    gateways = [_gateway(NOW - 400.0), Gateway("gw-02", 0.0, 0.0, NOW, None, DesiredState())]
    offline = rules.offline_gateways(rules.gateway_findings(gateways, NOW, 90.0, 300.0))
    heard = {"a": Heard(NOW - 1000.0, "gw-01"), "b": Heard(NOW - 1000.0, "gw-02")}

    found = rules.silent_findings(heard, NOW, 900.0, offline)

    assert offline == {"gw-01"}
    assert [(f.entity, f.firing) for f in found] == [("b", True)]


def _district(pm25: float | None, sites: tuple[kpis.Site, ...] = ()) -> kpis.Kpis:
    sensors = [] if pm25 is None else [
        kpis.SensorInput("aq", "air_quality", DISTRICT1, {"pm25": kpis.Observation(pm25, NOW)})
    ]  # fmt: skip
    found = kpis.compute(sensors, NOW, 3600.0, kpis.District(DISTRICT1, "Lomas"))
    bathing = kpis.BathingWater(None, sites, None, kpis.Coverage(len(sites), 0))
    return kpis.Kpis(
        found.district, found.name, found.air_quality, found.congestion, bathing, found.noise,
        found.energy,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pm25", "at_least", "firing"),
    [(25.0, "poor", False), (25.1, "poor", True), (80.0, "poor", True), (24.0, "moderate", True),
     (9.0, "fair", False), (None, "poor", None)],
    ids=["moderate", "poor", "very poor", "moderate at moderate", "good", "no data"],
)  # fmt: skip
def test_the_air_quality_rule_fires_at_its_level_or_worse(
    pm25: float | None, at_least: str, firing: bool | None
) -> None:
    rule = KpiRule(kpi="air_quality", at_least=at_least, department=ENVIRONMENT)

    found = rules.kpi_findings([_district(pm25)], [rule])

    expected = [] if firing is None else [(DISTRICT1, "kpi:air_quality", firing, ENVIRONMENT)]
    assert [(f.entity, f.cause, f.firing, f.department) for f in found] == expected


def test_the_bathing_rule_judges_each_site() -> None:
    sites = (
        kpis.Site(BEACH2, kpis.Bathing.RED, 900.0, None),
        kpis.Site("urn:ngsi-ld:Beach:beach-1", kpis.Bathing.AMBER, 300.0, None),
    )
    rule = KpiRule(kpi="bathing_water", at_least="red")

    found = rules.kpi_findings([_district(None, sites)], [rule])

    assert [(f.entity, f.firing, f.department) for f in found] == [
        (BEACH2, True, None),
        ("urn:ngsi-ld:Beach:beach-1", False, None),
    ]


@pytest.mark.parametrize(
    ("rules_", "message"),
    [
        ([{"kpi": "air_quality", "at_least": "awful"}], "at_least: 'awful' is not a level of"),
        ([{"kpi": "bathing_water", "at_least": "poor"}], "(green, amber, red)"),
        ([{"kpi": "noise", "at_least": "loud"}], "kpi_rules.0.kpi"),
        ([{"kpi": "air_quality", "at_least": "poor"}] * 2, "two rules on one KPI"),
    ],
    ids=["unknown level", "another KPI's level", "unknown KPI", "two rules on one KPI"],
)
def test_bad_kpi_rules_are_refused_naming_the_field(
    tmp_path: Path, rules_: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError, match="kpi_rules") as raised:
        CloudSettings(database=tmp_path / "c.db", kpi_rules=rules_)

    assert message in str(raised.value)


# -- evaluation on a real store, the clock injected ---------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A store seeded with the test city (10 sensors)."""
    write_city(tmp_path / "city.geojson", sensors=10)
    async with store_for(backend_of(tmp_path / "c.db")) as opened:
        await opened.seed(city.load(tmp_path / "city.geojson"), NOW - 7200)
        yield opened


def _settings(tmp_path: Path) -> CloudSettings:
    return CloudSettings(database=tmp_path / "s.db", stale_after_s=90, offline_after_s=300)


async def _incidents(store: Store, entity: str) -> list[Any]:
    return list((await store.incidents(IncidentQuery(entity=entity))).items)


async def test_an_offline_gateway_opens_one_incident_then_resolves_when_back(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    await store.ingest(b.batch([b.heartbeat(1)]), NOW)

    opened = await evaluate(store, settings, NOW + 301)
    again = await evaluate(store, settings, NOW + 330)
    await store.ingest(b.batch([b.heartbeat(2)]), NOW + 340)
    back = await evaluate(store, settings, NOW + 345)

    assert [(r.incident.entity, r.incident.cause, r.change) for r in opened] == [
        (GW1, rules.GATEWAY_OFFLINE, Action.OPENED)
    ]
    assert again == []
    [incident] = await _incidents(store, GW1)
    assert incident.department == "urn:ngsi-ld:Department:dept-platform"
    assert [r.change for r in back] == [Action.RESOLVED]
    found = await store.incident(incident.id)
    assert found is not None
    assert found.state is State.RESOLVED
    assert [(e.actor, e.action) for e in found.events] == [
        (rules.ACTOR, Action.OPENED),
        (rules.ACTOR, Action.RESOLVED),
    ]


async def test_an_acknowledged_incident_is_left_to_its_operator(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    await store.ingest(b.batch([b.heartbeat(1)]), NOW)
    [ruled] = await evaluate(store, settings, NOW + 301)
    await store.act(ruled.incident.id, Change("ana", Action.ACKNOWLEDGED, NOW + 302))

    await store.ingest(b.batch([b.heartbeat(2)]), NOW + 340)
    back = await evaluate(store, settings, NOW + 345)
    still = await evaluate(store, settings, NOW + 350)
    down = await evaluate(store, settings, NOW + 700)

    assert [r.change for r in back] == [Action.COMMENTED]
    assert still == []
    assert [r.change for r in down] == [Action.ALERT]
    found = await store.incident(ruled.incident.id)
    assert found is not None
    assert (found.state, found.alerts) == (State.ACKNOWLEDGED, 2)
    assert [e.action for e in found.events] == [
        Action.OPENED, Action.ACKNOWLEDGED, Action.COMMENTED, Action.ALERT,
    ]  # fmt: skip


async def test_a_silent_sensor_opens_one_incident_until_its_data_resumes(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)  # silent after 900 s
    await store.ingest(b.batch([b.summary(1, "sim-aq-0001", start=NOW)]), NOW + 60)

    early = await evaluate(store, settings, NOW + 900)
    opened = await evaluate(store, settings, NOW + 1000)
    again = await evaluate(store, settings, NOW + 1100)
    await store.ingest(b.batch([b.summary(2, "sim-aq-0001", start=NOW + 1100)]), NOW + 1160)
    resumed = await evaluate(store, settings, NOW + 1170)

    assert [r for r in early if r.incident.cause == rules.SENSOR_SILENT] == []
    assert [(r.incident.entity, r.incident.cause, r.change) for r in opened] == [
        (AQ1, rules.SENSOR_SILENT, Action.OPENED)
    ]
    assert opened[0].incident.department == ENVIRONMENT  # as its edge alerts are
    assert again == []
    assert [(r.incident.id, r.change) for r in resumed] == [
        (opened[0].incident.id, Action.RESOLVED)
    ]
    assert "data resumed" in resumed[0].incident.events[-1].detail


async def test_a_gateway_offline_opens_one_incident_not_one_per_sensor(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    summary = b.summary(1, "sim-aq-0001", start=NOW)
    await store.ingest(b.batch([b.heartbeat(2, ts=NOW), summary]), NOW + 60)

    found = await evaluate(store, settings, NOW + 1000)

    assert [(r.incident.entity, r.incident.cause) for r in found] == [(GW1, rules.GATEWAY_OFFLINE)]


async def test_poor_air_in_a_district_opens_one_incident_for_the_environment(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    poor = b.summary(1, "sim-aq-0001", start=NOW - 60, last_value=40.0)  # 25 < pm2.5 <= 50
    await store.ingest(b.batch([poor]), NOW)

    first = await evaluate(store, settings, NOW)
    second = await evaluate(store, settings, NOW + 15)

    assert [(r.incident.entity, r.incident.cause, r.change) for r in first] == [
        (DISTRICT1, "kpi:air_quality", Action.OPENED)
    ]
    assert first[0].incident.department == ENVIRONMENT
    assert "European AQI poor (pm25)" in first[0].incident.events[0].detail
    assert second == []
    assert len(await _incidents(store, DISTRICT1)) == 1


async def test_red_bathing_water_opens_an_incident_on_the_beach(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    red = b.summary(
        1, "sim-wq-0003", kind="water_quality", metric="escherichiaColi", start=NOW - 60,
        last_value=900.0,
    )  # fmt: skip
    await store.ingest(b.batch([red], gateway="gw-07"), NOW)

    found = await evaluate(store, settings, NOW)

    assert [(r.incident.entity, r.incident.cause, r.incident.severity) for r in found] == [
        (BEACH2, "kpi:bathing_water", "critical")
    ]
    assert found[0].incident.department == "urn:ngsi-ld:Department:dept-beaches"


async def test_a_finding_on_an_unknown_entity_is_unrouted(store: Store) -> None:
    finding = Finding("urn:ngsi-ld:Gateway:gw-99", rules.GATEWAY_OFFLINE, True, "critical", 1, "x")

    [ruled] = await store.apply_findings([finding], NOW)
    nothing = await store.apply_findings([finding], NOW + 1)

    assert ruled.incident.department is None
    assert nothing == []


@pytest.mark.postgres_only
async def test_two_processes_evaluating_at_once_open_one_incident(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    await store.ingest(b.batch([b.heartbeat(1)]), NOW)

    both = (store, store, store)
    async with store_for(backend_of(tmp_path / "c.db")) as other:  # a second process's store
        both += (other, other, other)
        opened = await asyncio.gather(*(evaluate(s, settings, NOW + 301) for s in both))
        await store.ingest(b.batch([b.heartbeat(2)]), NOW + 340)
        back = await asyncio.gather(*(evaluate(s, settings, NOW + 345) for s in both))

    assert sorted(len(ruled) for ruled in opened) == [0, 0, 0, 0, 0, 1]
    assert sorted(len(ruled) for ruled in back) == [0, 0, 0, 0, 0, 1]
    [incident] = await _incidents(store, GW1)
    detail = await store.incident(incident.id)
    assert detail is not None
    assert [e.action for e in detail.events] == [Action.OPENED, Action.RESOLVED]


# -- the task in the running app ----------------------------------------------------------


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[httpx.Client]:
    """A seeded aggregator whose rules run every 0.1 s, gateways offline after 0.4 s."""
    write_city(tmp_path / "city.geojson", sensors=10)
    settings = {"stale_after_s": 0.2, "offline_after_s": 0.4, "rules_interval_s": 0.1}
    with (
        CloudServer(tmp_path / "c.db", city=tmp_path / "city.geojson", **settings) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield http


def _wait_for(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """The incidents matching ``params``, once there are some (a generous 10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items: list[dict[str, Any]] = http.get("/api/v1/incidents", params=params).json()["items"]
        if items:
            return items
        time.sleep(0.05)
    raise AssertionError(f"no incident matching {params} within 10 s")


def test_a_silent_gateway_opens_one_incident_on_the_api_and_the_stream(
    fast: httpx.Client,
) -> None:
    with stream(fast) as sse:
        response = ingest(fast, b.body([b.heartbeat(1)]))
        assert response.status_code == 200, response.text
        kind, _, data = sse.event()
        while kind != "incident":
            kind, _, data = sse.event()

    [incident] = _wait_for(fast, entity=GW1)
    assert (data["change"], data["incident"]["id"]) == ("opened", incident["id"])
    assert (incident["cause"], incident["state"]) == (rules.GATEWAY_OFFLINE, "open")
    assert incident["department"] == "urn:ngsi-ld:Department:dept-platform"
    trail = fast.get(f"/api/v1/incidents/{incident['id']}").json()["events"]
    assert [(e["actor"], e["action"]) for e in trail] == [(rules.ACTOR, "opened")]
