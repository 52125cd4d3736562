"""Body decoding: bounded gunzip and error messages that name the field."""

from __future__ import annotations

import gzip

import pytest

from cloud.decode import decode_batch, gunzip
from cloud.errors import BatchTooLarge, InvalidBatch, UnreadableBatch
from tests.support import batches as b


def test_gunzip_round_trips_up_to_the_limit() -> None:
    data = b"x" * 1000

    assert gunzip(gzip.compress(data), limit=1000) == data


def test_gunzip_stops_one_byte_past_the_limit() -> None:
    with pytest.raises(BatchTooLarge, match="more than 999 bytes"):
        gunzip(gzip.compress(b"x" * 1000), limit=999)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text", "not valid gzip"),
        (gzip.compress(b"x" * 100)[:-5], "truncated"),
        (gzip.compress(b"a") + gzip.compress(b"b"), "data follows"),
    ],
    ids=["not gzip", "truncated", "two members"],
)
def test_gunzip_refuses_broken_streams(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableBatch, match=message):
        gunzip(data, limit=10_000)


@pytest.mark.parametrize("encoding", [None, "identity", "gzip", "GZIP", "x-gzip"])
def test_known_encodings_decode(encoding: str | None) -> None:
    compress = encoding not in (None, "identity")
    body = b.body([b.summary(1)], compress=compress)

    assert decode_batch(body, encoding, 10_000) == b.batch([b.summary(1)])


def test_an_invalid_batch_names_up_to_three_fields() -> None:
    records = ",".join(f'{{"type":"gap","seq":{i},"start":-1,"end":0,"count":0}}' for i in range(5))
    body = f'{{"v":1,"gateway":"gw","sent_at":0,"records":[{records}]}}'.encode()

    with pytest.raises(InvalidBatch) as caught:
        decode_batch(body, None, 10_000)

    assert str(caught.value) == (
        "invalid batch: records.0.gap.start: Input should be greater than or equal to 0 (got -1); "
        "records.0.gap.reason: Field required; "
        "records.1.gap.start: Input should be greater than or equal to 0 (got -1) (+7 more)"
    )
