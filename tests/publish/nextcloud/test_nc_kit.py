"""The replication kit's archive in each Nextcloud (issue 17, item 4): written with a public link, not touched
by a quiet run (not even built, no request at all), rewritten once when the set-up changes."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from ncsample import CLOUDS
from oscartes_sync import territory
from oscartes_sync.publish import kit as kit_module
from oscartes_sync.publish.kit import build_kit, kit_name, zip_for
from oscartes_sync.publish.nc_kit import KIT_FILE, state_key
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds

FOLDER = "OSCARTES/Kit-de-replication"


def publish(cfg, store, clock, **kw):
    clock.advance(5)
    return publish_nextclouds(cfg, store, clock=clock, **kw)


def kit_puts(nc) -> int:
    return sum(1 for verb, path in nc.emulator.request_log if verb == "PUT" and KIT_FILE in path)


def test_the_kit_archive_is_published_once_with_a_public_link(sandbox, cfg, store, clock, monkeypatch):
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    want = zip_for(cfg)
    for name in CLOUDS:
        nc = sandbox.nextclouds[name]
        assert nc.emulator.file(nc.user, f"{FOLDER}/{KIT_FILE}") == want
        link = res.kit_links[name]
        assert requests.get(link.replace("/index.php/s/", "/s/") + "/download",
                            allow_redirects=False).status_code == 303
    with zipfile.ZipFile(io.BytesIO(want)) as z:
        manifest = json.loads(z.read(f"{kit_name()}/KIT.json"))
    assert manifest["territory"] == "Essonne"
    first_links = dict(res.kit_links)
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    monkeypatch.setattr(kit_module, "build_kit", lambda *a, **k: pytest.fail("a quiet run built the archive"))
    res = publish(cfg, store, clock)
    for nc in sandbox.nextclouds.values():
        assert kit_puts(nc) == 0 and not [p for _, p in nc.emulator.request_log if "Kit-de-replication" in p]
    assert res.kit_links == first_links


def test_a_changed_set_up_rewrites_the_archive_once_under_the_same_link(sandbox, cfg, store, clock, tmp_path):
    first = publish(cfg, store, clock).kit_links
    (tmp_path / "territory.json").write_text(territory.from_department("69").to_json(), encoding="utf-8")
    cfg.base_dir = str(tmp_path)
    cfg.territory.params = "territory.json"
    cfg._territory = None
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    assert res.kit_links == first
    want = build_kit(cfg.local_territory(), cfg=cfg).zip_bytes()
    for name in CLOUDS:
        nc = sandbox.nextclouds[name]
        assert kit_puts(nc) == 1 and nc.emulator.file(nc.user, f"{FOLDER}/{KIT_FILE}") == want
    publish(cfg, store, clock)
    assert all(kit_puts(nc) == 1 for nc in sandbox.nextclouds.values())  # unchanged: not written again


def test_a_dry_run_writes_nothing(sandbox, cfg, store, clock):
    res = publish(cfg, store, clock, dry_run=True)
    assert any("would write the kit archive" in n.message for n in res.notices)
    for nc in sandbox.nextclouds.values():
        assert kit_puts(nc) == 0
    assert store.get_state(state_key("polesnoe-cloud")) is None
