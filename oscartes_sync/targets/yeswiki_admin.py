"""Admin side of one YesWiki 4.4.2: Bazar forms, lists and wiki pages (contract §4, §5, §6).

None of these has a write API: they go through the web UI with a logged-in admin session, and many refusals
come back as an ordinary page with status 200 (or as the same redirect as a success). So every write is
checked by reading the object back through a read route:

  forms  GET ?api/forms[/{id}]                  POST ?BazaR&vue=formulaire&action=new | modif&idformulaire=
                                                GET  ...&action=confirm_delete (token), POST ...&action=delete
  lists  GET ?api/pages/{ListeX}                POST ?BazaR&vue=listes&action=saisir_liste&onsubmit=postmessage
                                                POST ...&action=modif_liste&idliste=, GET ...&action=supprimer_liste
  pages  GET ?api/pages/{tag}, ?{tag}/revisions  GET tools/security/wp-hashcash-getkey.php, POST ?{tag}/edit,
                                                DELETE ?api/pages/{tag} (admin session)
  ACLs   GET ?{tag}/acls                         POST ?{tag}/acls (read_acl, write_acl, comment_acl, newowner)

The session's cookie jar holds only this admin's session (no bearer token travels here, so no second identity
can slip in, unlike the entry client). GETs are retried on connection errors and 502/503/504; writes never.
"""

from __future__ import annotations

import html
import json
import re
import struct
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..text import Text, scrub
from .base import AuthError, EntryError, RequestStats, Revision, TargetError, TerminalError, TransientError
from .wikiname import list_id_for
from .yeswiki_acl import acl_lines, saved_acl
from .yeswiki import _normalise_base, json_body, revisions_list, short_exception

HASHCASH_KEY_PATH = "tools/security/wp-hashcash-getkey.php"
# contract §6 / pages_18: YesWiki refuses tags outside its WikiName characters ("Le nom de la page est incorrect")
VALID_TAG = re.compile(r"[A-Za-z0-9_\-\u00C0-\u00FF]+")
_STALE_MARK = "modifiée par quelqu'un d'autre"  # pages_14, after html.unescape
_BAD_TAG_MARK = "Le nom de la page est incorrect"  # pages_18


class StalePage(EntryError):
    """The page changed since the revision the caller based its text on (a hand edit?): nothing was saved."""

    def __init__(self, instance: str, message: str, *, tag: str, expected: str | None, current: str | None):
        super().__init__(instance, message)
        self.tag = tag
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class Page:
    tag: str
    body: str
    revision: str
    time: str
    owner: str
    user: str


def evaluate_hashcash_js(js: str) -> int:
    """The value of the unpacked hashcash function: `function F (){var X = a; X += b; ... return X; } F ();`
    (the only shape seen: pages_11 and the live 4.4.2). Anything else raises ValueError."""
    m = re.fullmatch(r"\s*function\s+(\w+)\s*\(\)\s*\{\s*var\s+(\w+)\s*=\s*(-?\d+)\s*;"
                     r"((?:\s*\2\s*\+=\s*-?\d+\s*;)*)\s*return\s+\2\s*;\s*\}\s*\1\s*\(\)\s*;?\s*", js)
    if m is None:
        raise ValueError(Text("hashcash function has an unknown shape"))
    return int(m.group(3)) + sum(int(x) for x in re.findall(r"\+=\s*(-?\d+)", m.group(4)))


def decode_hashcash(script: str) -> int:
    """hashcash_value from wp-hashcash-getkey.php: `arr[i] = A ^ K;` → A XOR K as little-endian 32-bit words →
    the JS text of a function summing integers (contract §6, pages_11)."""
    pairs = re.findall(r"\[(\d+)\]\s*=\s*(-?\d+)\s*\^\s*(-?\d+)\s*;", script)
    if not pairs:
        raise ValueError(Text("no obfuscated words in the hashcash script"))
    words = {int(i): (int(a) ^ int(k)) & 0xFFFFFFFF for i, a, k in pairs}
    if sorted(words) != list(range(len(words))):
        raise ValueError(Text("the hashcash words are not contiguous"))
    raw = b"".join(struct.pack("<I", words[i]) for i in range(len(words)))
    return evaluate_hashcash_js(raw.decode("latin-1"))


