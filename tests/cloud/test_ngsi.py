"""The NGSI-LD read view: the pure transforms and parsers, then the routes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloud import ngsi
from cloud.routers import ngsi as ngsi_router
from cloud.routers.ngsi import COUNT_HEADER, LINK, NgsiEntity, ProblemDetails
from cloud.store import Near
from cloud.twin import Entity, MetricState
from shared.wire.uplink import Record
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"
AQ_NEW = "urn:ngsi-ld:AirQualityObserved:aq-new"  # ingested only: not in the city file
PK6 = "urn:ngsi-ld:OffStreetParking:sim-pk-0006"
AQ1_AT = (-3.836307, 43.452928)  # sim-aq-0001 in the city of seed 7
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def sensor(**fields: Any) -> Entity:
    """A seeded air-quality sensor with a live pm25; keyword arguments override any field."""
    data: dict[str, Any] = {
        "id": AQ1, "type": "AirQualityObserved", "category": "goods_and_equipment",
        "name": "sim-aq-0001", "sensor": "sim-aq-0001", "kind": "air_quality",
        "gateway": "gw-01", "district": "urn:ngsi-ld:District:district-01",
        "location": {"type": "Point", "coordinates": [1.0, 2.0]},
        "attributes": {"sensorId": "sim-aq-0001", "height": 3.5},
        "relationships": {"locatedIn": ("urn:ngsi-ld:District:district-01",)},
        "first_seen": b.T0, "updated_at": b.T0,
        "status": {"pm25": MetricState(40.0, b.T0 + 50, "ug/m3")},
    }  # fmt: skip
    return Entity(**(data | fields))


# --- The entity ----------------------------------------------------------------------------


def test_an_entity_in_normalized_form() -> None:
    assert ngsi.to_ngsi(sensor()) == {
        "id": AQ1,
        "type": "AirQualityObserved",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1.0, 2.0]}},
        "name": {"type": "Property", "value": "sim-aq-0001"},
        "category": {"type": "Property", "value": "goods_and_equipment"},
        "sensorId": {"type": "Property", "value": "sim-aq-0001"},
        "kind": {"type": "Property", "value": "air_quality"},
        "gatewayId": {"type": "Property", "value": "gw-01"},
        "height": {"type": "Property", "value": 3.5},
        "locatedIn": {"type": "Relationship", "object": "urn:ngsi-ld:District:district-01"},
        "pm25": {
            "type": "Property",
            "value": 40.0,
            "observedAt": "2023-11-14T22:14:10.000Z",
            "unitCode": "GQ",
        },
        "@context": ngsi.CONTEXT,
    }


def test_several_targets_are_a_multi_attribute_told_apart_by_dataset_id() -> None:
    roads = ("urn:ngsi-ld:RoadSegment:road-002", "urn:ngsi-ld:RoadSegment:road-003")

    form = ngsi.to_ngsi(sensor(relationships={"connectsTo": roads}))

    assert form["connectsTo"] == [
        {"type": "Relationship", "object": roads[0], "datasetId": roads[0]},
        {"type": "Relationship", "object": roads[1], "datasetId": roads[1]},
    ]


def test_reserved_names_none_values_and_a_metric_over_an_attribute() -> None:
    entity = sensor(
        name=None,
        attributes={"id": "x", "createdAt": 1, "pm25": 1.0, "note": None},
        status={"pm25": MetricState(7.0, b.T0, "ug/m3")},
    )

    form = ngsi.to_ngsi(entity, context=False)

    assert form["id"] == AQ1  # the entity's own, not the attribute's
    assert not {"createdAt", "name", "note", "@context"} & set(form)
    assert form["pm25"]["value"] == 7.0


def test_an_entity_without_location_or_kind() -> None:
    district = sensor(
        id="urn:ngsi-ld:District:d", type="District", sensor=None, kind=None, gateway=None,
        location=None, attributes={"population": 100}, relationships={}, status={},
    )  # fmt: skip

    assert ngsi.to_ngsi(district, context=False) == {
        "id": "urn:ngsi-ld:District:d",
        "type": "District",
        "name": {"type": "Property", "value": "sim-aq-0001"},
        "category": {"type": "Property", "value": "goods_and_equipment"},
        "population": {"type": "Property", "value": 100},
    }


@pytest.mark.parametrize(
    "entity",
    [sensor(), sensor(relationships={"a": ("urn:x:1", "urn:x:2")}), sensor(location=None)],
)
def test_the_documented_schema_holds_what_the_view_makes(entity: Entity) -> None:
    form = ngsi.to_ngsi(entity)

    parsed = NgsiEntity.model_validate(form)

    assert parsed.model_dump(by_alias=True, exclude_none=True) == form


@pytest.mark.parametrize(
    ("kind", "metric", "unit", "code"),
    [
        ("air_quality", "pm25", "ug/m3", "GQ"),  # microgram per cubic metre
        ("air_quality", "co", "mg/m3", "GP"),  # milligram per cubic metre
        ("weather", "temperature", "degC", "CEL"),  # degree Celsius
        ("traffic_flow", "averageVehicleSpeed", "km/h", "KMH"),
        ("noise", "LAeq", "dB(A)", "2N"),  # decibel
        ("weather", "relativeHumidity", "fraction", "C62"),  # one
        ("water_quality", "pH", "pH", "Q30"),
        ("weather", "atmosphericPressure", "hPa", "A97"),
        ("weather", "windDirection", "deg", "DD"),
        ("energy_meter", "activePower", "kW", "KWT"),
        ("air_quality", "batteryLevel", "fraction", "C62"),  # a device metric of any kind
        ("traffic_flow", "intensity", "vehicles/h", None),  # no code in Recommendation 20
        (None, "pm25", "ug/m3", "GQ"),  # no kind: by the unit alone
        ("newKind", "x", "km/h", "KMH"),
        (None, "x", "furlongs", None),
        (None, "x", None, None),
    ],
)
def test_unit_codes(kind: str | None, metric: str, unit: str | None, code: str | None) -> None:
    assert ngsi.unit_code(kind, metric, unit) == code


@pytest.mark.parametrize(
    ("epoch", "text"),
    [(0.0, "1970-01-01T00:00:00.000Z"), (b.T0 + 0.25, "2023-11-14T22:13:20.250Z")],
)
def test_observed_at_is_iso_8601_utc(epoch: float, text: str) -> None:
    assert ngsi.observed_at(epoch) == text


# --- q ---------------------------------------------------------------------------------------

FORM = ngsi.to_ngsi(
    sensor(
        attributes={"floors": 10, "use": "retail", "bathing": True, "tags": ["a", "b"]},
        relationships={"connectsTo": ("urn:r:1", "urn:r:2")},
    )
)


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ("pm25", True),
        ("missing", False),
        ("location", False),  # the geometry is not an attribute of q
        ("pm25==40", True),
        ("pm25==40.0", True),
        ("pm25!=40", False),
        ("pm25>39.5", True),
        ("pm25>40", False),
        ("pm25>=40", True),
        ("pm25<4e1", False),
        ("pm25<=40", True),
        ("floors>-1", True),
        ('use=="retail"', True),
        ('use!="retail"', False),
        ('use>"q"', True),  # strings order as strings
        ("use==1", False),  # a string never equals a number
        ("use!=1", True),
        ("bathing==true", True),
        ("bathing==false", False),
        ("bathing==1", False),  # nor a boolean a number
        ('tags=="b"', True),  # any element of a list
        ('tags!="b"', False),
        ('locatedIn=="urn:ngsi-ld:District:district-01"', False),  # replaced by connectsTo
        ('connectsTo=="urn:r:2"', True),  # any instance of a multi-attribute
        ('name=="sim-aq-0001";pm25>30', True),
        ('name=="sim-aq-0001";pm25>50', False),
        ('name=="a;b"', False),  # a ; in quotes does not split
        ('name=="sim-aq-\\u0030001"', True),  # JSON escapes in strings
    ],
)
def test_q_terms(q: str, matches: bool) -> None:
    assert ngsi.parse_q(q).matches(FORM) is matches


def test_q_parses_into_conditions() -> None:
    assert ngsi.parse_q('a;b>=2;c=="x";d!=false') == ngsi.Query(
        (
            ngsi.Condition("a"),
            ngsi.Condition("b", ">=", 2.0),
            ngsi.Condition("c", "==", "x"),
            ngsi.Condition("d", "!=", False),
        )
    )


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "expected an attribute name at position 0"),
        ("a;", "expected an attribute name at position 2"),
        (";a", "expected an attribute name at position 0"),
        ("1a==2", "expected an attribute name"),
        ("a==", "'' is not a number"),
        ("a==b", "'b' is not a number, true, false or a \"quoted string\""),
        ("a==nan", "'nan' is not a number"),
        ("a==1e999", "'1e999' is not a number"),
        ("a==1..5", "ranges (a..b) and lists (a,b) are not supported"),
        ("a==1,2", "ranges (a..b) and lists (a,b) are not supported"),
        ("a>true", "true and false compare only with == and !="),
        ("a==1|b==2", "OR (|) is not supported"),
        ("(a==1)", "expected an attribute name"),
        ("a==(1)", "parentheses are not supported"),
        ("a.b==1", "sub-attributes (a.b) are not supported"),
        ("a[b]==1", "compound values (a[b]) are not supported"),
        ('a~="x.*"', "patterns (~=) are not supported"),
        ('a!~="x"', "patterns (!~=) are not supported"),
        ('a=="x', "unexpected '\"'"),
        ('a=="\\x"', "is not a well-formed JSON string"),
        ("a = 1", "unexpected ' '"),
        ("a===1", "'=1' is not a number"),
    ],
)
def test_malformed_q_is_refused_with_what_is_wrong(q: str, message: str) -> None:
    with pytest.raises(ngsi.QueryError, match=r"^q: ") as refused:
        ngsi.parse_q(q)

    assert message in str(refused.value)


# --- georel ----------------------------------------------------------------------------------

SQUARE = "[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,2],[2,2],[2,1],[1,1]]]"  # with a hole


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "expected"),
    [
        (None, None, None, None),
        ("near;maxDistance==200", "Point", "[-3.8, 43.4]", Near(-3.8, 43.4, 200.0)),
        ("near;maxDistance==0.5", "Point", "[0,0]", Near(0.0, 0.0, 0.5)),
        ("near;maxDistance==50000", "Point", "[180,-90]", Near(180.0, -90.0, 50_000.0)),
    ],
)
def test_near_is_parsed(
    georel: str | None, geometry: str | None, coordinates: str | None, expected: Near | None
) -> None:
    assert ngsi.parse_geo(georel, geometry, coordinates, None) == expected


def test_within_is_parsed_with_its_bounds() -> None:
    within = ngsi.parse_geo("within", "Polygon", SQUARE, "location")

    assert isinstance(within, ngsi.Within)
    assert (within.box.min_lon, within.box.min_lat, within.box.max_lon, within.box.max_lat) == (
        0.0,
        0.0,
        4.0,
        4.0,
    )
    assert len(within.rings) == 2


@pytest.mark.parametrize(
    ("location", "inside"),
    [
        ({"type": "Point", "coordinates": [3, 3]}, True),
        ({"type": "Point", "coordinates": [1.5, 1.5]}, False),  # in the hole
        ({"type": "Point", "coordinates": [5, 3]}, False),
        ({"type": "LineString", "coordinates": [[0.5, 0.5], [3.5, 0.5]]}, True),
        ({"type": "LineString", "coordinates": [[0.5, 0.5], [4.5, 0.5]]}, False),
        ({"type": "Polygon", "coordinates": [[[3, 3], [3.5, 3], [3.5, 3.5], [3, 3]]]}, True),
        ({"type": "Point", "coordinates": []}, False),
        ({"type": "Point", "coordinates": "x"}, False),
        (None, False),
    ],
)
def test_within_holds_what_lies_inside(location: dict[str, Any] | None, inside: bool) -> None:
    within = ngsi.parse_geo("within", "Polygon", SQUARE, None)

    assert isinstance(within, ngsi.Within)
    assert within.contains(location) is inside


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (("near;maxDistance==10", None, None, None), "must be given together"),
        ((None, "Point", "[0,0]", None), "must be given together"),
        (("near;maxDistance==10", "Point", "[0,0]", "observationSpace"), "only location"),
        (("near", "Point", "[0,0]", None), "near needs maxDistance"),
        (("near;minDistance==10", "Point", "[0,0]", None), "minDistance is not supported"),
        (("near;maxDistance==10;maxDistance==5", "Point", "[0,0]", None), "given twice"),
        (("near;maxDistance=10", "Point", "[0,0]", None), "is not maxDistance=="),
        (("near;maxDistance==0", "Point", "[0,0]", None), "(0, 50000]"),
        (("near;maxDistance==50001", "Point", "[0,0]", None), "(0, 50000]"),
        (("near;maxDistance==ten", "Point", "[0,0]", None), "(0, 50000]"),
        (("near;maxDistance==10", "Polygon", "[0,0]", None), "near needs a Point"),
        (("near;maxDistance==10", "Point", "[0]", None), "a Point is [lon, lat]"),
        (("near;maxDistance==10", "Point", "[0,0,0]", None), "a Point is [lon, lat]"),
        (("near;maxDistance==10", "Point", "[200,0]", None), "outside"),
        (("near;maxDistance==10", "Point", "[NaN,0]", None), "not a JSON array"),
        (("near;maxDistance==10", "Point", "0,0", None), "not a JSON array"),
        (("near;maxDistance==10", "Point", "[" * 5000 + "]" * 5000, None), "coordinates: "),
        (("within", "Point", "[0,0]", None), "within needs a Polygon"),
        (("within;maxDistance==1", "Polygon", SQUARE, None), "within takes no modifiers"),
        (("within", "Polygon", "[[[0,0],[1,0],[0,0]]]", None), "closed, of 4+"),
        (("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", None), "closed, of 4+"),
        (("within", "Polygon", "[]", None), "not a Polygon's rings"),
        (("within", "Polygon", '[["a"]]', None), "not a Polygon's rings"),
        (("intersects", "Polygon", SQUARE, None), "'intersects' is not supported"),
    ],
)
def test_malformed_geo_queries_are_refused(
    params: tuple[str | None, str | None, str | None, str | None], message: str
) -> None:
    with pytest.raises(ngsi.QueryError) as refused:
        ngsi.parse_geo(*params)

    assert message in str(refused.value)


# --- Over HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(
    tmp_path_factory: pytest.TempPathFactory,
    backend: object,  # one server per storage backend (tests/cloud/conftest.py)
) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A viewer's client of a seeded city in which three sensors have reported."""
    root = tmp_path_factory.mktemp("ngsi")
    data = write_city(root / "city.geojson", sensors=10)
    with CloudServer(root / "c.db", secure=True, city=root / "city.geojson") as server:
        records: list[Record] = [
            b.summary(1, "sim-aq-0001", last_value=40.0),
            b.summary(2, "aq-new", last_value=12.5),
            b.summary(3, "sim-pk-0006", kind="parking", metric="occupancy", last_value=0.25),
        ]
        with httpx.Client(base_url=server.url, timeout=10) as gateway:
            sent = ingest(gateway, b.body(records), token=server.enroll("gw-01"))
        assert sent.status_code == 200, sent.text
        headers = server.auth(server.create_key("viewer"))
        with httpx.Client(base_url=server.url, timeout=10, headers=headers) as http:
            yield http, data


