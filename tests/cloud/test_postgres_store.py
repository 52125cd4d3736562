"""The PostgreSQL store itself: choosing it by URL, its migrations, and what it refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from cloud.errors import StoreError
from cloud.settings import CloudSettings, PostgresUrl
from cloud.store import EntityQuery, SqliteStore, store_for
from cloud.store.postgres import PostgresStore
from cloud.store.postgres.schema import MIGRATIONS
from tests.support import batches as b
from tests.support.postgres import Databases


@pytest.mark.parametrize(
    ("given", "chosen"),
    [
        ("twin.db", Path("twin.db")),
        ("sqlite:///twin.db", Path("twin.db")),
        ("sqlite:////tmp/twin.db", Path("/tmp/twin.db")),
        (
            "postgresql://ct@db.example:5433/twin",
            PostgresUrl("postgresql://ct@db.example:5433/twin"),
        ),
        ("postgres://ct@db.example/twin", PostgresUrl("postgres://ct@db.example/twin")),
    ],
)
def test_the_database_setting_names_the_backend(given: str, chosen: object) -> None:
    settings = CloudSettings(database=given)

    assert settings.database == chosen
    expected = PostgresStore if isinstance(chosen, PostgresUrl) else SqliteStore
    assert isinstance(store_for(settings.database), expected)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://ct@db/twin", "unknown database URL mysql://"),
        ("postgresql://ct@db.example:5432", "names no database: add /DBNAME"),
    ],
)
def test_a_database_url_of_no_known_backend_is_refused(given: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CloudSettings(database=given)


def test_a_password_in_the_url_is_kept_out_of_logs() -> None:
    url = PostgresUrl("postgresql://ct:s3cret@db.example:5432/twin")

    assert "s3cret" not in f"{url} {url!r}"
    assert str(url) == "postgresql://ct:***@db.example:5432/twin"


@pytest.mark.postgres_only
async def test_two_processes_migrating_at_once_apply_each_step_once(
    backend: Databases | None, tmp_path: Path
) -> None:
    assert backend is not None
    url = backend.for_path(tmp_path / "twin").url
    one, two = PostgresStore(url), PostgresStore(url)

    await asyncio.gather(one.open(), two.open())
    await asyncio.gather(one.close(), two.close())
    async with PostgresStore(url):  # a restart finds nothing to do
        pass

    with psycopg.connect(url) as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))


@pytest.mark.postgres_only
async def test_a_database_of_a_newer_release_is_refused(
    backend: Databases | None, tmp_path: Path
) -> None:
    assert backend is not None
    url = backend.for_path(tmp_path / "twin").url
    async with PostgresStore(url):
        pass
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")

    with pytest.raises(StoreError, match="schema version 99, newer than this release"):
        await PostgresStore(url).open()


async def test_a_server_that_does_not_answer_is_a_store_error(unused_tcp_port: int) -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        await PostgresStore(f"postgresql://nobody@127.0.0.1:{unused_tcp_port}/twin").open()


@pytest.mark.postgres_only
async def test_text_with_nul_is_stored_and_found_not_refused(
    backend: Databases | None, tmp_path: Path
) -> None:
    # PostgreSQL text cannot hold NUL; SQLite can. Both must answer, not fail with a 503.
    assert backend is not None
    async with PostgresStore(backend.for_path(tmp_path / "twin").url) as store:
        alert = b.alert(1, reason="stuck\x00at zero")
        outcome = await store.ingest(b.batch([alert]), b.T0 + 60)
        none = await store.entities(EntityQuery(type="Air\x00QualityObserved"))

    assert outcome.accepted == 1
    assert (none.items, none.total) == ((), 0)


@pytest.mark.postgres_only
async def test_a_closed_store_refuses_work(backend: Databases | None, tmp_path: Path) -> None:
    assert backend is not None
    store = PostgresStore(backend.for_path(tmp_path / "twin").url)
    async with store:
        pass

    with pytest.raises(StoreError, match="closed"):
        await store.entities(EntityQuery())
