"""A coordinator's tools (issue 14 item 4): records found by what people know, merge, split, distinct, many
conflicts settled at once. Through the sync where an effect reaches the wikis."""

from __future__ import annotations

import pytest

from oscartes_sync import coordinator as co
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.records import ACTOR

FORM = DEFAULT_FORM_IDS["actor"]


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def by_name(store, name, deleted=False):
    [rec] = [r for r in store.records(include_deleted=deleted) if r.fields["name"] == name]
    return rec


@pytest.fixture
def two(sandbox, cfg, store):
    """Two actors entered in polesnoe, synced to tel."""
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940"))
    a.member_create(FORM, entry("Atelier vélo Roue Libre", "Palaiseau", "91120"))
    run(cfg, store)
    return by_name(store, "Recyclerie des Ulis"), by_name(store, "Atelier vélo Roue Libre")


# ---- finding records ------------------------------------------------------------------------------------------


def test_a_record_is_found_by_id_prefix_exact_title_and_entry_id(two, store):
    rec, _ = two
    [(inst, entry_id)] = [(l.instance, l.remote_id) for l in store.links(record_id=rec.id)][:1]
    for ref in (rec.id, rec.id[:8], "recyclerie des ulis", entry_id):
        assert co.resolve_record(store, ref).id == rec.id, ref
    assert [r.id for r in co.find_records(store, "ulis recyclerie")] == [rec.id]
    assert [r.id for r in co.find_records(store, "Recyclérie")] == [rec.id]  # accents aside


def test_a_deleted_record_is_found_by_its_title_and_its_former_entry_id_and_restore_brings_it_back(
        sandbox, cfg, store, two):
    rec, _ = two
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    entry_id = store.link(rec.id, "polesnoe").remote_id
    a.member_delete(entry_id)
    run(cfg, store)
    assert store.record(rec.id).deleted and not any("Ulis" in e["bf_titre"] for e in b.list(FORM).values())
    assert co.resolve_record(store, "Recyclerie des Ulis").id == rec.id
    assert co.resolve_record(store, entry_id).id == rec.id
    assert co.find_records(store, "ulis") == []
    assert [r.id for r in co.find_records(store, "ulis", include_deleted=True)] == [rec.id]
    again, _ = co.restore_record(store, entry_id)
    assert again.id == rec.id and not store.record(rec.id).deleted
    run(cfg, store)
    for wiki in (a, b):
        assert [e["bf_titre"] for e in wiki.list(FORM).values()].count("Recyclerie des Ulis") == 1


def test_an_ambiguous_title_names_the_candidates_and_changes_nothing(sandbox, cfg, store):
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Jardin partagé", "Orsay", "91400"))
    a.member_create(FORM, entry("Jardin partagé", "Massy", "91300"))
    run(cfg, store)
    [item] = store.review_items("open")  # a homonym elsewhere waits for a person, who says it is another actor
    co.mark_distinct(store, item.id)
    run(cfg, store)
    assert len(store.records()) == 2
    with pytest.raises(co.Refused) as err:
        co.resolve_record(store, "Jardin partagé")
    assert "names 2 records" in str(err.value) and str(err.value).count("Jardin partagé (") == 2
    with pytest.raises(co.Refused, match="no record"):
        co.resolve_record(store, "Personne")


# ---- merge, split, distinct --------------------------------------------------------------------------------------


def test_merge_keeps_one_record_with_every_entry_and_the_next_sync_removes_the_double(sandbox, cfg, store, two):
    keep, other = two
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    m = co.merge_records(store, keep.id[:8], "Atelier vélo Roue Libre")
    assert m.doubled == ["polesnoe", "tel"] and m.moved == []
    assert store.record(other.id).deleted and not store.record(keep.id).deleted
    assert "Atelier vélo Roue Libre" in store.history(keep.id)[-1].note  # what it did not keep, in the history
    run(cfg, store, allow_deletes=0)
    for wiki in (a, b):
        titles = [e["bf_titre"] for e in wiki.list(FORM).values()]
        assert titles == ["Recyclerie des Ulis"], titles


