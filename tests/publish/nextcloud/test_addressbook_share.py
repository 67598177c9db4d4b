"""The address book's share with the network's group (issue 12 item 1, issue 20), against the emulated Nextclouds
whose groups are named as coordinators name them ("OSCARTES PôleS NOE": spaces and accents).

What the emulator does here is backed by the exchanges recorded on a real Nextcloud 34
(tests/contract/recorded/nextcloud/): a group named raw is listed in `oc:invite` and reaches no member; the
encoded name reaches them, read-only; a missing group is dropped with a 200; the 21st share request of an hour
answers 429 "Too many addressbook or calendar share requests", while the brute-force lock-out's 429 has no message.
"""

from __future__ import annotations

from datetime import timedelta

import requests
from test_addressbook import BOOK, actor, cards, ids, publish  # noqa: F401 - `ids` is a fixture

from oscartes_sync.app import sync_once
from oscartes_sync.publish.addressbook import state_key
from oscartes_sync.report import render
from oscartes_sync.store import Store
from oscartes_sync.targets.base import TerminalError
from oscartes_sync.targets.nextcloud import DavInvite, NextcloudClient, group_principal

SHARE_XML = ('<?xml version="1.0" encoding="utf-8"?>\n<oc:share xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
             "<oc:{action}><d:href>{href}</d:href></oc:{action}></oc:share>")
LIMITED = "Nextcloud limits share requests"


def service(nc) -> requests.Session:
    s = requests.Session()
    s.auth = (nc.user, nc.app_password)
    return s


def member(nc) -> requests.Session:
    s = requests.Session()
    s.auth = (nc.member, nc.member_password)
    return s


def book_url(nc, user=None, name=BOOK) -> str:
    return f"{nc.url}remote.php/dav/addressbooks/users/{user or nc.user}/{name}/"


def member_book(nc) -> str:
    return book_url(nc, nc.member, f"{BOOK}_shared_by_{nc.user}")


def invites(nc) -> list[DavInvite]:
    client = NextcloudClient("check", nc.url, user=nc.user, app_password=nc.app_password)
    try:
        return client.invites(client.book_url(BOOK))
    finally:
        client.close()


def share_requests(nc, n: int) -> None:
    """`n` share requests of the service account on its own "contacts" book (set, remove, set...): another
    client of the same account that shared and unshared within the hour."""
    s = service(nc)
    for i in range(n):
        body = SHARE_XML.format(action="set" if i % 2 == 0 else "remove", href=group_principal(nc.group))
        r = s.post(book_url(nc, name="contacts"), data=body.encode(), headers={"Content-Type": "application/xml"})
        assert r.status_code == 200, r.text


def posts(nc) -> int:
    return nc.emulator.count("POST", f"/{BOOK}/")


def test_a_member_of_a_group_named_with_spaces_and_accents_reads_the_book_and_cannot_write(sandbox, cfg, store,
                                                                                          clock, ids):
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    for nc in sandbox.nextclouds.values():
        assert " " in nc.group and not nc.group.isascii()
        assert invites(nc) == [DavInvite(group_principal(nc.group), nc.group, True)]
        m = member(nc)
        assert m.request("PROPFIND", member_book(nc), headers={"Depth": "0"}).status_code == 207
        card_url = member_book(nc) + f"{ids['velo']}.vcf"
        got = m.get(card_url)
        assert got.status_code == 200 and "Atelier Roue Libre" in got.text
        changed = got.text.replace("Atelier Roue Libre", "Atelier piraté")
        assert m.put(card_url, data=changed.encode(), headers={"Content-Type": "text/vcard"}).status_code == 404
        new = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:m-1\r\nFN:Ajout\r\nEND:VCARD\r\n"
        assert m.put(member_book(nc) + "m-1.vcf", data=new, headers={"Content-Type": "text/vcard"}).status_code == 404
        assert m.delete(card_url).status_code == 404
    assert "Atelier piraté" not in "".join(cards(sandbox).values()) and len(cards(sandbox)) == 3
    shared = [n.message for n in res.notices if "shared read-only with group" in n.message]
    assert shared == ["address book 'oscartes' shared read-only with group 'OSCARTES PôleS NOE'",
                      "address book 'oscartes' shared read-only with group 'OSCARTES Territoires en Liens – adhérents'"]


def assert_share_read_not_repeated(sandbox, cfg, store, clock, names):
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    for name in names:
        assert posts(sandbox.nextclouds[name]) == 0                # the share the server holds is not repeated
        assert res.requests[name]["PROPFIND addressbook"] == 1     # its oc:invite, read first
    assert not [n for n in res.notices if "shared read-only" in n.message]
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    again = publish(cfg, store, clock)                             # remembered again: nothing more to read
    for name in sandbox.nextclouds:
        assert "PROPFIND addressbook" not in again.requests[name] and posts(sandbox.nextclouds[name]) == 0


