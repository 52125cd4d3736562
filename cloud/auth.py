"""Pure authorization: who the caller is (a Principal) and what that lets them do.

    role      reads   incident actions            keys, gateway registration   ingest
    viewer    yes     no                          no                           no
    operator  yes     its departments' incidents  no                           no
    admin     yes     every incident              yes                          no
    gateway   no      no                          no                           its own batches

Ingest is the gateways' alone: a leaked viewer key cannot write into the twin, and a leaked
gateway token can neither read the city nor speak for another gateway. In dev mode (see
``Authenticator``) a request without credentials is the anonymous principal, who may do all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloud.credentials import Role
from cloud.errors import Forbidden

DEPARTMENT_PREFIX = "urn:ngsi-ld:Department:"
_READERS = frozenset({Role.VIEWER, Role.OPERATOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an API key, a gateway, or the anonymous caller of dev mode."""

    name: str
    role: Role
    departments: frozenset[str] = field(default_factory=frozenset)
    gateway: str | None = None
    anonymous: bool = False


ANONYMOUS = Principal("anonymous", Role.ADMIN, anonymous=True)


def department_id(department: str) -> str:
    """The department's URN, from the URN or its local id (``dept-mobility``)."""
    return department if department.startswith("urn:") else f"{DEPARTMENT_PREFIX}{department}"


def require_reader(principal: Principal) -> Principal:
    """The principal if it may read the twin; Forbidden for gateway tokens."""
    if principal.anonymous or principal.role in _READERS:
        return principal
    raise Forbidden("a gateway token can only ingest; reading needs an API key")


def require_operator(principal: Principal) -> Principal:
    """The principal if it may act on incidents at all (operator or admin)."""
    if principal.anonymous or principal.role in (Role.OPERATOR, Role.ADMIN):
        return principal
    raise Forbidden(f"this needs an operator or admin key, not a {principal.role} one")


def require_admin(principal: Principal) -> Principal:
    """The principal if it is an admin."""
    if principal.anonymous or principal.role is Role.ADMIN:
        return principal
    raise Forbidden(f"this needs an admin key, not a {principal.role} one")


def require_department(principal: Principal, department: str | None) -> None:
    """Forbidden unless the principal may act for ``department`` (None: an unrouted incident)."""
    if principal.anonymous or principal.role is Role.ADMIN:
        return
    if department is not None and department in principal.departments:
        return
    whose = f"department {department}" if department else "unrouted incidents (admins only)"
    raise Forbidden(f"key {principal.name!r} may not act for {whose}")


def require_gateway(principal: Principal) -> Principal:
    """The principal if it is a gateway (or anonymous in dev mode)."""
    if principal.anonymous or principal.role is Role.GATEWAY:
        return principal
    raise Forbidden("ingest needs a gateway token, not an API key")


def authorize(principal: Principal, batch_gateway: str) -> None:
    """Forbidden unless the principal may send ``batch_gateway``'s batch: its own only."""
    if principal.anonymous:
        return
    if principal.gateway != batch_gateway:
        raise Forbidden(
            f"this token belongs to gateway {principal.gateway!r}, not to {batch_gateway!r}"
        )


def actor(principal: Principal, claimed: str) -> str:
    """Who the audit trail names: the key, and the person it acts for when that differs."""
    if principal.anonymous or claimed == principal.name:
        return claimed
    return f"{claimed} (key {principal.name})"
