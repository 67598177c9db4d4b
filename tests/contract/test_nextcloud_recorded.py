"""Replays the Nextcloud exchanges this project recorded on the rig's Nextcloud 34 (tests/contract/recorded/nextcloud/)
against the emulator, in the order they were recorded, from the same starting state.

They show what the shared contract only summarises (§8): how a share with a group must name it, what a member
of the group then gets, the `oc:invite` a client reads before sharing, and the share rate limit (told apart from
the brute-force lock-out by its message)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_nextcloud_contract import FIXTURES_DIR, Cloud, D, assert_exchange

from oscartes_sync.sandbox.nextcloud_emulator import ManualClock, NextcloudEmulator
from oscartes_sync.sandbox.server import start_server

RECORDED = Path(__file__).parent / "recorded" / "nextcloud"
GROUP = "OSCARTES PôleS NOE"
PASSWORDS = {"admin": ("admin-login-password", "AdminAppPassword" + "k" * 56),
             "oscmember": ("member-login-password", "MemberAppPassword" + "m" * 55),
             "oscratelimit": ("ratelimit-login-password", "RateAppPassword" + "r" * 57)}
BOOK_OWNER, BOOK_OTHER = ("/remote.php/dav/addressbooks/users/admin/oscartes-recorded/",
                          "/remote.php/dav/addressbooks/users/oscratelimit/oscartes-recorded/")


def hrefs(multistatus: str) -> list[str]:
    return [r.findtext(f"{{{D}}}href") for r in ET.fromstring(multistatus.encode()).findall(f"{{{D}}}response")]


def fixtures() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) | {"name": p.stem} for p in sorted(RECORDED.glob("*.json"))]


@pytest.fixture
def cloud():
    """The rig's state when the exchanges were recorded: the group, its member, a second account, and a book
    of the admin holding one card (recorded setup, done here without HTTP)."""
    clock = ManualClock()
    emu = NextcloudEmulator("recorded", now=clock)
    for user, (login, app) in PASSWORDS.items():
        emu.add_user(user, login, app_password=app, admin=user == "admin")
    emu.add_group(GROUP, ["oscmember"])
    with start_server(emu) as server:
        c = Cloud(emu, server.url, clock, passwords=PASSWORDS)
        mkcol = ('<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set>'
                 "<d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"
                 "<d:displayname>Recorded</d:displayname></d:prop></d:set></d:mkcol>").encode()
        for path, user in ((BOOK_OWNER, "admin"), (BOOK_OTHER, "oscratelimit")):
            assert c.send("MKCOL", path, {"Content-Type": "application/xml"}, mkcol, user=user).status == 201
        card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:actor-0001\r\nFN:Recyclerie des Ulis\r\nEND:VCARD\r\n"
        assert c.send("PUT", BOOK_OWNER + "actor-0001.vcf", {"Content-Type": "text/vcard; charset=utf-8"}, card,
                      user="admin").status == 201
        yield c


def test_the_recorded_fixtures_are_there():
    names = [fx["name"] for fx in fixtures()]
    assert len(names) == 19 and names[0].startswith("nc_share_01") and names[-1].startswith("nc_share_19")


def test_sharing_with_a_group_as_recorded(cloud):
    """Each exchange in order. Before the 20th share request of the second account, its 18 earlier requests
    (set and remove, alternately) are sent as they were on the rig."""
    other_share = ('<?xml version="1.0" encoding="utf-8"?>\n<oc:share xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                   "<oc:{0}><d:href>principal:principals/groups/OSCARTES+P%C3%B4leS+NOE</d:href></oc:{0}></oc:share>")
    for fx in fixtures():
        if fx["name"].startswith("nc_share_17"):
            for i in range(1, 20):
                body = other_share.format("set" if i % 2 else "remove").encode()
                assert cloud.send("POST", BOOK_OTHER, {"Content-Type": "application/xml; charset=utf-8"}, body,
                                  user="oscratelimit", kind="login").status == 200
        reply, _ = cloud.replay(fx)
        if "_member_books_" in fx["name"]:
            # the member's own list of books, asked without a body: what matters is whether the shared book is
            # in it (the properties Nextcloud picks for an allprop listing are not emulated)
            assert_exchange(reply, fx, body=False)
            assert hrefs(reply.text) == hrefs(fx["response"]["body"]), fx["name"]
            continue
        assert_exchange(reply, fx)
        expected = fx["response"]
        if isinstance(expected["body"], str) and expected["body"].startswith("BEGIN:VCARD"):
            assert reply.text == expected["body"]
        if expected["status"] == 207 and "<oc:invite" in expected["body"]:
            # the invite entries, href verbatim: what a client compares before sharing
            assert reply.text.split("<oc:invite", 1)[1].split("</d:prop>")[0] == \
                expected["body"].split("<oc:invite", 1)[1].split("</d:prop>")[0], fx["name"]
    assert cloud.emu.delivered_to("admin", "oscartes-recorded") == [GROUP]


def test_the_rate_limit_and_the_lockout_differ_only_by_their_message():
    rate = json.loads((RECORDED / "nc_share_18_share_rate_limited.json").read_text(encoding="utf-8"))
    lockout_path = FIXTURES_DIR / "auth_bruteforce_throttled.json"
    if not lockout_path.exists():
        pytest.skip("shared/nextcloud-contract is not available")
    lockout = json.loads(lockout_path.read_text(encoding="utf-8"))
    assert rate["response"]["status"] == lockout["response"]["status"] == 429
    for fx in (rate, lockout):
        assert "<s:exception>OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests</s:exception>" in \
            fx["response"]["body"]
    assert "<s:message/>" in lockout["response"]["body"]
    assert "<s:message>Too many addressbook or calendar share requests</s:message>" in rate["response"]["body"]
    assert "Retry-After" not in rate["response"]["headers"]


def by_prefix(prefix: str) -> dict:
    return next(fx for fx in fixtures() if fx["name"].startswith(prefix))


def test_a_raw_named_share_is_accepted_and_reaches_no_member(cloud):
    for prefix in ("nc_share_02", "nc_share_04", "nc_share_05"):   # share raw; the member's PROPFIND and GET: 404
        fx = by_prefix(prefix)
        reply, _ = cloud.replay(fx)
        assert_exchange(reply, fx)
    assert cloud.emu.delivered_to("admin", "oscartes-recorded") == []


def test_an_encoded_share_is_read_only_for_the_member(cloud):
    for prefix in ("nc_share_07", "nc_share_09", "nc_share_11", "nc_share_12", "nc_share_13", "nc_share_14"):
        fx = by_prefix(prefix)
        reply, _ = cloud.replay(fx)
        assert_exchange(reply, fx)
    assert list(cloud.emu.cards("admin", "oscartes-recorded")) == ["actor-0001.vcf"]  # nothing changed