@pytest.fixture
def http(city: tuple[httpx.Client, dict[str, Any]]) -> httpx.Client:
    return city[0]


@pytest.fixture
def features(city: tuple[httpx.Client, dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = city[1]["features"]
    return found


def listed(http: httpx.Client, **params: Any) -> list[str]:
    response = http.get("/ngsi-ld/v1/entities", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    return [entity["id"] for entity in response.json()]


def test_one_entity_as_json_ld(http: httpx.Client) -> None:
    response = http.get(f"/ngsi-ld/v1/entities/{AQ1}")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    entity = response.json()
    assert entity["@context"] == ngsi.CONTEXT
    assert entity["type"] == "AirQualityObserved"
    assert entity["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": list(AQ1_AT)},
    }
    assert entity["pm25"] == {
        "type": "Property",
        "value": 40.0,
        "observedAt": ngsi.observed_at(b.T0 + 50),
        "unitCode": "GQ",
    }
    assert entity["locatedIn"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:District:district-01",
    }
    NgsiEntity.model_validate(entity)


def test_plain_json_carries_the_context_in_a_link_header(http: httpx.Client) -> None:
    response = http.get(f"/ngsi-ld/v1/entities/{AQ1}", headers={"Accept": "application/json"})

    assert response.headers["content-type"] == "application/json"
    assert response.headers["link"] == LINK
    assert "@context" not in response.json()
    assert response.json()["id"] == AQ1


@pytest.mark.parametrize(
    "accept", ["application/ld+json", "*/*", "application/json, application/ld+json;q=0.9"]
)
def test_json_ld_unless_only_json_is_asked_for(http: httpx.Client, accept: str) -> None:
    response = http.get(f"/ngsi-ld/v1/entities/{AQ1}", headers={"Accept": accept})

    assert response.headers["content-type"] == "application/ld+json"
    assert response.json()["@context"] == ngsi.CONTEXT


@pytest.mark.parametrize(
    ("entity_id", "status", "kind"),
    [
        ("urn:ngsi-ld:AirQualityObserved:nope", 404, "ResourceNotFound"),
        ("not-a-uri", 400, "BadRequestData"),
    ],
)
def test_an_unknown_or_malformed_id_is_a_problem(
    http: httpx.Client, entity_id: str, status: int, kind: str
) -> None:
    response = http.get(f"/ngsi-ld/v1/entities/{entity_id}")

    assert response.status_code == status
    problem = ProblemDetails.model_validate(response.json())
    assert problem.type == f"https://uri.etsi.org/ngsi-ld/errors/{kind}"
    assert problem.status == status
    assert entity_id in problem.detail


def test_entities_of_a_type(http: httpx.Client, features: list[dict[str, Any]]) -> None:
    districts = sorted(f["id"] for f in features if f["properties"]["type"] == "District")

    assert listed(http, type="District") == districts
    assert listed(http, type="AirQualityObserved,OffStreetParking") == sorted(
        [AQ_NEW, *(f["id"] for f in features if f["properties"]["type"] in
                   ("AirQualityObserved", "OffStreetParking"))]
    )  # fmt: skip
    assert listed(http, type="Nothing") == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("pm25>30", [AQ1]),
        ("pm25<30", [AQ_NEW]),
        ("pm25", [AQ_NEW, AQ1]),
        ("occupancy<=0.25", [PK6]),
        ('gatewayId=="gw-01";pm25>=12.5', [AQ_NEW, AQ1]),
        ('mountedOn=="urn:ngsi-ld:Streetlight:streetlight-066"', [AQ1]),
    ],
)
def test_q_on_live_metrics_and_relationships(
    http: httpx.Client, q: str, expected: list[str]
) -> None:
    assert listed(http, q=q) == expected


