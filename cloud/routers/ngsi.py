"""GET /ngsi-ld/v1/entities: the twin read as NGSI-LD (ETSI GS CIM 009), for FIWARE tools.

Read-only, with the same auth as the rest of the read API. Answers are JSON-LD carrying the
``@context`` (or, when ``Accept`` asks for ``application/json`` alone, plain JSON with the
context in a ``Link`` header). A refused request gets an NGSI-LD ProblemDetails body
(RFC 7807), but for the auth answers (401, 403), which read as everywhere else.

``q``, ``within`` and more than one ``type`` are applied here, not in the store: the listing
then reads at most SCAN_LIMIT entities matching the store's own filters (one ``type``, the
bounds of ``within``, ``near``) and pages what passes. A query that would read more is
refused with TooManyResults: narrow it with ``type`` or a geo-query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from cloud import ngsi
from cloud.deps import StoreDep, ViewerDep
from cloud.models import ErrorPublic, Limit, Offset, Responses
from cloud.store import EntityQuery, Near, Store
from cloud.twin import Entity

LD_JSON: Final = "application/ld+json"
SCAN_LIMIT: Final = 10_000
_SCAN_PAGE: Final = 1000
COUNT_HEADER: Final = "NGSILD-Results-Count"
LINK: Final = f'<{ngsi.CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD_JSON}"'
_ERRORS: Final = "https://uri.etsi.org/ngsi-ld/errors/"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


# --- What the document shows --------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProblemDetails(_Model):
    """An NGSI-LD error (RFC 7807): its type URI, a title, and what is wrong in words."""

    type: str
    title: str
    status: int
    detail: str


class NgsiProperty(_Model):
    """A static attribute, or a live metric with when it was observed and its UN/CEFACT unit."""

    type: Literal["Property"]
    value: Any
    observedAt: str | None = None  # noqa: N815  (NGSI-LD's name)
    unitCode: str | None = None  # noqa: N815


class NgsiGeoProperty(_Model):
    """The entity's GeoJSON geometry."""

    type: Literal["GeoProperty"]
    value: dict[str, Any]


class NgsiRelationship(_Model):
    """A link to another entity; ``datasetId`` tells apart the instances of a multi-link."""

    type: Literal["Relationship"]
    object: str
    datasetId: str | None = None  # noqa: N815


Attribute = Annotated[NgsiProperty | NgsiRelationship, Field(discriminator="type")]


class NgsiEntity(BaseModel):
    """An entity in NGSI-LD's normalized form; every other member is one of its attributes."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)
    __pydantic_extra__: dict[str, Attribute | list[Attribute]] = Field(init=False)

    id: str
    type: str
    context: str | None = Field(None, alias="@context")
    location: NgsiGeoProperty | None = None


def _problem(status: int, kind: str, title: str, detail: str) -> JSONResponse:
    body = ProblemDetails(type=_ERRORS + kind, title=title, status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status)


def _bad_request(detail: str) -> JSONResponse:
    return _problem(400, "BadRequestData", "A query parameter cannot be read", detail)


class _NgsiRoute(APIRoute):
    """A parameter FastAPI cannot read is an NGSI-LD 400 BadRequestData here, not a 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _bad_request("; ".join(_described(e) for e in exc.errors()))

        return handle


def _described(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
    return f"{where}: {error.get('msg', 'invalid')}"


def _ok(model: Any, description: str) -> dict[str, Any]:
    # The same schema in both media types; FastAPI puts the model in the route's (JSON) one.
    schema: dict[str, Any] = {"$ref": "#/components/schemas/NgsiEntity"}
    if model is not NgsiEntity:
        schema = {"type": "array", "items": schema}
    return {
        "model": model,
        "description": description,
        "content": {LD_JSON: {"schema": schema}},
    }


_AUTH: Responses = {
    401: {"model": ErrorPublic, "description": "No credential, or an unknown or revoked one"},
}
_BAD: Responses = {
    400: {"model": ProblemDetails, "description": "BadRequestData: a parameter is wrong"}
}

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=_NgsiRoute)


# --- Routes ------------------------------------------------------------------------------------


@router.get(
    "/entities",
    response_model=None,
    responses={
        200: {
            **_ok(list[NgsiEntity], "Entities ordered by id (by distance with near)"),
            "headers": {
                COUNT_HEADER: {
                    "description": "With count=true: the matches over all pages",
                    "schema": {"type": "integer"},
                }
            },
        },
        **_BAD,
        **_AUTH,
        403: {
            "model": ErrorPublic | ProblemDetails,
            "description": "A gateway token (reading needs an API key); or TooManyResults: "
            f"the query would read more than {SCAN_LIMIT} entities",
        },
    },
)
async def query_entities(
    request: Request,
    store: StoreDep,
    _: ViewerDep,
    type_: Annotated[
        str | None,
        Query(alias="type", max_length=1000, description="type names, comma-separated (OR)"),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=2000, description='e.g. pm25>25;name=="sim-aq-0001" (; is AND)'),
    ] = None,
    georel: Annotated[
        str | None, Query(max_length=100, description="near;maxDistance==<metres>, or within")
    ] = None,
    geometry: Annotated[
        str | None, Query(max_length=20, description="Point (near) or Polygon (within)")
    ] = None,
    coordinates: Annotated[
        str | None,
        Query(max_length=20_000, description="JSON: [lon,lat], or a Polygon's rings"),
    ] = None,
    geoproperty: Annotated[str | None, Query(max_length=100, description="only location")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
    count: Annotated[bool, Query(description=f"return the total in {COUNT_HEADER}")] = False,
) -> Response:
    """Entities of the twin in NGSI-LD form, filtered by type, q and a geo-query, paged."""
    try:
        geo = ngsi.parse_geo(georel, geometry, coordinates, geoproperty)
        selection = _Selection.of(type_, q, geo)
    except ngsi.QueryError as exc:
        return _bad_request(str(exc))
    found = await selection.run(store, limit, offset)
    if found is None:
        return _problem(
            403,
            "TooManyResults",
            "The query reads too many entities",
            f"more than {SCAN_LIMIT} entities pass the store's filters; "
            "narrow the query with type or a geo-query",
        )
    items, total = found
    headers = {COUNT_HEADER: str(total)} if count else {}
    return _answer(request, items, headers)


