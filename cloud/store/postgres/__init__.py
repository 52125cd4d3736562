"""The Store on PostgreSQL (psycopg 3, async): for several aggregator processes on one database.

store.py        PostgresStore: the Store interface, one transaction per call
db.py           the connection pool, transactions, retries and error conversion
schema.py       numbered migrations, applied under an advisory lock
bulk.py         many rows per statement (unnest of array parameters)
writes.py       the ingest transaction
reads.py, history.py, kpis.py, live.py      queries
incidents.py, credentials.py, seeding.py    the other writes
notify.py       LISTEN/NOTIFY: what one process changed, told to the others (live stream)
"""

from cloud.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
