"""`store.probe`: what a store is, read without writing (for `doctor`), on SQLite and (CI) PostgreSQL."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from oscartes_sync.store import Store
from oscartes_sync.store.probe import CURRENT, NEWER, OLDER, VERSION_TABLE, probe


def tables(db_url) -> set[str]:
    engine = create_engine(db_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def set_version(db_url, version: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :v"), {"v": version})
    engine.dispose()


def test_a_database_without_a_store_is_reported_and_left_empty(db_url):
    found = probe(db_url)
    assert found.problem is None and found.schema in (None, "empty")
    assert not tables(db_url) & {VERSION_TABLE, "runs", "records"}


def test_a_store_is_read_as_it_is_current_older_or_newer(db_url):
    store = Store(db_url)
    store.finish_run(store.start_run(), status="attention", exit_code=1, report={})
    store.close()
    found = probe(db_url)
    assert (found.exists, found.schema, found.last_run) == (True, CURRENT, (1, "attention"))
    set_version(db_url, "0002")
    assert probe(db_url).schema == OLDER
    set_version(db_url, "9999")
    assert probe(db_url).schema == NEWER
    set_version(db_url, "0002")
    assert probe(db_url).version == "0002"  # probing upgraded nothing
