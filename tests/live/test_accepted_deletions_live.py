"""Issue 12 item 2 on real servers (OSCARTES_LIVE_YESWIKI_* and OSCARTES_LIVE_NEXTCLOUD_*; skipped when unset):
members delete most actors, `sync` refuses, `sync --allow-deletes N` removes the entries' records, their cards
and their dashboard pages, and no later run refuses again. A throw-away actor form on the real wiki, a
throw-away address book and folder on the real Nextcloud, all removed afterwards."""

from __future__ import annotations

import os
import random
import secrets
import time

import pytest
import requests

from oscartes_sync import geo
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import Config, NextcloudConfig, StoreConfig, SyncConfig, WikiConfig
from oscartes_sync.publish.pages import dashboard_tag, map_tag
from oscartes_sync.publish.wiki_publish import STATE
from oscartes_sync.records import KINDS
from oscartes_sync.store import Store
from oscartes_sync.targets.nextcloud import NextcloudClient
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin
from oscartes_sync.templates import render_form_template

pytestmark = pytest.mark.live
NC_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD")


@pytest.fixture
def world(live_env, tmp_path, monkeypatch):
    if any(not os.environ.get(v) for v in NC_VARS):
        pytest.skip("live Nextcloud not configured")
    monkeypatch.setenv("LIVEDEL_TOKEN", live_env["OSCARTES_LIVE_YESWIKI_TOKEN"])
    monkeypatch.setenv("LIVEDEL_PASSWORD", live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    url = live_env["OSCARTES_LIVE_YESWIKI_URL"]
    admin = YesWikiAdmin("live", url, admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                         admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    form_id = str(random.choice([i for i in range(9100, 9900) if str(i) not in set(admin.list_forms())]))
    tag = f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"
    client = NextcloudClient("live", os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                             user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                             app_password=os.environ["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    code, data, _ = client._ocs("GET", f"cloud/users/{client.user}/groups", family="groups")
    groups = sorted((data or {}).get("groups") or []) if code == 200 and isinstance(data, dict) else []
    if not groups:
        client.close()
        admin.close()
        pytest.skip("the live Nextcloud user is in no group to share the address book with")
    wiki = WikiConfig(name="live", url=url, api_token_env="LIVEDEL_TOKEN",
                      admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"], admin_password_env="LIVEDEL_PASSWORD",
                      forms={"actor": form_id})
    nc = NextcloudConfig(name="live-cloud", url=os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                         user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                         app_password_env="OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD", group=groups[0], addressbook=tag,
                         exports_folder=f"{tag}/Donnees-ouvertes", articles_folder=f"{tag}/Base-de-connaissances")
    cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 's.db'}"),
                 sync=SyncConfig(lock_file=str(tmp_path / "lock")), wiki=[wiki], nextcloud=[nc])
    cfg.review.enabled = False  # a throw-away actor form, no decisions form: the review page has its own live test
    admin.create_form(form_id, f"Oscartes test {tag}", render_form_template("actor", {**cfg.wiki[0].form_ids()}))
    store = Store(cfg.store_url())
    headers = {"Authorization": f"Bearer {live_env['OSCARTES_LIVE_YESWIKI_TOKEN']}"}
    try:
        yield cfg, store, admin, client, headers
    finally:
        published = list(store.get_state(STATE.format(wiki="live")) or {})
        store.close()
        try:
            r = requests.get(f"{url}?api/forms/{form_id}/entries", headers=headers, timeout=30)
            for entry in (r.json() if isinstance(r.json(), dict) else {}):
                requests.delete(f"{url}?api/pages/{entry}", headers=headers, timeout=30)
            for page in published:
                try:
                    admin.delete_page(page)
                except Exception:  # cleanup goes on
                    pass
            admin.delete_form(form_id)
        finally:
            admin.close()
            client.delete_addressbook(tag)
            client.delete(tag)
            client.close()


def test_allow_deletes_carries_through_to_cards_and_pages_on_real_servers(world):
    cfg, store, admin, client, headers = world
    url, form_id, book = cfg.wiki[0].url, cfg.wiki[0].forms["actor"], cfg.nextcloud[0].addressbook
    places = [c for c in geo.all_communes() if c.has_point and c.postcodes][::8][:6]  # names no look-alikes
    entries = []
    for c in places:
        r = requests.post(f"{url}?api/entries/{form_id}", headers=headers, timeout=30,
                          data={"bf_titre": f"Ressourcerie test {c.name}", "bf_ville": c.name,
                                "bf_codepostal": c.postcodes[0], "listeListeVisibilite": ""})
        assert r.status_code == 201
        entries.append(r.json()["success"].split("?", 1)[1])
    run = lambda **kw: sync_once(cfg, store, build_instances(cfg), **kw)  # noqa: E731
    first = run()
    assert not first.result.instance_errors, first.result.instance_errors
    assert len(client.sync_collection(book, None).changed) == 6
    gone_pages = [t(c.insee) for c in places[:5] for t in (lambda i: dashboard_tag("commune", i),
                                                            lambda i: map_tag("commune", i))]
    assert all(admin.get_page(t) is not None for t in gone_pages)

    for entry in entries[:5]:  # members delete 5 of the 6 actors: above max(0.2 × 6, 3)
        assert requests.delete(f"{url}?api/pages/{entry}", headers=headers, timeout=30).status_code == 200
    refused = run()
    assert refused.exit_code == 1
    assert any("`oscartes-sync sync --allow-deletes 5`" in n.message for n in refused.result.notices)
    assert len(store.records("actor")) == 6

    accepted = run(allow_deletes=5)
    assert accepted.exit_code == 0, accepted.report["notices"]
    assert len(store.records("actor")) == 1
    assert len(client.sync_collection(book, None).changed) == 1
    assert [t for t in gone_pages if admin.get_page(t) is not None] == []
    assert sorted(accepted.report["cards"]["live-cloud"]["deleted"]) == sorted(
        r.id for r in store.records(KINDS["actor"].name, include_deleted=True) if r.deleted)
    later = run()
    assert later.exit_code == 0 and not [n for n in later.result.notices if "refused" in n.message]
