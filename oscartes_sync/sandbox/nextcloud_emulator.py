"""In-memory emulator of the Nextcloud 34 routes the product uses, speaking real HTTP through WSGI.

Faithful to the contract recorded in ``shared/nextcloud-contract`` (README + fixtures), quirks included:

* WebDAV files (``/remote.php/dav/files/<user>/...``): PROPFIND (Depth 0/1/infinity, named props, allprop,
  unknown props in a 404 propstat), GET (304 on If-None-Match), PUT (201/204, If-Match / If-None-Match: *,
  412 with the current ETag, X-OC-Mtime, OC-Checksum, X-Hash), MKCOL (405 exists, 409 missing parent), MOVE
  (fileid kept, Overwrite: F → 412), DELETE. **A file ETag only changes when its mtime second changes**:
  several writes within one second keep the first ETag. Folder ETags change on every change below them.
  Names are stored NFC; the names Nextcloud refuses (``.htaccess``, ``*.part``, control characters, > 255
  bytes, backslash), ``%2f`` / ``%00`` (the web server's 404 page) and ``..`` escapes behave as recorded.
* CardDAV (``/remote.php/dav/addressbooks/users/<user>/<book>/``): extended MKCOL, listing, PUT (card ETag =
  md5 of the stored text; server-side UID/FN repair without ETag; duplicate UID 400; 415 for non-vCard and
  vCard 2.1; lenient for the rest), GET as vCard 3.0 by default or 4.0 per Accept, DELETE, REPORT
  addressbook-multiget and sync-collection (numeric tokens ``http://sabre.io/ns/sync/N``, paging with
  ``<d:limit>`` and ``init_<lastid>_<token>`` tokens plus a 507 entry, 403 InvalidSyncToken for a
  malformed token, a future numeric token silently accepted), ``oc:share`` POST to share a book with a
  group and ``oc:invite`` to read who it is shared with. The share is stored under the principal as sent
  (``principals/groups/<id as written>``) and listed in ``oc:invite`` that way, but only a share written the
  way Nextcloud encodes group principals (PHP ``urlencode``: ``OSCARTES+P%C3%B4leS+NOE``) reaches the
  group's members (``<book>_shared_by_<owner>``, read-only: their PUT and DELETE get 404); a raw or ``%20``
  name is accepted (200) and listed, and delivers nothing; a group that does not exist is silently dropped.
  Share requests are limited per account (``share_limit``: 20 per 3600 s, as Nextcloud's defaults); the next
  one answers 429 "Too many addressbook or calendar share requests" (recorded fixture nc_share_18).
* OCS (``/ocs/v1.php`` and ``/ocs/v2.php``): ``OCS-APIRequest: true`` mandatory (412 CSRF otherwise), JSON or
  XML, files_sharing shares (create link / user / group shares, list, get, delete), capabilities, current
  user, read-only provisioning (users, groups, members) and group writes (app passwords refused with 403).
* Auth: HTTP Basic with the login password or an app password; 401 as recorded for DAV and OCS; after
  ``bruteforce_after`` failed logins from one address, every request from it gets 429 (``reset_bruteforce``).
* Public links: ``/s/<token>/download`` → 303 to ``/public.php/dav/files/<token>``, which serves the file.

* CalDAV (``/remote.php/dav/calendars/<user>/...``): in ``nextcloud_caldav``.

Not emulated: chunked uploads, COPY, trash bin, share updates/passwords, jCard, addressbook-query,
account provisioning writes. Approximations: vCard 3.0 ↔ 4.0 conversion only rewrites VERSION and adds a
PRODID (enough for simple cards); the lockout answer of non-DAV routes reuses the DAV XML body.

Usage::

    emu = NextcloudEmulator("cloud")
    emu.add_user("sync", "login-password", app_password="app-password", admin=True)
    emu.add_group("network")
    with start_server(emu) as server:
        requests.request("PROPFIND", server.url + "remote.php/dav/files/sync/", auth=("sync", "app-password"))
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import secrets
import threading
import traceback
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable, Iterable
from urllib.parse import unquote, unquote_plus, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape, quoteattr

from werkzeug.wrappers import Request, Response

from .yeswiki_emulator import ManualClock  # noqa: F401 - re-exported for tests of same-second behaviour
from .recording import Fault, RequestRecorder

VERSION = {"major": 34, "minor": 0, "micro": 1, "string": "34.0.1", "edition": "", "extendedSupport": False}

D, S, OC, NC = "DAV:", "http://sabredav.org/ns", "http://owncloud.org/ns", "http://nextcloud.org/ns"
CARD, CS = "urn:ietf:params:xml:ns:carddav", "http://calendarserver.org/ns/"
PREFIXES = {D: "d", S: "s", CARD: "card", OC: "oc", NC: "nc", CS: "cs", "urn:ietf:params:xml:ns:caldav": "cal"}
SYNC_PREFIX = "http://sabre.io/ns/sync/"
PRODID = "PRODID:-//Sabre//Sabre VObject 4.5.6//EN"

DAV_HEADER = ("1, 3, extended-mkcol, access-control, calendarserver-principal-property-search, "
              "oc-resource-sharing, addressbook, nc-paginate, nextcloud-checksum-update, nc-calendar-search, "
              "nc-enable-birthday-calendar, 2")
XML_CT = "application/xml; charset=utf-8"
HTML_CT = "text/html; charset=UTF-8"
JSON_CT = "application/json; charset=utf-8"
APACHE_404 = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
              "<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
              "<p>The requested URL was not found on this server.</p>\n</body></html>\n")
NOT_AUTH_MISSING = ("No public access to this resource., AppAPIAuth has not passed, This request is not for a "
                    "federated calendar, No 'Authorization: Basic' header found. Either the client didn't send "
                    "one, or the server is misconfigured, No 'Authorization: Bearer' header found. Either the "
                    "client didn't send one, or the server is mis-configured, No 'Authorization: Basic' header "
                    "found. Either the client didn't send one, or the server is misconfigured")
NOT_AUTH_WRONG = ("No public access to this resource., AppAPIAuth has not passed, This request is not for a "
                  "federated calendar, Username or password was incorrect, No 'Authorization: Bearer' header "
                  "found. Either the client didn't send one, or the server is mis-configured, Username or "
                  "password was incorrect")
# Permissions bitmask of shares (contract §3).
P_READ, P_UPDATE, P_CREATE, P_DELETE, P_SHARE = 1, 2, 4, 8, 16
SYSTEM_BOOK = "z-server-generated--system"
RECENT_BOOK = "z-app-generated--contactsinteraction--recent"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def encode_path(path: str) -> str:
    """Sabre's encodePath: everything but [A-Za-z0-9_-.~()/:@] as lower-case %xx of the UTF-8 bytes."""
    out = []
    for byte in path.encode("utf-8"):
        ch = chr(byte)
        if ch.isascii() and (ch.isalnum() or ch in "_-.~()/:@"):
            out.append(ch)
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def php_urlencode(text: str) -> str:
    """PHP's urlencode, which Nextcloud's GroupPrincipalBackend applies to a group id to build its principal:
    '+' for a space, upper-case %XX for every byte but [A-Za-z0-9_.-]."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch == " ":
            out.append("+")
        elif ch.isascii() and (ch.isalnum() or ch in "_.-"):
            out.append(ch)
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def http_date(ts: int) -> str:
    return format_datetime(datetime.fromtimestamp(ts, timezone.utc), usegmt=True)


class Raw(str):
    """A property value that is already XML (resourcetype, hrefs)."""


class DavError(Exception):
    """A Sabre exception: answered as `<d:error>` XML."""

    def __init__(self, status: int, exception: str, message: str = "", *, extra: str = "",
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.exception = exception
        self.message = message
        self.extra = extra
        self.headers = headers or {}


def sabre_error(status: int, exception: str, message: str = "", extra: str = "",
                headers: dict[str, str] | None = None) -> Response:
    msg = f"<s:message>{escape(message)}</s:message>" if message else "<s:message/>"
    body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"'
            + (' xmlns:o="http://owncloud.org/ns"' if "<o:" in extra else "") + ">\n"
            f"  <s:exception>{escape(exception)}</s:exception>\n  {msg}\n" + (f"  {extra}\n" if extra else "")
            + "</d:error>\n")
    resp = Response(body, status=status, content_type=XML_CT)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def invalid_path(message: str) -> DavError:
    extra = (f'<o:retry xmlns:o="o:">false</o:retry>\n  <o:reason xmlns:o="o:">{escape(message)}</o:reason>')
    return DavError(400, "OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath", message, extra=extra)


def precondition(header: str, message: str, etag: str | None = None) -> DavError:
    return DavError(412, "Sabre\\DAV\\Exception\\PreconditionFailed", message,
                    extra=f"<s:header>{header}</s:header>", headers={"ETag": etag} if etag else {})


def not_found(message: str) -> DavError:
    return DavError(404, "Sabre\\DAV\\Exception\\NotFound", message)


# ---------------------------------------------------------------------------------------------------- model


@dataclass
class User:
    name: str
    password: str
    app_passwords: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    admin: bool = False
    email: str | None = None
    displayname: str = ""


@dataclass
class Node:
    is_dir: bool
    fileid: int
    mtime: int
    etag: str
    data: bytes = b""
    checksum: str | None = None
    upload_time: int = 0


@dataclass
class Card:
    id: int
    uri: str
    data: str
    etag: str
    uid: str | None
    mtime: int


@dataclass
class Book:
    owner: str
    uri: str
    displayname: str
    description: str = ""
    synctoken: int = 1
    cards: dict[str, Card] = field(default_factory=dict)
    changes: list[tuple[int, str]] = field(default_factory=list)  # (synctoken, uri), oldest first
    # shares in the order they were set: principal URI as the owner wrote it ("principals/groups/...") -> read-write
    shared_with: dict[str, bool] = field(default_factory=dict)
    has_sync_token: bool = True


@dataclass
class BookView:
    """A book as one user sees it (own, shared with one of their groups, or a system book)."""

    book: Book
    name: str
    read_only: bool
    owner_principal: str | None


@dataclass
class Share:
    id: int
    share_type: int
    owner: str
    path: str
    fileid: int
    parent_fileid: int
    is_dir: bool
    permissions: int
    stime: int
    share_with: str | None = None
    token: str | None = None
    label: str = ""
    expiration: str | None = None




@dataclass
class Ctx:
    request: Request
    method: str
    path: str                       # decoded, normalised, NFC
    raw_path: str
    base_url: str                   # scheme://host (no trailing slash)
    user: str | None = None
    auth_kind: str | None = None    # "login" | "app"


# ---------------------------------------------------------------------------------------------------- vCard


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for line in re.split(r"\r\n|\n|\r", text):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def _vcard_prop(text: str, name: str) -> str | None:
    """Value of the first `name` property of the first card (params ignored)."""
    for line in _unfold(text):
        head, sep, value = line.partition(":")
        if sep and head.split(";", 1)[0].strip().upper() == name:
            return value.strip()
        if line.strip().upper() == "END:VCARD":
            break
    return None


def _convert_card(text: str, version: str) -> str:
    """Sabre's on-the-fly 3.0 <-> 4.0 conversion, for simple cards: VERSION rewritten, PRODID added."""
    if not re.search(r"^END:VCARD\s*$", text, re.M | re.I):
        return text
    current = _vcard_prop(text, "VERSION")
    if current == version:
        return text
    lines = text.split("\r\n")
    out: list[str] = []
    has_prodid = any(line.upper().startswith("PRODID") for line in lines)
    for line in lines:
        if line.upper().startswith("VERSION:"):
            out.append(f"VERSION:{version}")
            if not has_prodid:
                out.append(PRODID)
        else:
            out.append(line)
    return "\r\n".join(out)


