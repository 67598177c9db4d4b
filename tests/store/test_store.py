"""The store on SQLite and PostgreSQL: schema, history, links, transactions, conflicts, review queue, runs."""

from __future__ import annotations

import math
import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic.migration import MigrationContext
from alembic.autogenerate import compare_metadata
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from oscartes_sync.hashing import content_hash
from oscartes_sync.store import LinkRow, NotFoundError, Store, StoreError
from oscartes_sync.store import models

PG_ENV = "OSCARTES_TEST_POSTGRES_URL"

TABLES = {"records", "revisions", "links", "conflicts", "review_items", "runs", "state"}
VERSION_TABLE = "oscartes_schema_version"


def _schema_version(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------------------------- migrations

def test_migrations_create_the_schema_on_an_empty_database(db_url):
    engine = create_engine(db_url)
    try:
        assert not set(inspect(engine).get_table_names()) & TABLES
        Store(db_url).close()
        assert TABLES | {VERSION_TABLE} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert _schema_version(db_url) == head_revisions()


def head_revisions() -> list[str]:
    """The newest migration of the package (not a literal: each new migration moves it)."""
    from alembic.script import ScriptDirectory

    from oscartes_sync.store.api import alembic_config

    heads = list(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert len(heads) == 1 and heads[0] >= "0002"
    return heads


def test_reopening_keeps_data_and_schema_version(open_store, db_url):
    first = open_store()
    rid = first.create_record("actor", {"name": "La Ressourcerie"}, author="a", origin="wiki-noe")
    first.close()
    second = open_store()
    assert second.record(rid).fields == {"name": "La Ressourcerie"}
    assert _schema_version(db_url) == head_revisions()


def test_models_match_what_the_migrations_build(store, db_url):
    # the tables are declared twice (models.py and the migration): they must not drift apart
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    finally:
        engine.dispose()
    diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    assert diff == []


def test_a_schema_newer_than_the_code_is_refused_clearly(open_store, db_url):
    open_store().close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer version"):
        Store(db_url)


# -------------------------------------------------------------------------------------------------- records

def test_history_keeps_every_revision_with_author_and_origin(store):
    rid = store.create_record("actor", {"name": "Épicerie"}, author="importer", origin="wiki-noe", note="import")
    assert store.update_record(rid, {"name": "Épicerie du Coin"}, author="marie", origin="wiki-tel") == 2
    assert store.update_record(rid, {"name": "Épicerie du Coin", "commune": "Nantes"},
                               author="sync", origin="nextcloud") == 3

    rec = store.record(rid)
    assert (rec.kind, rec.revision, rec.deleted) == ("actor", 3, False)
    assert rec.fields == {"name": "Épicerie du Coin", "commune": "Nantes"}

    hist = store.history(rid)
    assert [(h.number, h.author, h.origin, h.fields["name"]) for h in hist] == [
        (1, "importer", "wiki-noe", "Épicerie"),
        (2, "marie", "wiki-tel", "Épicerie du Coin"),
        (3, "sync", "nextcloud", "Épicerie du Coin"),
    ]
    assert hist[0].note == "import"
    assert all(h.at.tzinfo is not None and h.at.utcoffset() == timedelta(0) for h in hist)
    assert hist[0].at <= hist[1].at <= hist[2].at


def test_update_with_equal_fields_writes_nothing(store):
    rid = store.create_record("actor", {"name": "A", "themes": ["energie"]}, author="a", origin="o")
    assert store.update_record(rid, {"themes": ["energie"], "name": "A"}, author="b", origin="o") == 1
    assert len(store.history(rid)) == 1
    # equal for Python (True == 1) but not the same JSON value: that is a change
    assert store.update_record(rid, {"name": "A", "themes": ["energie"], "x": True}, author="b", origin="o") == 2
    assert store.update_record(rid, {"name": "A", "themes": ["energie"], "x": 1}, author="b", origin="o") == 3


def test_record_ids_and_errors(store):
    rid = store.create_record("event", {"title": "Fête"}, author="a", origin="o")
    assert len(rid) == 36 and rid.count("-") == 4  # uuid4
    given = store.create_record("actor", {"name": "B"}, author="a", origin="o", record_id="fixed-id")
    assert given == "fixed-id"
    with pytest.raises(StoreError, match="already exists"):
        store.create_record("actor", {"name": "C"}, author="a", origin="o", record_id="fixed-id")
    assert store.record("fixed-id").fields == {"name": "B"}
    with pytest.raises(NotFoundError):
        store.update_record("missing", {"name": "x"}, author="a", origin="o")
    assert store.record("missing") is None
    assert [r.id for r in store.records(kind="event")] == [rid]
    assert {r.id for r in store.records()} == {rid, "fixed-id"}


def test_tombstone_keeps_fields_and_history(store):
    rid = store.create_record("actor", {"name": "Fermée"}, author="a", origin="wiki-noe")
    keep = store.create_record("actor", {"name": "Ouverte"}, author="a", origin="wiki-noe")
    store.tombstone_record(rid, author="marie", origin="wiki-tel", note="deleted in wiki-tel")

    assert [r.id for r in store.records("actor")] == [keep]
    assert {r.id for r in store.records("actor", include_deleted=True)} == {rid, keep}
    rec = store.record(rid)
    assert rec.deleted and rec.fields == {"name": "Fermée"} and rec.revision == 2
    last = store.history(rid)[-1]
    assert (last.deleted, last.author, last.origin, last.note) == (True, "marie", "wiki-tel", "deleted in wiki-tel")

    store.tombstone_record(rid, author="again", origin="o")  # already deleted: nothing new
    assert len(store.history(rid)) == 2


def test_restore_brings_back_old_fields_and_undeletes(store):
    rid = store.create_record("actor", {"name": "V1", "siret": "1"}, author="a", origin="o")
    store.update_record(rid, {"name": "V2"}, author="b", origin="wiki-tel")
    store.tombstone_record(rid, author="c", origin="wiki-noe")

    assert store.restore(rid, 1, author="coordinator") == 4
    rec = store.record(rid)
    assert (rec.fields, rec.deleted, rec.revision) == ({"name": "V1", "siret": "1"}, False, 4)
    last = store.history(rid)[-1]
    assert (last.author, last.origin, last.deleted, last.fields) == ("coordinator", "restore", False, rec.fields)
    assert "1" in last.note
    # the overwritten and deleted states are still in the history
    assert [h.fields.get("name") for h in store.history(rid)] == ["V1", "V2", "V2", "V1"]
    with pytest.raises(NotFoundError):
        store.restore(rid, 99, author="x")
    # restoring what is already there adds nothing
    assert store.restore(rid, 1, author="coordinator") == 4


# ---------------------------------------------------------------------------------------------------- links

def test_set_link_inserts_then_replaces(store):
    rid = store.create_record("actor", {"name": "A"}, author="a", origin="o")
    store.set_link(rid, "wiki-noe", form_id="2", remote_id=None, snapshot={})
    assert store.link(rid, "wiki-noe").remote_id is None  # create started, not confirmed

    snap = {"name": "A", "commune": "Rennes"}
    store.set_link(rid, "wiki-noe", form_id="2", remote_id="LaRessourcerie", snapshot=snap,
                   written_hash=content_hash(snap), pending={"name": "A (member edit)"})
    link = store.link(rid, "wiki-noe")
    assert link == LinkRow(record_id=rid, instance="wiki-noe", remote_id="LaRessourcerie", form_id="2",
                           snapshot=snap, snapshot_hash=content_hash(snap), written_hash=content_hash(snap),
                           pending={"name": "A (member edit)"})
    assert store.link_by_remote("wiki-noe", "LaRessourcerie") == link
    assert store.link_by_remote("wiki-tel", "LaRessourcerie") is None
    assert len(store.links()) == 1

    # every column comes from the call: pending and written_hash left out are cleared
    store.set_link(rid, "wiki-noe", form_id="2", remote_id="LaRessourcerie", snapshot={"name": "B"})
    link = store.link(rid, "wiki-noe")
    assert (link.pending, link.written_hash, link.snapshot_hash) == (None, None, content_hash({"name": "B"}))


def test_links_filter_and_remove(store):
    a = store.create_record("actor", {"name": "A"}, author="x", origin="o")
    b = store.create_record("actor", {"name": "B"}, author="x", origin="o")
    store.set_link(a, "wiki-noe", form_id="2", remote_id="A", snapshot={"name": "A"})
    store.set_link(a, "wiki-tel", form_id="5", remote_id="A", snapshot={"name": "A"})
    store.set_link(b, "wiki-noe", form_id="2", remote_id="B", snapshot={"name": "B"})
    assert {(l.record_id, l.instance) for l in store.links(instance="wiki-noe")} == {(a, "wiki-noe"), (b, "wiki-noe")}
    assert {l.instance for l in store.links(record_id=a)} == {"wiki-noe", "wiki-tel"}
    assert [l.remote_id for l in store.links(instance="wiki-tel", record_id=a)] == ["A"]
    store.remove_link(a, "wiki-noe")
    assert store.link(a, "wiki-noe") is None and store.link(a, "wiki-tel") is not None
    store.remove_link(a, "wiki-noe")  # absent: nothing to do


def test_one_record_per_remote_entry(store):
    a = store.create_record("actor", {"name": "A"}, author="x", origin="o")
    b = store.create_record("actor", {"name": "B"}, author="x", origin="o")
    store.set_link(a, "wiki-noe", form_id="2", remote_id="Same", snapshot={"name": "A"})
    with pytest.raises(StoreError, match="already linked"):
        store.set_link(b, "wiki-noe", form_id="2", remote_id="Same", snapshot={"name": "B"})
    assert store.link(b, "wiki-noe") is None
    # the same remote id in another instance, and unconfirmed creates, are fine
    store.set_link(b, "wiki-tel", form_id="2", remote_id="Same", snapshot={"name": "B"})
    store.set_link(a, "wiki-x", form_id="2", remote_id=None, snapshot={})
    store.set_link(b, "wiki-x", form_id="2", remote_id=None, snapshot={})
    assert len(store.links(instance="wiki-x")) == 2
    with pytest.raises(NotFoundError):
        store.set_link("missing", "wiki-noe", form_id="2", remote_id="Other", snapshot={})


def test_the_database_itself_refuses_a_second_link_to_one_entry(store, db_url):
    # the code checks first, but a second process could race it: the unique index is the last word
    a = store.create_record("actor", {"name": "A"}, author="x", origin="o")
    b = store.create_record("actor", {"name": "B"}, author="x", origin="o")
    store.set_link(a, "wiki-noe", form_id="2", remote_id="Same", snapshot={})
    now = datetime.now(timezone.utc)
    engine = create_engine(db_url)
    try:
        with pytest.raises(Exception, match="(?i)unique"):
            with engine.begin() as conn:
                conn.execute(models.links.insert().values(
                    record_id=b, instance="wiki-noe", remote_id="Same", form_id="2", snapshot={},
                    snapshot_hash=content_hash({}), updated_at=now))
        with pytest.raises(Exception, match="(?i)unique"):
            with engine.begin() as conn:
                conn.execute(models.conflicts.insert(), [
                    dict(record_id=a, field="name", base=None, candidates={}, status="open", opened_at=now)] * 2)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- transactions

def test_rollback_leaves_nothing_half_written(store, open_store):
    rid = store.create_record("actor", {"name": "Before"}, author="a", origin="o")
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.update_record(rid, {"name": "During"}, author="a", origin="o")
            new = store.create_record("actor", {"name": "New"}, author="a", origin="o")
            store.set_link(new, "wiki-noe", form_id="2", remote_id="New", snapshot={"name": "New"})
            store.open_conflict(rid, "name", "Before", {"wiki-noe": "x", "wiki-tel": "y"})
            store.add_review_item("wiki-noe", "Dup", "actor", {"name": "Dup"}, [])
            store.set_state("last_listing", "2025-01-01")
            assert store.record(rid).fields == {"name": "During"}  # visible inside
            raise RuntimeError("boom")
    for s in (store, open_store()):  # seen from this store and from a new connection
        assert s.record(rid).fields == {"name": "Before"}
        assert len(s.history(rid)) == 1
        assert [r.id for r in s.records(include_deleted=True)] == [rid]
        assert s.links() == [] and s.conflicts(status=None) == [] and s.review_items(status=None) == []
        assert s.get_state("last_listing") is None


def test_transaction_commits_all_together_and_is_invisible_until_then(store, open_store):
    other = open_store()
    with store.transaction():
        rid = store.create_record("actor", {"name": "A"}, author="a", origin="o")
        store.set_link(rid, "wiki-noe", form_id="2", remote_id="A", snapshot={"name": "A"})
        assert other.record(rid) is None
    assert other.record(rid).fields == {"name": "A"}
    assert other.link(rid, "wiki-noe").remote_id == "A"


def test_nested_transaction_joins_and_can_fail_alone(store):
    with store.transaction():
        rid = store.create_record("actor", {"name": "Kept"}, author="a", origin="o")
        other = store.create_record("actor", {"name": "Other"}, author="a", origin="o")
        store.set_link(rid, "wiki-noe", form_id="2", remote_id="Kept", snapshot={})
        with store.transaction():
            store.update_record(rid, {"name": "Kept too"}, author="a", origin="o")
        try:
            with store.transaction():
                store.update_record(rid, {"name": "Undone"}, author="a", origin="o")
                store.set_link(other, "wiki-noe", form_id="2", remote_id="Kept", snapshot={})  # refused
        except StoreError:
            pass
        store.set_state("after", 1)  # the outer transaction goes on after the failed inner one
    assert store.record(rid).fields == {"name": "Kept too"}
    assert [h.number for h in store.history(rid)] == [1, 2]
    assert store.get_state("after") == 1


def test_an_outer_failure_undoes_committed_inner_blocks(store):
    with pytest.raises(KeyError):
        with store.transaction():
            with store.transaction():
                store.create_record("actor", {"name": "Inner"}, author="a", origin="o")
            raise KeyError("outer")
    assert store.records() == []


# ------------------------------------------------------------------------------------------------- conflicts

def test_conflicts_open_update_resolve(store):
    rid = store.create_record("actor", {"name": "A", "phone": "+33100000000"}, author="a", origin="o")
    cid = store.open_conflict(rid, "phone", "+33100000000", {"wiki-noe": "+33111111111", "wiki-tel": "+33122222222"})
    again = store.open_conflict(rid, "phone", "ignored", {"wiki-noe": "+33133333333", "wiki-tel": "+33122222222"})
    assert again == cid
    c = store.conflict(cid)
    assert (c.record_id, c.field, c.status, c.base) == (rid, "phone", "open", "+33100000000")
    assert c.candidates == {"wiki-noe": "+33133333333", "wiki-tel": "+33122222222"}
    assert c.resolved_at is None and c.resolved_by is None and c.opened_at.tzinfo is not None
    other = store.open_conflict(rid, "name", None, {"wiki-noe": "B", "wiki-tel": None})
    assert other != cid and store.conflict(other).base is None
    assert [x.id for x in store.conflicts()] == [cid, other]
    assert [x.id for x in store.conflicts(record_id="nobody")] == []

    with store.transaction():
        store.resolve_conflict(cid, "+33122222222", by="coordinator")
        store.update_record(rid, {"name": "A", "phone": "+33122222222"}, author="coordinator", origin="conflicts")
    c = store.conflict(cid)
    assert (c.status, c.resolution, c.resolved_by) == ("resolved", "+33122222222", "coordinator")
    assert c.resolved_at >= c.opened_at
    assert [x.id for x in store.conflicts()] == [other]
    assert [x.id for x in store.conflicts(status="resolved")] == [cid]
    assert len(store.conflicts(status=None)) == 2
    with pytest.raises(StoreError, match="already resolved"):
        store.resolve_conflict(cid, "x", by="someone")
    with pytest.raises(NotFoundError):
        store.resolve_conflict(12345, "x", by="someone")
    # once resolved, a new disagreement on the field is a new conflict
    assert store.open_conflict(rid, "phone", "+33122222222", {"wiki-noe": "1", "wiki-tel": "2"}) not in (cid, other)


def test_resolve_conflict_does_not_touch_the_record(store):
    rid = store.create_record("actor", {"name": "A"}, author="a", origin="o")
    cid = store.open_conflict(rid, "name", "A", {"wiki-noe": "B", "wiki-tel": "C"})
    store.resolve_conflict(cid, "B", by="coordinator")
    assert store.record(rid).fields == {"name": "A"} and store.record(rid).revision == 1


# ---------------------------------------------------------------------------------------------- review queue

def test_review_queue_is_idempotent_while_open(store):
    first = store.add_review_item("wiki-noe", "Ressourcerie", "actor", {"name": "Ressourcerie"},
                                  [{"record_id": "r1", "score": 0.8}])
    again = store.add_review_item("wiki-noe", "Ressourcerie", "actor", {"name": "La Ressourcerie"},
                                  [{"record_id": "r1", "score": 0.9}, {"record_id": "r2", "score": 0.7}])
    assert again == first
    other = store.add_review_item("wiki-tel", "Ressourcerie", "actor", {"name": "R"}, [])
    items = store.review_items()
    assert [i.id for i in items] == [first, other]
    assert items[0].values == {"name": "La Ressourcerie"} and len(items[0].candidates) == 2
    assert (items[0].instance, items[0].remote_id, items[0].kind, items[0].status) == (
        "wiki-noe", "Ressourcerie", "actor", "open")

    store.close_review_item(first, "distinct")
    assert [i.id for i in store.review_items()] == [other]
    assert [i.status for i in store.review_items(status="distinct")] == ["distinct"]
    store.close_review_item(first, "distinct")  # same decision again: nothing to do
    with pytest.raises(StoreError):
        store.close_review_item(first, "merged")
    with pytest.raises(StoreError):
        store.close_review_item(other, "open")
    with pytest.raises(NotFoundError):
        store.close_review_item(999, "merged")
    # the entry comes back after a decision: a new item
    assert store.add_review_item("wiki-noe", "Ressourcerie", "actor", {}, []) not in (first, other)
    assert len(store.review_items(status=None)) == 3


# ------------------------------------------------------------------------------------------- runs and state

def test_runs_newest_first(store):
    first = store.start_run()
    second = store.start_run()
    store.finish_run(first, status="ok", exit_code=0, report={"written": {"wiki-noe": 2}})
    runs = store.runs()
    assert [r.id for r in runs] == [second, first]
    assert (runs[0].status, runs[0].finished_at, runs[0].exit_code, runs[0].report) == ("running", None, None, {})
    assert (runs[1].status, runs[1].exit_code, runs[1].report) == ("ok", 0, {"written": {"wiki-noe": 2}})
    assert runs[1].finished_at >= runs[1].started_at
    assert [r.id for r in store.runs(limit=1)] == [second]
    with pytest.raises(NotFoundError):
        store.finish_run(999, status="ok", exit_code=0, report={})


def test_state_values(store):
    assert store.get_state("k") is None
    store.set_state("k", {"wiki-noe": "2025-01-01 10:00:00"})
    store.set_state("k", {"wiki-noe": "2025-01-02 10:00:00"})
    assert store.get_state("k") == {"wiki-noe": "2025-01-02 10:00:00"}
    store.set_state("n", 0)
    store.set_state("f", False)
    assert (store.get_state("n"), store.get_state("f")) == (0, False)
    store.set_state("k", None)
    assert store.get_state("k") is None


# ------------------------------------------------------------------------------------------ values and times

def test_json_values_round_trip(store):
    fields = {"name": "Café «Chez Zoé» 🌱", "nul": "a\u0000b", "lat": 47.218371, "n": 0, "empty": "",
              "none": None, "list": ["énergie", "mobilité"], "nested": {"b": [1, 2.5, True]}, "quote": "it's \"x\""}
    rid = store.create_record("actor", fields, author="a", origin="o")
    assert store.record(rid).fields == fields
    assert content_hash(store.record(rid).fields) == content_hash(fields)


def test_nan_is_refused_on_both_databases(store):
    with pytest.raises(StoreError):
        store.create_record("actor", {"lat": math.nan}, author="a", origin="o")
    assert store.records() == []


def test_times_are_stored_and_returned_in_utc(open_store):
    paris = timezone(timedelta(hours=2))
    at = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=paris)
    s = open_store(clock=lambda: at)
    rid = s.create_record("actor", {"name": "A"}, author="a", origin="o")
    got = s.history(rid)[0].at
    assert got == at and got.utcoffset() == timedelta(0) and got.hour == 10
    run = s.start_run()
    assert s.runs()[0].id == run and s.runs()[0].started_at == at


# -------------------------------------------------------------------------------------------------- bad URLs

@pytest.mark.parametrize("url, words", [
    ("not a url", "invalid database URL"),
    ("mysql://bob:Sup3rS3cret@db.example/oscartes", "unsupported database"),
    ("postgresql+psycopg://bob:Sup3rS3cret@127.0.0.1:1/oscartes", "cannot connect"),
    ("postgresql://bob:Sup3rS3cret@127.0.0.1:1/oscartes", "cannot connect"),
    ("postgresql+psycopg://bob:Sup3rS3cret@127.0.0.1:notaport/oscartes", "invalid database URL"),
    ("sqlite:////nonexistent-dir-oscartes/x/store.db", "does not exist"),
])
def test_bad_url_gives_a_clear_error_without_the_password(url, words):
    with pytest.raises(StoreError) as err:
        Store(url)
    message = str(err.value)
    assert words in message
    assert "Sup3rS3cret" not in message
    if "bob" in url:
        assert "bob:***@" in message  # the database is still named


@pytest.mark.postgres
def test_wrong_password_on_a_real_server():
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (`source .ci/postgres.sh` starts a throwaway PostgreSQL)")
    url = make_url(base).set(password="Wr0ngPassw0rd")
    with pytest.raises(StoreError) as err:
        Store(url.render_as_string(hide_password=False))
    message = str(err.value)
    assert "password authentication failed" in message
    assert "Wr0ngPassw0rd" not in message and "***" in message


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_threads_each_get_their_own_transaction(store):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with store.transaction():
                    rid = store.create_record("actor", {"name": f"{n}-{i}"}, author=f"t{n}", origin="o")
                    store.set_link(rid, f"wiki-{n}", form_id="2", remote_id=f"E{i}", snapshot={})
        except BaseException as exc:  # reported below: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.records()) == 30
    assert {len(store.links(instance=f"wiki-{n}")) for n in range(3)} == {10}


def test_unstorable_values_are_store_errors(store):
    rid = store.create_record("actor", {"name": "A"}, author="a", origin="o")
    with pytest.raises(StoreError):
        store.set_link(rid, "wiki-noe", form_id="2", remote_id="A", snapshot={"lat": math.inf})
    with pytest.raises(StoreError):
        store.update_record(rid, {"when": datetime.now(timezone.utc)}, author="a", origin="o")
    assert store.link(rid, "wiki-noe") is None and store.record(rid).revision == 1
