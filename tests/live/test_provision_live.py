"""`provision` against a real YesWiki (skipped unless OSCARTES_LIVE_YESWIKI_* are set).

Runs on a throw-away wiki only: it refuses to start if one of the lists or pages it would create already
exists, and removes every form, list and page it made afterwards, even when a check fails.
"""

from __future__ import annotations

import random

import pytest

from oscartes_sync.config import Config, StoreConfig, WikiConfig
from oscartes_sync.publish.fresh_wiki import stock_bodies
from oscartes_sync.publish.provision import desired_state, render_report, run_provision
from oscartes_sync.store import Store
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin


@pytest.fixture
def live_provision(live_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEPROV_TOKEN", live_env["OSCARTES_LIVE_YESWIKI_TOKEN"])
    monkeypatch.setenv("LIVEPROV_PASSWORD", live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    admin = YesWikiAdmin("live", live_env["OSCARTES_LIVE_YESWIKI_URL"],
                         admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                         admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    taken = set(admin.list_forms())
    ids = random.sample([i for i in range(9100, 9900) if str(i) not in taken], 5)
    wiki = WikiConfig(name="live", url=live_env["OSCARTES_LIVE_YESWIKI_URL"], api_token_env="LIVEPROV_TOKEN",
                      admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"], admin_password_env="LIVEPROV_PASSWORD",
                      forms={k: str(i) for k, i in zip(("actor", "project", "event", "offer", "call"), ids)})
    cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 's.db'}"), wiki=[wiki])
    want = desired_state(wiki)
    present = [n for n in list(want.lists) + list(want.pages) if admin.get_page(n) is not None]
    stock = stock_bodies()
    present += [t for t in want.fresh if (admin.get_page(t) is None
                                          or admin.get_page(t).body.rstrip() != stock[t].rstrip())]
    if present:
        admin.close()
        pytest.skip(f"not a throw-away wiki: {', '.join(present[:5])} already exist or were changed")
    store = Store(cfg.store_url())
    try:
        yield cfg, store, admin, want
    finally:
        store.close()
        for tag in want.pages:
            try:
                admin.delete_page(tag)
            except Exception:  # cleanup goes on; a leftover shows in the next run's skip
                pass
        for list_id in want.lists:  # through the lists page: the pages API would leave the type triple behind
            try:
                admin.delete_list(list_id)
            except Exception:
                pass
        for tag, body in stock.items():  # YesWiki's own home page, banner and menu back
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


@pytest.mark.live
def test_provision_a_real_wiki_check_apply_then_nothing_to_do(live_provision):
    cfg, store, admin, want = live_provision
    check = run_provision(cfg, store, check=True)
    # everything to create, and a fresh wiki's home page, banner and menu to replace
    assert check.exit_code == 1
    assert len(check.drift) == len(want.forms) + len(want.lists) + len(want.pages) + len(want.fresh)
    done = run_provision(cfg, store)
    assert done.exit_code == 0, render_report(done)
    for kind, (form_id, label, template) in want.forms.items():
        form = admin.get_form(form_id)
        assert form["bn_label_nature"] == label
    assert admin.get_list("ListeThemes")["titre_liste"] == want.lists["ListeThemes"][0]
    assert 'dynamic="true"' in admin.get_page("CarteActeurs").body
    assert "Bac à sable" not in admin.get_page("PageMenuHaut").body  # the stock menu replaced
    assert "[[DocumentationOscartes" in admin.get_page("PageMenuHaut").body
    assert "licence CC BY-SA 4.0" in admin.get_page("DocumentationFormulaires").body
    # the real wiki renders the dynamic map and the agenda (contract pages_22: a Vue container, no error)
    import requests

    for tag in ("CarteActeurs", "AgendaEvenements", "CarteThemeAlimentation"):
        html = requests.get(f"{cfg.wiki[0].url}?{tag}", timeout=30).text
        assert "bazar-list-dynamic-container" in html, tag
    again = run_provision(cfg, store)
    assert again.exit_code == 0 and not again.drift, render_report(again)
    # a hand edit of a page is reported, not overwritten
    page = admin.get_page("GlossaireTransition")
    admin.save_page("GlossaireTransition", page.body + "\n\nNote de test.", previous=page.revision)
    edited = run_provision(cfg, store)
    assert edited.exit_code == 1
    assert [i.name for i in edited.items if i.status == "hand-edited"] == ["GlossaireTransition"]
    assert "Note de test." in admin.get_page("GlossaireTransition").body
