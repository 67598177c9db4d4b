"""`sync` publishes dashboards and knowledge-base articles in the wikis, each page only when it changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin

FORM = DEFAULT_FORM_IDS["actor"]
ARTICLES = Path(__file__).parent / "articles"


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


PAGE_MARKS = ("TableauDeBord", "CarteCommune", "Article", "BaseDeConnaissances", "hashcash")


def page_requests(sandbox):
    """Requests about derived pages (reads, hashcash keys, saves)."""
    return {n: sum(1 for _, p in w.emulator.request_log if any(m in p for m in PAGE_MARKS))
            for n, w in sandbox.wikis.items()}


def reset(sandbox):
    for w in sandbox.wikis.values():
        w.emulator.reset_log()


def actor(title, commune, postcode, themes):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, "checkboxListeThemes": themes}


def test_dashboards_are_published_then_rewritten_only_when_a_figure_changes(sandbox, cfg, store):
    cfg.publish.dashboards = True
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, actor("Recyclerie des Ulis", "Les Ulis", "91940", "economie-circulaire"))
    a.member_create(FORM, actor("AMAP des Coteaux", "Orsay", "91400", "alimentation"))
    first = run(cfg, store)
    assert first.exit_code == 0
    for w in sandbox.wikis.values():
        overview = w.emulator.page("TableauDeBordTerritoire")
        assert overview is not None
        assert w.emulator.page("TableauDeBordThemeAlimentation") is not None
    reset(sandbox)
    quiet = run(cfg, store)
    assert page_requests(sandbox) == {"polesnoe": 0, "tel": 0}
    assert not any(p.startswith("/?PagePrincipale") for w in sandbox.wikis.values() for _, p in w.emulator.request_log)
    assert quiet.result.page_writes == {}
    # an edit that changes no figure rewrites no page
    rid = next(iter(a.list(FORM)))
    a.member_edit(rid, {"bf_horaires": "Mo 10:00-12:00"})
    reset(sandbox)
    run(cfg, store)
    assert page_requests(sandbox)["tel"] == 0, sandbox.wikis["tel"].emulator.request_log
    # a new actor in a theme rewrites the pages that count it, and those only
    before = {tag: w.emulator.page(tag)["body"] for w in [sandbox.wikis["tel"]]
              for tag in ("TableauDeBordThemeAlimentation", "TableauDeBordThemeSante")}
    a.member_create(FORM, actor("Épicerie La Fourmi", "Orsay", "91400", "alimentation"))
    changed = run(cfg, store)
    tel = sandbox.wikis["tel"].emulator
    assert tel.page("TableauDeBordThemeAlimentation")["body"] != before["TableauDeBordThemeAlimentation"]
    assert tel.page("TableauDeBordThemeSante")["body"] == before["TableauDeBordThemeSante"]
    assert 0 < changed.result.page_writes["tel"] < 10


def test_a_dashboard_edited_by_hand_is_not_overwritten(sandbox, cfg, store):
    cfg.publish.dashboards = True
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, actor("Recyclerie des Ulis", "Les Ulis", "91940", "economie-circulaire"))
    run(cfg, store)
    person = YesWikiAdmin("tel", sandbox.wikis["tel"].url, admin_user="WikiAdmin",
                          admin_password=sandbox.wikis["tel"].admin_password)
    page = person.get_page("TableauDeBordTerritoire")
    person.save_page("TableauDeBordTerritoire", page.body + "\nNote ajoutée à la main.", previous=page.revision)
    person.close()
    a.member_create(FORM, actor("AMAP des Coteaux", "Orsay", "91400", "alimentation"))
    result = run(cfg, store)
    assert result.exit_code == 1
    assert "Note ajoutée à la main." in sandbox.wikis["tel"].emulator.page("TableauDeBordTerritoire")["body"]
    assert any("TableauDeBordTerritoire" in n["message"] and n["instance"] == "tel" for n in result.report["notices"])


def test_articles_are_published_refused_ones_named_and_removed_ones_unpublished(sandbox, cfg, store, tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    (folder / "piege.md").write_text("# Piège\n\nBonjour.\n\n<script>alert(1)</script>\n", encoding="utf-8")
    cfg.publish.articles_dir = str(folder)
    result = run(cfg, store)
    for w in sandbox.wikis.values():
        page = w.emulator.page("ArticleRecyclerie")
        assert page is not None and "Licence : CC BY-SA 4.0" in page["body"]
        index = w.emulator.page("BaseDeConnaissances")
        assert index is not None and "ArticleAtelierVelo" in index["body"]
        assert w.emulator.page("ArticlePiege") is None
    assert result.exit_code == 1
    assert any("piege.md:5" in n["message"] for n in result.report["notices"])
    (folder / "piege.md").unlink()
    (folder / "atelier-velo.md").unlink()
    again = run(cfg, store)
    assert again.exit_code == 0
    for w in sandbox.wikis.values():
        assert w.emulator.page("ArticleAtelierVelo") is None
        assert "ArticleAtelierVelo" not in w.emulator.page("BaseDeConnaissances")["body"]


def test_dry_run_says_which_pages_would_change_and_writes_none(sandbox, cfg, store, tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    cfg.publish.articles_dir = str(folder)
    result = run(cfg, store, dry_run=True)
    assert any("page ArticleRecyclerie would be written" in n["message"] for n in result.report["notices"])
    assert page_requests(sandbox) == {"polesnoe": 0, "tel": 0}


def test_pages_no_record_deletion_accounts_for_are_refused_with_advice_that_works(sandbox, cfg, store):
    """Dashboards turned off: every dashboard page is no longer produced, and no deleted record explains it.
    That is above the limit: refused, and the message names `sync --allow-deletes N`; following it works."""
    cfg.publish.dashboards = True
    a = sandbox.wikis["polesnoe"]
    a.member_create(FORM, actor("Recyclerie des Ulis", "Les Ulis", "91940", "economie-circulaire"))
    a.member_create(FORM, actor("AMAP des Coteaux", "Orsay", "91400", "alimentation"))
    assert run(cfg, store).exit_code == 0
    tel = sandbox.wikis["tel"].emulator
    published = sorted(t for t in tel.revisions if t.startswith(("TableauDeBord", "CarteCommune")))
    cfg.publish.dashboards = False
    refused = run(cfg, store)
    assert refused.exit_code == 1
    [message] = [n["message"] for n in refused.report["notices"] if n["instance"] == "tel" and "refused" in n["message"]]
    assert f"accept them once with `oscartes-sync sync --allow-deletes {len(published)}`" in message, message
    assert all(tel.page(t) is not None for t in published)
    assert refused.report["attention"]["refused_deletions"] == 2  # one per wiki, counted as what it is
    followed = run(cfg, store, allow_deletes=len(published))
    assert followed.exit_code == 0
    assert [t for t in published if tel.page(t) is not None] == []
    assert sorted(followed.result.pages_removed["tel"]) == published
    assert run(cfg, store).exit_code == 0
