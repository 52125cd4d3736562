"""The task that runs the cloud rules (cloud/rules.py) every ``rules_interval_s``.

One evaluation reads the fleet, the silent sensors and the district KPIs, turns them into
findings, and applies them to incidents in one store transaction; each incident it changed is
published on the live stream as an operator's change would be. Every process of a shared
store runs it: the store makes concurrent evaluations apply one after the other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from cloud import kpis, rules
from cloud.fleet import Gateway
from cloud.incidents import Action, Incident
from cloud.rules import Ruled
from cloud.settings import CloudSettings
from cloud.store import Store

log = logging.getLogger(__name__)

Publish = Callable[[Incident, Action], Awaitable[None]]
_PAGE = 1000


async def evaluate(store: Store, settings: CloudSettings, at: float) -> Sequence[Ruled]:
    """Run every rule once, as of ``at``; the incidents it opened or changed."""
    gateways = rules.gateway_findings(
        await _gateways(store), at, settings.stale_after_s, settings.offline_after_s
    )
    heard = await store.silence(at - settings.silent_after_s)
    silent = rules.silent_findings(
        heard, at, settings.silent_after_s, rules.offline_gateways(gateways)
    )
    districts = kpis.by_district(await store.kpi_inputs(None, at), at, settings.kpi_max_age_s)
    findings = [*gateways, *silent, *rules.kpi_findings(districts, settings.kpi_rules)]
    return await store.apply_findings(findings, at)


async def _gateways(store: Store) -> list[Gateway]:
    found: list[Gateway] = []
    while True:
        page = await store.gateways(_PAGE, len(found))
        found += page.items
        if not page.items or len(found) >= page.total:
            return found


async def watch(store: Store, settings: CloudSettings, publish: Publish) -> None:
    """Evaluate every ``rules_interval_s`` and publish what changed, forever (the supervisor)."""
    while True:
        await asyncio.sleep(settings.rules_interval_s)
        try:
            changed = await evaluate(store, settings, time.time())
            for ruled in changed:
                await publish(ruled.incident, ruled.change)
        except Exception:  # the supervisor of this task: log, and evaluate again next period
            log.exception("cloud rules: evaluation failed")


@asynccontextmanager
async def running(store: Store, settings: CloudSettings, publish: Publish) -> AsyncIterator[None]:
    """The rules task, from start-up to shutdown."""
    task = asyncio.create_task(watch(store, settings, publish), name="citytwin-rules")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
