"""Who sent a request: a bearer token resolved to a Principal, from the settings or the store.

Configured credentials (``--gateway-token``, the settings' admin key) are compared by digest
with every one of them, in constant time. Issued ones (``ctk_``/``ctg_``, see credentials.py)
are found by their public id and their digest compared in constant time. A verified issued
credential is remembered for a few seconds, so ingest does not read the store on every batch;
a revocation in this process forgets at once, in another process within ``CACHE_S``.
"""

from __future__ import annotations

import hmac
import logging
import time

from cloud import credentials
from cloud.auth import ANONYMOUS, Principal
from cloud.credentials import Kind, Role
from cloud.errors import AuthError
from cloud.settings import AuthMode, CloudSettings
from cloud.store import Store

log = logging.getLogger(__name__)

CACHE_S = 5.0
_CACHE_MAX = 10_000


class Authenticator:
    """Resolves bearer tokens; ``start`` decides once whether requests may come without one."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        self._configured: list[tuple[str, Principal]] = [
            (credentials.digest(token), Principal(gateway, Role.GATEWAY, gateway=gateway))
            for gateway, token in settings.gateway_tokens.items()
        ]
        if settings.admin_key is not None:
            admin_digest = credentials.digest(settings.admin_key.get_secret_value())
            self._configured.append((admin_digest, Principal("configured-admin", Role.ADMIN)))
        # token id -> (valid until, stored digest, principal)
        self._cache: dict[str, tuple[float, str, Principal]] = {}
        self.open = settings.auth is AuthMode.OFF

    async def start(self, store: Store) -> None:
        """Decide, once, whether a request without credentials is let in (dev mode)."""
        mode = self._settings.auth
        if mode is AuthMode.AUTO:
            known = self._settings.configured_credentials or await store.has_credentials()
            self.open = not known
        if mode is AuthMode.AUTO and self.open:
            log.warning(
                "no credentials yet, so auth is off: anyone may do anything. Create an admin "
                "key (citytwin cloud keys create --role admin) and restart to require auth"
            )
        elif self.open:
            log.warning("auth is off (dev mode): requests without credentials may do anything")

    def forget(self) -> None:
        """Drop remembered credentials (after a revocation)."""
        self._cache.clear()

    async def authenticate(self, token: str | None, store: Store) -> Principal:
        """The principal ``token`` stands for; AuthError if none, unknown or revoked."""
        if not token:
            if self.open:
                return ANONYMOUS
            raise AuthError("missing bearer token (send Authorization: Bearer <token>)")
        configured = self._configured_principal(token)
        if configured is not None:
            return configured
        parsed = credentials.parse(token)
        if parsed is None:
            raise AuthError("unknown bearer token")
        kind, token_id = parsed
        cached = self._cache.get(token_id)
        if cached is not None and cached[0] > time.monotonic():
            if credentials.matches(token, cached[1]):
                return cached[2]
            raise AuthError("unknown bearer token")
        stored, principal = await self._lookup(kind, token_id, store)
        if not credentials.matches(token, stored):
            raise AuthError("unknown bearer token")
        if principal is None:
            raise AuthError(f"this {'key' if kind is Kind.KEY else 'gateway token'} was revoked")
        self._remember(token_id, stored, principal)
        return principal

    def _configured_principal(self, token: str) -> Principal | None:
        presented = credentials.digest(token)
        found = None
        for stored, principal in self._configured:
            # Compare with every one, so timing tells neither which matched nor how much.
            if hmac.compare_digest(presented, stored):
                found = principal
        return found

    async def _lookup(
        self, kind: Kind, token_id: str, store: Store
    ) -> tuple[str, Principal | None]:
        """The stored digest and the principal (None if revoked); AuthError if not found."""
        if kind is Kind.KEY:
            key = await store.key(token_id)
            if key is None:
                raise AuthError("unknown bearer token")
            principal = Principal(key.name, key.role, frozenset(key.departments))
            return key.digest, None if key.revoked_at is not None else principal
        gateway = await store.gateway_token(token_id)
        if gateway is None:
            raise AuthError("unknown bearer token")
        principal = Principal(gateway.gateway, Role.GATEWAY, gateway=gateway.gateway)
        return gateway.digest, None if gateway.revoked_at is not None else principal

    def _remember(self, token_id: str, stored: str, principal: Principal) -> None:
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()  # rare: more live credentials than this in a few seconds
        self._cache[token_id] = (time.monotonic() + CACHE_S, stored, principal)