def test_a_store_that_lost_its_memory_of_the_share_sends_no_share_request(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    key = state_key("polesnoe-cloud")
    store.set_state(key, {k: v for k, v in store.get_state(key).items() if k != "share"})
    assert_share_read_not_repeated(sandbox, cfg, store, clock, ["polesnoe-cloud"])


def test_a_new_store_sends_no_share_request_when_the_books_are_shared(sandbox, cfg, store, clock, ids, tmp_path):
    publish(cfg, store, clock)
    rebuilt = Store(f"sqlite:///{tmp_path / 'rebuilt.db'}")  # a store rebuilt from the wikis: same records
    try:
        for rid in ids.values():
            rebuilt.create_record("actor", store.record(rid).fields, author="t", origin="tel", record_id=rid)
        assert_share_read_not_repeated(sandbox, cfg, rebuilt, clock, list(sandbox.nextclouds))
    finally:
        rebuilt.close()


def test_a_share_that_named_the_group_raw_is_replaced_in_one_request(sandbox, cfg, store, clock, ids):
    """A book shared by an earlier version (the group named raw, remembered as done in the old state key)."""
    publish(cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    raw = "principal:principals/groups/" + nc.group
    r = service(nc).post(book_url(nc), headers={"Content-Type": "application/xml"}, data=(
        SHARE_XML.format(action="remove", href=group_principal(nc.group))
        .replace("</oc:share>", f"<oc:set><d:href>{raw}</d:href></oc:set></oc:share>")).encode())
    assert r.status_code == 200 and [i.href for i in invites(nc)] == [raw]
    assert member(nc).request("PROPFIND", member_book(nc), headers={"Depth": "0"}).status_code == 404
    key = state_key("polesnoe-cloud")
    old = {k: v for k, v in store.get_state(key).items() if k != "share"}
    store.set_state(key, {**old, "shared_with": nc.group})
    nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    assert res.instance_errors == {} and posts(nc) == 1
    assert invites(nc) == [DavInvite(group_principal(nc.group), nc.group, True)]
    assert member(nc).request("PROPFIND", member_book(nc), headers={"Depth": "0"}).status_code == 207
    assert [n.message for n in res.notices if "shared read-only" in n.message] == [
        "address book 'oscartes' shared read-only with group 'OSCARTES PôleS NOE' (it named the group in a form "
        "that reaches no member: replaced)"]
    assert "shared_with" not in store.get_state(key)


def test_the_21st_share_request_of_the_hour_is_a_rate_limit_and_cards_and_exports_are_written(sandbox, cfg, store,
                                                                                            clock, ids):
    nc = sandbox.nextclouds["polesnoe-cloud"]
    share_requests(nc, 20)                                    # other share requests of that account this hour
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}                          # not a lock-out, not an instance in error
    limited = [n for n in res.notices if LIMITED in n.message]
    assert [(n.instance, n.level) for n in limited] == [("polesnoe-cloud", "info")]
    assert limited[0].message == ("address book 'oscartes' is not shared with group 'OSCARTES PôleS NOE' yet: "
                                  "Nextcloud limits share requests (HTTP 429, 20 per account per hour by default); "
                                  "the share will be retried on the next run")
    assert not res.needs_person
    assert len(cards(sandbox)) == 3                           # the cards and the exports of that run are written
    folder = cfg.nextcloud[0].exports_folder
    assert {"acteurs.csv", "acteurs.geojson"} <= set(nc.emulator.listdir(nc.user, folder))
    assert "polesnoe-cloud" in res.links
    assert member(nc).request("PROPFIND", member_book(nc), headers={"Depth": "0"}).status_code == 404
    assert invites(sandbox.nextclouds["tel-cloud"])           # the other Nextcloud is shared as usual

    nc.emulator.reset_log()
    res = publish(cfg, store, clock)                          # still within the hour: tried once more, noted again
    assert posts(nc) == 1 and [n.level for n in res.notices if LIMITED in n.message] == ["info"]
    clock.advance(3600)                                       # the hour has passed
    res = publish(cfg, store, clock)
    assert res.instance_errors == {} and not [n for n in res.notices if LIMITED in n.message]
    assert member(nc).request("PROPFIND", member_book(nc), headers={"Depth": "0"}).status_code == 207
    assert "limited_since" not in store.get_state(state_key("polesnoe-cloud"))["share"]
    nc.emulator.reset_log()
    publish(cfg, store, clock)
    assert posts(nc) == 0


def test_the_rate_limit_is_a_note_in_the_run_report_and_exit_code_0(sandbox, cfg, store, clock, ids):
    share_requests(sandbox.nextclouds["polesnoe-cloud"], 20)
    run = sync_once(cfg, store, {})
    text = render(run.result, run.stats, run.titles, width=1000)  # one line per note, to read it whole
    assert run.exit_code == 0
    assert "error" not in text and "brute-force" not in text
    notes = text.split("Notes:", 1)[1]
    assert f"polesnoe-cloud: address book 'oscartes' is not shared with group 'OSCARTES PôleS NOE' yet: {LIMITED}" \
        in notes
    assert text.rstrip().endswith("Nothing needs a person.")


def test_a_rate_limit_that_persists_for_hours_needs_a_person(sandbox, cfg, store, clock, ids):
    nc = sandbox.nextclouds["polesnoe-cloud"]
    nc.emulator.share_limit = (0, 3600)   # something else keeps the account's quota used up
    first = publish(cfg, store, clock)
    assert [n.level for n in first.notices if "not shared with group" in n.message] == ["info"]
    clock.advance(timedelta(hours=5, minutes=59).total_seconds())
    assert [n.level for n in publish(cfg, store, clock).notices if "not shared" in n.message] == ["info"]
    clock.advance(60)
    res = publish(cfg, store, clock)
    (late,) = [n for n in res.notices if "not shared" in n.message]
    assert late.level == "attention" and res.needs_person and res.instance_errors == {}
    assert "has refused the share with its share rate limit since" in late.message
    assert "account 'oscartes'" in late.message and "rateLimitShareAddressbookOrCalendar" in late.message
    assert len(cards(sandbox)) == 3


def test_a_brute_force_lockout_is_still_reported_as_one(sandbox, cfg, store, clock, ids):
    nc = sandbox.nextclouds["polesnoe-cloud"]
    for _ in range(10):   # failed logins from this host (another client with a wrong password)
        requests.request("PROPFIND", f"{nc.url}remote.php/dav/files/{nc.user}/", auth=(nc.user, "wrong"))
    res = publish(cfg, store, clock)
    msg = res.instance_errors["polesnoe-cloud"]
    assert "HTTP 429, brute-force protection" in msg and "occ security:bruteforce:reset" in msg
    assert not [n for n in res.notices if LIMITED in n.message]
    assert "tel-cloud" not in res.instance_errors


def test_a_lockout_that_starts_at_the_share_request_is_the_lockout(sandbox, cfg, store, clock, ids):
    nc = sandbox.nextclouds["polesnoe-cloud"]

    def lock_at_share(app):
        def wrapped(environ, start_response):
            if environ["REQUEST_METHOD"] == "POST" and f"/{BOOK}/" in environ.get("PATH_INFO", ""):
                nc.emulator.failed_logins["127.0.0.1"] = nc.emulator.bruteforce_after
            return app(environ, start_response)
        return wrapped

    nc.server.wrap(lock_at_share)
    res = publish(cfg, store, clock)
    msg = res.instance_errors["polesnoe-cloud"]
    assert msg.startswith("POST addressbook: Nextcloud refuses every request from this host (HTTP 429")
    assert not [n for n in res.notices if LIMITED in n.message]
    assert store.get_state(state_key("polesnoe-cloud")) is None  # nothing remembered: shared on a later run


def test_a_share_nextcloud_answers_but_does_not_list_is_an_error(sandbox, cfg, store, clock, ids, monkeypatch):
    """The account may not list groups (group_exists None) and the group is missing: the 200 share is dropped
    (recorded: nc_share_15, nc_share_16), which only the read-back shows."""
    monkeypatch.setattr(NextcloudClient, "group_exists", lambda self, group: None)
    nc_cfg = cfg.nextcloud[0].model_copy(update={"group": "OSCARTES groupe absent"})
    cfg = cfg.model_copy(update={"nextcloud": [nc_cfg, cfg.nextcloud[1]]})
    res = publish(cfg, store, clock)
    assert res.instance_errors["polesnoe-cloud"] == (
        "Nextcloud accepted the share of address book 'oscartes' with group 'OSCARTES groupe absent' but does not "
        "list it: check that the group exists and that sharing with groups is allowed (Administration settings, "
        "Sharing)")
    assert len(cards(sandbox)) == 3
    assert invites(sandbox.nextclouds["polesnoe-cloud"]) == []


def test_a_group_check_that_fails_does_not_stop_the_share(sandbox, cfg, store, clock, ids, monkeypatch):
    def unanswered(self, group):
        raise TerminalError(self.name, "GET groups answered text/html (HTTP 200) where JSON was expected")
    monkeypatch.setattr(NextcloudClient, "group_exists", unanswered)
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    for nc in sandbox.nextclouds.values():
        assert nc.emulator.delivered_to(nc.user, BOOK) == [nc.group]
