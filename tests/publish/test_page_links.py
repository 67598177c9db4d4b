"""A generated link always leads to a page that exists (issue 12 items 6 and 8): for every page `provision`
writes and every page `sync` publishes under a config, every internal link `[[Page ...]]` names a page that
provisioning or publishing creates under that same config, or a Bazar entry of that wiki."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from oscartes_sync.config import Config, NextcloudConfig, PublishConfig, StoreConfig, WikiConfig
from oscartes_sync.publish.provision import desired_state
from oscartes_sync.publish.wiki_publish import desired_pages, local_articles
from oscartes_sync.store import Store

ARTICLES = Path(__file__).parent / "articles"
# [[Target]] or [[Target label]]; a target with "://" or "mailto:" is an outside link
LINK = re.compile(r"\[\[(\S+?)(?:\s[^\]]*)?\]\]")


# code the wiki shows as it is: %% blocks and `inline code` make no link (seen on a real 4.4.2: `[[wiki]]` in
# either is rendered in <pre> or <code>)
CODE = re.compile(r"%%.*?%%|`[^`\n]*`", re.S)


def internal_links(body: str) -> set[str]:
    return {t for t in LINK.findall(CODE.sub("", body)) if "://" not in t and not t.startswith("mailto:")}


def wiki() -> WikiConfig:
    return WikiConfig(name="polesnoe", url="https://wiki.example.org/", api_token_env="T", admin_user="WikiAdmin",
                      admin_password_env="P")


def cloud() -> NextcloudConfig:
    return NextcloudConfig(name="cloud", url="https://cloud.example.org/", user="oscartes", app_password_env="C",
                           group="OSCARTES PôleS NOE")


def configs(tmp_path: Path) -> dict[str, Config]:
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    store = StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}")
    return {
        # the real wikis of the issue: no article folder, no Nextcloud
        "no article folder": Config(store=store, wiki=[wiki()]),
        "dashboards off": Config(store=store, wiki=[wiki()], publish=PublishConfig(dashboards=False)),
        "local articles": Config(store=store, wiki=[wiki()], publish=PublishConfig(articles_dir=str(folder))),
        # a Nextcloud's knowledge-base folder, with no article in it yet
        "nextcloud, no article yet": Config(store=store, wiki=[wiki()], nextcloud=[cloud()]),
    }


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    ulis = s.create_record("actor", {"name": "Recyclerie des Ulis", "commune": "Les Ulis", "postcode": "91940",
                                     "themes": ["economie-circulaire"], "services": ["recyclerie"]},
                           author="t", origin="polesnoe")
    s.create_record("actor", {"name": "AMAP des Coteaux", "commune": "Orsay", "postcode": "91400",
                              "themes": ["alimentation"]}, author="t", origin="tel")
    s.create_record("project", {"name": "Repair café itinérant", "carriers": [ulis], "commune": "Massy"},
                    author="t", origin="polesnoe")
    s.set_link(ulis, "polesnoe", form_id="20", remote_id="RecycleriedesUlis", snapshot={})
    yield s
    s.close()


def produced(cfg: Config, store) -> dict[str, str]:
    """Tag -> body of every page provisioning and publishing create in the first wiki under `cfg`."""
    w = cfg.wiki[0]
    want = desired_state(w, cfg)
    pages = {**want.pages, **want.fresh}  # a fresh wiki's home page, banner and menu too
    pages.update(desired_pages(cfg, store, w, local_articles(cfg, []), []))
    return pages


@pytest.mark.parametrize("name", ["no article folder", "dashboards off", "local articles",
                                  "nextcloud, no article yet"])
def test_every_generated_link_leads_to_a_page_that_exists(tmp_path, store, name):
    cfg = configs(tmp_path)[name]
    pages = produced(cfg, store)
    entries = {l.remote_id for l in store.links(instance=cfg.wiki[0].name)}
    broken = {tag: sorted(internal_links(body) - set(pages) - entries) for tag, body in pages.items()}
    assert {tag: links for tag, links in broken.items() if links} == {}
    assert "AccueilOscartes" in pages and internal_links(pages["AccueilOscartes"])


def test_the_home_page_links_the_knowledge_base_only_where_there_is_one(tmp_path, store):
    cfgs = configs(tmp_path)
    assert "BaseDeConnaissances" not in internal_links(produced(cfgs["no article folder"], store)["AccueilOscartes"])
    for name in ("local articles", "nextcloud, no article yet"):
        pages = produced(cfgs[name], store)
        assert "BaseDeConnaissances" in internal_links(pages["AccueilOscartes"]), name
        assert "BaseDeConnaissances" in pages, name
    off = produced(cfgs["dashboards off"], store)
    assert not any(t.startswith("TableauDeBord") for t in internal_links("\n".join(off.values())))


def test_dashboards_link_each_actor_to_its_entry_in_that_wiki(tmp_path, store):
    """Item 8: the actor's name leads to its Bazar entry, whose id differs per wiki (the store's links); an
    actor with no entry in that wiki yet stays plain text, never a link to nothing."""
    cfg = configs(tmp_path)["no article folder"]
    ulis = next(r.id for r in store.records("actor") if r.fields["name"] == "Recyclerie des Ulis")
    store.set_link(ulis, "tel", form_id="20", remote_id="RecycleriedesUlis2", snapshot={})
    pages = produced(cfg, store)
    theme = pages["TableauDeBordThemeEconomieCirculaire"]
    assert "[[RecycleriedesUlis Recyclerie des Ulis]]" in theme
    overview_commune = pages["TableauDeBordCommune91692"]  # Les Ulis
    assert "[[RecycleriedesUlis Recyclerie des Ulis]]" in overview_commune
    # carried projects name their carriers the same way
    assert "[[RecycleriedesUlis Recyclerie des Ulis]]" in pages["TableauDeBordCommune91377"]  # Massy
    orsay = pages["TableauDeBordCommune91471"]
    assert "| AMAP des Coteaux |" in orsay and " AMAP des Coteaux]]" not in orsay  # no entry in this wiki yet
    # the other wiki links the same actor to its own entry
    cfg.wiki[0].name = "tel"
    assert "[[RecycleriedesUlis2 Recyclerie des Ulis]]" in produced(cfg, store)["TableauDeBordThemeEconomieCirculaire"]
