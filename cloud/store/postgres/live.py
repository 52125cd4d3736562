"""Where entities stand in the city, with their live status, on PostgreSQL (see store/live.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from cloud import twin
from cloud.store.base import Live
from cloud.store.postgres.db import Conn, fetch_all
from cloud.store.postgres.incidents import RESPONSIBLE_FOR

# Routed as incidents are: the entity's responsibleDepartment, else by its type.
_ENTITIES = f"""SELECT e.id, e.type, e.kind, e.district, coalesce(
    (SELECT object FROM relationships WHERE subject = e.id AND name = 'responsibleDepartment'
     ORDER BY object LIMIT 1),
    (SELECT d.id FROM entities AS d, {RESPONSIBLE_FOR} AS r (value)
     WHERE d.type = 'Department' AND r.value = e.type ORDER BY d.id LIMIT 1))
    FROM entities AS e WHERE e.id = ANY(%s)"""  # noqa: S608
_STATUS = "SELECT entity, metric, value, observed_at FROM latest WHERE entity = ANY(%s)"


async def live(conn: Conn, entity_ids: Sequence[str]) -> dict[str, Live]:
    """The entities among ``entity_ids`` that exist, with district, department and status."""
    ids = list(entity_ids)
    found = await fetch_all(conn, _ENTITIES, (ids,))
    kinds = {row[0]: row[2] for row in found}
    status: dict[str, dict[str, twin.MetricState]] = defaultdict(dict)
    for entity, metric, value, observed_at in await fetch_all(conn, _STATUS, (ids,)):
        status[entity][metric] = twin.MetricState(
            value, observed_at, twin.unit(kinds.get(entity), metric)
        )
    return {
        id_: Live(id_, type_, district, department, status[id_])
        for id_, type_, _, district, department in found
    }
