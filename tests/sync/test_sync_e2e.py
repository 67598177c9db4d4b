"""The whole cycle against two emulated wikis over real HTTP: first import, cost of a no-op, k edits -> k
writes, conflicts, deletions, and the bad inputs of the issue."""

from __future__ import annotations

import pytest

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS

FORM = DEFAULT_FORM_IDS["actor"]


NAMES = ["Recyclerie des Ulis", "Atelier vélo Roue Libre", "AMAP des Coteaux", "Épicerie La Fourmi",
         "Repair café de Massy", "Jardin des Sablons", "Coworking La Fabrique", "Ressourcerie Cyclamen",
         "Tiers-lieu Le Hangar", "Fablab Orsay Sciences"]


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def writes(sandbox):
    """Entry writes received by each wiki: creates, edits, deletes (the admin login is not a write)."""
    return {n: w.emulator.count("POST", "api/entries/") + w.emulator.count("POST", "/edit")
            + w.emulator.count("DELETE") for n, w in sandbox.wikis.items()}


def reset(sandbox):
    for w in sandbox.wikis.values():
        w.emulator.reset_log()


def test_first_run_copies_new_entries_and_merges_the_same_actor(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Recyclerie du Val d'Yvette", bf_site_internet="https://recyclerie.example"))
    a.member_create(FORM, entry("Atelier vélo Roue Libre", "Palaiseau", "91120", listeListeVisibilite=""))
    b.member_create(FORM, entry("recyclerie du val d’yvette", bf_horaires="Sa 10:00-18:00"))
    result = run(cfg, store)
    assert len(store.records("actor")) == 2
    assert len(a.list(FORM)) == 2 and len(b.list(FORM)) == 2
    # the copy says what the member said: no form default slipped in for a field left empty at the source
    velo = next(e for e in b.list(FORM).values() if e["bf_titre"] == "Atelier vélo Roue Libre")
    assert velo["listeListeVisibilite"] == ""
    # the duplicate was linked, not copied; each side gained what it lacked
    b_recyclerie = next(e for e in b.list(FORM).values() if "yvette" in e["bf_titre"].lower())
    assert b_recyclerie["bf_site_internet"] == "https://recyclerie.example"
    a_recyclerie = next(e for e in a.list(FORM).values() if "yvette" in e["bf_titre"].lower())
    assert a_recyclerie["bf_horaires"] == "Sa 10:00-18:00"
    # the two spellings of one name are no conflict (DECISIONS §22, which replaced the first version's rule):
    # each wiki keeps its own, the record keeps the most recent, and nothing needs a person
    assert store.conflicts("open") == []
    assert b_recyclerie["bf_titre"] == "recyclerie du val d’yvette"
    assert a_recyclerie["bf_titre"] == "Recyclerie du Val d'Yvette"
    [rec] = [r for r in store.records("actor") if "yvette" in r.fields["name"].lower()]
    assert rec.fields["name"] in ("recyclerie du val d’yvette", "Recyclerie du Val d'Yvette")
    assert result.exit_code == 0
    # and the next run does not rewrite either spelling
    reset(sandbox)
    run(cfg, store)
    assert writes(sandbox) == {"polesnoe": 0, "tel": 0}


def test_no_op_sync_sends_one_listing_per_wiki_and_no_write(sandbox, cfg, store):
    sandbox.seed_sample({"polesnoe": [entry(n) for n in NAMES[:5]],
                         "tel": [entry(n, "Massy", "91300") for n in NAMES[5:9]]})
    run(cfg, store)
    reset(sandbox)
    result = run(cfg, store)
    for w in sandbox.wikis.values():
        assert w.emulator.request_log == [("GET", f"/?api/forms/{FORM}/entries")]
    assert result.exit_code == 0
    assert not result.result.outcome.applied


@pytest.mark.parametrize("k", [1, 3])
def test_k_member_edits_make_exactly_k_writes_to_the_wiki_that_lacks_them(sandbox, cfg, store, k):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = [a.member_create(FORM, entry(n)) for n in NAMES[:6]]
    run(cfg, store)
    for i in range(k):
        a.member_edit(ids[i], {"bf_horaires": f"Mo {8 + i:02d}:00-12:00"})
    reset(sandbox)
    result = run(cfg, store)
    assert b.emulator.count("POST", "/edit") == k
    assert writes(sandbox) == {"polesnoe": 0, "tel": k}
    hours = sorted(e.get("bf_horaires") for e in b.list(FORM).values() if e.get("bf_horaires"))
    assert hours == sorted(f"Mo {8 + i:02d}:00-12:00" for i in range(k))
    assert result.exit_code == 0


def test_same_field_edited_in_both_wikis_is_a_conflict_left_in_place(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Épicerie solidaire La Fourmi"))
    run(cfg, store)
    bid = next(iter(b.list(FORM)))
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})
    b.member_edit(bid, {"bf_horaires": "Tu 14:00-18:00"})
    result = run(cfg, store)
    assert result.exit_code == 1
    [c] = store.conflicts("open")
    assert c.field == "opening_hours" and c.candidates == {"polesnoe": "Mo 09:00-12:00", "tel": "Tu 14:00-18:00"}
    assert a.read(aid)["bf_horaires"] == "Mo 09:00-12:00" and b.read(bid)["bf_horaires"] == "Tu 14:00-18:00"
    # settled by a person: written everywhere on the next run
    store.resolve_conflict(c.id, "Tu 14:00-18:00", by="test")
    rec = store.record(c.record_id)
    store.update_record(rec.id, {**rec.fields, "opening_hours": "Tu 14:00-18:00"}, author="test", origin="test")
    assert run(cfg, store).exit_code == 0
    assert a.read(aid)["bf_horaires"] == "Tu 14:00-18:00"


