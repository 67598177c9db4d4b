"""The events' calendar and feed on a real Nextcloud 34 (OSCARTES_LIVE_NEXTCLOUD_URL, _USER, _APP_PASSWORD and
the admin's login _PASSWORD, which provisioning needs; skipped when unset). A throw-away group (a space and an
accent in its name, to exercise the principal's encoding) and a member are created through the OCS provisioning
API and removed afterwards, with the calendar, the address book and the folders, even when a test fails."""

from __future__ import annotations

import os
import secrets
import time
from urllib.parse import quote

import pytest
import requests
from icalendar import Calendar

from oscartes_sync.config import Config, NextcloudConfig, StoreConfig, SyncConfig
from oscartes_sync.publish.calendar import feed_url
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds
from oscartes_sync.store import Store
from oscartes_sync.targets.nextcloud import NextcloudClient

pytestmark = pytest.mark.live
LIVE_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD",
             "OSCARTES_LIVE_NEXTCLOUD_PASSWORD")
OCS = {"OCS-APIRequest": "true", "Accept": "application/json"}


def _provision(method: str, route: str, **data: str) -> requests.Response:
    """An OCS provisioning write with the admin's login password and no cookie (contract §1, §8)."""
    env = os.environ
    return requests.request(method, f"{env['OSCARTES_LIVE_NEXTCLOUD_URL'].rstrip('/')}/ocs/v2.php/cloud/{route}",
                            auth=(env["OSCARTES_LIVE_NEXTCLOUD_USER"], env["OSCARTES_LIVE_NEXTCLOUD_PASSWORD"]),
                            headers=OCS, data=data, timeout=30)


@pytest.fixture
def live(tmp_path):
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live Nextcloud not configured ({', '.join(missing)} unset)")
    env = os.environ
    tag = f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"
    group, member, member_pw = f"OSCARTES Réseau {tag[-6:]}", f"membre{tag[-6:]}", "Pw-" + secrets.token_hex(12)
    client = NextcloudClient("live", env["OSCARTES_LIVE_NEXTCLOUD_URL"], user=env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                             app_password=env["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    nc = NextcloudConfig(name="live", url=env["OSCARTES_LIVE_NEXTCLOUD_URL"], user=env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                         app_password_env="OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD", group=group, addressbook=tag,
                         calendar=tag, exports_folder=f"{tag}/Donnees-ouvertes",
                         articles_folder=f"{tag}/Base-de-connaissances")
    cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}"),
                 sync=SyncConfig(kinds=["event"], lock_file=str(tmp_path / "lock")), nextcloud=[nc])
    try:
        assert _provision("POST", "groups", groupid=group).status_code == 200
        assert _provision("POST", "users", userid=member, password=member_pw, **{"groups[]": group}).status_code == 200
        yield client, cfg, nc, (member, member_pw)
    finally:
        requests.delete(client.calendar_url(tag), auth=(client.user, env["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"]),
                        timeout=30)
        client.delete_addressbook(tag)
        client.delete(tag)
        _provision("DELETE", f"users/{member}")
        _provision("DELETE", f"groups/{quote(group, safe='')}")
        assert client.propfind(tag, 0) == []
        client.close()


def test_events_reach_the_real_calendar_a_member_reads_them_and_cannot_change_them(live):
    client, cfg, nc, (member, member_pw) = live
    with Store(cfg.store_url()) as store:
        fete = store.create_record("event", {"name": "Fête des AMAP (test)", "start": "2027-06-19T14:00:00",
                                             "end": "2027-06-19T19:00:00", "place": "Parc de la Mairie",
                                             "commune": "Palaiseau"}, author="test", origin="live")
        backwards = store.create_record("event", {"name": "À l'envers (test)", "start": "2027-02-10T20:00:00",
                                                  "end": "2027-02-10T18:00:00"}, author="test", origin="live")
        first = publish_nextclouds(cfg, store)
        assert first.instance_errors == {}, first.instance_errors
        assert any(n.record_id == backwards and "is before its start" in n.message for n in first.notices)
        text, _ = client.get_event(nc.calendar, fete)
        [event] = Calendar.from_ical(text).walk("VEVENT")
        assert str(event["UID"]) == fete and event["DTSTART"].params["TZID"] == "Europe/Paris"
        assert client.get_event(nc.calendar, backwards) is None

        # a member of the group sees the calendar, reads the event, and can neither change nor delete it
        base = client.base + f"remote.php/dav/calendars/{member}/"
        home = requests.request("PROPFIND", base, auth=(member, member_pw), headers={"Depth": "1"}, timeout=30)
        shared = f"{nc.calendar}_shared_by_{client.user}"
        assert shared in home.text
        url = f"{base}{shared}/{fete}.ics"
        got = requests.get(url, auth=(member, member_pw), timeout=30)
        assert got.status_code == 200 and f"UID:{fete}" in got.text
        changed = got.text.replace("Fête des AMAP", "Fête annulée")
        assert requests.put(url, data=changed.encode(), auth=(member, member_pw), timeout=30,
                            headers={"Content-Type": "text/calendar"}).status_code in (403, 404)
        assert requests.delete(url, auth=(member, member_pw), timeout=30).status_code in (403, 404)
        assert client.get_event(nc.calendar, fete)[0] == text

        # anyone subscribes to the feed; a quiet run writes nothing to the calendar
        feed = requests.get(feed_url(first.links["live"]), timeout=30)
        assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/calendar")
        assert [str(e["UID"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")] == [fete]
        time.sleep(2.5)  # past the same-second window of the export files just written (DECISIONS §14)
        publish_nextclouds(cfg, store)
        quiet = publish_nextclouds(cfg, store)
        assert {k: v for k, v in quiet.requests["live"].items() if "calendar" in k} == {"REPORT calendar": 1}
        assert quiet.writes["live"] == 0
