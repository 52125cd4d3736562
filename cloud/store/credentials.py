"""API keys, gateway enrollments and gateway tokens in SQLite: digests only, never secrets.

Writes (``add_key``, ``revoke_key``, ``register``, ``redeem``, ``revoke_gateway``) run on the
writer thread, each in its transaction; the rest on a reader.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from cloud.credentials import ApiKey, Enrollment, GatewayToken, Role
from cloud.store.base import Page

_KEY_COLUMNS = "id, name, role, departments, digest, created_at, revoked_at"
_TOKEN_COLUMNS = "id, gateway, digest, created_at, revoked_at"  # noqa: S105  (column names)
_ENROLLMENT_COLUMNS = "gateway, digest, created_at, expires_at, used_at"


def add_key(conn: sqlite3.Connection, key: ApiKey) -> None:
    """Store a new API key."""
    conn.execute(
        f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (key.id, key.name, key.role, json.dumps(key.departments), key.digest, key.created_at,
         key.revoked_at),
    )  # fmt: skip


def key(conn: sqlite3.Connection, key_id: str) -> ApiKey | None:
    """One API key, revoked or not, or None."""
    row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()  # noqa: S608
    return None if row is None else _key(row)


def keys(conn: sqlite3.Connection, limit: int, offset: int) -> Page[ApiKey]:
    """API keys, the newest first."""
    (total,) = conn.execute("SELECT count(*) FROM api_keys").fetchone()
    rows = conn.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id LIMIT ? OFFSET ?",  # noqa: S608
        (limit, offset),
    )
    return Page(tuple(_key(row) for row in rows), total)


def revoke_key(conn: sqlite3.Connection, key_id: str, at: float) -> ApiKey | None:
    """Revoke a key (a second revocation keeps the first time); None if there is no such key."""
    conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", (at, key_id)
    )
    return key(conn, key_id)


def register(conn: sqlite3.Connection, enrollment: Enrollment) -> None:
    """Store a gateway's new code, replacing any earlier one, used or not."""
    conn.execute(
        f"INSERT OR REPLACE INTO enrollments ({_ENROLLMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
        (enrollment.gateway, enrollment.digest, enrollment.created_at, enrollment.expires_at,
         enrollment.used_at),
    )  # fmt: skip


def enrollment(conn: sqlite3.Connection, gateway: str) -> Enrollment | None:
    """The gateway's newest code, or None if it was never registered."""
    row = conn.execute(
        f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE gateway = ?",  # noqa: S608
        (gateway,),
    ).fetchone()
    return None if row is None else Enrollment(*row)


def redeem(conn: sqlite3.Connection, code_digest: str, token: GatewayToken, at: float) -> bool:
    """Use the gateway's code once, if unused and unexpired; its new token replaces the old."""
    # One statement checks and spends the code: two exchanges of one code cannot both win.
    used = conn.execute(
        "UPDATE enrollments SET used_at = ? WHERE gateway = ? AND digest = ? "
        "AND used_at IS NULL AND expires_at > ? RETURNING gateway",
        (at, token.gateway, code_digest, at),
    ).fetchone()
    if used is None:
        return False
    _revoke_tokens(conn, token.gateway, at)
    conn.execute(
        f"INSERT INTO gateway_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
        (token.id, token.gateway, token.digest, token.created_at, token.revoked_at),
    )
    return True


def gateway_token(conn: sqlite3.Connection, token_id: str) -> GatewayToken | None:
    """One gateway token, revoked or not, or None."""
    row = conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM gateway_tokens WHERE id = ?",  # noqa: S608
        (token_id,),
    ).fetchone()
    return None if row is None else GatewayToken(*row)


def revoke_gateway(conn: sqlite3.Connection, gateway: str, at: float) -> int | None:
    """Revoke the gateway's tokens and void its unused code; the tokens revoked, None if unknown."""
    known = conn.execute(
        "SELECT 1 FROM enrollments WHERE gateway = ? UNION ALL "
        "SELECT 1 FROM gateway_tokens WHERE gateway = ? LIMIT 1",
        (gateway, gateway),
    ).fetchone()
    if known is None:
        return None
    conn.execute(
        "UPDATE enrollments SET expires_at = min(expires_at, ?) "
        "WHERE gateway = ? AND used_at IS NULL",
        (at, gateway),
    )
    return _revoke_tokens(conn, gateway, at)


def has_credentials(conn: sqlite3.Connection) -> bool:
    """Whether any API key or gateway registration was ever stored (revoked ones count)."""
    found = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM enrollments)"
    ).fetchone()
    return bool(found[0])


def _revoke_tokens(conn: sqlite3.Connection, gateway: str, at: float) -> int:
    return conn.execute(
        "UPDATE gateway_tokens SET revoked_at = ? WHERE gateway = ? AND revoked_at IS NULL",
        (at, gateway),
    ).rowcount


def _key(row: Any) -> ApiKey:
    id_, name, role, departments, digest, created_at, revoked_at = row
    return ApiKey(
        id_, name, Role(role), tuple(json.loads(departments)), digest, created_at, revoked_at
    )
