"""Replays the recorded Nextcloud 34 contract (shared/nextcloud-contract) against the emulator over HTTP.

Requests are sent byte for byte with http.client (requests would resolve the `../` of the crafted paths).
Scenarios replay the fixtures in the order they were recorded, on one emulator, so that the state each one
assumes (ETags, sync tokens, card ids) is built the same way. Comparisons: status, Content-Type family, the
headers that matter (ETag presence and format, DAV, Location, WWW-Authenticate), Sabre error exception and
message, multistatus shape (hrefs, propstat statuses, property names, values by form or exactly where the
server's value is deterministic: card ETags are md5 of the card, sync tokens are counters), OCS envelopes.
Recorded ETags are mapped to the emulator's: a recorded ETag seen again must come back as the same emulator
ETag (same-second behaviour, ETags kept across MOVE), a new recorded one as a new one.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from oscartes_sync.sandbox.nextcloud_emulator import ManualClock, NextcloudEmulator
from oscartes_sync.sandbox.server import start_server

FIXTURES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "nextcloud-contract" / "fixtures"
D, S, OC, CARD, CS = "DAV:", "http://sabredav.org/ns", "http://owncloud.org/ns", \
    "urn:ietf:params:xml:ns:carddav", "http://calendarserver.org/ns/"
PASSWORDS = {"admin": ("admin-login-password", "AdminAppPassword" + "k" * 56),
             "alice": ("alice-login-password", "AliceAppPassword" + "a" * 56),
             "bob": ("bob-login-password", "BobAppPassword" + "b" * 58)}
FILE_ETAG = re.compile(r'"[0-9a-f]{32}"')
DIR_ETAG = re.compile(r'"[0-9a-f]{13}"')
SYNC_TOKEN = re.compile(r"http://sabre\.io/ns/sync/(?:\d+|init_\d+_\d+)")

PROVISIONING = "account provisioning (create/edit/disable/delete users, details): not used by the product"
OUT_OF_SCOPE = {
    "caldav_query_time_range": "calendar-query: the product syncs calendars with sync-collection",
    **{name: PROVISIONING for name in (
        "ocs_user_create", "ocs_user_create_exists", "ocs_user_create_weak_password", "ocs_user_delete",
        "ocs_user_disable", "ocs_user_edit_displayname", "ocs_users_details", "ocs_groups_details")},
    **{name: "chunked upload v2: the product's files are small" for name in (
        "webdav_chunked_v2_mkcol", "webdav_chunked_v2_put_chunk", "webdav_chunked_v2_assemble")},
    "webdav_copy": "COPY: not used by the product",
    "carddav_get_jcard": "jCard: the product reads vCard text",
    "carddav_query_email": "addressbook-query: the product syncs with sync-collection",
    "ocs_share_update": "share updates (expiration, label): not used by the product",
    "ocs_share_update_password": "share passwords: the product publishes open links",
    "public_share_download_password_protected": "share passwords: the product publishes open links",
}


def load(name: str) -> dict[str, Any]:
    path = FIXTURES_DIR / f"{name}.json"
    if not path.exists():
        pytest.skip(f"contract fixture {name} not available")
    return json.loads(path.read_text(encoding="utf-8"))


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Cloud:
    """One emulator on one server, and the replay of fixtures against it."""

    def __init__(self, emu: NextcloudEmulator, url: str, clock: ManualClock,
                 passwords: dict[str, tuple[str, str]] = PASSWORDS):
        self.emu = emu
        self.passwords = passwords  # user -> (login password, app password)
        self.url = url.rstrip("/")
        self.clock = clock
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.etags: dict[str, str] = {}     # recorded ETag -> emulator ETag
        self.subst: dict[str, str] = {}     # other recorded values (tokens) -> emulator values

    def send(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
             user: str | None = None, kind: str = "app") -> Reply:
        headers = dict(headers or {})
        if user is not None:
            secret = {"app": self.passwords[user][1], "login": self.passwords[user][0], "wrong": "wrong-password"}[kind]
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or b"")
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def _swap(self, value: str) -> str:
        value = value.replace("<BASE_URL>", self.url)
        for old, new in {**self.etags, **self.subst}.items():
            value = value.replace(old.strip('"'), new.strip('"'))
        return value

    def replay(self, name: str | dict, *, kind: str | None = None, user: str | None = None) -> tuple[Reply, dict]:
        """Send a fixture (by name in the shared contract, or as loaded) and return the reply and the fixture."""
        fx = load(name) if isinstance(name, str) else name
        req = fx["request"]
        headers, auth_user = {}, None
        for key, value in req["headers"].items():
            if key == "Authorization":
                auth_user = re.search(r"user=(\w+)", value).group(1)
                continue
            headers[key] = self._swap(value)
        if kind is None:
            kind = "login" if req.get("auth_kind") == "login-password" else "app"
        body = req.get("body")
        if body is None:
            data = None
        elif isinstance(body, str):
            data = self._swap(body).encode("utf-8")
        elif headers.get("Content-Type", "").startswith("application/json"):
            data = json.dumps(body).encode()
        else:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            data = urlencode([(k, x) for k, v in body.items() for x in (v if isinstance(v, list) else [v])]).encode()
        reply = self.send(req["method"], self._swap(req["path"]), headers, data, user=user or auth_user,
                          kind=kind)
        self._learn(fx, reply)
        return reply, fx

    def _learn(self, fx: dict, reply: Reply) -> None:
        """Map the recorded ETag to ours, checking that equal recorded ETags map to equal emulator ETags."""
        recorded = fx["response"]["headers"].get("ETag")
        ours = reply.headers.get("etag")
        if recorded and ours:
            if recorded in self.etags:
                assert self.etags[recorded] == ours, f"{recorded} was {self.etags[recorded]}, now {ours}"
            else:
                assert ours not in self.etags.values(), f"a new recorded ETag came back as an old one: {ours}"
                self.etags[recorded] = ours


def mime(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def assert_exchange(reply: Reply, fx: dict, *, body: bool = True) -> None:
    expected = fx["response"]
    assert reply.status == expected["status"], reply.text[:800]
    rec = expected["headers"]
    if "Content-Type" in rec and expected["status"] != 304:
        assert mime(reply.headers.get("content-type")) == mime(rec["Content-Type"]), reply.headers
    for h in ("ETag", "OC-ETag"):
        if h in rec:
            assert h.lower() in reply.headers, f"{h} missing"
            pattern = DIR_ETAG if DIR_ETAG.fullmatch(rec[h]) else FILE_ETAG
            assert pattern.fullmatch(reply.headers[h.lower()]), reply.headers[h.lower()]
        elif expected["status"] in (201, 204) and "X-Request-Id" in rec:
            assert h.lower() not in reply.headers, f"unexpected {h}"
    for h in ("OC-FileId", "X-NC-OwnerId", "X-NC-Permissions", "X-OC-MTime", "DAV"):
        if h in rec:
            assert h.lower() in reply.headers, f"{h} missing"
    if "WWW-Authenticate" in rec:
        assert reply.headers.get("www-authenticate") == rec["WWW-Authenticate"]
    if "X-NC-Permissions" in rec:
        assert reply.headers["x-nc-permissions"] == rec["X-NC-Permissions"]
    if not body:
        return
    rbody = expected["body"]
    if rbody == "" and expected["status"] != 304:
        assert reply.body == b""
    elif isinstance(rbody, str) and rbody.startswith("<?xml") and "<d:error" in rbody:
        assert_sabre_error(reply, rbody)
    elif isinstance(rbody, str) and "<d:multistatus" in rbody:
        assert_multistatus(reply, rbody)
    elif isinstance(rbody, (dict, list)):
        assert_ocs(reply, rbody)


def assert_sabre_error(reply: Reply, recorded: str) -> None:
    ours, theirs = ET.fromstring(reply.body), ET.fromstring(recorded.encode())
    assert ours.tag == theirs.tag == f"{{{D}}}error"
    for tag in (f"{{{S}}}exception", f"{{{S}}}message", f"{{{S}}}header"):
        assert (ours.findtext(tag) or "") == (theirs.findtext(tag) or ""), tag
    assert [c.tag for c in ours] == [c.tag for c in theirs]


def responses(root: ET.Element) -> list[dict[str, Any]]:
    out = []
    for r in root.findall(f"{{{D}}}response"):
        stats = {}
        for ps in r.findall(f"{{{D}}}propstat"):
            status = ps.findtext(f"{{{D}}}status").split()[1]
            stats[status] = {p.tag: p for p in ps.find(f"{{{D}}}prop")}
        out.append({"href": r.findtext(f"{{{D}}}href"), "status": (r.findtext(f"{{{D}}}status") or " ").split()[1:2],
                    "props": stats})
    return out


def prop_value_form(el: ET.Element) -> str:
    text = (el.text or "").strip()
    if list(el):
        return "<" + ",".join(sorted(c.tag for c in el)) + ">"
    for name, rx in (("<FILE_ETAG>", FILE_ETAG), ("<DIR_ETAG>", DIR_ETAG), ("<SYNC>", SYNC_TOKEN)):
        if rx.fullmatch(text):
            return name
    if re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", text):
        return "<DATE>"
    if re.fullmatch(r"\d+", text):
        return "<INT>"
    if re.fullmatch(r"\d{8}oc\w+", text):
        return "<OCID>"
    return text


def assert_multistatus(reply: Reply, recorded: str, *, values: bool = False) -> None:
    """Same hrefs in the same order, same propstat statuses and property names; values by form."""
    assert reply.status == 207
    ours, theirs = responses(ET.fromstring(reply.body)), responses(ET.fromstring(recorded.encode()))
    assert [r["href"] for r in ours] == [r["href"] for r in theirs]
    for o, t in zip(ours, theirs):
        assert o["status"] == t["status"], o["href"]
        assert set(o["props"]) == set(t["props"]), (o["href"], set(o["props"]), set(t["props"]))
        for status, props in t["props"].items():
            assert set(o["props"][status]) == set(props), (o["href"], status)
            if status == "200":
                for tag, el in props.items():
                    assert prop_value_form(o["props"][status][tag]) == prop_value_form(el), (o["href"], tag)


def sync_token(reply: Reply) -> str:
    return ET.fromstring(reply.body).findtext(f"{{{D}}}sync-token")


def assert_ocs(reply: Reply, recorded: Any) -> None:
    body = reply.json()
    if "ocs" not in recorded:
        assert body == recorded
        return
    assert body["ocs"]["meta"]["status"] == recorded["ocs"]["meta"]["status"]
    assert body["ocs"]["meta"]["statuscode"] == recorded["ocs"]["meta"]["statuscode"]
    if recorded["ocs"]["meta"]["status"] == "failure":
        assert body["ocs"]["meta"]["message"] == recorded["ocs"]["meta"]["message"]
    data, rdata = body["ocs"]["data"], recorded["ocs"]["data"]
    assert type(data) is type(rdata)
    if isinstance(rdata, list):
        assert len(data) == len(rdata)
        for ours, theirs in zip(data, rdata):
            assert_share(ours, theirs)
    elif isinstance(rdata, dict) and "share_type" in rdata:
        assert_share(data, rdata)


SHARE_EXACT = ("share_type", "permissions", "path", "item_type", "share_with", "uid_owner", "file_target",
               "item_permissions", "expiration", "mimetype")


def assert_share(ours: dict, theirs: dict) -> None:
    assert set(theirs) - {"mount-type"} <= set(ours), set(theirs) - set(ours)
    for key in SHARE_EXACT:
        if key in theirs:
            assert ours[key] == theirs[key], key
    assert isinstance(ours["id"], str) and isinstance(ours["item_source"], int)
    if theirs.get("url"):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/index\.php/s/\w{15}", ours["url"]), ours["url"]


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def cloud():
    if not FIXTURES_DIR.is_dir():
        pytest.skip("shared/nextcloud-contract is not available")
    clock = ManualClock()
    emu = NextcloudEmulator("cloud", now=clock)
    for user, (login, app) in PASSWORDS.items():
        emu.add_user(user, login, app_password=app, admin=user == "admin")
    emu.add_group("oscartes", ["alice"])
    with start_server(emu) as server:
        yield Cloud(emu, server.url, clock)


def test_every_fixture_is_replayed_or_explicitly_skipped() -> None:
    if not FIXTURES_DIR.is_dir():
        pytest.skip("shared/nextcloud-contract is not available")
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.stem for p in FIXTURES_DIR.glob("*.json"))
    missing = [n for n in names if n not in OUT_OF_SCOPE and f'"{n}"' not in source]
    assert missing == []


@pytest.mark.parametrize("name", sorted(OUT_OF_SCOPE))
def test_out_of_scope_fixture(name: str) -> None:
    pytest.skip(OUT_OF_SCOPE[name])


# ------------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("name,kind", [("auth_missing_dav", None), ("auth_missing_ocs", None),
                                       ("auth_wrong_password_dav", "wrong"), ("auth_wrong_password_ocs", "wrong")])
def test_auth_refusals(cloud, name, kind):
    if kind is None:
        fx = load(name)
        req = fx["request"]
        reply = cloud.send(req["method"], req["path"], req["headers"])
    else:
        reply, fx = cloud.replay(name, kind=kind)
    assert_exchange(reply, fx)
    if "wrong" in name:
        assert cloud.emu.failed_logins == {"127.0.0.1": 1}


def test_auth_bruteforce_throttled(cloud):
    for _ in range(11):
        cloud.send("PROPFIND", "/remote.php/dav/files/admin/", {"Depth": "0"}, user="admin", kind="wrong")
    reply, fx = cloud.replay("auth_bruteforce_throttled", kind="wrong")  # the 12th failed login
    assert_exchange(reply, fx)
    assert ET.fromstring(reply.body).findtext(f"{{{S}}}exception").endswith("TooManyRequests")
    # correct credentials, other accounts, other routes: all refused from this address
    for user, path in (("admin", "/remote.php/dav/files/admin/"), ("alice", "/ocs/v2.php/cloud/user")):
        assert cloud.send("PROPFIND" if "dav" in path else "GET", path, {"Depth": "0", "OCS-APIRequest": "true"},
                          user=user).status == 429
    cloud.emu.reset_bruteforce()
    assert cloud.send("PROPFIND", "/remote.php/dav/files/admin/", {"Depth": "0"}, user="admin").status == 207


def test_app_password_and_login_password_both_work(cloud):
    for kind in ("app", "login"):
        assert cloud.send("PROPFIND", "/remote.php/dav/files/admin/", {"Depth": "0"}, user="admin",
                          kind=kind).status == 207


# ------------------------------------------------------------------------------------------------ WebDAV


def test_webdav_scenario(cloud):
    def step(name: str, **kw: Any) -> Reply:
        reply, fx = cloud.replay(name, **kw)
        assert_exchange(reply, fx)
        return reply

    step("webdav_mkcol_created")
    step("webdav_mkcol_exists")
    step("webdav_mkcol_missing_parent")
    step("webdav_put_create")
    step("webdav_put_if_match_ok")                # same second: 204 and the same ETag
    step("webdav_put_if_match_same_second_passes")
    step("webdav_put_if_none_match_create")
    step("webdav_put_if_none_match_exists")
    step("webdav_put_if_match_absent")
    step("webdav_propfind_depth1")
    step("webdav_propfind_allprop_file")
    got = step("webdav_get")
    assert got.body == b"hello v3 stale\n"
    assert got.headers["content-disposition"] == load("webdav_get")["response"]["headers"]["Content-Disposition"]
    step("webdav_get_not_modified")

    # /cc: a stale writer one second later
    cloud.clock.advance(5)
    cloud.send("MKCOL", "/remote.php/dav/files/admin/cc", user="admin")
    first = cloud.send("PUT", "/remote.php/dav/files/admin/cc/a.txt", body=b"four", user="admin")
    cloud.etags['"6642d8a0c36b4c639368eb95d9432a1e"'] = first.headers["etag"]
    cloud.clock.advance(2)
    second = cloud.send("PUT", "/remote.php/dav/files/admin/cc/a.txt", body=b"five", user="admin")
    cloud.etags['"67c9c8bf9be01fb2b604acc46f8c8dc5"'] = second.headers["etag"]
    assert first.headers["etag"] != second.headers["etag"]
    step("webdav_put_if_match_stale_412")
    step("webdav_delete_if_match_stale")
    assert cloud.emu.file("admin", "cc/a.txt") == b"five"

    step("webdav_put_x_oc_mtime")
    listing = cloud.send("PROPFIND", "/remote.php/dav/files/admin/cc/m.txt", {"Depth": "0"}, user="admin")
    assert "Tue, 14 Nov 2023 22:13:20 GMT" in listing.text  # X-OC-Mtime 1700000000
    step("webdav_move")                           # the ETag of m.txt comes back: kept across MOVE
    step("webdav_put_oc_checksum")
    checks = cloud.send("PROPFIND", "/remote.php/dav/files/admin/cc/c.txt", {"Depth": "0"},
                        b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:checksums/>'
                        b"</d:prop></d:propfind>", user="admin")
    assert "SHA1:ad5e8f5b6a6e3d7a7fd36a0c1c4b7e3f1c4b2a1d" in checks.text
    c_id = cloud.send("PROPFIND", "/remote.php/dav/files/admin/cc/c.txt", {"Depth": "0"},
                      b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:id/></d:prop>'
                      b"</d:propfind>", user="admin")
    c_oc_id = ET.fromstring(c_id.body).findtext(f".//{{{OC}}}id")
    step("webdav_move_no_overwrite")
    moved = step("webdav_move_overwrite")
    assert moved.headers["oc-fileid"] == c_oc_id  # the moved file keeps its id (contract §2)
    reply, fx = cloud.replay("webdav_put_x_hash")
    assert_exchange(reply, fx)
    assert reply.headers["x-hash-sha256"] == fx["response"]["headers"]["X-Hash-SHA256"]

    cloud.send("PUT", "/remote.php/dav/files/admin/cc/copy.txt", body=b"copy", user="admin")  # COPY not emulated
    step("webdav_delete")
    step("webdav_delete_missing")
    step("webdav_get_missing")


def test_folder_etags_follow_the_contract_table(cloud):
    def etags() -> dict[str, str]:
        r = cloud.send("PROPFIND", "/remote.php/dav/files/admin/", {"Depth": "infinity"}, user="admin")
        return {x["href"]: x["props"]["200"][f"{{{D}}}getetag"].text for x in responses(ET.fromstring(r.body))}

    for path in ("/remote.php/dav/files/admin/top", "/remote.php/dav/files/admin/top/sub"):
        cloud.send("MKCOL", path, user="admin")
    cloud.send("PUT", "/remote.php/dav/files/admin/top/sub/f.txt", body=b"x", user="admin")
    f, sub, top = ("/remote.php/dav/files/admin/top/sub/f.txt", "/remote.php/dav/files/admin/top/sub/",
                   "/remote.php/dav/files/admin/top/")
    cloud.clock.advance(2)
    before = etags()
    cloud.send("PUT", "/remote.php/dav/files/admin/top/sub/f.txt", body=b"x", user="admin")  # identical content
    after = etags()
    assert all(before[k] != after[k] for k in (f, sub, top))
    cloud.clock.advance(2)
    cloud.send("PUT", "/remote.php/dav/files/admin/top/sub/sibling.txt", body=b"y", user="admin")
    third = etags()
    assert third[f] == after[f] and third[sub] != after[sub] and third[top] != after[top]
    cloud.send("GET", "/remote.php/dav/files/admin/top/sub/f.txt", user="admin")
    assert etags() == third


BAD_PATHS = ["bad_path_backslash", "bad_path_colon_star", "bad_path_dotdot_encoded", "bad_path_dotdot_encoded_slash",
             "bad_path_dotdot_escape_files_root", "bad_path_dotdot_raw", "bad_path_emoji", "bad_path_htaccess",
             "bad_path_long_name_260", "bad_path_newline", "bad_path_nul_byte", "bad_path_other_user_space",
             "bad_path_part_ext", "bad_path_trailing_dot", "bad_path_trailing_space", "bad_path_unicode_nfd",
             "bad_path_user_ini"]


@pytest.mark.parametrize("name", BAD_PATHS)
def test_bad_paths(cloud, name):
    cloud.send("MKCOL", "/remote.php/dav/files/admin/cc", user="admin")
    reply, fx = cloud.replay(name)
    assert_exchange(reply, fx, body=mime(fx["response"]["headers"]["Content-Type"]) != "text/html")
    status = fx["response"]["status"]
    written = cloud.emu.listdir("admin", "cc")
    if status == 201:
        assert len(written) == 1
    else:  # nothing written anywhere
        assert written == [] and cloud.emu.listdir("alice") == [] and set(cloud.emu.listdir("admin")) == {"cc"}
    if name == "bad_path_unicode_nfd":
        listing = cloud.send("PROPFIND", "/remote.php/dav/files/admin/cc", {"Depth": "1"}, user="admin")
        assert "/cc/%c3%a9mile.txt" in listing.text and written == ["émile.txt"]


# ------------------------------------------------------------------------------------------------ CardDAV


def test_carddav_scenario(cloud):
    def step(name: str, **kw: Any) -> Reply:
        reply, fx = cloud.replay(name, **kw)
        assert_exchange(reply, fx)
        return reply

    step("carddav_list_addressbooks")
    step("carddav_mkcol_addressbook")
    step("carddav_mkcol_addressbook_exists")
    assert sync_token(step("carddav_sync_initial_empty")) == "http://sabre.io/ns/sync/1"
    step("carddav_put_vcard4_create")             # card ETags are md5 of the text: compared exactly
    step("carddav_put_vcard3_create")
    for name in ("carddav_put_vcard4_create", "carddav_put_vcard3_create"):
        recorded = load(name)["response"]["headers"]["ETag"]
        assert cloud.etags[recorded] == recorded
    got = step("carddav_get_vcard4")              # stored 4.0, served as 3.0 with a PRODID
    assert got.text == load("carddav_get_vcard4")["response"]["body"]
    reply = step("carddav_sync_after_creates")
    assert reply.text.count("<d:response>") == 2 and sync_token(reply) == "http://sabre.io/ns/sync/3"
    assert '"c032f29a02de7b339a10a51f35708ecb"'.replace('"', "&quot;") in reply.text
    step("carddav_put_vcard_update_if_match")
    step("carddav_put_vcard_update_stale")
    got = step("carddav_get_vcard4_with_accept")
    assert got.text == load("carddav_get_vcard4_with_accept")["response"]["body"]
    assert got.headers["content-type"] == "text/vcard; version=4.0; charset=utf-8"
    got = step("carddav_get_vcard3_as_v4")
    assert got.text == load("carddav_get_vcard3_as_v4")["response"]["body"]
    step("carddav_delete_vcard")
    reply = step("carddav_sync_after_update_delete")
    assert sync_token(reply) == "http://sabre.io/ns/sync/5" and "404 Not Found" in reply.text
    assert sync_token(step("carddav_sync_no_changes")) == "http://sabre.io/ns/sync/5"
    assert sync_token(step("carddav_sync_invalid_token")) == "http://sabre.io/ns/sync/5"  # future token accepted
    step("carddav_sync_garbage_token")
    step("carddav_propfind_addressbook_depth1")
    reply = step("carddav_multiget")              # the deleted card is silently omitted
    data = ET.fromstring(reply.body).findtext(f".//{{{CARD}}}address-data")
    assert data == ET.fromstring(load("carddav_multiget")["response"]["body"].encode()).findtext(
        f".//{{{CARD}}}address-data")
    reply = step("carddav_multiget_v4")
    assert "VERSION:4.0\r\nUID:actor-0001" in ET.fromstring(reply.body).findtext(f".//{{{CARD}}}address-data")

    step("carddav_put_duplicate_uid")
    step("carddav_put_invalid_not_vcard")
    step("carddav_put_vcard21")
    step("carddav_put_invalid_unterminated")      # accepted verbatim
    step("carddav_put_vcard_without_fn")          # repaired: no ETag
    step("carddav_put_vcard_without_uid")
    step("carddav_put_wrong_content_type")
    step("carddav_put_two_vcards_one_body")
    step("carddav_put_nested_path")
    stored = cloud.emu.cards("admin", "actors-test")
    assert stored["bad2.vcf"] == load("carddav_put_invalid_unterminated")["request"]["body"]
    assert "FN:nofn@example.org" in stored["nofn.vcf"] and "UID:" in stored["nouid.vcf"]
    cloud.send("PUT", "/remote.php/dav/addressbooks/users/admin/actors-test/rapid.vcf",
               {"Content-Type": "text/vcard"},
               b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:rapid\r\nFN:Rapid 1\r\nEND:VCARD\r\n",
               user="admin")
    step("carddav_put_if_none_match_exists")

    # paging: recorded ids differ from ours, so each page's token is carried over
    step("carddav_sync_with_limit")
    page0 = step("carddav_sync_with_limit_page0")
    cloud.subst["http://sabre.io/ns/sync/init_9_11"] = sync_token(page0)
    page1 = step("carddav_sync_with_limit_page1")
    cloud.subst["http://sabre.io/ns/sync/init_11_11"] = sync_token(page1)
    page2 = step("carddav_sync_with_limit_page2")
    last = cloud.send("REPORT", "/remote.php/dav/addressbooks/users/admin/actors-test/",
                      {"Content-Type": "application/xml"},
                      ('<d:sync-collection xmlns:d="DAV:"><d:sync-token>' + sync_token(page2) + "</d:sync-token>"
                       "<d:sync-level>1</d:sync-level><d:limit><d:nresults>2</d:nresults></d:limit>"
                       "<d:prop><d:getetag/></d:prop></d:sync-collection>").encode(), user="admin")
    assert "rapid.vcf" in last.text and "507" not in last.text
    assert re.fullmatch(r"http://sabre\.io/ns/sync/\d+", sync_token(last))

    # sharing with the group, as seen by a member
    step("carddav_share_addressbook_with_group")
    step("carddav_list_addressbooks_as_group_member", kind="app")
    step("carddav_write_to_readonly_shared_addressbook")
    member_sync = cloud.send("REPORT", "/remote.php/dav/addressbooks/users/alice/actors-test_shared_by_admin/",
                             {"Content-Type": "application/xml"},
                             b'<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>'
                             b"<d:prop><d:getetag/></d:prop></d:sync-collection>", user="alice")
    assert member_sync.status == 207 and "actor-0001.vcf" in member_sync.text
    step("carddav_admin_write_other_users_addressbook")
    step("carddav_mkcol_over_limit")


def test_dav_discovery(cloud):
    for name in ("dav_current_user_principal", "dav_principal_homes"):
        reply, fx = cloud.replay(name)
        assert_exchange(reply, fx)
    reply, fx = cloud.replay("wellknown_carddav")
    assert_exchange(reply, fx, body=False)
    assert reply.headers["location"] == f"{cloud.url}/remote.php/dav/"


# ------------------------------------------------------------------------------------------------ CalDAV


def test_caldav_scenario(cloud):
    def step(name: str, **kw: Any) -> Reply:
        reply, fx = cloud.replay(name, **kw)
        assert_exchange(reply, fx)
        return reply

    step("caldav_list_calendars")
    step("caldav_mkcalendar")
    step("caldav_put_event_create")               # calendar object ETags are md5 of the text: compared exactly
    recorded = load("caldav_put_event_create")["response"]["headers"]["ETag"]
    assert cloud.etags[recorded] == recorded
    got = step("caldav_get_event")
    assert got.text == load("caldav_get_event")["response"]["body"]
    assert got.headers["content-type"] == "text/calendar; charset=utf-8; component=vevent"
    step("caldav_put_event_update")
    step("caldav_put_event_update_stale")
    ev2 = load("caldav_put_event_create")["request"]["body"].replace("event-0001", "event-0002")
    created = cloud.send("PUT", "/remote.php/dav/calendars/admin/actors-events/event-0002.ics",
                         {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}, ev2.encode(),
                         user="admin")
    assert created.status == 201
    step("caldav_delete_event")
    reply = step("caldav_sync_changes")
    assert sync_token(reply) == "http://sabre.io/ns/sync/5" and "404 Not Found" in reply.text
    step("caldav_put_duplicate_uid")
    step("caldav_put_invalid_event")
    step("caldav_put_vtodo_into_vevent_calendar")


RECORDED_DIR = Path(__file__).resolve().parent / "recorded"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_caldav_share_with_a_group_as_recorded_on_nextcloud_34(cloud):
    """tests/contract/recorded/caldav_x1..x9: share a calendar with a group (encoded principal), read oc:invite,
    a member reads the events and cannot change, add or delete one (404 each, as recorded)."""
    tag = "t1"
    member, pw = f"membre{tag}", "member-login-password"
    cloud.emu.add_user(member, pw)
    cloud.emu.add_group(f"OSCARTES Réseau {tag}", [member])
    PASSWORDS[member] = (pw, pw)
    cloud.send("MKCALENDAR", f"/remote.php/dav/calendars/admin/oscartes-agenda-{tag}/",
               {"Content-Type": "application/xml"},
               b'<cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
               b"<d:displayname>Agenda OSCARTES</d:displayname><cal:supported-calendar-component-set>"
               b'<cal:comp name="VEVENT"/></cal:supported-calendar-component-set></d:prop></d:set></cal:mkcalendar>',
               user="admin")
    body = recorded("caldav_x9_owner_get_after_member_writes")["response"]["body"]
    cloud.send("PUT", f"/remote.php/dav/calendars/admin/oscartes-agenda-{tag}/ev1.ics",
               {"Content-Type": "text/calendar; charset=utf-8"}, body.encode(), user="admin")
    try:
        for name in ("caldav_x1_invite_before_share", "caldav_x2_share_calendar_with_group",
                     "caldav_x3_invite_after_share", "caldav_x4_member_lists_calendars", "caldav_x5_member_get_event",
                     "caldav_x6_member_put_event", "caldav_x7_member_put_new_event", "caldav_x8_member_delete_event",
                     "caldav_x9_owner_get_after_member_writes"):
            fx = json.loads(json.dumps(recorded(name)).replace("<TAG>", tag))
            req = fx["request"]
            user = re.search(r"user=(\w+)", req["headers"]["Authorization"]).group(1)
            headers = {k: v for k, v in req["headers"].items() if k != "Authorization"}
            reply = cloud.send(req["method"], req["path"], headers, (req["body"] or "").encode() or None, user=user)
            assert_exchange(reply, fx)
            if name in ("caldav_x5_member_get_event", "caldav_x9_owner_get_after_member_writes"):
                assert reply.text == fx["response"]["body"]
            if name == "caldav_x3_invite_after_share":
                assert "OSCARTES+R%C3%A9seau+t1" in reply.text and "<oc:read/>" in reply.text
    finally:
        PASSWORDS.pop(member, None)


def test_a_calendar_shared_under_a_raw_group_name_reaches_no_member(cloud):
    """Contract §8: sent raw, the share is listed in oc:invite but no member gets the calendar."""
    cloud.emu.add_group("Mon Groupe", ["alice"])
    cloud.send("MKCALENDAR", "/remote.php/dav/calendars/admin/agenda/", {"Content-Type": "application/xml"},
               b'<cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"/>', user="admin")
    for href, reaches in (("Mon Groupe", False), ("Mon%20Groupe", False), ("Mon+Groupe", True)):
        cloud.send("POST", "/remote.php/dav/calendars/admin/agenda/", {"Content-Type": "application/xml"},
                   ('<oc:share xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><oc:set><d:href>principal:principals'
                    f"/groups/{href}</d:href></oc:set></oc:share>").encode(), user="admin")
        listing = cloud.send("PROPFIND", "/remote.php/dav/calendars/alice/", {"Depth": "1"}, user="alice")
        assert ("agenda_shared_by_admin" in listing.text) is reaches, href


def test_a_file_of_a_folder_shared_by_link_is_served_anonymously_as_recorded(cloud):
    """tests/contract/recorded/public_x1: the events' feed is subscribed at public.php/dav/files/<token>/<name>."""
    from oscartes_sync.publish.calendar import feed_url

    fx = recorded("public_x1_file_in_shared_folder")
    setup = fx["setup"]
    cloud.send("MKCOL", f"/remote.php/dav/files/admin/{setup['folder']}", user="admin")
    cloud.send("PUT", f"/remote.php/dav/files/admin/{setup['folder']}/{setup['file']}",
               {"Content-Type": "text/calendar; charset=utf-8"}, setup["body"].encode(), user="admin")
    share = cloud.send("POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                       {"OCS-APIRequest": "true", "Accept": "application/json",
                        "Content-Type": "application/x-www-form-urlencoded"},
                       f"path=/{setup['folder']}&shareType=3&permissions=1".encode(), user="admin").json()
    url = feed_url(share["ocs"]["data"]["url"])
    assert url == f"{cloud.url}{fx['request']['path'].replace('<TOKEN>', share['ocs']['data']['token'])}"
    reply = cloud.send("GET", urlsplit(url).path)
    assert reply.status == fx["response"]["status"] and reply.text == fx["response"]["body"]
    assert mime(reply.headers["content-type"]) == mime(fx["response"]["headers"]["Content-Type"])


