"""Backup and restore of the store: `oscartes-sync backup PATH` and `restore-backup PATH`.

SQLite: SQLite's online backup API, which copies a consistent state while a sync may be writing (WAL mode).
PostgreSQL: `pg_dump --format=custom` (and `pg_restore`), which must be installed and of the server's major
version at least (Debian: `apt-get install postgresql-client`). The password goes to them through PGPASSWORD,
never on a command line; a store kept in a schema of its own (`options=-csearch_path=NAME` in the URL) is
dumped and restored alone.

Nothing is lost on a mistake: a backup is written to a temporary file next to PATH and put in place only once
complete and checked, never over an existing file; a restore checks the backup first (it is an oscartes-sync
store, of a schema version this program knows), takes the run lock so that no sync is writing, and saves the
current store beside it before replacing it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from .config import Config
from .store import Store, StoreError
from .store.api import alembic_config, redact_url
from .text import Text, message_of

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
VERSION_TABLE = "oscartes_schema_version"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what would work. Nothing changed."""


@dataclass(frozen=True)
class BackupDone:
    path: Path
    engine: str  # "sqlite" | "postgresql"
    size: int
    schema_version: str | None


@dataclass(frozen=True)
class RestoreDone:
    path: Path
    engine: str
    schema_version: str | None
    saved_current: Path | None  # where the store as it was before the restore was saved


# ---- where the store is ---------------------------------------------------------------------------------------