def test_q_on_static_attributes(http: httpx.Client, features: list[dict[str, Any]]) -> None:
    big = sorted(
        f["id"]
        for f in features
        if f["properties"]["type"] == "District"
        and f["properties"]["attributes"]["population"] > 30_000
    )
    bathing = sorted(
        f["id"] for f in features if f["properties"]["attributes"].get("bathing") is True
    )

    assert big
    assert listed(http, type="District", q="population>30000") == big
    assert bathing
    assert listed(http, q="bathing==true") == bathing


def test_a_page_after_q_with_the_count(http: httpx.Client) -> None:
    response = http.get(
        "/ngsi-ld/v1/entities", params={"q": "pm25", "limit": 1, "offset": 1, "count": "true"}
    )

    assert [e["id"] for e in response.json()] == [AQ1]
    assert response.headers[COUNT_HEADER] == "2"


def test_a_page_without_q_with_the_count(http: httpx.Client) -> None:
    response = http.get(
        "/ngsi-ld/v1/entities", params={"type": "District", "limit": 2, "count": "true"}
    )

    assert len(response.json()) == 2
    assert int(response.headers[COUNT_HEADER]) == len(listed(http, type="District"))
    assert COUNT_HEADER not in http.get("/ngsi-ld/v1/entities").headers