# ---------------------------------------------------------------------------------------------------- XML out


class _NS:
    """Prefixes for a multistatus document: the known ones, x1, x2 ... for the others (inline xmlns)."""

    def __init__(self) -> None:
        self.extra: dict[str, str] = {}

    def tag(self, clark: str) -> tuple[str, str]:
        ns, _, local = clark[1:].partition("}")
        if ns in PREFIXES:
            return f"{PREFIXES[ns]}:{local}", ""
        prefix = self.extra.setdefault(ns, f"x{len(self.extra) + 1}")
        return f"{prefix}:{local}", f" xmlns:{prefix}={quoteattr(ns)}"


def _prop_xml(ns: _NS, clark: str, value: Any) -> str:
    name, decl = ns.tag(clark)
    if value is None or value == "":
        return f"<{name}{decl}/>"
    if isinstance(value, Raw):
        return f"<{name}{decl}>{value}</{name}>"
    text = escape(str(value)).replace('"', "&quot;").replace("\r", "&#13;")
    return f"<{name}{decl}>{text}</{name}>"


STATUS_TEXT = {200: "OK", 404: "Not Found", 507: "Insufficient Storage", 403: "Forbidden"}


def multistatus(responses: list[tuple[str, Any]], sync_token: str | None = None) -> Response:
    """`responses`: (href, [(status, {clark: value})]) or (href, status) for a bare status entry."""
    ns = _NS()
    parts = ['<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" '
             'xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:oc="http://owncloud.org/ns" '
             'xmlns:nc="http://nextcloud.org/ns" xmlns:cs="http://calendarserver.org/ns/" '
             'xmlns:cal="urn:ietf:params:xml:ns:caldav">']
    for href, body in responses:
        parts.append(f"<d:response><d:href>{escape(href)}</d:href>")
        if isinstance(body, int):
            parts.append(f"<d:status>HTTP/1.1 {body} {STATUS_TEXT.get(body, '')}</d:status>")
        else:
            for status, props in body:
                if not props:
                    continue
                inner = "".join(_prop_xml(ns, k, v if status == 200 else None) for k, v in props.items())
                parts.append(f"<d:propstat><d:prop>{inner}</d:prop>"
                             f"<d:status>HTTP/1.1 {status} {STATUS_TEXT.get(status, '')}</d:status></d:propstat>")
        parts.append("</d:response>")
    if sync_token is not None:
        parts.append(f"<d:sync-token>{escape(sync_token)}</d:sync-token>")
    parts.append("</d:multistatus>\n")
    resp = Response("".join(parts), status=207, content_type=XML_CT)
    resp.headers["DAV"] = DAV_HEADER
    return resp


def _split_props(wanted: list[str] | None, available: dict[str, Any], allprop: tuple[str, ...]) -> list:
    if wanted is None:
        return [(200, {k: available[k] for k in allprop if k in available})]
    found = {k: available[k] for k in wanted if k in available and available[k] is not None}
    missing = {k: None for k in wanted if k not in found}
    return [(200, found), (404, missing)]


def _parse_xml(body: bytes) -> ET.Element | None:
    if not body.strip():
        return None
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise DavError(400, "Sabre\\Xml\\ParseException", "The request body is not valid XML") from None


def _requested_props(root: ET.Element | None) -> list[str] | None:
    """Clark names asked by a PROPFIND/REPORT body, None for allprop."""
    if root is None or root.find(f"{{{D}}}allprop") is not None:
        return None
    prop = root.find(f"{{{D}}}prop")
    return [child.tag for child in prop] if prop is not None else None


# ---------------------------------------------------------------------------------------------------- emulator


