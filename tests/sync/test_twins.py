"""Twins reconciled before anything is a conflict (DECISIONS §22): the rules one by one, through the planner."""

from __future__ import annotations

import itertools

import pytest

from oscartes_sync.sync.model import (
    WRITTEN, CreateRecord, LinkEntry, LinkState, Listing, Observed, OpenConflict, PlanInput, RecordState,
    UpdateEntry, UpdateRecord,
)
from oscartes_sync.sync.plan import plan
from oscartes_sync.geo import distance_m
from oscartes_sync.twins import reconcile

FIELDS = ("name", "description", "themes", "latitude", "longitude", "email", "phone", "website",
          "contact_visibility")
BASE = {"name": "Les Jardins Partagés de l'Yvette", "description": None, "themes": ["alimentation"],
        "latitude": 48.70, "longitude": 2.18, "email": "contact@jardins.example", "phone": "+33169102030",
        "website": "https://jardins.example/", "contact_visibility": "public"}


def ids():
    counter = itertools.count(1)
    return lambda: f"new{next(counter)}"


def first_link(twin: dict, *, base=BASE, base_updated="2026-11-01 10:00:00", twin_updated="2026-11-20 10:00:00",
               reconciler=reconcile):
    """r1 is linked to a's entry A1; b's entry B1 was just linked to it (no snapshot: no merge base)."""
    inp = PlanInput(
        kind="actor", instances=("a", "b"), fields_by_instance={"a": FIELDS, "b": FIELDS},
        records={"r1": RecordState("r1", "actor", dict(base))},
        links={("r1", "a"): LinkState("r1", "a", "A1", dict(base)), ("r1", "b"): LinkState("r1", "b", "B1", {})},
        listings={"a": Listing("a", {"A1": Observed("A1", dict(base), updated=base_updated)}),
                  "b": Listing("b", {"B1": Observed("B1", {**base, **twin}, updated=twin_updated)})},
        open_conflicts={}, reconcile=reconciler)
    return plan(inp, ids())


def conflicts(p):
    return sorted(a.field for a in p.actions if isinstance(a, OpenConflict))


def writes(p):
    return {a.instance: a.changes for a in p.actions if isinstance(a, UpdateEntry)}


def record(p):
    upd = [a for a in p.actions if isinstance(a, (UpdateRecord, CreateRecord))]
    return upd[-1].fields if upd else None


def test_without_the_rules_every_difference_is_a_conflict():
    p = first_link({"name": "Association les jardins partages de l Yvette", "themes": ["biodiversite"]},
                   reconciler=None)
    assert conflicts(p) == ["name", "themes"]


def test_one_side_empty_takes_the_other():
    p = first_link({"description": "Un jardin partagé"})
    assert conflicts(p) == [] and writes(p) == {"a": {"description": "Un jardin partagé"}}


def test_the_same_name_spelled_differently_keeps_each_spelling_and_the_record_takes_the_most_recent():
    twin = "Association les jardins partages de l Yvette"
    p = first_link({"name": twin})
    assert conflicts(p) == [] and writes(p) == {}
    assert record(p)["name"] == twin  # b's entry is the most recent
    # each wiki keeps its spelling: remembered as written, so that no later run rewrites it
    links = {a.instance: a.snapshot for a in p.actions if isinstance(a, LinkEntry)}
    assert links["a"][WRITTEN]["name"] == [twin, BASE["name"]]
    older = first_link({"name": twin}, twin_updated="2026-10-01 10:00:00")
    assert record(older) is None or record(older)["name"] == BASE["name"]
    assert {a.instance: a.snapshot[WRITTEN]["name"] for a in older.actions if isinstance(a, LinkEntry)
            and WRITTEN in a.snapshot} == {"b": [BASE["name"], twin]}


def test_different_names_are_a_conflict():
    assert conflicts(first_link({"name": "Recyclerie de Massy"})) == ["name"]


