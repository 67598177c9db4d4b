"""A run costs what changed (issue 16): an entry whose raw values did not move since its record's last empty plan
is neither cleaned nor planned again, and nothing of what a person must see is lost on the way (refused values,
mass blanking and reviews are named on every run until someone acts).

Counted through the engine's own hooks (`to_canonical`, the planner's input), not timed."""

from __future__ import annotations

import pytest

from oscartes_sync import coordinator
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.sync import engine

FORM = DEFAULT_FORM_IDS["actor"]
NAMES = ["Recyclerie des Ulis", "Atelier vélo Roue Libre", "AMAP des Coteaux", "Épicerie La Fourmi",
         "Repair café de Massy", "Jardin des Sablons", "Coworking La Fabrique", "Ressourcerie Cyclamen"]


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


class Work:
    """What the engine cleaned and handed the planner during one run."""

    def __init__(self, monkeypatch):
        self.cleaned: list[str] = []
        self.planned: list[set[str]] = []
        self.pools: list[bool] = []
        clean, plan = engine.to_canonical, engine.make_plan

        def counting_clean(raw, fmap, *a, **kw):
            self.cleaned.append(str(raw.get("bf_titre")))
            return clean(raw, fmap, *a, **kw)

        def counting_plan(inp, new_id, *a, **kw):
            self.planned.append(set(inp.records))
            self.pools.append(inp.pool is not None)
            return plan(inp, new_id, *a, **kw)

        monkeypatch.setattr(engine, "to_canonical", counting_clean)
        monkeypatch.setattr(engine, "make_plan", counting_plan)

    def reset(self):
        self.cleaned.clear()
        self.planned.clear()
        self.pools.clear()

    @property
    def records_planned(self) -> set[str]:
        return set().union(*self.planned) if self.planned else set()


@pytest.fixture
def work(monkeypatch):
    return Work(monkeypatch)


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def settle(sandbox, cfg, store):
    """A first import, and the run after it (which plans once more what the import wrote)."""
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = [a.member_create(FORM, entry(n)) for n in NAMES[:5]]
    ids += [b.member_create(FORM, entry(n, "Massy", "91300")) for n in NAMES[5:]]
    run(cfg, store)
    run(cfg, store)
    return ids


def test_a_quiet_run_cleans_nothing_plans_nothing_and_builds_no_matcher(sandbox, cfg, store, work):
    settle(sandbox, cfg, store)
    work.reset()
    quiet = run(cfg, store)
    assert work.cleaned == []
    assert work.records_planned == set()
    assert work.pools == [False]  # the duplicate matcher is not built from every record
    assert quiet.result.work["actor"] == {"listed": 16, "cleaned": 0, "planned": 0, "quiet": 8}
    assert quiet.exit_code == 0 and not quiet.result.outcome.applied


def test_k_edits_clean_and_plan_only_the_records_they_touched(sandbox, cfg, store, work):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = settle(sandbox, cfg, store)
    a.member_edit(ids[0], {"bf_horaires": "Mo 09:00-12:00"})
    a.member_edit(ids[1], {"bf_horaires": "Tu 09:00-12:00"})
    work.reset()
    result = run(cfg, store)
    edited = {store.link_by_remote("polesnoe", i).record_id for i in ids[:2]}
    assert work.records_planned == edited
    assert sorted(work.cleaned) == sorted([NAMES[0], NAMES[1]] * 2)  # their entry in each wiki, nothing else
    assert sorted(e.get("bf_horaires", "") for e in b.list(FORM).values() if e.get("bf_horaires")) == [
        "Mo 09:00-12:00", "Tu 09:00-12:00"]
    assert result.exit_code == 0
    # the run after plans them once more (its writes moved their links), then they are quiet again
    run(cfg, store)
    work.reset()
    run(cfg, store)
    assert work.cleaned == [] and work.records_planned == set()


def test_a_record_changed_in_the_store_is_planned_and_written_though_no_entry_moved(sandbox, cfg, store, work):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = settle(sandbox, cfg, store)
    rec = store.record(store.link_by_remote("polesnoe", ids[2]).record_id)
    store.update_record(rec.id, {**rec.fields, "opening_hours": "Sa 10:00-12:00"}, author="test", origin="test")
    work.reset()
    run(cfg, store)
    assert work.records_planned == {rec.id}
    assert a.read(ids[2])["bf_horaires"] == "Sa 10:00-12:00"
    assert b.read(store.link(rec.id, "tel").remote_id)["bf_horaires"] == "Sa 10:00-12:00"


