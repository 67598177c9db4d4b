"""Store fixtures: every test runs on SQLite (a file in tmp_path) and, when OSCARTES_TEST_POSTGRES_URL is set
(`source .ci/postgres.sh`), on PostgreSQL in a schema of its own that is dropped afterwards."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from oscartes_sync.store import Store

PG_ENV = "OSCARTES_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (`source .ci/postgres.sh` starts a throwaway PostgreSQL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # search_path makes the store (and Alembic) create and use its tables in that schema only
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def open_store(db_url):
    """Opens stores on the test database; all are closed at the end."""
    opened: list[Store] = []

    def _open(**kwargs) -> Store:
        s = Store(db_url, **kwargs)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store) -> Store:
    return open_store()
