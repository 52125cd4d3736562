"""Pure: cloud rules, the incidents the cloud opens itself (docs/api.md, "Cloud rules").

    gateway:offline     a gateway whose newest heartbeat is older than ``offline_after_s``
    sensor:silent       a sensor whose newest observation is older than ``silent_after_s``
                        (unless its gateway is offline: that incident says why)
    kpi:<kpi>           a district's air quality, or a bathing site's water, at or past a level

Each evaluation turns what the store holds into findings: a condition that holds (firing) or
that no longer holds (clear). ``step`` decides what a finding does to the incident of its
entity and cause, the one-per-(entity, cause) grouping of edge alerts:

    no incident, firing        open one                                  OPENED
    firing again after clear   note it in the trail                      ALERT
    clear, nobody acknowledged resolve it                                RESOLVED
    clear, acknowledged        note it in the trail, leave it open       COMMENTED
    anything else              nothing (so evaluating twice changes nothing)

An acknowledged incident stays with its operator: someone is on it, and only they know when it
is done. Whether a condition was last firing or clear is the newest event of ``ACTOR`` in the
incident's trail, so a process restart or another process evaluates from the same memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Final

from cloud import fleet, kpis
from cloud.fleet import Gateway
from cloud.incidents import Action, Incident, State
from cloud.settings import KpiRule

# Not a gateway id (those have no colon): the trail tells rules from gateways and people.
ACTOR: Final = "cloud:rules"
GATEWAY_OFFLINE: Final = "gateway:offline"
SENSOR_SILENT: Final = "sensor:silent"
GATEWAY_PREFIX: Final = "urn:ngsi-ld:Gateway:"
# Trail actions of ACTOR that say the condition was firing; the others say it had cleared.
FIRING_ACTIONS: Final = frozenset({Action.OPENED, Action.ALERT})


def kpi_cause(kpi: str) -> str:
    """The cause a KPI rule's incidents are grouped under."""
    return f"kpi:{kpi}"


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's word on one entity: its condition holds (``firing``) or no longer does."""

    entity: str
    cause: str
    firing: bool
    severity: str
    value: float
    detail: str
    # Where a new incident goes; None: routed like the entity's edge alerts.
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Heard:
    """When a sensor was last heard of (its newest observation), and through which gateway."""

    newest: float
    gateway: str | None


@dataclass(frozen=True, slots=True)
class Ruled:
    """An incident a rule changed, and how (for the live stream)."""

    incident: Incident
    change: Action


def step(state: State | None, was_firing: bool | None, firing: bool) -> Action | None:
    """What a finding does to its active incident (``state`` None: there is none)."""
    if state is None:
        return Action.OPENED if firing else None
    if firing:
        # A rule's incident always has a rule event; None only if someone else opened it.
        return Action.ALERT if was_firing is False else None
    if was_firing is False:
        return None
    return Action.RESOLVED if state is State.OPEN else Action.COMMENTED


def gateway_findings(
    gateways: Iterable[Gateway], now: float, stale_after_s: float, offline_after_s: float
) -> list[Finding]:
    """OFFLINE gateways fire, ONLINE ones clear; STALE ones and the never heard say nothing."""
    found = []
    for g in gateways:
        if g.heartbeat_at is None:  # registered, never heard: nothing was lost yet
            continue
        age = max(0.0, now - g.heartbeat_at)
        status = fleet.status(age, stale_after_s, offline_after_s)
        if status is fleet.Status.STALE:
            continue
        firing = status is fleet.Status.OFFLINE
        detail = (
            f"no heartbeat for {age:.0f} s (offline after {offline_after_s:.0f} s)"
            if firing
            else f"back ONLINE: heartbeat {age:.0f} s ago"
        )
        found.append(
            Finding(GATEWAY_PREFIX + g.id, GATEWAY_OFFLINE, firing, "critical", age, detail)
        )
    return found


def silent_findings(
    heard: Mapping[str, Heard], now: float, silent_after_s: float, offline: Set[str] = frozenset()
) -> list[Finding]:
    """Sensors silent for ``silent_after_s`` fire, others clear; those whose gateway is in
    ``offline`` say nothing: the gateway's incident already tells why they are quiet."""
    found = []
    for entity, sensor in sorted(heard.items()):
        if sensor.gateway in offline:
            continue
        age = max(0.0, now - sensor.newest)
        firing = age > silent_after_s
        detail = (
            f"no data for {age:.0f} s (silent after {silent_after_s:.0f} s)"
            if firing
            else f"data resumed: newest observation {age:.0f} s ago"
        )
        found.append(Finding(entity, SENSOR_SILENT, firing, "warning", age, detail))
    return found


def offline_gateways(findings: Iterable[Finding]) -> frozenset[str]:
    """The ids of the gateways that ``findings`` (of gateway_findings) say are offline."""
    return frozenset(
        f.entity.removeprefix(GATEWAY_PREFIX)
        for f in findings
        if f.cause == GATEWAY_OFFLINE and f.firing
    )


def kpi_findings(districts: Sequence[kpis.Kpis], rules: Sequence[KpiRule]) -> list[Finding]:
    """Each rule over each district (air quality) or bathing site (bathing water)."""
    found = []
    for rule in rules:
        for district in districts:
            found += _air_quality(district, rule) if rule.kpi == "air_quality" else []
            found += _bathing(district, rule) if rule.kpi == "bathing_water" else []
    return found


def _air_quality(district: kpis.Kpis, rule: KpiRule) -> list[Finding]:
    aq = district.air_quality
    if district.district is None or aq.level is None:  # no fresh data: no word either way
        return []
    threshold = kpis.EAQI_LEVELS.index(rule.at_least) + 1
    firing = aq.level >= threshold
    detail = f"European AQI {aq.label} ({aq.pollutant}); rule: at least {rule.at_least}"
    return [
        Finding(
            district.district, kpi_cause(rule.kpi), firing, rule.severity, float(aq.level),
            detail, rule.department,
        )
    ]  # fmt: skip


_BATHING_RANK: Final = {kpis.Bathing.GREEN: 1, kpis.Bathing.AMBER: 2, kpis.Bathing.RED: 3}


def _bathing(district: kpis.Kpis, rule: KpiRule) -> list[Finding]:
    threshold = _BATHING_RANK[kpis.Bathing(rule.at_least)]
    found = []
    for site in district.bathing_water.sites:
        rank = _BATHING_RANK[site.status]
        detail = (
            f"bathing water {site.status} (E. coli {site.escherichia_coli}, enterococci "
            f"{site.enterococci} cfu/100 mL); rule: at least {rule.at_least}"
        )
        found.append(
            Finding(
                site.id, kpi_cause(rule.kpi), rank >= threshold, rule.severity, float(rank),
                detail, rule.department,
            )
        )  # fmt: skip
    return found
