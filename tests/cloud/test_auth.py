"""Configured gateway tokens, API keys and their revocation, and when auth is required."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from cloud.settings import AuthMode
from tests.cloud.conftest import TOKENS
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, query, table_counts


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


def test_reads_need_an_api_key_not_a_gateway_token(secured_server: CloudServer) -> None:
    with httpx.Client(base_url=secured_server.url) as http:
        anonymous = http.get("/api/v1/entities")
        gateway = http.get("/api/v1/entities", headers=secured_server.auth(TOKENS["gw-01"]))
        viewer = http.get(
            "/api/v1/entities", headers=secured_server.auth(secured_server.create_key("viewer"))
        )

    assert anonymous.status_code == 401
    assert gateway.status_code == 403
    assert gateway.json() == {"detail": "a gateway token can only ingest; reading needs an API key"}
    assert viewer.status_code == 200


def test_a_revoked_key_is_refused_at_once(secured_server: CloudServer) -> None:
    key = secured_server.create_key("viewer", name="kiosk")
    key_id = key.split("_")[1]
    with httpx.Client(base_url=secured_server.url, headers=secured_server.auth(key)) as http:
        before = http.get("/api/v1/entities")
        revoked = http.post(f"/api/v1/keys/{key_id}/revoke", headers=secured_server.auth())
        after = http.get("/api/v1/entities")

    assert before.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401
    assert after.json() == {"detail": "this key was revoked"}


def test_a_key_with_a_forged_secret_is_unknown(secured_server: CloudServer) -> None:
    key = secured_server.create_key("admin")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    response = httpx.get(f"{secured_server.url}/api/v1/keys", headers=secured_server.auth(forged))

    assert response.status_code == 401
    assert response.json() == {"detail": "unknown bearer token"}


def test_keys_are_listed_without_their_secrets(secured_server: CloudServer) -> None:
    key = secured_server.create_key("operator", "dept-mobility", name="ana")

    listed = httpx.get(f"{secured_server.url}/api/v1/keys", headers=secured_server.auth()).json()

    [ana] = listed["items"]
    assert key not in str(listed)
    assert (ana["name"], ana["role"], ana["departments"]) == (
        "ana",
        "operator",
        ["urn:ngsi-ld:Department:dept-mobility"],
    )
    digests = query(secured_server.settings.database, "SELECT digest FROM api_keys")
    assert [row[0] for row in digests] == [hashlib.sha256(key.encode()).hexdigest()]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "a", "role": "operator"}, "an operator key needs at least one department"),
        (
            {"name": "a", "role": "viewer", "departments": ["d"]},
            "a viewer key takes no departments",
        ),
        ({"name": "a", "role": "gateway"}, "Input should be 'viewer', 'operator' or 'admin'"),
    ],
    ids=["operator without departments", "viewer with departments", "not a key role"],
)
def test_a_key_that_makes_no_sense_is_refused(
    secured_server: CloudServer, body: dict[str, object], message: str
) -> None:
    response = httpx.post(
        f"{secured_server.url}/api/v1/keys", json=body, headers=secured_server.auth()
    )

    assert response.status_code == 422
    assert message in response.text


def test_auto_mode_is_open_until_a_credential_exists(tmp_path: Path) -> None:
    database = tmp_path / "c.db"
    with CloudServer(database, auth=AuthMode.AUTO) as fresh:
        open_read = httpx.get(f"{fresh.url}/api/v1/entities")
        created = httpx.post(
            f"{fresh.url}/api/v1/keys", json={"name": "first", "role": "admin"}
        ).json()

    with CloudServer(database, auth=AuthMode.AUTO) as restarted:
        closed = httpx.get(f"{restarted.url}/api/v1/entities")
        with_key = httpx.get(
            f"{restarted.url}/api/v1/entities", headers=restarted.auth(created["key"])
        )

    assert open_read.status_code == 200
    assert closed.status_code == 401
    assert with_key.status_code == 200
