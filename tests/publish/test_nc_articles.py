"""Knowledge-base articles that members edit in a Nextcloud folder: new, changed and removed files found
incrementally (one PROPFIND, downloads only what changed, the same-second rule), published to both wikis."""

from __future__ import annotations

import pytest
import requests

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.publish.nc_articles import read_articles
from oscartes_sync.clients import nextcloud_client as make_client
from oscartes_sync.sandbox.nextcloud_emulator import ManualClock
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

CLOUD = "polesnoe-cloud"
ARTICLE = "---\ntitle: Le compost partagé\nthemes: alimentation\n---\nUn **composteur** de quartier.\n"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def env(clock, tmp_path):
    with start_sandbox(nextclouds=(CLOUD,), nextcloud_clock=clock) as sb:
        cfg = sb.config(store_url=f"sqlite:///{tmp_path / 's.db'}", lock=str(tmp_path / "lock"))
        cfg.publish.dashboards = False
        store = Store(cfg.store_url())
        yield sb, cfg, store, cfg.nextcloud[0]
        store.close()


def put(sb, nc, name, text):
    cloud = sb.nextclouds[CLOUD]
    base = f"{cloud.url}remote.php/dav/files/{cloud.user}/{nc.articles_folder}"
    r = requests.put(f"{base}/{name}", data=text.encode() if isinstance(text, str) else text,
                     auth=(cloud.user, cloud.app_password))
    assert r.status_code in (201, 204), r.status_code


def delete(sb, nc, name):
    cloud = sb.nextclouds[CLOUD]
    r = requests.delete(f"{cloud.url}remote.php/dav/files/{cloud.user}/{nc.articles_folder}/{name}",
                        auth=(cloud.user, cloud.app_password))
    assert r.status_code == 204


def read(nc, store, clock):
    client = make_client(nc)
    try:
        got = read_articles(client, nc, store, clock=clock)
        return got, dict(client.stats.counts)
    finally:
        client.close()


def test_new_changed_unchanged_and_removed_files_are_found_with_one_listing(env, clock):
    sb, cfg, store, nc = env
    first, _ = read(nc, store, clock)  # creates the folder and shares it with the group
    assert first.files == {} and first.error is None
    assert sb.nextclouds[CLOUD].emulator.listdir(sb.nextclouds[CLOUD].user, nc.articles_folder) == []
    put(sb, nc, "compost.md", ARTICLE)
    clock.advance(5)
    got, counts = read(nc, store, clock)
    assert got.files == {"compost.md": ARTICLE} and got.downloads == 1
    clock.advance(5)
    quiet, counts = read(nc, store, clock)
    assert quiet.files == {"compost.md": ARTICLE} and quiet.downloads == 0
    assert counts == {"PROPFIND files": 1}
    put(sb, nc, "compost.md", ARTICLE.replace("quartier", "village"))
    clock.advance(5)
    changed, _ = read(nc, store, clock)
    assert "village" in changed.files["compost.md"] and changed.downloads == 1
    delete(sb, nc, "compost.md")
    clock.advance(5)
    gone, _ = read(nc, store, clock)
    assert gone.files == {}


def test_a_file_changed_in_the_same_second_as_our_look_is_read_again(env, clock):
    sb, cfg, store, nc = env
    read(nc, store, clock)
    put(sb, nc, "compost.md", ARTICLE)
    read(nc, store, clock)  # same second as the upload: the next look must download it again
    # same second, same size: the ETag stays the same (contract), only the 2-second rule sees the change
    put(sb, nc, "compost.md", ARTICLE.replace("quartier", "faubourg"))
    clock.advance(5)
    again, _ = read(nc, store, clock)
    assert "faubourg" in again.files["compost.md"] and again.downloads == 1


def test_a_failed_listing_keeps_the_known_articles(env, clock):
    sb, cfg, store, nc = env
    read(nc, store, clock)
    put(sb, nc, "compost.md", ARTICLE)
    clock.advance(5)
    read(nc, store, clock)
    sb.nextclouds[CLOUD].emulator.inject("PROPFIND", r"Base-de-connaissances", "500", times=3)
    failed, _ = read(nc, store, clock)
    assert failed.error and failed.files == {"compost.md": ARTICLE}


def test_articles_from_nextcloud_reach_both_wikis_and_leave_when_removed(env, clock):
    sb, cfg, store, nc = env
    sync_once(cfg, store, build_instances(cfg))
    put(sb, nc, "compost.md", ARTICLE)
    put(sb, nc, "piege.md", "# Piège\n\nTexte.\n\n<iframe src='x'></iframe>\n")
    put(sb, nc, "latin1.md", "# Café\n\nÉté.\n".encode("latin-1"))
    clock.advance(5)
    result = sync_once(cfg, store, build_instances(cfg))
    for w in sb.wikis.values():
        page = w.emulator.page("ArticleCompost")
        assert page is not None and "**composteur**" in page["body"]
        assert w.emulator.page("ArticlePiege") is None and w.emulator.page("ArticleLatin1") is None
    messages = [n["message"] for n in result.report["notices"]]
    assert any("piege.md:5" in m for m in messages) and any("latin1.md" in m and "UTF-8" in m for m in messages)
    assert result.exit_code == 1
    delete(sb, nc, "compost.md")
    clock.advance(5)
    sync_once(cfg, store, build_instances(cfg))
    for w in sb.wikis.values():
        assert w.emulator.page("ArticleCompost") is None