def test_merge_moves_an_entry_the_kept_record_lacks_and_the_sync_writes_the_merged_values(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a_id = a.member_create(FORM, entry("Repair café", "Massy", "91300"))
    b_id = b.member_create(FORM, entry("Café réparation de Massy", "Massy", "91300", bf_telephone="01 69 10 20 30"))
    # two records each known in one wiki only (as a store keeps them before the copies are made)
    keep = store.create_record("actor", {"name": "Repair café", "commune": "Massy", "postcode": "91300"},
                               author="t", origin="polesnoe")
    other = store.create_record("actor", {"name": "Café réparation de Massy", "commune": "Massy",
                                          "postcode": "91300", "phone": "+33169102030"}, author="t", origin="tel")
    run(cfg, store, dry_run=True)  # nothing linked by a dry run
    for rid, inst, eid in ((keep, "polesnoe", a_id), (other, "tel", b_id)):
        store.set_link(rid, inst, form_id=FORM, remote_id=eid,
                       snapshot={f: store.record(rid).fields.get(f) for f in ACTOR.field_names})
    m = co.merge_records(store, keep, other)
    assert m.moved == ["tel"] and m.doubled == []
    assert store.link(keep, "tel").remote_id == b_id and store.record(keep).fields["phone"] == "+33169102030"
    # the names differ: the one entered last is kept, the other stays in the history
    assert store.record(keep).fields["name"] == "Café réparation de Massy"
    assert "Repair café" in store.history(keep)[-1].note or store.history(keep)[0].fields["name"] == "Repair café"
    run(cfg, store)
    for wiki, eid in ((a, a_id), (b, b_id)):
        assert [e["bf_titre"] for e in wiki.list(FORM).values()] == ["Café réparation de Massy"]
    assert a.read(a_id)["bf_telephone"]  # the phone the other record brought reaches polesnoe


def test_split_undoes_a_merge_and_nothing_is_lost(sandbox, cfg, store, two):
    keep, other = two
    co.merge_records(store, keep.id, other.id)
    run(cfg, store)
    sp = co.split_record(store, keep.id)
    assert sp.other.id == other.id and not store.record(other.id).deleted
    assert store.record(keep.id).fields == keep.fields and sp.values_restored
    run(cfg, store)
    for wiki in sandbox.wikis.values():
        assert sorted(e["bf_titre"] for e in wiki.list(FORM).values()) == [
            "Atelier vélo Roue Libre", "Recyclerie des Ulis"]
    assert frozenset((keep.id, other.id)) in co.distinct_pairs(store)
    with pytest.raises(co.Refused, match="no merge to undo"):
        co.split_record(store, keep.id)


@pytest.mark.parametrize("refs, message", [
    (("Recyclerie des Ulis", "Recyclerie des Ulis"), "cannot be merged with itself"),
    (("Recyclerie des Ulis", "nobody"), "no record"),
])
def test_bad_merges_are_refused_and_change_nothing(two, store, refs, message):
    before = [(r.id, r.revision) for r in store.records(include_deleted=True)]
    with pytest.raises(co.Refused, match=message):
        co.merge_records(store, *refs)
    assert [(r.id, r.revision) for r in store.records(include_deleted=True)] == before


def test_a_merge_with_a_deleted_record_is_refused(sandbox, cfg, store, two):
    keep, other = two
    sandbox.wikis["polesnoe"].member_delete(store.link(other.id, "polesnoe").remote_id)
    run(cfg, store)
    with pytest.raises(co.Refused, match="is deleted"):
        co.merge_records(store, keep.id, other.id)


def test_two_records_marked_distinct_are_remembered(two, store):
    keep, other = two
    co.mark_distinct_records(store, keep.id, other.id[:6])
    assert frozenset((keep.id, other.id)) in co.distinct_pairs(store)


# ---- many conflicts at once --------------------------------------------------------------------------------------


@pytest.fixture
def conflicted(sandbox, cfg, store, two):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    for rec in two:
        a.member_edit(store.link(rec.id, "polesnoe").remote_id, {"bf_horaires": "Mo 09:00-12:00",
                                                                   "bf_chapeau": "Version polesnoe"})
        b.member_edit(store.link(rec.id, "tel").remote_id, {"bf_horaires": "Sa 10:00-18:00",
                                                              "bf_chapeau": "Version tel"})
    run(cfg, store)
    assert len(store.conflicts("open")) == 4
    return two


def test_every_conflict_of_one_record_takes_one_wiki(sandbox, cfg, store, conflicted):
    rec, other = conflicted
    preview = co.resolve_conflicts(store, record=rec.id[:8], take="tel", dry_run=True)
    assert sorted((c.conflict.field, c.value) for c in preview) == [
        ("opening_hours", "Sa 10:00-18:00"), ("short_description", "Version tel")]
    assert len(store.conflicts("open")) == 4  # a dry run writes nothing
    co.resolve_conflicts(store, record=rec.id, take="tel")
    assert {c.record_id for c in store.conflicts("open")} == {other.id}
    run(cfg, store)
    entry_a = sandbox.wikis["polesnoe"].read(store.link(rec.id, "polesnoe").remote_id)
    assert entry_a["bf_chapeau"] == "Version tel"


def test_all_conflicts_take_the_newest_value(store, conflicted):
    choices = co.resolve_conflicts(store, every=True, newest=True)
    # the edits in tel were saved after those in polesnoe, or in the same second: never a guess
    for c in choices:
        assert (c.value in ("Sa 10:00-18:00", "Version tel")) or c.skipped == "two values were entered in the same second"
    assert len(store.conflicts("open")) == sum(1 for c in choices if c.skipped)


def test_bulk_resolution_mistakes_are_refused(store, conflicted):
    with pytest.raises(co.Refused, match="exactly one of --record"):
        co.resolve_conflicts(store, take="tel")
    with pytest.raises(co.Refused, match="no open conflict has a candidate"):
        co.resolve_conflicts(store, every=True, take="nowhere")
    assert len(store.conflicts("open")) == 4
