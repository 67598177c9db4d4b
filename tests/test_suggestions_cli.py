"""`oscartes-sync suggestions`: values edited in a Nextcloud card, listed, accepted into the record (author
"coordinator", origin the Nextcloud instance) or rejected."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from oscartes_sync.cli import cli
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds
from oscartes_sync.sandbox.nextcloud_emulator import ManualClock
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

CLOUD = "polesnoe-cloud"


@pytest.fixture
def setup(tmp_path):
    clock = ManualClock()
    with start_sandbox(names=(), nextclouds=(CLOUD,), nextcloud_clock=clock) as sb:
        db = tmp_path / "store.db"
        cfg = sb.config(store_url=f"sqlite:///{db}", lock=str(tmp_path / "lock"))
        config = tmp_path / "oscartes.toml"
        config.write_text(f'[store]\nurl = "sqlite:///{db}"\n[sync]\nlock_file = "{tmp_path / "lock"}"\n',
                          encoding="utf-8")
        store = Store(cfg.store_url())
        rid = store.create_record("actor", {"name": "Atelier Roue Libre", "email": "velo@rouelibre.fr",
                                            "phone": "+33169000002", "contact_visibility": "public",
                                            "website": "https://rouelibre.example.org"},
                                  author="member", origin="tel")
        publish_nextclouds(cfg, store, clock=clock)
        nc = sb.nextclouds[CLOUD]
        card = nc.emulator.cards(nc.user, "oscartes")[f"{rid}.vcf"]
        edited = card.replace("velo@rouelibre.fr", "atelier@rouelibre.fr").replace("01 69 00 00 02", "01 69 00 00 03")
        s = requests.Session()
        s.auth = (nc.user, nc.password)
        r = s.put(f"{nc.url}remote.php/dav/addressbooks/users/{nc.user}/oscartes/{rid}.vcf", data=edited.encode())
        assert r.status_code == 204
        clock.advance(5)
        publish_nextclouds(cfg, store, clock=clock)
        yield store, str(config), rid
        store.close()


def run(config, *args):
    return CliRunner().invoke(cli, ["--config", config, "suggestions", *args])


def test_list_accept_and_reject(setup):
    store, config, rid = setup
    open_ = {s.field: s for s in store.suggestions("open")}
    assert set(open_) == {"email", "phone"}
    listed = run(config)
    assert listed.exit_code == 1  # something waits for a person
    assert "Atelier Roue Libre" in listed.output and "atelier@rouelibre.fr" in listed.output
    assert f"#{open_['email'].id}" in listed.output and CLOUD in listed.output

    accepted = run(config, "accept", str(open_["phone"].id))
    assert accepted.exit_code == 0, accepted.output
    assert "+33169000003" in accepted.output  # cleaned as a member's value would be
    rec = store.record(rid)
    assert rec.fields["phone"] == "+33169000003" and rec.fields["email"] == "velo@rouelibre.fr"
    last = store.history(rid)[-1]
    assert (last.author, last.origin) == ("coordinator", CLOUD)

    rejected = run(config, "reject", str(open_["email"].id))
    assert rejected.exit_code == 0
    assert store.record(rid).fields["email"] == "velo@rouelibre.fr"
    assert {s.status for s in store.suggestions(None)} == {"accepted", "rejected"}

    empty = run(config)
    assert empty.exit_code == 0 and "No open suggestion." in empty.output


def test_closed_or_unknown_suggestion_is_a_usage_error(setup):
    store, config, rid = setup
    sid = store.suggestions("open")[0].id
    assert run(config, "reject", str(sid)).exit_code == 0
    again = run(config, "accept", str(sid))
    assert again.exit_code == 2 and f"no open suggestion #{sid}" in again.output
    assert run(config, "reject", "999").exit_code == 2


def test_an_invalid_suggested_value_is_refused_with_the_reason(setup):
    store, config, rid = setup
    sid, _ = store.add_suggestion(rid, CLOUD, "website", "javascript:alert(1)")
    refused = run(config, "accept", str(sid))
    assert refused.exit_code == 2 and "refused" in refused.output
    assert store.record(rid).fields["website"] == "https://rouelibre.example.org"
