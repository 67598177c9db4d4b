"""Knowledge-base articles read from a real Nextcloud folder (skipped unless OSCARTES_LIVE_NEXTCLOUD_URL, _USER and
_APP_PASSWORD are set). Works in a throw-away folder "oscartes-test-<random>", removed afterwards; never sends a
wrong password."""

from __future__ import annotations

import os
import secrets
import time

import pytest

from oscartes_sync.config import NextcloudConfig, StoreConfig
from oscartes_sync.publish.nc_articles import read_articles
from oscartes_sync.store import Store
from oscartes_sync.targets.nextcloud import NextcloudClient

pytestmark = pytest.mark.live
LIVE_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD")
ARTICLE = "---\ntitle: Le compost partagé\n---\nUn **composteur** de quartier.\n"


def test_articles_folder_on_a_real_nextcloud(tmp_path):
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live Nextcloud not configured ({', '.join(missing)} unset)")
    tag = f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"
    client = NextcloudClient("live", os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                             user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                             app_password=os.environ["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    nc = NextcloudConfig(name="live", url=os.environ["OSCARTES_LIVE_NEXTCLOUD_URL"],
                         user=os.environ["OSCARTES_LIVE_NEXTCLOUD_USER"],
                         app_password_env="OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD", group="admin",
                         articles_folder=f"{tag}/Base-de-connaissances")
    store = Store(StoreConfig(url=f"sqlite:///{tmp_path / 's.db'}").url)
    try:
        first = read_articles(client, nc, store)  # makes the folder
        assert first.files == {} and first.error is None
        client.put(f"{nc.articles_folder}/compost.md", ARTICLE.encode())
        time.sleep(2.5)  # past the same-second window of DECISIONS §14
        got = read_articles(client, nc, store)
        assert got.files == {"compost.md": ARTICLE} and got.downloads == 1
        time.sleep(2.5)
        client.stats.counts.clear()
        quiet = read_articles(client, nc, store)
        assert quiet.downloads == 0 and dict(client.stats.counts) == {"PROPFIND files": 1}
        client.put(f"{nc.articles_folder}/compost.md", ARTICLE.replace("quartier", "faubourg").encode())
        changed = read_articles(client, nc, store)
        assert "faubourg" in changed.files["compost.md"]
        client.delete(f"{nc.articles_folder}/compost.md")
        time.sleep(1)
        assert read_articles(client, nc, store).files == {}
    finally:
        store.close()
        client.delete(tag)
        assert client.propfind(tag, 0) == []
        client.close()
