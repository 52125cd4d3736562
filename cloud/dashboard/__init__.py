"""The operator dashboard: static files (plain ES modules, vendored libraries) served at ``/``.

There is no build step: ``static/`` is what the browser loads. ``scripts/vendor-js`` refreshes
``static/vendor/`` from pinned npm releases; ``cloud.dashboard.screenshots`` pictures each view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

STATIC: Final = Path(__file__).resolve().parent / "static"
