"""Issued credentials: their shape, what is stored of them, and how codes are read back."""

from __future__ import annotations

import hashlib

import pytest

from cloud import credentials
from cloud.credentials import Kind


@pytest.mark.parametrize("kind", list(Kind))
def test_an_issued_token_is_found_by_its_id_and_stored_as_a_digest(kind: Kind) -> None:
    issued = credentials.issue(kind)

    assert credentials.parse(issued.token) == (kind, issued.id)
    assert issued.digest == hashlib.sha256(issued.token.encode()).hexdigest()
    assert credentials.matches(issued.token, issued.digest)
    assert not credentials.matches(issued.token + "x", issued.digest)
    assert issued.token != credentials.issue(kind).token


@pytest.mark.parametrize(
    "token",
    ["", "token-of-gateway-01-x", "ctk_short_x", "ctx_0123456789ab_" + "a" * 43],
    ids=["empty", "configured", "short", "unknown prefix"],
)
def test_other_tokens_are_not_issued_ones(token: str) -> None:
    assert credentials.parse(token) is None


def test_a_code_is_four_groups_of_unambiguous_characters() -> None:
    code = credentials.new_code()
    groups = code.split("-")

    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert not set("".join(groups)) & set("ILOU")


@pytest.mark.parametrize(
    "typed",
    ["7K2M-QX9D-R4TB-HW3N", "7k2mqx9dr4tbhw3n", "7K2M QX9D R4TB HW3N"],
    ids=["as printed", "lower case, no dashes", "spaces"],
)
def test_a_code_reads_the_same_however_it_is_typed(typed: str) -> None:
    assert credentials.code_digest(typed) == credentials.code_digest("7K2M-QX9D-R4TB-HW3N")


def test_lookalike_letters_read_as_digits() -> None:
    assert credentials.code_digest("O1I0-L000-0000-0000") == credentials.code_digest(
        "0110-1000-0000-0000"
    )