def test_deletion_in_one_wiki_propagates(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = [a.member_create(FORM, entry(n)) for n in NAMES[:6]]
    run(cfg, store)
    a.member_delete(ids[0])
    run(cfg, store)
    assert len(b.list(FORM)) == 5
    assert len(store.records("actor")) == 5
    deleted = [r for r in store.records("actor", include_deleted=True) if r.deleted]
    assert len(deleted) == 1 and store.history(deleted[0].id)[-1].deleted


def test_failing_listing_deletes_nothing_and_the_other_wiki_still_syncs(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("AMAP des Coteaux"))
    run(cfg, store)
    b.emulator.inject("GET", r"api/forms/.*/entries", "html200")
    a.member_create(FORM, entry("Coworking La Fabrique", "Massy", "91300"))
    result = run(cfg, store)
    assert result.exit_code == 1
    assert "tel" in result.result.instance_errors
    assert len(store.records("actor")) == 2 and len(b.list(FORM)) == 1
    assert run(cfg, store).exit_code == 0
    assert len(b.list(FORM)) == 2


def test_missing_secret_skips_that_wiki_only(sandbox, cfg, store, monkeypatch):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Ressourcerie Les Ulis", "Les Ulis", "91940"))
    monkeypatch.delenv(cfg.wiki[1].api_token_env)
    result = run(cfg, store)
    assert result.exit_code == 1
    assert "is not set" in result.result.instance_errors["tel"]
    assert cfg.wiki[1].api_token_env in result.result.instance_errors["tel"]
    assert len(store.records("actor")) == 1


def test_bad_member_values_are_named_and_not_propagated(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Tiers-lieu La Ruche", bf_site_internet="javascript:alert(1)", bf_latitude="abc",
                                bf_longitude="2.2", bf_description="<script>alert(1)</script>Bienvenue"))
    result = run(cfg, store)
    copied = next(iter(b.list(FORM).values()))
    assert copied["bf_site_internet"] == "" and copied.get("bf_latitude", "") in ("", None)
    assert "script" not in copied["bf_description"]
    messages = [n["message"] for n in result.report["notices"]]
    assert any("website" in m and "javascript" in m for m in messages)
    assert any("latitude" in m for m in messages)
    assert result.exit_code == 1


