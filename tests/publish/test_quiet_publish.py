"""A quiet run renders no derived page (issue 16): each page remembers the hash of what it is made from, and is
rendered again only when a record it shows moved. Counted through the template renderer, not timed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.publish import pages, wiki_publish

FORM = DEFAULT_FORM_IDS["actor"]
ARTICLES = Path(__file__).parent / "articles"


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def actor(title, commune, postcode, themes):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, "checkboxListeThemes": themes}


class Renders:
    """The pages rendered (by heading) and the times the knowledge base was made, during one run."""

    def __init__(self, monkeypatch):
        self.headings: list[str] = []
        self.articles = 0
        render, made = pages.render, wiki_publish.article_pages

        def counting_render(template, **context):
            self.headings.append(str(context.get("heading") or template))
            return render(template, **context)

        def counting_articles(*a, **kw):
            self.articles += 1
            return made(*a, **kw)

        monkeypatch.setattr(pages, "render", counting_render)
        monkeypatch.setattr(wiki_publish, "article_pages", counting_articles)

    def reset(self):
        self.headings.clear()
        self.articles = 0


@pytest.fixture
def renders(monkeypatch):
    return Renders(monkeypatch)


@pytest.fixture
def published(sandbox, cfg, store, tmp_path):
    """Dashboards and articles published in both wikis, and the run after the first one (which reads back what
    it wrote): every page is as it should be."""
    cfg.publish.dashboards = True
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    cfg.publish.articles_dir = str(folder)
    a = sandbox.wikis["polesnoe"]
    ids = [a.member_create(FORM, actor("Recyclerie des Ulis", "Les Ulis", "91940", "economie-circulaire")),
           a.member_create(FORM, actor("AMAP des Coteaux", "Orsay", "91400", "alimentation"))]
    assert run(cfg, store).exit_code == 0
    run(cfg, store)
    return ids


def test_a_quiet_run_renders_no_page_and_makes_no_article(sandbox, cfg, store, published, renders):
    quiet = run(cfg, store)
    assert quiet.exit_code == 0 and quiet.result.page_writes == {}
    assert renders.headings == []
    assert renders.articles == 0


def test_an_edit_no_page_shows_renders_no_page(sandbox, cfg, store, published, renders):
    sandbox.wikis["polesnoe"].member_edit(published[0], {"bf_horaires": "Mo 10:00-12:00"})
    run(cfg, store)
    assert renders.headings == []  # the record moved, but nothing any page is made from


def test_a_moved_actor_renders_only_the_pages_that_show_it(sandbox, cfg, store, published, renders):
    sandbox.wikis["polesnoe"].member_edit(published[1], {"checkboxListeThemes": "alimentation,sante"})
    assert run(cfg, store).exit_code == 0
    # the overview, the AMAP's themes (the one it had and the one it joined) and its commune, in each wiki; not
    # the other actor's theme or commune, not the commune's map (it shows no theme), not the knowledge base
    shown = ["dashboard_overview.txt.j2", "Tableau de bord : Alimentation", "Tableau de bord : Santé",
             "Tableau de bord : Orsay"]
    assert sorted(renders.headings) == sorted(shown * 2)
    assert renders.articles == 0