def test_near_lists_the_nearest_first_as_the_entity_listing_does(http: httpx.Client) -> None:
    point = f"[{AQ1_AT[0]},{AQ1_AT[1]}]"
    near = {"georel": "near;maxDistance==800", "geometry": "Point", "coordinates": point}
    ours = http.get(
        "/api/v1/entities",
        params={"near": f"{AQ1_AT[0]},{AQ1_AT[1]}", "max_distance": 800, "limit": 1000},
    ).json()["items"]

    found = listed(http, **near)

    assert found[0] == AQ1
    assert len(found) > 1
    assert found == [item["id"] for item in ours]
    assert listed(http, **near, type="AirQualityObserved") == [AQ1]
    assert listed(http, **near, q="pm25>30") == [AQ1]


def test_within_a_polygon_is_exact_where_its_bounds_are_not(http: httpx.Client) -> None:
    lon, lat = AQ1_AT
    # Two right triangles with the same bounds around the sensor: only one holds it.
    holds = [[lon - 1e-3, lat - 1e-3], [lon + 2e-3, lat - 1e-3], [lon - 1e-3, lat + 2e-3]]
    misses = [[lon - 2e-3, lat - 2e-3], [lon + 1e-3, lat - 2e-3], [lon - 2e-3, lat + 1e-3]]

    def within(triangle: list[list[float]]) -> list[str]:
        ring = [*triangle, triangle[0]]
        return listed(http, georel="within", geometry="Polygon", coordinates=str([ring]))

    box = f"{lon - 2e-3},{lat - 2e-3},{lon + 1e-3},{lat + 1e-3}"
    in_bounds = http.get("/api/v1/entities", params={"bbox": box}).json()["items"]

    assert AQ1 in within(holds)
    assert AQ1 in [item["id"] for item in in_bounds]
    assert AQ1 not in within(misses)


