"""The Nextcloud client against a real Nextcloud (OSCARTES_LIVE_NEXTCLOUD_URL, _USER, _APP_PASSWORD; skipped when
unset).

Everything is created inside a throw-away folder and a throw-away address book named "oscartes-test-<random>",
removed afterwards even when a test fails. A wrong password is tried at most once per run, and only when
OSCARTES_LIVE_NEXTCLOUD_TRY_WRONG_PASSWORD=1: about ten failed logins lock the whole host out (contract §1).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import unicodedata

import pytest
import requests

from oscartes_sync.targets.base import AuthError
from oscartes_sync.targets.nextcloud import NextcloudClient, PreconditionFailed, SyncTokenInvalid

pytestmark = pytest.mark.live
LIVE_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD")


class Hidden(str):
    def __repr__(self) -> str:
        return "'***'"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live Nextcloud not configured ({', '.join(missing)} unset)")
    return {v: Hidden(os.environ[v]) for v in LIVE_VARS}


@pytest.fixture(scope="module")
def client(env):
    c = NextcloudClient("live", env["OSCARTES_LIVE_NEXTCLOUD_URL"], user=env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                        app_password=env["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    yield c
    c.close()


@pytest.fixture(scope="module")
def tag() -> str:
    return f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def folder(client, tag):
    client.mkcol(tag)
    try:
        yield tag
    finally:
        client.delete(tag)
        assert client.propfind(tag, 0) == []


@pytest.fixture(scope="module")
def book(client, tag):
    client.ensure_addressbook(tag, f"Oscartes test {tag}")
    try:
        yield tag
    finally:
        client.delete_addressbook(tag)
        assert tag not in client.list_addressbooks()


def vcard(uid: str, fn: str, extra: str = "") -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\n{extra}END:VCARD\r\n"


def test_check(client):
    result = client.check()
    assert result.reachable and result.auth == "ok", result.problems
    assert result.version and result.version.split(".")[0].isdigit()


def test_files(client, folder):
    client.makedirs(f"{folder}/exports")
    etag = client.put(f"{folder}/exports/a.csv", b"id;nom\n1;A\n", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        client.put(f"{folder}/exports/a.csv", b"again", if_none_match=True)
    items = {i.path: i for i in client.propfind(f"{folder}/exports", 1)}
    assert set(items) == {f"{folder}/exports", f"{folder}/exports/a.csv"}
    item = items[f"{folder}/exports/a.csv"]
    assert (item.etag, item.size, item.is_dir) == (etag, 11, False) and item.fileid
    assert client.get(f"{folder}/exports/a.csv") == (b"id;nom\n1;A\n", etag)

    time.sleep(1.2)  # the next write must land in another second to get a new ETag (contract §2)
    etag2 = client.put(f"{folder}/exports/a.csv", b"id;nom\n1;B\n", if_match=etag)
    assert etag2 != etag
    with pytest.raises(PreconditionFailed) as exc:
        client.put(f"{folder}/exports/a.csv", b"stale", if_match=etag)
    assert exc.value.current_etag == etag2

    client.move(f"{folder}/exports/a.csv", f"{folder}/exports/b.csv")
    moved = {i.path: i for i in client.propfind(f"{folder}/exports", 1)}[f"{folder}/exports/b.csv"]
    assert moved.fileid == item.fileid

    nfd = unicodedata.normalize("NFD", "émile.md")
    client.put(f"{folder}/{nfd}", b"x")
    names = {i.path for i in client.propfind(folder, 1)}
    assert f"{folder}/émile.md" in names
    assert client.delete(f"{folder}/exports/b.csv") is True
    assert client.delete(f"{folder}/exports/b.csv") is False


def test_server_still_refuses_the_names_the_client_refuses(env, folder):
    """The client refuses these before sending; check the server does too (contract §2), with a raw session."""
    base = env["OSCARTES_LIVE_NEXTCLOUD_URL"].rstrip("/")
    auth = (env["OSCARTES_LIVE_NEXTCLOUD_USER"], env["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])
    user = env["OSCARTES_LIVE_NEXTCLOUD_USER"]
    for name, status in (("file.part", 400), ("line%0Abreak.txt", 400), (".htaccess", 500)):
        r = requests.put(f"{base}/remote.php/dav/files/{user}/{folder}/{name}", data=b"probe", auth=auth, timeout=30)
        assert r.status_code == status, (name, r.status_code)


def test_cards(client, book):
    first = client.sync_collection(book, None)
    assert first.changed == [] and first.removed == []
    texts = {f"actor-{i}": vcard(f"actor-{i}", f"Acteur {i}", "ORG:Réseau\r\n") for i in range(3)}
    etags = {uid: client.put_card(book, uid, text) for uid, text in texts.items()}
    for uid, text in texts.items():
        assert etags[uid] == hashlib.md5(text.encode()).hexdigest()  # card ETag = md5 of the text (contract §4)
    with pytest.raises(PreconditionFailed):
        client.put_card(book, "actor-0", texts["actor-0"])

    changes = client.sync_collection(book, first.new_token)
    assert sorted(changes.changed) == sorted((client.card_href(book, u), e) for u, e in etags.items())
    paged = client.sync_collection(book, None, limit=2)
    assert sorted(paged.changed) == sorted(changes.changed)
    assert client.sync_collection(book, changes.new_token).changed == []

    got = client.multiget(book, [client.card_href(book, "actor-1")])
    assert got == {client.card_href(book, "actor-1"): (texts["actor-1"], etags["actor-1"])}

    new = vcard("actor-1", "Acteur 1", "ORG:Autre\r\n")
    etag_new = client.put_card(book, "actor-1", new, etag=etags["actor-1"])
    with pytest.raises(PreconditionFailed):
        client.put_card(book, "actor-1", texts["actor-1"], etag=etags["actor-1"])
    assert client.delete_card(book, "actor-2", etag=etags["actor-2"]) is True
    later = client.sync_collection(book, changes.new_token)
    assert later.changed == [(client.card_href(book, "actor-1"), etag_new)]
    assert later.removed == [client.card_href(book, "actor-2")]

    with pytest.raises(SyncTokenInvalid):
        client.sync_collection(book, "garbage-token")
    with pytest.raises(SyncTokenInvalid):
        client.sync_collection(book, "http://sabre.io/ns/sync/999999999")


def test_public_link_is_stable(client, folder):
    client.put(f"{folder}/share.txt", b"public")
    url = client.share_public_link(f"{folder}/share.txt")
    assert client.share_public_link(f"{folder}/share.txt") == url
    r = requests.get(url + "/download", timeout=30)
    assert r.status_code == 200 and r.content == b"public"


def test_wrong_app_password_stops_at_once(env):
    if os.environ.get("OSCARTES_LIVE_NEXTCLOUD_TRY_WRONG_PASSWORD") != "1":
        pytest.skip("one failed login per run counts toward the host lockout; set "
                    "OSCARTES_LIVE_NEXTCLOUD_TRY_WRONG_PASSWORD=1 to run it")
    secret = "oscartes-wrong-" + secrets.token_hex(8)
    c = NextcloudClient("live", env["OSCARTES_LIVE_NEXTCLOUD_URL"], user=env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                        app_password=secret)
    with pytest.raises(AuthError) as first:
        c.propfind("", 0)
    with pytest.raises(AuthError):
        c.put("never.txt", b"x")
    assert c.stats.total == 1
    assert secret not in str(first.value)
