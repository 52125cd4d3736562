"""Ingest over real HTTP: batches land once, and backfill never rewrites the present."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, table_counts

AQ1 = "urn:ngsi-ld:AirQualityObserved:aq-0001"


def entity(client: httpx.Client, entity_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/entities/{entity_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_gzip_batch_shows_the_sensor_with_its_latest_values(client: httpx.Client) -> None:
    records = [
        b.summary(1, last_value=12.5),
        b.summary(2, metric="pm10", last_value=20.0),
        b.summary(3, start=b.T0 + 60, last_value=14.0),
    ]
    response = ingest(client, b.body(records))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 3,
        "duplicates": 0,
        "desired": {"config_version": 0, "model_version": None},
    }
    page = client.get("/api/v1/entities").json()
    assert page["total"] == 1
    [item] = page["items"]
    assert item["id"] == AQ1
    assert (item["sensor"], item["kind"], item["type"]) == (
        "aq-0001",
        "air_quality",
        "AirQualityObserved",
    )
    assert (item["category"], item["gateway"], item["location"]) == (
        "goods_and_equipment",
        "gw-01",
        None,
    )
    assert item["status"] == {
        "pm25": {"value": 14.0, "observed_at": b.T0 + 110, "unit": "ug/m3"},
        "pm10": {"value": 20.0, "observed_at": b.T0 + 50, "unit": "ug/m3"},
    }


def test_uncompressed_json_is_accepted(client: httpx.Client) -> None:
    response = ingest(client, b.body([b.summary(1)], compress=False), gzip=False)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def test_a_resent_batch_changes_nothing(cloud_server: CloudServer, client: httpx.Client) -> None:
    body = b.body([b.summary(1), b.alert(2), b.heartbeat(3), b.gap(4)])
    assert ingest(client, body).json()["accepted"] == 4
    before = (table_counts(cloud_server.settings.database), client.get("/api/v1/entities").json())

    again = ingest(client, body)

    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 4)
    after = (table_counts(cloud_server.settings.database), client.get("/api/v1/entities").json())
    assert after == before


def test_a_batch_mixing_old_and_new_records_keeps_only_the_new(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1), b.summary(2, start=b.T0 + 60)]))

    response = ingest(client, b.body([b.summary(2), b.summary(3, start=b.T0 + 120)]))

    assert (response.json()["accepted"], response.json()["duplicates"]) == (1, 1)


def test_a_sequence_number_twice_in_one_batch_counts_once(client: httpx.Client) -> None:
    response = ingest(client, b.body([b.summary(7), b.summary(7, last_value=99.0)]))

    assert (response.json()["accepted"], response.json()["duplicates"]) == (1, 1)
    assert entity(client, AQ1)["status"] == {
        "pm25": {"value": 12.5, "observed_at": b.T0 + 50, "unit": "ug/m3"}
    }


def test_same_seq_from_another_gateway_is_a_different_record(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1)], gateway="gw-01"))

    response = ingest(client, b.body([b.summary(1, sensor="aq-0002")], gateway="gw-02"))

    assert response.json()["accepted"] == 1


def test_backfill_never_overwrites_newer_live_state(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(50, start=b.T0, last_value=10.0)]))

    # The gateway drains an hour-old backlog after an outage: lower seq, older observations.
    ingest(client, b.body([b.summary(5, start=b.T0 - 3600, last_value=99.0)]))

    pm25 = entity(client, AQ1)["status"]["pm25"]
    assert pm25 == {"value": 10.0, "observed_at": b.T0 + 50, "unit": "ug/m3"}


def test_a_newer_summary_replaces_the_latest_value(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1, start=b.T0, last_value=10.0)]))

    ingest(client, b.body([b.summary(2, start=b.T0 + 60, last_value=11.0)]))

    pm25 = entity(client, AQ1)["status"]["pm25"]
    assert (pm25["value"], pm25["observed_at"]) == (11.0, b.T0 + 110)


def test_an_alert_is_stored_and_shows_in_the_live_status(
    cloud_server: CloudServer, client: httpx.Client
) -> None:
    ingest(client, b.body([b.summary(1, last_value=12.5)]))

    ingest(client, b.body([b.alert(2, ts=b.T0 + 70, value=480.0)]))

    pm25 = entity(client, AQ1)["status"]["pm25"]
    assert (pm25["value"], pm25["observed_at"]) == (480.0, b.T0 + 70)
    assert table_counts(cloud_server.settings.database)["alerts"] == 1


def test_gaps_are_kept(cloud_server: CloudServer, client: httpx.Client) -> None:
    response = ingest(client, b.body([b.gap(1), b.gap(2, sensor=None, metric=None)]))

    assert response.json()["accepted"] == 2
    assert table_counts(cloud_server.settings.database)["gaps"] == 2


def test_a_kind_unknown_to_the_catalogue_becomes_a_generic_device(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1, sensor="x-1", kind="radiation", metric="doseRate")]))

    found = entity(client, "urn:ngsi-ld:Device:x-1")

    assert (found["kind"], found["type"]) == ("radiation", "Device")
    assert found["status"]["doseRate"]["unit"] is None


def test_data_survives_a_restart(cloud_server: CloudServer) -> None:
    with httpx.Client(base_url=cloud_server.url) as http:
        ingest(http, b.body([b.summary(1)]))
    cloud_server.stop()

    cloud_server.start()

    with httpx.Client(base_url=cloud_server.url) as http:
        assert ingest(http, b.body([b.summary(1)])).json()["duplicates"] == 1
        assert http.get("/api/v1/entities").json()["total"] == 1
