"""Pure: district KPIs from the live status of the twin's sensors (docs/kpis.md).

    air quality     European Air Quality Index (EEA): per pollutant, the band its concentration
                    falls in; a place's level is its worst pollutant's
    congestion      1 - speed / free-flow speed, 0 (free flow) .. 1 (standstill)
    bathing water   green / amber / red from E. coli and intestinal enterococci, by the quality
                    classes of the EU Bathing Water Directive (2006/7/EC, Annex I)
    noise           LAeq averaged on energy (10 log10 of the mean of 10^(L/10)), and the loudest
    energy          the sum of active power of the energy meters

A value older than ``max_age_s`` is stale: it is counted, never used, so a dead sensor cannot
hold a KPI at its last word. The same rules run on the values of an hour before, for trends.
"""

from __future__ import annotations

import bisect
import enum
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

# European Air Quality Index bands of the EEA, in ug/m3, as the EEA published them in 2021:
# the upper bound of "good", "fair", "moderate", "poor" and "very poor"; anything above the
# last is "extremely poor". A value on a bound belongs to the better band. The EEA defines
# PM on 24-hour running means and NO2 and O3 on hourly means; the twin's live value is the
# newest reading, so this is an indicative, live index (docs/kpis.md).
EAQI_BANDS: Final = MappingProxyType(
    {
        "pm25": (10.0, 20.0, 25.0, 50.0, 75.0),
        "pm10": (20.0, 40.0, 50.0, 100.0, 150.0),
        "no2": (40.0, 90.0, 120.0, 230.0, 340.0),
        "o3": (50.0, 100.0, 130.0, 240.0, 380.0),
    }
)
EAQI_LEVELS: Final = ("good", "fair", "moderate", "poor", "very poor", "extremely poor")
POLLUTANTS: Final = tuple(EAQI_BANDS)
SPEED: Final = "averageVehicleSpeed"
E_COLI: Final = "escherichiaColi"
ENTEROCOCCI: Final = "enterococci"
NOISE: Final = "LAeq"
POWER: Final = "activePower"
# The metrics each kind of sensor contributes, as the catalogue names them.
METRICS: Final = MappingProxyType(
    {
        "air_quality": POLLUTANTS,
        "traffic_flow": (SPEED,),
        "water_quality": (E_COLI, ENTEROCOCCI),
        "noise": (NOISE,),
        "energy_meter": (POWER,),
    }
)


class Bathing(enum.StrEnum):
    """Bathing-water status for the public: swim, take care, do not swim."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"


# Directive 2006/7/EC, Annex I, in cfu/100 mL: (E. coli, intestinal enterococci) at the upper
# bound of "excellent" and of "good" quality. Green up to excellent, amber up to good, red
# above. The Directive assesses percentiles of a season's samples; a live sensor has one value
# per metric, so its newest value is held to these bounds (docs/kpis.md).
BATHING_BOUNDS: Final = MappingProxyType(
    {
        "coastal": ((250.0, 100.0), (500.0, 200.0)),
        "inland": ((500.0, 200.0), (1000.0, 400.0)),
    }
)
_WORSE: Final = {Bathing.GREEN: 0, Bathing.AMBER: 1, Bathing.RED: 2}


@dataclass(frozen=True, slots=True)
class Observation:
    """A metric's value and when it was observed (UTC epoch seconds)."""

    value: float
    observed_at: float


@dataclass(frozen=True, slots=True)
class SensorInput:
    """What the KPIs need of one sensor: its values now and an hour before, and its context."""

    entity: str
    kind: str
    district: str | None
    now: Mapping[str, Observation]
    earlier: Mapping[str, Observation] = field(default_factory=dict)
    # Traffic: the speed limit of the road segment the sensor observes, if the city file says.
    free_flow_kmh: float | None = None
    # Water: the bathing site it observes (None: not known), and whether it is inland water.
    site: str | None = None
    inland: bool = False
    # False for water sensors that observe something nobody bathes in (a river).
    bathing: bool = True


