"""Finding and starting the system's Chromium for Playwright (screenshots, tests, benchmark).

Playwright's own browser download is not used: it needs a host outside the package registries,
and a control room's machine has its distribution's Chromium anyway.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class NoBrowser(RuntimeError):
    """No Chromium was found to drive."""


def find_chromium() -> Path | None:
    """$CITYTWIN_CHROMIUM if set, else the first Chromium on PATH; None if there is none."""
    named = os.environ.get("CITYTWIN_CHROMIUM")
    if named:
        return Path(named) if Path(named).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch(playwright: Playwright, executable: Path | None = None) -> Browser:
    """A headless Chromium; NoBrowser if none is installed."""
    path = executable or find_chromium()
    if path is None:
        raise NoBrowser(
            "no Chromium found: install your distribution's chromium package "
            "(e.g. apt-get install chromium) or set CITYTWIN_CHROMIUM to its path"
        )
    # As root (containers, CI), Chromium refuses to start inside its sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=str(path), headless=True, args=args)
