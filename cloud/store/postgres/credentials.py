"""API keys, gateway enrollments and gateway tokens on PostgreSQL: digests only, never secrets.

As in cloud/store/credentials.py. Spending a code is one conditional ``UPDATE ... RETURNING``:
a second exchange of the same code, in this process or another, waits for the row lock, then
finds it used and gets no row.
"""

from __future__ import annotations

import json
from typing import Any

from cloud.credentials import ApiKey, Enrollment, GatewayToken, Role
from cloud.store.base import Page
from cloud.store.postgres.db import Conn, fetch_all, fetch_one

_KEY_COLUMNS = "id, name, role, departments, digest, created_at, revoked_at"
_TOKEN_COLUMNS = "id, gateway, digest, created_at, revoked_at"  # noqa: S105  (column names)
_ENROLLMENT_COLUMNS = "gateway, digest, created_at, expires_at, used_at"
_REGISTER = f"""INSERT INTO enrollments ({_ENROLLMENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (gateway) DO UPDATE SET digest = excluded.digest,
    created_at = excluded.created_at, expires_at = excluded.expires_at,
    used_at = excluded.used_at"""  # noqa: S608
_SPEND = """UPDATE enrollments SET used_at = %s WHERE gateway = %s AND digest = %s
    AND used_at IS NULL AND expires_at > %s RETURNING gateway"""


async def add_key(conn: Conn, key: ApiKey) -> None:
    """Store a new API key."""
    await conn.execute(
        f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
        (key.id, key.name, str(key.role), json.dumps(key.departments), key.digest,
         key.created_at, key.revoked_at),
    )  # fmt: skip


async def key(conn: Conn, key_id: str) -> ApiKey | None:
    """One API key, revoked or not, or None."""
    row = await fetch_one(conn, f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,))  # noqa: S608
    return None if row is None else _key(row)


async def keys(conn: Conn, limit: int, offset: int) -> Page[ApiKey]:
    """API keys, the newest first."""
    total = await fetch_one(conn, "SELECT count(*) FROM api_keys")
    rows = await fetch_all(
        conn,
        f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id LIMIT %s OFFSET %s",  # noqa: S608
        (limit, offset),
    )
    return Page(tuple(_key(row) for row in rows), total[0])


async def revoke_key(conn: Conn, key_id: str, at: float) -> ApiKey | None:
    """Revoke a key (a second revocation keeps the first time); None if there is no such key."""
    row = await fetch_one(
        conn,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s "  # noqa: S608
        f"RETURNING {_KEY_COLUMNS}",
        (at, key_id),
    )
    return None if row is None else _key(row)


async def register(conn: Conn, enrollment: Enrollment) -> None:
    """Store a gateway's new code, replacing any earlier one, used or not."""
    await conn.execute(
        _REGISTER,
        (enrollment.gateway, enrollment.digest, enrollment.created_at, enrollment.expires_at,
         enrollment.used_at),
    )  # fmt: skip


async def enrollment(conn: Conn, gateway: str) -> Enrollment | None:
    """The gateway's newest code, or None if it was never registered."""
    row = await fetch_one(
        conn,
        f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE gateway = %s",  # noqa: S608
        (gateway,),
    )
    return None if row is None else Enrollment(*row)


async def redeem(conn: Conn, code_digest: str, token: GatewayToken, at: float) -> bool:
    """Use the gateway's code once, if unused and unexpired; its new token replaces the old."""
    used = await fetch_one(conn, _SPEND, (at, token.gateway, code_digest, at))
    if used is None:
        return False
    await _revoke_tokens(conn, token.gateway, at)
    await conn.execute(
        f"INSERT INTO gateway_tokens ({_TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
        (token.id, token.gateway, token.digest, token.created_at, token.revoked_at),
    )
    return True


async def gateway_token(conn: Conn, token_id: str) -> GatewayToken | None:
    """One gateway token, revoked or not, or None."""
    row = await fetch_one(
        conn,
        f"SELECT {_TOKEN_COLUMNS} FROM gateway_tokens WHERE id = %s",  # noqa: S608
        (token_id,),
    )
    return None if row is None else GatewayToken(*row)


async def revoke_gateway(conn: Conn, gateway: str, at: float) -> int | None:
    """Revoke the gateway's tokens and void its unused code; the tokens revoked, None if unknown."""
    known = await fetch_one(
        conn,
        "SELECT 1 FROM enrollments WHERE gateway = %s UNION ALL "
        "SELECT 1 FROM gateway_tokens WHERE gateway = %s LIMIT 1",
        (gateway, gateway),
    )
    if known is None:
        return None
    await conn.execute(
        "UPDATE enrollments SET expires_at = least(expires_at, %s) "
        "WHERE gateway = %s AND used_at IS NULL",
        (at, gateway),
    )
    return await _revoke_tokens(conn, gateway, at)


async def has_credentials(conn: Conn) -> bool:
    """Whether any API key or gateway registration was ever stored (revoked ones count)."""
    found = await fetch_one(
        conn, "SELECT EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM enrollments)"
    )
    return bool(found[0])


async def _revoke_tokens(conn: Conn, gateway: str, at: float) -> int:
    cursor = await conn.execute(
        "UPDATE gateway_tokens SET revoked_at = %s WHERE gateway = %s AND revoked_at IS NULL",
        (at, gateway),
    )
    return cursor.rowcount


def _key(row: Any) -> ApiKey:
    id_, name, role, departments, digest, created_at, revoked_at = row
    return ApiKey(
        id_, name, Role(role), tuple(json.loads(departments)), digest, created_at, revoked_at
    )
