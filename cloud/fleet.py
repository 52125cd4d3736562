"""Pure gateway health: the status the twin shows is derived from heartbeats, never a socket."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shared.wire.uplink import DesiredState, Heartbeat


class Status(enum.StrEnum):
    """How recently a gateway proved it is alive and working."""

    ONLINE = "ONLINE"
    STALE = "STALE"
    OFFLINE = "OFFLINE"


@dataclass(frozen=True, slots=True)
class Gateway:
    """What the store knows about one gateway."""

    id: str
    first_seen: float
    last_seen: float
    heartbeat_at: float | None
    heartbeat: Heartbeat | None
    desired: DesiredState


def status(heartbeat_age_s: float | None, stale_after_s: float, offline_after_s: float) -> Status:
    """ONLINE, STALE or OFFLINE from the age of the newest heartbeat (None: never heard)."""
    if heartbeat_age_s is None or heartbeat_age_s >= offline_after_s:
        return Status.OFFLINE
    if heartbeat_age_s >= stale_after_s:
        return Status.STALE
    return Status.ONLINE
