"""The live stream: server-sent events from the real app over HTTP, and the bus beneath it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.events import Bus, Filter, Kind
from cloud.live import MetricChange, TwinChange
from cloud.routers.stream import RETRY_MS, frames
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"  # district-01, dept-environment
TF2 = "urn:ngsi-ld:TrafficFlowObserved:sim-tf-0002"  # district-03, dept-mobility


class Sse:
    """Reads frames off a text/event-stream response."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self._lines = response.iter_lines()

    def frame(self) -> dict[str, str]:
        """The next frame's fields (comments under the name "")."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def event(self) -> tuple[str, str | None, dict[str, Any]]:
        """The next event, skipping comments: its type, id and data."""
        while True:
            fields = self.frame()
            if "event" in fields:
                return fields["event"], fields.get("id"), json.loads(fields["data"])


@contextmanager
def stream(http: httpx.Client, **params: Any) -> Iterator[Sse]:
    """The stream, subscribed: its opening frame (retry, a comment) has been read."""
    headers = params.pop("headers", {})
    with http.stream("GET", "/api/v1/stream", params=params, headers=headers) as response:
        sse = Sse(response)
        assert sse.frame() == {"": "citytwin live stream", "retry": str(RETRY_MS)}
        yield sse


@pytest.fixture
def city(tmp_path: Path) -> Iterator[httpx.Client]:
    """A seeded aggregator (10 sensors), so events have districts and departments."""
    write_city(tmp_path / "city.geojson", sensors=10)
    with (
        CloudServer(tmp_path / "c.db", city=tmp_path / "city.geojson") as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield http


def _post(http: httpx.Client, records: list[Any]) -> None:
    response = ingest(http, b.body(records))
    assert response.status_code == 200, response.text


def test_a_batch_becomes_one_twin_event_per_entity(client: httpx.Client) -> None:
    with stream(client) as sse:
        _post(
            client,
            [
                b.summary(1, start=b.T0, last_value=10.0),
                b.summary(2, start=b.T0 + 60, last_value=11.0),
                b.summary(3, metric="pm10", last_value=20.0),
            ],
        )

        kind, event_id, data = sse.event()

    assert kind == "twin"
    assert event_id is not None
    assert data == {
        "entity": "urn:ngsi-ld:AirQualityObserved:aq-0001",
        "type": "AirQualityObserved",
        "district": None,
        "department": None,
        "status": {
            "pm25": {"value": 11.0, "observed_at": b.T0 + 110, "unit": "ug/m3"},
            "pm10": {"value": 20.0, "observed_at": b.T0 + 50, "unit": "ug/m3"},
        },
    }


def test_a_backfill_that_changes_nothing_live_is_not_news(client: httpx.Client) -> None:
    _post(client, [b.summary(1, start=b.T0 + 600, last_value=30.0)])
    with stream(client) as sse:
        _post(client, [b.summary(2, start=b.T0, last_value=5.0)])  # older than the live value
        _post(client, [b.summary(3, "aq-0002", last_value=7.0)])

        _, _, data = sse.event()

    assert data["entity"] == "urn:ngsi-ld:AirQualityObserved:aq-0002"


def test_an_edge_alert_opens_an_incident_event_in_its_district(city: httpx.Client) -> None:
    with stream(city, district="district-01") as sse:
        _post(city, [b.alert(1, "sim-tf-0002", kind="traffic_flow", metric="intensity")])
        _post(city, [b.alert(2, "sim-aq-0001")])

        seen = [sse.event(), sse.event()]

    assert {kind for kind, _, _ in seen} == {"twin", "incident"}
    [incident] = [data for kind, _, data in seen if kind == "incident"]
    assert incident["change"] == "opened"
    assert incident["district"] == "urn:ngsi-ld:District:district-01"
    assert incident["incident"]["entity"] == AQ1
    assert incident["incident"]["department"] == "urn:ngsi-ld:Department:dept-environment"
    assert incident["incident"]["state"] == "open"


def test_operators_changes_are_incident_events(city: httpx.Client) -> None:
    _post(city, [b.alert(1, "sim-aq-0001")])
    [found] = city.get("/api/v1/incidents").json()["items"]
    with stream(city, types="incident") as sse:
        done = city.post(f"/api/v1/incidents/{found['id']}/acknowledge", json={"by": "ana"})
        assert done.status_code == 200, done.text

        kind, _, data = sse.event()

    assert (kind, data["change"]) == ("incident", "acknowledged")
    assert data["incident"]["state"] == "acknowledged"


def test_the_department_filter_keeps_its_departments_events(city: httpx.Client) -> None:
    with stream(city, department="dept-mobility", types="twin") as sse:
        _post(city, [b.summary(1, "sim-aq-0001")])
        _post(city, [b.summary(2, "sim-tf-0002", kind="traffic_flow", metric="intensity")])

        kind, _, data = sse.event()

    assert (kind, data["entity"]) == ("twin", TF2)
    assert data["department"] == "urn:ngsi-ld:Department:dept-mobility"
    assert data["district"] == "urn:ngsi-ld:District:district-03"


def test_a_heartbeat_is_a_gateway_event(city: httpx.Client) -> None:
    with stream(city, types="gateway", district="district-01") as sse:
        _post(city, [b.heartbeat(1)])

        kind, _, data = sse.event()

    assert kind == "gateway"
    assert (data["gateway"], data["status"], data["buffer_depth"]) == ("gw-01", "ONLINE", 42)
    assert data["district"] == "urn:ngsi-ld:District:district-01"


def test_an_unknown_event_type_is_refused_before_streaming(client: httpx.Client) -> None:
    response = client.get("/api/v1/stream", params={"types": "twin,weather"})

    assert response.status_code == 422
    assert "weather" in response.json()["detail"]


def test_a_reconnect_with_last_event_id_gets_what_it_missed(client: httpx.Client) -> None:
    with stream(client) as sse:
        _post(client, [b.summary(1, "aq-0001")])
        _, last_id, _ = sse.event()
    _post(client, [b.summary(2, "aq-0002")])  # while nobody is connected

    with stream(client, headers={"Last-Event-ID": last_id}) as sse:
        kind, _, data = sse.event()
    with stream(client, headers={"Last-Event-ID": "another-process-7"}) as sse:
        unknown = sse.event()

    assert (kind, data["entity"]) == ("twin", "urn:ngsi-ld:AirQualityObserved:aq-0002")
    assert unknown[0] == "resync"
    assert unknown[1] is None
    assert unknown[2] == {"reason": "unknown_last_event_id", "dropped": 0}


def test_a_client_that_does_not_read_neither_blocks_ingest_nor_loses_track(
    cloud_server: CloudServer,
) -> None:
    with (
        httpx.Client(base_url=cloud_server.url, timeout=10) as slow,
        httpx.Client(base_url=cloud_server.url, timeout=10) as gateway,
        stream(slow) as sse,
    ):
        # Entities change while nobody reads, until the socket buffers (a few MB on loopback)
        # and the subscription's bound (2,048 events) are full and events are dropped.
        for batch in range(500):
            sensors = [f"aq-{batch:03d}{i:03d}" for i in range(200)]
            _post(gateway, [b.summary(batch * 200 + i + 1, s) for i, s in enumerate(sensors)])
            stats = gateway.get("/api/v1/stream/stats").json()
            if stats["dropped"]:
                break

        kinds = set()
        while "resync" not in kinds:
            kind, _, data = sse.event()
            kinds.add(kind)
        _post(gateway, [b.summary(1_000_000, "aq-last")])
        while data.get("entity") != "urn:ngsi-ld:AirQualityObserved:aq-last":
            kind, _, data = sse.event()

    assert stats["subscribers"] == 1
    assert 0 < stats["published"] <= (batch + 1) * 200  # one per entity per tick at most
    assert stats["dropped"] > 0
    assert stats["resyncs"] >= 1


def _twin(entity: str, value: float, at: float) -> TwinChange:
    status = {"pm25": MetricChange(value=value, observed_at=at, unit="ug/m3")}
    return TwinChange(entity=entity, type="T", district=None, department=None, status=status)


async def test_a_subscription_keeps_one_event_per_subject_and_drops_its_oldest() -> None:
    bus = Bus(queue_size=2)
    subscription = bus.subscribe(Filter())
    for at, value in [(2.0, 20.0), (1.0, 10.0), (3.0, 30.0)]:
        bus.publish(Kind.TWIN, "a", _twin("a", value, at))
    bus.publish(Kind.TWIN, "b", _twin("b", 1.0, 1.0))
    bus.publish(Kind.TWIN, "c", _twin("c", 1.0, 1.0))

    drained = subscription.drain()

    assert [(e.kind, e.key) for e in drained] == [("resync", ""), ("twin", "b"), ("twin", "c")]
    assert drained[0].payload.model_dump_json() == '{"reason":"overflow","dropped":1}'
    assert (bus.counters.published, bus.counters.dropped) == (5, 1)
    bus.unsubscribe(subscription)


async def test_coalesced_twin_events_keep_the_newest_value_of_each_metric() -> None:
    bus = Bus()
    subscription = bus.subscribe(Filter(kinds=frozenset({Kind.TWIN})))
    bus.publish(Kind.TWIN, "a", _twin("a", 30.0, 3.0))
    bus.publish(Kind.TWIN, "a", _twin("a", 10.0, 1.0))  # a late event of an older value

    [event] = subscription.drain()

    assert isinstance(event.payload, TwinChange)
    assert event.payload.status["pm25"].value == 30.0
    assert event.seq == 2


async def test_replay_is_refused_across_events_never_built() -> None:
    clock = [0.0]
    bus = Bus(linger_s=60.0, clock=lambda: clock[0])
    first = bus.subscribe(Filter())
    seen = bus.publish(Kind.TWIN, "a", _twin("a", 1.0, 1.0))
    bus.unsubscribe(first)
    assert bus.listening  # within the linger: publishers keep building events

    clock[0] = 61.0
    assert not bus.listening
    bus.skipped()
    again = bus.subscribe(Filter(), last_event_id=bus.event_id(seen))

    [event] = again.drain()
    assert event.kind is Kind.RESYNC


async def test_an_idle_stream_sends_a_ping_comment() -> None:
    bus = Bus()
    subscription = bus.subscribe(Filter())
    sent = frames(bus, subscription, heartbeat_s=0.05, tick_s=0.01)

    opening = await anext(sent)
    ping = await anext(sent)
    bus.publish(Kind.TWIN, "a", _twin("a", 1.0, 1.0))
    event = await anext(sent)
    await sent.aclose()

    assert (opening.retry, ping.comment) == (RETRY_MS, "ping")
    assert (event.event, event.id) == ("twin", f"{bus.boot}-1")
    assert bus.subscribers == 0