@pytest.mark.parametrize("field, twin_value", [
    ("email", "Contact@Jardins.example"),
    ("website", "http://www.jardins.example"),
])
def test_the_same_contact_once_normalised_is_no_conflict_and_no_write(field, twin_value):
    p = first_link({field: twin_value})
    assert conflicts(p) == [] and writes(p) == {}


def test_lists_are_united_and_written_to_both():
    p = first_link({"themes": ["biodiversite", "alimentation"]})
    assert conflicts(p) == []
    assert record(p)["themes"] == ["alimentation", "biodiversite"]
    assert writes(p) == {"a": {"themes": ["alimentation", "biodiversite"]}, "b": {"themes": ["alimentation",
                                                                                           "biodiversite"]}}


def test_pins_closer_than_the_distance_are_one_place_and_the_newest_pin_wins():
    near = {"latitude": 48.7003, "longitude": 2.1801}  # about 35 m away
    assert distance_m((48.70, 2.18), (48.7003, 2.1801)) < 150
    p = first_link(near)
    assert conflicts(p) == [] and record(p)["latitude"] == 48.7003
    assert writes(p) == {"a": {"latitude": 48.7003, "longitude": 2.1801}}
    older = first_link(near, twin_updated="2026-10-01 10:00:00")
    assert conflicts(older) == [] and writes(older) == {"b": {"latitude": 48.70, "longitude": 2.18}}


def test_pins_far_apart_are_a_conflict():
    assert conflicts(first_link({"latitude": 48.71, "longitude": 2.20})) == ["latitude", "longitude"]


def test_members_only_wins_over_public():
    p = first_link({"contact_visibility": "membres"})
    assert conflicts(p) == [] and record(p)["contact_visibility"] == "membres"
    assert writes(p) == {"a": {"contact_visibility": "membres"}}


def test_every_value_not_kept_stays_in_the_history_with_its_origin():
    p = first_link({"name": "Association les jardins partages de l Yvette", "latitude": 48.7003,
                    "longitude": 2.1801}, twin_updated="2026-10-01 10:00:00")
    [note] = [a.note for a in p.actions if isinstance(a, UpdateRecord)] or [""]
    assert "B1 in b" in note and "Association les jardins partages de l Yvette" in note and "48.7003" in note


def test_reconcile_reads_as_its_rules():
    out = reconcile("actor", {"phone": "+33169102030", "themes": ["a"]}, {"phone": "+33169102030",
                                                                          "themes": ["b"]})
    assert out.values == {"themes": ["a", "b"]} and not out.keep_twin and not out.keep_base


def test_the_sample_first_import_opens_conflicts_only_for_real_disagreements(sandbox, cfg, store):
    """The demo's data: 20 actors entered in both wikis, spelled and filled in differently. What is left to a
    person holds, for each field, two different non-empty values even once normalised."""
    from oscartes_sync.app import build_instances, sync_once
    from oscartes_sync.normalise import field_key
    from oscartes_sync.records import ACTOR
    from oscartes_sync.sandbox.sample_data import sample_duplicate_pairs, sample_entries

    sandbox.seed_sample(sample_entries())
    sync_once(cfg, store, build_instances(cfg))
    records = {r.id: r for r in store.records("actor")}
    assert len(records) == sum(len(v) for v in sample_entries().values()) - len(sample_duplicate_pairs())
    open_ = store.conflicts("open")
    by_record: dict[str, dict] = {}
    for c in open_:
        values = [v for v in c.candidates.values()]
        assert len(values) == 2 and all(v not in (None, "", []) for v in values), (c.field, values)
        ftype = ACTOR.field(c.field).type
        assert field_key(c.field, ftype, values[0]) != field_key(c.field, ftype, values[1]), (c.field, values)
        by_record.setdefault(c.record_id, {})[c.field] = values
    for fields in by_record.values():
        if "latitude" in fields and "longitude" in fields:  # two pins: farther apart than one place
            a, b = zip(fields["latitude"], fields["longitude"])
            assert distance_m((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))) >= 150
    # recorded for the closing note of issue 14: the first version opened 151 here
    print(f"sample first import: {len(open_)} conflicts on {len(by_record)} records")
