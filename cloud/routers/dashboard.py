"""The operator dashboard: the page at ``/``, its files under ``/dashboard/``, and its config.

The page and its files are public (they hold no data); everything it shows comes from the API
with the operator's key, so the API's auth decides what the operator may see and do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from citytwin import __version__
from cloud.dashboard import STATIC
from cloud.deps import SettingsDep

router = APIRouter(tags=["dashboard"], include_in_schema=False)

# Browsers load ES modules only with a JavaScript type; the platform's guess is not relied on.
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# Revalidate every time (a cheap 304 thanks to the ETag), so an upgrade is seen without a
# hard reload and no stale module mixes with a new one.
_HEADERS: Final = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@router.get("/")
async def page() -> FileResponse:
    """The dashboard's single page."""
    return _file(STATIC / "index.html")


@router.get("/dashboard/config.json")
async def config(settings: SettingsDep) -> dict[str, float | str]:
    """What the page needs to judge freshness as the aggregator does."""
    return {
        "version": __version__,
        "stale_after_s": settings.stale_after_s,
        "offline_after_s": settings.offline_after_s,
    }


@router.get("/dashboard/{path:path}")
async def static_file(path: str) -> FileResponse:
    """A file of the dashboard (scripts, styles, vendored libraries)."""
    return _file(_resolve(path))


def _resolve(path: str) -> Path:
    # Resolve first, then require the result inside STATIC: no ``..`` or symlink escapes.
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise HTTPException(404, detail=f"no dashboard file {path!r}")
    return target


def _file(path: Path) -> FileResponse:
    media_type = _TYPES.get(path.suffix)
    if media_type is None:
        raise HTTPException(404, detail=f"no dashboard file {path.name!r}")
    return FileResponse(path, media_type=media_type, headers=_HEADERS)
