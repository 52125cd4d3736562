"""Each role can do exactly what it should and no more: every route x every caller, over HTTP.

One aggregator (auth required, a seeded city) serves the whole table. Every case that should
be allowed gets fresh resources of its own (an incident, a key, a gateway), so no case depends
on another's side effects. A route added to the app must be added to ROUTES: the OpenAPI test
below fails until it is, and checks the document states the same roles as this table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

ENVIRONMENT = "urn:ngsi-ld:Department:dept-environment"
AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"  # routed to dept-environment
CALLERS = ("nobody", "gateway", "viewer", "operator", "other_operator", "admin")
_serial = itertools.count(1)


@dataclass
class World:
    """The server, a credential per caller, and makers of fresh resources."""

    server: CloudServer
    http: httpx.Client
    credentials: dict[str, str | None]

    def incident(self) -> int:
        """A new open incident of dept-environment (a cause of its own, so never joined)."""
        n = next(_serial)
        alert = b.alert(n, "sim-aq-0001", metric=f"m{n}")
        sent = ingest(self.http, b.body([alert]), token=self.credentials["gateway"])
        assert sent.status_code == 200, sent.text
        found = self.http.get(
            "/api/v1/incidents",
            params={"entity": AQ1, "limit": 1},
            headers=self.server.auth(),
        ).json()["items"][0]
        assert found["cause"] == f"anomaly:m{n}"
        incident: int = found["id"]
        return incident

    def key_id(self) -> str:
        """The id of a new viewer key."""
        created = self.http.post(
            "/api/v1/keys", json={"name": "spare", "role": "viewer"}, headers=self.server.auth()
        )
        key_id: str = created.json()["id"]
        return key_id

    def gateway(self) -> str:
        """A newly registered gateway."""
        gateway = f"gw-new-{next(_serial)}"
        registered = self.http.post(
            "/api/v1/gateways", json={"gateway": gateway}, headers=self.server.auth()
        )
        assert registered.status_code == 201, registered.text
        return gateway


@dataclass(frozen=True)
class Route:
    """A route, how to call it with fresh resources, and the callers allowed."""

    method: str
    path: str
    allowed: frozenset[str]
    call: Callable[[World], tuple[str, dict[str, Any]]]
    stream: bool = False  # an endless response: only its status is read


READERS = frozenset({"viewer", "operator", "other_operator", "admin"})
ACTORS = frozenset({"operator", "admin"})  # on an incident of the operator's department
ADMINS = frozenset({"admin"})
EVERYONE = frozenset(CALLERS)


def _get(path: str) -> Callable[[World], tuple[str, dict[str, Any]]]:
    return lambda _: (path, {})


def _on_incident(
    action: str, body: dict[str, Any]
) -> Callable[[World], tuple[str, dict[str, Any]]]:
    return lambda world: (f"/api/v1/incidents/{world.incident()}/{action}", {"json": body})


def _ingest(_: World) -> tuple[str, dict[str, Any]]:
    batch = b.body([b.summary(next(_serial))], gateway="gw-01")
    return "/api/v1/ingest", {"content": batch, "headers": {"Content-Encoding": "gzip"}}


ROUTES = (
    Route("get", "/healthz", EVERYONE, _get("/healthz")),
    Route("get", "/openapi.json", EVERYONE, _get("/openapi.json")),
    Route("post", "/api/v1/ingest", frozenset({"gateway"}), _ingest),
    Route("get", "/api/v1/entities", READERS, _get("/api/v1/entities")),
    Route("get", "/api/v1/entities/{entity_id}", READERS, _get(f"/api/v1/entities/{AQ1}")),
    Route(
        "get",
        "/api/v1/entities/{entity_id}/history",
        READERS,
        _get(f"/api/v1/entities/{AQ1}/history?metric=pm25"),
    ),
    Route("get", "/api/v1/incidents", READERS, _get("/api/v1/incidents")),
    Route(
        "get",
        "/api/v1/incidents/{incident_id}",
        READERS,
        lambda world: (f"/api/v1/incidents/{world.incident()}", {}),
    ),
    Route(
        "post",
        "/api/v1/incidents/{incident_id}/acknowledge",
        ACTORS,
        _on_incident("acknowledge", {"by": "ana"}),
    ),
    Route(
        "post",
        "/api/v1/incidents/{incident_id}/resolve",
        ACTORS,
        _on_incident("resolve", {"by": "ana"}),
    ),
    Route(
        "post",
        "/api/v1/incidents/{incident_id}/assign",
        ACTORS,
        _on_incident("assign", {"by": "ana", "assignee": "luis"}),
    ),
    Route(
        "post",
        "/api/v1/incidents/{incident_id}/comments",
        ACTORS,
        _on_incident("comments", {"by": "ana", "text": "on it"}),
    ),
    Route("get", "/api/v1/gateways", READERS, _get("/api/v1/gateways")),
    Route(
        "post",
        "/api/v1/gateways",
        ADMINS,
        lambda _: ("/api/v1/gateways", {"json": {"gateway": f"gw-r-{next(_serial)}"}}),
    ),
    Route(
        "post",
        "/api/v1/gateways/{gateway_id}/revoke",
        ADMINS,
        lambda world: (f"/api/v1/gateways/{world.gateway()}/revoke", {}),
    ),
    Route(
        "post",
        "/api/v1/keys",
        ADMINS,
        lambda _: ("/api/v1/keys", {"json": {"name": "x", "role": "viewer"}}),
    ),
    Route("get", "/api/v1/keys", ADMINS, _get("/api/v1/keys")),
    Route("get", "/api/v1/kpis", READERS, _get("/api/v1/kpis")),
    Route(
        "get",
        "/api/v1/districts/{district}/kpis",
        READERS,
        _get("/api/v1/districts/district-01/kpis"),
    ),
    Route("get", "/api/v1/stream", READERS, _get("/api/v1/stream"), stream=True),
    Route("get", "/api/v1/stream/stats", READERS, _get("/api/v1/stream/stats")),
    Route(
        "post",
        "/api/v1/keys/{key_id}/revoke",
        ADMINS,
        lambda world: (f"/api/v1/keys/{world.key_id()}/revoke", {}),
    ),
    # The NGSI-LD view reads the twin as the entity routes do.
    Route("get", "/ngsi-ld/v1/entities", READERS, _get("/ngsi-ld/v1/entities")),
    Route("get", "/ngsi-ld/v1/entities/{entity_id}", READERS, _get(f"/ngsi-ld/v1/entities/{AQ1}")),
    # Open data: public, and a credential (even a gateway's) changes nothing.
    Route("get", "/open/v1/districts", EVERYONE, _get("/open/v1/districts")),
    Route("get", "/open/v1/kpis", EVERYONE, _get("/open/v1/kpis")),
    Route("get", "/open/v1/bathing-water", EVERYONE, _get("/open/v1/bathing-water")),
    Route("get", "/open/v1/people", EVERYONE, _get("/open/v1/people")),
)
# Public, but a bad request by design: a wrong code is refused for everyone alike.
ENROLL = Route(
    "post",
    "/api/v1/enroll",
    frozenset(),
    lambda _: ("/api/v1/enroll", {"json": {"gateway": "gw-01", "code": "AAAA-BBBB-CCCC-DDDD"}}),
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    backend: object,  # one world per storage backend (tests/cloud/conftest.py)
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("roles")
    write_city(root / "city.geojson", sensors=10)
    with (
        CloudServer(root / "c.db", secure=True, city=root / "city.geojson") as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        credentials: dict[str, str | None] = {
            "nobody": None,
            "gateway": server.enroll("gw-01"),
            "viewer": server.create_key("viewer"),
            "operator": server.create_key("operator", "dept-environment"),
            "other_operator": server.create_key("operator", "dept-mobility"),
            "admin": server.create_key("admin"),
        }
        yield World(server, http, credentials)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_caller_can_do_exactly_what_its_role_allows(
    world: World, route: Route, caller: str
) -> None:
    path, options = route.call(world)
    token = world.credentials[caller]
    headers = {**options.pop("headers", {}), **({} if token is None else world.server.auth(token))}

    with world.http.stream(route.method, path, headers=headers, **options) as response:
        if not route.stream or not response.is_success:
            response.read()

    if caller in route.allowed:
        assert response.is_success, response.text
    elif caller == "nobody":
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert response.status_code == 403, response.text


@pytest.mark.parametrize("caller", CALLERS)
def test_enrollment_is_public_and_refuses_a_wrong_code_to_everyone(
    world: World, caller: str
) -> None:
    path, options = ENROLL.call(world)
    token = world.credentials[caller]
    headers = {} if token is None else world.server.auth(token)

    response = world.http.post(path, headers=headers, **options)

    assert response.status_code == 403
    assert "wrong, used or expired" in response.json()["detail"]


def test_the_openapi_document_states_each_routes_auth(world: World) -> None:
    spec = world.http.get("/openapi.json").json()
    roles = {"viewer": READERS, "operator": ACTORS, "admin": ADMINS}

    documented = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            [requirement] = operation.get("security", [{}])
            documented[method, path] = requirement
    expected = {}
    for route in (*ROUTES, ENROLL):
        if route.allowed == EVERYONE or route is ENROLL:
            expected[route.method, route.path] = {}
        elif route.allowed == {"gateway"}:
            expected[route.method, route.path] = {"GatewayToken": ["gateway"]}
        else:
            accepted = [r for r in ("viewer", "operator", "admin") if roles[r] <= route.allowed]
            expected[route.method, route.path] = {"ApiKey": accepted}
    del expected["get", "/openapi.json"]  # the document does not list itself
    assert documented == expected
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "GatewayToken"}
    for scheme in spec["components"]["securitySchemes"].values():
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_an_operator_acts_only_for_its_departments(world: World) -> None:
    incident = world.incident()
    url = f"/api/v1/incidents/{incident}/acknowledge"
    other = world.server.auth(world.credentials["other_operator"])

    refused = world.http.post(url, json={"by": "luis"}, headers=other)
    done = world.http.post(
        url, json={"by": "ana"}, headers=world.server.auth(world.credentials["operator"])
    )

    assert refused.status_code == 403
    assert refused.json()["detail"] == (f"key 'operator' may not act for department {ENVIRONMENT}")
    assert done.status_code == 200
    # The audit trail names the person and the key they acted with.
    assert done.json()["events"][-1]["actor"] == "ana (key operator)"
