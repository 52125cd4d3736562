"""Issuing credentials, for the CLI and the routes alike: keys, enrollment codes, gateway tokens.

Each returns the secret once, beside what the store keeps of it (a digest).
"""

from __future__ import annotations

from cloud import credentials
from cloud.access_models import KeyCreate
from cloud.credentials import ApiKey, Enrollment, GatewayToken, Kind, Role
from cloud.errors import EnrollmentRefused
from cloud.store import Store


async def create_key(store: Store, request: KeyCreate, at: float) -> tuple[ApiKey, str]:
    """Store a new API key; the key and its token."""
    issued = credentials.issue(Kind.KEY)
    role = Role(request.role)
    key = ApiKey(issued.id, request.name, role, request.departments, issued.digest, at)
    await store.add_key(key)
    return key, issued.token


async def register_gateway(
    store: Store, gateway: str, ttl_s: float, at: float
) -> tuple[Enrollment, str]:
    """A new one-time code for ``gateway`` (an earlier unused one stops working)."""
    code = credentials.new_code()
    enrollment = Enrollment(gateway, credentials.code_digest(code), at, at + ttl_s)
    await store.register_gateway(enrollment)
    return enrollment, code


async def enroll(store: Store, gateway: str, code: str, at: float) -> str:
    """The gateway's new token for its code; EnrollmentRefused if the code is not good now."""
    presented = credentials.code_digest(code)
    pending = await store.enrollment(gateway)
    # One message for every refusal: a guesser learns nothing about which gateways exist.
    refused = EnrollmentRefused(
        f"no good enrollment code for gateway {gateway!r}: it is wrong, used or expired "
        "(an admin can register the gateway again for a new one)"
    )
    if pending is None or not credentials.matches_digest(presented, pending.digest):
        raise refused
    issued = credentials.issue(Kind.GATEWAY)
    token = GatewayToken(issued.id, gateway, issued.digest, at)
    # The store spends the code atomically: of two concurrent exchanges, one wins.
    if not await store.redeem(presented, token, at):
        raise refused
    return issued.token
