"""Thin Nextcloud client on requests: WebDAV files, CardDAV address books, OCS shares (Nextcloud 34 contract).

Routes used (`{base}` = the instance URL, user = the service account):
  WebDAV   {base}remote.php/dav/files/{user}/{path}   PROPFIND, GET, PUT (If-Match / If-None-Match: *), MKCOL,
                                                      MOVE, DELETE
  CardDAV  {base}remote.php/dav/addressbooks/users/{user}/{book}/   extended MKCOL, PUT/GET/DELETE {uid}.vcf,
                                                      REPORT sync-collection (paged) and addressbook-multiget
  sharing  any DAV collection (address book, calendar)   PROPFIND oc:invite (who it is shared with), POST oc:share
  OCS v2   {base}ocs/v2.php/apps/files_sharing/api/v1/shares (link and group shares), cloud/user, cloud/groups
  status   {base}status.php (doctor)

Behaviours the contract imposes:
* One 401 (or the brute-force 429) stops every further request of this client at once: about ten failed logins
  lock the whole host out, so the error is sticky (`AuthError`). A 429 whose Sabre message names a per-account
  limit ("Too many addressbook or calendar share requests") is not a lock-out: only that kind of request is
  refused for a while (`RateLimited`, not sticky; contract §8).
* A group is named in an `oc:share` exactly as Nextcloud encodes group principals (`group_principal`): a group
  named any other way is accepted (200) and listed in `oc:invite`, but its members never get the collection.
* Only GET, PROPFIND and REPORT are retried (connection errors, timeouts, 502/503/504); never PUT, MKCOL, MOVE.
* File ETags can stay the same across writes within one second: callers compare size and content hash too.
* Names are NFC-normalised, and the names Nextcloud refuses are refused here with a clear `BadFileName`.
* A malformed sync token gives 403 InvalidSyncToken; a numeric token from the future is silently accepted by
  the server. Both raise `SyncTokenInvalid` here, and the caller does a full resync.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import requests
from requests.adapters import HTTPAdapter

from ..text import Text, scrub
from .base import (
    AuthError,
    EntryError,
    ListingFailed,
    RequestStats,
    TargetError,
    TerminalError,
    TransientError,
)

D, OC, NC, CARD, CS = "DAV:", "http://owncloud.org/ns", "http://nextcloud.org/ns", \
    "urn:ietf:params:xml:ns:carddav", "http://calendarserver.org/ns/"
SYNC_PREFIX = "http://sabre.io/ns/sync/"
IDEMPOTENT = frozenset({"GET", "PROPFIND", "REPORT", "HEAD"})
RETRY_STATUSES = (502, 503, 504)
MAX_SYNC_PAGES = 100_000  # a safety stop: the server paginates with its own limit

PROPFIND_BODY = ('<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                 "<d:prop><d:getetag/><d:getcontentlength/><d:getlastmodified/><d:resourcetype/><oc:fileid/>"
                 "<oc:size/></d:prop></d:propfind>")


class RateLimited(TransientError):
    """429 from one of Nextcloud's per-account limits (share requests: 20 per hour by default, contract §8): that
    kind of request is refused for a while, every other request works. Try again on a later run."""


class SyncTokenInvalid(TargetError):
    """The server no longer knows the sync token (or it comes from an older incarnation of the book): the caller
    must forget it and do a full resync."""


class PreconditionFailed(EntryError):
    """412: the resource changed since `If-Match` was read, or exists despite `If-None-Match: *`."""

    def __init__(self, instance: str, message: str, current_etag: str | None = None):
        super().__init__(instance, message)
        self.current_etag = current_etag


class NotFound(EntryError):
    """404 on a resource the caller named."""


class BadFileName(EntryError):
    """A name Nextcloud refuses (or a path that would escape the user's files)."""


@dataclass(frozen=True)
class DavItem:
    """One PROPFIND entry. `path` is relative to the user's files root, NFC, without leading/trailing slash."""

    path: str
    etag: str | None
    size: int | None
    modified: datetime | None
    is_dir: bool
    fileid: int | None


@dataclass(frozen=True)
class DavInvite:
    """One entry of a DAV collection's `oc:invite`: who it is shared with, as the server stored the share."""

    href: str                 # verbatim, e.g. "principal:principals/groups/OSCARTES+P%C3%B4leS+NOE"
    common_name: str | None   # the group's or user's display name, when the server resolves the principal
    read_only: bool


@dataclass(frozen=True)
class SyncResult:
    new_token: str
    changed: list[tuple[str, str]]   # (href, etag)
    removed: list[str]               # hrefs


@dataclass
class NextcloudCheck:
    """What `doctor` reports for one Nextcloud."""

    reachable: bool = False
    version: str | None = None
    auth: str = "unknown"            # "ok", "refused", "locked-out", "unknown"
    user: str | None = None
    group_exists: bool | None = None  # None: not asked, or the account cannot list groups
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_FORBIDDEN_NAMES = frozenset({".htaccess", ".", ".."})


def check_name(name: str) -> str | None:
    """Why Nextcloud (or the web server in front of it) would refuse this file name; None when accepted
    (contract §2, "File names / paths")."""
    if not name:
        return Text("empty name")
    if name.lower() in _FORBIDDEN_NAMES:
        return Text("'{name}' is a reserved name", name=name)
    if "\\" in name or "/" in name:
        return Text("slashes and backslashes are not allowed in a name")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return Text("control characters (newline, NUL...) are not allowed")
    if name.lower().endswith(".part"):
        return Text('".part" is a forbidden file type')
    if len(nfc(name).encode("utf-8")) > 255:
        return Text("the name is longer than 255 bytes")
    return None


def split_path(path: str) -> list[str]:
    """NFC segments of a user-relative path; raises ValueError naming the problem."""
    segments = [nfc(s) for s in path.strip("/").split("/") if s != ""]
    for seg in segments:
        why = check_name(seg)
        if why:
            raise ValueError(why)
    return segments


def _etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _text(el: ET.Element | None) -> str | None:
    return None if el is None else (el.text or "")


def _children(el: ET.Element | None) -> list[ET.Element]:
    return [] if el is None else list(el)


def _normalise_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(Text("the Nextcloud url must be an http(s) URL such as https://cloud.example.org/"))
    if "@" in parts.netloc:
        # The URL is not repeated: it carries credentials.
        raise ValueError(Text("the Nextcloud url must not contain credentials; use the app password setting"))
    path = parts.path or "/"
    for suffix in ("index.php", "remote.php/dav", "remote.php/webdav"):
        if path.rstrip("/").endswith(suffix):
            path = path.rstrip("/")[: -len(suffix)]
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _seg(segment: str) -> str:
    return quote(segment, safe="~()@:!$&'*+,;=")


GROUP_PRINCIPAL_PREFIX = "principal:principals/groups/"


def group_principal(group: str) -> str:
    """The `oc:share` href of a group, as Nextcloud's GroupPrincipalBackend builds group principal URIs: PHP
    `urlencode` of the group id ('+' for a space, upper-case %XX for every byte but [A-Za-z0-9_.-]). The share
    reaches the group's members only when the href is exactly this (contract §8)."""
    return GROUP_PRINCIPAL_PREFIX + quote_plus(group, safe="").replace("~", "%7E")


def names_group(href: str, group: str) -> bool:
    """Whether an `oc:invite` href names `group` in any spelling (raw, %20, encoded): the wrongly spelled ones
    deliver nothing and are replaced by the right one."""
    if not href.startswith(GROUP_PRINCIPAL_PREFIX):
        return False
    name = href[len(GROUP_PRINCIPAL_PREFIX):]
    return group in (name, unquote(name), unquote_plus(name))


class NextcloudClient:
    """One Nextcloud instance, one service account (app password), one requests.Session. Thread-safe."""

    def __init__(self, name: str, url: str, *, user: str, app_password: str, timeout: float = 30.0,
                 retries: int = 2, backoff: float = 0.2):
        self.name = name
        self.base = _normalise_base(url)
        self.user = user
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = RequestStats()
        self._secrets = [s for s in (app_password,) if s and len(s) >= 4]
        self._session = requests.Session()
        self._session.auth = (user, app_password)
        adapter = HTTPAdapter(max_retries=0)  # retries are ours: idempotent verbs only
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": "oscartes-sync"})
        # Session cookies would make later requests run as that session (contract §1); Basic auth is enough.
        self._session.cookies.set_policy(_NoCookies())
        self._lock = threading.Lock()
        self._refused: AuthError | None = None
        base_path = urlsplit(self.base).path
        self._files_prefix = f"{base_path}remote.php/dav/files/{user}/"
        self._books_prefix = f"{base_path}remote.php/dav/addressbooks/users/{user}/"

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self._session.close()

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _err(self, cls: type[TargetError], message: str, **kw: Any) -> TargetError:
        return cls(self.name, self._scrub(message), **kw)

    def files_url(self, path: str = "") -> str:
        segments = self._segments(path)
        return self.base + "remote.php/dav/files/" + _seg(self.user) + "/" + "/".join(_seg(s) for s in segments)

    def book_url(self, book: str, card: str | None = None) -> str:
        url = f"{self.base}remote.php/dav/addressbooks/users/{_seg(self.user)}/{_seg(book)}/"
        return url + _seg(card) if card else url

    def _segments(self, path: str) -> list[str]:
        try:
            return split_path(path)
        except ValueError as exc:
            raise self._err(BadFileName, Text("file name refused before sending ('{path}'): {reason}",
                                              path=path, reason=exc.args[0] if exc.args else exc)) from None

    def _send(self, method: str, url: str, *, family: str, headers: dict[str, str] | None = None,
              data: bytes | str | dict | None = None, params: dict[str, str] | None = None,
              auth: bool = True) -> requests.Response:
        """One HTTP exchange (with retries for idempotent verbs). Raises the sticky AuthError after a refusal."""
        route = f"{method} {family}"
        if auth and self._refused is not None:
            raise self._refused
        if isinstance(data, str):
            data = data.encode("utf-8")
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        for attempt in range(attempts):
            with self._lock:
                if auth and self._refused is not None:
                    raise self._refused
                self.stats.count(route)
            try:
                resp = self._session.request(method, url, headers=headers, data=data, params=params,
                                             timeout=self.timeout, allow_redirects=False,
                                             auth=None if auth else _NoAuth())
            except requests.Timeout:
                err = self._err(TransientError, Text("{route}: no answer within {timeout:g} s",
                                                     route=route, timeout=self.timeout))
            except requests.ConnectionError:
                err = self._err(TransientError, Text("{route}: could not connect to Nextcloud", route=route))
            except requests.RequestException as exc:
                err = self._err(TransientError, Text("{route}: request failed ({type})",
                                                     route=route, type=type(exc).__name__))
            else:
                if resp.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                    time.sleep(self.backoff * (2 ** attempt))
                    continue
                if auth and (resp.status_code == 401 or (resp.status_code == 429 and not self._rate_limit(resp))):
                    self._refuse(resp, route)
                return resp
            if attempt + 1 < attempts:
                time.sleep(self.backoff * (2 ** attempt))
                continue
            raise err
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse(self, resp: requests.Response, route: str) -> None:
        if resp.status_code == 429:
            msg = (f"{route}: Nextcloud refuses every request from this host (HTTP 429, brute-force protection "
                   "after failed logins); fix the app password, then ask the admin to run "
                   "`occ security:bruteforce:reset <ip>`. No further request is sent this run.")
        else:
            msg = (f"{route}: the user name or app password was refused (HTTP 401). No further request is sent "
                   "this run: repeated failed logins lock the whole host out.")
        err = self._err(AuthError, msg)
        with self._lock:
            if self._refused is None:
                self._refused = err  # type: ignore[assignment]
        raise self._refused  # type: ignore[misc]

    @classmethod
    def _rate_limit(cls, resp: requests.Response) -> str:
        """The limit a 429 names ("Too many addressbook or calendar share requests"), or '' for the brute-force
        lock-out, whose TooManyRequests carries no message (contract §1, fixture auth_bruteforce_throttled)."""
        if resp.status_code != 429 or "TooManyRequests" not in resp.text:
            return ""
        return cls._sabre_message(resp)

    @staticmethod
    def _sabre_message(resp: requests.Response) -> str:
        """The `s:message` of a Sabre error body (short, no server paths), or ''."""
        if "xml" not in resp.headers.get("Content-Type", ""):
            return ""
        try:
            root = ET.fromstring(resp.content)
        except ET.ParseError:
            return ""
        msg = root.findtext("{http://sabredav.org/ns}message") or ""
        return " ".join(msg.split())[:200]

    def _fail(self, resp: requests.Response, route: str, *, entry: bool = True) -> TargetError:
        """The error for a status the caller did not expect."""
        status = resp.status_code
        detail = self._sabre_message(resp)
        suffix = f" ({detail})" if detail else ""
        if status == 412:
            return self._err(PreconditionFailed, Text("{route}: the resource changed on the server (HTTP 412){suffix}",
                                                      route=route, suffix=suffix),
                             current_etag=_etag(resp.headers.get("ETag")))
        if status == 404:
            return self._err(NotFound, Text("{route}: not found (HTTP 404){suffix}", route=route, suffix=suffix))
        if status == 429 and self._rate_limit(resp):
            return self._err(RateLimited, Text("{route}: Nextcloud limits these requests (HTTP 429){suffix}",
                                               route=route, suffix=suffix))
        if status == 400 and "InvalidPath" in resp.text:
            return self._err(BadFileName, Text("{route}: Nextcloud refused the file name{suffix}",
                                               route=route, suffix=suffix))
        if status == 500 and "ForbiddenException" in resp.text:
            return self._err(BadFileName, Text("{route}: Nextcloud refused the file name{suffix}",
                                               route=route, suffix=suffix))
        if status >= 500 or status in (408, 425):
            return self._err(TransientError, Text("{route}: server error HTTP {status}{suffix}",
                                                  route=route, status=status, suffix=suffix))
        if 300 <= status < 400:
            return self._err(TerminalError, Text("{route} redirected (HTTP {status}); check the Nextcloud url",
                                                 route=route, status=status))
        if entry and status in (400, 403, 409, 413, 415, 423):
            return self._err(EntryError, Text("{route}: refused (HTTP {status}){suffix}",
                                              route=route, status=status, suffix=suffix))
        return self._err(TerminalError, Text("{route}: unexpected HTTP {status}{suffix}",
                                             route=route, status=status, suffix=suffix))

    def _multistatus(self, resp: requests.Response, route: str) -> ET.Element:
        ctype = resp.headers.get("Content-Type", "")
        if resp.status_code != 207 or "xml" not in ctype:
            if 200 <= resp.status_code < 300:  # e.g. a maintenance page: never act on it
                raise self._err(ListingFailed, Text("{route} answered {content_type} (HTTP {status}) where a WebDAV "
                                                    "multistatus was expected", route=route,
                                                    content_type=ctype or "-", status=resp.status_code))
            raise self._fail(resp, route)
        try:
            root = ET.fromstring(resp.content)
        except ET.ParseError:
            raise self._err(ListingFailed, Text("{route} answered XML that does not parse", route=route)) from None
        if root.tag != f"{{{D}}}multistatus":
            raise self._err(ListingFailed, Text("{route} answered XML that is not a multistatus", route=route))
        return root

    # ------------------------------------------------------------------ WebDAV files
    def _rel_of_href(self, href: str) -> str | None:
        path = unquote(urlsplit(href).path)
        prefix = unquote(self._files_prefix)
        if not (path + "/").startswith(prefix):
            return None
        return "/".join(nfc(s) for s in path[len(prefix):].split("/") if s)

    def propfind(self, path: str = "", depth: int | str = 1) -> list[DavItem]:
        """The entry for `path` then (Depth 1) its children. [] when `path` does not exist."""
        route = "PROPFIND files"
        resp = self._send("PROPFIND", self.files_url(path), family="files",
                          headers={"Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"},
                          data=PROPFIND_BODY)
        if resp.status_code == 404:
            return []
        root = self._multistatus(resp, route)
        items = []
        for response in root.findall(f"{{{D}}}response"):
            rel = self._rel_of_href(_text(response.find(f"{{{D}}}href")) or "")
            if rel is None:
                raise self._err(ListingFailed, Text("{route}: an entry lies outside the user's files", route=route))
            props: dict[str, ET.Element] = {}
            for propstat in response.findall(f"{{{D}}}propstat"):
                if "200" not in (propstat.findtext(f"{{{D}}}status") or ""):
                    continue
                for prop in _children(propstat.find(f"{{{D}}}prop")):
                    props[prop.tag] = prop
            is_dir = (rt := props.get(f"{{{D}}}resourcetype")) is not None and \
                rt.find(f"{{{D}}}collection") is not None
            size_txt = _text(props.get(f"{{{D}}}getcontentlength")) or _text(props.get(f"{{{OC}}}size"))
            modified = None
            if (lm := _text(props.get(f"{{{D}}}getlastmodified"))):
                try:
                    modified = parsedate_to_datetime(lm)
                except (TypeError, ValueError):
                    modified = None
            fileid = _text(props.get(f"{{{OC}}}fileid"))
            items.append(DavItem(rel, _etag(_text(props.get(f"{{{D}}}getetag"))),
                                 int(size_txt) if size_txt and size_txt.isdigit() else None, modified, is_dir,
                                 int(fileid) if fileid and fileid.isdigit() else None))
        return items

    def get(self, path: str) -> tuple[bytes, str | None]:
        route = "GET files"
        resp = self._send("GET", self.files_url(path), family="files")
        if resp.status_code != 200:
            raise self._fail(resp, f"{route} {path}")
        return resp.content, _etag(resp.headers.get("ETag"))

    def put(self, path: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
            mtime: int | None = None, content_type: str | None = None) -> str | None:
        """Upload; returns the new ETag. `if_match`: only if unchanged; `if_none_match`: only if absent.
        A 412 raises PreconditionFailed (its `current_etag` is the server's)."""
        headers = {}
        if if_match:
            headers["If-Match"] = _quoted(if_match)
        if if_none_match:
            headers["If-None-Match"] = "*"
        if mtime is not None:
            headers["X-OC-Mtime"] = str(int(mtime))
        if content_type:
            headers["Content-Type"] = content_type
        resp = self._send("PUT", self.files_url(path), family="files", headers=headers, data=data)
        if resp.status_code not in (200, 201, 204):
            raise self._fail(resp, f"PUT files {path}")
        return _etag(resp.headers.get("ETag") or resp.headers.get("OC-ETag"))

    def mkcol(self, path: str) -> bool:
        """Create one folder; False when it already exists. A missing parent raises NotFound."""
        resp = self._send("MKCOL", self.files_url(path), family="files")
        if resp.status_code == 201:
            return True
        if resp.status_code == 405:
            return False
        if resp.status_code == 409:
            raise self._err(NotFound, Text("MKCOL files {path}: the parent folder does not exist", path=path))
        raise self._fail(resp, f"MKCOL files {path}")

    def makedirs(self, path: str) -> None:
        """Create `path` and its missing parents (one MKCOL per level, from the top)."""
        segments = self._segments(path)
        for i in range(1, len(segments) + 1):
            self.mkcol("/".join(segments[:i]))

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        headers = {"Destination": self.files_url(dst), "Overwrite": "T" if overwrite else "F"}
        resp = self._send("MOVE", self.files_url(src), family="files", headers=headers)
        if resp.status_code not in (201, 204):
            raise self._fail(resp, f"MOVE files {src}")

    def delete(self, path: str, *, if_match: str | None = None) -> bool:
        """Delete a file or folder; False when it did not exist."""
        headers = {"If-Match": _quoted(if_match)} if if_match else None
        resp = self._send("DELETE", self.files_url(path), family="files", headers=headers)
        if resp.status_code in (200, 204):
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp, f"DELETE files {path}")

    # ------------------------------------------------------------------ CardDAV
    @staticmethod
    def card_name(uid: str) -> str:
        return f"{uid}.vcf"

    def card_href(self, book: str, uid: str) -> str:
        return urlsplit(self.book_url(book, self.card_name(uid))).path

    def ensure_addressbook(self, book: str, displayname: str, description: str | None = None) -> bool:
        """Create the address book (extended MKCOL); False when it already exists."""
        if check_name(book):
            raise self._err(BadFileName, Text("address book name refused before sending ('{book}')", book=book))
        desc = (f"<card:addressbook-description>{escape(description)}</card:addressbook-description>"
                if description else "")
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:mkcol xmlns:d="DAV:" '
                'xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>'
                "<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"
                f"<d:displayname>{escape(displayname)}</d:displayname>{desc}</d:prop></d:set></d:mkcol>")
        resp = self._send("MKCOL", self.book_url(book), family="addressbook",
                          headers={"Content-Type": "application/xml; charset=utf-8"}, data=body)
        if resp.status_code == 201:
            return True
        if resp.status_code == 405:
            return False
        raise self._fail(resp, f"MKCOL addressbook {book}", entry=False)

    def delete_addressbook(self, book: str) -> bool:
        """Delete an address book of the account; False when it did not exist."""
        resp = self._send("DELETE", self.book_url(book), family="addressbook")
        if resp.status_code in (200, 204):
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp, f"DELETE addressbook {book}", entry=False)

    def list_addressbooks(self) -> dict[str, dict[str, Any]]:
        """Books of the account: name → {displayname, sync_token, read_only}."""
        body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                "<d:prop><d:displayname/><d:resourcetype/><d:sync-token/><oc:read-only/></d:prop></d:propfind>")
        resp = self._send("PROPFIND", self.base + f"remote.php/dav/addressbooks/users/{_seg(self.user)}/",
                          family="addressbook", headers={"Depth": "1", "Content-Type": "application/xml"},
                          data=body)
        root = self._multistatus(resp, "PROPFIND addressbooks")
        out: dict[str, dict[str, Any]] = {}
        for response in root.findall(f"{{{D}}}response"):
            href = unquote(urlsplit(_text(response.find(f"{{{D}}}href")) or "").path)
            name = href[len(unquote(self._books_prefix)):].strip("/") if href.startswith(
                unquote(self._books_prefix)) else ""
            if not name:
                continue
            found: dict[str, str] = {}
            for propstat in response.findall(f"{{{D}}}propstat"):
                if "200" in (propstat.findtext(f"{{{D}}}status") or ""):
                    for prop in _children(propstat.find(f"{{{D}}}prop")):
                        found[prop.tag] = prop.text or ""
            out[name] = {"displayname": found.get(f"{{{D}}}displayname"),
                         "sync_token": found.get(f"{{{D}}}sync-token"),
                         "read_only": found.get(f"{{{OC}}}read-only") == "1"}
        return out

    def sync_collection(self, book: str, token: str | None, *, limit: int | None = None) -> SyncResult:
        """Changes since `token` (None or "" = everything), following the server's pages (507 entries).
        Raises SyncTokenInvalid when the server refuses the token or answers with an older one."""
        return self._sync_report(self.book_url(book), "addressbook", f"addressbook {book}", "card", token, limit)

    def _sync_report(self, url: str, family: str, what: str, item: str, token: str | None,
                     limit: int | None) -> SyncResult:
        """RFC 6578 sync-collection on the collection at `url` (an address book or a calendar, contract §4, §5)."""
        sent_number = _token_number(token)
        changed: dict[str, str] = {}
        removed: dict[str, None] = {}
        current = token or ""
        book_path = unquote(urlsplit(url).path)
        limit_xml = f"<d:limit><d:nresults>{int(limit)}</d:nresults></d:limit>" if limit else ""
        for _ in range(MAX_SYNC_PAGES):
            body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:sync-collection xmlns:d="DAV:">'
                    f"<d:sync-token>{escape(current)}</d:sync-token><d:sync-level>1</d:sync-level>{limit_xml}"
                    "<d:prop><d:getetag/></d:prop></d:sync-collection>")
            resp = self._send("REPORT", url, family=family,
                              headers={"Content-Type": "application/xml; charset=utf-8"}, data=body)
            if resp.status_code == 403 and "valid-sync-token" in resp.text:
                raise self._err(SyncTokenInvalid, Text("REPORT {what}: the server no longer knows the "
                                                       "sync token; a full resync is needed", what=what))
            if resp.status_code == 404:
                raise self._err(NotFound, Text("REPORT {what}: the collection does not exist", what=what))
            root = self._multistatus(resp, f"REPORT {what}")
            more = False
            for response in root.findall(f"{{{D}}}response"):
                href = _text(response.find(f"{{{D}}}href")) or ""
                status = response.findtext(f"{{{D}}}status") or ""
                if unquote(urlsplit(href).path).rstrip("/") == book_path.rstrip("/"):
                    more = more or " 507" in status
                    continue
                if " 404" in status:
                    changed.pop(href, None)
                    removed[href] = None
                    continue
                etag = None
                for propstat in response.findall(f"{{{D}}}propstat"):
                    if "200" in (propstat.findtext(f"{{{D}}}status") or ""):
                        etag = _etag(propstat.findtext(f"{{{D}}}prop/{{{D}}}getetag"))
                if etag is None:
                    raise self._err(ListingFailed, Text("REPORT {what}: a changed {item} has no ETag",
                                                        what=what, item=item))
                removed.pop(href, None)
                changed[href] = etag
            new_token = (root.findtext(f"{{{D}}}sync-token") or "").strip()
            if not new_token:
                raise self._err(ListingFailed, Text("REPORT {what}: the answer has no sync token", what=what))
            if not more:
                got = _token_number(new_token)
                if sent_number is not None and got is not None and got < sent_number:
                    # The server silently accepts unknown future tokens (contract §4): the book was re-created.
                    raise self._err(SyncTokenInvalid, Text("REPORT {what}: the sync token is newer than "
                                                           "the collection (re-created?); a full resync is needed",
                                                           what=what))
                return SyncResult(new_token, list(changed.items()), list(removed))
            if new_token == current:
                raise self._err(ListingFailed, Text("REPORT {what}: paging does not progress", what=what))
            current = new_token
        raise self._err(ListingFailed, Text("REPORT {what}: too many pages", what=what))

    def multiget(self, book: str, hrefs: Iterable[str], *, version: str | None = None,
                 chunk: int = 200) -> dict[str, tuple[str, str | None]]:
        """Card text and ETag for each href that still exists (the server silently omits the others).
        `version` "4.0" asks for vCard 4.0; None gives the server default (3.0)."""
        hrefs = list(dict.fromkeys(hrefs))
        out: dict[str, tuple[str, str | None]] = {}
        vattr = f' content-type="text/vcard" version="{version}"' if version else ""
        for i in range(0, len(hrefs), chunk):
            part = hrefs[i:i + chunk]
            body = ('<?xml version="1.0" encoding="utf-8"?>\n<card:addressbook-multiget xmlns:d="DAV:" '
                    f'xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data{vattr}/>'
                    "</d:prop>" + "".join(f"<d:href>{escape(h)}</d:href>" for h in part)
                    + "</card:addressbook-multiget>")
            resp = self._send("REPORT", self.book_url(book), family="addressbook",
                              headers={"Content-Type": "application/xml; charset=utf-8", "Depth": "1"}, data=body)
            root = self._multistatus(resp, f"REPORT addressbook {book}")
            wanted = {unquote(urlsplit(h).path): h for h in part}
            for response in root.findall(f"{{{D}}}response"):
                href = _text(response.find(f"{{{D}}}href")) or ""
                data = response.findtext(f"{{{D}}}propstat/{{{D}}}prop/{{{CARD}}}address-data")
                if data is None:
                    continue
                etag = _etag(response.findtext(f"{{{D}}}propstat/{{{D}}}prop/{{{D}}}getetag"))
                out[wanted.get(unquote(urlsplit(href).path), href)] = (data, etag)
        return out

    def get_card(self, book: str, uid: str) -> tuple[str, str | None] | None:
        resp = self._send("GET", self.book_url(book, self.card_name(uid)), family="addressbook")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"GET card {uid}")
        return resp.content.decode("utf-8", "replace"), _etag(resp.headers.get("ETag"))

    def put_card(self, book: str, uid: str, vcard_text: str, *, etag: str | None = None) -> str | None:
        """Create (If-None-Match: *) or, with `etag`, update (If-Match) the card `{uid}.vcf`. Returns the new
        ETag (None when the server repaired the card and sent none). 412 raises PreconditionFailed."""
        problem = validate_vcard(vcard_text, uid)
        if problem:
            raise self._err(EntryError, Text("card {uid} not sent: {problem}", uid=uid, problem=problem))
        headers = {"Content-Type": "text/vcard; charset=utf-8"}
        if etag:
            headers["If-Match"] = _quoted(etag)
        else:
            headers["If-None-Match"] = "*"
        resp = self._send("PUT", self.book_url(book, self.card_name(uid)), family="addressbook", headers=headers,
                          data=vcard_text)
        if resp.status_code not in (201, 204):
            raise self._fail(resp, f"PUT card {uid}")
        return _etag(resp.headers.get("ETag"))

    def delete_card(self, book: str, uid: str, *, etag: str | None = None) -> bool:
        headers = {"If-Match": _quoted(etag)} if etag else None
        resp = self._send("DELETE", self.book_url(book, self.card_name(uid)), family="addressbook",
                          headers=headers)
        if resp.status_code in (200, 204):
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp, f"DELETE card {uid}")

    # ------------------------------------------------------------------ sharing a DAV collection
    def invites(self, collection_url: str, *, family: str = "addressbook") -> list[DavInvite]:
        """Who a DAV collection of the account (address book, calendar) is shared with: its `oc:invite`
        (PROPFIND Depth 0). NotFound when the collection does not exist."""
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:" '
                'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:invite/></d:prop></d:propfind>')
        route = f"PROPFIND {family}"
        resp = self._send("PROPFIND", collection_url, family=family,
                          headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}, data=body)
        if resp.status_code == 404:
            raise self._err(NotFound, Text("{route}: the collection does not exist", route=route))
        root = self._multistatus(resp, route)
        invite = None
        for propstat in root.findall(f"{{{D}}}response/{{{D}}}propstat"):
            found = propstat.find(f"{{{D}}}prop/{{{OC}}}invite")
            if found is not None and "200" in (propstat.findtext(f"{{{D}}}status") or ""):
                invite = found
        if invite is None:
            raise self._err(ListingFailed, Text("{route}: the answer has no oc:invite (is this a shareable "
                                                "collection?)", route=route))
        out = []
        for user in invite.findall(f"{{{OC}}}user"):
            access = user.find(f"{{{OC}}}access")
            out.append(DavInvite((user.findtext(f"{{{D}}}href") or "").strip(),
                                 user.findtext(f"{{{OC}}}common-name"),
                                 access is None or access.find(f"{{{OC}}}read-write") is None))
        return out

    def share(self, collection_url: str, *, set_hrefs: Iterable[str] = (), remove_hrefs: Iterable[str] = (),
              read_only: bool = True, family: str = "addressbook") -> None:
        """One `oc:share` POST on a DAV collection: share it with `set_hrefs`, stop sharing it with
        `remove_hrefs`. Nextcloud answers 200 even for a share it drops (unknown group): read `invites` after.
        Counts against the account's share rate limit (RateLimited)."""
        rw = "" if read_only else "<oc:read-write/>"
        parts = [f"<oc:set><d:href>{escape(h)}</d:href>{rw}</oc:set>" for h in set_hrefs]
        parts += [f"<oc:remove><d:href>{escape(h)}</d:href></oc:remove>" for h in remove_hrefs]
        if not parts:
            return
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<oc:share xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                + "".join(parts) + "</oc:share>")
        resp = self._send("POST", collection_url, family=family,
                          headers={"Content-Type": "application/xml; charset=utf-8"}, data=body)
        if resp.status_code not in (200, 204):
            raise self._fail(resp, f"POST share {family}")

    # ------------------------------------------------------------------ CalDAV (contract §5)
    def calendar_url(self, calendar: str, event: str | None = None) -> str:
        url = f"{self.base}remote.php/dav/calendars/{_seg(self.user)}/{_seg(calendar)}/"
        return url + _seg(event) if event else url

    def event_href(self, calendar: str, uid: str) -> str:
        return urlsplit(self.calendar_url(calendar, f"{uid}.ics")).path

    def ensure_calendar(self, calendar: str, displayname: str, description: str | None = None) -> bool:
        """Create a VEVENT calendar (MKCALENDAR); False when it already exists."""
        if check_name(calendar):
            raise self._err(BadFileName, Text("calendar name refused before sending ('{calendar}')",
                                              calendar=calendar))
        desc = f"<cal:calendar-description>{escape(description)}</cal:calendar-description>" if description else ""
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<cal:mkcalendar xmlns:d="DAV:" '
                'xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
                f"<d:displayname>{escape(displayname)}</d:displayname>{desc}<cal:supported-calendar-component-set>"
                '<cal:comp name="VEVENT"/></cal:supported-calendar-component-set></d:prop></d:set></cal:mkcalendar>')
        resp = self._send("MKCALENDAR", self.calendar_url(calendar), family="calendar",
                          headers={"Content-Type": "application/xml; charset=utf-8"}, data=body)
        if resp.status_code == 201:
            return True
        if resp.status_code == 405:
            return False
        raise self._fail(resp, f"MKCALENDAR {calendar}", entry=False)

    def sync_calendar(self, calendar: str, token: str | None) -> SyncResult:
        """Changes of a calendar since `token` (sync-collection, identical to CardDAV: contract §5)."""
        return self._sync_report(self.calendar_url(calendar), "calendar", f"calendar {calendar}", "event", token,
                                 None)

    def put_event(self, calendar: str, uid: str, ical_text: str, *, etag: str | None = None) -> str | None:
        """Create (If-None-Match: *) or, with `etag`, update (If-Match) the event `{uid}.ics`; the new ETag.
        A stale ETag raises PreconditionFailed (412), the server's refusals EntryError (400, 403, 415)."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = _quoted(etag) if etag else "*"
        resp = self._send("PUT", self.calendar_url(calendar, f"{uid}.ics"), family="calendar", headers=headers,
                          data=ical_text)
        if resp.status_code not in (201, 204):
            raise self._fail(resp, f"PUT event {uid}")
        return _etag(resp.headers.get("ETag"))

    def delete_event(self, calendar: str, uid: str, *, etag: str | None = None) -> bool:
        headers = {"If-Match": _quoted(etag)} if etag else None
        resp = self._send("DELETE", self.calendar_url(calendar, f"{uid}.ics"), family="calendar", headers=headers)
        if resp.status_code in (200, 204):
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp, f"DELETE event {uid}")

    def get_event(self, calendar: str, uid: str) -> tuple[str, str | None] | None:
        resp = self._send("GET", self.calendar_url(calendar, f"{uid}.ics"), family="calendar")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"GET event {uid}")
        return resp.content.decode("utf-8", "replace"), _etag(resp.headers.get("ETag"))

    # ------------------------------------------------------------------ OCS
    def _ocs(self, method: str, route: str, *, params: dict[str, str] | None = None,
             data: dict[str, Any] | None = None, family: str = "ocs") -> tuple[int, Any, str]:
        """(ocs statuscode, data, message) of an OCS v2 call; raises on transport/format problems."""
        resp = self._send(method, f"{self.base}ocs/v2.php/{route}", family=family,
                          headers={"OCS-APIRequest": "true", "Accept": "application/json"},
                          params={**(params or {}), "format": "json"}, data=data)
        label = f"{method} {family}"
        if resp.status_code == 412 and "CSRF" in resp.text:
            raise self._err(TerminalError, Text("{label}: Nextcloud refused the OCS call (CSRF check)", label=label))
        if "json" not in resp.headers.get("Content-Type", ""):
            if resp.status_code >= 500:
                raise self._err(TransientError, Text("{label}: server error HTTP {status}",
                                                     label=label, status=resp.status_code))
            raise self._err(TerminalError, Text("{label} answered {content_type} (HTTP {status}) where JSON was "
                                                "expected", label=label,
                                                content_type=resp.headers.get("Content-Type") or "-",
                                                status=resp.status_code))
        try:
            meta = resp.json()["ocs"]["meta"]
            payload = resp.json()["ocs"].get("data")
        except (ValueError, KeyError, TypeError):
            raise self._err(TerminalError, Text("{label} answered JSON that is not an OCS envelope",
                                                label=label)) from None
        code = int(meta.get("statuscode", resp.status_code))
        if code >= 500:
            raise self._err(TransientError, Text("{label}: server error {code}", label=label, code=code))
        return code, payload, " ".join(str(meta.get("message") or "").split())[:200]

    def _shares_of(self, path: str) -> list[dict[str, Any]]:
        code, data, msg = self._ocs("GET", "apps/files_sharing/api/v1/shares", params={"path": path},
                                    family="shares")
        if code == 404:
            raise self._err(NotFound, Text("shares of {path}: {reason}", path=path, reason=msg or Text("not found")))
        if code != 200 or not isinstance(data, list):
            raise self._err(TerminalError, Text("shares of {path}: unexpected answer ({code} {msg})",
                                                path=path, code=code, msg=msg))
        return data

    def _create_share(self, form: dict[str, Any], path: str) -> dict[str, Any]:
        code, data, msg = self._ocs("POST", "apps/files_sharing/api/v1/shares", data=form, family="shares")
        if code == 404:
            raise self._err(NotFound, Text("share {path}: {reason}", path=path, reason=msg or Text("not found")))
        if code != 200 or not isinstance(data, dict):
            raise self._err(EntryError, Text("share {path}: refused ({code} {msg})", path=path, code=code, msg=msg))
        return data

    def share_public_link(self, path: str) -> str:
        """The URL of the read-only public link of `path`, reusing an existing link share (idempotent)."""
        norm = "/" + "/".join(self._segments(path))
        for share in self._shares_of(norm):
            if int(share.get("share_type", -1)) == 3 and share.get("url") and not share.get("password"):
                return str(share["url"])
        return str(self._create_share({"path": norm, "shareType": "3", "permissions": "1"}, norm)["url"])

    def share_with_group(self, path: str, group: str, read_only: bool = True) -> None:
        """Share a file or folder with a group (OCS, shareType 1). Idempotent: an existing share with that group
        is kept. (A DAV collection is shared with `invites` and `share`.)"""
        norm = "/" + "/".join(self._segments(path))
        for share in self._shares_of(norm):
            if int(share.get("share_type", -1)) == 1 and share.get("share_with") == group:
                return
        self._create_share({"path": norm, "shareType": "1", "shareWith": group,
                            "permissions": "1" if read_only else "31"}, norm)

    # ------------------------------------------------------------------ doctor
    def check(self, group: str | None = None) -> NextcloudCheck:
        """Reachable (status.php), version, app password accepted, and (when named) the group exists."""
        result = NextcloudCheck()
        try:
            resp = self._send("GET", self.base + "status.php", family="status", auth=False)
            info = resp.json() if "json" in resp.headers.get("Content-Type", "") else None
            if resp.status_code != 200 or not isinstance(info, dict) or not info.get("installed"):
                result.reachable = True
                result.problems.append(Text("status.php did not answer like a Nextcloud (HTTP {status})",
                                                   status=resp.status_code))
                return result
            result.reachable = True
            result.version = str(info.get("versionstring") or info.get("version") or "") or None
            if info.get("maintenance"):
                result.problems.append(Text("the instance is in maintenance mode"))
        except TransientError as exc:
            result.problems.append(exc.message)
            return result
        except ValueError:
            result.reachable = True
            result.problems.append(Text("status.php answered something that is not JSON"))
            return result
        try:
            code, data, msg = self._ocs("GET", "cloud/user", family="user")
            if code == 200 and isinstance(data, dict):
                result.auth, result.user = "ok", str(data.get("id"))
            else:
                result.problems.append(Text("cloud/user: unexpected answer ({code} {msg})", code=code, msg=msg))
        except AuthError as exc:
            result.auth = "locked-out" if "429" in exc.message else "refused"
            result.problems.append(exc.message)
            return result
        except TargetError as exc:
            result.problems.append(exc.message)
            return result
        if group:
            try:
                result.group_exists = self.group_exists(group)
                if result.group_exists is False:
                    result.problems.append(Text("the group '{group}' does not exist on this Nextcloud", group=group))
            except TargetError as exc:
                result.problems.append(exc.message)
        return result

    def group_exists(self, group: str) -> bool | None:
        """Whether the group exists; None when the account may not list groups."""
        code, data, _ = self._ocs("GET", "cloud/groups", params={"search": group}, family="groups")
        if code == 200 and isinstance(data, dict):
            return group in (data.get("groups") or [])
        return None


def _token_number(token: str | None) -> int | None:
    if token and token.startswith(SYNC_PREFIX) and token[len(SYNC_PREFIX):].isdigit():
        return int(token[len(SYNC_PREFIX):])
    return None


def validate_vcard(text: str, uid: str | None = None) -> str | None:
    """Why a card must not be sent (the server stores broken cards verbatim, contract §4); None when fine."""
    lines = [ln for ln in re.split(r"\r\n|\n", text) if ln.strip()]
    if not lines or lines[0].strip().upper() != "BEGIN:VCARD" or lines[-1].strip().upper() != "END:VCARD":
        return Text("it must start with BEGIN:VCARD and end with END:VCARD")
    if sum(1 for ln in lines if ln.strip().upper() == "BEGIN:VCARD") != 1:
        return Text("exactly one vCard per resource")
    props: dict[str, str] = {}
    for ln in lines:
        if ln[:1] in (" ", "\t"):
            continue
        name, sep, value = ln.partition(":")
        if sep:
            props.setdefault(name.split(";", 1)[0].strip().upper(), value.strip())
    if props.get("VERSION") not in ("3.0", "4.0"):
        return Text("VERSION must be 3.0 or 4.0")
    if not props.get("FN"):
        return Text("FN is missing (the server would invent one)")
    if not props.get("UID"):
        return Text("UID is missing (the server would invent one)")
    if uid is not None and props["UID"] != uid:
        return Text("its UID differs from the card's name")
    return None


class _NoCookies(DefaultCookiePolicy):
    """Cookie policy that keeps the jar empty (see `NextcloudClient.__init__`)."""

    def set_ok(self, cookie, request):  # noqa: ANN001 - cookiejar signature
        return False

    def return_ok(self, cookie, request):  # noqa: ANN001
        return False


class _NoAuth(requests.auth.AuthBase):
    """No Authorization header (status.php is public)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.pop("Authorization", None)
        return r
