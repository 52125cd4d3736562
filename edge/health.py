"""Heartbeats: the gateway's health as measured here, never as assumed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import psutil

from edge.pipeline import Counters


class Health:
    """Measures the process and turns counters into heartbeat records."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._process = psutil.Process()
        self._process.cpu_percent()  # first call primes the measurement
        self._children: dict[int, psutil.Process] = {}
        self._started = time.time()
        self._last: tuple[float, int] = (time.monotonic(), 0)

    def _usage(self) -> dict[str, float]:
        """CPU (% of one core) and resident memory of the agent with its MQTT link process."""
        family = [self._process]
        try:
            current = self._process.children()
        except psutil.Error:
            current = []
        for child in current:
            if child.pid not in self._children:
                self._children[child.pid] = child
                child.cpu_percent()  # primes it: its first heartbeat counts from here
        for pid in list(self._children):
            if pid not in {c.pid for c in current}:
                del self._children[pid]
        family += self._children.values()
        cpu = rss = 0.0
        for process in family:
            try:
                cpu += process.cpu_percent()
                rss += process.memory_info().rss
            except psutil.Error:
                continue  # it exited between the listing and now
        return {"cpu_percent": cpu, "rss_mb": rss / 1e6}

    def heartbeat(
        self,
        counters: Counters,
        depth: int,
        oldest: float | None,
        *,
        shed_total: int,
        model_version: str | None,
        config_version: int,
        clock_offset_s: float | None = None,
    ) -> dict[str, Any]:
        """A heartbeat record (without its outbox seq)."""
        now, mono = time.time(), time.monotonic()
        last_mono, last_readings = self._last
        rate = (counters.readings - last_readings) / max(mono - last_mono, 1e-9)
        self._last = (mono, counters.readings)
        return {
            "type": "heartbeat",
            "ts": now,
            "uptime_s": now - self._started,
            **self._usage(),
            "disk_free_mb": shutil.disk_usage(self._data_dir).free / 1e6,
            "buffer_depth": depth,
            "oldest_unsent_age_s": max(0.0, now - oldest) if oldest is not None else 0.0,
            "readings_total": counters.readings,
            "readings_per_s": rate,
            "dead_letter_total": counters.dead_letters,
            "shed_total": shed_total,
            "model_version": model_version,
            "config_version": config_version,
            "clock_offset_s": clock_offset_s,
        }
