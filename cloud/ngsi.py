"""Pure: the twin in NGSI-LD's normalized form, and the query language of its read view.

ETSI GS CIM 009 (v1.6), section 4.5 (normalized representation), 4.9 (the query language
``q``) and 4.10 (geo-queries). Only the subset the read view needs:

- an entity: ``id``, ``type``, ``location`` (GeoProperty), static attributes and live metrics
  (Property; metrics with ``observedAt`` and ``unitCode``), relationships (Relationship);
- ``q``: terms ``attr``, ``attr==v``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` joined by ``;``
  (AND), with ``v`` a number, a "quoted string", ``true`` or ``false``;
- ``georel``: ``near;maxDistance==m`` around a Point, ``within`` a Polygon.

Everything else (``|``, parentheses, ranges, lists, patterns, sub-attributes, the other
geo-relations) is refused with a QueryError that says what is not supported.

Exceptions:

    ValueError
     └── QueryError    a query parameter that cannot be read (an NGSI-LD BadRequestData)
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cloud import geo
from cloud.store.base import Near
from cloud.twin import Entity
from shared import catalogue

# The Smart Data Models context: it names our types and metrics (AirQualityObserved, pm25...)
# and brings the NGSI-LD core context with it. Clients fetch it, the server never does.
CONTEXT: Final = "https://smartdatamodels.org/context.jsonld"
# The same limit as the entity listing's ``near``.
MAX_DISTANCE_M: Final = 50_000.0
# Names NGSI-LD keeps for the entity itself: never an attribute's name.
RESERVED: Final = frozenset(
    {"@context", "id", "type", "scope", "location", "observationSpace", "operationSpace",
     "createdAt", "modifiedAt"}
)  # fmt: skip

JsonDict = dict[str, Any]


class QueryError(ValueError):
    """A query parameter that cannot be read; the message names the parameter and the fault."""


# --- The entity ------------------------------------------------------------------------------


def unit_code(kind: str | None, metric: str, unit: str | None) -> str | None:
    """The UN/CEFACT common code of a metric (``unitCode``), or None where there is none.

    The catalogue states each metric's code (shared/catalogue.py); a metric it does not know
    for this kind is looked up by its unit alone.
    """
    known = catalogue.kind(kind) if kind is not None else None
    found = known.metric(metric) if known is not None else catalogue.DEVICE_METRICS.get(metric)
    if found is not None:
        return found.unit_code
    return _CODES_BY_UNIT.get(unit) if unit is not None else None


def _codes_by_unit() -> dict[str, str]:
    metrics = itertools.chain(
        catalogue.DEVICE_METRICS.values(),
        *(k.metrics.values() for k in catalogue.KINDS.values()),
    )
    return {m.unit: m.unit_code for m in metrics if m.unit_code is not None}


# UN/CEFACT Recommendation 20 (Codes for Units of Measure Used in International Trade),
# rev. 17, Annex II/III. The catalogue's codes, by unit symbol: ug/m3 GQ (microgram per cubic
# metre), mg/m3 GP, degC CEL, km/h KMH, dB(A) 2N (decibel: the weighting is not coded),
# fraction C62 ("one"), mg/L M1, uS/cm G42, pH Q30, kW KWT, kWh KWH, m/s MTS, deg DD, hPa A97.
_CODES_BY_UNIT: Final = _codes_by_unit()


def observed_at(epoch_s: float) -> str:
    """An epoch time as NGSI-LD writes it: ISO 8601 in UTC with a Z, to the millisecond."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def to_ngsi(entity: Entity, *, context: bool = True) -> JsonDict:
    """``entity`` in NGSI-LD's normalized form; with its ``@context`` if ``context``."""
    out: JsonDict = {"id": entity.id, "type": entity.type}
    if entity.location is not None:
        out["location"] = {"type": "GeoProperty", "value": dict(entity.location)}
    static: dict[str, Any] = {"name": entity.name, "category": entity.category}
    # An entity only ever seen in readings has no city-file attributes: these say what it is.
    static |= {"sensorId": entity.sensor, "kind": entity.kind, "gatewayId": entity.gateway}
    static |= entity.attributes
    for name, value in static.items():
        if value is not None and name not in RESERVED:
            out[name] = {"type": "Property", "value": value}
    for name, targets in entity.relationships.items():
        if name not in RESERVED and targets:
            out[name] = _relationship(targets)
    # A live metric is what the entity says now: it wins over a static attribute of its name.
    for metric, state in entity.status.items():
        if metric in RESERVED:
            continue
        prop: JsonDict = {
            "type": "Property",
            "value": state.value,
            "observedAt": observed_at(state.observed_at),
        }
        code = unit_code(entity.kind, metric, state.unit)
        if code is not None:
            prop["unitCode"] = code
        out[metric] = prop
    if context:
        out["@context"] = CONTEXT
    return out


