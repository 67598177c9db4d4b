"""YesWiki / Bazar client: the EntryTarget of one wiki, faithful to the HTTP contract of YesWiki 4.4.2.

Routes used (all `{base}?...`, extra query parameters appended with `&`):
  GET  ?api/forms, ?api/forms/{id}, ?api/forms/{id}/entries      (forms, listing; token so that members-only
                                                                  fields are not blanked)
  POST ?api/entries/{formId} + `Source-Url` header              (create; never retried, one at a time)
  GET  ?api/entry/url/{url encoded twice}                       (find by source anchor)
  GET  ?api/pages/{id}[&time=...]                               (read one entry / one revision)
  DELETE ?api/pages/{id}                                        (delete)
  POST ?PagePrincipale (login), POST ?{id}/edit, GET ?{id}/revisions   (web handlers, admin session)

Two identities travel on one requests.Session: the bearer token (API) and the admin session cookies (web
handlers). Every bearer-authenticated answer also sets session cookies for the token's user (contract §1), so
the Session's own cookie jar is disabled and the admin cookies are kept apart and sent only to web handlers:
otherwise a web edit could silently run as the token's user.
"""

from __future__ import annotations

import html
import json
import re
import string
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

import requests
from bs4 import BeautifulSoup
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..text import Text, scrub
from .base import (
    AuthError,
    EntryError,
    EntryVersion,
    FileUpload,
    FormShape,
    ListedEntry,
    ListingFailed,
    RequestStats,
    Revision,
    TargetError,
    TerminalError,
    TransientError,
)
from .yeswiki_acl import ACLS_PROPERTY, GROUP_PREFIX

# Keys the server computes; sending `id_fiche` turns a create into a full overwrite (contract §3.4).
_FORBIDDEN_KEYS = frozenset({"id_fiche"})
# Re-login before a web call when the admin session has been idle this long (YesWiki cookies live 1 h).
_SESSION_IDLE_S = 45 * 60
# Characters kept as they are in a Source-Url header; anything else (non-ASCII, spaces, controls) is
# percent-encoded, the same way for the create header and for the lookup.
_SOURCE_SAFE = "".join(c for c in string.printable if not c.isspace() and c != "%") + "%"


class _NoCookies(DefaultCookiePolicy):
    """Keep the Session's shared jar empty (see the module docstring)."""

    def set_ok(self, cookie, request):  # noqa: ANN001 - cookiejar signature
        return False

    def return_ok(self, cookie, request):  # noqa: ANN001
        return False


