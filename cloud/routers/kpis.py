"""GET /api/v1/kpis and /api/v1/districts/{id}/kpis: district KPIs from the live twin.

The store gathers the sensors' values (now, and an hour before for trends); cloud/kpis.py
computes. docs/kpis.md says what each number means and where its table comes from.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from cloud import kpis
from cloud.deps import StoreDep, ViewerDep
from cloud.models import READER_ERRORS, errors
from cloud.store.kpis import district_id

router = APIRouter(prefix="/api/v1", tags=["kpis"])

_MaxAge = Annotated[
    float,
    Query(ge=60, le=7 * 86_400, description="seconds after which a value is stale and unused"),
]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class CoveragePublic(_Public):
    """Sensors a KPI used, and sensors of its kind left out (silent, or older than max_age)."""

    sensors: int
    stale: int


class AirQualityPublic(_Public):
    """European Air Quality Index (EEA) of the place: 1 good .. 6 extremely poor."""

    level: int | None
    label: str | None
    pollutant: str | None
    concentrations: dict[str, float]
    worst_station_level: int | None
    previous_level: int | None
    coverage: CoveragePublic


class CongestionPublic(_Public):
    """Mean of 1 - speed / free-flow speed over traffic sensors: 0 free flow, 1 standstill."""

    index: float | None
    mean_speed_kmh: float | None
    unknown_free_flow: int
    previous_index: float | None
    coverage: CoveragePublic


class SitePublic(_Public):
    """One bathing site (a beach; a sensor's own id where the city file names none)."""

    id: str
    status: kpis.Bathing
    escherichia_coli: float | None
    enterococci: float | None


class BathingWaterPublic(_Public):
    """Green, amber or red: the worst of the place's bathing sites."""

    status: kpis.Bathing | None
    sites: list[SitePublic]
    previous_status: kpis.Bathing | None
    coverage: CoveragePublic


class NoisePublic(_Public):
    """LAeq in dB(A), averaged on energy, and the loudest sensor's."""

    laeq_db: float | None
    max_db: float | None
    previous_laeq_db: float | None
    coverage: CoveragePublic


class EnergyPublic(_Public):
    """Total active power of the energy meters, kW (negative: net export)."""

    load_kw: float | None
    previous_load_kw: float | None
    coverage: CoveragePublic


class KpisPublic(_Public):
    """The KPIs of a district, or of the whole city (``district`` null)."""

    district: str | None
    name: str | None
    air_quality: AirQualityPublic
    congestion: CongestionPublic
    bathing_water: BathingWaterPublic
    noise: NoisePublic
    energy: EnergyPublic

    @classmethod
    def of(cls, k: kpis.Kpis) -> KpisPublic:
        """The public view of ``k`` (the dataclasses' fields have the same names)."""
        return cls.model_validate(k)


class CityKpis(_Public):
    """City-wide KPIs (every sensor, with a district or not) and each district's."""

    at: float
    max_age_s: float
    city: KpisPublic
    districts: list[KpisPublic]


class DistrictKpis(_Public):
    """One district's KPIs."""

    at: float
    max_age_s: float
    kpis: KpisPublic


@router.get("/kpis", responses=errors(READER_ERRORS))
async def city_kpis(store: StoreDep, _: ViewerDep, max_age: _MaxAge = 3600) -> CityKpis:
    """KPIs of the whole city and of every district, from the live status of the twin."""
    at = time.time()
    inputs = await store.kpi_inputs(None, at)
    return CityKpis(
        at=at,
        max_age_s=max_age,
        city=KpisPublic.of(kpis.compute(inputs.sensors, at, max_age)),
        districts=[KpisPublic.of(k) for k in kpis.by_district(inputs, at, max_age)],
    )


@router.get(
    "/districts/{district}/kpis", responses=errors({**READER_ERRORS, 404: "No such district"})
)
async def district_kpis(
    district: str, store: StoreDep, _: ViewerDep, max_age: _MaxAge = 3600
) -> DistrictKpis:
    """KPIs of one district (its URN, or its local id such as ``district-03``)."""
    at = time.time()
    wanted = district_id(district)
    inputs = await store.kpi_inputs(wanted, at)
    if not inputs.districts and not inputs.sensors:
        raise HTTPException(404, detail=f"no district {district!r}")
    name = inputs.districts[0].name if inputs.districts else None
    found = kpis.compute(inputs.sensors, at, max_age, kpis.District(wanted, name))
    return DistrictKpis(at=at, max_age_s=max_age, kpis=KpisPublic.of(found))