def test_within_a_district_holds_the_points_inside_it(
    http: httpx.Client, features: list[dict[str, Any]]
) -> None:
    district = next(f for f in features if f["id"] == "urn:ngsi-ld:District:district-01")
    ring = district["geometry"]["coordinates"]

    found = listed(
        http, georel="within", geometry="Polygon", coordinates=str(ring), type="Streetlight"
    )

    assert found
    # Streetlights name the district they are in: every one found says district-01.
    located = [f["properties"]["relationships"]["locatedIn"] for f in features if f["id"] in found]
    assert set(located) == {"urn:ngsi-ld:District:district-01"}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"q": "pm25>"}, "q: '' is not a number"),
        ({"q": "a|b"}, "OR (|) is not supported"),
        ({"type": "A,,B"}, "empty type name"),
        ({"georel": "near"}, "must be given together"),
        ({"georel": "near", "geometry": "Point", "coordinates": "[0,0]"}, "maxDistance"),
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"offset": "x"}, "offset: Input should be a valid integer"),
        ({"count": "maybe"}, "count: Input should be a valid boolean"),
    ],
)
def test_malformed_parameters_are_bad_request_data(
    http: httpx.Client, params: dict[str, Any], detail: str
) -> None:
    response = http.get("/ngsi-ld/v1/entities", params=params)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    problem = ProblemDetails.model_validate(response.json())
    assert problem.type == BAD_REQUEST
    assert detail in problem.detail


def test_a_query_that_reads_too_many_entities_is_refused(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small scan in place of SCAN_LIMIT, so a few hundred entities exceed it.
    monkeypatch.setattr(ngsi_router, "SCAN_LIMIT", 200)
    monkeypatch.setattr(ngsi_router, "_SCAN_PAGE", 100)

    refused = http.get("/ngsi-ld/v1/entities", params={"q": "pm25"})
    narrowed = http.get("/ngsi-ld/v1/entities", params={"q": "pm25", "type": "District"})

    assert refused.status_code == 403
    assert ProblemDetails.model_validate(refused.json()).type.endswith("/TooManyResults")
    assert narrowed.status_code == 200
    assert narrowed.json() == []
