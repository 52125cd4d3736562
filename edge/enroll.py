"""Enrollment: the gateway trades the one-time code an admin issued for its own bearer token.

    admin:       citytwin cloud gateways register gw-07        -> 7K2M-QX9D-R4TB-HW3N
    technician:  the code typed on the gateway, exchanged once at POST /api/v1/enroll
    gateway:     uploads with the token from then on ([cloud] token)

``parse_reply`` is pure (status and body in, the token or an error naming the cause out);
``exchange`` is the one HTTP call; ``save_token`` keeps the token readable by its owner only.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from edge.errors import EdgeError

ENROLL_PATH = "/api/v1/enroll"


class EnrollmentError(EdgeError):
    """The cloud refused the code, or could not be reached; the message says which."""


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The gateway's token, as the cloud issued it."""

    gateway: str
    token: str


def request_body(gateway: str, code: str) -> dict[str, str]:
    """The exchange's JSON body; the cloud reads the code in any case, dashes or not."""
    return {"gateway": gateway, "code": code.strip()}


def parse_reply(status: int, body: bytes) -> Enrolled:
    """The token from the cloud's reply; EnrollmentError with the cloud's reason otherwise."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if status == 200 and isinstance(data, dict):
        gateway, token = data.get("gateway"), data.get("token")
        if isinstance(gateway, str) and isinstance(token, str) and token:
            return Enrolled(gateway, token)
    detail = data.get("detail") if isinstance(data, dict) else None
    reason = detail if isinstance(detail, str) else body[:200].decode(errors="replace")
    raise EnrollmentError(f"the cloud refused the enrollment ({status}): {reason}")


async def exchange(
    url: str,
    gateway: str,
    code: str,
    *,
    timeout_s: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Enrolled:
    """Exchange ``code`` for ``gateway``'s token at the cloud at ``url`` (one request)."""
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, transport=transport) as http:
        try:
            reply = await http.post(ENROLL_PATH, json=request_body(gateway, code))
        except httpx.HTTPError as exc:
            raise EnrollmentError(f"cannot reach the cloud at {url}: {exc}") from exc
    return parse_reply(reply.status_code, reply.content)


def save_token(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` atomically, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp creates the file with mode 0600
            out.write(token + "\n")
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
