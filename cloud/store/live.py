"""Where entities stand in the city, with their live status: what the event stream filters on.

Runs on a reader, after a commit, only while someone listens (cloud/live.py). The department
is routed as incidents are (store/incidents.py): the entity's ``responsibleDepartment``, else
the department whose ``responsibleFor`` lists the entity's type.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from cloud import twin
from cloud.store.base import Live

_ENTITIES = """SELECT e.id, e.type, e.kind, e.district, coalesce(
    (SELECT object FROM relationships WHERE subject = e.id AND name = 'responsibleDepartment'),
    (SELECT d.id FROM entities AS d, json_each(d.attributes, '$.responsibleFor') AS r
     WHERE d.type = 'Department' AND r.value = e.type ORDER BY d.id LIMIT 1))
    FROM entities AS e WHERE e.id IN (SELECT value FROM json_each(?))"""
_STATUS = """SELECT entity, metric, value, observed_at FROM latest
    WHERE entity IN (SELECT value FROM json_each(?))"""


def live(conn: sqlite3.Connection, entity_ids: Sequence[str]) -> dict[str, Live]:
    """The entities among ``entity_ids`` that exist, with district, department and status."""
    ids = json.dumps(list(entity_ids))
    found = conn.execute(_ENTITIES, (ids,)).fetchall()
    kinds = {row[0]: row[2] for row in found}
    status: dict[str, dict[str, twin.MetricState]] = defaultdict(dict)
    for entity, metric, value, observed_at in conn.execute(_STATUS, (ids,)):
        status[entity][metric] = twin.MetricState(
            value, observed_at, twin.unit(kinds.get(entity), metric)
        )
    return {
        id_: Live(id_, type_, district, department, status[id_])
        for id_, type_, _, district, department in found
    }
