"""Bad batches get a 4xx that says what is wrong, and write nothing at all."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, table_counts

LIMIT = 64 * 1024


def good() -> dict[str, Any]:
    """A valid batch as plain JSON data, to break one thing at a time."""
    data: dict[str, Any] = json.loads(b.body([b.summary(1), b.heartbeat(2)], compress=False))
    return data


def with_record(**changes: Any) -> bytes:
    data = good()
    data["records"][0] = {**data["records"][0], **changes}
    return gzip.compress(json.dumps(data).encode())


def without(field: str) -> bytes:
    data = good()
    del data["records"][0][field]
    return gzip.compress(json.dumps(data).encode())


def envelope(**changes: Any) -> bytes:
    return gzip.compress(json.dumps({**good(), **changes}).encode())


def zip_bomb() -> bytes:
    """A valid-looking batch that inflates far past the limit from a few kilobytes."""
    padding = " " * (LIMIT * 20)
    return gzip.compress(b'{"v": 1, ' + padding.encode() + b"}", compresslevel=9)


CASES = [
    ("not JSON", gzip.compress(b"{not json"), {}, 400, "body is not JSON"),
    ("not UTF-8", gzip.compress(b"\xff\xfe{}"), {}, 400, "body is not JSON"),
    ("empty body", b"", {"gzip": False}, 400, "body is not JSON"),
    ("not gzip", b'{"v": 1}', {}, 400, "not valid gzip"),
    ("truncated gzip", gzip.compress(b.body([b.summary(1)], compress=False))[:-12], {}, 400,
     "truncated"),
    ("wrong type", with_record(count="many"), {}, 422, "records.0.summary.count"),
    ("out of range", with_record(count=0), {}, 422, "records.0.summary.count"),
    ("missing field", without("metric"), {}, 422, "records.0.summary.metric: Field required"),
    ("unknown record type", with_record(type="reading"), {}, 422, "Input tag 'reading'"),
    ("bad sensor id", with_record(sensor="a b/c"), {}, 422, "records.0.summary.sensor"),
    ("unknown field", envelope(colour="red"), {}, 422, "colour: Extra inputs"),
    ("no records", envelope(records=[]), {}, 422, "records: List should have at least 1"),
    ("future protocol", envelope(v=2), {}, 422, "v: Input should be 1"),
    ("not an object", gzip.compress(b"[1, 2]"), {}, 422, "Input should be an object"),
    ("too large", b"x" * (LIMIT + 1), {"gzip": False}, 413, "over the 65536-byte limit"),
    ("zip bomb", zip_bomb(), {}, 413, "inflates to more than 65536 bytes"),
]  # fmt: skip


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[CloudServer]:
    """The aggregator with a 64 KiB body limit."""
    with CloudServer(tmp_path / "cloud.db", max_body_bytes=LIMIT) as server:
        yield server


@pytest.mark.parametrize(
    ("body", "options", "status", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_bad_batch_is_refused_with_a_reason_and_writes_nothing(
    small_server: CloudServer, body: bytes, options: dict[str, bool], status: int, message: str
) -> None:
    with httpx.Client(base_url=small_server.url) as http:
        response = ingest(http, body, **options)

        assert response.status_code == status, response.text
        assert message in response.json()["detail"]
        assert set(table_counts(small_server.settings.database).values()) == {0}
        assert ingest(http, b.body([b.summary(1)])).status_code == 200  # and it still works


def test_an_unsupported_content_encoding_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/ingest", content=b.body([b.summary(1)]), headers={"Content-Encoding": "br"}
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Content-Encoding 'br' is not supported (use gzip)"}


def test_one_bad_record_refuses_the_whole_batch(
    cloud_server: CloudServer, client: httpx.Client
) -> None:
    data = good()
    data["records"].append({**data["records"][0], "seq": 9, "count": -1})

    response = ingest(client, gzip.compress(json.dumps(data).encode()))

    assert response.status_code == 422
    assert "records.2.summary.count" in response.json()["detail"]
    assert set(table_counts(cloud_server.settings.database).values()) == {0}


def test_a_chunked_body_is_cut_off_at_the_limit(small_server: CloudServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x" * LIMIT
        yield b"x" * 10

    with httpx.Client(base_url=small_server.url) as http:
        response = http.post("/api/v1/ingest", content=chunks())

    assert response.status_code == 413
    assert response.json() == {"detail": "body is over the 65536-byte limit"}
