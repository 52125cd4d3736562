"""The SQLite store on its own: one writer, bounded queue, all-or-nothing transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database

from cloud.errors import StoreBusy, StoreError
from cloud.store import EntityQuery, SqliteStore
from cloud.store.schema import migrate, migrations
from cloud.store.writer import Writer
from tests.support import batches as b
from tests.support.cloud import table_counts


async def test_ingest_then_query(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        outcome = await store.ingest(b.batch([b.summary(1), b.summary(2, "aq-2")]), 1.0)
        page = await store.entities(EntityQuery(limit=1))

    assert (outcome.accepted, outcome.duplicates) == (2, 0)
    assert (len(page.items), page.total) == (1, 2)


async def test_concurrent_resends_of_one_batch_are_stored_once(tmp_path: Path) -> None:
    batch = b.batch([b.summary(seq) for seq in range(100)])
    async with SqliteStore(tmp_path / "c.db") as store:
        outcomes = await asyncio.gather(*(store.ingest(batch, 1.0) for _ in range(5)))

    assert sorted(o.accepted for o in outcomes) == [0, 0, 0, 0, 100]
    counts = table_counts(tmp_path / "c.db")
    assert (counts["records"], counts["windows"]) == (100, 1)  # one window, merged


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    migrate(tmp_path / "c.db")
    migrate(tmp_path / "c.db")

    with closing(sqlite3.connect(tmp_path / "c.db")) as conn:
        applied = conn.execute("SELECT name FROM _sqlite_migrations").fetchall()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert migrations.pending(Database(conn)) == []
    assert applied == [(m.name,) for m in migrations.pending(Database(memory=True))]
    assert mode == "wal"


async def test_a_full_write_queue_refuses_at_once(tmp_path: Path) -> None:
    migrate(tmp_path / "c.db")
    writer = Writer(tmp_path / "c.db", queue_size=1)
    writer.start()
    release = threading.Event()
    try:
        blocking = asyncio.ensure_future(writer.run(lambda _: release.wait(10)))
        await asyncio.sleep(0.05)  # let the writer thread pick the blocking job up
        queued = asyncio.ensure_future(writer.run(lambda _: "queued"))
        await asyncio.sleep(0)

        with pytest.raises(StoreBusy, match="busy"):
            await writer.run(lambda _: "refused")

        assert writer.rejected == 1
        release.set()
        assert await blocking is True
        assert await queued == "queued"
    finally:
        release.set()
        await asyncio.to_thread(writer.close)


async def test_a_failed_job_is_rolled_back_and_the_writer_goes_on(tmp_path: Path) -> None:
    migrate(tmp_path / "c.db")
    writer = Writer(tmp_path / "c.db")
    writer.start()

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO records VALUES ('gw', 1, 'summary', 0)")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    try:
        with pytest.raises(StoreError, match="no such table"):
            await writer.run(half_then_fail)
        count = await writer.run(lambda c: c.execute("SELECT count(*) FROM records").fetchone())
        assert count == (0,)
    finally:
        await asyncio.to_thread(writer.close)
    assert table_counts(tmp_path / "c.db")["records"] == 0


async def test_a_closed_store_refuses_reads_and_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    async with store:
        pass

    with pytest.raises(StoreError, match="closed"):
        await store.ingest(b.batch([b.summary(1)]), 1.0)
    with pytest.raises(StoreError, match="closed"):
        await store.check()


async def test_a_database_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "c.db").write_bytes(b"this is not a database" * 100)

    with pytest.raises(StoreError, match="cannot open database"):
        async with SqliteStore(tmp_path / "c.db"):
            pass


async def test_a_failed_job_in_a_group_leaves_the_others_committed(tmp_path: Path) -> None:
    migrate(tmp_path / "c.db")
    writer = Writer(tmp_path / "c.db")
    writer.start()
    release = threading.Event()

    def insert(seq: int, then_fail: bool = False) -> Callable[[sqlite3.Connection], int]:
        def job(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO records VALUES ('gw', ?, 'summary', 0)", (seq,))
            if then_fail:
                conn.execute("INSERT INTO records VALUES ('gw', ?, 'summary', 0)", (seq,))
            return seq

        return job

    try:
        blocking = asyncio.ensure_future(writer.run(lambda _: release.wait(10)))
        await asyncio.sleep(0.05)  # the writer is busy: the next three queue up as one group
        jobs = [asyncio.ensure_future(writer.run(insert(s, s == 2))) for s in (1, 2, 3)]
        await asyncio.sleep(0)
        release.set()
        await blocking
        results = await asyncio.gather(*jobs, return_exceptions=True)
    finally:
        release.set()
        await asyncio.to_thread(writer.close)

    assert results[0] == 1
    assert isinstance(results[1], StoreError)
    assert "UNIQUE constraint failed" in str(results[1])
    assert results[2] == 3
    with closing(sqlite3.connect(tmp_path / "c.db")) as conn:
        assert conn.execute("SELECT seq FROM records ORDER BY seq").fetchall() == [(1,), (3,)]