class NextcloudEmulator(RequestRecorder):
    """A Nextcloud 34 as a WSGI app. Setup/inspection helpers do not go through HTTP; every change the sync or
    a member makes must go through HTTP."""

    def __init__(self, name: str = "cloud", *, now: Callable[[], datetime] | None = None,
                 instance_id: str = "ocemu0000001", bruteforce_after: int = 10,
                 share_limit: tuple[int, int] = (20, 3600)):
        self.name = name
        self.now: Callable[[], datetime] = now or _utcnow
        self.instance_id = instance_id
        self.bruteforce_after = bruteforce_after
        self.share_limit = share_limit  # (share requests, per seconds) per account: dav app defaults
        self._share_attempts: dict[str, list[int]] = {}  # user -> expiry times of the accepted share requests
        self._lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.groups: set[str] = set()
        self.files: dict[str, dict[tuple[str, ...], Node]] = {}
        self.books: dict[tuple[str, str], Book] = {}
        self.shares: dict[int, Share] = {}
        self.failed_logins: dict[str, int] = {}
        self.request_log: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._next_fileid = 100
        self._next_card_id = 1
        self._next_share_id = 1
        self._system_book = Book("system", SYSTEM_BOOK, "Accounts", synctoken=1)
        from .nextcloud_caldav import CalDav  # imports this module: late import
        self.caldav = CalDav(self)

    # ------------------------------------------------------------------ clock, ids
    def _ts(self) -> int:
        now = self.now()
        return int((now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp())

    def _fileid(self) -> int:
        self._next_fileid += 1
        return self._next_fileid

    def _oc_id(self, fileid: int) -> str:
        return f"{fileid:08d}{self.instance_id}"

    @staticmethod
    def _dir_etag() -> str:
        return secrets.token_hex(7)[:13]  # uniqid(): 13 hex chars, new on every change

    @staticmethod
    def _file_etag(mtime: int, fileid: int, size: int) -> str:
        return hashlib.md5(f"{mtime}|{fileid}|{size}".encode()).hexdigest()

    # ------------------------------------------------------------------ setup helpers
    def add_user(self, name: str, password: str, app_password: str | None = None, groups: Iterable[str] = (),
                 *, admin: bool = False, email: str | None = None) -> None:
        with self._lock:
            user = User(name, password, {app_password} if app_password else set(), set(groups), admin, email,
                        name)
            self.users[name] = user
            self.groups.update(user.groups)
            if admin:
                self.groups.add("admin")
                user.groups.add("admin")
            self.files[name] = {(): Node(True, self._fileid(), self._ts(), self._dir_etag())}
            self.books[(name, "contacts")] = Book(name, "contacts", "Contacts")

    def add_app_password(self, user: str, app_password: str) -> None:
        with self._lock:
            self.users[user].app_passwords.add(app_password)

    def add_group(self, name: str, members: Iterable[str] = ()) -> None:
        with self._lock:
            self.groups.add(name)
            for m in members:
                self.users[m].groups.add(name)

    def put_file(self, user: str, path: str, data: bytes, mtime: int | None = None) -> None:
        """Write a file as a member would through the web UI (folders created as needed)."""
        with self._lock:
            parts = tuple(unicodedata.normalize("NFC", p) for p in path.strip("/").split("/"))
            tree = self.files[user]
            for i in range(1, len(parts)):
                if parts[:i] not in tree:
                    tree[parts[:i]] = Node(True, self._fileid(), self._ts(), self._dir_etag())
            self._write(user, parts, data, mtime)

    # ------------------------------------------------------------------ inspection helpers
    def file(self, user: str, path: str) -> bytes | None:
        with self._lock:
            node = self.files[user].get(tuple(p for p in path.strip("/").split("/") if p))
            return None if node is None or node.is_dir else node.data

    def listdir(self, user: str, path: str = "") -> list[str]:
        with self._lock:
            key = tuple(p for p in path.strip("/").split("/") if p)
            return sorted(k[-1] for k in self.files[user] if len(k) == len(key) + 1 and k[:len(key)] == key)

    def book(self, owner: str, uri: str) -> Book | None:
        with self._lock:
            return self.books.get((owner, uri))

    def cards(self, owner: str, uri: str) -> dict[str, str]:
        with self._lock:
            book = self.books.get((owner, uri))
            return {c.uri: c.data for c in book.cards.values()} if book else {}

    def edit_card(self, owner: str, uri: str, card_uri: str, data: str) -> None:
        """A card edited in the Contacts app (no HTTP: another client of the same server)."""
        with self._lock:
            self._store_card(self.books[(owner, uri)], card_uri, data)


    def delivered_to(self, owner: str, uri: str) -> list[str]:
        """The groups whose members receive the book (shares written the way that reaches them)."""
        with self._lock:
            book = self.books.get((owner, uri))
            return sorted(g for g in self.groups if book and self._group_principal(g) in book.shared_with)

    @staticmethod
    def _group_principal(group: str) -> str:
        return "principals/groups/" + php_urlencode(group)

    def reset_bruteforce(self, address: str | None = None) -> None:
        """`occ security:bruteforce:reset <ip>` (all addresses when None)."""
        with self._lock:
            if address is None:
                self.failed_logins.clear()
            else:
                self.failed_logins.pop(address, None)




    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or request.full_path
        raw_path, _, raw_qs = raw_uri.partition("?")
        if "://" in raw_path:  # absolute-form request target
            raw_path = urlsplit(raw_path).path
        method = request.method.upper()
        logged = raw_path + (f"?{raw_qs}" if raw_qs else "")
        faulty = self._record(method, logged, environ, start_response)
        if faulty is not None:
            return faulty
        try:
            response = self._dispatch(request, method, raw_path)
        except DavError as exc:
            response = sabre_error(exc.status, exc.exception, exc.message, exc.extra, exc.headers)
        except Exception:  # noqa: BLE001 - an emulator crash must look like a server error
            response = sabre_error(500, "Exception", "emulator crash: " + traceback.format_exc(limit=3))
        response.headers["X-Request-Id"] = secrets.token_urlsafe(15)[:20]
        return response(environ, start_response)

    def _fault_response(self, kind: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if kind == "429":  # the brute-force throttle's answer (nextcloud-contract auth_bruteforce_throttled)
            return sabre_error(429, "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests", "",
                               extra='<o:hint xmlns:o="o:">too many requests</o:hint>')(environ, start_response)
        if kind == "html200":
            return Response("<!DOCTYPE html><html><body><h1>Maintenance mode</h1><p>This Nextcloud instance is "
                            "currently in maintenance mode.</p></body></html>", status=200,
                            content_type=HTML_CT)(environ, start_response)
        return sabre_error(500, "Sabre\\DAV\\Exception", "injected fault")(environ, start_response)

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, request: Request, method: str, raw_path: str) -> Response:
        address = request.remote_addr or "127.0.0.1"
        with self._lock:
            if self.failed_logins.get(address, 0) >= self.bruteforce_after:
                return sabre_error(429, "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests", "",
                                   extra='<o:hint xmlns:o="o:">too many requests</o:hint>')
        low = raw_path.lower()
        if "%2f" in low or "%00" in low:
            # Apache refuses encoded slashes and NUL bytes before Nextcloud sees the request.
            return Response(APACHE_404, status=404, content_type="text/html; charset=iso-8859-1")
        path = self._normalise(raw_path)
        if path is None:
            return Response("<!DOCTYPE html>\n<html><head><title>Nextcloud</title></head><body>Internal Server "
                            "Error</body></html>", status=500, content_type=HTML_CT)
        ctx = Ctx(request, method, path, raw_path, request.host_url.rstrip("/"))
        if path == "/.well-known/carddav" or path == "/.well-known/caldav":
            resp = Response("<html><body>Moved</body></html>", status=301,
                            content_type="text/html; charset=iso-8859-1")
            resp.headers["Location"] = f"{ctx.base_url}/remote.php/dav/"
            return resp
        if path.startswith("/s/") or path.startswith("/index.php/s/"):
            return self._public_link(ctx)
        if path.startswith("/public.php/dav/files/"):
            return self._public_dav(ctx)
        if path == "/status.php":
            return Response(json.dumps({"installed": True, "maintenance": False, "needsDbUpgrade": False,
                                        "version": "34.0.1.2", "versionstring": "34.0.1", "edition": "",
                                        "productname": "Nextcloud", "extendedSupport": False}),
                            content_type=JSON_CT)
        if path.startswith("/ocs/v1.php/") or path.startswith("/ocs/v2.php/"):
            return self._ocs(ctx)
        if path == "/remote.php/dav" or path.startswith("/remote.php/dav/"):
            refused = self._authenticate(ctx, ocs=False)
            if refused is not None:
                return refused
            try:
                response = self._dav(ctx)
            except DavError as exc:
                response = sabre_error(exc.status, exc.exception, exc.message, exc.extra, exc.headers)
            if method == "PROPFIND":  # once authenticated, even a 404 carries it (recorded: nc_share_04)
                response.headers["DAV"] = DAV_HEADER
            return response
        return Response(APACHE_404, status=404, content_type="text/html; charset=iso-8859-1")

    @staticmethod
    def _normalise(raw_path: str) -> str | None:
        """Decoded path with dot segments resolved and NFC names; None when it climbs above the DAV root."""
        decoded = unquote_to_bytes(raw_path).decode("utf-8", "replace")
        trailing = decoded.endswith("/")
        out: list[str] = []
        for seg in decoded.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                if not out:
                    return None
                out.pop()
                continue
            out.append(unicodedata.normalize("NFC", seg))
        if decoded.startswith("/remote.php/dav/") and out[:2] != ["remote.php", "dav"]:
            return None  # Sabre: "out of base uri"
        return "/" + "/".join(out) + ("/" if trailing and out else "")

    # ------------------------------------------------------------------ auth
    def _authenticate(self, ctx: Ctx, *, ocs: bool) -> Response | None:
        auth = ctx.request.authorization
        if auth is None or auth.type != "basic" or auth.username is None:
            if ocs:
                return self._ocs_response(ctx, 997, "Current user is not logged in", [], http=401)
            return sabre_error(401, "Sabre\\DAV\\Exception\\NotAuthenticated", NOT_AUTH_MISSING,
                               headers={"WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"'})
        address = ctx.request.remote_addr or "127.0.0.1"
        with self._lock:
            user = self.users.get(auth.username)
            kind = None
            if user is not None and auth.password:
                if auth.password == user.password:
                    kind = "login"
                elif auth.password in user.app_passwords:
                    kind = "app"
            if kind is None:
                self.failed_logins[address] = self.failed_logins.get(address, 0) + 1
            else:
                self.failed_logins.pop(address, None)
        if kind is None:
            if ocs:
                resp = self._ocs_response(ctx, 997, "Unauthorised", [], http=401)
                resp.headers["WWW-Authenticate"] = 'Basic realm="Authorisation Required"'
                return resp
            return sabre_error(401, "Sabre\\DAV\\Exception\\NotAuthenticated", NOT_AUTH_WRONG,
                               headers={"WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"'})
        ctx.user = user.name
        ctx.auth_kind = kind
        return None

    # ------------------------------------------------------------------ DAV routing
    def _dav(self, ctx: Ctx) -> Response:
        parts = [p for p in ctx.path.split("/") if p][2:]  # after remote.php/dav
        with self._lock:
            if not parts or (parts[0] == "principals" and ctx.method == "PROPFIND"):
                return self._dav_principal(ctx, parts)
            if parts[0] == "files" and len(parts) >= 2:
                return self._files(ctx, parts[1], tuple(parts[2:]))
            if parts[0] == "addressbooks" and len(parts) >= 3 and parts[1] == "users":
                return self._carddav(ctx, parts[2], parts[3:])
            if parts[0] == "calendars" and len(parts) >= 2:
                return self.caldav.handle(ctx, parts[1], parts[2:])
        raise DavError(501, "Sabre\\DAV\\Exception\\NotImplemented", "not emulated: " + "/".join(parts[:2]))

    def _dav_principal(self, ctx: Ctx, parts: list[str]) -> Response:
        me = ctx.user
        props = {f"{{{D}}}current-user-principal": Raw(f"<d:href>/remote.php/dav/principals/users/{me}/</d:href>"),
                 f"{{{CARD}}}addressbook-home-set":
                     Raw(f"<d:href>/remote.php/dav/addressbooks/users/{me}/</d:href>"),
                 f"{{urn:ietf:params:xml:ns:caldav}}calendar-home-set":
                     Raw(f"<d:href>/remote.php/dav/calendars/{me}/</d:href>"),
                 f"{{{D}}}displayname": self.users[me].displayname,
                 f"{{{D}}}resourcetype": Raw("<d:collection/>") if not parts else Raw("<d:principal/>")}
        if parts and parts != ["principals", "users", me]:
            raise not_found(f"Principal with name {'/'.join(parts)} not found")
        if not parts:
            props = {k: v for k, v in props.items() if k in (f"{{{D}}}current-user-principal",
                                                              f"{{{D}}}resourcetype")}
        href = "/remote.php/dav/" + ("/".join(parts) + "/" if parts else "")
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        return multistatus([(href, _split_props(wanted, props, (f"{{{D}}}resourcetype",)))])

    # ------------------------------------------------------------------ files
    def _validate_name(self, name: str, rel: tuple[str, ...]) -> None:
        if "\\" in name:
            shown = "/" + "/".join(rel[:-1] + (name.replace("\\", "/"),))
            if ".." in shown.split("/"):
                raise invalid_path(f'Invalid path "{shown}"')
            raise invalid_path('"\\" is not allowed inside a file or folder name.')  # seen on the live 34.0.1
        if name.lower() == ".htaccess":
            raise DavError(500, "OCP\\Files\\ForbiddenException", "Invalid path: files/" + "/".join(rel))
        if any(ord(c) < 32 for c in name):
            raise invalid_path("Filename contains at least one invalid character")
        if name.lower().endswith(".part"):
            raise invalid_path('".part" is a forbidden file type.')
        if len(name.encode("utf-8")) > 255:
            raise invalid_path("Filename is too long")

    def _files(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        method = ctx.method
        if owner not in self.users:
            raise not_found(f"Principal with name {owner} not found")
        if owner != ctx.user:
            tree = self.files[owner]
            if method in ("PUT", "MKCOL") and rel:
                if rel[:-1] in tree:
                    raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden",
                                   f"Permission denied to create file (filename {rel[-1]})")
                raise not_found(f"File not found: {rel[0]} in '{owner}'")
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Permission denied")
        handler = {"PROPFIND": self._propfind_files, "GET": self._get_file, "HEAD": self._get_file,
                   "PUT": self._put_file, "MKCOL": self._mkcol, "MOVE": self._move, "DELETE": self._delete_file}
        if method not in handler:
            raise DavError(501, "Sabre\\DAV\\Exception\\NotImplemented", f"{method} is not emulated")
        return handler[method](ctx, owner, rel)

    def _node_props(self, owner: str, rel: tuple[str, ...], node: Node) -> dict[str, Any]:
        tree = self.files[owner]
        props: dict[str, Any] = {
            f"{{{D}}}getetag": f'"{node.etag}"',
            f"{{{D}}}getlastmodified": http_date(node.mtime),
            f"{{{D}}}resourcetype": Raw("<d:collection/>") if node.is_dir else Raw(""),
            f"{{{OC}}}fileid": str(node.fileid),
            f"{{{OC}}}id": self._oc_id(node.fileid),
            f"{{{OC}}}permissions": "RGDNVCK" if node.is_dir else "RGDNVW",
            f"{{{NC}}}has-preview": "false" if node.is_dir else "true",
            f"{{{NC}}}creation_time": "0",
        }
        if node.is_dir:
            props[f"{{{OC}}}size"] = str(sum(len(n.data) for k, n in tree.items()
                                             if not n.is_dir and k[:len(rel)] == rel))
        else:
            ctype = mimetypes.guess_type(rel[-1])[0] or "application/octet-stream"
            props.update({f"{{{D}}}getcontentlength": str(len(node.data)), f"{{{D}}}getcontenttype": ctype,
                          f"{{{OC}}}size": str(len(node.data)), f"{{{NC}}}upload_time": str(node.upload_time)})
            if node.checksum:
                props[f"{{{OC}}}checksums"] = Raw(f"<oc:checksum>{escape(node.checksum)}</oc:checksum>")
        return props

    def _href(self, owner: str, rel: tuple[str, ...], is_dir: bool) -> str:
        path = f"/remote.php/dav/files/{owner}/" + "/".join(rel)
        if is_dir and rel:
            path += "/"
        return encode_path(path)

    def _propfind_files(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        tree = self.files[owner]
        node = tree.get(rel)
        if node is None:
            raise not_found(f"File with name /{'/'.join(rel)} could not be located")
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        depth = ctx.request.headers.get("Depth", "infinity").strip().lower()
        keys = [rel]
        if node.is_dir and depth in ("1", "infinity"):
            below = sorted(k for k in tree if len(k) > len(rel) and k[:len(rel)] == rel
                           and (depth == "infinity" or len(k) == len(rel) + 1))
            keys += below
        allprop = (f"{{{D}}}getlastmodified", f"{{{D}}}getcontentlength", f"{{{D}}}resourcetype",
                   f"{{{D}}}getetag", f"{{{D}}}getcontenttype")
        responses = []
        for k in keys:
            n = tree[k]
            props = self._node_props(owner, k, n)
            split = _split_props(wanted, props, allprop)
            responses.append((self._href(owner, k, n.is_dir), split))
        return multistatus(responses)

    def _etag_checks(self, ctx: Ctx, node: Node | None, *, for_get: bool = False) -> Response | None:
        if_match = ctx.request.headers.get("If-Match")
        if_none = ctx.request.headers.get("If-None-Match")
        current = f'"{node.etag}"' if node else None
        if if_match is not None:
            if node is None:
                raise precondition("If-Match", "An If-Match header was specified and the resource did not exist")
            tags = [t.strip() for t in if_match.split(",")]
            if "*" not in tags and current not in tags:
                raise precondition("If-Match", "An If-Match header was specified, but none of the specified "
                                               "ETags matched.", current)
        if if_none is not None and node is not None:
            tags = [t.strip() for t in if_none.split(",")]
            if "*" in tags or current in tags:
                if for_get:
                    resp = Response(status=304)
                    resp.headers["ETag"] = current
                    return resp
                raise precondition("If-None-Match", "An If-None-Match header was specified, but the ETag "
                                                    "matched (or * was specified).")
        return None

    def _get_file(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        node = self.files[owner].get(rel)
        if node is None:
            raise not_found(f"File with name /{'/'.join(rel)} could not be located")
        if node.is_dir:
            raise DavError(501, "Sabre\\DAV\\Exception\\NotImplemented", "GET is only implemented on File objects")
        not_modified = self._etag_checks(ctx, node, for_get=True)
        if not_modified is not None:
            return not_modified
        ctype = mimetypes.guess_type(rel[-1])[0] or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += ";charset=UTF-8"
        resp = Response(node.data if ctx.method == "GET" else b"", status=200, content_type=ctype)
        name = rel[-1]
        resp.headers.update({"ETag": f'"{node.etag}"', "OC-ETag": f'"{node.etag}"',
                             "Last-Modified": http_date(node.mtime),
                             "Content-Disposition": f"attachment; filename*=UTF-8''{encode_path(name)}; "
                                                    f'filename="{name}"'})
        return resp

    def _touch_parents(self, owner: str, rel: tuple[str, ...]) -> None:
        tree, now = self.files[owner], self._ts()
        for i in range(len(rel) - 1, -1, -1):
            parent = tree.get(rel[:i])
            if parent is not None:
                parent.etag = self._dir_etag()
                parent.mtime = now

    def _write(self, owner: str, rel: tuple[str, ...], data: bytes, mtime: int | None = None,
               checksum: str | None = None) -> tuple[Node, bool]:
        tree = self.files[owner]
        now = self._ts()
        mtime = now if mtime is None else mtime
        node = tree.get(rel)
        created = node is None
        if node is None:
            fid = self._fileid()
            node = Node(False, fid, mtime, self._file_etag(mtime, fid, len(data)))
            tree[rel] = node
        elif node.mtime != mtime:
            # The ETag only changes with the mtime second (contract §2): same-second writes keep it.
            node.etag = self._file_etag(mtime, node.fileid, len(data))
        node.mtime = mtime
        node.data = data
        node.upload_time = now
        if checksum is not None:
            node.checksum = checksum
        self._touch_parents(owner, rel)
        return node, created

    def _put_file(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        if not rel:
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", "PUT is not allowed on the root")
        self._validate_name(rel[-1], rel)
        tree = self.files[owner]
        node = tree.get(rel)
        if node is not None and node.is_dir:
            raise DavError(409, "Sabre\\DAV\\Exception\\Conflict", "PUT is not allowed on non-files.")
        self._etag_checks(ctx, node)
        parent = tree.get(rel[:-1])
        if parent is None or not parent.is_dir:
            raise not_found(f"File with name /{'/'.join(rel[:-1])} could not be located")
        data = ctx.request.get_data()
        mtime_hdr = ctx.request.headers.get("X-OC-Mtime")
        mtime = int(float(mtime_hdr)) if mtime_hdr and mtime_hdr.strip().lstrip("-").replace(".", "", 1).isdigit() \
            else None
        node, created = self._write(owner, rel, data, mtime, ctx.request.headers.get("OC-Checksum"))
        resp = Response("", status=201 if created else 204, content_type=HTML_CT if created else None)
        if not created:
            resp.headers.pop("Content-Type", None)
        resp.headers.update({"ETag": f'"{node.etag}"', "OC-ETag": f'"{node.etag}"',
                             "OC-FileId": self._oc_id(node.fileid), "X-NC-OwnerId": owner,
                             "X-NC-Permissions": "RGDNVW"})
        if mtime is not None:
            resp.headers["X-OC-MTime"] = "accepted"
        algo = (ctx.request.headers.get("X-Hash") or "").lower()
        if algo in ("md5", "sha1", "sha256"):
            resp.headers[f"X-Hash-{algo.upper()}"] = hashlib.new(algo, data).hexdigest()
        return resp

    def _mkcol(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        tree = self.files[owner]
        if rel in tree:
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed",
                           "The resource you tried to create already exists")
        self._validate_name(rel[-1], rel)
        parent = tree.get(rel[:-1])
        if parent is None or not parent.is_dir:
            raise DavError(409, "Sabre\\DAV\\Exception\\Conflict", "Parent node does not exist")
        node = Node(True, self._fileid(), self._ts(), self._dir_etag())
        tree[rel] = node
        self._touch_parents(owner, rel)
        resp = Response("", status=201, content_type=HTML_CT)
        resp.headers["OC-FileId"] = self._oc_id(node.fileid)
        return resp

    def _destination(self, ctx: Ctx, owner: str) -> tuple[str, ...]:
        dest = ctx.request.headers.get("Destination")
        if not dest:
            raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest", "The destination header was not supplied")
        path = urlsplit(dest).path if "://" in dest else dest
        norm = self._normalise(path)
        prefix = f"/remote.php/dav/files/{owner}/"
        if norm is None or not (norm + "/").startswith(prefix):
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Destination outside of the user's files")
        return tuple(unquote(p) for p in norm[len(prefix):].split("/") if p)

    def _move(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        tree = self.files[owner]
        node = tree.get(rel)
        if node is None or not rel:
            raise not_found(f"File with name /{'/'.join(rel)} could not be located")
        dest = self._destination(ctx, owner)
        if not dest:
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Cannot move onto the root")
        self._validate_name(dest[-1], dest)
        if dest[:len(rel)] == rel:
            raise DavError(409, "Sabre\\DAV\\Exception\\Conflict", "Cannot move a node into itself")
        if tree.get(dest[:-1]) is None:
            raise DavError(409, "Sabre\\DAV\\Exception\\Conflict", "The destination node is not found")
        existed = dest in tree
        if existed:
            if ctx.request.headers.get("Overwrite", "T").strip().upper() == "F":
                raise precondition("Overwrite", "The destination node already exists, and the overwrite header "
                                               "is set to false")
            for k in [k for k in tree if k[:len(dest)] == dest]:
                del tree[k]
        for k in sorted([k for k in tree if k[:len(rel)] == rel], key=len):
            tree[dest + k[len(rel):]] = tree.pop(k)  # fileid and file ETag preserved (contract §2)
        self._touch_parents(owner, rel)
        self._touch_parents(owner, dest)
        resp = Response("", status=204 if existed else 201, content_type=HTML_CT)
        resp.headers.update({"ETag": f'"{node.etag}"', "OC-ETag": f'"{node.etag}"',
                             "OC-FileId": self._oc_id(node.fileid)})
        return resp

    def _delete_file(self, ctx: Ctx, owner: str, rel: tuple[str, ...]) -> Response:
        tree = self.files[owner]
        node = tree.get(rel)
        if node is None:
            raise not_found(f"File with name /{'/'.join(rel)} could not be located")
        if not rel:
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Cannot delete the root")
        self._etag_checks(ctx, node)
        for k in [k for k in tree if k[:len(rel)] == rel]:
            del tree[k]
        for share_id in [s.id for s in self.shares.values() if s.owner == owner
                         and tuple(p for p in s.path.split("/") if p)[:len(rel)] == rel]:
            del self.shares[share_id]
        self._touch_parents(owner, rel)
        return Response(status=204)

    # ------------------------------------------------------------------ CardDAV
    def _views(self, user: str) -> dict[str, BookView]:
        views: dict[str, BookView] = {}
        for (owner, uri), book in self.books.items():
            if owner == user:
                views[uri] = BookView(book, uri, False, f"principals/users/{owner}")
        for (owner, uri), book in self.books.items():
            if owner == user:
                continue
            # Nextcloud matches the member's group principals, built with urlencode, against the stored ones.
            mine = [self._group_principal(g) for g in self.users[user].groups]
            shares = [p for p in mine if p in book.shared_with]
            if shares:
                rw = any(book.shared_with[p] for p in shares)
                name = f"{uri}_shared_by_{owner}"
                views[name] = BookView(book, name, not rw, f"principals/users/{owner}")
        views[SYSTEM_BOOK] = BookView(self._system_book, SYSTEM_BOOK, True, "principals/system/system")
        recent = self.books.setdefault((f"~recent~{user}", RECENT_BOOK),
                                       Book(user, RECENT_BOOK, "Recently contacted", has_sync_token=False))
        views[RECENT_BOOK] = BookView(recent, RECENT_BOOK, True, None)
        return views  # own books, shared ones, then the system books: the recorded order

    def _carddav(self, ctx: Ctx, owner: str, rest: list[str]) -> Response:
        method = ctx.method
        if owner != ctx.user:
            name = rest[0] if rest else owner
            raise not_found(f"Addressbook with name '{name}' could not be found")
        if not rest:
            if method == "PROPFIND":
                return self._propfind_book_home(ctx, owner)
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed here")
        name = rest[0]
        views = self._views(owner)
        view = views.get(name)
        if len(rest) == 1:
            if method == "MKCOL":
                if view is not None:
                    raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed",
                                   "The resource you tried to create already exists")
                return self._mkcol_book(ctx, owner, name)
            if view is None:
                raise not_found(f"Addressbook with name '{name}' could not be found")
            if method == "PROPFIND":
                return self._propfind_book(ctx, owner, view)
            if method == "REPORT":
                return self._report(ctx, owner, view)
            if method == "POST":
                return self._share_book(ctx, owner, view)
            if method == "DELETE" and not view.read_only:
                del self.books[(owner, name)]
                return Response(status=204)
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed here")
        if view is not None and view.read_only and method == "PUT" and len(rest) == 2 \
                and rest[1] in view.book.cards:
            raise not_found(f"Node with name '{rest[1]}' could not be found")  # recorded: nc_share_12
        if view is None or (view.read_only and method in ("PUT", "DELETE")):
            # Read-only shared books answer writes as if the book did not exist (contract §4).
            raise not_found(f"Addressbook with name '{name}' could not be found")
        if len(rest) > 2:
            raise not_found("Card not found")
        card_uri = rest[1]
        book = view.book
        if method in ("GET", "HEAD"):
            return self._get_card(ctx, book, card_uri)
        if method == "PUT":
            return self._put_card(ctx, book, card_uri)
        if method == "DELETE":
            card = book.cards.get(card_uri)
            if card is None:
                raise not_found("Card not found")
            self._card_preconditions(ctx, card)
            del book.cards[card_uri]
            self._log_change(book, card_uri)
            return Response(status=204)
        if method == "PROPFIND":
            card = book.cards.get(card_uri)
            if card is None:
                raise not_found("Card not found")
            wanted = _requested_props(_parse_xml(ctx.request.get_data()))
            href = encode_path(f"/remote.php/dav/addressbooks/users/{owner}/{view.name}/{card_uri}")
            return multistatus([(href, _split_props(wanted, self._card_props(card), tuple(self._card_props(card))))])
        raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed on a card")

    def _book_props(self, view: BookView) -> dict[str, Any]:
        book = view.book
        props: dict[str, Any] = {
            f"{{{D}}}displayname": book.displayname if view.name == book.uri or not view.owner_principal
            else f"{book.displayname} ({book.owner})",
            f"{{{D}}}resourcetype": Raw("<d:collection/><card:addressbook/>"),
            f"{{{CS}}}getctag": str(book.synctoken),
            f"{{{CARD}}}supported-address-data": Raw(
                '<card:address-data-type content-type="text/vcard" version="3.0"/>'
                '<card:address-data-type content-type="text/vcard" version="4.0"/>'
                '<card:address-data-type content-type="application/vcard+json" version="4.0"/>'),
        }
        if book.has_sync_token:
            props[f"{{{D}}}sync-token"] = f"{SYNC_PREFIX}{book.synctoken}"
        else:
            props[f"{{{CS}}}getctag"] = f"{SYNC_PREFIX}{secrets.randbelow(10**9)}"
        if book.description:
            props[f"{{{CARD}}}addressbook-description"] = book.description
        if view.read_only or view.name != book.uri:
            props[f"{{{OC}}}read-only"] = "1" if view.read_only else "0"
        if view.owner_principal and view.name != book.uri or book.owner == "system":
            props[f"{{{OC}}}owner-principal"] = view.owner_principal
        if view.name == book.uri and book.owner != "system":
            props[f"{{{OC}}}invite"] = Raw("".join(self._invite_xml(p, rw) for p, rw in book.shared_with.items()))
        return props

    def _invite_xml(self, principal: str, read_write: bool) -> str:
        """One oc:user of oc:invite: the href as stored; the group's name when the principal resolves to one."""
        kind, _, name = principal.partition("/")[2].partition("/")
        group = unquote_plus(name)
        common = f"<oc:common-name>{escape(group)}</oc:common-name>" if kind == "groups" and group in self.groups \
            else ""
        access = "<oc:read-write/>" if read_write else "<oc:read/>"
        return (f"<oc:user><d:href>principal:{escape(principal)}</d:href>{common}<oc:invite-accepted/>"
                f"<oc:access>{access}</oc:access></oc:user>")

    @staticmethod
    def _card_props(card: Card) -> dict[str, Any]:
        return {f"{{{D}}}getetag": f'"{card.etag}"', f"{{{D}}}getcontenttype": "text/vcard; charset=utf-8",
                f"{{{D}}}getcontentlength": str(len(card.data.encode("utf-8"))),
                f"{{{D}}}getlastmodified": http_date(card.mtime), f"{{{D}}}resourcetype": Raw("")}

    def _propfind_book_home(self, ctx: Ctx, owner: str) -> Response:
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        depth = ctx.request.headers.get("Depth", "1").strip()
        home = {f"{{{D}}}resourcetype": Raw("<d:collection/>")}
        responses = [(f"/remote.php/dav/addressbooks/users/{owner}/", _split_props(wanted, home, tuple(home)))]
        if depth != "0":
            for name, view in self._views(owner).items():
                props = self._book_props(view)
                responses.append((encode_path(f"/remote.php/dav/addressbooks/users/{owner}/{name}/"),
                                  _split_props(wanted, props, (f"{{{D}}}resourcetype", f"{{{D}}}displayname"))))
        return multistatus(responses)

    def _propfind_book(self, ctx: Ctx, owner: str, view: BookView) -> Response:
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        depth = ctx.request.headers.get("Depth", "1").strip()
        base = f"/remote.php/dav/addressbooks/users/{owner}/{view.name}/"
        props = self._book_props(view)
        responses = [(encode_path(base), _split_props(wanted, props, (f"{{{D}}}resourcetype",)))]
        if depth != "0":
            for card in sorted(view.book.cards.values(), key=lambda c: c.id):
                responses.append((encode_path(base + card.uri),
                                  _split_props(wanted, self._card_props(card), (f"{{{D}}}getetag",))))
        return multistatus(responses)

    def _mkcol_book(self, ctx: Ctx, owner: str, name: str) -> Response:
        root = _parse_xml(ctx.request.get_data())
        displayname, description, is_book = name, "", False
        if root is not None:
            rtype = root.find(f".//{{{D}}}resourcetype")
            is_book = rtype is not None and rtype.find(f"{{{CARD}}}addressbook") is not None
            dn = root.find(f".//{{{D}}}displayname")
            if dn is not None and dn.text:
                displayname = dn.text
            desc = root.find(f".//{{{CARD}}}addressbook-description")
            if desc is not None and desc.text:
                description = desc.text
        if not is_book:
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Only address books can be created here")
        self.books[(owner, name)] = Book(owner, name, displayname, description)
        return Response("", status=201, content_type=HTML_CT)

    def _share_book(self, ctx: Ctx, owner: str, view: BookView) -> Response:
        if view.name != view.book.uri:
            raise DavError(403, "Sabre\\DAV\\Exception\\Forbidden", "Only the owner can share an address book")
        root = _parse_xml(ctx.request.get_data())
        if root is None or root.tag != f"{{{OC}}}share":
            raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest", "Unsupported POST body")
        self._share_rate_limit(ctx.user)  # before anything else, as apps/dav Sharing\Plugin::httpPost
        actions = [a for a in root if a.tag in (f"{{{OC}}}set", f"{{{OC}}}remove")]
        if not actions:
            raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest",
                           "{http://owncloud.org/ns}share needs at least one set or remove element")
        shares = view.book.shared_with
        for action in actions:
            for href in action.findall(f"{{{D}}}href"):
                m = re.fullmatch(r"principal:(principals/groups/(.+))", (href.text or "").strip())
                if not m:
                    continue  # user shares are not emulated
                principal = m.group(1)  # stored as written (Backend::updateShares)
                if action.tag == f"{{{OC}}}remove":
                    shares.pop(principal, None)
                elif unquote_plus(m.group(2)) in self.groups:  # a missing group is dropped without a word
                    shares.pop(principal, None)  # shareWith: delete, then insert
                    shares[principal] = action.find(f"{{{OC}}}read-write") is not None
        resp = Response("", status=200, content_type=HTML_CT)
        resp.headers["X-Sabre-Status"] = "everything-went-well"
        return resp

    def _share_rate_limit(self, user: str) -> None:
        """Nextcloud's limiter: accepted attempts expire after the period; a refused one is not counted."""
        limit, period = self.share_limit
        now = self._ts()
        live = [t for t in self._share_attempts.get(user, []) if t > now]
        if len(live) >= limit:
            self._share_attempts[user] = live
            raise DavError(429, "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests",
                           "Too many addressbook or calendar share requests",
                           extra='<o:hint xmlns:o="o:">too many requests</o:hint>')
        self._share_attempts[user] = live + [now + period]

    def _card_preconditions(self, ctx: Ctx, card: Card | None) -> None:
        if_match = ctx.request.headers.get("If-Match")
        if_none = ctx.request.headers.get("If-None-Match")
        current = f'"{card.etag}"' if card else None
        if if_match is not None:
            if card is None:
                raise precondition("If-Match", "An If-Match header was specified and the resource did not exist")
            tags = [t.strip() for t in if_match.split(",")]
            if "*" not in tags and current not in tags:
                raise precondition("If-Match", "An If-Match header was specified, but none of the specified ETags "
                                               "matched.", current)
        if if_none is not None and card is not None:
            tags = [t.strip() for t in if_none.split(",")]
            if "*" in tags or current in tags:
                raise precondition("If-None-Match", "An If-None-Match header was specified, but the ETag matched "
                                                    "(or * was specified).")

    def _log_change(self, book: Book, uri: str) -> None:
        book.changes.append((book.synctoken, uri))
        book.synctoken += 1

    def _store_card(self, book: Book, uri: str, data: str) -> Card:
        card = book.cards.get(uri)
        etag = hashlib.md5(data.encode("utf-8")).hexdigest()
        if card is None:
            card = Card(self._next_card_id, uri, data, etag, _vcard_prop(data, "UID"), self._ts())
            self._next_card_id += 1
            book.cards[uri] = card
        else:
            card.data, card.etag, card.uid, card.mtime = data, etag, _vcard_prop(data, "UID"), self._ts()
        self._log_change(book, uri)
        return card

    def _put_card(self, ctx: Ctx, book: Book, uri: str) -> Response:
        data = ctx.request.get_data().decode("utf-8", "replace")
        card = book.cards.get(uri)
        self._card_preconditions(ctx, card)
        if not data.lstrip().upper().startswith("BEGIN:VCARD"):
            raise DavError(415, "Sabre\\DAV\\Exception\\UnsupportedMediaType",
                           "This resource only supports valid vCard or jCard data. Parse error: This parser only "
                           "supports VCARD and VCALENDAR files")
        if _vcard_prop(data, "VERSION") in ("2.1", None):
            raise DavError(415, "Sabre\\DAV\\Exception\\UnsupportedMediaType",
                           "Validation error in vCard: CardDAV servers are not allowed to accept vCard 2.1.")
        repaired = False
        uid = _vcard_prop(data, "UID")
        if not uid:
            # Sabre repairs the card: a UID is generated and the 201 carries no ETag (contract §4).
            uid = str(uuid.uuid4()).upper()
            data = re.sub(r"(VERSION:[^\r\n]*\r?\n)", lambda m: m.group(1) + f"UID:{uid}\r\n", data, count=1)
            repaired = True
        if not _vcard_prop(data, "FN"):
            fn = _vcard_prop(data, "EMAIL") or _vcard_prop(data, "ORG") or uid
            data = re.sub(r"(END:VCARD)", f"FN:{fn}\r\n\\1", data, count=1, flags=re.I) \
                if re.search("END:VCARD", data, re.I) else data + f"FN:{fn}\r\n"
            repaired = True
        for other in book.cards.values():
            if other.uri != uri and other.uid == uid:
                raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest",
                               "VCard object with uid already exists in this addressbook collection.")
        stored = self._store_card(book, uri, data)
        created = card is None
        resp = Response("", status=201 if created else 204, content_type=HTML_CT if created else None)
        if not created:
            resp.headers.pop("Content-Type", None)
        if not repaired:
            resp.headers["ETag"] = f'"{stored.etag}"'
            resp.headers["OC-ETag"] = f'"{stored.etag}"'
        return resp

    @staticmethod
    def _wants_v4(accept: str | None) -> bool:
        return bool(accept) and "version=4.0" in accept.replace(" ", "")

    def _get_card(self, ctx: Ctx, book: Book, uri: str) -> Response:
        card = book.cards.get(uri)
        if card is None:
            raise not_found("Card not found")
        v4 = self._wants_v4(ctx.request.headers.get("Accept"))
        body = _convert_card(card.data, "4.0" if v4 else "3.0")
        resp = Response(body.encode("utf-8") if ctx.method == "GET" else b"", status=200,
                        content_type="text/vcard; version=4.0; charset=utf-8" if v4 else "text/vcard; charset=utf-8")
        resp.headers.update({"ETag": f'"{card.etag}"', "OC-ETag": f'"{card.etag}"',
                             "Last-Modified": http_date(card.mtime),
                             "Content-Disposition": f"attachment; filename*=UTF-8''{encode_path(uri)}; "
                                                    f'filename="{uri}"'})
        return resp

    def _report(self, ctx: Ctx, owner: str, view: BookView) -> Response:
        root = _parse_xml(ctx.request.get_data())
        base = f"/remote.php/dav/addressbooks/users/{owner}/{view.name}/"
        if root is None:
            raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest", "REPORT needs a body")
        wanted = _requested_props(root) or [f"{{{D}}}getetag"]
        address = root.find(f"{{{D}}}prop/{{{CARD}}}address-data")
        v4 = address is not None and address.get("version") == "4.0"

        def card_props(card: Card) -> list:
            props: dict[str, Any] = self._card_props(card)
            props[f"{{{CARD}}}address-data"] = _convert_card(card.data, "4.0" if v4 else "3.0")
            return _split_props(wanted, props, ())

        if root.tag == f"{{{CARD}}}addressbook-multiget":
            responses = []
            for href in root.findall(f"{{{D}}}href"):
                path = urlsplit((href.text or "").strip()).path
                name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
                card = view.book.cards.get(name)
                if card is not None and unquote(path).startswith(unquote(base)):
                    responses.append((encode_path(base + name), card_props(card)))
            return multistatus(responses)
        if root.tag == f"{{{D}}}sync-collection":
            return self._sync_collection(root, view, base, card_props)
        raise DavError(501, "Sabre\\DAV\\Exception\\ReportNotSupported", "This report is not emulated")

    def _sync_collection(self, root: ET.Element, view: BookView, base: str, card_props: Callable) -> Response:
        book = view.book
        token_el = root.find(f"{{{D}}}sync-token")
        token = (token_el.text or "").strip() if token_el is not None else ""
        limit_el = root.find(f"{{{D}}}limit/{{{D}}}nresults")
        limit = int(limit_el.text) if limit_el is not None and (limit_el.text or "").strip().isdigit() else 0
        invalid = DavError(403, "Sabre\\DAV\\Exception\\InvalidSyncToken", "Invalid or unknown sync token",
                           extra="<d:valid-sync-token/>")
        if token and not token.startswith(SYNC_PREFIX):
            raise invalid
        value = token[len(SYNC_PREFIX):]
        responses: list[tuple[str, Any]] = []
        truncated = False
        if not value or value.startswith("init_"):
            # Initial sync: every card, paged by card row id with init_<lastid>_<token> tokens.
            last_id, initial_token = 0, book.synctoken
            if value:
                m = re.fullmatch(r"init_(\d+)_(\d+)", value)
                if not m:
                    raise invalid
                last_id, initial_token = int(m.group(1)), int(m.group(2))
            cards = sorted((c for c in book.cards.values() if c.id > last_id), key=lambda c: c.id)
            if limit:
                cards = cards[:limit]
                truncated = len(cards) >= limit
            responses = [(encode_path(base + c.uri), card_props(c)) for c in cards]
            new_token = f"init_{cards[-1].id}_{initial_token}" if truncated else str(initial_token)
        else:
            if not value.isdigit():
                raise invalid
            since = int(value)
            changed: dict[str, int] = {}
            for tok, uri in book.changes:
                if tok >= since:
                    changed.pop(uri, None)
                    changed[uri] = tok
            items = list(changed.items())
            end = book.synctoken
            if limit and len(items) > limit:
                items = items[:limit]
                truncated = True
                end = items[-1][1] + 1
            for uri, _ in items:
                card = book.cards.get(uri)
                responses.append((encode_path(base + uri), card_props(card) if card else 404))
            new_token = str(max(end, since) if since <= book.synctoken else book.synctoken)
        if truncated:
            responses.append((encode_path(base), 507))
        return multistatus(responses, sync_token=f"{SYNC_PREFIX}{new_token}")

    # ------------------------------------------------------------------ OCS
    def _ocs_response(self, ctx: Ctx, statuscode: int, message: str, data: Any, *, http: int | None = None) -> Response:
        v1 = ctx.path.startswith("/ocs/v1.php/")
        ok = statuscode in (100, 200)
        meta: dict[str, Any] = {"status": "ok" if ok else "failure",
                                "statuscode": (100 if v1 else 200) if ok else statuscode,
                                "message": "OK" if ok and not message else message}
        if v1:
            meta.update({"totalitems": "", "itemsperpage": ""})
        status = http or (200 if ok or v1 else statuscode)
        fmt = ctx.request.args.get("format")
        accept = ctx.request.headers.get("Accept", "")
        if fmt == "json" or (fmt is None and "application/json" in accept):
            return Response(json.dumps({"ocs": {"meta": meta, "data": data}}), status=status, content_type=JSON_CT)
        return Response(self._ocs_xml(meta, data), status=status, content_type=XML_CT)

    @classmethod
    def _ocs_xml(cls, meta: dict[str, Any], data: Any) -> str:
        def value(v: Any, indent: str) -> str:
            if isinstance(v, dict):
                return "".join(f"\n{indent}{item(k, x, indent)}" for k, x in v.items()) + f"\n{indent[:-1]}"
            if isinstance(v, list):
                return "".join(f"\n{indent}{item('element', x, indent)}" for x in v) + f"\n{indent[:-1]}"
            if v is None:
                return ""
            if isinstance(v, bool):
                return "1" if v else ""
            return escape(str(v))

        def item(k: str, v: Any, indent: str) -> str:
            inner = value(v, indent + " ")
            return f"<{k}/>" if inner == "" and v is None else f"<{k}>{inner}</{k}>"

        return ('<?xml version="1.0"?>\n<ocs>\n ' + item("meta", meta, " ") + "\n " + item("data", data, " ")
                + "\n</ocs>\n")

    def _ocs(self, ctx: Ctx) -> Response:
        refused = self._authenticate(ctx, ocs=True)
        if refused is not None:
            return refused
        if ctx.request.headers.get("OCS-APIRequest", "").lower() != "true":
            return Response(json.dumps({"message": "CSRF check failed"}), status=412, content_type=JSON_CT)
        route = ctx.path.split(".php", 1)[1].rstrip("/")
        with self._lock:
            return self._ocs_route(ctx, route)

    def _form(self, ctx: Ctx) -> dict[str, Any]:
        if (ctx.request.mimetype or "") == "application/json":
            data = ctx.request.get_json(silent=True)
            return data if isinstance(data, dict) else {}
        out: dict[str, Any] = {}
        for key in ctx.request.form:
            values = ctx.request.form.getlist(key)
            out[key] = values if key.endswith("[]") else values[-1]
        return out

    def _ocs_route(self, ctx: Ctx, route: str) -> Response:
        method, me = ctx.method, self.users[ctx.user]  # type: ignore[index]
        shares = "/apps/files_sharing/api/v1/shares"
        if route == shares:
            if method == "GET":
                path = ctx.request.args.get("path")
                found = [self._share_json(ctx, s) for s in sorted(self.shares.values(), key=lambda s: s.id)
                         if s.owner == me.name and (path is None or s.path == "/" + path.strip("/"))]
                return self._ocs_response(ctx, 200, "", found)
            if method == "POST":
                return self._create_share(ctx, me)
        m = re.fullmatch(re.escape(shares) + r"/(\d+)", route)
        if m:
            share = self.shares.get(int(m.group(1)))
            if share is None or share.owner != me.name:
                return self._ocs_response(ctx, 404, "Wrong share ID, share does not exist", [])
            if method == "GET":
                return self._ocs_response(ctx, 200, "", [self._share_json(ctx, share)])
            if method == "DELETE":
                del self.shares[share.id]
                return self._ocs_response(ctx, 200, "", [])
        if route == "/cloud/capabilities" and method == "GET":
            resp = self._ocs_response(ctx, 200, "", {"version": VERSION, "capabilities": {
                "core": {"pollinterval": 60, "webdav-root": "remote.php/webdav"},
                "files_sharing": {"api_enabled": True, "public": {"enabled": True}, "group_sharing": True},
                "dav": {"chunking": "1.0"}}})
            resp.headers["ETag"] = '"' + hashlib.md5(resp.get_data()).hexdigest() + '"'
            return resp
        if route == "/cloud/user" and method == "GET":
            return self._ocs_response(ctx, 200, "", self._user_json(me))
        return self._provisioning(ctx, me, route)

    def _provisioning(self, ctx: Ctx, me: User, route: str) -> Response:
        method = ctx.method

        def not_subadmin() -> Response:
            return self._ocs_response(ctx, 403, "Logged in account must be at least a sub admin", [])

        if route == "/cloud/users" and method == "GET":
            if not me.admin:
                return not_subadmin()
            search = ctx.request.args.get("search", "").lower()
            ids = sorted(u for u in self.users if search in u.lower())
            offset = int(ctx.request.args.get("offset", 0) or 0)
            limit = ctx.request.args.get("limit")
            ids = ids[offset:offset + int(limit)] if limit else ids[offset:]
            return self._ocs_response(ctx, 200, "", {"users": ids})
        m = re.fullmatch(r"/cloud/users/([^/]+)(/groups)?", route)
        if m and method == "GET":
            if not me.admin and m.group(1) != me.name:
                return not_subadmin()
            user = self.users.get(unquote(m.group(1)))
            if user is None:
                return self._ocs_response(ctx, 404, "User does not exist", [])
            if m.group(2):
                return self._ocs_response(ctx, 200, "", {"groups": sorted(user.groups)})
            return self._ocs_response(ctx, 200, "", self._user_json(user))
        if m and m.group(2) and method in ("POST", "DELETE"):
            if not me.admin:
                return not_subadmin()
            if ctx.auth_kind == "app":
                return self._ocs_response(ctx, 403, "Password confirmation is required", [])
            user = self.users.get(unquote(m.group(1)))
            group = str(self._form(ctx).get("groupid", ""))
            if user is None:
                return self._ocs_response(ctx, 103, "", [], http=400)
            if group not in self.groups:
                return self._ocs_response(ctx, 102, "", [], http=400)
            (user.groups.add if method == "POST" else user.groups.discard)(group)
            return self._ocs_response(ctx, 200, "", [])
        if route == "/cloud/groups":
            if method == "GET":
                if not me.admin:
                    return not_subadmin()
                search = ctx.request.args.get("search", "").lower()
                return self._ocs_response(ctx, 200, "", {"groups": sorted(g for g in self.groups
                                                                           if search in g.lower())})
            if method == "POST":
                if not me.admin:
                    return not_subadmin()
                if ctx.auth_kind == "app":
                    return self._ocs_response(ctx, 403, "Password confirmation is required", [])
                gid = str(self._form(ctx).get("groupid", ""))
                if gid in self.groups:
                    return self._ocs_response(ctx, 102, "group exists", [], http=400)
                self.groups.add(gid)
                return self._ocs_response(ctx, 200, "", [])
        m = re.fullmatch(r"/cloud/groups/([^/]+)(/users)?", route)
        if m:
            gid = unquote(m.group(1))
            if not me.admin:
                return not_subadmin()
            if method == "GET" and m.group(2):
                if gid not in self.groups:
                    return self._ocs_response(ctx, 404, "The requested group could not be found", [])
                return self._ocs_response(ctx, 200, "", {"users": sorted(u.name for u in self.users.values()
                                                                          if gid in u.groups)})
            if method == "DELETE" and not m.group(2):
                if ctx.auth_kind == "app":
                    return self._ocs_response(ctx, 403, "Password confirmation is required", [])
                if gid not in self.groups:
                    return self._ocs_response(ctx, 101, "", [], http=400)
                self.groups.discard(gid)
                for u in self.users.values():
                    u.groups.discard(gid)
                return self._ocs_response(ctx, 200, "", [])
        return self._ocs_response(ctx, 998, "Invalid query, please check the syntax. API specifications are "
                                            "here: http://www.freedesktop.org/wiki/Specifications/open-collaboration"
                                            "-services.", [], http=404)

    @staticmethod
    def _user_json(user: User) -> dict[str, Any]:
        return {"enabled": True, "id": user.name, "displayname": user.displayname, "display-name": user.displayname,
                "email": user.email, "groups": sorted(user.groups), "backend": "Database", "subadmin": [],
                "quota": {"free": -3, "used": 0, "total": -3, "relative": 0, "quota": -3}, "language": "en"}

    def _create_share(self, ctx: Ctx, me: User) -> Response:
        form = self._form(ctx)
        path = "/" + str(form.get("path", "")).strip("/")
        rel = tuple(unicodedata.normalize("NFC", p) for p in path.split("/") if p)
        node = self.files[me.name].get(rel)
        if node is None or not rel:
            return self._ocs_response(ctx, 404, "Wrong path, file/folder does not exist", [])
        try:
            share_type = int(form.get("shareType", -1))
            perms = int(form["permissions"]) if form.get("permissions") not in (None, "") else None
        except (TypeError, ValueError):
            return self._ocs_response(ctx, 400, "Wrong share type or permissions", [])
        share_with = form.get("shareWith")
        if share_type == 3:
            # Link shares always carry the share bit; a file link is read-only (contract §3).
            perms = (P_READ if not node.is_dir or perms is None else perms) | P_SHARE
            token = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")[:15]
        elif share_type in (0, 1):
            if share_type == 1 and share_with not in self.groups:
                return self._ocs_response(ctx, 404, "Please specify a valid group", [])
            if share_type == 0 and (share_with not in self.users or share_with == me.name):
                return self._ocs_response(ctx, 404, "Please specify a valid account to share with", [])
            if any(s.share_type == share_type and s.share_with == share_with and s.path == path
                   for s in self.shares.values()):
                what = "group" if share_type == 1 else "account"
                return self._ocs_response(ctx, 403, f"Path is already shared with this {what}", [])
            perms = 31 if perms is None else perms
            if not node.is_dir:
                perms &= ~(P_CREATE | P_DELETE)
            token = None
        else:
            return self._ocs_response(ctx, 400, "Unknown share type", [])
        parent = self.files[me.name].get(rel[:-1])
        share = Share(self._next_share_id, share_type, me.name, path, node.fileid,
                      parent.fileid if parent else 0, node.is_dir, perms, self._ts(), share_with, token)
        self._next_share_id += 1
        self.shares[share.id] = share
        return self._ocs_response(ctx, 200, "", self._share_json(ctx, share))

    def _share_json(self, ctx: Ctx, share: Share) -> dict[str, Any]:
        rel = tuple(p for p in share.path.split("/") if p)
        node = self.files[share.owner].get(rel)
        size = len(node.data) if node and not node.is_dir else 0
        out: dict[str, Any] = {
            "id": str(share.id), "share_type": share.share_type, "uid_owner": share.owner,
            "displayname_owner": share.owner, "permissions": share.permissions, "can_edit": True,
            "can_delete": True, "stime": share.stime, "parent": None, "expiration": share.expiration,
            "token": share.token, "uid_file_owner": share.owner, "note": "", "label": share.label,
            "displayname_file_owner": share.owner, "path": share.path,
            "item_type": "folder" if share.is_dir else "file", "item_permissions": 31 if share.is_dir else 27,
            "is-mount-root": False, "mount-type": "",
            "mimetype": "httpd/unix-directory" if share.is_dir
            else (mimetypes.guess_type(rel[-1])[0] or "application/octet-stream"),
            "has_preview": not share.is_dir, "storage_id": f"home::{share.owner}", "storage": 2,
            "item_source": share.fileid, "file_source": share.fileid, "file_parent": share.parent_fileid,
            "file_target": "/" + rel[-1], "item_size": size, "item_mtime": node.mtime if node else 0,
            "share_with": share.share_with,
            "share_with_displayname": "(Shared link)" if share.share_type == 3 else share.share_with,
            "mail_send": 0, "hide_download": 0, "attributes": None,
        }
        if share.share_type == 3:
            out.update({"password": None, "send_password_by_talk": False,
                        "url": f"{ctx.base_url}/index.php/s/{share.token}"})
        if share.share_type == 0:
            out["share_with_displayname_unique"] = share.share_with
        return out

    # ------------------------------------------------------------------ public links
    def _link(self, token: str) -> Share | None:
        with self._lock:
            return next((s for s in self.shares.values() if s.share_type == 3 and s.token == token), None)

    def _public_link(self, ctx: Ctx) -> Response:
        parts = [p for p in ctx.path.split("/") if p and p != "index.php"]
        share = self._link(parts[1]) if len(parts) >= 2 else None
        if share is None:
            return Response("<!DOCTYPE html><html><body>File not found</body></html>", status=404,
                            content_type=HTML_CT)
        if len(parts) >= 3 and parts[2] == "download":
            resp = Response("", status=303, content_type=HTML_CT)
            resp.headers["Location"] = f"{ctx.base_url}/public.php/dav/files/{share.token}"
            return resp
        return Response(f"<!DOCTYPE html><html><head><title>{escape(share.path)} - Nextcloud</title></head>"
                        "<body></body></html>", status=200, content_type=HTML_CT)

    def _public_dav(self, ctx: Ctx) -> Response:
        parts = [p for p in ctx.path.split("/") if p][3:]
        share = self._link(parts[0]) if parts else None
        if share is None:
            raise not_found("Share not found")
        with self._lock:
            rel = tuple(p for p in share.path.split("/") if p) + tuple(parts[1:])
            node = self.files[share.owner].get(rel)
            if node is None or ctx.method not in ("GET", "HEAD"):
                raise not_found("File not found")
            return self._get_file(ctx, share.owner, rel)
