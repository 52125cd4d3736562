"""Gateways: registered by an admin, enrolled once with a code, revoked; the edge's exchange."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import httpx
import pytest

from cloud import credentials
from edge import enroll as edge_enroll
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest


def register(server: CloudServer, gateway: str, **body: object) -> dict[str, object]:
    response = httpx.post(
        f"{server.url}/api/v1/gateways", json={"gateway": gateway, **body}, headers=server.auth()
    )
    assert response.status_code == 201, response.text
    registered: dict[str, object] = response.json()
    return registered


def exchange(server: CloudServer, gateway: str, code: object) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/enroll", json={"gateway": gateway, "code": code})


def test_an_enrolled_gateway_ingests_its_own_batches_only(secured_server: CloudServer) -> None:
    token = secured_server.enroll("gw-07")

    with httpx.Client(base_url=secured_server.url) as http:
        own = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=token)
        other = ingest(http, b.body([b.summary(2)], gateway="gw-01"), token=token)

    assert own.status_code == 200, own.text
    assert other.status_code == 403
    assert token.startswith("ctg_")


def test_a_code_works_once(secured_server: CloudServer) -> None:
    code = register(secured_server, "gw-07")["code"]

    first = exchange(secured_server, "gw-07", code)
    second = exchange(secured_server, "gw-07", code)

    assert first.status_code == 200
    assert second.status_code == 403
    assert "wrong, used or expired" in second.json()["detail"]


def test_a_code_is_read_as_typed_in_any_case_without_dashes(secured_server: CloudServer) -> None:
    code = str(register(secured_server, "gw-07")["code"])

    response = exchange(secured_server, "gw-07", f" {code.lower().replace('-', ' ')} ")

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("gateway", ["gw-08", "gw-never"], ids=["another gateway", "unknown"])
def test_a_code_is_bound_to_its_gateway(secured_server: CloudServer, gateway: str) -> None:
    code = register(secured_server, "gw-07")["code"]
    register(secured_server, "gw-08")

    response = exchange(secured_server, gateway, code)

    assert response.status_code == 403


def test_an_expired_code_is_refused(secured_server: CloudServer) -> None:
    code = register(secured_server, "gw-07", expires_in_s=0.2)["code"]
    time.sleep(0.3)

    assert exchange(secured_server, "gw-07", code).status_code == 403


def test_enrolling_again_replaces_the_old_token(secured_server: CloudServer) -> None:
    old = secured_server.enroll("gw-07")
    new = secured_server.enroll("gw-07")

    with httpx.Client(base_url=secured_server.url) as http:
        refused = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=old)
        accepted = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=new)

    assert refused.status_code == 401
    assert refused.json() == {"detail": "this gateway token was revoked"}
    assert accepted.status_code == 200


def test_a_revoked_gateway_cannot_ingest_nor_use_its_code(secured_server: CloudServer) -> None:
    token = secured_server.enroll("gw-07")
    pending = register(secured_server, "gw-08")["code"]

    revoked = [
        httpx.post(
            f"{secured_server.url}/api/v1/gateways/{gw}/revoke", headers=secured_server.auth()
        )
        for gw in ("gw-07", "gw-08", "gw-never")
    ]
    with httpx.Client(base_url=secured_server.url) as http:
        sent = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=token)

    assert [r.status_code for r in revoked] == [200, 200, 404]
    assert revoked[0].json() == {"gateway": "gw-07", "tokens_revoked": 1}
    assert sent.status_code == 401
    assert exchange(secured_server, "gw-08", pending).status_code == 403


@pytest.mark.sqlite_only("dumps the SQLite file")
def test_only_digests_are_stored(secured_server: CloudServer) -> None:
    code = str(register(secured_server, "gw-07")["code"])
    token = exchange(secured_server, "gw-07", code).json()["token"]

    with sqlite3.connect(secured_server.settings.database) as db:
        dump = "\n".join(db.iterdump())

    assert code not in dump
    assert token not in dump
    assert credentials.digest(token) in dump
    assert credentials.code_digest(code) in dump


async def test_the_edge_exchanges_a_code_for_its_token(
    secured_server: CloudServer, tmp_path: Path
) -> None:
    code = str(register(secured_server, "gw-07")["code"])

    enrolled = await edge_enroll.exchange(secured_server.url, "gw-07", code)
    edge_enroll.save_token(tmp_path / "gw-07" / "cloud-token", enrolled.token)

    saved = tmp_path / "gw-07" / "cloud-token"
    assert enrolled.gateway == "gw-07"
    assert saved.read_text() == enrolled.token + "\n"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with httpx.Client(base_url=secured_server.url) as http:
        sent = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=enrolled.token)
    assert sent.status_code == 200


async def test_the_edge_reports_why_enrollment_failed(secured_server: CloudServer) -> None:
    with pytest.raises(edge_enroll.EnrollmentError, match=r"refused the enrollment \(403\)"):
        await edge_enroll.exchange(secured_server.url, "gw-07", "AAAA-BBBB-CCCC-DDDD")
    with pytest.raises(edge_enroll.EnrollmentError, match="cannot reach the cloud"):
        await edge_enroll.exchange("http://127.0.0.1:9", "gw-07", "AAAA", timeout_s=2)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, b'{"detail": "no good code"}', r"\(403\): no good code"),
        (422, b'{"detail": [{"msg": "x"}]}', r"\(422\): \{"),
        (502, b"<html>bad gateway</html>", r"\(502\): <html>bad gateway</html>"),
        (200, b'{"gateway": "gw-07"}', r"\(200\): \{"),
    ],
    ids=["refused", "validation", "a proxy's page", "no token"],
)
def test_a_reply_without_a_token_is_an_error_naming_the_reason(
    status: int, body: bytes, message: str
) -> None:
    with pytest.raises(edge_enroll.EnrollmentError, match=message):
        edge_enroll.parse_reply(status, body)


def test_a_good_reply_gives_the_token() -> None:
    reply = b'{"gateway": "gw-07", "token": "ctg_x"}'

    assert edge_enroll.parse_reply(200, reply) == edge_enroll.Enrolled("gw-07", "ctg_x")
    assert edge_enroll.request_body("gw-07", " abcd-efgh \n") == {
        "gateway": "gw-07",
        "code": "abcd-efgh",
    }