@router.get(
    "/entities/{entity_id}",
    response_model=None,
    responses={
        200: _ok(NgsiEntity, "The entity"),
        **_BAD,
        **_AUTH,
        403: {"model": ErrorPublic, "description": "A gateway token: reading needs an API key"},
        404: {"model": ProblemDetails, "description": "ResourceNotFound: no such entity"},
    },
)
async def retrieve_entity(
    entity_id: str, request: Request, store: StoreDep, _: ViewerDep
) -> Response:
    """One entity in NGSI-LD form, e.g. urn:ngsi-ld:District:district-03."""
    if not _URI.fullmatch(entity_id):
        return _bad_request(f"entityId: {entity_id!r} is not a URI")
    found = await store.entity(entity_id)
    if found is None:
        return _problem(404, "ResourceNotFound", "No such entity", f"no entity {entity_id!r}")
    return _answer(request, ngsi.to_ngsi(found, context=False), {})


# --- Query and answer ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Selection:
    """What the store filters (``store``) and what is checked here afterwards."""

    store: EntityQuery
    types: frozenset[str] | None
    q: ngsi.Query | None
    within: ngsi.Within | None

    @classmethod
    def of(cls, type_: str | None, q: str | None, geo: ngsi.GeoQuery | None) -> _Selection:
        """The selection of the request's parameters; QueryError if one cannot be read."""
        types = _types(type_) if type_ is not None else None
        within = geo if isinstance(geo, ngsi.Within) else None
        store = EntityQuery(
            type=next(iter(types)) if types is not None and len(types) == 1 else None,
            near=geo if isinstance(geo, Near) else None,
            bbox=within.box if within is not None else None,
        )
        several = types if types is not None and len(types) > 1 else None
        return cls(store, several, ngsi.parse_q(q) if q is not None else None, within)

    async def run(
        self, store: Store, limit: int, offset: int
    ) -> tuple[list[ngsi.JsonDict], int] | None:
        """One page of matches and their total; None if finding them reads too many."""
        if self.types is None and self.q is None and self.within is None:
            page = await store.entities(replace(self.store, limit=limit, offset=offset))
            return [ngsi.to_ngsi(e, context=False) for e in page.items], page.total
        matches = await self._scan(store)
        if matches is None:
            return None
        return matches[offset : offset + limit], len(matches)

    async def _scan(self, store: Store) -> list[ngsi.JsonDict] | None:
        matches: list[ngsi.JsonDict] = []
        for start in range(0, SCAN_LIMIT, _SCAN_PAGE):
            page = await store.entities(replace(self.store, limit=_SCAN_PAGE, offset=start))
            matches.extend(self._kept(page.items))
            if start + _SCAN_PAGE >= page.total:
                return matches
        return None

    def _kept(self, entities: Sequence[Entity]) -> list[ngsi.JsonDict]:
        kept = []
        for entity in entities:
            if self.types is not None and entity.type not in self.types:
                continue
            if self.within is not None and not self.within.contains(entity.location):
                continue
            form = ngsi.to_ngsi(entity, context=False)
            if self.q is None or self.q.matches(form):
                kept.append(form)
        return kept


def _types(text: str) -> frozenset[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise ngsi.QueryError(f"type: {text!r} has an empty type name")
    return frozenset(names)


def _answer(
    request: Request, body: ngsi.JsonDict | list[ngsi.JsonDict], headers: dict[str, str]
) -> Response:
    """JSON-LD with the context in each entity, or JSON with it in a Link header."""
    if _wants_plain_json(request.headers.get("accept")):
        return JSONResponse(body, headers={**headers, "Link": LINK})
    ld: ngsi.JsonDict | list[ngsi.JsonDict] = (
        [{**e, "@context": ngsi.CONTEXT} for e in body]
        if isinstance(body, list)
        else {**body, "@context": ngsi.CONTEXT}
    )
    return JSONResponse(ld, media_type=LD_JSON, headers=headers)


def _wants_plain_json(accept: str | None) -> bool:
    # Media ranges alone, quality values aside: JSON-LD unless JSON is named and JSON-LD is not.
    ranges = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    return "application/json" in ranges and LD_JSON not in ranges
