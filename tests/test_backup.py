"""`backup PATH` and `restore-backup PATH`: a restored store syncs without rewriting what had not changed, and
a mistake (a path that exists, a folder one cannot write in, a file that is not a backup, a run in progress)
is a clear message with nothing lost."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from filelock import FileLock

from test_cli import (  # noqa: F401 - the CLI tests' set-up: a config file, its secrets, two sandbox wikis
    FORM, _no_outside_config, entry, entry_writes, reset_logs, setup, titles, wiki,
)


def by_title(setup, name):
    return {e["bf_titre"]: i for i, e in wiki(setup, name).list(FORM).items()}


def records(setup):
    with setup.store() as s:
        return {r.fields["name"]: r for r in s.records("actor")}


def test_a_restored_store_syncs_without_rewriting_what_had_not_changed(setup, tmp_path):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    for t in ("Recyclerie des Ulis", "AMAP des Coteaux", "Fablab Orsay Sciences", "Jardin des Sablons"):
        a.member_create(FORM, entry(t))
    b.member_create(FORM, entry("Épicerie La Fourmi", "Igny", "91430"))
    assert setup.run("sync").code == 0
    saved = tmp_path / "saves" / "before.db"
    saved.parent.mkdir()
    ran = setup.run("backup", str(saved))
    assert ran.code == 0, ran
    assert str(saved) in ran.stdout and saved.stat().st_size > 0

    # life goes on: an edit, a new entry, a deletion, each synced
    a.member_edit(by_title(setup, "polesnoe")["Recyclerie des Ulis"], {"bf_horaires": "Mo-Fr 09:00-18:00"})
    b.member_create(FORM, entry("Repair café de Massy", "Massy", "91300"))
    a.member_delete(by_title(setup, "polesnoe")["Fablab Orsay Sciences"])
    assert setup.run("sync").code == 0
    assert setup.run("sync").code == 0
    after = {n: r.fields for n, r in records(setup).items()}

    ran = setup.run("restore-backup", str(saved))
    assert ran.code == 0, ran
    assert "restored" in ran.stdout
    kept = list(setup.dir.glob("oscartes.db.before-restore-*"))
    assert len(kept) == 1 and str(kept[0]) in ran.stdout  # the store as it was, kept
    assert "Repair café de Massy" not in records(setup)  # the old state is back

    reset_logs(setup)
    ran = setup.run("sync")
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}, ran
    assert {n: r.fields for n, r in records(setup).items()} == after
    for name in ("polesnoe", "tel"):  # no duplicate anywhere
        assert titles(setup, name) == sorted(after)
    reset_logs(setup)
    assert setup.run("sync").code == 0
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}


def test_backup_never_overwrites_a_file(setup, tmp_path):
    assert setup.run("sync").code == 0
    dest = tmp_path / "exists.db"
    dest.write_text("precious")
    ran = setup.run("backup", str(dest))
    assert ran.code == 2
    assert "already exists" in ran.stderr and str(dest) in ran.stderr
    assert dest.read_text() == "precious"


@pytest.mark.parametrize("where", ["missing-folder", "a-file-as-folder", "unwritable"])
def test_backup_into_a_place_one_cannot_write_is_a_clear_error(setup, tmp_path, where):
    assert setup.run("sync").code == 0
    if where == "missing-folder":
        dest = tmp_path / "nowhere" / "b.db"
    elif where == "a-file-as-folder":
        (tmp_path / "plain").write_text("x")
        dest = tmp_path / "plain" / "b.db"
    elif os.geteuid() == 0:  # root writes anywhere a mode allows: a read-only file system then
        dest = Path("/sys/oscartes-test-backup.db")
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        dest = ro / "b.db"
    ran = setup.run("backup", str(dest))
    assert ran.code == 2, ran
    assert str(dest) in ran.stderr and not dest.exists()
    assert list(tmp_path.glob("**/.b.db.*")) == []  # no half-written file left


def test_backup_before_any_run_says_there_is_nothing_to_save(setup, tmp_path):
    ran = setup.run("backup", str(tmp_path / "b.db"))
    assert ran.code == 2 and "does not exist yet" in ran.stderr


@pytest.mark.parametrize("kind", ["text", "empty", "other-sqlite", "pg-dump-header", "missing"])
def test_restoring_something_that_is_not_a_backup_changes_nothing(setup, tmp_path, kind):
    wiki(setup, "polesnoe").member_create(FORM, entry("AMAP des Coteaux"))
    assert setup.run("sync").code == 0
    before = setup.db.read_bytes()
    bad = tmp_path / "bad.db"
    if kind == "text":
        bad.write_text("these are my notes, not a backup\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "other-sqlite":
        conn = sqlite3.connect(bad)
        conn.execute("CREATE TABLE notes (t TEXT)")
        conn.commit()
        conn.close()
    elif kind == "pg-dump-header":
        bad.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    ran = setup.run("restore-backup", str(bad))
    assert ran.code == 2, ran
    assert str(bad) in ran.stderr
    assert {"text": "not an oscartes-sync backup", "empty": "not an oscartes-sync backup",
            "other-sqlite": "not an oscartes-sync store", "pg-dump-header": "PostgreSQL dump",
            "missing": "no such file"}[kind] in ran.stderr
    assert setup.db.read_bytes() == before
    assert list(setup.dir.glob("*.before-restore-*")) == []
    assert "AMAP des Coteaux" in records(setup)


def test_restoring_a_backup_of_a_newer_schema_is_refused(setup, tmp_path):
    assert setup.run("sync").code == 0
    saved = tmp_path / "b.db"
    assert setup.run("backup", str(saved)).code == 0
    conn = sqlite3.connect(saved)
    conn.execute("UPDATE oscartes_schema_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()
    ran = setup.run("restore-backup", str(saved))
    assert ran.code == 2 and "9999_future" in ran.stderr and "newer version" in ran.stderr


def test_restore_is_refused_while_a_run_holds_the_lock(setup, tmp_path):
    wiki(setup, "polesnoe").member_create(FORM, entry("AMAP des Coteaux"))
    assert setup.run("sync").code == 0
    saved = tmp_path / "b.db"
    assert setup.run("backup", str(saved)).code == 0
    wiki(setup, "polesnoe").member_create(FORM, entry("Jardin des Sablons"))
    assert setup.run("sync").code == 0
    with FileLock(str(setup.lock)):
        ran = setup.subprocess("restore-backup", str(saved))
    assert ran.code == 1, ran
    assert "another oscartes-sync run" in ran.stderr
    assert "Jardin des Sablons" in records(setup)  # untouched


def test_a_backup_is_consistent_while_the_store_is_open_and_written(setup, tmp_path):
    """The online backup copies what is committed, WAL included, without closing the writer."""
    wiki(setup, "polesnoe").member_create(FORM, entry("AMAP des Coteaux"))
    assert setup.run("sync").code == 0
    with setup.store() as s:  # a long-lived writer, as the sync or serve would be
        rid = next(iter(s.records("actor"))).id
        s.update_record(rid, {"name": "AMAP des Coteaux", "commune": "Orsay", "note": "committed"},
                        author="t", origin="test")
        saved = tmp_path / "b.db"
        assert setup.run("backup", str(saved)).code == 0
    conn = sqlite3.connect(saved)
    assert "committed" in conn.execute("SELECT fields FROM records").fetchone()[0]
    conn.close()


def test_pg_dump_missing_is_a_clear_message(tmp_path, monkeypatch):
    from oscartes_sync.backup import BackupError, backup
    from oscartes_sync.config import Config, StoreConfig

    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
    cfg = Config(store=StoreConfig(url="postgresql+psycopg://u:secretpw@127.0.0.1:1/db"), base_dir=str(tmp_path))
    with pytest.raises(BackupError) as err:
        backup(cfg, tmp_path / "b.dump")
    assert "pg_dump is not installed" in str(err.value) and "secretpw" not in str(err.value)
    assert not (tmp_path / "b.dump").exists()


@pytest.mark.postgres
def test_postgres_backup_and_restore_round_trip(tmp_path, pg_schema_url):
    """pg_dump (custom format) of a store in a schema of its own, then pg_restore over later changes."""
    from oscartes_sync.backup import backup, restore_backup
    from oscartes_sync.config import Config, StoreConfig
    from oscartes_sync.store import Store

    url, _ = pg_schema_url
    cfg = Config(store=StoreConfig(url=url), base_dir=str(tmp_path))
    with Store(url) as s:
        rid = s.create_record("actor", {"name": "Avant"}, author="t", origin="test")
    done = backup(cfg, tmp_path / "b.dump")
    assert done.engine == "postgresql" and done.schema_version
    with Store(url) as s:
        s.update_record(rid, {"name": "Après"}, author="t", origin="test")
    restored = restore_backup(cfg, tmp_path / "b.dump")
    assert restored.saved_current is not None and restored.saved_current.exists()
    with Store(url) as s:
        assert s.record(rid).fields == {"name": "Avant"}
        assert len(s.history(rid)) == 1
