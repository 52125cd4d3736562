"""The dashboard's files as the aggregator serves them, and the vendored libraries' pins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.dashboard import STATIC
from tests.dashboard.conftest import Dashboard

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_is_served_at_the_root(dashboard: Dashboard) -> None:
    response = dashboard.http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>citytwin" in response.text


def test_every_file_the_page_names_is_served_with_its_type(dashboard: Dashboard) -> None:
    page = dashboard.http.get("/").text
    named = re.findall(r'(?:src|href)="(/dashboard/[^"]+)"', page)
    types = {".js": "text/javascript", ".css": "text/css"}

    assert len(named) >= 8  # three libraries, their styles, ours
    for path in named:
        response = dashboard.http.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(types[Path(path).suffix]), path


def test_every_module_imports_only_served_modules(dashboard: Dashboard) -> None:
    for module in (STATIC / "js").glob("*.js"):
        for target in re.findall(r'from "\./([\w-]+\.js)"', module.read_text()):
            response = dashboard.http.get(f"/dashboard/js/{target}")
            assert response.status_code == 200, f"{module.name} imports {target}"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/../__init__.py",
        "/dashboard/%2e%2e/__init__.py",
        "/dashboard/..%2F..%2Fapp.py",
        "/dashboard/js/nothing.js",
        "/dashboard/vendor",
        "/dashboard/vendor/leaflet/LICENSE",  # served only as a file of a known type
    ],
)
def test_nothing_outside_the_static_files_is_served(dashboard: Dashboard, path: str) -> None:
    assert dashboard.http.get(path).status_code == 404


def test_the_config_tells_the_page_the_aggregators_ages(dashboard: Dashboard) -> None:
    config = dashboard.http.get("/dashboard/config.json").json()
    settings = dashboard.server.settings

    assert config["stale_after_s"] == settings.stale_after_s
    assert config["offline_after_s"] == settings.offline_after_s


def test_the_vendored_libraries_match_their_pins() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor-js"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((STATIC / "vendor" / "manifest.json").read_text())
    assert set(manifest) == {"leaflet", "leaflet.markercluster", "uplot"}
    for folder, entry in manifest.items():
        assert "LICENSE" in entry["files"], f"{folder} ships without its licence"
        assert entry["integrity"].startswith("sha512-")