def _norm_text(text: str) -> str:
    """Line endings and trailing blanks as the wiki keeps them (page bodies are right-trimmed, pages_12/19)."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).rstrip()


class YesWikiAdmin:
    """Forms, lists and pages of one YesWiki, through the admin web UI. Thread-safe (one write at a time)."""

    def __init__(self, name: str, url: str, *, admin_user: str, admin_password: str, timeout: float = 30.0):
        self.name = name
        self.base = _normalise_base(url)
        self.timeout = timeout
        self.stats = RequestStats()
        self._user = admin_user or None
        self._password = admin_password or None
        self._secrets = [s for s in (self._password,) if s and len(s) >= 4]
        self._session = requests.Session()
        retry = Retry(total=3, connect=2, read=2, status=2, other=0, redirect=0,
                      allowed_methods=frozenset({"GET", "HEAD"}), status_forcelist=(502, 503, 504),
                      backoff_factor=0.2, raise_on_status=False, respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": "oscartes-sync"})
        self._lock = threading.RLock()
        self._logged_in = False
        self._login_refused: AuthError | None = None

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ plumbing

    def _err(self, cls: type[TargetError], message: str, **extra: Any) -> TargetError:
        return cls(self.name, scrub(message, self._secrets), **extra)

    def _send(self, method: str, family: str, query: str | None, *, data: dict[str, str] | None = None,
              path: str | None = None) -> requests.Response:
        url = urljoin(self.base, path) if path is not None else f"{self.base}?{query}"
        route = f"{method} {path if path is not None else '?' + (query or '')}"
        self.stats.count(f"{method} {family}")
        try:
            return self._session.request(method, url, data=data, timeout=self.timeout, allow_redirects=False,
                                         headers={"Accept": "application/json, text/html;q=0.5"})
        except requests.Timeout:
            raise self._err(TransientError, Text("{route}: no answer within {timeout:g} s",
                                                 route=route, timeout=self.timeout)) from None
        except requests.ConnectionError:
            raise self._err(TransientError, Text("{route}: could not connect to the wiki", route=route)) from None
        except requests.RequestException as exc:
            raise self._err(TransientError, Text("{route}: request failed ({type})",
                                                 route=route, type=type(exc).__name__)) from None

    def _fail(self, resp: requests.Response, route: str) -> TargetError:
        status = resp.status_code
        if status in (401, 403):
            return self._err(AuthError, Text("{route}: access refused (HTTP {status})", route=route, status=status))
        if status >= 500:
            try:
                body = json.loads(resp.content.decode("utf-8"))
                if isinstance(body, dict) and "exceptionMessage" in body:
                    return self._err(TransientError, Text("{route}: server error HTTP {status} ({detail})",
                                                          route=route, status=status,
                                                          detail=short_exception(body["exceptionMessage"])))
            except (UnicodeDecodeError, ValueError):
                pass
            return self._err(TransientError, Text("{route}: server error HTTP {status}", route=route, status=status))
        return self._err(TerminalError, Text("{route}: unexpected HTTP {status}", route=route, status=status))

    def _json(self, resp: requests.Response, route: str) -> Any:
        return json_body(resp, route, lambda message: self._err(TerminalError, message))

    def _get_json(self, family: str, query: str) -> Any:
        """GET returning parsed JSON; None on 404."""
        resp = self._send("GET", family, query)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"GET ?{query}")
        return self._json(resp, f"GET ?{query}")

    @staticmethod
    def _location_params(resp: requests.Response) -> dict[str, list[str]]:
        return parse_qs(urlsplit(resp.headers.get("Location", "")).query, keep_blank_values=True)

    @staticmethod
    def _alerts(resp: requests.Response) -> list[str]:
        soup = BeautifulSoup(resp.content, "html.parser")
        return [" ".join(a.get_text(" ").split()) for a in soup.select(".alert")]

    # ------------------------------------------------------------------ login

    def login(self) -> None:
        """POST ?PagePrincipale name/password/action=login → 302 with a `name` cookie (contract §1)."""
        with self._lock:
            if self._login_refused is not None:
                raise self._login_refused
            if not (self._user and self._password):
                raise self._err(TerminalError, Text("no admin user/password configured for this wiki"))
            self._session.cookies.clear()
            resp = self._send("POST", "login", "PagePrincipale",
                              data={"name": self._user, "password": self._password, "action": "login"})
            if resp.status_code == 302 and "name" in resp.cookies:
                self._logged_in = True
                return
            self._session.cookies.clear()
            self._logged_in = False
            if resp.status_code in (200, 302, 401, 403):
                # sticky: repeated refused logins can lock the host out
                self._login_refused = self._err(AuthError, Text("admin login refused for user {user}",
                                                                user=self._user))  # type: ignore[assignment]
                raise self._login_refused
            raise self._fail(resp, "POST ?PagePrincipale (login)")

    def _ensure_login(self) -> None:
        if not self._logged_in:
            self.login()

    def _admin_post(self, family: str, query: str, data: dict[str, str]) -> requests.Response:
        """A Bazar admin POST; a `msg=BAZ_AUTH_NEEDED` redirect (expired session; nothing was done, forms_16)
        gets one fresh login and one retry."""
        self._ensure_login()
        resp = self._send("POST", family, query, data=data)
        if self._location_params(resp).get("msg") == ["BAZ_AUTH_NEEDED"]:
            self._logged_in = False
            self.login()
            resp = self._send("POST", family, query, data=data)
            if self._location_params(resp).get("msg") == ["BAZ_AUTH_NEEDED"]:
                raise self._err(AuthError, Text("POST ?{query}: user {user} is not a wiki administrator",
                                                query=query, user=self._user))
        return resp

    # ------------------------------------------------------------------ forms (§4)

    def check_api(self) -> None:
        """One GET ?api/forms, which YesWiki 4.4 answers with 200 and JSON (contract forms_01_list): the
        address is a YesWiki, or TerminalError saying what answered. Read before anything else, since another
        server's 404s would make every form, list and page look missing."""
        resp = self._send("GET", "forms", "api/forms")
        if resp.status_code == 404:
            raise self._err(TerminalError, Text("GET ?api/forms: HTTP 404: no YesWiki API at this address"))
        if resp.status_code != 200:
            raise self._fail(resp, "GET ?api/forms")
        self._json(resp, "GET ?api/forms")

    def list_forms(self) -> dict[str, dict[str, Any]]:
        data = self._get_json("forms", "api/forms")
        if data is None or data in ({}, []):
            return {}
        if not isinstance(data, dict):
            raise self._err(TerminalError, Text("GET ?api/forms answered JSON that is not an object"))
        return data

    def get_form(self, form_id: str) -> dict[str, Any] | None:
        data = self._get_json("form", f"api/forms/{quote(str(form_id), safe='')}")
        if data is None:
            return None
        if not isinstance(data, dict):
            raise self._err(TerminalError, Text("GET ?api/forms/{form} answered JSON that is not an object",
                                                form=form_id))
        return data

    @staticmethod
    def _form_fields(form_id: str, label: str, template: str, description: str) -> dict[str, str]:
        return {"bn_id_nature": form_id, "bn_label_nature": label, "bn_description": description,
                "bn_template": template, "bn_condition": "", "bn_sem_context": "", "bn_sem_type": "", "valider": ""}

    def _form_differences(self, form: dict[str, Any] | None, label: str, template: str,
                          description: str) -> list[str]:
        if form is None:
            return ["absent"]
        diffs = []
        if str(form.get("bn_label_nature", "")) != label:
            diffs.append("label")
        if _norm_text(str(form.get("bn_template", ""))) != _norm_text(template):
            diffs.append("template")
        if _norm_text(str(form.get("bn_description", ""))) != _norm_text(description):
            diffs.append("description")
        return diffs

    def _form_refused(self, resp: requests.Response, route: str, form_id: str) -> TargetError:
        if resp.status_code == 200:
            alerts = self._alerts(resp)
            if alerts:
                return self._err(EntryError, Text("{route}: the wiki re-displayed the form editor instead of saving "
                                                  "form {form}: {alert}", route=route, form=form_id,
                                                  alert=alerts[0][:200]))
            return self._err(EntryError, Text("{route}: the wiki re-displayed the form editor instead of saving form "
                                              "{form}", route=route, form=form_id))
        if resp.status_code == 302:
            msg = self._location_params(resp).get("msg", [""])[0]
            return self._err(EntryError, Text("{route}: form {form} not saved (redirected with msg={msg})",
                                              route=route, form=form_id, msg=msg[:120]))
        return self._fail(resp, route)

    @staticmethod
    def _check_form_id(form_id: str) -> str:
        form_id = str(form_id)
        if not form_id.isdigit():
            raise ValueError(Text("a Bazar form id is a number, not '{form}'", form=form_id))
        return form_id

    def create_form(self, form_id: str, label: str, template: str, description: str = "") -> str:
        """Create form `form_id` (chosen with bn_id_nature, contract §4); returns its id once read back."""
        form_id = self._check_form_id(form_id)
        with self._lock:
            existing = self.get_form(form_id)
            if existing is not None:
                # the wiki would silently use another id (forms_14)
                raise self._err(EntryError, Text("form id {form} is already used by form '{label}'",
                                                 form=form_id, label=existing.get("bn_label_nature", "")))
            query = "BazaR&vue=formulaire&action=new"
            resp = self._admin_post("form-create", query, self._form_fields(form_id, label, template, description))
            params = self._location_params(resp)
            if not (resp.status_code == 302 and params.get("msg") == ["BAZ_NOUVEAU_FORMULAIRE_ENREGISTRE"]):
                raise self._form_refused(resp, f"POST ?{query}", form_id)
            diffs = self._form_differences(self.get_form(form_id), label, template, description)
            if diffs:
                other = [fid for fid, f in self.list_forms().items()
                         if fid != form_id and isinstance(f, dict) and f.get("bn_label_nature") == label]
                if other:
                    raise self._err(EntryError, Text("form {form} was not created as sent ({fields} differ on "
                                                     "read-back); a form with that label has id {ids}", form=form_id,
                                                     fields=", ".join(diffs), ids=", ".join(other)))
                raise self._err(EntryError, Text("form {form} was not created as sent ({fields} differ on read-back)",
                                                 form=form_id, fields=", ".join(diffs)))
            return form_id

    def update_form(self, form_id: str, label: str, template: str, description: str = "") -> None:
        form_id = self._check_form_id(form_id)
        with self._lock:
            if self.get_form(form_id) is None:
                raise self._err(EntryError, Text("form {form} does not exist", form=form_id))
            query = f"BazaR&vue=formulaire&action=modif&idformulaire={form_id}"
            # bn_id_nature must be posted: the UPDATE uses it (forms_18)
            resp = self._admin_post("form-update", query, self._form_fields(form_id, label, template, description))
            if not (resp.status_code == 302 and self._location_params(resp).get("msg") == ["BAZ_FORMULAIRE_MODIFIE"]):
                raise self._form_refused(resp, f"POST ?{query}", form_id)
            diffs = self._form_differences(self.get_form(form_id), label, template, description)
            if diffs:
                raise self._err(EntryError, Text("form {form} was not updated ({fields} differ on "
                                                 "read-back)", form=form_id, fields=", ".join(diffs)))

    def delete_form(self, form_id: str) -> None:
        """Delete a form AND all its entries (contract §4). A missing form is not an error."""
        form_id = self._check_form_id(form_id)
        with self._lock:
            if self.get_form(form_id) is None:
                return
            self._ensure_login()
            query = f"BazaR&vue=formulaire&action=confirm_delete&idformulaire={form_id}&voirmenu=0"
            resp = self._send("GET", "form-confirm-delete", query)
            token = None
            if resp.status_code == 200:
                node = BeautifulSoup(resp.content, "html.parser").find("input", attrs={"name": "confirmDeleteToken"})
                token = node.get("value") if node is not None else None
            if not token:
                if self._location_params(resp).get("msg") == ["BAZ_AUTH_NEEDED"]:
                    self._logged_in = False
                raise self._err(TerminalError, Text("GET ?{query}: no confirmDeleteToken in the answer (HTTP {status})",
                                                    query=query, status=resp.status_code))
            query = f"BazaR&vue=formulaire&action=delete&idformulaire={form_id}"
            resp = self._send("POST", "form-delete", query, data={"confirmDeleteToken": str(token)})
            if resp.status_code not in (200, 302):
                raise self._fail(resp, f"POST ?{query}")
            if self.get_form(form_id) is not None:
                msg = self._location_params(resp).get("msg", [""])[0]
                raise self._err(EntryError, Text("form {form} is still there after the delete (msg={msg})",
                                                 form=form_id, msg=msg[:120]) if msg
                                else Text("form {form} is still there after the delete", form=form_id))

    # ------------------------------------------------------------------ lists (§5)

    def get_list(self, list_id: str) -> dict[str, Any] | None:
        """`{"titre_liste": ..., "label": {key: label}}` from the list page, None when there is no such page."""
        query = f"api/pages/{quote(list_id, safe='')}"
        row = self._get_json("list", query)
        if row is None:
            return None
        body = row.get("body") if isinstance(row, dict) else None
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or "titre_liste" not in data:
            raise self._err(EntryError, Text("page {list_id} exists but is not a Bazar list", list_id=list_id))
        if not isinstance(data.get("label"), dict):
            data["label"] = {}  # PHP encodes an empty array as []
        return data

    @staticmethod
    def _list_fields(title: str, labels: dict[str, str]) -> dict[str, str]:
        data = {"titre_liste": title}
        for i, (key, label) in enumerate(labels.items(), start=1):  # 1-based, contiguous (contract §5)
            if not isinstance(key, str) or not key.strip():
                raise ValueError(Text("list keys must be non-empty strings"))
            data[f"id[{i}]"] = key
            data[f"label[{i}]"] = str(label)
        data["valider"] = ""
        return data

    def _check_list(self, list_id: str, title: str, labels: dict[str, str], what: str) -> None:
        stored = self.get_list(list_id)
        if stored is None:
            raise self._err(EntryError, Text("list {list_id} is absent on read-back after {what}",
                                             list_id=list_id, what=what))
        diffs = []
        if stored.get("titre_liste") != title:
            diffs.append("title")
        # HTMLPurifier stores "&" as "&amp;": compare what a reader sees
        got = {str(k): html.unescape(str(v)) for k, v in stored["label"].items()}
        if list(got) != list(labels):
            diffs.append("keys")
        elif got != {k: str(v) for k, v in labels.items()}:
            changed = [k for k in labels if got.get(k) != str(labels[k])]
            diffs.append("labels of " + ", ".join(changed[:5]) + " (HTML is purified by the wiki)")
        if diffs:
            raise self._err(EntryError, Text("list {list_id} differs on read-back after {what}: {differences}",
                                             list_id=list_id, what=what, differences="; ".join(diffs)))

    def create_list(self, title: str, labels: dict[str, str]) -> str:
        """Create a list; its id is genere_nom_wiki('Liste ' + title) (contract §5). Refused when a page already
        has that id, since the wiki would then silently choose `ListeX2`."""
        expected = list_id_for(title)
        if not expected:
            raise ValueError(Text("no list id can be derived from the title \"{title}\"", title=title))
        data = self._list_fields(title, labels)
        with self._lock:
            if self._get_json("page", f"api/pages/{quote(expected, safe='')}") is not None:
                raise self._err(EntryError, Text("list \"{title}\": a page {expected} already exists",
                                                 title=title, expected=expected))
            # logged in so that the list's owner is the admin (deletion is for admins or the owner)
            self._ensure_login()
            query = "BazaR&vue=listes&action=saisir_liste&onsubmit=postmessage"
            resp = self._send("POST", "list-create", query, data=data)
            if resp.status_code != 200:
                raise self._fail(resp, f"POST ?{query}")
            m = re.search(r'\{[^{}]*"msg"\s*:\s*"list_created"[^{}]*\}', resp.content.decode("utf-8", "replace"))
            if m is None:
                raise self._err(EntryError, Text("POST ?{query}: list \"{title}\" not confirmed (no list_created "
                                                 "message)",
                                                 query=query, title=title))
            try:
                got = str(json.loads(m.group(0)).get("id", ""))
            except ValueError:
                got = ""
            if got != expected:
                raise self._err(EntryError, Text("list \"{title}\" was created as {got}, not {expected}",
                                                 title=title, got=got or "?", expected=expected))
            self._check_list(expected, title, labels, Text("creation"))
            return expected

    def update_list(self, list_id: str, title: str, labels: dict[str, str]) -> None:
        data = self._list_fields(title, labels)
        with self._lock:
            if self.get_list(list_id) is None:
                raise self._err(EntryError, Text("list {list_id} does not exist", list_id=list_id))
            self._ensure_login()
            query = f"BazaR&vue=listes&action=modif_liste&idliste={quote(list_id, safe='')}"
            resp = self._send("POST", "list-update", query, data=data)
            if resp.status_code not in (200, 302):
                raise self._fail(resp, f"POST ?{query}")
            self._check_list(list_id, title, labels, Text("update"))

    def delete_list(self, list_id: str) -> None:
        with self._lock:
            if self.get_list(list_id) is None:
                return
            self._ensure_login()
            query = f"BazaR&vue=listes&action=supprimer_liste&idliste={quote(list_id, safe='')}"
            resp = self._send("GET", "list-delete", query)
            if resp.status_code not in (200, 302):
                raise self._fail(resp, f"GET ?{query}")
            if self._get_json("page", f"api/pages/{quote(list_id, safe='')}") is not None:
                raise self._err(EntryError, Text("list {list_id} is still there after the delete", list_id=list_id))

    # ------------------------------------------------------------------ pages (§6)

    def get_page(self, tag: str) -> Page | None:
        query = f"api/pages/{quote(tag, safe='')}"
        row = self._get_json("page", query)
        if row is None:
            return None
        if not isinstance(row, dict) or "body" not in row or "id" not in row:
            raise self._err(TerminalError, Text("GET ?{query} answered JSON that is not a page", query=query))
        return Page(tag=str(row.get("tag") or tag), body=str(row["body"]), revision=str(row["id"]),
                    time=str(row.get("time") or ""), owner=str(row.get("owner") or ""),
                    user=str(row.get("user") or ""))

    def _hashcash(self) -> int:
        resp = self._send("GET", "hashcash", None, path=HASHCASH_KEY_PATH)
        if resp.status_code != 200:
            raise self._fail(resp, f"GET {HASHCASH_KEY_PATH}")
        try:
            return decode_hashcash(resp.content.decode("latin-1"))
        except ValueError as exc:
            raise self._err(TerminalError, Text("GET {path}: the hashcash key could not be decoded ({reason})",
                                                path=HASHCASH_KEY_PATH,
                                                reason=exc.args[0] if exc.args else exc)) from None

    def save_page(self, tag: str, body: str, *, previous: str | None) -> Page:
        """Save `body` as page `tag`. `previous` is the revision id the text was based on (None: a new page);
        if the page has moved on since, nothing is saved and StalePage is raised (optimistic locking)."""
        if not VALID_TAG.fullmatch(tag or ""):
            raise self._err(EntryError, Text("page name '{tag}' is not a valid YesWiki page name", tag=tag))
        with self._lock:
            self._ensure_login()
            data = {"previous": previous or "", "body": body, "submit": "Sauver",
                    "hashcash_value": str(self._hashcash()), "antispam": "1"}
            query = f"{quote(tag, safe='')}/edit"
            route = f"POST ?{query}"
            resp = self._send("POST", "page-edit", query, data=data)
            if resp.status_code == 302:
                target = urlsplit(resp.headers.get("Location", "")).query.split("&", 1)[0]
                page = self.get_page(tag)
                if page is None or _norm_text(page.body) != _norm_text(body):
                    raise self._err(EntryError, f"{route}: page {tag} does not hold the text sent after the save"
                                                + (f" (redirected to ?{target[:80]})" if target != tag else ""))
                return page
            if resp.status_code != 200:
                raise self._fail(resp, route)
            text = html.unescape(resp.content.decode("utf-8", "replace"))
            if _BAD_TAG_MARK in text:
                raise self._err(EntryError, Text("{route}: the wiki refused the page name '{tag}'",
                                                 route=route, tag=tag))
            current = self.get_page(tag)
            current_rev = current.revision if current else None
            if _STALE_MARK in text or (current_rev or None) != (previous or None):
                raise self._err(StalePage, Text("page {tag} was changed by someone else (revision {revision}, "
                                                "expected {expected}); not saved", tag=tag, revision=current_rev,
                                                expected=previous or Text("a new page")),
                                tag=tag, expected=previous, current=current_rev)
            # pages_15: a refused hashcash re-displays the editor without any message
            raise self._err(TerminalError, Text("{route}: hashcash refused (the wiki re-displayed the editor); "
                                                "page {tag} not saved", route=route, tag=tag))

    def delete_page(self, tag: str) -> None:
        """DELETE ?api/pages/{tag} with the admin session (works without a token, checked on the live 4.4.2).
        A missing page is not an error; the deletion is read back."""
        query = f"api/pages/{quote(tag, safe='')}"
        with self._lock:
            self._ensure_login()
            resp = self._send("DELETE", "page-delete", query)
            if resp.status_code not in (200, 404):
                raise self._fail(resp, f"DELETE ?{query}")
            if self.get_page(tag) is not None:
                raise self._err(EntryError, Text("page {tag} is still there after the delete", tag=tag))

    def get_acls(self, tag: str) -> dict[str, str] | None:
        """{"read", "write", "comment"} of a page from its `acls` handler (owner or admin; review_01). None when
        the page does not exist or the handler refuses (the same alert for both)."""
        self._ensure_login()
        query = f"{quote(tag, safe='')}/acls"
        resp = self._send("GET", "acls", query)
        if resp.status_code != 200:
            raise self._fail(resp, f"GET ?{query}")
        form = next((f for f in BeautifulSoup(resp.content, "html.parser").find_all("form")
                     if (f.get("action") or "").endswith(f"?{tag}/acls")), None)
        if form is None:
            return None
        out = {}
        for privilege in ("read", "write", "comment"):
            node = form.find(["textarea", "input"], attrs={"name": f"{privilege}_acl"})
            out[privilege] = (node.text if node is not None and node.name == "textarea"
                              else (node.get("value") if node is not None else "")) or ""
        return {k: v.replace("\r\n", "\n").strip() for k, v in out.items()}

    def set_acls(self, tag: str, *, read: str, write: str, comment: str = "comments-closed",
                 owner: str | None = None) -> None:
        """Set a page's ACLs (and, with `owner`, make that user its owner: an owner reads a page whatever its
        ACL, review_02), then read them back. The page must exist (the handler works on existing pages)."""
        with self._lock:
            self._ensure_login()
            query = f"{quote(tag, safe='')}/acls"
            data = {"read_acl": read, "write_acl": write, "comment_acl": comment, "newowner": owner or ""}
            resp = self._send("POST", "acls-set", query, data=data)
            if resp.status_code == 200:
                alerts = self._alerts(resp)
                raise self._err(EntryError, f"POST ?{query}: ACLs of {tag} not saved"
                                            + (f" ({alerts[0][:120]})" if alerts else ""))
            if resp.status_code != 302:
                raise self._fail(resp, f"POST ?{query}")
            stored = self.get_acls(tag)
            wanted = {"read": read, "write": write, "comment": comment}
            if stored is None or any(acl_lines(stored[k]) != acl_lines(saved_acl(v)) for k, v in wanted.items()):
                raise self._err(EntryError, f"ACLs of page {tag} differ on read-back after the save")
            if owner:
                page = self.get_page(tag)
                if page is None or page.owner != owner:
                    raise self._err(EntryError, f"page {tag} is not owned by {owner} after the save")

    def page_revisions(self, tag: str) -> list[Revision]:
        """Revisions of a page, newest first, from `data-revisions` of ?{tag}/revisions (contract §7)."""
        self._ensure_login()
        query = f"{quote(tag, safe='')}/revisions"
        resp = self._send("GET", "revisions", query)
        if resp.status_code != 200:
            raise self._fail(resp, f"GET ?{query}")
        return revisions_list(resp, f"GET ?{query}", lambda message: self._err(TerminalError, message))


__all__ = ["YesWikiAdmin", "Page", "StalePage", "decode_hashcash", "evaluate_hashcash_js", "VALID_TAG"]
