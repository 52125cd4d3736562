"""The simulator's city file, written by the simulator's own code, for tests that seed a twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firmware_sim.city import generate_city
from firmware_sim.city.twin import dumps


def write_city(path: Path, *, seed: int = 7, sensors: int = 40) -> dict[str, Any]:
    """Write the city of ``seed`` to ``path``; return it as parsed JSON."""
    text = dumps(generate_city(seed, sensors))
    path.write_text(text)
    data: dict[str, Any] = json.loads(text)
    return data