@dataclass
class WikiCheck:
    """What `doctor` reports for one wiki."""

    reachable: bool = False
    api_json: bool = False
    token: str = "unknown"  # "admin", "user" (accepted, not admin), "refused", "missing", "unknown"
    admin_login: bool | None = None  # None: not tried (no credentials or wiki unreachable)
    version: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _normalise_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # The URL itself is not repeated: it could carry user:password@.
        raise ValueError(Text("the wiki url must be an http(s) URL such as https://wiki.example.org/"))
    path = parts.path or "/"
    if not path.endswith("/") and not path.endswith(".php"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _q(segment: str) -> str:
    """One path-like segment inside the query string (entry ids, form ids)."""
    return quote(str(segment), safe="")


def short_exception(text: Any) -> str:
    """First sentence of a YesWiki `exceptionMessage`, without class name, server paths or stack trace."""
    text = html.unescape(str(text or ""))
    text = text.split("Stack trace:")[0].strip()
    text = text.splitlines()[0] if text else ""
    text = re.sub(r"\s+in\s+(?:<webroot>|[A-Za-z]:\\|/)\S*?(?::\d+|\s+on\s+line\s+\d+)?(?=\s|$)", "", text)
    text = re.sub(r"(?:<webroot>|(?:/[\w.\-]+){2,})\S*", "", text)  # any path left
    text = re.sub(r"^(?:[A-Za-z_][\w]*\\)*[A-Za-z_]*(?:Exception|Error)\s*:\s*", "", text)
    m = re.match(r"(.*?[.!?])(?:\s|$)", text)
    if m:
        text = m.group(1)
    text = " ".join(text.split())
    if len(text) > 200:
        text = text[:197] + "..."
    return text or Text("the wiki raised an internal error")


def _id_from_entry_url(url: str) -> str:
    """`http://host/?CafeDeLaGare` → `CafeDeLaGare` (contract §3.1: the id is the part after `?`)."""
    if "?" not in url:
        return ""
    return unquote(url.split("?", 1)[1].split("&", 1)[0])


SOURCE_URL_PROPERTY = "http://outils-reseaux.org/_vocabulary/sourceUrl"


def _raw_str(value: Any) -> str:
    """A value as the edit handler takes it back (`45.0` read as a number goes back as `45`)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def json_body(resp: requests.Response, route: str, fail: Callable[[str], TargetError]) -> Any:
    """The JSON of an API answer; HTML or broken JSON where JSON is due is the wiki failing in disguise."""
    ctype = resp.headers.get("Content-Type", "")
    if "json" not in ctype.lower():
        if not ctype:
            raise fail(Text("{route} answered with no content type (HTTP {status}) where JSON was expected",
                            route=route, status=resp.status_code))
        raise fail(Text("{route} answered {content_type} (HTTP {status}) where JSON was expected",
                        route=route, content_type=ctype, status=resp.status_code))
    try:
        return json.loads(resp.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise fail(Text("{route} answered something that is not JSON", route=route)) from None


def revisions_list(resp: requests.Response, route: str, fail: Callable[[str], TargetError]) -> list[Revision]:
    """The revisions embedded in a `?{tag}/revisions` page (`data-revisions`, contract §7), newest first. The
    page orders by time only; the revision id, an auto-increment, also orders saves within one second."""
    node = BeautifulSoup(resp.content, "html.parser").find(attrs={"data-revisions": True})
    if node is None:
        raise fail(Text("{route} answered a page without data-revisions", route=route))
    try:
        raw = json.loads(node["data-revisions"])
    except ValueError:
        raise fail(Text("{route}: data-revisions is not JSON", route=route)) from None
    if not isinstance(raw, list) or not all(isinstance(r, dict) and "id" in r for r in raw):
        raise fail(Text("{route}: data-revisions is not a list of revisions", route=route))
    revs = [Revision(id=str(r["id"]), time=str(r.get("time", "")), user=str(r.get("user") or "")) for r in raw]
    return sorted(revs, key=lambda r: (int(r.id) if r.id.isdigit() else -1, r.time), reverse=True)


def file_url(base: str, name: str) -> str:
    """Uploads are static files under `files/` (recorded: tests/contract/recorded/files_x1_image_field)."""
    return f"{_normalise_base(base)}files/{quote(name, safe='')}"


def _listed(raw: dict[str, Any]) -> ListedEntry:
    return ListedEntry(values=raw, validated=str(raw.get("statut_fiche", "1")) == "1",
                       updated=str(raw.get("date_maj_fiche") or ""), user=str(raw.get("user") or ""))


class YesWikiClient:
    """EntryTarget for one YesWiki instance. Thread-safe for the engine's use: creates are serialised."""

    def __init__(self, name: str, url: str, *, token: str | None, admin_user: str | None,
                 admin_password: str | None, timeout: float = 30.0, forms: dict[str, FormShape] | None = None):
        self.name = name
        self.forms = {str(k): v for k, v in (forms or {}).items()}  # form id -> what an update must re-send
        self.base = _normalise_base(url)
        self.timeout = timeout
        self.stats = RequestStats()
        self._token = token or None
        self._admin_user = admin_user or None
        self._admin_password = admin_password or None
        # Scrubbed from every message (belt and braces: no message is built from them).
        self._secrets = [s for s in (self._token, self._admin_password) if s and len(s) >= 4]

        self._session = requests.Session()
        self._session.cookies.set_policy(_NoCookies())
        # Retries: GET only (idempotent) for read errors and gateway errors. Connection-level retries
        # (refused, connect timeout) happen before anything is sent, so they cannot duplicate a create.
        # A 500 is a PHP exception: deterministic, never retried.
        retry = Retry(total=3, connect=2, read=2, status=2, other=0, redirect=0,
                      allowed_methods=frozenset({"GET", "HEAD"}),
                      status_forcelist=(502, 503, 504), backoff_factor=0.2,
                      raise_on_status=False, respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": "oscartes-sync"})

        self._lock = threading.Lock()          # stats, cookies
        self._create_lock = threading.Lock()   # one create at a time (DECISIONS §5, contract §3.2)
        self._login_lock = threading.Lock()
        self._known_forms: set[str] = set()
        self._web_cookies: dict[str, str] = {}
        self._web_last_used = 0.0
        # Sticky refusals: after one, no further request with that credential (hosts lock out).
        self._token_refused: AuthError | None = None
        self._login_refused: AuthError | None = None

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._session.close()

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _err(self, cls: type[TargetError], message: str) -> TargetError:
        return cls(self.name, self._scrub(message))

    def _send(self, method: str, family: str, query: str, *, auth: str | None = None,
              data: dict[str, str] | None = None, headers: dict[str, str] | None = None,
              files: dict[str, tuple[str, bytes, str]] | None = None) -> requests.Response:
        """One HTTP exchange. `auth`: "token" (bearer), "session" (admin cookies) or None."""
        route = f"{method} ?{query}"
        hdrs = {"Accept": "application/json, text/html;q=0.5"}
        cookies = None
        if auth == "token":
            if self._token_refused is not None:
                raise self._token_refused
            if not self._token:
                raise self._err(TerminalError, Text("{route}: no API token configured for this wiki", route=route))
            hdrs["Authorization"] = f"Bearer {self._token}"
        elif auth == "session":
            with self._lock:
                cookies = dict(self._web_cookies)
        if headers:
            hdrs.update(headers)
        with self._lock:
            self.stats.count(f"{method} {family}")
        try:
            # with files, requests sends multipart/form-data: file parts named after the field (contract §3.1)
            resp = self._session.request(method, self.base + "?" + query, data=data, headers=hdrs, files=files or None,
                                         cookies=cookies, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise self._err(TransientError, Text("{route}: no answer within {timeout:g} s",
                                                 route=route, timeout=self.timeout)) from None
        except requests.ConnectionError:
            raise self._err(TransientError, Text("{route}: could not connect to the wiki", route=route)) from None
        except requests.RequestException as exc:
            raise self._err(TransientError, Text("{route}: request failed ({type})",
                                                 route=route, type=type(exc).__name__)) from None
        if auth == "session":
            with self._lock:
                self._web_cookies.update(resp.cookies.get_dict())
                self._web_last_used = time.monotonic()
        elif auth == "token" and 200 <= resp.status_code < 300 and "name" not in resp.cookies:
            # Public routes answer a refused token anonymously (200, members-only fields blanked) instead of
            # 401; an accepted token always logs its user in with a `name` cookie (contract §1, checked on
            # 4.4.2). Without that cookie the answer is an anonymous one and must not be used.
            err = self._err(AuthError, Text("{route}: the API token was not accepted (the wiki answered "
                                            "anonymously)", route=route))
            self._token_refused = err  # type: ignore[assignment]
            raise err
        return resp

    def _json(self, resp: requests.Response, route: str) -> Any:
        return json_body(resp, route, lambda message: self._err(TerminalError, message))

    def _fail(self, resp: requests.Response, route: str, *, entry_op: bool = False,
              auth: str | None = "token") -> TargetError:
        """The error for a status the caller did not expect."""
        status = resp.status_code
        if status in (401, 403):
            refused = {"token": Text("{route}: the API token was refused (HTTP {status})", route=route, status=status),
                       "session": Text("{route}: the admin session was refused (HTTP {status})", route=route,
                                       status=status)}
            err = self._err(AuthError, refused.get(auth or "") or Text(
                "{route}: anonymous access was refused (HTTP {status})", route=route, status=status))
            if auth == "token":
                self._token_refused = err  # type: ignore[assignment]
            return err
        if status >= 500:
            detail = ""
            try:
                body = json.loads(resp.content.decode("utf-8"))
                if isinstance(body, dict) and "exceptionMessage" in body:
                    detail = short_exception(body["exceptionMessage"])
            except (UnicodeDecodeError, ValueError):
                pass
            if entry_op and detail:
                return self._err(EntryError, Text("{route} refused the entry: {detail}", route=route, detail=detail))
            if detail:
                return self._err(TransientError, Text("{route}: server error HTTP {status} ({detail})", route=route,
                                                       status=status, detail=detail))
            return self._err(TransientError, Text("{route}: server error HTTP {status}", route=route, status=status))
        if 300 <= status < 400:
            return self._err(TerminalError, Text("{route} redirected (HTTP {status}); check the wiki url",
                                                 route=route, status=status))
        return self._err(TerminalError, Text("{route}: unexpected HTTP {status}", route=route, status=status))

    def _get_json(self, family: str, query: str, *, auth: str | None = None,
                  ok404: bool = False) -> Any:
        """GET returning parsed JSON; None on 404 when `ok404`."""
        resp = self._send("GET", family, query, auth=auth)
        route = f"GET ?{query}"
        if resp.status_code == 404 and ok404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, route, auth=auth)
        return self._json(resp, route)

    @staticmethod
    def _check_values(values: dict[str, Any]) -> None:
        bad = _FORBIDDEN_KEYS.intersection(values)
        if bad:
            # Programming error of the caller: an id_fiche makes the wiki overwrite a whole entry.
            raise ValueError(f"never send {', '.join(sorted(bad))} to a YesWiki entry route")

    def _form_values(self, values: dict[str, Any], what: str) -> tuple[dict[str, str], dict[str, tuple]]:
        """The form fields and the file parts of a create or an edit."""
        out: dict[str, str] = {}
        files: dict[str, tuple[str, bytes, str]] = {}
        for key, value in values.items():
            if isinstance(value, FileUpload):
                files[key] = (value.name, value.data, value.content_type)
            elif value is None:
                out[key] = ""
            elif isinstance(value, str):
                out[key] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = str(value)
            else:
                # A JSON list is stored as its indexes (contract §3.5): the engine must send "k1,k2".
                raise self._err(EntryError, Text("{what}: field {key} has a {type} value; "
                                                 "only strings, numbers and files can be sent",
                                                 what=what, key=key, type=type(value).__name__))
        return out, files

    def _entry_values(self, data: Any, remote_id: str, route: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self._err(TerminalError, Text("{route} answered JSON that is not an object", route=route))
        body = data.get("body")
        try:
            values = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            values = None
        if not isinstance(values, dict) or not ({"id_typeannonce", "id_fiche"} & values.keys()):
            # Not None: None means "gone" to the engine and could drive a deletion elsewhere.
            raise self._err(EntryError, Text("page {entry} exists but is not a Bazar entry", entry=remote_id))
        return values

    # ------------------------------------------------------------------ forms

    def list_forms(self) -> dict[str, dict[str, Any]]:
        data = self._get_json("forms", "api/forms")
        if data in ({}, []):
            return {}
        if not isinstance(data, dict):
            raise self._err(TerminalError, Text("GET ?api/forms answered JSON that is not an object"))
        return data

    def get_form(self, form_id: str) -> dict[str, Any] | None:
        data = self._get_json("form", f"api/forms/{_q(form_id)}", ok404=True)
        if data is None:
            return None
        if not isinstance(data, dict):
            raise self._err(TerminalError, Text("GET ?api/forms/{form_id} answered JSON that is not an object",
                                                form_id=form_id))
        return data

    def _require_form(self, form_id: str) -> None:
        # The create route accepts any form id and makes an orphan entry (contract §3.1): check first.
        if str(form_id) in self._known_forms:
            return
        if self.get_form(str(form_id)) is None:
            raise self._err(TerminalError, Text("form {form} does not exist on {wiki}",
                                                form=form_id, wiki=self.name))
        self._known_forms.add(str(form_id))

    # ------------------------------------------------------------------ entries

    def list_entries(self, form_id: str, *, form_known: bool = False) -> dict[str, dict[str, Any]]:
        """Every entry of a form. An empty answer is believed only for a form known to exist (an unknown form
        lists as `{}` too): checked once per client, unless the caller knows it from an earlier run."""
        if form_known:
            self._known_forms.add(str(form_id))
        query = f"api/forms/{_q(form_id)}/entries"
        route = f"GET ?{query}"
        try:
            resp = self._send("GET", "list", query, auth="token")
        except TransientError as exc:
            raise self._err(ListingFailed, exc.message) from None
        if resp.status_code != 200:
            err = self._fail(resp, route)
            if isinstance(err, TerminalError):
                raise err
            raise self._err(ListingFailed, err.message)
        data = self._json(resp, route)
        if data in ({}, []):
            # An unknown form lists as 200 {} too: an empty listing is only believed for a form that exists.
            if str(form_id) not in self._known_forms:
                try:
                    form = self.get_form(str(form_id))
                except TransientError as exc:
                    raise self._err(ListingFailed, exc.message) from None
                if form is None:
                    raise self._err(ListingFailed, Text("form {form} does not exist on {wiki}",
                                                        form=form_id, wiki=self.name))
                self._known_forms.add(str(form_id))
            return {}
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise self._err(ListingFailed, Text("{route} answered JSON that is not a listing of entries",
                                                route=route))
        return data

    def listing(self, form_id: str) -> dict[str, ListedEntry]:
        """The listing as the engine reads it: YesWiki's own bookkeeping keys told in plain words."""
        return {rid: _listed(raw) for rid, raw in self.list_entries(form_id).items()}

    def listed_entry(self, remote_id: str) -> ListedEntry | None:
        """One entry read alone (one GET), as a listing would show it; None if it does not exist. What the
        webhook trigger re-reads instead of a whole listing."""
        version = self.read_entry(remote_id)
        return None if version is None else _listed(version.values)

    def read_entry(self, remote_id: str) -> EntryVersion | None:
        query = f"api/pages/{_q(remote_id)}"
        data = self._get_json("page", query, auth="token", ok404=True)
        if data is None:
            return None
        values = self._entry_values(data, remote_id, f"GET ?{query}")
        rev = data.get("id")
        return EntryVersion(remote_id=remote_id, values=values,
                            revision=str(rev) if rev is not None else None,
                            time=str(data["time"]) if data.get("time") is not None else None)

    def find_by_source(self, source_url: str) -> list[str]:
        encoded = quote(quote(quote(source_url, safe=_SOURCE_SAFE), safe=""), safe="")
        query = f"api/entry/url/{encoded}"
        data = self._get_json("source", query, auth="token", ok404=True)
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(u, str) for u in data):
            raise self._err(TerminalError, Text("GET ?api/entry/url/... answered JSON that is not a list of URLs"))
        return [i for i in (_id_from_entry_url(u) for u in data) if i]

    def source_of(self, remote_id: str) -> str | None:
        """The Source-Url an entry was created with (its `sourceUrl` triple), or None: how a lost store and
        an unrecorded create find their record again (DECISIONS §2)."""
        query = f"api/triples/{_q(remote_id)}&property={quote(SOURCE_URL_PROPERTY, safe='')}"
        data = self._get_json("source", query, auth="token", ok404=True)
        if data is None:
            return None
        if not isinstance(data, list):
            raise self._err(TerminalError, Text("GET ?api/triples/... answered JSON that is not a list"))
        for triple in data:
            if isinstance(triple, dict) and triple.get("property") == SOURCE_URL_PROPERTY:
                value = triple.get("value")
                if isinstance(value, str) and value:
                    return value
        return None

    def create_entry(self, form_id: str, values: dict[str, Any], source_url: str) -> str:
        self._check_values(values)
        query = f"api/entries/{_q(form_id)}"
        route = f"POST ?{query}"
        data, files = self._form_values(values, route)
        self._require_form(str(form_id))
        header = quote(source_url, safe=_SOURCE_SAFE)
        with self._create_lock:
            try:
                resp = self._send("POST", "create", query, auth="token", data=data,
                                  headers={"Source-Url": header}, files=files)
            except TransientError:
                # The request may have reached the wiki: look for it before reporting a failure,
                # so that the next attempt does not make a duplicate.
                found = self._recover_create(source_url)
                if found:
                    return found
                raise
            if resp.status_code != 201:
                err = self._fail(resp, route, entry_op=True)
                if isinstance(err, TransientError) and resp.status_code in (502, 503, 504):
                    found = self._recover_create(source_url)
                    if found:
                        return found
                raise err
            body = self._json(resp, route)
            success = body.get("success") if isinstance(body, dict) else None
            new_id = _id_from_entry_url(success) if isinstance(success, str) else ""
            if not new_id:
                raise self._err(TerminalError, Text("{route} answered 201 without the new entry's URL", route=route))
            # A 201 is not proof (orphans, silent overwrites, contract §3.1/§3.2): the source lookup must list it.
            if new_id not in self.find_by_source(source_url):
                raise self._err(TerminalError, Text("{route} answered 201 for {entry} but the Source-Url "
                                                    "lookup does not list it: the create cannot be trusted",
                                                    route=route, entry=new_id))
            return new_id

    def _recover_create(self, source_url: str) -> str | None:
        try:
            alive = [i for i in self.find_by_source(source_url) if self.read_entry(i) is not None]
        except TargetError:
            return None
        # A Source-Url triple outlives a deleted entry (contract §3.6), hence the read; two live ones are
        # not ours to choose between.
        return alive[0] if len(alive) == 1 else None

    def delete_entry(self, remote_id: str) -> None:
        query = f"api/pages/{_q(remote_id)}"
        route = f"DELETE ?{query}"
        resp = self._send("DELETE", "page", query, auth="token")
        if resp.status_code == 404:
            return  # already gone
        if resp.status_code != 200:
            raise self._fail(resp, route, entry_op=True)
        body = self._json(resp, route)
        if not isinstance(body, dict) or remote_id not in (body.get("deleted") or []):
            raise self._err(TerminalError, Text("{route} answered 200 without confirming the deletion", route=route))

    # ------------------------------------------------------------------ groups

    def group_acl(self, group: str) -> str | None:
        """The ACL text of a user group (its members, one a line; `@other` nests), from the triple
        ThisWikiGroup:<group> (admin token; recorded/review/review_03); None for an unknown group."""
        query = (f"api/triples/{_q(GROUP_PREFIX + group)}&property={quote(ACLS_PROPERTY, safe='')}")
        rows = self._get_json("group", query, auth="token")
        if not isinstance(rows, list):
            raise self._err(TerminalError, f"GET ?{query} answered JSON that is not a list of triples")
        values = [str(r.get("value") or "") for r in rows if isinstance(r, dict)]
        return "\n".join(values) if values else None

    # ------------------------------------------------------------------ web handlers (admin session)

    def _login(self) -> None:
        with self._login_lock:
            if self._login_refused is not None:
                raise self._login_refused
            idle = time.monotonic() - self._web_last_used
            if self._web_cookies and idle < _SESSION_IDLE_S:
                return
            if not (self._admin_user and self._admin_password):
                raise self._err(TerminalError, Text("no admin user/password configured: entries cannot be edited"))
            with self._lock:
                self._web_cookies.clear()
            resp = self._send("POST", "login", "PagePrincipale", auth="session",
                              data={"name": self._admin_user, "password": self._admin_password,
                                    "action": "login"})
            if resp.status_code == 302 and "name" in resp.cookies:
                return
            with self._lock:
                self._web_cookies.clear()
            if resp.status_code == 302 or resp.status_code in (200, 401, 403):
                err = self._err(AuthError, Text("admin login refused for user {user}",
                                                user=self._admin_user))
                self._login_refused = err  # type: ignore[assignment]
                raise err
            raise self._fail(resp, "POST ?PagePrincipale (login)", auth="session")

    def update_entry(self, form_id: str, remote_id: str, title: str, changes: dict[str, Any],
                     always: dict[str, Any]) -> None:
        # Web edit handler, not overwrite-through-create (contract §3.4, DECISIONS §3): a create with
        # id_fiche replaces the whole entry, blanking every field not sent (images, files, fields only
        # this wiki's form has) and bypassing ACLs. The edit handler merges, except the map field, which
        # is why `always` (bf_latitude/bf_longitude) is re-sent every time.
        self._check_values(changes)
        self._check_values(always)
        if "bf_titre" in changes and changes["bf_titre"] != title:
            raise ValueError("changes['bf_titre'] differs from title")
        query = f"{_q(remote_id)}/edit"
        route = f"POST ?{query}"
        data, files = self._form_values({**always, **changes}, route)
        data["bf_titre"] = title
        data["antispam"] = "1"
        self._login()
        resp = self._send("POST", "edit", query, auth="session", data=data, files=files)
        if not (resp.status_code == 302 and self._edit_confirmed(resp, remote_id)):
            # The session may have expired server-side: the next web call logs in again.
            with self._lock:
                self._web_cookies.clear()
        if resp.status_code == 302:
            if self._edit_confirmed(resp, remote_id):
                return
            raise self._err(EntryError, Text("{route}: the edit of {entry} was not confirmed "
                                             "(redirected without modif_ok)", route=route, entry=remote_id))
        if resp.status_code == 200:
            page = resp.content.decode("utf-8", errors="replace")
            if "Protection antispam" in page:
                raise self._err(EntryError, Text("{route}: the wiki's antispam protection refused the edit "
                                                 "of {entry}; not saved", route=route, entry=remote_id))
            raise self._err(EntryError, Text("{route}: the wiki re-displayed a page instead of saving "
                                             "{entry}; not saved", route=route, entry=remote_id))
        raise self._fail(resp, route, entry_op=True, auth="session")

    def write_changes(self, form_id: str, remote_id: str, changes: dict[str, Any], current: EntryVersion) -> None:
        """`update_entry` with what the edit handler needs besides the changes: the title every time (the new
        one when it is a change, else exactly what the wiki holds) and the map field as the entry holds it now
        (even a value our cleaning refuses: it is the member's, not ours to erase), unless it is changed."""
        shape = self.forms.get(str(form_id), FormShape())
        changes = dict(changes)
        title = changes.pop(shape.title_key, None)
        if title is None:
            title = str(current.values.get(shape.title_key) or "")
        always = {key: _raw_str(current.values.get(key)) for key in shape.resend_keys}
        always.update({key: changes[key] for key in shape.resend_keys if key in changes})
        self.update_entry(form_id, remote_id, title, changes, always)

    @staticmethod
    def _edit_confirmed(resp: requests.Response, remote_id: str) -> bool:
        params = parse_qs(urlsplit(resp.headers.get("Location", "")).query)
        return params.get("message") == ["modif_ok"] and params.get("id_fiche") == [remote_id]

    def revisions(self, remote_id: str) -> list[Revision]:
        query = f"{_q(remote_id)}/revisions"
        route = f"GET ?{query}"
        self._login()
        resp = self._send("GET", "revisions", query, auth="session")
        if resp.status_code != 200:
            raise self._fail(resp, route, auth="session")
        return revisions_list(resp, route, lambda message: self._err(TerminalError, message))

    def read_revision(self, remote_id: str, revision: Revision) -> dict[str, Any] | None:
        query = f"api/pages/{_q(remote_id)}&time={quote(revision.time, safe='')}"
        data = self._get_json("revision", query, auth="token", ok404=True)
        if data is None:
            return None
        if isinstance(data, dict) and str(data.get("id")) != revision.id:
            # `&time=` has a one-second resolution: two saves in the same second cannot be told apart here.
            return None
        return self._entry_values(data, remote_id, f"GET ?{query}")

    # ------------------------------------------------------------------ files of image fields

    def file_url(self, name: str) -> str:
        return file_url(self.base, name)

    def download_file(self, name: str, max_bytes: int) -> bytes | None:
        """At most `max_bytes` + 1 bytes of a file of `files/`. The web server answers a missing file with the
        wiki's home page (200 text/html, recorded), which is told apart from a file here: None."""
        route = f"GET files/{name}"
        with self._lock:
            self.stats.count("GET file")
        try:
            resp = self._session.get(self.file_url(name), timeout=self.timeout, stream=True, allow_redirects=False)
        except requests.Timeout:
            raise self._err(TransientError, Text("{route}: no answer within {timeout:g} s",
                                                 route=route, timeout=self.timeout)) from None
        except requests.RequestException:
            raise self._err(TransientError, Text("{route}: could not connect to the wiki", route=route)) from None
        with resp:
            ctype = resp.headers.get("Content-Type", "").lower()
            if resp.status_code == 404 or (resp.status_code == 200 and ctype.startswith("text/html")):
                return None
            if resp.status_code >= 500:
                raise self._err(TransientError, Text("{route}: server error HTTP {status}",
                                                     route=route, status=resp.status_code))
            if resp.status_code != 200:  # one file refused (403 by the web server...): not the whole wiki
                raise self._err(EntryError, Text("{route}: unexpected HTTP {status}",
                                                 route=route, status=resp.status_code))
            data = bytearray()
            try:
                for chunk in resp.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        break  # enough to say it is too large: the rest is not downloaded
            except requests.RequestException:
                raise self._err(TransientError, Text("{route}: the download was interrupted", route=route)) from None
            return bytes(data[: max_bytes + 1])

    @staticmethod
    def file_label(name: str, key: str) -> str:
        """`<id>_<key>_<name>_<YmdHis>_<YmdHis>.<ext>` (contract §3.5, recorded) -> `<name>.<ext>`."""
        m = re.search(rf"_{re.escape(key)}_(.+?)_\d{{14}}_\d{{14}}\.([A-Za-z0-9]+)_?$", name)
        return f"{m.group(1)}.{m.group(2)}" if m else name

    # ------------------------------------------------------------------ doctor

    def version(self) -> str | None:
        """`doryphore 4.4.2` from the footer link of the home page, None if the theme hides it."""
        try:
            resp = self._session.get(self.base, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException:
            raise self._err(TransientError, Text("GET home page: could not connect to the wiki")) from None
        finally:
            with self._lock:
                self.stats.count("GET home")
        m = re.search(r'title="(\w+ \d+\.\d+(?:\.\d+)?)"[^>]*href="https?://(?:www\.)?yeswiki\.net',
                      resp.content.decode("utf-8", errors="replace"))
        return m.group(1) if m else None

    def check(self) -> WikiCheck:
        """Reachable, API answers JSON, token accepted (and admin?), admin login works, version."""
        result = WikiCheck()
        try:
            self.list_forms()
            result.reachable = result.api_json = True
        except TransientError as exc:
            result.problems.append(exc.message)
            return result
        except TargetError as exc:
            result.reachable = True
            result.problems.append(exc.message)
            return result
        try:
            result.version = self.version()
        except TargetError:
            pass
        if not self._token:
            result.token = "missing"
            result.problems.append(Text("no API token configured"))
        else:
            # A token-only route answers 404 for an unknown anchor when the token is accepted, 401 if not.
            try:
                resp = self._send("GET", "source", "api/entry/url/oscartes-doctor-probe", auth="token")
                if resp.status_code in (401, 403):
                    result.token = "refused"
                    result.problems.append(Text("the API token was refused"))
                else:
                    resp = self._send("GET", "users", "api/users", auth="token")
                    result.token = "admin" if resp.status_code == 200 else "user"
                    if result.token != "admin":
                        result.problems.append(Text("the API token's user is not in @admins"))
            except AuthError as exc:
                result.token = "refused"
                result.problems.append(exc.message)
            except TargetError as exc:
                result.problems.append(exc.message)
        if self._admin_user and self._admin_password:
            try:
                self._login()
                result.admin_login = True
            except TargetError as exc:
                result.admin_login = False
                result.problems.append(exc.message)
        else:
            result.problems.append(Text("no admin user/password configured"))
        return result
