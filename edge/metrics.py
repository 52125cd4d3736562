"""The agent's counters for Prometheus, on an opt-in local port (``metrics_port``).

Scrapes read what the agent already keeps: the pipeline's counters, the uplink's state and the
newest heartbeat (buffer depth, oldest unsent age, shed readings, CPU, memory, clock offset),
so a scrape never touches the store or waits for the event loop. The heartbeat is refreshed
every ``heartbeat_s``; counters are live.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from edge.errors import ConfigError
from edge.pipeline import Counters
from edge.uplink import UplinkState

PREFIX: Final = "citytwin_edge"

# Heartbeat fields exported as gauges: (field, metric name, help).
_GAUGES: Final = (
    ("buffer_depth", "outbox_records", "Records waiting in the outbox"),
    ("oldest_unsent_age_s", "oldest_unsent_age_seconds", "Age of the oldest unsent record"),
    ("shed_total", "shed_readings", "Readings given up to the disk quota (sent as gaps)"),
    ("cpu_percent", "cpu_percent", "CPU of the agent and its MQTT link, % of one core"),
    ("rss_mb", "resident_memory_megabytes", "Resident memory of the agent and its MQTT link"),
    ("disk_free_mb", "disk_free_megabytes", "Free space beside the store"),
    ("clock_offset_s", "clock_offset_seconds", "The cloud's clock minus the gateway's"),
)


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a scrape reads: live counters, the uplink's state, the newest heartbeat."""

    gateway: str
    counters: Counters
    uplink: Callable[[], UplinkState | None]
    heartbeat: Callable[[], dict[str, Any] | None]


class AgentCollector(Collector):
    """Turns the agent's counters into metric families at each scrape."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        """Every metric, labelled with the gateway id."""
        gw = [self._sources.gateway]
        c = self._sources.counters
        for name, value, text in (
            ("messages", c.messages, "Messages received from sensors"),
            ("readings", c.readings, "Readings accepted"),
            ("duplicate_readings", c.duplicates, "Readings already seen (redeliveries)"),
            ("sensor_restarts", c.restarts, "Sensors that restarted their numbering"),
            ("missing_readings", c.missing, "Readings never received (sequence gaps)"),
            ("dead_letters", c.dead_letters, "Messages refused and kept as dead letters"),
        ):
            yield _counter(name, text, gw, value)
        refused = CounterMetricFamily(
            f"{PREFIX}_dead_letters_by_reason",
            "Dead letters by reason",
            labels=["gateway", "reason"],
        )
        for reason, count in sorted(c.rejected_by_reason.items()):
            refused.add_metric([*gw, reason], count)
        yield refused
        state = self._sources.uplink()
        if state is not None:
            yield _counter("uploaded_records", "Records the cloud acknowledged", gw, state.sent)
            yield _counter("upload_failures", "Uploads that failed (retried)", gw, state.failures)
            yield _counter(
                "refused_records", "Records the cloud refused, set aside", gw, state.refused
            )
        beat = self._sources.heartbeat()
        for field, name, text in _GAUGES:
            measured = None if beat is None else beat.get(field)
            if isinstance(measured, (int, float)):
                gauge = GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=["gateway"])
                gauge.add_metric(gw, float(measured))
                yield gauge


def _counter(name: str, text: str, gateway: list[str], value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", text, labels=["gateway"])
    family.add_metric(gateway, value)
    return family


class MetricsServer:
    """The /metrics endpoint on its own thread (prometheus_client's WSGI server)."""

    def __init__(self, sources: Sources, host: str, port: int) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(AgentCollector(sources))
        self._host, self._port = host, port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen; the port actually bound (0 asks for a free one)."""
        try:
            self._server, self._thread = start_http_server(
                self._port, self._host, registry=self._registry
            )
        except OSError as exc:
            raise ConfigError(
                f"metrics_port: cannot listen on {self._host}:{self._port}: {exc.strerror}"
            ) from exc
        return int(self._server.server_port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
