"""What the aggregator hands out to callers, and the little it keeps of each: a SHA-256 digest.

    API key          ctk_<id>_<secret>      an operator's or a service's, bound to one role
    gateway token    ctg_<id>_<secret>      one gateway's, good for ingest only
    enrollment code  XXXX-XXXX-XXXX-XXXX    one-time and expiring, exchanged for a gateway token

The id is public: it names the credential in listings, logs and the audit trail, and finds
its row. The secret is 256 random bits, so a plain SHA-256 is enough to store (there is
nothing to brute-force, no need for a slow password hash), and digests are compared in
constant time. A code is shorter (80 bits) because a technician types it; it is bound to one
gateway, works once, and expires.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_ID_BYTES = 6
_SECRET_BYTES = 32
_TOKEN = re.compile(r"(ctk|ctg)_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Crockford's base32: no I, L, O or U, so a code read aloud or off a label is not misread.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS, _CODE_GROUP = 4, 4
_CODE_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class Role(enum.StrEnum):
    """What a caller may do: each role of an API key, and the gateways' own."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    GATEWAY = "gateway"


KEY_ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


class Kind(enum.StrEnum):
    """The two kinds of issued bearer credential, by their prefix."""

    KEY = "ctk"
    GATEWAY = "ctg"


@dataclass(frozen=True, slots=True)
class Issued:
    """A new credential: the token, shown once, and what is stored of it."""

    id: str
    token: str
    digest: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An operator's or a service's key as stored; ``departments`` bind an operator."""

    id: str
    name: str
    role: Role
    departments: tuple[str, ...]
    digest: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class GatewayToken:
    """A gateway's token as stored: issued at enrollment, revoked by an admin or a new one."""

    id: str
    gateway: str
    digest: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A gateway's registration: the digest of its one-time code, until when, and its use."""

    gateway: str
    digest: str
    created_at: float
    expires_at: float
    used_at: float | None = None


def digest(secret: str) -> str:
    """The hex SHA-256 of ``secret``, as stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time."""
    return matches_digest(digest(secret), stored)


def matches_digest(presented: str, stored: str) -> bool:
    """Whether two digests are equal, compared in constant time."""
    return hmac.compare_digest(presented, stored)


def issue(kind: Kind) -> Issued:
    """A new random credential of ``kind``."""
    id_ = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    token = f"{kind.value}_{id_}_{secret}"
    return Issued(id_, token, digest(token))


def parse(token: str) -> tuple[Kind, str] | None:
    """The kind and id of an issued token; None for anything else (e.g. a configured token)."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    return Kind(found[1]), found[2]


def new_code() -> str:
    """A random enrollment code, e.g. 7K2M-QX9D-R4TB-HW3N."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUPS * _CODE_GROUP))
    return "-".join(chars[i : i + _CODE_GROUP] for i in range(0, len(chars), _CODE_GROUP))


def code_digest(code: str) -> str:
    """The stored digest of a code, as typed: any case, dashes or spaces, O for 0, I or L for 1."""
    return digest(code.upper().translate(_CODE_LOOKALIKES))
