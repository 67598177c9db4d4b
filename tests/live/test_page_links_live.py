"""Generated links on a real YesWiki (issue 12 items 6 and 8; OSCARTES_LIVE_YESWIKI_*, skipped when unset).

Under the config of the real wikis of the issue (no article folder, no Nextcloud), `provision` then `sync` (with
one member's entry, dashboards on) must leave no generated link to a page that does not exist, and each actor
on a dashboard links to its entry. Runs on a throw-away wiki only (it refuses to start if a page it would make
already exists) and removes every form, list, page and entry it made afterwards.
"""

from __future__ import annotations

import random
import re
import secrets
from urllib.parse import urlsplit

import pytest
import requests

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import Config, StoreConfig, WikiConfig
from oscartes_sync.publish.fresh_wiki import stock_bodies
from oscartes_sync.publish.provision import desired_state, render_report, run_provision
from oscartes_sync.publish.wiki_publish import STATE
from oscartes_sync.store import Store
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin

pytestmark = pytest.mark.live

LINK = re.compile(r"\[\[(\S+?)(?:\s[^\]]*)?\]\]")
CODE = re.compile(r"%%.*?%%|`[^`\n]*`", re.S)  # shown as it is by the wiki: no link there


def internal_links(body: str) -> set[str]:
    return {t for t in LINK.findall(CODE.sub("", body)) if "://" not in t and not t.startswith("mailto:")}


@pytest.fixture
def live_wiki(live_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVELINKS_TOKEN", live_env["OSCARTES_LIVE_YESWIKI_TOKEN"])
    monkeypatch.setenv("LIVELINKS_PASSWORD", live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    url = live_env["OSCARTES_LIVE_YESWIKI_URL"]
    admin = YesWikiAdmin("live", url, admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                         admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    taken = set(admin.list_forms())
    ids = random.sample([i for i in range(9100, 9900) if str(i) not in taken], 5)
    wiki = WikiConfig(name="live", url=url, api_token_env="LIVELINKS_TOKEN",
                      admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"], admin_password_env="LIVELINKS_PASSWORD",
                      forms={k: str(i) for k, i in zip(("actor", "project", "event", "offer", "call"), ids)})
    # the config of the real wikis of the issue: no article folder, no Nextcloud; dashboards on (default)
    cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 's.db'}"), wiki=[wiki])
    want = desired_state(wiki, cfg)
    present = [n for n in list(want.lists) + list(want.pages) if admin.get_page(n) is not None]
    if present:
        admin.close()
        pytest.skip(f"not a throw-away wiki: {', '.join(present[:5])} already exist")
    store = Store(cfg.store_url())
    made: list[str] = []  # entries
    try:
        yield cfg, store, admin, want, made, live_env
    finally:
        published = list(store.get_state(STATE.format(wiki="live")) or {})
        store.close()
        headers = {"Authorization": f"Bearer {live_env['OSCARTES_LIVE_YESWIKI_TOKEN']}"}
        for entry in made:
            requests.delete(f"{url}?api/pages/{entry}", headers=headers, timeout=30)
        for tag in list(want.pages) + published:
            try:
                admin.delete_page(tag)
            except Exception:  # cleanup goes on; a leftover shows in the next run's skip
                pass
        for list_id in want.lists:  # through the lists page: the pages API would leave the type triple behind
            try:
                admin.delete_list(list_id)
            except Exception:
                pass
        for tag, body in stock_bodies().items():  # YesWiki's own home page, banner and menu back
            try:
                page = admin.get_page(tag)
                if page is None or page.body.rstrip() != body.rstrip():
                    admin.save_page(tag, body, previous=page.revision if page else None)
            except Exception:
                pass
        for form_id, _, _ in want.forms.values():
            try:
                if admin.get_form(form_id) is not None:
                    admin.delete_form(form_id)
            except Exception:
                pass
        admin.close()


def page_body(url: str, tag: str) -> str | None:
    r = requests.get(f"{url}?api/pages/{tag}", timeout=30)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, (tag, r.status_code)
    return r.json()["body"]


def test_every_generated_link_on_a_real_wiki_leads_to_a_page_that_exists(live_wiki):
    cfg, store, admin, want, made, env = live_wiki
    url = cfg.wiki[0].url
    done = run_provision(cfg, store)
    assert done.exit_code == 0, render_report(done)
    title = f"Ressourcerie test liens {secrets.token_hex(3)}"
    r = requests.post(f"{url}?api/entries/{cfg.wiki[0].forms['actor']}",
                      data={"bf_titre": title, "bf_ville": "Les Ulis", "bf_codepostal": "91940",
                            "checkboxListeThemes": "economie-circulaire", "listeListeVisibilite": ""},
                      headers={"Authorization": f"Bearer {env['OSCARTES_LIVE_YESWIKI_TOKEN']}"}, timeout=30)
    assert r.status_code == 201
    entry = r.json()["success"].split("?", 1)[1]
    made.append(entry)
    ran = sync_once(cfg, store, build_instances(cfg))
    assert not ran.result.instance_errors, ran.result.instance_errors
    published = list(store.get_state(STATE.format(wiki="live")) or {})
    assert "TableauDeBordThemeEconomieCirculaire" in published

    checked: dict[str, bool] = {}
    broken = {}
    for tag in list(want.pages) + list(want.fresh) + published:  # a fresh wiki's home page, banner, menu too
        body = page_body(url, tag)
        assert body is not None, f"{tag} was not written"
        for target in internal_links(body):
            if target not in checked:
                checked[target] = page_body(url, target) is not None
            if not checked[target]:
                broken.setdefault(tag, []).append(target)
    assert broken == {}
    assert "BaseDeConnaissances" not in internal_links(page_body(url, "AccueilOscartes"))
    assert entry in checked  # item 8: the dashboards link the actor to its entry

    # item 8 as a reader sees it: the dashboard renders a link to the entry, and the entry's page shows it
    html = requests.get(f"{url}?TableauDeBordThemeEconomieCirculaire", timeout=30).text
    hrefs = re.findall(r"""<a[^>]*href=['"]([^'"]+)['"][^>]*>([^<]*)</a>""", html)  # the real wiki writes href='...'
    to_entry = [(h, label) for h, label in hrefs if urlsplit(h).query == entry]
    assert to_entry and to_entry[0][1].strip() == title, hrefs
    page = requests.get(to_entry[0][0], timeout=30)
    assert page.status_code == 200 and title in page.text
