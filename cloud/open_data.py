"""Pure: what the open-data API may tell anyone (docs/kpis.md, "Open data and privacy").

Bathing water per beach, and people counts per district with epsilon-differential privacy:

    aggregate    the sum of the newest ``peopleCount`` of each of a district's people
                 counters, over those that reported within the window
    withheld     when fewer than ``min_sensors`` counters are in the sum, so no figure is ever
                 one sensor's, or nearly
    sensitivity  a person is counted at most once by one counter in one counting period, so
                 one person changes a district's sum by at most its number of counters
    noise        Laplace with scale sensitivity / epsilon, then rounded and clamped at 0 (both
                 post-processing, which spends no privacy)

Fresh noise for every request would let anyone average it away (n requests shrink it by
sqrt(n)). ``Releases`` therefore keeps the noisy answer of each district's data as it stands
and gives it again until a counter reports anew: epsilon is spent once per district and
counting period, whoever asks and however often.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cloud import kpis
from cloud.twin import Entity

PEOPLE_COUNTER: Final = "people_counter"
PEOPLE_COUNT: Final = "peopleCount"
_ORDER: Final = {kpis.Bathing.GREEN: 0, kpis.Bathing.AMBER: 1, kpis.Bathing.RED: 2}


@dataclass(frozen=True, slots=True)
class Beach:
    """A bathing site's public status: None while no sensor of it has reported fresh values."""

    id: str
    name: str | None
    district: str | None
    status: kpis.Bathing | None
    observed_at: float | None


@dataclass(frozen=True, slots=True)
class People:
    """A district's noisy people count; ``count`` None when withheld (too few counters)."""

    district: str
    name: str | None
    sensors: int
    count: int | None
    noise_scale: float | None


def laplace(scale: float, rng: random.Random) -> float:
    """A draw from the Laplace distribution centred on 0 with ``scale`` (b)."""
    # The difference of two independent exponentials of mean b is Laplace(0, b).
    return rng.expovariate(1.0 / scale) - rng.expovariate(1.0 / scale)


def noisy_count(true_count: float, sensitivity: float, epsilon: float, rng: random.Random) -> int:
    """``true_count`` plus Laplace(sensitivity / epsilon) noise, rounded, never below 0."""
    # Rounding also drops the low bits of the floating-point sum, in which a textbook Laplace
    # draw can betray the value it was added to (Mironov, CCS 2012).
    return max(0, round(true_count + laplace(sensitivity / epsilon, rng)))


Reading = tuple[str, float, float]  # a counter's id, newest count and its time


def fresh_counts(
    counters: Iterable[Entity], at: float, window_s: float
) -> dict[str, list[Reading]]:
    """Per district, the newest people count of each counter that reported in the window."""
    found: dict[str, list[Reading]] = {}
    for counter in counters:
        seen = counter.status.get(PEOPLE_COUNT)
        if counter.district is None or seen is None or at - seen.observed_at > window_s:
            continue
        found.setdefault(counter.district, []).append((counter.id, seen.value, seen.observed_at))
    return found


class Releases:
    """The noisy answers given so far, keyed by the data they answer; at most ``capacity``.

    Overflow policy: the answer used longest ago is dropped. Keys come from the data, never
    from a request, so only data that changes faster than ``capacity`` answers are read can
    push one out, and a dropped answer is drawn anew only if its data is asked for again.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[Hashable, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable, draw: Callable[[], int]) -> int:
        """The answer kept for ``key``, or ``draw()``'s, kept from now on."""
        answer = self._answers.pop(key, None)
        if answer is None:
            answer = draw()
        self._answers[key] = answer
        if len(self._answers) > self.capacity:
            self._answers.popitem(last=False)
        return answer


@dataclass(frozen=True, slots=True)
class Privacy:
    """The people counts' privacy parameters (settings)."""

    epsilon: float
    min_sensors: int
    window_s: float


def people(
    districts: Sequence[kpis.District],
    counters: Sequence[Entity],
    at: float,
    privacy: Privacy,
    answer: Callable[[Hashable, float, int], int],
) -> list[People]:
    """Each district's people count; ``answer(key, true sum, sensors)`` adds the noise.

    ``key`` names the data summed (the district and its counters' readings), for ``Releases``.
    """
    fresh = fresh_counts(counters, at, privacy.window_s)
    out = []
    for district in districts:
        readings = fresh.get(district.id, [])
        if len(readings) < privacy.min_sensors:
            out.append(People(district.id, district.name, len(readings), None, None))
            continue
        key = (district.id, frozenset(readings))
        noisy = answer(key, sum(value for _, value, _ in readings), len(readings))
        # Sensitivity: one person adds at most one to each counter in the sum.
        scale = len(readings) / privacy.epsilon
        out.append(People(district.id, district.name, len(readings), noisy, scale))
    return out


def beaches(
    sites: Sequence[Entity], sensors: Sequence[kpis.SensorInput], at: float, max_age_s: float
) -> list[Beach]:
    """Each site's status: the worst of its bathing sensors' fresh values, as the KPIs rule."""
    judged: dict[str, list[tuple[kpis.Bathing, float]]] = {}
    for sensor in sensors:
        found = _judge(sensor, at, max_age_s)
        if found is not None and sensor.site is not None:
            judged.setdefault(sensor.site, []).append(found)
    return [_beach(site, judged.get(site.id, [])) for site in sites]


def _beach(site: Entity, judged: Sequence[tuple[kpis.Bathing, float]]) -> Beach:
    if not judged:
        return Beach(site.id, site.name, site.district, None, None)
    status = max((status for status, _ in judged), key=_ORDER.__getitem__)
    return Beach(site.id, site.name, site.district, status, max(at for _, at in judged))


def _judge(
    sensor: kpis.SensorInput, at: float, max_age_s: float
) -> tuple[kpis.Bathing, float] | None:
    """A bathing sensor's status and the time of its newest value used; None if none fresh."""
    if sensor.kind != "water_quality" or not sensor.bathing:
        return None
    fresh = _fresh(sensor.now, (kpis.E_COLI, kpis.ENTEROCOCCI), at, max_age_s)
    if not fresh:
        return None
    status = kpis.bathing_status(
        fresh[kpis.E_COLI].value if kpis.E_COLI in fresh else None,
        fresh[kpis.ENTEROCOCCI].value if kpis.ENTEROCOCCI in fresh else None,
        inland=sensor.inland,
    )
    return status, max(seen.observed_at for seen in fresh.values())


def _fresh(
    now: Mapping[str, kpis.Observation], metrics: Sequence[str], at: float, max_age_s: float
) -> dict[str, kpis.Observation]:
    # The KPIs' rule: older than max_age_s is stale; newer than ``at`` (a clock ahead) is fresh.
    return {m: now[m] for m in metrics if m in now and at - now[m].observed_at <= max_age_s}
