"""The store: records with their full revision history, one link per instance, conflicts, the review queue,
runs and a little engine state (PRODUCT.md §2, DECISIONS §1, §4, §10).

SQLite (default) or PostgreSQL (`postgresql+psycopg://…`); the schema is brought to the newest Alembic
revision every time a store is opened. All timestamps are timezone-aware UTC datetimes. Every value given to
the store must be JSON-serialisable; it comes back as a fresh copy (dicts, lists, str, numbers, bool, None).

Transactions: `with store.transaction():` makes everything inside atomic. A nested `transaction()` is a
savepoint inside the outer one: if its block raises, only its own writes are undone, and the outer transaction
can go on (on PostgreSQL this is the only way to go on after a database error). Write methods called outside
any transaction run in their own short one. One transaction per thread; a Store may be shared by threads.

Errors: every failure of the database, the URL or the schema is a `StoreError` whose message names the
database without its password; `NotFoundError` (a `StoreError`) for an unknown record, conflict or item.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus

from sqlalchemy import JSON, Connection, Engine, Table, Text, create_engine, delete, event, insert, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from oscartes_sync.hashing import content_hash
from oscartes_sync.store import models as m
from oscartes_sync.text import Text, decode_note, encode_note

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CONFLICT_STATUSES = ("open", "resolved")
REVIEW_STATUSES = ("open", "merged", "distinct")
SUGGESTION_STATUSES = ("open", "accepted", "rejected")
_IN_CHUNK = 500  # ids per IN (...) clause: well under every driver's limit on bound parameters
_PG_MIGRATION_LOCK = 0x05CA27E5  # advisory lock id: two processes opening a new database migrate one by one


class StoreError(Exception):
    """The store cannot do what was asked; the message is fit for a user and holds no password."""


class NotFoundError(StoreError):
    pass


@dataclass(frozen=True)
class RecordRow:
    id: str
    kind: str
    fields: dict
    deleted: bool
    revision: int


class RecordKey(NamedTuple):
    """What a record is without its fields: enough to tell whether it changed (its revision moves with every
    change) without decoding any JSON."""

    id: str
    kind: str
    revision: int
    deleted: bool


class LinkKey(NamedTuple):
    """A link without its snapshot: its snapshot's hash says whether what was last seen there moved."""

    record_id: str
    instance: str
    remote_id: str | None
    form_id: str
    snapshot_hash: str
    pending: bool  # a member's hidden revision waits to be merged


@dataclass(frozen=True)
class RevisionRow:
    record_id: str
    number: int
    fields: dict
    author: str
    origin: str
    at: datetime
    note: str
    deleted: bool


@dataclass(frozen=True)
class LinkRow:
    record_id: str
    instance: str
    remote_id: str | None  # None: a create was started and not confirmed yet (crash recovery)
    form_id: str
    snapshot: dict  # canonical values last seen or written there
    snapshot_hash: str
    written_hash: str | None
    pending: dict | None  # a member's revision our write hid (DECISIONS §4), merged next run


@dataclass(frozen=True)
class ConflictRow:
    id: int
    record_id: str
    field: str
    base: object
    candidates: dict  # instance -> value
    status: str  # open | resolved
    opened_at: datetime
    resolved_at: datetime | None
    resolution: object
    resolved_by: str | None
    candidate_times: dict | None = None  # instance -> when its value was entered there (its clock)


@dataclass(frozen=True)
class ReviewRow:
    id: int
    instance: str
    remote_id: str
    kind: str
    values: dict
    candidates: list  # record ids with scores
    status: str  # open | merged | distinct
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True)
class SuggestionRow:
    id: int
    record_id: str
    instance: str
    field: str
    value: object
    observed_at: datetime
    status: str  # open | accepted | rejected


@dataclass(frozen=True)
class RunRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    exit_code: int | None
    report: dict


# ---------------------------------------------------------------------------------------------- URLs, errors

_URL_HELP = Text("expected sqlite:///path/to/oscartes.db or postgresql+psycopg://user:password@host:5432/dbname")
_USERINFO = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


def redact_url(url: str | URL) -> str:
    """The URL as it can be shown: password replaced by ***."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparseable: hide whatever sits between "user:" and "@"
        return _USERINFO.sub(r"\1:***@", str(url))


def _scrub(message: str, password: str | None) -> str:
    if password:
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            message = message.replace(form, "***")
    return _USERINFO.sub(r"\1:***@", message)


def _reason(exc: BaseException) -> str:
    """The driver's own words (first line), without SQLAlchemy's SQL echo and background link."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].strip() if lines else type(exc).__name__