def _relationship(targets: Sequence[str]) -> JsonDict | list[JsonDict]:
    if len(targets) == 1:
        return {"type": "Relationship", "object": targets[0]}
    # Several targets are a multi-attribute: one instance per target, told apart by
    # datasetId. The target's own URN is a stable, unique datasetId.
    return [{"type": "Relationship", "object": t, "datasetId": t} for t in targets]


# --- q ---------------------------------------------------------------------------------------

_TERM = re.compile(
    r"""(?P<attr>[A-Za-z_][A-Za-z0-9_]*)
        (?:(?P<op>==|!=|>=|<=|>|<)
           (?P<value>"(?:[^"\\]|\\.)*"|[^;"|()]*))?""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OPS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}  # fmt: skip
_UNSUPPORTED = (
    ("|", "OR (|) is not supported: join terms with ; (AND)"),
    ("(", "parentheses are not supported"),
    (".", "sub-attributes (a.b) are not supported"),
    ("[", "compound values (a[b]) are not supported"),
    ("~=", "patterns (~=) are not supported"),
    ("!~=", "patterns (!~=) are not supported"),
)
Scalar = float | str | bool


@dataclass(frozen=True, slots=True)
class Condition:
    """One term of ``q``: the attribute exists, or its value compares to ``value`` by ``op``."""

    attr: str
    op: str | None = None
    value: Scalar | None = None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """Whether the NGSI-LD entity ``entity`` meets this term."""
        found = entity.get(self.attr) if self.attr not in RESERVED else None
        if found is None:
            return False
        if self.op is None:
            return True
        values = list(_values(found))
        if self.op == "!=":
            # Present, and no instance (or list element) equal: the negation of ==.
            return not any(_compare("==", v, self.value) for v in values)
        return any(_compare(self.op, v, self.value) for v in values)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed ``q``: all its conditions must hold."""

    conditions: tuple[Condition, ...]

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """Whether the NGSI-LD entity ``entity`` meets every condition."""
        return all(c.matches(entity) for c in self.conditions)


def parse_q(text: str) -> Query:
    """``q`` parsed; QueryError if it is malformed or uses what the view does not support."""
    conditions = []
    pos = 0
    while True:
        term = _TERM.match(text, pos)
        if term is None or term.end() == pos:
            raise QueryError(f"q: expected an attribute name at position {pos} of {text!r}")
        pos = term.end()
        if pos < len(text) and text[pos] != ";":
            raise QueryError(f"q: {_fault(text, pos)} (at position {pos} of {text!r})")
        conditions.append(_condition(term))
        if pos == len(text):
            return Query(tuple(conditions))
        pos += 1


def _condition(term: re.Match[str]) -> Condition:
    attr, op, raw = term["attr"], term["op"], term["value"]
    if op is None:
        return Condition(attr)
    value = _value(raw)
    if isinstance(value, bool) and op not in ("==", "!="):
        raise QueryError(f"q: {attr}{op}{raw}: true and false compare only with == and !=")
    return Condition(attr, op, value)


def _value(raw: str) -> Scalar:
    if raw.startswith('"'):
        try:
            text: str = json.loads(raw)
        except ValueError as exc:
            raise QueryError(f"q: {raw} is not a well-formed JSON string: {exc}") from exc
        return text
    if raw in ("true", "false"):
        return raw == "true"
    if _NUMBER.fullmatch(raw):
        number = float(raw)
        if math.isfinite(number):
            return number
    if ".." in raw or "," in raw:
        raise QueryError(f"q: {raw!r}: ranges (a..b) and lists (a,b) are not supported")
    raise QueryError(f'q: {raw!r} is not a number, true, false or a "quoted string"')


def _fault(text: str, pos: int) -> str:
    for token, message in _UNSUPPORTED:
        if text.startswith(token, pos):
            return message
    return f"unexpected {text[pos]!r}: terms are attr, attr==value, != > >= < <=, joined by ;"


def _values(attribute: Any) -> Iterator[Any]:
    """What ``q`` compares: a Property's value (each element of a list), a Relationship's
    object; every instance of a multi-attribute."""
    for instance in attribute if isinstance(attribute, list) else [attribute]:
        if instance.get("type") == "Relationship":
            yield instance["object"]
            continue
        value = instance.get("value")
        yield from value if isinstance(value, list) else [value]


def _compare(op: str, left: Any, right: Scalar | None) -> bool:
    # Numbers compare with numbers, strings with strings, booleans with booleans: any other
    # pair never matches (bool is an int to Python, so it is told apart first).
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and _OPS[op](left, right)
    if isinstance(left, int | float) and isinstance(right, float):
        return _OPS[op](float(left), right)
    if isinstance(left, str) and isinstance(right, str):
        return _OPS[op](left, right)
    return False


# --- georel ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Within:
    """Entities inside a polygon (outer ring and holes, lon/lat), found through its bounds."""

    rings: tuple[tuple[geo.Position, ...], ...]
    box: geo.Box

    def contains(self, location: Mapping[str, Any] | None) -> bool:
        """Whether every vertex of ``location`` lies inside the polygon.

        Exact for points. For a line or polygon it is exact when the query polygon is convex;
        in a concave one an edge between two inside vertices may still cross out.
        """
        if location is None:
            return False
        try:
            positions = list(_positions(location.get("coordinates")))
        except (TypeError, ValueError, IndexError):
            return False
        return bool(positions) and all(_inside(p, self.rings) for p in positions)


GeoQuery = Near | Within


def parse_geo(
    georel: str | None, geometry: str | None, coordinates: str | None, geoproperty: str | None
) -> GeoQuery | None:
    """The geo-query of ``georel``, ``geometry`` and ``coordinates``; None if none is given."""
    given = [p for p in (georel, geometry, coordinates) if p is not None]
    if geoproperty not in (None, "location"):
        raise QueryError(f"geoproperty: only location is supported, not {geoproperty!r}")
    if not given:
        return None
    if georel is None or geometry is None or coordinates is None:
        raise QueryError("georel, geometry and coordinates must be given together")
    relation, *modifiers = georel.split(";")
    if relation == "near":
        return _near(modifiers, geometry, _coordinates(coordinates))
    if relation == "within":
        if modifiers:
            raise QueryError(f"georel: within takes no modifiers, got {';'.join(modifiers)!r}")
        return _within(geometry, _coordinates(coordinates))
    raise QueryError(f"georel: {relation!r} is not supported: near and within are")


def _coordinates(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise QueryError(f"coordinates: not a JSON array: {exc}") from exc


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a coordinate")


def _near(modifiers: Sequence[str], geometry: str, coordinates: Any) -> Near:
    if geometry != "Point":
        raise QueryError(f"geometry: near needs a Point, not {geometry!r}")
    distances: dict[str, float] = {}
    for modifier in modifiers:
        name, sep, raw = modifier.partition("==")
        if not sep or name not in ("maxDistance", "minDistance"):
            raise QueryError(f"georel: {modifier!r} is not maxDistance==<metres>")
        if name in distances:
            raise QueryError(f"georel: {name} is given twice")
        distances[name] = _metres(raw)
    if "minDistance" in distances:
        raise QueryError("georel: minDistance is not supported: use maxDistance")
    if "maxDistance" not in distances:
        raise QueryError("georel: near needs maxDistance==<metres>")
    lon, lat = _point(coordinates)
    return Near(lon, lat, distances["maxDistance"])


def _metres(raw: str) -> float:
    metres = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not 0 < metres <= MAX_DISTANCE_M:
        raise QueryError(f"georel: maxDistance must be metres in (0, {MAX_DISTANCE_M:g}]")
    return metres


def _point(coordinates: Any) -> geo.Position:
    try:
        box = geo.bounds({"type": "Point", "coordinates": coordinates})
    except geo.GeometryError as exc:
        raise QueryError(f"coordinates: a Point is [lon, lat]: {exc}") from exc
    if not isinstance(coordinates, list) or len(coordinates) != 2:
        raise QueryError("coordinates: a Point is [lon, lat]")
    return box.min_lon, box.min_lat


def _within(geometry: str, coordinates: Any) -> Within:
    if geometry != "Polygon":
        raise QueryError(f"geometry: within needs a Polygon, not {geometry!r}")
    try:
        box = geo.bounds({"type": "Polygon", "coordinates": coordinates})
    except geo.GeometryError as exc:
        raise QueryError(f"coordinates: not a Polygon's rings of [lon, lat]: {exc}") from exc
    rings = tuple(tuple((float(p[0]), float(p[1])) for p in ring) for ring in coordinates)
    for ring in rings:
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise QueryError("coordinates: a Polygon's rings are closed, of 4+ positions")
    return Within(rings, box)


def _positions(coords: Any) -> Iterator[geo.Position]:
    """The [lon, lat] positions of a GeoJSON geometry's coordinates, at any depth."""
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        yield float(coords[0]), float(coords[1])
        return
    if not isinstance(coords, list | tuple):
        raise TypeError(f"{coords!r} is not coordinates")
    for item in coords:
        yield from _positions(item)


def _inside(point: geo.Position, rings: Sequence[Sequence[geo.Position]]) -> bool:
    """Even-odd ray casting in plain lon/lat: inside the outer ring and outside every hole."""
    x, y = point
    crossings = 0
    for ring in rings:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
    return crossings % 2 == 1
