"""GET /open/v1/...: open data for anyone, read-only, without credentials, rate-limited.

Districts, their KPIs without anything that names or singles out a sensor, bathing water per
beach, and people counts per district with differential privacy (cloud/open_data.py). Each
client IP has a token bucket (cloud/ratelimit.py); past it, 429 with Retry-After.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Annotated, cast

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from cloud import kpis, open_data
from cloud.deps import StoreDep
from cloud.models import errors
from cloud.ratelimit import Limiter, Rate
from cloud.settings import CloudSettings
from cloud.store import EntityQuery, Store
from cloud.twin import Entity

# The KPIs' default: a value older than an hour is stale (docs/kpis.md).
MAX_AGE_S = 3600.0
# Noisy answers kept (cloud/open_data.py, Releases): far more than a city has districts.
RELEASES = 4096
_PAGE = 1000


@dataclass
class OpenData:
    """The open API's state, one per app: the rate limiter and the people counts' releases."""

    limiter: Limiter
    releases: open_data.Releases
    privacy: open_data.Privacy
    # The operating system's generator: noise nobody can predict or replay from a seed.
    rng: random.Random = field(default_factory=random.SystemRandom)
    clock: Callable[[], float] = time.monotonic  # the buckets' clock, immune to clock steps

    @classmethod
    def of(cls, settings: CloudSettings) -> OpenData:
        """The state the settings ask for."""
        rate = Rate(settings.open_requests_per_minute, settings.open_burst)
        privacy = open_data.Privacy(
            settings.open_epsilon, settings.open_min_sensors, settings.open_people_window_s
        )
        return cls(Limiter(rate, settings.open_clients), open_data.Releases(RELEASES), privacy)

    def answer(self, key: Hashable, true_count: float, sensors: int) -> int:
        """The noisy count released for ``key``'s data: the same one every time it is asked."""
        epsilon = self.privacy.epsilon
        return self.releases.get(
            key, lambda: open_data.noisy_count(true_count, sensors, epsilon, self.rng)
        )


def install(app: FastAPI, settings: CloudSettings) -> None:
    """Serve /open/v1 on ``app`` with the limits and privacy of ``settings``."""
    app.state.open_data = OpenData.of(settings)
    app.include_router(router)


async def _open_data(request: Request) -> OpenData:
    return cast(OpenData, request.app.state.open_data)


OpenDataDep = Annotated[OpenData, Depends(_open_data)]


async def _rate_limited(request: Request, state: OpenDataDep) -> None:
    # Behind a reverse proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips so
    # request.client is the caller, not the proxy (docs/api.md).
    client = request.client.host if request.client else "unknown"
    wait = state.limiter.check(client, state.clock())
    if wait > 0:
        rate = state.limiter.rate
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            detail=f"too many requests: {rate.per_minute:g} a minute, {rate.burst} at once; "
            f"retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


class _Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


router = APIRouter(
    prefix="/open/v1",
    tags=["open data"],
    dependencies=[Depends(_rate_limited)],
    responses=errors({429: "Over the rate limit: see the Retry-After header"}),
)


class OpenDistrict(_Open):
    """A district: its URN and name."""

    id: str
    name: str | None


class OpenDistricts(_Open):
    """The city's districts."""

    districts: list[OpenDistrict]


class OpenCoverage(_Open):
    """Sensors a KPI used, and sensors of its kind left out (silent, or stale)."""

    sensors: int
    stale: int


class OpenAirQuality(_Open):
    """European Air Quality Index (EEA): 1 good .. 6 extremely poor, from median values."""

    level: int | None
    label: str | None
    pollutant: str | None
    concentrations: dict[str, float]
    previous_level: int | None
    coverage: OpenCoverage


class OpenCongestion(_Open):
    """Mean of 1 - speed / free-flow speed: 0 free flow, 1 standstill."""

    index: float | None
    mean_speed_kmh: float | None
    previous_index: float | None
    coverage: OpenCoverage


class OpenBathing(_Open):
    """Green, amber or red: the worst of the place's beaches (each in /open/v1/bathing-water)."""

    status: kpis.Bathing | None
    previous_status: kpis.Bathing | None
    coverage: OpenCoverage


