"""Pure rules of incidents: edge alerts grouped per entity and cause, and their lifecycle.

    open --acknowledge--> acknowledged --resolve--> resolved
      +-------------------resolve--------------------^

One incident is active per (entity, cause) at a time: new alerts of that entity and cause
join it; after it is resolved, the next alert opens a new one. Every change is an event of its
audit trail: who did what, when.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from cloud.errors import CloudError

SEVERITIES: Final = ("info", "warning", "critical")


class State(enum.StrEnum):
    """Where an incident is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Action(enum.StrEnum):
    """What an event of the audit trail records."""

    OPENED = "opened"
    ALERT = "alert"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    RESOLVED = "resolved"


class NoSuchIncident(CloudError):
    """No incident has this id."""


class InvalidTransition(CloudError):
    """The incident's state does not allow this action (e.g. acknowledging a resolved one)."""


# The state each action leads to, from the states that allow it.
_MOVES: Final = {
    Action.ACKNOWLEDGED: ({State.OPEN}, State.ACKNOWLEDGED),
    Action.RESOLVED: ({State.OPEN, State.ACKNOWLEDGED}, State.RESOLVED),
    Action.ASSIGNED: ({State.OPEN, State.ACKNOWLEDGED}, None),
    Action.COMMENTED: ({State.OPEN, State.ACKNOWLEDGED, State.RESOLVED}, None),
}

_VERBS: Final = {
    Action.ACKNOWLEDGED: "acknowledge",
    Action.RESOLVED: "resolve",
    Action.ASSIGNED: "assign",
    Action.COMMENTED: "comment on",
}


def cause(metric: str) -> str:
    """The cause an edge alert on ``metric`` is grouped under."""
    return f"anomaly:{metric}"


def after(state: State, action: Action) -> State:
    """The state after ``action``; InvalidTransition if ``state`` does not allow it."""
    allowed, target = _MOVES[action]
    if state not in allowed:
        raise InvalidTransition(f"cannot {_VERBS[action]} an incident that is {state.value}")
    return target or state


@dataclass(frozen=True, slots=True)
class Event:
    """One line of an incident's audit trail."""

    at: float
    actor: str
    action: Action
    detail: str


@dataclass(frozen=True, slots=True)
class Incident:
    """Alerts of one entity and cause, routed to a department, with a lifecycle."""

    id: int
    entity: str
    cause: str
    department: str | None
    state: State
    severity: str
    assignee: str | None
    alerts: int
    first_alert_at: float
    last_alert_at: float
    last_value: float
    opened_at: float
    updated_at: float
    events: tuple[Event, ...] = ()