# ------------------------------------------------------------------------------------------------ OCS


def test_ocs_shares_scenario(cloud):
    cloud.send("MKCOL", "/remote.php/dav/files/admin/cc", user="admin")
    cloud.send("PUT", "/remote.php/dav/files/admin/cc/share-me.txt", body=b"share me!\n", user="admin")

    def step(name: str, **kw: Any) -> Reply:
        reply, fx = cloud.replay(name, **kw)
        assert_exchange(reply, fx)
        return reply

    link = step("ocs_share_create_public_link").json()["ocs"]["data"]
    cloud.subst["RxymgxNE97egzkj"] = link["token"]
    step("ocs_share_list_all")
    step("ocs_share_list_by_path")
    step("ocs_share_get")
    reply = step("public_share_download")
    assert reply.headers["location"] == f"{cloud.url}/public.php/dav/files/{link['token']}"
    assert cloud.send("GET", urlsplit(reply.headers["location"]).path).body == b"share me!\n"
    step("ocs_share_create_public_link_folder")
    step("ocs_share_create_user")
    step("ocs_share_create_group")
    step("ocs_share_create_json_body")
    step("ocs_share_create_missing_path")
    step("ocs_share_delete")
    step("ocs_share_get_deleted")
    step("ocs_v2_share_get_missing")
    step("ocs_v1_share_get_missing")
    for share_id in [s.id for s in cloud.emu.shares.values() if s.share_type == 3]:
        del cloud.emu.shares[share_id]  # the recorded XML listing shows the user and the group share only
    reply, fx = cloud.replay("ocs_share_list_xml_default")
    assert_exchange(reply, fx, body=False)
    ours, theirs = ET.fromstring(reply.body), ET.fromstring(fx["response"]["body"].encode())
    assert ours.findtext("meta/statuscode") == theirs.findtext("meta/statuscode") == "200"
    assert [e.findtext("share_type") for e in ours.iter("element")] == \
        [e.findtext("share_type") for e in theirs.iter("element")]
    assert {c.tag for c in theirs.find("data/element")} <= {c.tag for c in ours.find("data/element")}