def test_a_deleted_entry_plans_its_record(sandbox, cfg, store, work):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = settle(sandbox, cfg, store)
    rid = store.link_by_remote("polesnoe", ids[3]).record_id
    a.member_delete(ids[3])
    work.reset()
    run(cfg, store)
    assert work.records_planned == {rid}
    assert store.record(rid).deleted and len(b.list(FORM)) == 7


def test_a_refused_value_is_named_on_every_run_not_only_the_first(sandbox, cfg, store, work):
    a = sandbox.wikis["polesnoe"]
    settle(sandbox, cfg, store)
    a.member_create(FORM, entry("Tiers-lieu La Ruche", bf_site_internet="javascript:alert(1)"))
    for _ in range(3):
        result = run(cfg, store)
        assert any("website" in n["message"] and "javascript" in n["message"] for n in result.report["notices"])
        assert result.exit_code == 1


def test_records_held_back_by_the_blanking_guard_are_planned_again_on_the_next_run(sandbox, cfg, store, work):
    a = sandbox.wikis["polesnoe"]
    ids = [a.member_create(FORM, entry(n, bf_horaires="Mo 09:00-12:00")) for n in NAMES]
    run(cfg, store)
    run(cfg, store)
    for rid in ids[:5]:  # above max(0.2 x 8, 3): a renamed field, not five members' edits
        a.member_edit(rid, {"bf_horaires": ""})
    result = run(cfg, store)
    assert any("lost their value of" in n["message"] and "at once" in n["message"] for n in result.report["notices"])
    assert all(e.get("bf_horaires") == "Mo 09:00-12:00" for e in sandbox.wikis["tel"].list(FORM).values())
    work.reset()
    run(cfg, store)
    assert work.records_planned >= {store.link_by_remote("polesnoe", i).record_id for i in ids[:5]}


def test_an_entry_waiting_for_a_person_is_not_cleaned_until_the_person_decides(sandbox, cfg, store, work):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    settle(sandbox, cfg, store)
    a.member_create(FORM, entry("Ressourcerie Cyclamen du Moulin", "Massy", "91300",  # words added
                                bf_siret="73282932000074"))
    run(cfg, store)
    [item] = store.review_items("open")
    run(cfg, store)
    work.reset()
    quiet = run(cfg, store)
    assert work.cleaned == [] and work.pools == [False]
    assert quiet.exit_code == 1  # still waiting
    coordinator.mark_distinct(store, item.id)
    work.reset()
    decided = run(cfg, store)
    assert "Ressourcerie Cyclamen du Moulin" in work.cleaned
    assert any(e["bf_titre"] == "Ressourcerie Cyclamen du Moulin" for e in b.list(FORM).values())
    assert decided.exit_code == 0


def test_an_entry_that_is_surely_a_quiet_record_is_planned_with_that_record(sandbox, cfg, store, work):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    first = a.member_create(FORM, entry("Fablab Orsay Sciences", bf_siret="73282932000074"))
    settle(sandbox, cfg, store)
    rid = store.link_by_remote("polesnoe", first).record_id
    # the same SIRET entered again in tel, where the record already has its entry: the matcher is sure, and the
    # record it names was quiet (left out of the plan): it is planned with it, and the entry waits for a person
    b.member_create(FORM, entry("Fab lab d'Orsay", bf_siret="73282932000074"))
    work.reset()
    result = run(cfg, store)
    assert work.pools[-1] is True and rid in work.planned[-1] and rid not in work.planned[0]
    [item] = store.review_items("open")
    assert item.candidates[0][0] == rid
    assert result.exit_code == 1



def test_a_wiki_left_out_plans_nothing_again_nor_does_the_run_after(sandbox, cfg, store, work, monkeypatch):
    """What every record is planned with names every configured wiki, not those usable this run: a wiki left out
    (here its secret is not set) does not make every record look new, then again once it is back."""
    settle(sandbox, cfg, store)
    tel = next(w for w in cfg.wiki if w.name == "tel")
    token = tel.api_token_env
    with monkeypatch.context() as m:
        m.delenv(token)
        work.reset()
        down = run(cfg, store)
        assert down.exit_code == 1
        assert work.cleaned == [] and work.records_planned == set()
    work.reset()
    back = run(cfg, store)
    assert back.exit_code == 0
    assert work.cleaned == [] and work.records_planned == set()
