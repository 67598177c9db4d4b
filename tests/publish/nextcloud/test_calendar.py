"""The events' shared calendar (CalDAV) and iCalendar feed against two emulated Nextclouds, over HTTP (issue 19
part 3): one VEVENT per event with the record id as UID, written only when it changed, restored when changed in
Nextcloud, a stale If-Match never overwritten blind, shared read-only with the group; a feed every client reads."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from icalendar import Calendar

from oscartes_sync.clean import clean
from oscartes_sync.config import CalendarConfig
from oscartes_sync.publish.calendar import FEED_FILE, EventContext, build_event, build_events, feed_url, state_key
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds

from ncsample import CLOUDS, commune_fields

CAL = "oscartes-agenda"
PARIS = ZoneInfo("Europe/Paris")


def event(name, start, end=None, **extra):
    return {"name": name, "description": f"<p>{name} : <b>venez</b> nombreux.</p>", "start": start, "end": end,
            "place": "Salle des fêtes", **commune_fields("Orsay"), "themes": ["alimentation"], **extra}


@pytest.fixture
def events_cfg(cfg):
    cfg.sync.kinds = ["actor", "event"]
    return cfg


@pytest.fixture
def ids(store):
    return {"fete": store.create_record("event", event("Fête des AMAP", "2026-06-20T14:00:00", "2026-06-20T19:00:00"),
                                        author="t", origin="polesnoe"),
            "forum": store.create_record("event", event("Forum des associations", "2026-09-05", "2026-09-06"),
                                         author="t", origin="tel"),
            "atelier": store.create_record("event", event("Atelier vélo", "2026-12-01T18:00:00+01:00"),
                                           author="t", origin="tel")}


def publish(cfg, store, clock, **kw):
    clock.advance(5)
    return publish_nextclouds(cfg, store, clock=clock, **kw)


def stored(sandbox, name="polesnoe-cloud"):
    nc = sandbox.nextclouds[name]
    return nc.emulator.caldav.events(nc.user, CAL)


def calendar_requests(sandbox, name="polesnoe-cloud"):
    return [(m, p) for m, p in sandbox.nextclouds[name].emulator.request_log if "/calendars/" in p]


# ---- iCalendar as every client reads it (RFC 5545) -----------------------------------------------------------


def assert_rfc5545(text: str | bytes) -> Calendar:
    """Parsed back by the icalendar package; every property RFC 5545 requires is there; each TZID has its
    VTIMEZONE; lines are CRLF-ended and folded at 75 octets."""
    raw = text.encode() if isinstance(text, str) else text
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cal = Calendar.from_ical(raw)
    assert cal.name == "VCALENDAR" and cal.get("PRODID") and str(cal.get("VERSION")) == "2.0"
    zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    events = cal.walk("VEVENT")
    assert events
    for ev in events:
        for prop in ("UID", "DTSTAMP", "DTSTART"):
            assert ev.get(prop) is not None, prop
        assert ev["DTSTAMP"].to_ical().endswith(b"Z")  # DTSTAMP is in UTC (§3.8.7.2)
        for prop in ("DTSTART", "DTEND"):
            if ev.get(prop) is None:
                continue
            tzid = ev[prop].params.get("TZID")
            value = ev.decoded(prop)
            if tzid:
                assert tzid in zones, f"{prop} uses TZID {tzid} without a VTIMEZONE"
            elif isinstance(value, datetime):
                assert ev[prop].to_ical().endswith(b"Z"), f"{prop} is a floating time"
        if ev.get("DTEND") is not None:
            assert ev.decoded("DTEND") > ev.decoded("DTSTART")
    return cal


def test_each_event_is_one_valid_vevent_whose_uid_is_the_record_id(events_cfg, store, ids):
    events = build_events(events_cfg, store)
    assert set(events.objects) == set(ids.values()) and not events.refused
    for rid, text in events.objects.items():
        [ev] = assert_rfc5545(text).walk("VEVENT")
        assert str(ev["UID"]) == rid
    fete = Calendar.from_ical(events.objects[ids["fete"]]).walk("VEVENT")[0]
    assert fete.decoded("DTSTART") == datetime(2026, 6, 20, 14, 0, tzinfo=PARIS)  # typed without a zone: Paris
    assert fete["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(fete["SUMMARY"]) == "Fête des AMAP" and str(fete["LOCATION"]) == "Salle des fêtes, Orsay"
    assert "venez nombreux" in str(fete["DESCRIPTION"]) and "<b>" not in str(fete["DESCRIPTION"])
    forum = Calendar.from_ical(events.objects[ids["forum"]]).walk("VEVENT")[0]
    assert str(forum["DTSTART"].to_ical(), "ascii") == "20260905" and forum["DTSTART"].params["VALUE"] == "DATE"
    assert str(forum["DTEND"].to_ical(), "ascii") == "20260907"  # exclusive end of a two-day event
    atelier = Calendar.from_ical(events.objects[ids["atelier"]]).walk("VEVENT")[0]
    assert atelier.decoded("DTSTART") == datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # an offset: in UTC


def test_the_feed_holds_every_event_and_is_the_same_bytes_for_the_same_store(events_cfg, store, ids):
    feed = build_events(events_cfg, store).feed
    cal = assert_rfc5545(feed)
    assert sorted(str(e["UID"]) for e in cal.walk("VEVENT")) == sorted(ids.values())
    assert str(cal["X-WR-CALNAME"]).startswith("OSCARTES")
    assert build_events(events_cfg, store).feed == feed


def test_an_event_ending_before_it_starts_is_left_out_with_a_line_and_the_rest_is_published(events_cfg, store,
                                                                                              ids, sandbox, clock):
    bad = store.create_record("event", event("Réunion à l'envers", "2026-05-10T18:00:00", "2026-05-10T16:00:00"),
                              author="t", origin="tel")
    res = publish(events_cfg, store, clock)
    assert set(stored(sandbox)) == {f"{r}.ics" for r in ids.values()}
    msgs = [n.message for n in res.notices if n.record_id == bad and n.level == "attention"]
    assert 'event "Réunion à l\'envers" left out of the calendar: its end (2026-05-10T16:00:00) is before its ' \
           "start (2026-05-10T18:00:00)" in msgs
    assert res.needs_person
    feed = requests.get(feed_url(res.links["polesnoe-cloud"])).text
    assert bad not in feed and all(rid in feed for rid in ids.values())


def test_dates_with_an_impossible_offset_are_refused_when_read_and_an_unknown_zone_is_a_config_error():
    assert clean("date", "2026-12-01T18:00:00+25:00").problem.startswith("not an ISO date")
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Pariss'"):
        CalendarConfig(timezone="Europe/Pariss")


def test_an_all_day_event_without_an_end_lasts_its_day_and_one_without_a_start_is_refused():
    ctx = EventContext(PARIS)
    ev, why = build_event("r1", {"name": "Marché", "start": "2026-07-14"}, ctx)
    assert why is None and str(ev["DTEND"].to_ical(), "ascii") == "20260715"
    assert build_event("r2", {"name": "Sans date"}, ctx) == (None, "it has no start date")


# ---- the calendar of each Nextcloud ----------------------------------------------------------------------------


def test_events_are_written_once_then_a_quiet_run_costs_one_report_and_no_write(events_cfg, store, ids, sandbox,
                                                                               clock):
    res = publish(events_cfg, store, clock)
    for name in CLOUDS:
        assert set(stored(sandbox, name)) == {f"{r}.ics" for r in ids.values()}
        assert name not in res.instance_errors
    for name in CLOUDS:
        sandbox.nextclouds[name].emulator.reset_log()
    publish(events_cfg, store, clock)
    for name in CLOUDS:
        assert calendar_requests(sandbox, name) == [("REPORT", f"/remote.php/dav/calendars/oscartes/{CAL}/")]


def test_a_changed_event_is_one_put_with_if_match_and_a_deleted_one_is_deleted(events_cfg, store, ids, sandbox,
                                                                              clock):
    publish(events_cfg, store, clock)
    rec = store.record(ids["fete"])
    store.update_record(ids["fete"], {**rec.fields, "place": "Parc de l'Yvette"}, author="t", origin="tel")
    store.tombstone_record(ids["forum"], author="t", origin="tel")
    sandbox.nextclouds["polesnoe-cloud"].emulator.reset_log()
    publish(events_cfg, store, clock)
    reqs = calendar_requests(sandbox)
    assert ("PUT", f"/remote.php/dav/calendars/oscartes/{CAL}/{ids['fete']}.ics") in reqs
    assert ("DELETE", f"/remote.php/dav/calendars/oscartes/{CAL}/{ids['forum']}.ics") in reqs
    assert sum(1 for m, _ in reqs if m in ("PUT", "DELETE")) == 2
    assert "Parc de l'Yvette" in stored(sandbox)[f"{ids['fete']}.ics"]
    assert f"{ids['forum']}.ics" not in stored(sandbox)


def test_an_event_changed_in_nextcloud_is_restored(events_cfg, store, ids, sandbox, clock):
    publish(events_cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    url = f"{nc.url}remote.php/dav/calendars/{nc.user}/{CAL}/{ids['fete']}.ics"
    original = stored(sandbox)[f"{ids['fete']}.ics"]
    r = requests.put(url, data=original.replace("Fête des AMAP", "Fête annulée").encode(),
                     headers={"Content-Type": "text/calendar"}, auth=(nc.user, nc.password))
    assert r.status_code == 204
    res = publish(events_cfg, store, clock)
    assert stored(sandbox)[f"{ids['fete']}.ics"] == original
    assert any("was changed in Nextcloud: restored" in n.message for n in res.notices)


def test_a_stale_if_match_is_never_overwritten_blind_and_the_next_run_converges(events_cfg, store, ids, sandbox,
                                                                                clock, monkeypatch):
    publish(events_cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    url = f"{nc.url}remote.php/dav/calendars/{nc.user}/{CAL}/{ids['fete']}.ics"
    rec = store.record(ids["fete"])
    store.update_record(ids["fete"], {**rec.fields, "name": "Fête des AMAP 2026"}, author="t", origin="tel")
    from oscartes_sync.targets.nextcloud import NextcloudClient

    real = NextcloudClient.put_event

    def someone_writes_first(self, calendar, uid, text, *, etag=None):
        if uid == ids["fete"] and self.name == "polesnoe-cloud":
            requests.put(url, data=text.replace("2026", "(changé)").encode(), auth=(nc.user, nc.password),
                         headers={"Content-Type": "text/calendar"})
        return real(self, calendar, uid, text, etag=etag)

    monkeypatch.setattr(NextcloudClient, "put_event", someone_writes_first)
    res = publish(events_cfg, store, clock)
    assert any("(HTTP 412)" in n.message for n in res.notices if n.instance == "polesnoe-cloud")
    assert "(changé)" in stored(sandbox)[f"{ids['fete']}.ics"]  # the other write was not overwritten blind
    monkeypatch.setattr(NextcloudClient, "put_event", real)
    publish(events_cfg, store, clock)
    assert "SUMMARY:Fête des AMAP 2026" in stored(sandbox)[f"{ids['fete']}.ics"]


def test_the_calendar_is_shared_read_only_with_the_group_once(events_cfg, store, ids, sandbox, clock):
    publish(events_cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    assert nc.emulator.caldav.delivered_to(nc.user, CAL) == [nc.group]
    member = (nc.member, nc.member_password)
    home = requests.request("PROPFIND", f"{nc.url}remote.php/dav/calendars/{nc.member}/", auth=member,
                            headers={"Depth": "1"})
    assert f"{CAL}_shared_by_{nc.user}" in home.text
    url = f"{nc.url}remote.php/dav/calendars/{nc.member}/{CAL}_shared_by_{nc.user}/{ids['fete']}.ics"
    got = requests.get(url, auth=member)
    assert got.status_code == 200 and f"UID:{ids['fete']}" in got.text
    assert requests.put(url, data=got.content, auth=member).status_code == 404
    assert requests.delete(url, auth=member).status_code == 404
    nc.emulator.reset_log()
    publish(events_cfg, store, clock)
    assert not [p for m, p in nc.emulator.request_log if m == "POST" and "/calendars/" in p]  # shared once


def test_the_feed_is_an_export_file_anyone_can_subscribe_to(events_cfg, store, ids, sandbox, clock):
    res = publish(events_cfg, store, clock)
    link = res.links["polesnoe-cloud"]
    got = requests.get(feed_url(link))
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/calendar")
    cal = assert_rfc5545(got.content)
    assert len(cal.walk("VEVENT")) == 3
    assert any(n.message == f"events' calendar feed (iCalendar) at {feed_url(link)}" for n in res.notices)


def test_a_dry_run_writes_no_event(events_cfg, store, ids, sandbox, clock):
    res = publish(events_cfg, store, clock, dry_run=True)
    assert not stored(sandbox)
    assert any(n.message == "dry run: would write 3 calendar events" for n in res.notices)
    assert store.get_state(state_key("polesnoe-cloud")) is None



def test_events_of_deleted_records_go_however_many_at_once(events_cfg, store, ids, sandbox, clock):
    """DECISIONS §24: a tombstone is a deletion already accepted (within the limits or by a person), so its
    event leaves the calendar even when many go in one run."""
    more = [store.create_record("event", event(f"Réunion {i}", f"2026-10-0{i + 1}"), author="t", origin="tel")
            for i in range(3)]
    publish(events_cfg, store, clock)
    assert len(stored(sandbox)) == 6
    for rid in [ids["fete"], ids["forum"], *more]:  # 5 of 6 > max(0.2 × 6, 3)
        store.tombstone_record(rid, author="t", origin="tel")
    res = publish(events_cfg, store, clock)
    assert not [n for n in res.notices if n.level == "attention"], res.notices
    assert list(stored(sandbox)) == [f"{ids['atelier']}.ics"]
    assert sorted(res.events_deleted["polesnoe-cloud"]) == sorted([ids["fete"], ids["forum"], *more])


def test_events_whose_records_the_store_does_not_hold_wait_and_the_advice_works(events_cfg, store, ids, sandbox,
                                                                                clock, tmp_path):
    """The same calendar seen from a store that holds none of its records (not even as tombstones): above the
    limit, nothing is deleted; the message names `sync --allow-deletes N`, and accepting that many works."""
    from oscartes_sync.store import Store
    from oscartes_sync.sync.model import SyncPolicy

    for i in range(3):
        store.create_record("event", event(f"Réunion {i}", f"2026-10-0{i + 1}"), author="t", origin="tel")
    publish(events_cfg, store, clock)
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        for n in events_cfg.nextcloud:
            for key in (state_key(n.name), f"nextcloud:{n.name}:addressbook"):
                other.set_state(key, store.get_state(key))
        other.create_record("event", event("Autre", "2026-11-02"), author="t", origin="tel")
        refused = publish(events_cfg, other, clock)
        [message] = [n.message for n in refused.notices if n.instance == "polesnoe-cloud"
                     and "event deletions refused" in n.message]
        assert "accept them once with `oscartes-sync sync --allow-deletes 6`" in message, message
        assert len(stored(sandbox)) == 7
        accepted = publish(events_cfg, other, clock, policy=SyncPolicy.of(events_cfg.sync, allow_deletes=6))
        assert not [n for n in accepted.notices if "refused" in n.message]
        assert len(stored(sandbox)) == 1
    finally:
        other.close()
