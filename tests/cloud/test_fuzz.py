"""A schema-driven fuzz of every operation in /openapi.json against the real aggregator.

Schemathesis reads the document the running app serves, generates requests from it (valid
ones and, in negative mode, ones that break it), sends them over HTTP and checks each answer:
no 5xx, a status code the document declares for the operation, the declared content type, and
a body that matches the declared schema.

The aggregator requires auth and holds a small seeded city with a few incidents, so generated
ids sometimes hit real entities and incidents. Each request carries the credential its
operation's security requirement names (the gateway's token for ingest, an API key for the
rest): the fuzz then exercises each route rather than its 401.

The live stream (GET /api/v1/stream) never ends, so a plain read of its body would never
return. It is fuzzed all the same, but bounded: schemathesis reads an event stream until the
request's read timeout passes in silence, and the stream is silent after its opening frame
while nothing changes, so each 200 costs a quarter of a second and is checked on that frame.

Deterministic (derandomized Hypothesis, no example database) and bounded: 25 examples per
operation and caller, about 20 s for the whole module on two cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud.app import create_app
from cloud.settings import CloudSettings
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STREAM = "/api/v1/stream"
TIMEOUT = 10.0
STREAM_TIMEOUT = (10.0, 0.25)  # (connect, read): the read half bounds the whole stream


class Fuzzed:
    """The server under fuzz and a credential for each security scheme of the document."""

    def __init__(self, server: CloudServer, key: str, gateway_token: str) -> None:
        self.server = server
        self.session = requests.Session()
        self.credentials = {"ApiKey": key, "GatewayToken": gateway_token}

    def headers(self, operation: APIOperation) -> dict[str, str]:
        """The Authorization header the operation's security requirement asks for, if any."""
        for scheme in _security(operation):
            return self.server.auth(self.credentials[scheme])
        return {}


def _security(operation: APIOperation) -> dict[str, list[str]]:
    """The operation's security requirement: its scheme and the roles it accepts."""
    requirements: list[dict[str, list[str]]] = operation.definition.raw.get("security", [{}])
    return requirements[0]


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory,
    backend: object,  # one server per storage backend (tests/cloud/conftest.py)
) -> Iterator[CloudServer]:
    root = tmp_path_factory.mktemp("fuzz")
    write_city(root / "city.geojson", sensors=10)
    # The open API's rate limit would answer most of its fuzz with 429 (declared, so it
    # conforms): a burst this large lets every generated request reach the route.
    with CloudServer(
        root / "c.db", secure=True, city=root / "city.geojson", open_burst=1_000_000
    ) as server:
        yield server


@pytest.fixture(scope="module")
def gateway_token(fuzz_server: CloudServer) -> str:
    token = fuzz_server.enroll("gw-01")
    # A few incidents, so the small ids the fuzz tries often name a real one.
    alerts = [b.alert(n, f"sim-aq-000{n}") for n in range(1, 4)]
    with httpx.Client(base_url=fuzz_server.url, timeout=10) as http:
        sent = ingest(http, b.body(alerts), token=token)
    assert sent.status_code == 200, sent.text
    return token


@pytest.fixture(scope="module")
def as_admin(fuzz_server: CloudServer, gateway_token: str) -> Fuzzed:
    return Fuzzed(fuzz_server, fuzz_server.admin_key, gateway_token)


@pytest.fixture(scope="module")
def as_viewer(fuzz_server: CloudServer, gateway_token: str) -> Fuzzed:
    return Fuzzed(fuzz_server, fuzz_server.create_key("viewer"), gateway_token)


@pytest.fixture(scope="module")
def api(fuzz_server: CloudServer) -> BaseSchema:
    """The document the running server serves, as schemathesis reads it."""
    # An explicit config, so no schemathesis.toml found up the tree changes the run.
    return schemathesis.openapi.from_url(
        f"{fuzz_server.url}/openapi.json", config=schemathesis.Config()
    )


def _operations() -> list[tuple[str, str]]:
    # Collection needs the operations before any server runs: the app builds its document
    # without opening anything. test_the_served_document_has_these_operations keeps it honest.
    spec = create_app(CloudSettings(database=Path("never-opened.db"))).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


OPERATIONS = _operations()
FUZZ = settings(
    max_examples=25,
    derandomize=True,  # the same requests every run: a failure here is a failure everywhere
    database=None,
    deadline=None,  # each example is a round trip to a server: timing is not the subject
    # Every request is an HTTP round trip, and negative mode rejects many drafts: both trip
    # health checks meant for fast, pure tests.
    suppress_health_check=list(HealthCheck),
)


def fuzz(operation: APIOperation, fuzzed: Fuzzed) -> Counter[int]:
    """Send valid and invalid requests of ``operation``, check every answer; count statuses."""
    cases = st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode))
    # The stream stays silent after its opening frame while nothing changes: a short read
    # timeout ends each response there (schemathesis keeps what came and marks it cut short).
    timeout = STREAM_TIMEOUT if operation.path == STREAM else TIMEOUT

    statuses: Counter[int] = Counter()

    @FUZZ
    @given(cases)
    def each(case: Case) -> None:
        response = case.call_and_validate(
            base_url=fuzzed.server.url,
            session=fuzzed.session,
            headers=fuzzed.headers(operation),
            checks=CHECKS,
            timeout=timeout,
        )
        statuses[response.status_code] += 1

    each()
    return statuses


def test_the_served_document_has_these_operations(api: BaseSchema) -> None:
    served = {(result.ok().method.upper(), result.ok().path) for result in api.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_as_admin(
    api: BaseSchema, as_admin: Fuzzed, method: str, path: str
) -> None:
    statuses = fuzz(api[path][method], as_admin)

    # The credentials opened every route: the fuzz reached past auth, not only its refusals.
    assert set(statuses) - {401, 403}, statuses


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_as_viewer(
    api: BaseSchema, as_viewer: Fuzzed, method: str, path: str
) -> None:
    operation = api[path][method]

    statuses = fuzz(operation, as_viewer)

    # Whatever the request, a viewer key never gets an operator's or admin's answer.
    roles = _security(operation).get("ApiKey", ["viewer"])
    if "viewer" not in roles:
        assert not [s for s in statuses if 200 <= s < 300], statuses