@pytest.mark.parametrize("name", ["ocs_missing_apirequest_header_basic_auth", "ocs_missing_apirequest_header_post",
                                  "ocs_missing_apirequest_header_provisioning",
                                  "ocs_missing_apirequest_header_with_session_cookie"])
def test_ocs_without_apirequest_header(cloud, name):
    reply, fx = cloud.replay(name)
    assert_exchange(reply, fx)
    assert cloud.emu.shares == {}


def test_ocs_capabilities_and_user(cloud):
    reply, fx = cloud.replay("ocs_capabilities")
    assert_exchange(reply, fx)
    assert reply.json()["ocs"]["data"]["version"] == fx["response"]["body"]["ocs"]["data"]["version"]
    reply, fx = cloud.replay("ocs_current_user")
    assert_exchange(reply, fx)
    ours, theirs = reply.json()["ocs"]["data"], fx["response"]["body"]["ocs"]["data"]
    assert (ours["id"], ours["groups"], ours["enabled"]) == (theirs["id"], theirs["groups"], theirs["enabled"])


def test_ocs_provisioning_reads_and_group_writes(cloud):
    def step(name: str, **kw: Any) -> Reply:
        reply, fx = cloud.replay(name, **kw)
        assert_exchange(reply, fx)
        if fx["response"]["status"] == 200 and isinstance(fx["response"]["body"]["ocs"]["data"], dict) \
                and set(fx["response"]["body"]["ocs"]["data"]) <= {"users", "groups"}:
            assert reply.json()["ocs"]["data"] == fx["response"]["body"]["ocs"]["data"], name
        return reply

    step("ocs_users_list")
    step("ocs_v1_users_list")
    step("ocs_users_search")
    step("ocs_users_list_as_non_admin")
    step("ocs_groups_list")
    step("ocs_group_members")
    reply = step("ocs_user_get")
    assert reply.json()["ocs"]["data"]["groups"] == ["oscartes"]
    step("ocs_user_get_missing")
    step("ocs_group_create")
    step("ocs_group_create_exists")
    step("ocs_group_delete")
    step("ocs_user_add_to_group_with_app_password_403")
    step("ocs_user_add_to_group_as_non_admin")
    assert "oscartes" not in cloud.emu.users["bob"].groups
    step("ocs_user_add_to_group")
    step("ocs_user_add_to_group_again")
    step("ocs_user_groups")
    step("ocs_user_add_to_missing_group")
    step("ocs_user_remove_from_group")
    assert "oscartes" not in cloud.emu.users["bob"].groups
