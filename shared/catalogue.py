"""The sensor catalogue: kinds of sensor, their metrics, units and physically possible ranges.

Metric names follow the FIWARE Smart Data Models where one exists (``sdm_type`` names the
model), so the twin can be served as NGSI-LD. ``unit_code`` is the UN/CEFACT common code that
NGSI-LD's ``unitCode`` expects, where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity: its wire name, its unit and the range a working sensor can report."""

    name: str
    unit: str
    low: float
    high: float
    unit_code: str | None = None
    description: str = ""

    def accepts(self, value: float) -> bool:
        """True if ``value`` is physically possible for this metric."""
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class SensorKind:
    """A kind of sensor: the Smart Data Model it reports as and the metrics it may send."""

    name: str
    sdm_type: str
    title: str
    metrics: MappingProxyType[str, Metric]

    def metric(self, name: str) -> Metric | None:
        """The metric called ``name`` for this kind (device metrics included), or None."""
        return self.metrics.get(name) or DEVICE_METRICS.get(name)


def _metrics(*metrics: Metric) -> MappingProxyType[str, Metric]:
    return MappingProxyType({m.name: m for m in metrics})


# Any sensor may also report its own health; these never make a reading invalid for its kind.
DEVICE_METRICS: Final = _metrics(
    Metric("batteryLevel", "fraction", 0.0, 1.0, "C62", "remaining battery, 0..1"),
    Metric("rssi", "dBm", -150.0, 0.0, None, "radio signal strength"),
)

_KINDS = (
    SensorKind(
        "air_quality",
        "AirQualityObserved",
        "Air quality",
        _metrics(
            Metric("pm25", "ug/m3", 0.0, 1000.0, "GQ", "particulate matter < 2.5 um"),
            Metric("pm10", "ug/m3", 0.0, 2000.0, "GQ", "particulate matter < 10 um"),
            Metric("no2", "ug/m3", 0.0, 2000.0, "GQ", "nitrogen dioxide"),
            Metric("o3", "ug/m3", 0.0, 1000.0, "GQ", "ozone"),
            Metric("co", "mg/m3", 0.0, 100.0, "GP", "carbon monoxide"),
        ),
    ),
    SensorKind(
        "traffic_flow",
        "TrafficFlowObserved",
        "Traffic flow",
        _metrics(
            Metric("intensity", "vehicles/h", 0.0, 10000.0, None, "vehicles per hour"),
            Metric("averageVehicleSpeed", "km/h", 0.0, 250.0, "KMH", "mean vehicle speed"),
            Metric("occupancy", "fraction", 0.0, 1.0, "C62", "share of time the loop is occupied"),
        ),
    ),
    SensorKind(
        "water_quality",
        "WaterQualityObserved",
        "Water quality",
        _metrics(
            Metric("temperature", "degC", -5.0, 45.0, "CEL", "water temperature"),
            Metric("pH", "pH", 0.0, 14.0, "Q30", "acidity"),
            Metric("turbidity", "NTU", 0.0, 4000.0, None, "nephelometric turbidity"),
            Metric("O2", "mg/L", 0.0, 25.0, "M1", "dissolved oxygen"),
            Metric("conductivity", "uS/cm", 0.0, 100000.0, "G42", "electrical conductivity"),
            Metric("escherichiaColi", "cfu/100mL", 0.0, 1e6, None, "E. coli (bathing water)"),
            Metric("enterococci", "cfu/100mL", 0.0, 1e6, None, "intestinal enterococci"),
        ),
    ),
    SensorKind(
        "noise",
        "NoiseLevelObserved",
        "Noise level",
        _metrics(
            Metric("LAeq", "dB(A)", 0.0, 150.0, "2N", "equivalent continuous level"),
            Metric("LAmax", "dB(A)", 0.0, 160.0, "2N", "maximum level"),
        ),
    ),
    SensorKind(
        "energy_meter",
        "ThreePhaseAcMeasurement",
        "Energy meter",
        _metrics(
            Metric("activePower", "kW", -10000.0, 10000.0, "KWT", "instantaneous active power"),
            Metric("totalActiveEnergyImport", "kWh", 0.0, 1e12, "KWH", "energy meter register"),
            Metric("powerFactor", "fraction", -1.0, 1.0, "C62", "power factor"),
        ),
    ),
    SensorKind(
        "parking",
        "OffStreetParking",
        "Parking",
        _metrics(
            Metric("availableSpotNumber", "spots", 0.0, 10000.0, "C62", "free spots"),
            Metric("occupancy", "fraction", 0.0, 1.0, "C62", "share of spots taken"),
        ),
    ),
    SensorKind(
        "weather",
        "WeatherObserved",
        "Weather",
        _metrics(
            Metric("temperature", "degC", -60.0, 60.0, "CEL", "air temperature"),
            Metric("relativeHumidity", "fraction", 0.0, 1.0, "C62", "relative humidity"),
            Metric("precipitation", "mm/h", 0.0, 500.0, None, "rain rate"),
            Metric("windSpeed", "m/s", 0.0, 100.0, "MTS", "wind speed"),
            Metric("windDirection", "deg", 0.0, 360.0, "DD", "wind direction"),
            Metric("atmosphericPressure", "hPa", 800.0, 1100.0, "A97", "air pressure"),
        ),
    ),
    SensorKind(
        "people_counter",
        "CrowdFlowObserved",
        "People counter",
        _metrics(
            Metric("peopleCount", "people", 0.0, 100000.0, "C62", "people counted in the period"),
        ),
    ),
)

KINDS: Final = MappingProxyType({k.name: k for k in _KINDS})


def kind(name: str) -> SensorKind | None:
    """The sensor kind called ``name``, or None if the catalogue does not know it."""
    return KINDS.get(name)
