"""The address book, the exports and the kit archive against a real Nextcloud (OSCARTES_LIVE_NEXTCLOUD_URL, _USER, _APP_PASSWORD;
skipped when unset). Everything goes into a throw-away address book and folder named "oscartes-test-<random>",
removed afterwards even when a test fails. No wrong password is ever sent (about ten failed logins lock the
whole host out, contract §1)."""

from __future__ import annotations

import os
import secrets
import time

import pytest
import requests

from oscartes_sync.config import Config, NextcloudConfig, StoreConfig, SyncConfig
from oscartes_sync.publish.addressbook import parse_card
from oscartes_sync.publish.exports import build_exports
from oscartes_sync.publish.kit import KitArchive
from oscartes_sync.publish.nc_kit import KIT_FILE
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds
from oscartes_sync.store import Store
from oscartes_sync.targets.nextcloud import NextcloudClient

pytestmark = pytest.mark.live
LIVE_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD")


@pytest.fixture(scope="module")
def live():
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live Nextcloud not configured ({', '.join(missing)} unset)")
    tag = f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"
    client = NextcloudClient("live", os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                             user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                             app_password=os.environ["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    try:
        code, data, _ = client._ocs("GET", f"cloud/users/{client.user}/groups", family="groups")
        groups = sorted((data or {}).get("groups") or []) if code == 200 and isinstance(data, dict) else []
        yield client, tag, (groups[0] if groups else None)
    finally:
        client.delete_addressbook(tag)
        client.delete(tag)
        assert client.propfind(tag, 0) == []
        assert tag not in client.list_addressbooks()
        client.close()


def test_address_book_and_exports_on_a_real_nextcloud(live, tmp_path):
    client, tag, group = live
    nc = NextcloudConfig(name="live", url=os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                         user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                         app_password_env="OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD", group=group or f"{tag}-absent",
                         addressbook=tag, exports_folder=f"{tag}/Donnees-ouvertes",
                         articles_folder=f"{tag}/Base-de-connaissances", kit_folder=f"{tag}/Kit-de-replication")
    cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}"),
                 sync=SyncConfig(lock_file=str(tmp_path / "lock")), nextcloud=[nc])
    with Store(cfg.store_url()) as store:
        ulis = store.create_record("actor", {"name": "Recyclerie des Ulis (test)", "commune": "Les Ulis",
                                             "postcode": "91940", "email": "prive@example.org",
                                             "phone": "+33169000001", "contact_visibility": "membres",
                                             "website": "https://recyclerie.example.org"},
                                   author="test", origin="live")
        velo = store.create_record("actor", {"name": "Atelier Roue Libre (test)", "email": "velo@example.org",
                                             "contact_visibility": "public", "latitude": 48.7, "longitude": 2.2},
                                   author="test", origin="live")

        first = publish_nextclouds(cfg, store)
        if group is None:
            assert f"{tag}-absent" in first.instance_errors.get("live", "")
        else:
            assert first.instance_errors == {}, first.instance_errors
        assert first.writes["live"] >= 2
        got = client.multiget(tag, [client.card_href(tag, ulis), client.card_href(tag, velo)])
        texts = {href.rsplit("/", 1)[-1]: text for href, (text, _) in got.items()}
        assert parse_card(texts[f"{velo}.vcf"])["email"] == "velo@example.org"
        assert "prive@example.org" not in "".join(texts.values())
        want = build_exports(cfg, store).files
        listed = {i.path.rsplit("/", 1)[-1]: i for i in client.propfind(nc.exports_folder, 1)[1:]}
        assert set(want) <= set(listed)
        body, _ = client.get(f"{nc.exports_folder}/acteurs.csv")
        assert body == want["acteurs.csv"] and b"prive@example.org" not in body
        link = first.links["live"]
        # the replication kit's archive, with a public link that serves it to anyone
        kit_body, _ = client.get(f"{nc.kit_folder}/{KIT_FILE}")
        assert kit_body == KitArchive(cfg).data() and b"prive@example.org" not in kit_body
        kit_link = first.kit_links["live"]
        shared = requests.get(kit_link.rstrip("/") + "/download", timeout=60)
        assert shared.status_code == 200 and shared.content[:2] == b"PK"

        time.sleep(2.5)  # past the same-second window: the read-back of the files written above is its last
        publish_nextclouds(cfg, store)
        noop = publish_nextclouds(cfg, store)
        # one PROPFIND per watched folder: the exports and the knowledge-base articles
        assert noop.requests["live"] == {"REPORT addressbook": 1, "PROPFIND files": 2}
        assert noop.writes["live"] == 0 and noop.links["live"] == link and noop.kit_links["live"] == kit_link

        # the coordinator, logged in as the service account, edits a card: a suggestion, then the card restored
        text, etag = client.get_card(tag, velo)
        client.put_card(tag, velo, text.replace("velo@example.org", "atelier@example.org"), etag=etag)
        publish_nextclouds(cfg, store)
        assert [(s.field, s.value) for s in store.suggestions("open")] == [("email", "atelier@example.org")]
        assert parse_card(client.get_card(tag, velo)[0])["email"] == "velo@example.org"

        store.tombstone_record(ulis, author="test", origin="live")
        publish_nextclouds(cfg, store)
        assert client.get_card(tag, ulis) is None