def alembic_config(connection: Connection | None = None, url: str | None = None):
    """An Alembic `Config` for the package's migrations, without any alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _normalise_url(raw: str) -> URL:
    if not isinstance(raw, str) or "://" not in raw:
        raise StoreError(Text("invalid database URL '{url}': {help}", url=redact_url(str(raw)), help=_URL_HELP))
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise StoreError(Text("invalid database URL '{url}': {help}", url=redact_url(raw), help=_URL_HELP)) from None
    # psycopg 3 is the only PostgreSQL driver we ship; plain postgresql:// would look for psycopg2
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(Text("unsupported database '{url}': {help}", url=redact_url(url), help=_URL_HELP))
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        parent = Path(url.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreError(Text("cannot open the SQLite database '{database}': the folder '{folder}' "
                                  "does not exist", database=url.database, folder=str(parent)))
    return url


def _json_dumps(value) -> str:
    # NaN is not JSON: PostgreSQL refuses it, so SQLite must too, or the two would behave differently.
    # StoreError, so that it reaches the caller as one whatever the driver wraps it in.
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(Text("value cannot be stored as JSON: {reason}", reason=str(exc))) from None


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        file_db = bool(url.database) and url.database != ":memory:"
        engine = create_engine(url, json_serializer=_json_dumps,
                               connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # pysqlite's own transaction handling skips BEGIN before DDL and breaks SAVEPOINT: we emit BEGIN
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if file_db:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # A writer takes the write lock at once (waiting up to `timeout`) instead of failing halfway
            # when another process wrote in between; readers never block a writer in WAL mode.
            immediate = conn.get_execution_options().get("oscartes_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    connect_args = {"application_name": "oscartes-sync"}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    return create_engine(url, json_serializer=_json_dumps, pool_pre_ping=True, connect_args=connect_args)


def _hash(value) -> str:
    try:
        return content_hash(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(Text("value cannot be stored as JSON: {reason}", reason=str(exc))) from None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------------- the store

class Store:
    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None):
        self._url = _normalise_url(url)
        self.url = redact_url(self._url)  # for messages and `status`
        self._clock = clock or _utcnow
        self._local = threading.local()
        # moves with every write to records or links made through this object: a reader that kept what it read
        # (store.view.StoreView) knows whether to read again
        self.generation = 0
        try:
            self._engine = _make_engine(self._url)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StoreError(Text("cannot use the database '{url}': {reason}",
                                  url=self.url, reason=self._clean(_reason(exc)))) from None
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    # -- plumbing

    def _clean(self, message: str) -> str:
        return _scrub(message, self._url.password)

    @contextmanager
    def _guard(self, doing: str | None = None) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            if isinstance(getattr(exc, "orig", None), StoreError):
                raise exc.orig from None
            if doing:
                raise StoreError(Text("database error on '{url}' while {doing}: {reason}", url=self.url,
                                      doing=doing, reason=self._clean(_reason(exc)))) from exc
            raise StoreError(Text("database error on '{url}': {reason}",
                                  url=self.url, reason=self._clean(_reason(exc)))) from exc

    def _migrate(self) -> None:
        from alembic import command
        from alembic.util.exc import CommandError

        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(Text("cannot connect to the database '{url}': {reason}",
                                  url=self.url, reason=self._clean(_reason(exc)))) from None
        try:
            with self._guard(Text("bringing the schema up to date")):
                conn.execution_options(oscartes_write=True)
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                    try:
                        command.upgrade(alembic_config(connection=conn), "head")
                    except CommandError as exc:
                        raise StoreError(
                            Text("the schema of '{url}' is not one this version of oscartes-sync knows "
                                 "({reason}); was it written by a newer version?",
                                 url=self.url, reason=self._clean(str(exc)))) from None
        finally:
            conn.close()

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            with self._guard():
                savepoint = conn.begin_nested()
            try:
                yield
            except BaseException:
                if savepoint.is_active:
                    with self._guard():
                        savepoint.rollback()
                raise
            with self._guard():
                if savepoint.is_active:
                    savepoint.commit()
            return

        with self._guard(Text("opening a transaction")):
            conn = self._engine.connect()
        try:
            conn.execution_options(oscartes_write=True)
            with self._guard(Text("opening a transaction")):
                tx = conn.begin()
            self._local.conn = conn
            try:
                yield
            except BaseException:
                try:
                    tx.rollback()
                except SQLAlchemyError:
                    pass  # the connection is gone; the original error says more
                raise
            with self._guard(Text("committing")):
                tx.commit()
        finally:
            self._local.conn = None
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """The current transaction's connection, or a short transaction of its own."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with self._guard():
                yield conn
            return
        with self.transaction(), self._guard():
            yield self._local.conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with self._guard():
                yield conn
            return
        with self._guard():
            with self._engine.connect() as conn:
                yield conn

    def _now(self) -> datetime:
        return self._clock()

    # -- records

    @staticmethod
    def _record_row(r) -> RecordRow:
        return RecordRow(id=r.id, kind=r.kind, fields=r.fields, deleted=r.deleted, revision=r.revision)

    def records(self, kind: str | None = None, include_deleted: bool = False) -> list[RecordRow]:
        q = select(m.records).order_by(m.records.c.id)
        if kind is not None:
            q = q.where(m.records.c.kind == kind)
        if not include_deleted:
            q = q.where(m.records.c.deleted.is_(False))
        with self._read() as conn:
            return [self._record_row(r) for r in conn.execute(q)]

    def record_keys(self, kind: str | None = None) -> list[RecordKey]:
        """Every record (deleted ones included) without its fields: one query, no JSON decoded."""
        c = m.records.c
        q = select(c.id, c.kind, c.revision, c.deleted).order_by(c.id)
        if kind is not None:
            q = q.where(c.kind == kind)
        with self._read() as conn:
            return [RecordKey._make(r) for r in conn.execute(q)]

    def records_by_id(self, ids) -> dict[str, RecordRow]:
        """The records of these ids (those that exist), in a few set-based queries."""
        out: dict[str, RecordRow] = {}
        ids = sorted(set(ids))
        with self._read() as conn:
            for i in range(0, len(ids), _IN_CHUNK):
                q = select(m.records).where(m.records.c.id.in_(ids[i:i + _IN_CHUNK]))
                out.update((r.id, self._record_row(r)) for r in conn.execute(q))
        return out

    def titles(self, ids) -> dict[str, str]:
        """Record id -> its name (its id when it has none), read without decoding the records' fields."""
        c = m.records.c
        out: dict[str, str] = {}
        ids = sorted(set(ids))
        with self._read() as conn:
            for i in range(0, len(ids), _IN_CHUNK):
                q = select(c.id, c.fields["name"].as_string()).where(c.id.in_(ids[i:i + _IN_CHUNK]))
                out.update((rid, name or rid) for rid, name in conn.execute(q))
        return out

    def record(self, record_id: str) -> RecordRow | None:
        with self._read() as conn:
            r = conn.execute(select(m.records).where(m.records.c.id == record_id)).first()
        return self._record_row(r) if r is not None else None

    def _require_record(self, conn: Connection, record_id: str):
        r = conn.execute(select(m.records).where(m.records.c.id == record_id)).first()
        if r is None:
            raise NotFoundError(Text("no record '{record_id}'", record_id=record_id))
        return r

    def _add_revision(self, conn: Connection, record_id: str, number: int, fields: dict, deleted: bool, *,
                      author: str, origin: str, note: str, at: datetime) -> None:
        conn.execute(insert(m.revisions).values(
            record_id=record_id, number=number, fields=fields, deleted=deleted,
            author=author, origin=origin, note=encode_note(note), at=at))

    def create_record(self, kind: str, fields: dict, *, author: str, origin: str, record_id: str | None = None,
                      note: str = "") -> str:
        if not isinstance(fields, dict):
            raise StoreError(Text("record fields must be a dict"))
        record_id = record_id or str(uuid.uuid4())
        now = self._now()
        with self._write() as conn:
            if conn.execute(select(m.records.c.id).where(m.records.c.id == record_id)).first() is not None:
                raise StoreError(Text("a record '{record_id}' already exists", record_id=record_id))
            self.generation += 1
            conn.execute(insert(m.records).values(
                id=record_id, kind=kind, fields=fields, deleted=False, revision=1, created_at=now, updated_at=now))
            self._add_revision(conn, record_id, 1, fields, False, author=author, origin=origin, note=note, at=now)
        return record_id

    def update_record(self, record_id: str, fields: dict, *, author: str, origin: str, note: str = "",
                      even_if_equal: bool = False) -> int:
        """Replace the fields (a new revision). Equal fields (same content hash): nothing written, unless
        `even_if_equal` (the note itself is history: values a linked twin held that the record did not keep).
        The deleted flag is kept as it is; `restore` undeletes."""
        if not isinstance(fields, dict):
            raise StoreError(Text("record fields must be a dict"))
        with self._write() as conn:
            current = self._require_record(conn, record_id)
            if _hash(current.fields) == _hash(fields) and not even_if_equal:
                return current.revision
            return self._new_revision(conn, current, fields, current.deleted,
                                      author=author, origin=origin, note=note)

    def _new_revision(self, conn: Connection, current, fields: dict, deleted: bool, *, author: str, origin: str,
                      note: str) -> int:
        number = current.revision + 1
        now = self._now()
        self.generation += 1
        # the WHERE on the old revision turns a concurrent writer into an error instead of a lost update
        done = conn.execute(update(m.records)
                            .where(m.records.c.id == current.id, m.records.c.revision == current.revision)
                            .values(fields=fields, deleted=deleted, revision=number, updated_at=now))
        if done.rowcount != 1:
            raise StoreError(Text("record '{id}' was changed by another writer; try again", id=current.id))
        self._add_revision(conn, current.id, number, fields, deleted, author=author, origin=origin, note=note,
                           at=now)
        return number

    def tombstone_record(self, record_id: str, *, author: str, origin: str, note: str = "") -> None:
        """Mark deleted; the fields and the whole history stay, and the deletion is itself a revision (with
        `deleted=True`) so that who deleted it, from where, is known. Already deleted: nothing happens."""
        with self._write() as conn:
            current = self._require_record(conn, record_id)
            if current.deleted:
                return
            self._new_revision(conn, current, current.fields, True, author=author, origin=origin, note=note)

    def history(self, record_id: str) -> list[RevisionRow]:
        q = select(m.revisions).where(m.revisions.c.record_id == record_id).order_by(m.revisions.c.number)
        with self._read() as conn:
            return [RevisionRow(record_id=r.record_id, number=r.number, fields=r.fields, author=r.author,
                                origin=r.origin, at=r.at, note=decode_note(r.note), deleted=r.deleted)
                    for r in conn.execute(q)]

    def restore(self, record_id: str, number: int, *, author: str) -> int:
        """A new revision with the fields of revision `number`, not deleted. Origin is "restore"."""
        with self._write() as conn:
            current = self._require_record(conn, record_id)
            old = conn.execute(select(m.revisions).where(m.revisions.c.record_id == record_id,
                                                         m.revisions.c.number == number)).first()
            if old is None:
                raise NotFoundError(Text("record '{record_id}' has no revision {number}",
                                         record_id=record_id, number=number))
            if not current.deleted and _hash(current.fields) == _hash(old.fields):
                return current.revision
            return self._new_revision(conn, current, old.fields, False, author=author, origin="restore",
                                      note=Text("restored revision {number}", number=number))

    # -- links

    @staticmethod
    def _link_row(r) -> LinkRow:
        return LinkRow(record_id=r.record_id, instance=r.instance, remote_id=r.remote_id, form_id=r.form_id,
                       snapshot=r.snapshot, snapshot_hash=r.snapshot_hash, written_hash=r.written_hash,
                       pending=r.pending)

    def links(self, instance: str | None = None, record_id: str | None = None) -> list[LinkRow]:
        q = select(m.links).order_by(m.links.c.record_id, m.links.c.instance)
        if instance is not None:
            q = q.where(m.links.c.instance == instance)
        if record_id is not None:
            q = q.where(m.links.c.record_id == record_id)
        with self._read() as conn:
            return [self._link_row(r) for r in conn.execute(q)]

    def link_keys(self) -> list[LinkKey]:
        """Every link without its snapshot: one query, no JSON decoded."""
        c = m.links.c
        q = select(c.record_id, c.instance, c.remote_id, c.form_id, c.snapshot_hash, c.pending.is_not(None)) \
            .order_by(c.record_id, c.instance)
        with self._read() as conn:
            return [LinkKey(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in conn.execute(q)]

    def links_of(self, record_ids) -> list[LinkRow]:
        """The links of these records, in a few set-based queries."""
        out: list[LinkRow] = []
        ids = sorted(set(record_ids))
        with self._read() as conn:
            for i in range(0, len(ids), _IN_CHUNK):
                q = select(m.links).where(m.links.c.record_id.in_(ids[i:i + _IN_CHUNK]))
                out += [self._link_row(r) for r in conn.execute(q)]
        return out

    def link(self, record_id: str, instance: str) -> LinkRow | None:
        q = select(m.links).where(m.links.c.record_id == record_id, m.links.c.instance == instance)
        with self._read() as conn:
            r = conn.execute(q).first()
        return self._link_row(r) if r is not None else None

    def link_by_remote(self, instance: str, remote_id: str) -> LinkRow | None:
        q = select(m.links).where(m.links.c.instance == instance, m.links.c.remote_id == remote_id)
        with self._read() as conn:
            r = conn.execute(q).first()
        return self._link_row(r) if r is not None else None

    def set_link(self, record_id: str, instance: str, *, form_id: str, remote_id: str | None, snapshot: dict,
                 written_hash: str | None = None, pending: dict | None = None) -> None:
        """Create or replace the link of a record in one instance. Every column is set from the arguments:
        leaving out `written_hash` or `pending` clears them."""
        values = dict(form_id=form_id, remote_id=remote_id, snapshot=snapshot, snapshot_hash=_hash(snapshot),
                      written_hash=written_hash, pending=pending, updated_at=self._now())
        with self._write() as conn:
            self._require_record(conn, record_id)
            self.generation += 1
            if remote_id is not None:
                other = conn.execute(select(m.links.c.record_id).where(
                    m.links.c.instance == instance, m.links.c.remote_id == remote_id,
                    m.links.c.record_id != record_id)).first()
                if other is not None:
                    raise StoreError(Text("{instance} entry '{remote_id}' is already linked to record "
                                          "'{record_id}'",
                                          instance=instance, remote_id=remote_id, record_id=other.record_id))
            done = conn.execute(update(m.links)
                                .where(m.links.c.record_id == record_id, m.links.c.instance == instance)
                                .values(**values))
            if done.rowcount == 0:
                conn.execute(insert(m.links).values(record_id=record_id, instance=instance, **values))
            if remote_id is not None:
                known = conn.execute(select(m.entry_ids.c.record_id).where(
                    m.entry_ids.c.instance == instance, m.entry_ids.c.remote_id == remote_id,
                    m.entry_ids.c.record_id == record_id)).first()
                if known is None:
                    conn.execute(insert(m.entry_ids).values(record_id=record_id, instance=instance,
                                                            remote_id=remote_id, first_seen=self._now()))

    def records_of_entry(self, remote_id: str) -> list[tuple[str, str]]:
        """(record id, instance) of every record that has or had an entry with this id, in any instance."""
        q = (select(m.entry_ids.c.record_id, m.entry_ids.c.instance).where(m.entry_ids.c.remote_id == remote_id)
             .order_by(m.entry_ids.c.first_seen))
        with self._read() as conn:
            return [(r.record_id, r.instance) for r in conn.execute(q)]

    def entry_ids_of(self, record_id: str) -> list[tuple[str, str]]:
        """(instance, entry id) of every entry this record has or had, oldest first."""
        q = (select(m.entry_ids.c.instance, m.entry_ids.c.remote_id).where(m.entry_ids.c.record_id == record_id)
             .order_by(m.entry_ids.c.first_seen))
        with self._read() as conn:
            return [(r.instance, r.remote_id) for r in conn.execute(q)]

    def remove_link(self, record_id: str, instance: str) -> None:
        with self._write() as conn:
            self.generation += 1
            conn.execute(delete(m.links).where(m.links.c.record_id == record_id, m.links.c.instance == instance))

    # -- conflicts

    @staticmethod
    def _conflict_row(r) -> ConflictRow:
        return ConflictRow(id=r.id, record_id=r.record_id, field=r.field, base=r.base, candidates=r.candidates,
                           status=r.status, opened_at=r.opened_at, resolved_at=r.resolved_at,
                           resolution=r.resolution, resolved_by=r.resolved_by,
                           candidate_times=r.candidate_times)

    def conflicts(self, status: str | None = "open", record_id: str | None = None) -> list[ConflictRow]:
        q = select(m.conflicts).order_by(m.conflicts.c.id)
        if status is not None:
            q = q.where(m.conflicts.c.status == status)
        if record_id is not None:
            q = q.where(m.conflicts.c.record_id == record_id)
        with self._read() as conn:
            return [self._conflict_row(r) for r in conn.execute(q)]

    def conflict(self, conflict_id: int) -> ConflictRow | None:
        with self._read() as conn:
            r = conn.execute(select(m.conflicts).where(m.conflicts.c.id == conflict_id)).first()
        return self._conflict_row(r) if r is not None else None

    def open_conflict(self, record_id: str, field: str, base, candidates: dict, times: dict | None = None) -> int:
        """Open a conflict on one field, or, if one is open already, replace its candidates (its base, the
        last agreed value, stays). `times`: when each candidate was entered, where known."""
        if not isinstance(candidates, dict):
            raise StoreError(Text("conflict candidates must be a dict instance -> value"))
        with self._write() as conn:
            self._require_record(conn, record_id)
            existing = conn.execute(select(m.conflicts.c.id).where(
                m.conflicts.c.record_id == record_id, m.conflicts.c.field == field,
                m.conflicts.c.status == "open")).first()
            if existing is not None:
                conn.execute(update(m.conflicts).where(m.conflicts.c.id == existing.id)
                             .values(candidates=candidates, candidate_times=times or None))
                return existing.id
            return conn.execute(insert(m.conflicts).values(
                record_id=record_id, field=field, base=base, candidates=candidates, status="open",
                opened_at=self._now(), candidate_times=times or None)).inserted_primary_key[0]

    def resolve_conflict(self, conflict_id: int, value, *, by: str) -> None:
        """Close a conflict with the chosen value. The record is not touched: the caller updates it in the
        same transaction."""
        with self._write() as conn:
            r = conn.execute(select(m.conflicts).where(m.conflicts.c.id == conflict_id)).first()
            if r is None:
                raise NotFoundError(Text("no conflict {conflict_id}", conflict_id=conflict_id))
            if r.status != "open":
                raise StoreError(Text("conflict {conflict_id} is already resolved", conflict_id=conflict_id))
            conn.execute(update(m.conflicts).where(m.conflicts.c.id == conflict_id).values(
                status="resolved", resolution=value, resolved_by=by, resolved_at=self._now()))

    # -- review queue

    @staticmethod
    def _review_row(r) -> ReviewRow:
        return ReviewRow(id=r.id, instance=r.instance, remote_id=r.remote_id, kind=r.kind, values=r.entry_values,
                         candidates=r.candidates, status=r.status, opened_at=r.opened_at, closed_at=r.closed_at)

    def review_items(self, status: str | None = "open") -> list[ReviewRow]:
        q = select(m.review_items).order_by(m.review_items.c.id)
        if status is not None:
            q = q.where(m.review_items.c.status == status)
        with self._read() as conn:
            return [self._review_row(r) for r in conn.execute(q)]

    def review_item(self, item_id: int) -> ReviewRow | None:
        with self._read() as conn:
            r = conn.execute(select(m.review_items).where(m.review_items.c.id == item_id)).first()
        return self._review_row(r) if r is not None else None

    def add_review_item(self, instance: str, remote_id: str, kind: str, values: dict, candidates: list) -> int:
        """Queue an entry that may duplicate records; while it is open, adding it again updates it."""
        with self._write() as conn:
            existing = conn.execute(select(m.review_items.c.id).where(
                m.review_items.c.instance == instance, m.review_items.c.remote_id == remote_id,
                m.review_items.c.status == "open")).first()
            if existing is not None:
                conn.execute(update(m.review_items).where(m.review_items.c.id == existing.id)
                             .values(kind=kind, entry_values=values, candidates=candidates))
                return existing.id
            return conn.execute(insert(m.review_items).values(
                instance=instance, remote_id=remote_id, kind=kind, entry_values=values, candidates=candidates,
                status="open", opened_at=self._now())).inserted_primary_key[0]

    def close_review_item(self, item_id: int, status: str) -> None:
        if status not in ("merged", "distinct"):
            raise StoreError(Text("a review item closes as 'merged' or 'distinct', not '{status}'", status=status))
        with self._write() as conn:
            r = conn.execute(select(m.review_items).where(m.review_items.c.id == item_id)).first()
            if r is None:
                raise NotFoundError(Text("no review item {item_id}", item_id=item_id))
            if r.status == status:
                return
            if r.status != "open":
                raise StoreError(Text("review item {item_id} is already closed as '{status}'",
                                      item_id=item_id, status=r.status))
            conn.execute(update(m.review_items).where(m.review_items.c.id == item_id)
                         .values(status=status, closed_at=self._now()))

    # -- suggestions (values changed where the service publishes, DECISIONS §18)

    @staticmethod
    def _suggestion_row(r) -> SuggestionRow:
        return SuggestionRow(id=r.id, record_id=r.record_id, instance=r.instance, field=r.field, value=r.value,
                             observed_at=r.observed_at, status=r.status)

    def suggestions(self, status: str | None = "open", record_id: str | None = None) -> list[SuggestionRow]:
        q = select(m.suggestions).order_by(m.suggestions.c.id)
        if status is not None:
            q = q.where(m.suggestions.c.status == status)
        if record_id is not None:
            q = q.where(m.suggestions.c.record_id == record_id)
        with self._read() as conn:
            return [self._suggestion_row(r) for r in conn.execute(q)]

    def suggestion(self, suggestion_id: int) -> SuggestionRow | None:
        with self._read() as conn:
            r = conn.execute(select(m.suggestions).where(m.suggestions.c.id == suggestion_id)).first()
        return self._suggestion_row(r) if r is not None else None

    def add_suggestion(self, record_id: str, instance: str, field: str, value) -> tuple[int, bool]:
        """Record a value seen in `instance` for one field. While a suggestion for that record, instance and
        field is open, it is updated instead of repeated. Returns (id, True when it is new or its value
        changed)."""
        with self._write() as conn:
            self._require_record(conn, record_id)
            existing = conn.execute(select(m.suggestions).where(
                m.suggestions.c.record_id == record_id, m.suggestions.c.instance == instance,
                m.suggestions.c.field == field, m.suggestions.c.status == "open")).first()
            if existing is not None:
                if _hash(existing.value) == _hash(value):
                    return existing.id, False
                conn.execute(update(m.suggestions).where(m.suggestions.c.id == existing.id)
                             .values(value=value, observed_at=self._now()))
                return existing.id, True
            new_id = conn.execute(insert(m.suggestions).values(
                record_id=record_id, instance=instance, field=field, value=value, observed_at=self._now(),
                status="open")).inserted_primary_key[0]
            return new_id, True

    def close_suggestion(self, suggestion_id: int, status: str) -> None:
        if status not in ("accepted", "rejected"):
            raise StoreError(Text("a suggestion closes as 'accepted' or 'rejected', not '{status}'", status=status))
        with self._write() as conn:
            r = conn.execute(select(m.suggestions).where(m.suggestions.c.id == suggestion_id)).first()
            if r is None:
                raise NotFoundError(Text("no suggestion {suggestion_id}", suggestion_id=suggestion_id))
            if r.status == status:
                return
            if r.status != "open":
                raise StoreError(Text("suggestion {suggestion_id} is already closed as '{status}'",
                                      suggestion_id=suggestion_id, status=r.status))
            conn.execute(update(m.suggestions).where(m.suggestions.c.id == suggestion_id).values(status=status))

    def updated_at(self, kind: str | None = None) -> dict[str, datetime]:
        """Record id -> time of its last revision (exports state when a record last changed)."""
        q = select(m.records.c.id, m.records.c.updated_at)
        if kind is not None:
            q = q.where(m.records.c.kind == kind)
        with self._read() as conn:
            return {r.id: r.updated_at for r in conn.execute(q)}

    # -- runs

    def start_run(self) -> int:
        with self._write() as conn:
            return conn.execute(insert(m.runs).values(started_at=self._now(), status="running",
                                                      report={})).inserted_primary_key[0]

    def finish_run(self, run_id: int, *, status: str, exit_code: int, report: dict) -> None:
        with self._write() as conn:
            done = conn.execute(update(m.runs).where(m.runs.c.id == run_id).values(
                finished_at=self._now(), status=status, exit_code=exit_code, report=report))
            if done.rowcount != 1:
                raise NotFoundError(Text("no run {run_id}", run_id=run_id))

    def interrupt_unfinished_runs(self) -> list[int]:
        """Mark the runs that never finished (killed, crashed) as `interrupted`; their ids. Called by the next
        run, which holds the run lock: no other run can be in progress."""
        with self._write() as conn:
            ids = [r.id for r in conn.execute(select(m.runs.c.id).where(m.runs.c.status == "running"))]
            if ids:
                conn.execute(update(m.runs).where(m.runs.c.id.in_(ids)).values(status="interrupted"))
            return ids

    def runs(self, limit: int = 10) -> list[RunRow]:
        q = select(m.runs).order_by(m.runs.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [RunRow(id=r.id, started_at=r.started_at, finished_at=r.finished_at, status=r.status,
                           exit_code=r.exit_code, report=r.report) for r in conn.execute(q)]

    # -- engine state

    def get_state(self, key: str) -> object | None:
        with self._read() as conn:
            r = conn.execute(select(m.state.c.value).where(m.state.c.key == key)).first()
        return r.value if r is not None else None

    def state_keys(self, prefix: str) -> list[str]:
        """The keys that start with `prefix`, oldest first."""
        q = (select(m.state.c.key).where(m.state.c.key.startswith(prefix, autoescape=True))
             .order_by(m.state.c.updated_at, m.state.c.key))
        with self._read() as conn:
            return [r.key for r in conn.execute(q)]

    def set_state(self, key: str, value) -> None:
        """Store a JSON value under a key; None removes the key."""
        with self._write() as conn:
            if value is None:
                conn.execute(delete(m.state).where(m.state.c.key == key))
                return
            done = conn.execute(update(m.state).where(m.state.c.key == key)
                                .values(value=value, updated_at=self._now()))
            if done.rowcount == 0:
                conn.execute(insert(m.state).values(key=key, value=value, updated_at=self._now()))

    # -- erasure (`forget`, GDPR art. 17): every place a person's data can be, rewritten in one transaction

    # columns that can hold what people typed: every JSON and Text column, and these names of people
    _PEOPLE_COLUMNS = frozenset({"author", "resolved_by"})

    @classmethod
    def _erasable(cls) -> list[tuple[Table, list[str], list[str]]]:
        out = []
        for table in m.metadata.sorted_tables:
            cols = [c.name for c in table.columns
                    if isinstance(c.type, (JSON, Text)) or c.name in cls._PEOPLE_COLUMNS]
            if cols:
                out.append((table, [c.name for c in table.primary_key.columns], cols))
        return out

    def cells(self) -> Iterator[tuple[str, dict, str, object]]:
        """(table, primary key, column, value) of every cell that can hold a person's data."""
        with self._read() as conn:
            for table, key, cols in self._erasable():
                for r in conn.execute(select(*[table.c[k] for k in key], *[table.c[c] for c in cols])):
                    row = r._mapping
                    ident = {k: row[k] for k in key}
                    for c in cols:
                        if row[c] is not None:
                            yield table.name, ident, c, row[c]

    def rewrite_cells(self, changes: list[tuple[str, dict, str, object]]) -> None:
        """Set each (table, primary key, column) to its new value, all in one transaction. A link whose snapshot
        changes gets its hash recomputed, and forgets the hash of what was last written (it hashed the old
        values)."""
        tables = {t.name: t for t in m.metadata.sorted_tables}
        with self._write() as conn:
            for name, ident, column, value in changes:
                table = tables[name]
                values = {column: value}
                if name == "links" and column == "snapshot":
                    values.update(snapshot_hash=_hash(value), written_hash=None)
                where = [table.c[k] == v for k, v in ident.items()]
                done = conn.execute(update(table).where(*where).values(**values))
                if done.rowcount != 1:
                    raise StoreError(Text("{table} row {row} changed while it was rewritten; nothing was erased",
                                          table=name, row=str(ident)))

    def compact(self) -> None:
        """Rewrite the database files so that erased values do not linger in free pages or the journal
        (SQLite: VACUUM and a WAL checkpoint; PostgreSQL: VACUUM FULL of every table)."""
        with self._guard(Text("compacting the database")):
            if self._engine.dialect.name == "sqlite":
                raw = self._engine.raw_connection()  # autocommit at the driver: VACUUM refuses a transaction
                try:
                    raw.driver_connection.execute("VACUUM")
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    raw.close()
                return
            with self._engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in m.metadata.sorted_tables:
                    conn.exec_driver_sql(f'VACUUM FULL "{table.name}"')
