"""With tokens configured, only a gateway's own token can ingest that gateway's batches."""

from __future__ import annotations

import httpx
import pytest

from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, table_counts


def token(server: CloudServer, gateway: str) -> str:
    return server.settings.gateway_tokens[gateway]


def test_the_gateways_own_token_can_ingest(secured_server: CloudServer) -> None:
    with httpx.Client(base_url=secured_server.url) as http:
        response = ingest(http, b.body([b.summary(1)]), token=token(secured_server, "gw-01"))

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing bearer token (send Authorization: Bearer <token>)"),
        ({"Authorization": "Basic Z3ctMDE6eA=="}, "missing bearer token"),
        ({"Authorization": "Bearer not-a-token-we-know"}, "unknown bearer token"),
    ],
    ids=["no header", "not bearer", "unknown token"],
)
def test_without_a_known_token_ingest_is_refused(
    secured_server: CloudServer, headers: dict[str, str], detail: str
) -> None:
    with httpx.Client(base_url=secured_server.url) as http:
        response = http.post(
            "/api/v1/ingest",
            content=b.body([b.summary(1)]),
            headers={"Content-Encoding": "gzip", **headers},
        )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert detail in response.json()["detail"]
    assert set(table_counts(secured_server.settings.database).values()) == {0}


def test_a_token_cannot_ingest_for_another_gateway(secured_server: CloudServer) -> None:
    with httpx.Client(base_url=secured_server.url) as http:
        response = ingest(
            http, b.body([b.summary(1)], gateway="gw-01"), token=token(secured_server, "gw-02")
        )

    assert response.status_code == 403
    assert response.json() == {"detail": "this token belongs to gateway 'gw-02', not to 'gw-01'"}
    assert set(table_counts(secured_server.settings.database).values()) == {0}


def test_queries_stay_open(secured_server: CloudServer) -> None:
    # Reads are for the dashboard on the same host for now; operator auth comes with roles.
    with httpx.Client(base_url=secured_server.url) as http:
        assert http.get("/api/v1/entities").status_code == 200
        assert http.get("/api/v1/gateways").status_code == 200
