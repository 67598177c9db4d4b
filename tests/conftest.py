"""Fixtures shared by the engine, CLI and state-machine tests: a sandbox of two emulated wikis and a store."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    """Most tests read the messages in English, the language the code writes them in (`--lang en` or an English
    LANG); the French ones say so (tests/test_i18n.py and the French flows)."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    from oscartes_sync import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def sandbox():
    from oscartes_sync.sandbox.sandbox import start_sandbox

    with start_sandbox() as sb:
        yield sb


@pytest.fixture
def cfg(sandbox, tmp_path):
    config = sandbox.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))
    config.publish.dashboards = False  # these tests count entry writes; dashboards have tests of their own
    config.review.enabled = False  # and requests: the review page and its decisions form have tests of their own
    return config


@pytest.fixture
def store(cfg):
    from oscartes_sync.store import Store

    s = Store(cfg.store_url())
    yield s
    s.close()


def png_bytes(color: str = "red", size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    """A small real picture (Pillow), for the image-field tests."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def make_png():
    return png_bytes


@pytest.fixture
def pg_schema_url():
    """(URL, schema): PostgreSQL with the store's tables in a schema of their own, dropped afterwards; for the
    tests that also run pg_dump. Skipped unless OSCARTES_TEST_POSTGRES_URL is set and pg_dump installed."""
    import os
    import shutil
    import uuid

    base = os.environ.get("OSCARTES_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("OSCARTES_TEST_POSTGRES_URL is not set")
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False), schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