@dataclass(frozen=True, slots=True)
class District:
    """A district of the city file: its URN and name."""

    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class KpiInputs:
    """Everything the store gathers for one KPI request."""

    districts: tuple[District, ...]
    sensors: tuple[SensorInput, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many sensors a KPI used, and how many were left out as stale."""

    sensors: int
    stale: int


@dataclass(frozen=True, slots=True)
class AirQuality:
    """The EAQI level (1 good .. 6 extremely poor) of a place, and what decided it."""

    level: int | None
    pollutant: str | None
    # pollutant -> median concentration over the place's sensors (ug/m3)
    concentrations: Mapping[str, float]
    worst_station_level: int | None
    previous_level: int | None
    coverage: Coverage

    @property
    def label(self) -> str | None:
        """The level's name: good, fair, moderate, poor, very poor, extremely poor."""
        return EAQI_LEVELS[self.level - 1] if self.level is not None else None


@dataclass(frozen=True, slots=True)
class Congestion:
    """Mean speed reduction against free flow over a place's traffic sensors."""

    index: float | None
    mean_speed_kmh: float | None
    unknown_free_flow: int
    previous_index: float | None
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class Site:
    """Bathing-water status of one site (a beach, or a sensor with no known site)."""

    id: str
    status: Bathing
    escherichia_coli: float | None
    enterococci: float | None


@dataclass(frozen=True, slots=True)
class BathingWater:
    """The worst status of a place's bathing sites, and each site's."""

    status: Bathing | None
    sites: tuple[Site, ...]
    previous_status: Bathing | None
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class Noise:
    """LAeq of a place, averaged on energy, and its loudest sensor."""

    laeq_db: float | None
    max_db: float | None
    previous_laeq_db: float | None
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class Energy:
    """Total active power of a place's energy meters (negative: net export)."""

    load_kw: float | None
    previous_load_kw: float | None
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPIs of one district, or of the whole city (``district`` None)."""

    district: str | None
    name: str | None
    air_quality: AirQuality
    congestion: Congestion
    bathing_water: BathingWater
    noise: Noise
    energy: Energy


def eaqi_level(pollutant: str, concentration: float) -> int:
    """The EAQI level, 1 (good) to 6 (extremely poor), of one pollutant's concentration."""
    # bisect_left: a value equal to a band's upper bound stays in that band.
    return bisect.bisect_left(EAQI_BANDS[pollutant], concentration) + 1


def station_level(values: Mapping[str, float]) -> tuple[int, str] | None:
    """The worst level of the pollutants given, and which pollutant it is; None if none."""
    levels = [(eaqi_level(p, v), p) for p, v in values.items() if p in EAQI_BANDS]
    # On a tie the first pollutant in table order names it, so the answer is stable.
    return max(levels, key=lambda lp: (lp[0], -POLLUTANTS.index(lp[1])), default=None)


def congestion_index(speed_kmh: float, free_flow_kmh: float) -> float:
    """1 - speed / free flow, clamped to 0..1 (faster than free flow is no congestion)."""
    return min(1.0, max(0.0, 1.0 - speed_kmh / free_flow_kmh))


def bathing_status(e_coli: float | None, enterococci: float | None, *, inland: bool) -> Bathing:
    """Green, amber or red from the values known (the worse of the two decides)."""
    excellent, good = BATHING_BOUNDS["inland" if inland else "coastal"]
    worst = Bathing.GREEN
    for value, top_excellent, top_good in zip((e_coli, enterococci), excellent, good, strict=True):
        if value is None:
            continue
        status = (
            Bathing.GREEN
            if value <= top_excellent
            else Bathing.AMBER
            if value <= top_good
            else Bathing.RED
        )
        worst = max(worst, status, key=_WORSE.__getitem__)
    return worst


def energetic_mean(levels_db: Iterable[float]) -> float:
    """The level of the mean sound energy of ``levels_db``: how decibels are averaged."""
    energies = [10.0 ** (level / 10.0) for level in levels_db]
    return 10.0 * math.log10(sum(energies) / len(energies))


def compute(
    sensors: Sequence[SensorInput],
    at: float,
    max_age_s: float,
    district: District | None = None,
) -> Kpis:
    """The KPIs of ``sensors`` at ``at``; their values older than ``max_age_s`` are stale."""
    now = _Fresh(sensors, at, max_age_s, earlier=False)
    before = _Fresh(sensors, at - 3600.0, max_age_s, earlier=True)
    return Kpis(
        district=district.id if district is not None else None,
        name=district.name if district is not None else None,
        air_quality=_air_quality(now, before),
        congestion=_congestion(now, before),
        bathing_water=_bathing(now, before),
        noise=_noise(now, before),
        energy=_energy(now, before),
    )


def by_district(inputs: KpiInputs, at: float, max_age_s: float) -> tuple[Kpis, ...]:
    """The KPIs of every district of ``inputs`` (sensors without a district count nowhere)."""
    mine: dict[str, list[SensorInput]] = {d.id: [] for d in inputs.districts}
    for sensor in inputs.sensors:
        if sensor.district is not None:
            mine.setdefault(sensor.district, []).append(sensor)
    names = {d.id: d.name for d in inputs.districts}
    return tuple(
        compute(found, at, max_age_s, District(key, names.get(key)))
        for key, found in sorted(mine.items())
    )


class _Fresh:
    """The sensors' values at one moment: the fresh ones by kind, and the stale count."""

    def __init__(
        self, sensors: Sequence[SensorInput], at: float, max_age_s: float, *, earlier: bool
    ) -> None:
        self.values: dict[str, list[tuple[SensorInput, dict[str, float]]]] = {}
        self.stale: dict[str, int] = {}
        for sensor in sensors:
            wanted = METRICS.get(sensor.kind)
            if wanted is None:
                continue
            seen = sensor.earlier if earlier else sensor.now
            fresh = {m: seen[m].value for m in wanted if _fresh(seen.get(m), at, max_age_s)}
            if fresh:
                self.values.setdefault(sensor.kind, []).append((sensor, fresh))
            else:  # silent since it was installed, or for longer than max_age_s
                self.stale[sensor.kind] = self.stale.get(sensor.kind, 0) + 1

    def of(self, kind: str) -> list[tuple[SensorInput, dict[str, float]]]:
        return self.values.get(kind, [])

    def coverage(self, kind: str, used: int | None = None) -> Coverage:
        return Coverage(len(self.of(kind)) if used is None else used, self.stale.get(kind, 0))


def _fresh(seen: Observation | None, at: float, max_age_s: float) -> bool:
    # A value from after ``at`` (a gateway clock ahead) is fresh, not an error.
    return seen is not None and at - seen.observed_at <= max_age_s


def _medians(found: list[tuple[SensorInput, dict[str, float]]]) -> dict[str, float]:
    # Medians over sensors: one broken sensor cannot paint a whole district.
    per: dict[str, list[float]] = {}
    for _, values in found:
        for pollutant, value in values.items():
            per.setdefault(pollutant, []).append(value)
    return {p: statistics.median(per[p]) for p in POLLUTANTS if p in per}


def _air_quality(now: _Fresh, before: _Fresh) -> AirQuality:
    found = now.of("air_quality")
    medians = _medians(found)
    place = station_level(medians)
    stations = [level for _, values in found if (level := station_level(values)) is not None]
    previous = station_level(_medians(before.of("air_quality")))
    return AirQuality(
        level=place[0] if place else None,
        pollutant=place[1] if place else None,
        concentrations=medians,
        worst_station_level=max((lv for lv, _ in stations), default=None),
        previous_level=previous[0] if previous else None,
        coverage=now.coverage("air_quality"),
    )


def _speed_ratios(fresh: _Fresh) -> tuple[list[float], list[float], int]:
    indexes, speeds, unknown = [], [], 0
    for sensor, values in fresh.of("traffic_flow"):
        speeds.append(values[SPEED])
        if sensor.free_flow_kmh is None or sensor.free_flow_kmh <= 0:
            unknown += 1
        else:
            indexes.append(congestion_index(values[SPEED], sensor.free_flow_kmh))
    return indexes, speeds, unknown


def _congestion(now: _Fresh, before: _Fresh) -> Congestion:
    indexes, speeds, unknown = _speed_ratios(now)
    previous, _, _ = _speed_ratios(before)
    return Congestion(
        index=statistics.fmean(indexes) if indexes else None,
        mean_speed_kmh=statistics.fmean(speeds) if speeds else None,
        unknown_free_flow=unknown,
        previous_index=statistics.fmean(previous) if previous else None,
        coverage=now.coverage("traffic_flow", used=len(indexes)),
    )


def _sites(fresh: _Fresh) -> tuple[Site, ...]:
    worst: dict[str, Site] = {}
    for sensor, values in fresh.of("water_quality"):
        if not sensor.bathing:
            continue
        e_coli, entero = values.get(E_COLI), values.get(ENTEROCOCCI)
        status = bathing_status(e_coli, entero, inland=sensor.inland)
        key = sensor.site or sensor.entity
        known = worst.get(key)
        if known is None or _WORSE[status] > _WORSE[known.status]:
            worst[key] = Site(key, status, e_coli, entero)
    return tuple(worst[key] for key in sorted(worst))


def _worst(sites: Sequence[Site]) -> Bathing | None:
    return max((s.status for s in sites), key=_WORSE.__getitem__, default=None)


def _bathing(now: _Fresh, before: _Fresh) -> BathingWater:
    sites = _sites(now)
    used = sum(1 for sensor, _ in now.of("water_quality") if sensor.bathing)
    return BathingWater(
        status=_worst(sites),
        sites=sites,
        previous_status=_worst(_sites(before)),
        coverage=now.coverage("water_quality", used=used),
    )


def _levels(fresh: _Fresh) -> list[float]:
    return [values[NOISE] for _, values in fresh.of("noise")]


def _noise(now: _Fresh, before: _Fresh) -> Noise:
    levels, previous = _levels(now), _levels(before)
    return Noise(
        laeq_db=energetic_mean(levels) if levels else None,
        max_db=max(levels, default=None),
        previous_laeq_db=energetic_mean(previous) if previous else None,
        coverage=now.coverage("noise"),
    )


def _load(fresh: _Fresh) -> float | None:
    found = fresh.of("energy_meter")
    return math.fsum(values[POWER] for _, values in found) if found else None


def _energy(now: _Fresh, before: _Fresh) -> Energy:
    return Energy(
        load_kw=_load(now), previous_load_kw=_load(before), coverage=now.coverage("energy_meter")
    )
