"""Looking at a store without writing anything, for `doctor` (a check must not write: issue 12 item 7).

Opening a `Store` creates the SQLite file, brings the schema up to date and switches the file to WAL mode;
none of that happens here. A SQLite file is read as immutable when no other process has it open (no lock, no
`-wal` or `-shm` file left behind), and through its existing `-wal` otherwise; PostgreSQL is read in a
read-only transaction. A missing store is reported with what the first sync will create, an unusable one with
the reason.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from oscartes_sync.text import Text
from oscartes_sync.store.api import _URL_HELP, StoreError, _reason, _scrub, alembic_config, redact_url

VERSION_TABLE = "oscartes_schema_version"  # as in migrations/env.py
CURRENT, OLDER, NEWER, EMPTY = "current", "older", "newer", "empty"


@dataclass(frozen=True)
class StoreProbe:
    where: str  # the URL without its password, or the SQLite file's path
    exists: bool
    problem: str | None = None  # why the store cannot be used or created; None: it can
    missing_folder: str | None = None  # SQLite: the folder the first sync will create
    schema: str | None = None  # current, older (the next run upgrades it), newer, empty (no table yet)
    version: str | None = None
    last_run: tuple[int, str] | None = None  # (id, status) of the newest run


def probe(url: str) -> StoreProbe:
    """What the store at `url` is, read without writing. Raises StoreError for a URL that names no store
    oscartes-sync can use."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(Text("invalid database URL '{url}': {help}", url=redact_url(url), help=_URL_HELP)) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
            return StoreProbe(parsed.database or ":memory:", False, None)
        return _probe_sqlite(Path(parsed.database).expanduser())
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return _probe_postgres(parsed)
    raise StoreError(Text("unsupported database '{url}': {help}", url=redact_url(url), help=_URL_HELP))


def _probe_sqlite(path: Path) -> StoreProbe:
    where = str(path)
    if path.is_dir():
        return StoreProbe(where, False, Text("{where} is a folder, not a database file", where=where))
    if not path.exists():
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return StoreProbe(where, False, Text("{where} cannot be created: {folder} is not a folder", where=where,
                                                folder=str(ancestor)))
        if not os.access(ancestor, os.W_OK | os.X_OK):
            return StoreProbe(where, False, Text("{where} cannot be created: {folder} is not writable", where=where,
                                                folder=str(ancestor)))
        folder = None if path.parent.exists() else str(path.parent)
        return StoreProbe(where, False, missing_folder=folder)
    if not os.access(path, os.R_OK | os.W_OK):
        return StoreProbe(where, True, Text("{where} cannot be read and written by this user", where=where))
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return StoreProbe(where, True, Text("{where}: its folder is not writable (SQLite writes its journal "
                                                   "there)", where=where))
    # another process holds it open (its -wal exists): read through the journal; otherwise as immutable, which
    # takes no lock and creates no file
    mode = "mode=ro" if Path(where + "-wal").exists() else "immutable=1"
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{mode}", uri=True)
    except sqlite3.Error as exc:
        return StoreProbe(where, True, Text("{where} cannot be opened ({reason})", where=where, reason=str(exc)))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = last = None
        if VERSION_TABLE in tables:
            row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
            version = row[0] if row else None
        if version and "runs" in tables:
            last = conn.execute("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.DatabaseError as exc:
        return StoreProbe(where, True, Text("{where} is not a database oscartes-sync can read ({reason})",
                                                 where=where, reason=str(exc)))
    finally:
        conn.close()
    return StoreProbe(where, True, schema=_schema(version), version=version,
                      last_run=tuple(last) if last else None)


def _probe_postgres(url) -> StoreProbe:
    where = redact_url(url)
    try:
        engine = create_engine(url, connect_args={"application_name": "oscartes-sync doctor",
                                                  **({} if "connect_timeout" in url.query else {"connect_timeout": 10})})
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(Text("cannot use the database '{url}': {reason}", url=where,
                              reason=_scrub(_reason(exc), url.password))) from None
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            tables = set(inspect(conn).get_table_names())
            version = last = None
            if VERSION_TABLE in tables:
                version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            if version and "runs" in tables:
                last = conn.execute(text("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1")).first()
    except SQLAlchemyError as exc:
        return StoreProbe(where, False, Text("cannot read the database '{url}': {reason}", url=where,
                                             reason=_scrub(_reason(exc), url.password)))
    finally:
        engine.dispose()
    return StoreProbe(where, True, schema=_schema(version), version=version, last_run=tuple(last) if last else None)


def _schema(version: str | None) -> str:
    """Where a schema version stands against this code's migrations."""
    from alembic.script import ScriptDirectory

    if not version:
        return EMPTY
    script = ScriptDirectory.from_config(alembic_config())
    if version in script.get_heads():
        return CURRENT
    try:
        known = script.get_revision(version) is not None
    except Exception:  # alembic raises several types for an id it does not know
        known = False
    return OLDER if known else NEWER