class OpenNoise(_Open):
    """LAeq in dB(A), averaged on energy."""

    laeq_db: float | None
    previous_laeq_db: float | None
    coverage: OpenCoverage


class OpenEnergy(_Open):
    """Total active power of the energy meters, kW (negative: net export)."""

    load_kw: float | None
    previous_load_kw: float | None
    coverage: OpenCoverage


class OpenKpis(_Open):
    """The KPIs of a district, or of the whole city (``district`` null)."""

    district: str | None
    name: str | None
    air_quality: OpenAirQuality
    congestion: OpenCongestion
    bathing_water: OpenBathing
    noise: OpenNoise
    energy: OpenEnergy


class OpenCityKpis(_Open):
    """City-wide KPIs and each district's, from values at most ``max_age_s`` old."""

    at: float
    max_age_s: float
    city: OpenKpis
    districts: list[OpenKpis]


class OpenBeach(_Open):
    """A beach: status null and observed_at null while none of its sensors is fresh."""

    id: str
    name: str | None
    district: str | None
    status: kpis.Bathing | None
    observed_at: float | None


class OpenBathingWater(_Open):
    """Every beach's bathing-water status."""

    at: float
    max_age_s: float
    beaches: list[OpenBeach]


class OpenPeople(_Open):
    """A district's people count with Laplace noise; null when withheld (too few counters)."""

    district: str
    name: str | None
    sensors: int
    count: int | None
    noise_scale: float | None


class OpenPeopleCounts(_Open):
    """People counts per district, and the privacy parameters they were released with."""

    at: float
    window_s: float
    epsilon: float
    min_sensors: int
    districts: list[OpenPeople]


async def _all(store: Store, query: EntityQuery) -> list[Entity]:
    """Every entity matching ``query``, page by page."""
    found: list[Entity] = []
    while True:
        page = await store.entities(replace(query, limit=_PAGE, offset=len(found)))
        found.extend(page.items)
        if not page.items or len(found) >= page.total:
            return found


async def _districts(store: Store) -> list[kpis.District]:
    return [kpis.District(d.id, d.name) for d in await _all(store, EntityQuery(type="District"))]


@router.get("/districts")
async def districts(store: StoreDep) -> OpenDistricts:
    """The city's districts: the ids the other open endpoints use, and their names."""
    found = await _districts(store)
    return OpenDistricts(districts=[OpenDistrict(id=d.id, name=d.name) for d in found])


@router.get("/kpis")
async def city_kpis(store: StoreDep) -> OpenCityKpis:
    """KPIs of the whole city and of every district, without any sensor's own figures."""
    at = time.time()
    inputs = await store.kpi_inputs(None, at)
    return OpenCityKpis(
        at=at,
        max_age_s=MAX_AGE_S,
        city=OpenKpis.model_validate(kpis.compute(inputs.sensors, at, MAX_AGE_S)),
        districts=[OpenKpis.model_validate(k) for k in kpis.by_district(inputs, at, MAX_AGE_S)],
    )


@router.get("/bathing-water")
async def bathing_water(store: StoreDep) -> OpenBathingWater:
    """Green, amber or red for every beach, by the EU Bathing Water Directive's bounds."""
    at = time.time()
    inputs = await store.kpi_inputs(None, at)
    sites = await _all(store, EntityQuery(type="Beach"))
    found = open_data.beaches(sites, inputs.sensors, at, MAX_AGE_S)
    return OpenBathingWater(
        at=at, max_age_s=MAX_AGE_S, beaches=[OpenBeach.model_validate(b) for b in found]
    )


@router.get("/people")
async def people(store: StoreDep, state: OpenDataDep) -> OpenPeopleCounts:
    """People counted per district, with differential privacy; never any one counter's."""
    at = time.time()
    counters = await _all(store, EntityQuery(kind=open_data.PEOPLE_COUNTER))
    privacy = state.privacy
    found = open_data.people(await _districts(store), counters, at, privacy, state.answer)
    return OpenPeopleCounts(
        at=at,
        window_s=privacy.window_s,
        epsilon=privacy.epsilon,
        min_sensors=privacy.min_sensors,
        districts=[OpenPeople.model_validate(p) for p in found],
    )
