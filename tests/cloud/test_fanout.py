"""The live stream of one aggregator says what another one on the same database committed.

Two CloudServers share nothing but the PostgreSQL database, as two replicas behind a load
balancer do: a client streams from one while gateways and operators go through the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.fanout import Acted, Alerted, Beat, Note, Piece, pack
from cloud.incidents import Action
from cloud.store.postgres.notify import APPLICATION, MAX_NOTICE_BYTES
from shared.wire.uplink import Record
from tests.cloud.test_stream import AQ1, Sse, stream
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest, query
from tests.support.postgres import Databases

Pair = tuple[httpx.Client, httpx.Client]


@pytest.fixture
def pair(backend: Databases | None, tmp_path: Path) -> Iterator[Pair]:
    """Clients of two seeded aggregators on one fresh database: ``one`` writes, ``two`` streams."""
    assert backend is not None
    city = tmp_path / "city.geojson"
    write_city(city, sensors=10)
    database = backend.for_path(tmp_path / "shared")  # the same one as tmp_path / "shared"
    with (
        CloudServer(database, city=city) as one,
        CloudServer(database, city=city) as two,
        httpx.Client(base_url=one.url, timeout=10) as first,
        httpx.Client(base_url=two.url, timeout=10) as second,
    ):
        yield first, second


def _post(http: httpx.Client, records: list[Record]) -> None:
    response = ingest(http, b.body(records))
    assert response.status_code == 200, response.text


def _events(sse: Sse, count: int) -> dict[str, dict[str, object]]:
    seen = [sse.event() for _ in range(count)]
    return {kind: data for kind, _, data in seen}


@pytest.mark.postgres_only
def test_a_batch_ingested_through_one_is_streamed_by_the_other(pair: Pair) -> None:
    one, two = pair
    with stream(two, district="district-01") as sse:
        _post(one, [b.summary(1, "sim-aq-0001", last_value=33.0), b.alert(2, "sim-aq-0001")])
        _post(one, [b.heartbeat(3)])

        seen = _events(sse, 3)
        boot = two.get("/api/v1/stream/stats").json()["boot"]

    assert set(seen) == {"twin", "incident", "gateway"}
    assert seen["twin"]["entity"] == AQ1
    assert seen["twin"]["status"]["pm25"]["value"] == 33.0  # type: ignore[index]
    assert seen["incident"]["change"] == "opened"
    assert seen["incident"]["incident"]["entity"] == AQ1  # type: ignore[index]
    assert (seen["gateway"]["gateway"], seen["gateway"]["buffer_depth"]) == ("gw-01", 42)
    assert seen["gateway"]["district"] == "urn:ngsi-ld:District:district-01"
    assert boot != one.get("/api/v1/stream/stats").json()["boot"]


@pytest.mark.postgres_only
def test_an_incident_acknowledged_through_one_is_an_event_on_the_other(pair: Pair) -> None:
    one, two = pair
    with stream(two, types="incident") as sse:
        _post(one, [b.alert(1, "sim-aq-0001")])
        # Read first: an event still pending when the next one comes would be coalesced.
        _, _, opened = sse.event()
        done = one.post(
            f"/api/v1/incidents/{opened['incident']['id']}/acknowledge", json={"by": "ana"}
        )
        assert done.status_code == 200, done.text

        kind, _, data = sse.event()

    assert opened["change"] == "opened"
    assert (kind, data["change"]) == ("incident", "acknowledged")
    assert data["incident"]["id"] == opened["incident"]["id"]
    assert data["incident"]["state"] == "acknowledged"
    assert data["district"] == "urn:ngsi-ld:District:district-01"


@pytest.mark.postgres_only
def test_a_lost_listening_link_is_a_resync_and_the_stream_goes_on(
    pair: Pair, tmp_path: Path
) -> None:
    one, two = pair
    with stream(two, types="twin") as sse:
        ended = query(
            tmp_path / "shared",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE datname = current_database() AND application_name = '{APPLICATION}'",
        )
        kind, event_id, data = sse.event()
        _post(one, [b.summary(1, "sim-aq-0001")])
        after = sse.event()

    assert ended == [(2,)]  # both aggregators' listening connections
    assert (kind, event_id, data) == ("resync", None, {"reason": "lost", "dropped": 0})
    assert (after[0], after[2]["entity"]) == ("twin", AQ1)


@pytest.mark.sqlite_only("no server: how notes are cut to size is pure")
@pytest.mark.parametrize("entities", [1, 40, 3000])
def test_notes_stay_under_the_notify_limit_and_carry_every_change(entities: int) -> None:
    twin = {
        f"urn:ngsi-ld:AirQualityObserved:s-{i:05d}": {"pm25": 1.5 + i, "no2": 2.0}
        for i in range(entities)
    }
    pieces: list[Piece] = [("twin", e, m, at) for e, ms in twin.items() for m, at in ms.items()]
    pieces += [Alerted(entity="urn:ngsi-ld:AirQualityObserved:s-00000", received_at=9.5)]
    pieces += [Beat(gateway="gw-01", received_at=9.5, buffer_depth=3, oldest_unsent_age_s=0.5)]
    pieces += [Acted(incident=7, change=Action.RESOLVED)]

    notes = pack("0a1b2c3d", 5, MAX_NOTICE_BYTES, iter(pieces))

    assert all(len(n.model_dump_json().encode()) <= MAX_NOTICE_BYTES for n in notes)
    assert [n.seq for n in notes] == list(range(5, 5 + len(notes)))
    merged: dict[str, dict[str, float]] = {}
    for note in notes:
        for entity, metrics in note.twin.items():
            merged.setdefault(entity, {}).update(metrics)
    assert merged == twin
    assert sum(len(n.alerted) + len(n.beats) + len(n.acted) for n in notes) == 3
    assert Note.model_validate_json(notes[-1].model_dump_json()) == notes[-1]
    assert json.loads(notes[0].model_dump_json())["origin"] == "0a1b2c3d"
