"""A run killed after any action converges on the next run: no duplicate entry, no lost edit.

Each scenario is first planned once (dry run) to count its actions; then, for every k, a fresh sandbox runs
it killed right after action k, runs once more without fault, and the invariants are checked.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.fields import default_form_map, to_canonical
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store
from oscartes_sync.sync.execute import KilledForTest

FORM = DEFAULT_FORM_IDS["actor"]
FMAP = default_form_map("actor", DEFAULT_FORM_IDS)


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def seed(sb):
    a, b = sb.wikis["polesnoe"], sb.wikis["tel"]
    for e in (entry("Recyclerie des Ulis", "Les Ulis", "91940"), entry("AMAP des Coteaux", bf_horaires="Sa 10:00-12:00"),
              entry("Atelier vélo Roue Libre", "Massy", "91300"), entry("Fablab Orsay Sciences")):
        a.member_create(FORM, e)
    for e in (entry("AMAP des Coteaux", bf_site_internet="https://amap.example"),
              entry("Épicerie La Fourmi", "Igny", "91430"), entry("Jardin des Sablons", "Palaiseau", "91120")):
        b.member_create(FORM, e)


def edit(sb):
    """A second round: edits in both wikis, a new entry, a deletion."""
    a, b = sb.wikis["polesnoe"], sb.wikis["tel"]
    by_title = lambda w: {e["bf_titre"]: i for i, e in w.list(FORM).items()}
    ta, tb = by_title(a), by_title(b)
    a.member_edit(ta["Recyclerie des Ulis"], {"bf_horaires": "Mo-Fr 09:00-18:00"})
    b.member_edit(tb["Épicerie La Fourmi"], {"bf_chapeau": "Épicerie solidaire"})
    b.member_edit(tb["Recyclerie des Ulis"], {"bf_site_internet": "https://recyclerie.example"})
    b.member_create(FORM, entry("Repair café de Massy", "Massy", "91300"))
    a.member_delete(ta["Fablab Orsay Sciences"])
    return {("Recyclerie des Ulis", "opening_hours"): "Mo-Fr 09:00-18:00",
            ("Épicerie La Fourmi", "short_description"): "Épicerie solidaire",
            ("Recyclerie des Ulis", "website"): "https://recyclerie.example"}


def check(sb, store, expected_titles, edits=None):
    records = {r.id: r for r in store.records("actor")}
    conflicts = {(c.record_id, c.field) for c in store.conflicts("open")}
    for name, wiki in sb.wikis.items():
        entries = wiki.emulator.entries(FORM)
        titles = sorted(e["bf_titre"] for e in entries.values())
        assert titles == sorted(expected_titles), f"{name}: {titles}"
        links = {l.remote_id: l.record_id for l in store.links(instance=name) if l.record_id in records}
        assert set(links) == set(entries)
        for eid, raw in entries.items():
            values, _ = to_canonical(raw, FMAP)
            rec = records[links[eid]]
            for f, v in values.items():
                if (rec.id, f) not in conflicts:
                    assert rec.fields.get(f) == v, f"{name}:{eid}.{f}"
    by_title = {r.fields["name"]: r for r in records.values()}
    for (title, field), value in (edits or {}).items():
        assert by_title[title].fields[field] == value, f"lost edit {title}.{field}"


def killed_run(cfg, store, k):
    counter = itertools.count(1)
    try:
        sync_once(cfg, store, build_instances(cfg), stop_after=lambda action: next(counter) >= k)
    except KilledForTest:
        return True
    return False


def count_actions(first_round: bool) -> int:
    with start_sandbox() as sb, tempfile.TemporaryDirectory() as d:
        cfg = sb.config(store_url=f"sqlite:///{Path(d) / 's.db'}", lock=str(Path(d) / "lock"))
        cfg.publish.dashboards = False  # entry writes are counted here; pages have their own tests
        store = Store(cfg.store_url())
        seed(sb)
        if not first_round:
            sync_once(cfg, store, build_instances(cfg))
            edit(sb)
        dry = sync_once(cfg, store, build_instances(cfg), dry_run=True)
        store.close()
        return sum(len(p.actions) for p in dry.result.plans)


FIRST = ["AMAP des Coteaux", "Atelier vélo Roue Libre", "Fablab Orsay Sciences", "Jardin des Sablons",
         "Recyclerie des Ulis", "Épicerie La Fourmi"]
SECOND = [t for t in FIRST if t != "Fablab Orsay Sciences"] + ["Repair café de Massy"]


@pytest.mark.parametrize("first_round", [True, False], ids=["first-import", "edits-and-deletion"])
def test_a_run_killed_after_any_action_converges_on_the_next(first_round):
    n = count_actions(first_round)
    assert n >= 8  # the scenario is rich enough to be worth killing
    for k in range(1, n + 1):
        with start_sandbox() as sb, tempfile.TemporaryDirectory() as d:
            cfg = sb.config(store_url=f"sqlite:///{Path(d) / 's.db'}", lock=str(Path(d) / "lock"))
            cfg.publish.dashboards = False  # entry writes are counted here; pages have their own tests
            store = Store(cfg.store_url())
            try:
                seed(sb)
                edits = None
                if not first_round:
                    sync_once(cfg, store, build_instances(cfg))
                    edits = edit(sb)
                assert killed_run(cfg, store, k), f"the run had fewer than {k} actions"
                sync_once(cfg, store, build_instances(cfg))
                check(sb, store, FIRST if first_round else SECOND, edits)
            finally:
                store.close()
