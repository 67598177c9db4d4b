"""Projects, events, offers and calls go through the same mechanism as actors; their links to actors are
translated from one wiki's entry ids to the other's (DECISIONS §9), and a wiki's own list keys too."""

from __future__ import annotations

import tempfile
from pathlib import Path

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

ACTOR, PROJECT, EVENT = DEFAULT_FORM_IDS["actor"], DEFAULT_FORM_IDS["project"], DEFAULT_FORM_IDS["event"]


def test_links_to_actors_are_translated_between_wikis():
    with start_sandbox(kinds=("actor", "project", "event")) as sb, tempfile.TemporaryDirectory() as d:
        cfg = sb.config(store_url=f"sqlite:///{Path(d) / 's.db'}", lock=str(Path(d) / "lock"))
        cfg.publish.dashboards = False  # entry writes are counted here; pages have their own tests
        cfg.review.enabled = False  # and listings: the review page and its decisions form have theirs
        store = Store(cfg.store_url())
        try:
            a, b = sb.wikis["polesnoe"], sb.wikis["tel"]
            # a page of b already has the id the Recyclerie gets in a: its copy in b gets another id
            b.emulator.add_page("RecyclerieDesUlis", "Page sur la recyclerie, écrite avant la fiche.")
            rec_a = a.member_create(ACTOR, {"bf_titre": "Recyclerie des Ulis", "bf_ville": "Les Ulis",
                                            "bf_codepostal": "91940"})
            cafe_a = a.member_create(ACTOR, {"bf_titre": "Café associatif Le Lien", "bf_ville": "Orsay",
                                             "bf_codepostal": "91400"})
            a.member_create(PROJECT, {"bf_titre": "Réemploi des meubles", "bf_ville": "Les Ulis",
                                      f"checkboxfiche{ACTOR}bf_porteurs": f"{rec_a},{cafe_a}",
                                      "checkboxListeThemes": "economie-circulaire"})
            a.member_create(EVENT, {"bf_titre": "Grande braderie solidaire", "bf_date_debut_evenement": "2026-12-05",
                                    f"checkboxfiche{ACTOR}bf_organisateurs": rec_a})
            result = sync_once(cfg, store, build_instances(cfg))
            assert result.exit_code == 0, result.report["notices"]
            assert {r.kind for r in store.records()} == {"actor", "project", "event"}
            b_ids = {e["bf_titre"]: i for i, e in b.list(ACTOR).items()}
            assert rec_a == "RecyclerieDesUlis" and b_ids["Recyclerie des Ulis"] == "RecyclerieDesUlis2"
            [project] = b.list(PROJECT).values()
            assert sorted(project[f"checkboxfiche{ACTOR}bf_porteurs"].split(",")) == sorted(
                [b_ids["Recyclerie des Ulis"], b_ids["Café associatif Le Lien"]])
            [event] = b.list(EVENT).values()
            assert event[f"checkboxfiche{ACTOR}bf_organisateurs"] == b_ids["Recyclerie des Ulis"]
            # in the store, links name records, not entries of one wiki
            [prec] = store.records("project")
            actors = {r.fields["name"]: r.id for r in store.records("actor")}
            assert prec.fields["carriers"] == sorted([actors["Recyclerie des Ulis"], actors["Café associatif Le Lien"]])
            # quiet afterwards: one listing per form per wiki
            for w in sb.wikis.values():
                w.emulator.reset_log()
            again = sync_once(cfg, store, build_instances(cfg))
            assert again.exit_code == 0
            for w in sb.wikis.values():
                assert sorted(p for _, p in w.emulator.request_log) == sorted(
                    f"/?api/forms/{f}/entries" for f in (ACTOR, PROJECT, EVENT))
        finally:
            store.close()


def test_a_wikis_own_list_keys_are_translated(sandbox, tmp_path):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    cfg = sandbox.config(store_url=f"sqlite:///{tmp_path / 's.db'}", lock=str(tmp_path / "lock"))
    cfg.publish.dashboards = False  # entry writes are counted here; pages have their own tests
    # tel's lists use its own keys for two themes
    cfg.wiki[1].keys = {"ListeThemes": {"eco-circ": "economie-circulaire", "alim": "alimentation"}}
    store = Store(cfg.store_url())
    try:
        a.member_create(ACTOR, {"bf_titre": "AMAP des Coteaux", "bf_ville": "Orsay", "bf_codepostal": "91400",
                                "checkboxListeThemes": "alimentation,economie-circulaire,solidarite"})
        b.member_create(ACTOR, {"bf_titre": "Épicerie La Fourmi", "bf_ville": "Igny", "bf_codepostal": "91430",
                                "checkboxListeThemes": "alim"})
        sync_once(cfg, store, build_instances(cfg))
        in_b = {e["bf_titre"]: e for e in b.list(ACTOR).values()}
        assert sorted(in_b["AMAP des Coteaux"]["checkboxListeThemes"].split(",")) == ["alim", "eco-circ", "solidarite"]
        in_a = {e["bf_titre"]: e for e in a.list(ACTOR).values()}
        assert in_a["Épicerie La Fourmi"]["checkboxListeThemes"] == "alimentation"
        fourmi = next(r for r in store.records("actor") if r.fields["name"] == "Épicerie La Fourmi")
        assert fourmi.fields["themes"] == ["alimentation"]
    finally:
        store.close()