def _engine_of(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except Exception:  # noqa: BLE001 - Store reports a bad URL itself, with the same words everywhere
        raise BackupError(Text("store: invalid database URL {url}", url=repr(redact_url(url)))) from None
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(Text("store: unsupported database {url}", url=repr(redact_url(url))))
    return backend


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:" or db.startswith("file:"):
        raise BackupError(Text("store {url} is not a file: nothing to back up", url=repr(redact_url(url))))
    return Path(db)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _check_destination(dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        raise BackupError(Text("{dest} already exists: give a new file name (a backup never overwrites a file)",
                               dest=str(dest)))
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise BackupError(Text("{dest}: folder {parent} does not exist", dest=str(dest), parent=str(parent)))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BackupError(Text("{dest}: folder {parent} is not writable by this user",
                               dest=str(dest), parent=str(parent)))


def _place(tmp: Path, dest: Path) -> None:
    """Put a finished file in place without ever replacing one that appeared meanwhile."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise BackupError(Text("{dest} appeared while the backup was written: left as it was; give a new file name",
                               dest=str(dest))) from None
    except OSError as exc:  # a file system without hard links
        if dest.exists():
            raise BackupError(Text("{dest} already exists: give a new file name", dest=str(dest))) from None
        try:
            shutil.copyfile(tmp, dest)
        except OSError:
            raise BackupError(Text("{dest}: cannot be written ({reason})",
                                   dest=str(dest), reason=exc.strerror or str(exc))) from None
    finally:
        tmp.unlink(missing_ok=True)


def _temp_beside(dest: Path, suffix: str) -> Path:
    folder = dest.parent if str(dest.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=folder)
    except OSError as exc:
        raise BackupError(Text("{dest}: cannot write in folder {folder} ({reason})",
                               dest=str(dest), folder=str(folder), reason=exc.strerror or str(exc))) from None
    os.close(fd)
    return Path(name)


def _write_beside(dest: Path, suffix: str, engine: str, write) -> BackupDone:
    """`write(tmp)` fills a temporary file next to `dest` and returns its schema version; the file takes its
    name only once complete and checked, and is removed on any failure."""
    tmp = _temp_beside(dest, suffix)
    try:
        version = write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _place(tmp, dest)
    return BackupDone(dest, engine, dest.stat().st_size, version)


def known_revision(version: str | None) -> bool:
    """Whether this program's migrations know that schema version (an older one is migrated on open)."""
    from alembic.script import ScriptDirectory

    if not version:
        return False
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        return scripts.get_revision(version) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False


# ---- SQLite ---------------------------------------------------------------------------------------------------


def _sqlite_version(path: Path) -> str | None:
    """The schema version of an SQLite oscartes-sync store, or BackupError if the file is not one."""
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head.startswith(PG_MAGIC):
        raise BackupError(Text("{path} is a PostgreSQL dump, and this store is SQLite: restore it with a config "
                               "whose [store] url is the PostgreSQL database", path=str(path)))
    if head != SQLITE_MAGIC:
        raise BackupError(Text("{path} is not an oscartes-sync backup (not an SQLite file)", path=str(path)))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"records", "revisions", "links", VERSION_TABLE} <= tables:
                raise BackupError(Text("{path} is an SQLite file but not an oscartes-sync store (no records table or "
                                       "schema version)", path=str(path)))
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(Text("{path} is damaged (SQLite's integrity check fails): not restored",
                                       path=str(path)))
            row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(Text("{path} cannot be read as an SQLite store ({reason})",
                               path=str(path), reason=message_of(exc))) from None
    return row[0] if row else None


def _sqlite_copy(src: Path, dest: Path) -> None:
    """SQLite's online backup: a consistent copy even while another process writes."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _backup_sqlite(url: str, dest: Path) -> BackupDone:
    db = _sqlite_path(url)
    if not db.is_file():
        raise BackupError(Text("store {db} does not exist yet: nothing to back up", db=str(db)))
    def write(tmp: Path) -> str | None:
        try:
            _sqlite_copy(db, tmp)
        except (sqlite3.Error, OSError) as exc:
            raise BackupError(Text("backup of {db} failed ({reason}); {dest} was not written",
                                   db=str(db), reason=message_of(exc), dest=str(dest))) from None
        return _sqlite_version(tmp)

    return _write_beside(dest, ".sqlite", "sqlite", write)


def _require_known(version: str | None, src: Path) -> None:
    if not known_revision(version):
        raise BackupError(Text("{src} has schema version {version}, which this version of oscartes-sync does not "
                               "know (made by a newer version?): not restored",
                               src=str(src), version=repr(version)))


def _restore_sqlite(url: str, src: Path) -> RestoreDone:
    version = _sqlite_version(src)
    _require_known(version, src)
    db = _sqlite_path(url)
    if not db.parent.is_dir():
        raise BackupError(Text("store folder {parent} does not exist", parent=str(db.parent)))
    saved = None
    # a working copy, brought to this program's schema, so that the store is replaced only by a store that opens
    work = _temp_beside(db.with_name(f"{db.name}.restore"), ".sqlite")
    try:
        _sqlite_copy(src, work)
        try:
            Store(f"sqlite:///{work}").close()
        except StoreError as exc:
            raise BackupError(Text("{src} cannot be opened as a store ({reason}): not restored",
                                   src=str(src), reason=message_of(exc))) from None
        if db.exists():
            saved = db.with_name(f"{db.name}.before-restore-{_stamp()}")
            _sqlite_copy(db, saved)
        # through SQLite, into the live file: its WAL and any reader stay consistent
        _sqlite_copy(work, db)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(Text("restore into {db} failed ({reason}); the store as it was is saved in {saved}",
                               db=str(db), reason=message_of(exc), saved=str(saved)) if saved
                          else Text("restore into {db} failed ({reason})",
                                    db=str(db), reason=message_of(exc))) from None
    finally:
        for p in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
            p.unlink(missing_ok=True)
    return RestoreDone(src, "sqlite", version, saved)


# ---- PostgreSQL -----------------------------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(Text("{name} is not installed: a PostgreSQL store is backed up with pg_dump and restored "
                               "with pg_restore (Debian: apt-get install postgresql-client, of the server's major "
                               "version)", name=name))
    return found


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options and environment for pg_dump/pg_restore; the password only in the environment."""
    u = make_url(url)
    args = []
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    args += ["--dbname", u.database or "postgres"]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    options = u.query.get("options")
    schema = None
    for part in (options if isinstance(options, tuple) else (options or "",)):
        for word in str(part).split():
            if word.startswith("-csearch_path="):
                schema = word.split("=", 1)[1].split(",")[0].strip('"')
    if schema:
        args += ["--schema", schema]
    return args, env


def _run(cmd: list[str], env: dict[str, str], password: str | None, doing: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        raise BackupError(Text("{doing}: {name} did not finish within an hour",
                               doing=doing, name=Path(cmd[0]).name)) from None
    if done.returncode != 0:
        msg = (done.stderr or done.stdout or "").strip().splitlines()
        text = msg[-1] if msg else Text("exit code {code}", code=done.returncode)
        if password:
            text = text.replace(password, "***")
        raise BackupError(Text("{doing}: {name} failed: {text}", doing=doing, name=Path(cmd[0]).name, text=text))
    return done


def _pg_version(path: Path, env: dict[str, str]) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        raise BackupError(Text("{path} is an SQLite backup, and this store is PostgreSQL: restore it with a config "
                               "whose [store] url is an SQLite file", path=str(path)))
    if not head.startswith(PG_MAGIC):
        raise BackupError(Text("{path} is not an oscartes-sync backup (not a pg_dump custom-format file)",
                               path=str(path)))
    listing = _run([_pg_tool("pg_restore"), "--list", str(path)], env, None, Text("reading {path}",
                                                                                  path=str(path))).stdout
    if " TABLE " not in listing or " records " not in listing or VERSION_TABLE not in listing:
        raise BackupError(Text("{path} is a PostgreSQL dump but not of an oscartes-sync store", path=str(path)))
    # the version itself is data: extract that one table's rows as SQL text
    data = _run([_pg_tool("pg_restore"), "--data-only", "--table", VERSION_TABLE, "--file", "-", str(path)],
                env, None, Text("reading {path}", path=str(path))).stdout
    lines = data.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and VERSION_TABLE in line and i + 1 < len(lines) and lines[i + 1] != "\\.":
            return lines[i + 1].strip()
    return None


def _backup_pg(url: str, dest: Path) -> BackupDone:
    dump = _pg_tool("pg_dump")
    args, env = _pg_args(url)
    def write(tmp: Path) -> str | None:
        _run([dump, "--format=custom", "--no-owner", "--no-privileges", "--file", str(tmp), *args], env,
             make_url(url).password, Text("backup of {url}", url=redact_url(url)))
        return _pg_version(tmp, env)

    return _write_beside(dest, ".dump", "postgresql", write)


def _restore_pg(url: str, src: Path) -> RestoreDone:
    args, env = _pg_args(url)
    password = make_url(url).password
    version = _pg_version(src, env)
    _require_known(version, src)
    saved = src.with_name(f"{src.name}.before-restore-{_stamp()}.dump")
    try:
        _check_destination(saved)
    except BackupError as exc:
        raise BackupError(Text("the current store must be saved before it is replaced, and {reason}",
                               reason=message_of(exc))) from None
    _backup_pg(url, saved)
    # one transaction: a failed restore leaves the database as it was
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner",
          "--no-privileges", "--exit-on-error", *args, str(src)], env, password, Text("restore of {src}", src=str(src)))
    try:
        Store(url).close()  # brings an older backup to this program's schema
    except StoreError as exc:
        raise BackupError(Text("restored, but the store does not open ({reason}); the store as it was is saved in "
                               "{saved}", reason=message_of(exc), saved=str(saved))) from None
    return RestoreDone(src, "postgresql", version, saved)


# ---- the two commands -----------------------------------------------------------------------------------------


def backup(cfg: Config, dest: Path) -> BackupDone:
    """Write a backup of the config's store to `dest`, a new file."""
    url = cfg.store_url()
    engine = _engine_of(url)
    _check_destination(dest)
    return _backup_sqlite(url, dest) if engine == "sqlite" else _backup_pg(url, dest)


def restore_backup(cfg: Config, src: Path) -> RestoreDone:
    """Replace the config's store with the backup `src`. The caller holds the run lock."""
    if not src.is_file():
        raise BackupError(Text("{src}: no such file", src=str(src)) if not src.exists()
                          else Text("{src} is not a file", src=str(src)))
    if not os.access(src, os.R_OK):
        raise BackupError(Text("{src} is not readable by this user", src=str(src)))
    url = cfg.store_url()
    engine = _engine_of(url)
    return _restore_sqlite(url, src) if engine == "sqlite" else _restore_pg(url, src)
