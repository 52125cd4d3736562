"""Pure gateway authentication: a bearer token names one gateway, which may send only its own data.

Static tokens from settings for now; enrollment (per-gateway credentials issued at
provisioning) will replace ``gateway_of`` without changing its callers.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from cloud.errors import AuthError, Forbidden


def gateway_of(token: str | None, tokens: Mapping[str, str]) -> str:
    """The gateway that ``token`` belongs to; AuthError if it belongs to none."""
    if not token:
        raise AuthError("missing bearer token (send Authorization: Bearer <token>)")
    found = None
    for gateway, expected in tokens.items():
        # Compare with every token in constant time, so timing reveals neither which nor how much.
        if hmac.compare_digest(token.encode(), expected.encode()):
            found = gateway
    if found is None:
        raise AuthError("unknown bearer token")
    return found


def authorize(token_gateway: str | None, batch_gateway: str) -> None:
    """Raise Forbidden if the token's gateway (None: dev mode, anyone) is not the batch's."""
    if token_gateway is not None and token_gateway != batch_gateway:
        raise Forbidden(
            f"this token belongs to gateway {token_gateway!r}, not to {batch_gateway!r}"
        )
