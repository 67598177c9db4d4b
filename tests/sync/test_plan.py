"""Decision table of the pure planner: one case per rule of the issue and DECISIONS."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import pytest

from oscartes_sync.sync.model import (
    WRITTEN, CreateEntry, CreateRecord, DeleteEntry, ForgetLink, LinkEntry, LinkState, Listing, Observed,
    OpenConflict, PlanInput, RecordState, ReviewDuplicate, SyncPolicy, TombstoneRecord, UpdateEntry, UpdateRecord,
)
from oscartes_sync.sync.plan import plan

FIELDS = ("name", "commune", "website")


@dataclass
class Match:
    sure: str | None = None
    likely: list = field(default_factory=list)


def toy_match(candidate, records):
    """Sure on equal lowercase name; likely when only the first word is equal."""
    name = (candidate.get("name") or "").lower()
    for rid, f in records:
        if (f.get("name") or "").lower() == name:
            return Match(rid)
    likely = [(rid, 90.0) for rid, f in records if (f.get("name") or "").lower().split()[:1] == name.split()[:1]]
    return Match(None, likely)


def ids():
    counter = itertools.count(1)
    return lambda: f"new{next(counter)}"


def rec(rid="r1", **f):
    base = {"name": "Recyclerie", "commune": "Orsay", "website": None}
    return RecordState(rid, "actor", {**base, **f})


def obs(remote, **f):
    base = {"name": "Recyclerie", "commune": "Orsay", "website": None}
    return Observed(remote, {**base, **f})


def linked(rid, inst, remote, **f):
    base = {"name": "Recyclerie", "commune": "Orsay", "website": None}
    return LinkState(rid, inst, remote, {**base, **f})


def make(records=(), links=(), a=None, b=None, conflicts=None, policy=SyncPolicy(), reviews=None, distinct=()):
    return PlanInput(
        kind="actor",
        instances=("a", "b"),
        fields_by_instance={"a": FIELDS, "b": FIELDS},
        records={r.id: r for r in records},
        links={(l.record_id, l.instance): l for l in links},
        listings={"a": Listing("a", a), "b": Listing("b", b)},
        open_conflicts=conflicts or {},
        open_reviews=reviews or {},
        distinct=frozenset(distinct),
        policy=policy,
    )


def types(p):
    return [type(a).__name__ for a in p.actions]


def synced_pair(rid="r1"):
    return [rec(rid)], [linked(rid, "a", f"A{rid}"), linked(rid, "b", f"B{rid}")]


def test_no_op_plans_nothing():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ar1": obs("Ar1")}, b={"Br1": obs("Br1")}), ids(), toy_match)
    assert p.actions == [] and p.notices == []


def test_edit_in_one_wiki_updates_record_and_writes_only_that_field_to_the_other():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Palaiseau")}, b={"Br1": obs("Br1")}), ids(), toy_match)
    upd = [a for a in p.actions if isinstance(a, UpdateEntry)]
    assert len(upd) == 1 and upd[0].instance == "b" and upd[0].changes == {"commune": "Palaiseau"}
    assert upd[0].expected == obs("Br1").values
    rec_upd = [a for a in p.actions if isinstance(a, UpdateRecord)]
    assert rec_upd[0].fields["commune"] == "Palaiseau" and rec_upd[0].origin == "a"
    assert any(isinstance(a, LinkEntry) and a.instance == "a" for a in p.actions)


def test_different_edits_of_one_field_are_a_conflict_and_nothing_is_written_for_it():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Palaiseau", website="https://a.fr")},
                  b={"Br1": obs("Br1", commune="Massy")}), ids(), toy_match)
    conflict = [a for a in p.actions if isinstance(a, OpenConflict)]
    assert [(c.field, c.base, c.candidates) for c in conflict] == [("commune", "Orsay", {"a": "Palaiseau", "b": "Massy"})]
    upd = [a for a in p.actions if isinstance(a, UpdateEntry)]
    assert [(u.instance, u.changes) for u in upd] == [("b", {"website": "https://a.fr"})]
    assert any(n.level == "attention" for n in p.notices)


def test_same_edit_in_both_wikis_is_no_conflict():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Massy")}, b={"Br1": obs("Br1", commune="Massy")}),
             ids(), toy_match)
    assert "OpenConflict" not in types(p) and "UpdateEntry" not in types(p)
    assert [a.fields["commune"] for a in p.actions if isinstance(a, UpdateRecord)] == ["Massy"]


def test_open_conflict_field_is_left_alone_and_candidates_refresh():
    records, links = synced_pair()
    links = [linked("r1", "a", "Ar1", commune="Palaiseau"), linked("r1", "b", "Br1", commune="Massy")]
    conflicts = {("r1", "commune"): {"a": "Palaiseau", "b": "Massy"}}
    p = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Palaiseau")}, b={"Br1": obs("Br1", commune="Igny")},
                  conflicts=conflicts), ids(), toy_match)
    assert not [a for a in p.actions if isinstance(a, UpdateEntry)]
    refreshed = [a for a in p.actions if isinstance(a, OpenConflict)]
    assert refreshed and refreshed[0].candidates == {"a": "Palaiseau", "b": "Igny"}


def test_newest_wins_when_the_config_asks():
    records, links = synced_pair()
    a = {"Ar1": Observed("Ar1", {**obs("Ar1").values, "commune": "Palaiseau"}, updated="2026-11-20 10:00:00")}
    b = {"Br1": Observed("Br1", {**obs("Br1").values, "commune": "Massy"}, updated="2026-11-21 10:00:00")}
    p = plan(make(records, links, a=a, b=b, policy=SyncPolicy(newest_wins=True)), ids(), toy_match)
    assert "OpenConflict" not in types(p)
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [("a", {"commune": "Massy"})]


def test_deletion_propagates_when_nothing_changed_elsewhere():
    records, links = [], []
    for i in range(10):
        r, l = synced_pair(f"r{i}")
        records += r
        links += l
    a = {f"Ar{i}": obs(f"Ar{i}") for i in range(10) if i != 3}
    b = {f"Br{i}": obs(f"Br{i}") for i in range(10)}
    p = plan(make(records, links, a=a, b=b), ids(), toy_match)
    assert [type(x).__name__ for x in p.actions if x.record_id == "r3"] == ["TombstoneRecord", "ForgetLink", "DeleteEntry"]
    assert [x.instance for x in p.actions if isinstance(x, DeleteEntry)] == ["b"]


def test_deletion_loses_against_an_edit_elsewhere():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ax": obs("Ax", name="Autre")}, b={"Br1": obs("Br1", website="https://new.fr")}),
             ids(), toy_match)
    assert "TombstoneRecord" not in types(p)
    creates = [a for a in p.actions if isinstance(a, CreateEntry) and a.record_id == "r1"]
    assert creates and creates[0].instance == "a" and creates[0].values["website"] == "https://new.fr"


def test_deletions_over_the_limit_are_refused_then_accepted_once():
    records, links = [], []
    for i in range(10):
        r, l = synced_pair(f"r{i}")
        records += r
        links += l
    a = {f"Ar{i}": obs(f"Ar{i}") for i in range(4, 10)}  # 4 of 10 gone: limit is max(0.2*10, 3) = 3
    b = {f"Br{i}": obs(f"Br{i}") for i in range(10)}
    p = plan(make(records, links, a=a, b=b), ids(), toy_match)
    assert not [x for x in p.actions if isinstance(x, (TombstoneRecord, DeleteEntry, CreateEntry))]
    assert any("refused" in n.message and n.level == "attention" for n in p.notices)
    p2 = plan(make(records, links, a=a, b=b, policy=SyncPolicy(allow_deletes=4)), ids(), toy_match)
    assert len([x for x in p2.actions if isinstance(x, TombstoneRecord)]) == 4


def test_failed_listing_acts_on_nothing_there():
    records, links = synced_pair()
    inp = make(records, links, a={"Ar1": obs("Ar1", commune="Massy")}, b=None)
    p = plan(inp, ids(), toy_match)
    assert all(getattr(a, "instance", "a") == "a" for a in p.actions)
    assert "UpdateRecord" in types(p)
    assert any(n.instance == "b" and "listing failed" in n.message for n in p.notices)


def test_empty_listing_with_links_deletes_nothing():
    records, links = synced_pair()
    p = plan(make(records, links, a={"Ar1": obs("Ar1")}, b={}), ids(), toy_match)
    assert p.actions == []
    assert any("empty" in n.message for n in p.notices)


def test_new_entry_without_duplicate_becomes_a_record_and_is_copied():
    p = plan(make(a={"X": obs("X", name="Atelier vélo")}, b={}), ids(), toy_match)
    assert types(p) == ["CreateRecord", "CreateEntry"]
    cr, ce = p.actions
    assert cr.record_id == ce.record_id == "new1" and cr.remote_id == "X" and ce.instance == "b"
    assert cr.fields["name"] == "Atelier vélo"


def test_same_actor_in_both_wikis_becomes_one_record_with_conflicts_for_differing_values():
    a = {"X": obs("X", name="Ressourcerie", website="https://a.fr")}
    b = {"Y": obs("Y", name="ressourcerie", commune="Igny")}
    p = plan(make(a=a, b=b), ids(), toy_match)
    assert types(p).count("CreateRecord") == 1 and "CreateEntry" not in types(p)
    conflicts = {c.field: c.candidates for c in p.actions if isinstance(c, OpenConflict)}
    assert conflicts == {"commune": {"a": "Orsay", "b": "Igny"}, "name": {"a": "Ressourcerie", "b": "ressourcerie"}}
    # b lacked the website: it is filled, not a conflict
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [("b", {"website": "https://a.fr"})]


def test_unsure_duplicate_waits_for_review_and_its_candidate_is_copied_nowhere():
    records = [rec("r1", name="Jardin partagé des Coteaux")]
    links = [linked("r1", "a", "J", name="Jardin partagé des Coteaux")]
    p = plan(make(records, links, a={"J": obs("J", name="Jardin partagé des Coteaux")},
                  b={"K": obs("K", name="Jardin des Coteaux")}), ids(), toy_match)
    assert types(p) == ["ReviewDuplicate"]
    again = plan(make(records, links, a={"J": obs("J", name="Jardin partagé des Coteaux")},
                      b={"K": obs("K", name="Jardin des Coteaux")}, reviews={("b", "K"): ("r1",)}), ids(), toy_match)
    assert again.actions == []
    # once a person said "distinct", the entry becomes its own record and both are copied
    after = plan(make(records, links, a={"J": obs("J", name="Jardin partagé des Coteaux")},
                      b={"K": obs("K", name="Jardin des Coteaux")}, distinct=[("b", "K")]), ids(), toy_match)
    assert sorted(types(after)) == ["CreateEntry", "CreateEntry", "CreateRecord"]


def test_the_matcher_of_the_config_links_with_its_evidence_in_the_history_and_names_the_candidates_it_holds():
    """identity.MatchIndex as the engine hands it to the planner: a value, built once over the records."""
    from functools import partial

    from oscartes_sync.config import IdentityConfig
    from oscartes_sync.identity import MatchIndex

    inp = make(a={"X": obs("X", name="Les Jardins Partagés de l'Yvette", commune="Gif-sur-Yvette")},
               b={"Y": obs("Y", name="Association les jardins partages de l Yvette", commune="GIF SUR YVETTE"),
                  "Z": obs("Z", name="Jardins Partagés de l'Yvette du Moulin", commune="Gif-sur-Yvette")})
    p = plan(replace(inp, matcher=partial(MatchIndex, settings=IdentityConfig(), kind="actor")), ids())
    [created] = [a for a in p.actions if isinstance(a, CreateRecord)]
    assert "twin entry Y in b linked (same name, same commune)" in created.note
    [review] = [a for a in p.actions if isinstance(a, ReviewDuplicate)]
    assert review.remote_id == "Z" and review.candidates[0][0] == "new1"
    assert "same commune" in review.candidates[0][2]
    [notice] = [n for n in p.notices if "waiting in `match`" in n.message]
    assert "may be Les Jardins Partagés de l'Yvette (new1, score 75)" in notice.message
    # a review threshold above its score: the look-alike is another actor, a record of its own
    other = plan(replace(inp, matcher=partial(MatchIndex, settings=IdentityConfig(review=80))), ids())
    assert not [a for a in other.actions if isinstance(a, ReviewDuplicate)]
    assert sorted(a.remote_id for a in other.actions if isinstance(a, CreateRecord)) == ["X", "Z"]


def test_entry_awaiting_validation_is_not_copied():
    pending = {"X": Observed("X", obs("X", name="Nouveau").values, validated=False)}
    p = plan(make(a=pending, b={}), ids(), toy_match)
    assert p.actions == [] and "awaits validation" in p.notices[0].message


def test_refused_value_is_neither_a_change_nor_overwritten():
    records, links = synced_pair()
    bad = Observed("Ar1", {"name": "Recyclerie", "commune": "Orsay"})  # website refused by cleaning
    records = [rec("r1", website="https://ok.fr")]
    links = [linked("r1", "a", "Ar1", website="https://ok.fr"), linked("r1", "b", "Br1", website="https://ok.fr")]
    p = plan(make(records, links, a={"Ar1": bad}, b={"Br1": obs("Br1", website="https://ok.fr")}), ids(), toy_match)
    assert "UpdateRecord" not in types(p) and "UpdateEntry" not in types(p)


def test_mass_blanking_of_a_field_is_not_propagated():
    records, links = [], []
    for i in range(10):
        records.append(rec(f"r{i}", website=f"https://{i}.fr"))
        links += [linked(f"r{i}", "a", f"A{i}", website=f"https://{i}.fr"),
                  linked(f"r{i}", "b", f"B{i}", website=f"https://{i}.fr")]
    a = {f"A{i}": obs(f"A{i}") for i in range(10)}  # the website field vanished from a's form
    b = {f"B{i}": obs(f"B{i}", website=f"https://{i}.fr") for i in range(10)}
    p = plan(make(records, links, a=a, b=b), ids(), toy_match)
    assert not [x for x in p.actions if isinstance(x, (UpdateRecord, UpdateEntry))]
    assert any("website" in n.message and n.level == "attention" for n in p.notices)


def test_a_member_revision_hidden_by_our_write_is_merged_next_run():
    records, links = synced_pair()
    links[1] = LinkState("r1", "b", "Br1", dict(links[1].snapshot), pending={**links[1].snapshot, "commune": "Igny"})
    p = plan(make(records, links, a={"Ar1": obs("Ar1")}, b={"Br1": obs("Br1")}), ids(), toy_match)
    assert [a.fields["commune"] for a in p.actions if isinstance(a, UpdateRecord)] == ["Igny"]
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [
        ("a", {"commune": "Igny"}), ("b", {"commune": "Igny"})]


def test_a_value_the_wiki_stores_in_its_own_form_is_not_rewritten_forever():
    records = [rec("r1", name="Café <b>vélo</b>")]
    snap = {"name": "Café vélo", "commune": "Orsay", "website": None, WRITTEN: {"name": ["Café <b>vélo</b>", "Café vélo"]}}
    links = [linked("r1", "a", "Ar1", name="Café <b>vélo</b>"), LinkState("r1", "b", "Br1", snap)]
    p = plan(make(records, links, a={"Ar1": obs("Ar1", name="Café <b>vélo</b>")}, b={"Br1": obs("Br1", name="Café vélo")}),
             ids(), toy_match)
    assert p.actions == []


def test_what_we_once_wrote_does_not_hide_a_later_change():
    # We created b's entry with website X; a member of b then set Y (synced everywhere); now a member of a
    # sets X again: b must be written, although X is what we once sent there.
    records = [rec("r1", website="https://y.fr")]
    snap_b = {**linked("r1", "b", "Br1", website="https://y.fr").snapshot,
              WRITTEN: {"website": ["https://x.fr", "https://x.fr"]}}
    links = [linked("r1", "a", "Ar1", website="https://y.fr"), LinkState("r1", "b", "Br1", snap_b)]
    p = plan(make(records, links, a={"Ar1": obs("Ar1", website="https://x.fr")},
                  b={"Br1": obs("Br1", website="https://y.fr")}), ids(), toy_match)
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [("b", {"website": "https://x.fr"})]


def test_unconfirmed_create_is_retried():
    records = [rec("r1")]
    links = [linked("r1", "a", "Ar1"), LinkState("r1", "b", None, {})]
    p = plan(make(records, links, a={"Ar1": obs("Ar1")}, b={"Bz": obs("Bz", name="Autre chose")}), ids(), toy_match)
    assert sorted((a.instance, a.record_id) for a in p.actions if isinstance(a, CreateEntry)) == [("a", "new1"), ("b", "r1")]


def test_deleted_record_entries_are_removed_unless_edited_since_then_the_record_comes_back():
    records = [RecordState("r1", "actor", rec().fields, deleted=True)]
    links = [linked("r1", "b", "Br1")]
    p = plan(make(records, links, a={"Q": obs("Q", name="Q")}, b={"Br1": obs("Br1")}), ids(), toy_match)
    assert [type(a).__name__ for a in p.actions if a.record_id == "r1"] == ["DeleteEntry"]
    # edited in b since (the deletion went through while b could not be read): the edit wins, the record
    # comes back with b's change and is written to a again
    p2 = plan(make(records, links, a={"Q": obs("Q", name="Q")}, b={"Br1": obs("Br1", commune="Igny")}), ids(), toy_match)
    mine = [a for a in p2.actions if a.record_id == "r1"]
    assert [type(a).__name__ for a in mine] == ["ResurrectRecord", "UpdateRecord", "CreateEntry", "LinkEntry"]
    assert mine[1].fields["commune"] == "Igny" and mine[2].instance == "a" and mine[2].values["commune"] == "Igny"


@pytest.mark.parametrize("first", ["a", "b"])
def test_planning_is_deterministic(first):
    records, links = synced_pair()
    inp = make(records, links, a={"Ar1": obs("Ar1", commune="Massy"), "N": obs("N", name="Neuf")},
               b={"Br1": obs("Br1")})
    assert plan(inp, ids(), toy_match).actions == plan(inp, ids(), toy_match).actions


def test_a_members_only_value_is_not_written_where_the_field_is_public():
    records, links = synced_pair()
    inp = make(records, links, a={"Ar1": obs("Ar1", website="https://members.example")}, b={"Br1": obs("Br1")})
    restricted = PlanInput(**{**inp.__dict__, "restricted": {"a": frozenset({"website"}), "b": frozenset()}})
    p = plan(restricted, ids(), toy_match)
    assert [a.fields["website"] for a in p.actions if isinstance(a, UpdateRecord)] == ["https://members.example"]
    assert not [a for a in p.actions if isinstance(a, UpdateEntry)]
    both = PlanInput(**{**inp.__dict__, "restricted": {"a": frozenset({"website"}), "b": frozenset({"website"})}})
    assert [(u.instance, u.changes) for u in plan(both, ids(), toy_match).actions if isinstance(u, UpdateEntry)] == [
        ("b", {"website": "https://members.example"})]
    new = PlanInput(**{**make(a={"X": obs("X", name="Nouveau", website="https://m.example")}, b={}).__dict__,
                       "restricted": {"a": frozenset({"website"}), "b": frozenset()}})
    [create] = [a for a in plan(new, ids(), toy_match).actions if isinstance(a, CreateEntry)]
    assert "website" not in create.values


def test_an_edit_made_on_a_stale_base_is_a_conflict_not_an_overwrite():
    # a's member changed the commune to Massy and it was merged while b could not be written; b's member then
    # changed the same field from the old value: two edits of one field, neither silently wins
    records = [rec("r1", commune="Massy")]
    links = [linked("r1", "a", "Ar1", commune="Massy"), linked("r1", "b", "Br1", commune="Orsay")]
    p = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Massy")}, b={"Br1": obs("Br1", commune="Igny")}),
             ids(), toy_match)
    assert [(c.field, c.candidates) for c in p.actions if isinstance(c, OpenConflict)] == [
        ("commune", {"a": "Massy", "b": "Igny"})]
    assert not [a for a in p.actions if isinstance(a, (UpdateEntry, UpdateRecord))]
    # while b had not changed it, the record's value is simply written there
    p2 = plan(make(records, links, a={"Ar1": obs("Ar1", commune="Massy")}, b={"Br1": obs("Br1", commune="Orsay")}),
              ids(), toy_match)
    assert [(u.instance, u.changes) for u in p2.actions if isinstance(u, UpdateEntry)] == [("b", {"commune": "Massy"})]


def test_the_insee_code_follows_the_commune():
    from oscartes_sync.geo import commune_by_name, insee_of

    orsay, massy = commune_by_name("Orsay").insee, commune_by_name("Massy").insee
    fields = ("name", "commune", "postcode", "insee")
    base = {"name": "Recyclerie", "commune": "Orsay", "postcode": "91400", "insee": None}
    inp = PlanInput(kind="actor", instances=("a", "b"), fields_by_instance={"a": fields, "b": fields},
                    records={"r1": RecordState("r1", "actor", dict(base))},
                    links={("r1", i): LinkState("r1", i, f"{i}1", dict(base)) for i in ("a", "b")},
                    listings={"a": Listing("a", {"a1": Observed("a1", dict(base))}),
                              "b": Listing("b", {"b1": Observed("b1", dict(base))})},
                    open_conflicts={}, insee_of=insee_of)
    p = plan(inp, ids(), toy_match)
    [upd] = [a for a in p.actions if isinstance(a, UpdateRecord)]
    assert upd.fields["insee"] == orsay
    assert {u.instance: u.changes for u in p.actions if isinstance(u, UpdateEntry)} == {
        "a": {"insee": orsay}, "b": {"insee": orsay}}
    # a member moves the actor to Massy: the code follows
    done = {**base, "insee": orsay}
    moved = {**done, "commune": "Massy", "postcode": "91300"}
    inp2 = PlanInput(kind="actor", instances=("a", "b"), fields_by_instance={"a": fields, "b": fields},
                     records={"r1": RecordState("r1", "actor", dict(done))},
                     links={("r1", i): LinkState("r1", i, f"{i}1", dict(done)) for i in ("a", "b")},
                     listings={"a": Listing("a", {"a1": Observed("a1", moved)}),
                               "b": Listing("b", {"b1": Observed("b1", dict(done))})},
                     open_conflicts={}, insee_of=insee_of)
    [upd2] = [a for a in plan(inp2, ids(), toy_match).actions if isinstance(a, UpdateRecord)]
    assert upd2.fields["insee"] == massy


# ---- three wikis: nothing in the planner may count on two ----------------------------------------------------


def make3(records=(), links=(), a=None, b=None, c=None, conflicts=None, policy=SyncPolicy()):
    return PlanInput(
        kind="actor",
        instances=("a", "b", "c"),
        fields_by_instance={"a": FIELDS, "b": FIELDS, "c": FIELDS},
        records={r.id: r for r in records},
        links={(l.record_id, l.instance): l for l in links},
        listings={"a": Listing("a", a), "b": Listing("b", b), "c": Listing("c", c)},
        open_conflicts=conflicts or {},
        policy=policy,
    )


def synced_three(rid="r1"):
    return [rec(rid)], [linked(rid, i, f"{i.upper()}{rid}") for i in ("a", "b", "c")]


def listed3(**edits):
    """The listings of a, b and c for r1, each with its own edits."""
    return {i: {f"{i.upper()}r1": obs(f"{i.upper()}r1", **edits.get(i, {}))} for i in ("a", "b", "c")}


def test_three_wikis_an_edit_in_one_reaches_the_two_others():
    records, links = synced_three()
    p = plan(make3(records, links, **listed3(c={"commune": "Massy"})), ids(), toy_match)
    assert sorted((u.instance, u.changes["commune"]) for u in p.actions if isinstance(u, UpdateEntry)) == [
        ("a", "Massy"), ("b", "Massy")]
    assert [u.origin for u in p.actions if isinstance(u, UpdateRecord)] == ["c"]


def test_three_wikis_the_same_edit_in_two_is_no_conflict_and_reaches_the_third():
    records, links = synced_three()
    p = plan(make3(records, links, **listed3(a={"commune": "Massy"}, c={"commune": "Massy"})), ids(), toy_match)
    assert "OpenConflict" not in types(p)
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [("b", {"commune": "Massy"})]
    assert [u.origin for u in p.actions if isinstance(u, UpdateRecord)] == ["a,c"]


def test_three_wikis_different_edits_in_two_are_one_conflict_and_the_third_is_left_alone():
    records, links = synced_three()
    p = plan(make3(records, links, **listed3(b={"commune": "Massy"}, c={"commune": "Igny"})), ids(), toy_match)
    assert [(c.field, c.candidates) for c in p.actions if isinstance(c, OpenConflict)] == [
        ("commune", {"b": "Massy", "c": "Igny"})]
    assert not [u for u in p.actions if isinstance(u, UpdateEntry)]


def test_three_wikis_a_new_entry_in_the_third_is_copied_to_both_others():
    p = plan(make3(a={}, b={}, c={"C1": obs("C1", name="Atelier vélo")}), ids(), toy_match)
    assert [(a.instance, a.remote_id) for a in p.actions if isinstance(a, CreateRecord)] == [("c", "C1")]
    assert sorted(a.instance for a in p.actions if isinstance(a, CreateEntry)) == ["a", "b"]


def test_three_wikis_the_same_actor_entered_in_each_is_one_record():
    p = plan(make3(a={"A1": obs("A1")}, b={"B1": obs("B1")}, c={"C1": obs("C1")}), ids(), toy_match)
    assert len([a for a in p.actions if isinstance(a, CreateRecord)]) == 1
    assert not [a for a in p.actions if isinstance(a, CreateEntry)]
    assert sorted(a.instance for a in p.actions if isinstance(a, LinkEntry)) == ["b", "c"]


def test_three_wikis_a_failed_listing_in_one_stops_nothing_elsewhere_and_touches_nothing_there():
    records, links = synced_three()
    listings = listed3(a={"commune": "Massy"})
    listings["c"] = None
    p = plan(make3(records, links, **listings), ids(), toy_match)
    assert [(u.instance, u.changes) for u in p.actions if isinstance(u, UpdateEntry)] == [("b", {"commune": "Massy"})]
    assert not [a for a in p.actions if getattr(a, "instance", None) == "c"]
    assert [n.instance for n in p.notices if n.level == "attention"] == ["c"]


def test_three_wikis_a_deletion_in_one_removes_the_entries_of_the_two_others():
    records, links = synced_three()
    listings = listed3()
    listings["b"] = {"Bother": obs("Bother", name="Autre")}
    p = plan(make3(records, links, **listings, policy=SyncPolicy(min_delete_count=3)), ids(), toy_match)
    assert [a.record_id for a in p.actions if isinstance(a, TombstoneRecord)] == ["r1"]
    assert sorted(a.instance for a in p.actions if isinstance(a, DeleteEntry)) == ["a", "c"]


def test_three_wikis_an_entry_linked_while_the_third_was_unreachable_is_created_there_later():
    records = [rec("r1")]
    links = [linked("r1", "a", "Ar1"), linked("r1", "b", "Br1")]
    p = plan(make3(records, links, a={"Ar1": obs("Ar1")}, b={"Br1": obs("Br1")}, c={}), ids(), toy_match)
    assert [(a.instance, a.values["name"]) for a in p.actions if isinstance(a, CreateEntry)] == [("c", "Recyclerie")]