def test_huge_value_is_refused_with_a_message(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Fablab", bf_description="x" * 2_000_000))
    result = run(cfg, store)
    assert any("description" in n["message"] for n in result.report["notices"])
    assert len(b.list(FORM)) == 1 and next(iter(b.list(FORM).values()))["bf_description"] == ""


def test_rejected_token_stops_that_wiki_with_one_message(sandbox, cfg, store, monkeypatch):
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Atelier couture"))
    monkeypatch.setenv(cfg.wiki[1].api_token_env, "not-the-token")
    result = run(cfg, store)
    assert result.exit_code == 1
    err = result.result.instance_errors["tel"]
    assert "not-the-token" not in err
    assert len(store.records("actor")) == 1


def test_dry_run_writes_nothing(sandbox, cfg, store):
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Vélo-école"))
    reset(sandbox)
    result = run(cfg, store, dry_run=True)
    assert writes(sandbox) == {"polesnoe": 0, "tel": 0}
    assert store.records("actor") == [] and store.runs() == []
    # the record, its copy in tel, and the INSEE code written back to the member's entry
    assert {type(x).__name__ for p in result.result.plans for x in p.actions} == {
        "CreateRecord", "CreateEntry", "UpdateEntry"}


def test_a_lost_store_is_rebuilt_from_the_wikis_without_creating_anything(sandbox, cfg, store, tmp_path):
    from oscartes_sync.store import Store

    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    for n in NAMES[:4]:
        a.member_create(FORM, entry(n))
    for n in NAMES[4:7]:
        b.member_create(FORM, entry(n, "Massy", "91300"))
    run(cfg, store)
    before = {r.fields["name"]: r.id for r in store.records("actor")}
    fresh = Store(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        reset(sandbox)
        result = run(cfg, fresh)
        assert writes(sandbox) == {"polesnoe": 0, "tel": 0}
        after = {r.fields["name"]: r.id for r in fresh.records("actor")}
        assert sorted(after) == sorted(before)
        # the records our copies name keep their ids: every one of them here, since each actor was copied
        assert after == before
        assert len(a.list(FORM)) == len(b.list(FORM)) == 7
        assert result.exit_code == 0
    finally:
        fresh.close()


def test_invalid_utf8_from_a_member_is_stripped_by_the_wiki_and_synced_clean(sandbox, cfg, store):
    import requests

    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    body = "bf_titre=Maison+des+associations&bf_ville=Orsay&bf_codepostal=91400&bf_chapeau=Lieu+ouvert".encode()
    r = requests.post(f"{a.url}?api/entries/{FORM}", data=body + b"\xff\xfe",
                      headers={"Authorization": f"Bearer {a.member_token}",
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201
    result = run(cfg, store)
    [copy] = b.list(FORM).values()
    assert copy["bf_chapeau"] == "Lieu ouvert"
    assert result.exit_code == 0


def test_a_wiki_answering_broken_utf8_is_one_error_and_the_other_still_syncs(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940"))
    b.member_create(FORM, entry("Épicerie La Fourmi", "Igny", "91430"))

    def corrupt_listing(app):
        def wrapped(environ, start_response):
            captured = {}
            body = b"".join(app(environ, lambda status, headers, *exc: captured.update(s=status, h=headers)))
            if "entries" in environ.get("QUERY_STRING", ""):
                body = body.replace(b"{", b"{\"bf_x\":\"\xc3\",", 1)  # a cut multi-byte character
            headers = [(k, v) for k, v in captured["h"] if k.lower() != "content-length"]
            start_response(captured["s"], headers + [("Content-Length", str(len(body)))])
            return [body]
        return wrapped

    b.server.wrap(corrupt_listing)
    result = run(cfg, store)
    assert result.exit_code == 1
    err = result.result.instance_errors["tel"]
    assert "JSON" in err
    assert [r.fields["name"] for r in store.records("actor")] == ["Recyclerie des Ulis"]
    assert [e["bf_titre"] for e in b.emulator.entries(FORM).values()] == ["Épicerie La Fourmi"]  # nothing written


def test_a_20_mb_field_is_refused_with_one_message_and_the_rest_syncs(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Fablab du Plateau", bf_description="x" * 20_000_000, bf_horaires="Mo 10:00-18:00"))
    result = run(cfg, store)
    notes = [n for n in result.report["notices"] if "description" in n["message"]]
    assert len(notes) == 1 and notes[0]["instance"] == "polesnoe" and "too long" in notes[0]["message"]
    [copy] = b.list(FORM).values()
    assert copy["bf_description"] == "" and copy["bf_horaires"] == "Mo 10:00-18:00"
    assert result.exit_code == 1


def test_a_refused_coordinate_is_neither_erased_by_our_writes_nor_rewritten_forever(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Jardin des Sablons", "Palaiseau", "91120", bf_latitude="91.5",
                                      bf_longitude="2.21"))
    run(cfg, store)  # writes the INSEE code back to the member's entry: the map field is re-sent as it was
    assert a.read(aid)["bf_latitude"] == "91.5" and str(a.read(aid)["bf_longitude"]) == "2.21"
    reset(sandbox)
    again = run(cfg, store)
    assert writes(sandbox) == {"polesnoe": 0, "tel": 0}
    assert any("latitude" in n["message"] for n in again.report["notices"])


def test_an_entry_waiting_for_review_costs_nothing_on_quiet_runs(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Ressourcerie Cyclamen"))
    b.member_create(FORM, entry("Ressourcerie Cyclamen du Moulin", bf_siret="73282932000074"))  # words added
    run(cfg, store)
    assert store.review_items("open"), "the scenario needs an entry waiting in `match`"
    reset(sandbox)
    quiet = run(cfg, store)
    for w in sandbox.wikis.values():
        assert w.emulator.request_log == [("GET", f"/?api/forms/{FORM}/entries")]
    assert quiet.exit_code == 1  # the review item still waits for a person


def test_an_edit_hidden_by_a_failed_listing_brings_a_deleted_record_back(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = [a.member_create(FORM, entry(n)) for n in NAMES[:5]]
    run(cfg, store)
    b_id = next(i for i, e in b.list(FORM).items() if e["bf_titre"] == NAMES[0])
    b.member_edit(b_id, {"bf_horaires": "Sa 09:00-12:00"})  # tel edits the actor ...
    a.member_delete(ids[0])  # ... that polesnoe deletes, while tel cannot be read
    b.emulator.inject("GET", r"api/forms/.*/entries", "500", times=3)
    run(cfg, store)
    assert len(store.records("actor")) == 4  # the deletion went through: tel's edit was not visible
    b.emulator.clear_faults()
    back = run(cfg, store)
    [rec] = [r for r in store.records("actor") if r.fields["name"] == NAMES[0]]
    assert rec.fields["opening_hours"] == "Sa 09:00-12:00"
    assert [e["bf_horaires"] for e in a.list(FORM).values() if e["bf_titre"] == NAMES[0]] == ["Sa 09:00-12:00"]
    assert any("comes back" in n["message"] for n in back.report["notices"])
    assert [r.deleted for r in store.history(rec.id)][-3:] == [True, False, False]


def test_a_member_edit_of_a_copy_whose_create_was_not_confirmed_is_kept(sandbox, cfg, store):
    """The copy is created in tel, but its confirmation (the Source-Url look-up) fails; a member edits that copy
    before the next run. The next run finds it by its Source-Url and must take the edit, not overwrite it with
    the record's older value (found by the state machine)."""
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Association Test 1", "Massy", "91300"))
    b.emulator.inject("GET", r"api/pages/", "500", times=1)
    run(cfg, store)
    [rec] = store.records("actor")
    assert store.link(rec.id, "tel").remote_id is None  # the intent: created, not confirmed
    [copy] = b.list(FORM)
    b.member_edit(copy, {"bf_horaires": "Tu 14:00-18:00"})
    assert run(cfg, store).exit_code == 0
    assert store.record(rec.id).fields["opening_hours"] == "Tu 14:00-18:00"
    assert b.read(copy)["bf_horaires"] == "Tu 14:00-18:00"
    assert next(iter(a.list(FORM).values()))["bf_horaires"] == "Tu 14:00-18:00"
