"""The Nextcloud client against the Nextcloud emulator over real HTTP."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
import requests

from oscartes_sync.sandbox.nextcloud_emulator import ManualClock, NextcloudEmulator
from oscartes_sync.sandbox.server import start_server
from oscartes_sync.targets.base import AuthError, EntryError, ListingFailed, TransientError
from oscartes_sync.targets.nextcloud import (
    BadFileName,
    DavInvite,
    NextcloudClient,
    NotFound,
    PreconditionFailed,
    RateLimited,
    SyncTokenInvalid,
    group_principal,
    names_group,
    validate_vcard,
)

LOGIN_PASSWORD = "login-Password-0123456789"
APP_PASSWORD = "AppPassword" + "x7" * 30 + "Z"
BOOK = "oscartes-actors"
GROUP = "OSCARTES PôleS NOE"  # the default of PRODUCT.md §5: spaces and accents


def vcard(uid: str, fn: str, extra: str = "") -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\n{extra}END:VCARD\r\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock) -> NextcloudEmulator:
    e = NextcloudEmulator("cloud", now=clock)
    e.add_user("sync", LOGIN_PASSWORD, app_password=APP_PASSWORD, admin=True)
    e.add_user("alice", "alice-password-123", groups=["network", GROUP])
    return e


@pytest.fixture
def server(emu):
    with start_server(emu) as srv:
        yield srv


@pytest.fixture
def client(server):
    c = NextcloudClient("cloud", server.url, user="sync", app_password=APP_PASSWORD, timeout=5)
    c.backoff = 0.01
    yield c
    c.close()


# --------------------------------------------------------------------------------------------- WebDAV


def test_folder_file_cycle(client, emu, clock):
    client.makedirs("oscartes/exports")
    assert client.mkcol("oscartes/exports") is False  # exists: 405 read as "already there"
    etag = client.put("oscartes/exports/actors.csv", b"id;name\n1;A\n", if_none_match=True)
    assert etag and len(etag) == 32

    items = {i.path: i for i in client.propfind("oscartes/exports", 1)}
    assert set(items) == {"oscartes/exports", "oscartes/exports/actors.csv"}
    folder, f = items["oscartes/exports"], items["oscartes/exports/actors.csv"]
    assert folder.is_dir and not f.is_dir
    assert (f.etag, f.size) == (etag, 12)
    assert f.fileid and f.modified is not None

    assert client.get("oscartes/exports/actors.csv") == (b"id;name\n1;A\n", etag)

    clock.advance(2)
    etag2 = client.put("oscartes/exports/actors.csv", b"id;name\n1;B\n", if_match=etag)
    assert etag2 != etag
    with pytest.raises(PreconditionFailed) as exc:  # the stale ETag of the first version
        client.put("oscartes/exports/actors.csv", b"lost", if_match=etag)
    assert exc.value.current_etag == etag2
    with pytest.raises(PreconditionFailed):  # create-only on an existing file
        client.put("oscartes/exports/actors.csv", b"lost", if_none_match=True)
    assert emu.file("sync", "oscartes/exports/actors.csv") == b"id;name\n1;B\n"

    client.move("oscartes/exports/actors.csv", "oscartes/exports/acteurs.csv")
    moved = {i.path: i for i in client.propfind("oscartes/exports", 1)}["oscartes/exports/acteurs.csv"]
    assert moved.fileid == f.fileid  # fileid kept across MOVE (contract §2)

    assert client.delete("oscartes/exports/acteurs.csv") is True
    assert client.delete("oscartes/exports/acteurs.csv") is False
    assert client.propfind("oscartes/missing", 0) == []
    with pytest.raises(NotFound):
        client.get("oscartes/exports/acteurs.csv")
    with pytest.raises(NotFound):
        client.mkcol("nowhere/sub")


def test_same_second_writes_keep_the_etag_so_size_and_content_must_be_compared(client, clock):
    first = client.put("kb.md", b"# Un")
    second = client.put("kb.md", b"# Deux, plus long")
    assert first == second  # same mtime second: same ETag (contract §2)
    (item,) = client.propfind("kb.md", 0)
    assert item.etag == first and item.size == len(b"# Deux, plus long")
    clock.advance(1)
    assert client.put("kb.md", b"# Deux, plus long") != first  # identical content, later second: new ETag


def test_names_are_compared_after_nfc(client, emu):
    nfd = unicodedata.normalize("NFD", "émile.md")
    client.put(nfd, b"x")
    (item,) = [i for i in client.propfind("", 1) if not i.is_dir]
    assert item.path == "émile.md" and item.path == unicodedata.normalize("NFC", nfd)
    assert emu.listdir("sync") == ["émile.md"]
    assert client.get("émile.md")[0] == b"x"


@pytest.mark.parametrize("name", [".htaccess", "file.part", "line\nbreak.md", "a\\b.md", "x" * 256 + ".md",
                                  "nul\x00.md", "..", "UPPER.PART"])
def test_bad_file_names_are_refused_before_sending(client, emu, name):
    before = len(emu.request_log)
    with pytest.raises(BadFileName) as exc:
        client.put(f"kb/{name}", b"x")
    assert "refused" in exc.value.message
    assert len(emu.request_log) == before  # nothing sent


def test_a_name_the_server_refuses_is_reported_clearly(client, emu):
    # A server with stricter rules than the client knows: the refusal still names the problem.
    original = emu._validate_name

    def stricter(name, rel):
        if name.startswith("~"):
            from oscartes_sync.sandbox.nextcloud_emulator import invalid_path
            raise invalid_path("Filename contains at least one invalid character")
        original(name, rel)

    emu._validate_name = stricter
    with pytest.raises(BadFileName) as exc:
        client.put("~tilde.md", b"x")
    assert "invalid character" in exc.value.message


# --------------------------------------------------------------------------------------------- CardDAV


def test_card_cycle(client, emu):
    assert client.ensure_addressbook(BOOK, "Annuaire du réseau") is True
    assert client.ensure_addressbook(BOOK, "Annuaire du réseau") is False
    assert client.list_addressbooks()[BOOK]["displayname"] == "Annuaire du réseau"

    first = client.sync_collection(BOOK, None)
    assert (first.changed, first.removed) == ([], [])

    a, b = vcard("actor-1", "Émile Zola"), vcard("actor-2", "George Sand")
    etag_a = client.put_card(BOOK, "actor-1", a)
    assert etag_a == hashlib.md5(a.encode()).hexdigest()  # card ETag = md5 of the stored text (contract §4)
    etag_b = client.put_card(BOOK, "actor-2", b)
    with pytest.raises(PreconditionFailed):  # create-only
        client.put_card(BOOK, "actor-1", a)

    changes = client.sync_collection(BOOK, first.new_token)
    href_a, href_b = client.card_href(BOOK, "actor-1"), client.card_href(BOOK, "actor-2")
    assert changes.changed == [(href_a, etag_a), (href_b, etag_b)] and changes.removed == []
    cards = client.multiget(BOOK, [href for href, _ in changes.changed])
    assert cards == {href_a: (a, etag_a), href_b: (b, etag_b)}

    none = client.sync_collection(BOOK, changes.new_token)
    assert (none.changed, none.removed, none.new_token) == ([], [], changes.new_token)

    a2 = vcard("actor-1", "Émile Zola", "ORG:Les Amis\r\n")
    etag_a2 = client.put_card(BOOK, "actor-1", a2, etag=etag_a)
    with pytest.raises(PreconditionFailed) as exc:
        client.put_card(BOOK, "actor-1", a, etag=etag_a)  # stale
    assert exc.value.current_etag == etag_a2
    assert client.delete_card(BOOK, "actor-2", etag=etag_b) is True
    assert client.delete_card(BOOK, "actor-2") is False

    later = client.sync_collection(BOOK, changes.new_token)
    assert later.changed == [(href_a, etag_a2)] and later.removed == [href_b]
    # multiget silently omits a deleted card
    assert set(client.multiget(BOOK, [href_a, href_b])) == {href_a}
    assert client.get_card(BOOK, "actor-1") == (a2, etag_a2)
    assert client.get_card(BOOK, "actor-2") is None
    assert emu.cards("sync", BOOK) == {"actor-1.vcf": a2}


def test_sync_follows_the_pages(client, emu):
    client.ensure_addressbook(BOOK, "Annuaire")
    for i in range(5):
        client.put_card(BOOK, f"actor-{i}", vcard(f"actor-{i}", f"Acteur {i}"))
    emu.reset_log()
    result = client.sync_collection(BOOK, None, limit=2)
    assert len(result.changed) == 5 and len({h for h, _ in result.changed}) == 5
    assert emu.count("REPORT") == 3  # 2 + 2 + 1, the last page without a 507 entry
    assert result.new_token.startswith("http://sabre.io/ns/sync/") and "init_" not in result.new_token
    assert client.sync_collection(BOOK, result.new_token).changed == []


def test_an_invalid_sync_token_asks_for_a_full_resync(client):
    client.ensure_addressbook(BOOK, "Annuaire")
    with pytest.raises(SyncTokenInvalid):
        client.sync_collection(BOOK, "garbage-token")  # 403 InvalidSyncToken
    with pytest.raises(SyncTokenInvalid):
        client.sync_collection(BOOK, "http://sabre.io/ns/sync/999999")  # silently accepted by the server


def test_sync_of_a_missing_book(client):
    with pytest.raises(NotFound):
        client.sync_collection("nope", None)


def test_invalid_cards_are_not_sent(client, emu):
    client.ensure_addressbook(BOOK, "Annuaire")
    before = len(emu.request_log)
    for text in ("not a card", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:X\r\n",  # unterminated
                 vcard("x", "A") + vcard("y", "B"), vcard("x", "A").replace("VERSION:3.0", "VERSION:2.1"),
                 vcard("x", "").replace("FN:\r\n", ""), vcard("other", "A")):
        with pytest.raises(EntryError):
            client.put_card(BOOK, "x", text)
    assert len(emu.request_log) == before
    assert validate_vcard(vcard("x", "A"), "x") is None


def test_group_principal_is_encoded_as_nextcloud_encodes_group_principals():
    # PHP urlencode (apps/dav GroupPrincipalBackend); the value the rig listed (recorded fixture nc_share_08)
    assert group_principal(GROUP) == "principal:principals/groups/OSCARTES+P%C3%B4leS+NOE"
    assert group_principal("a~b/c&d") == "principal:principals/groups/a%7Eb%2Fc%26d"
    assert group_principal("réseau_noe-2.0") == "principal:principals/groups/r%C3%A9seau_noe-2.0"
    for spelling in (GROUP, "OSCARTES%20P%C3%B4leS%20NOE", "OSCARTES+P%C3%B4leS+NOE"):
        assert names_group("principal:principals/groups/" + spelling, GROUP)
    assert not names_group("principal:principals/groups/OSCARTES", GROUP)
    assert not names_group("principal:principals/users/" + GROUP, GROUP)


def test_addressbook_shared_read_only_with_the_group(client, emu, server):
    client.ensure_addressbook(BOOK, "Annuaire")
    client.put_card(BOOK, "actor-1", vcard("actor-1", "A"))
    url = client.book_url(BOOK)
    assert client.invites(url) == []
    client.share(url, set_hrefs=[group_principal(GROUP)])
    assert client.invites(url) == [DavInvite(group_principal(GROUP), GROUP, True)]
    alice = NextcloudClient("cloud", server.url, user="alice", app_password="alice-password-123")
    books = alice.list_addressbooks()
    shared = f"{BOOK}_shared_by_sync"
    assert books[shared]["read_only"] is True
    assert [h for h, _ in alice.sync_collection(shared, None).changed] == [alice.card_href(shared, "actor-1")]
    with pytest.raises(NotFound):  # a member's write into the read-only book: 404 (contract §4)
        alice.put_card(shared, "actor-9", vcard("actor-9", "Z"))
    with pytest.raises(NotFound):
        alice.put_card(shared, "actor-1", vcard("actor-1", "Changed"), etag=alice.get_card(shared, "actor-1")[1])
    assert alice.delete_card(shared, "actor-1") is False  # 404, and the card is still there
    assert client.get_card(BOOK, "actor-1")[0] == vcard("actor-1", "A")


def test_a_group_named_raw_is_listed_but_reaches_no_member(client, emu, server):
    client.ensure_addressbook(BOOK, "Annuaire")
    url = client.book_url(BOOK)
    raw = "principal:principals/groups/" + GROUP
    client.share(url, set_hrefs=[raw])
    assert client.invites(url) == [DavInvite(raw, GROUP, True)]  # accepted and listed (nc_share_03)
    alice = NextcloudClient("cloud", server.url, user="alice", app_password="alice-password-123")
    assert f"{BOOK}_shared_by_sync" not in alice.list_addressbooks()
    client.share(url, set_hrefs=[group_principal(GROUP)], remove_hrefs=[raw])  # one request mends it
    assert client.invites(url) == [DavInvite(group_principal(GROUP), GROUP, True)]
    assert f"{BOOK}_shared_by_sync" in alice.list_addressbooks()


def test_a_share_with_a_missing_group_answers_200_and_is_not_listed(client, emu):
    client.ensure_addressbook(BOOK, "Annuaire")
    client.share(client.book_url(BOOK), set_hrefs=[group_principal("absent")])
    assert client.invites(client.book_url(BOOK)) == []
    with pytest.raises(NotFound):
        client.invites(client.book_url("no-such-book"))


def test_the_share_rate_limit_is_not_a_lockout(client, emu):
    emu.share_limit = (2, 3600)
    client.ensure_addressbook(BOOK, "Annuaire")
    url = client.book_url(BOOK)
    client.share(url, set_hrefs=[group_principal(GROUP)])
    client.share(url, remove_hrefs=[group_principal(GROUP)])
    with pytest.raises(RateLimited) as exc:
        client.share(url, set_hrefs=[group_principal(GROUP)])
    assert "Too many addressbook or calendar share requests" in exc.value.message and "429" in exc.value.message
    assert "brute-force" not in exc.value.message
    assert client.invites(url) == []        # every other request still works: nothing is locked out
    client.put_card(BOOK, "actor-1", vcard("actor-1", "A"))
    assert emu.failed_logins == {}


# --------------------------------------------------------------------------------------------- OCS


def test_public_link_is_reused(client, emu):
    client.makedirs("oscartes/exports")
    url = client.share_public_link("oscartes/exports")
    assert client.share_public_link("oscartes/exports") == url
    assert emu.count("POST", "/shares") == 1
    token = url.rsplit("/", 1)[1]
    client.put("oscartes/exports/a.csv", b"a")
    r = requests.get(url.replace("/index.php/s/", "/s/") + "/download", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/public.php/dav/files/{token}")
    with pytest.raises(NotFound):
        client.share_public_link("oscartes/missing")


def test_folder_shared_with_group_once(client, emu):
    client.makedirs("oscartes/kb")
    client.share_with_group("oscartes/kb", "network")
    client.share_with_group("oscartes/kb", "network")
    assert emu.count("POST", "/shares") == 1
    (share,) = emu.shares.values()
    assert (share.share_type, share.share_with, share.permissions) == (1, "network", 1)
    with pytest.raises(EntryError):
        client.share_with_group("oscartes/kb", "no-such-group")


def test_check(client, server):
    ok = client.check(group="network")
    assert ok.ok and ok.version == "34.0.1" and ok.auth == "ok" and ok.user == "sync" and ok.group_exists
    missing = client.check(group="absent")
    assert missing.group_exists is False and "absent" in missing.problems[0]
    bad = NextcloudClient("cloud", server.url, user="sync", app_password="wrong-password-value")
    refused = bad.check()
    assert refused.auth == "refused" and not refused.ok


# --------------------------------------------------------------------------------------------- failures


def test_401_is_sticky_and_stops_every_request(server, emu):
    secret = "Wrong-App-Password-value-42"
    c = NextcloudClient("cloud", server.url, user="sync", app_password=secret)
    errors = []
    for call in (lambda: c.propfind("", 1), lambda: c.put("a.md", b"x"), lambda: c.sync_collection(BOOK, None),
                 lambda: c.share_public_link("a.md"), lambda: c.mkcol("x")):
        with pytest.raises(AuthError) as exc:
            call()
        errors.append(exc.value)
    assert len(emu.request_log) == 1  # only the first request reached the server
    assert emu.failed_logins == {"127.0.0.1": 1}
    for err in errors:
        assert secret not in str(err) and secret not in repr(err.args)
        assert "401" in str(err)


def test_a_lockout_429_on_a_share_request_is_still_the_lockout(server, emu, client):
    client.ensure_addressbook(BOOK, "Annuaire")
    for _ in range(10):
        requests.request("PROPFIND", server.url + "remote.php/dav/files/sync/", auth=("sync", "bad-guess"))
    with pytest.raises(AuthError) as exc:  # the brute-force TooManyRequests has no message (contract §1)
        client.share(client.book_url(BOOK), set_hrefs=[group_principal(GROUP)])
    assert "brute-force" in exc.value.message and "occ security:bruteforce:reset" in exc.value.message
    before = len(emu.request_log)
    with pytest.raises(AuthError):  # sticky: nothing more is sent
        client.invites(client.book_url(BOOK))
    assert len(emu.request_log) == before


def test_host_lockout_429(server, emu, client):
    for _ in range(10):
        requests.request("PROPFIND", server.url + "remote.php/dav/files/sync/", auth=("sync", "bad-guess"))
    with pytest.raises(AuthError) as exc:
        client.propfind("", 0)  # correct credentials, locked-out host
    assert "429" in exc.value.message and APP_PASSWORD not in str(exc.value)
    before = len(emu.request_log)
    with pytest.raises(AuthError):
        client.put("a.md", b"x")
    assert len(emu.request_log) == before


def test_idempotent_reads_are_retried_writes_are_not(client, emu):
    client.put("a.md", b"x")
    emu.inject("PROPFIND", r"/files/sync/", "drop")
    assert [i.path for i in client.propfind("a.md", 0)] == ["a.md"]
    assert emu.count("PROPFIND") == 2

    emu.inject("PUT", r"/files/sync/b\.md", "drop")
    with pytest.raises(TransientError) as exc:
        client.put("b.md", b"y")
    assert emu.count("PUT", "/b.md") == 1
    assert APP_PASSWORD not in str(exc.value)

    emu.inject("MKCOL", r"/files/sync/", "drop")
    with pytest.raises(TransientError):
        client.mkcol("folder")
    assert emu.count("MKCOL") == 1

    emu.inject("GET", r"/files/sync/a\.md", "500")  # a server error is not retried
    with pytest.raises(TransientError):
        client.get("a.md")
    assert emu.count("GET") == 1


def test_a_timeout_is_transient(client, emu):
    client.timeout = 0.3
    client.retries = 0
    emu.inject("PROPFIND", r"/files/sync/", "slow", delay=1.0)
    with pytest.raises(TransientError) as exc:
        client.propfind("", 0)
    assert "no answer" in exc.value.message


def test_an_html_page_is_not_a_listing(client, emu):
    emu.inject("PROPFIND", r"/files/sync/", "html200")
    with pytest.raises(ListingFailed) as exc:
        client.propfind("", 1)
    assert "text/html" in exc.value.message
