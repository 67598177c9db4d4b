"""In-memory emulator of a YesWiki 4.4.2 (Bazar) server, speaking real HTTP through WSGI.

It reproduces the HTTP contract recorded in ``shared/yeswiki-contract`` including its quirks:
the broken PATCH/PUT/DELETE page handlers, the create route used as a full-replace upsert with
``id_fiche``, the web edit handler that merges fields but drops the map field, the two clocks
(PHP clock in the wiki time zone for ``date_*_fiche``, UTC database clock for ``pages.time``),
the 10,000,000-character truncation, the checkbox JSON-list-as-indexes bug, etc.

The admin side (forms and lists web UI, page edit handler with hashcash, the `json` handler) lives in
``yeswiki_admin_routes``, installed on every emulator through the extension points ``register_api_route``,
``register_web_handler``, ``register_bazar_view`` and ``register_path_handler``.

Usage::

    emu = YesWikiEmulator("wiki-a")
    emu.add_user("WikiAdmin", "secret", token="tok", admin=True)
    emu.add_list("ListeThemes", "Thèmes", {"eco": "Écologie"})
    emu.add_form("5", "Lieux", "texte***bf_titre***Nom***60***255*** *** ***text***1***\n...")
    with start_server(emu) as server:  # oscartes_sync.sandbox.server
        requests.post(server.url + "?api/entries/5", data={"bf_titre": "Café"},
                      headers={"Authorization": "Bearer tok"})

Approximations: the HTML purifier is nh3 (ammonia) plus the ``alt`` HTMLPurifier adds to images;
renderings (``html``, ``code``, ``html_output``, web pages) are simplified but carry the markers
the contract names; concurrent same-title creates are serialised (the real server may overwrite).
"""

from __future__ import annotations

import html as html_lib
import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from urllib.parse import quote, unquote_plus, unquote_to_bytes
from zoneinfo import ZoneInfo

import nh3
from werkzeug.wrappers import Request, Response

from oscartes_sync.targets.wikiname import genere_nom_wiki, wiki_name_base
from .recording import Fault, RequestRecorder

TYPE_URI = "http://outils-reseaux.org/_vocabulary/type"
SOURCE_URL_URI = "http://outils-reseaux.org/_vocabulary/sourceUrl"
MAX_VALUE_CHARS = 10_000_000
CACHE_CONTROL = "no-store, no-cache, must-revalidate, no-cache, private"
SERVER_KEYS_DROPPED = ("valider", "MAX_FILE_SIZE", "antispam", "mot_de_passe_wikini",
                       "mot_de_passe_repete_wikini", "html_data", "url", "incomingurl", "owner")
HTML_DATA_KEYS = {"bf_latitude", "bf_longitude", "id_typeannonce", "owner", "date_creation_fiche",
                  "date_debut_validite_fiche", "date_fin_validite_fiche", "id_fiche", "statut_fiche",
                  "date_maj_fiche"}
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "tif", "tiff"}
# attach_config ext_images of 4.4.2 (tools/attach/config.yaml): what an image field accepts, by extension only
IMAGE_FIELD_EXTENSIONS = {"avif", "gif", "jpeg", "png", "jpg", "svg", "webp"}
_FILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
               "webp": "image/webp", "svg": "image/svg+xml", "avif": "image/avif", "pdf": "application/pdf"}
_THUMBNAIL_RE = re.compile(r"^(?P<stem>.+)_vignette_\d+_\d+_(?P<stamps>\d{14}_\d{14}\.\w+)$")

_TRACE = ("\nStack trace:\n#0 <webroot>/includes/YesWiki.php(1260): call_user_func_array()\n"
          "#1 <webroot>/includes/YesWiki.php(1180): YesWiki\\Wiki->RunSpecialPages()\n"
          "#2 <webroot>/index.php(18): YesWiki\\Wiki->Run()\n#3 {main}")
MSG_NO_TITLE = ("Exception: La fiche n'a pas pu &ecirc;tre sauv&eacute;e car elle ne poss&egrave;de pas de "
                "titre. in <webroot>/tools/bazar/services/EntryManager.php:479")
MSG_NO_ID = ("Exception: $data['id_fiche'] can not be generated from $data['bf_titre'] ! in "
             "<webroot>/tools/bazar/services/EntryManager.php:791")
MSG_READ_REFUSED = "Vous n'êtes pas autorisé à lire cette page"  # review_01
MSG_WRITE_REFUSED = "Vous n'êtes pas autorisé à éditer cette page. veuillez vous identifier."  # review_01, _04
MSG_EMPTY_ID = ("Exception: $data['id_fiche'] is set but with empty value ! in "
                "<webroot>/tools/bazar/services/EntryManager.php:796")


class PhpException(Exception):
    """An uncaught PHP exception: the API answers 500 {"exceptionMessage": ...}."""


# ---------------------------------------------------------------------------------------------
# clocks


class ManualClock:
    """A clock tests can move by hand (same-second behaviours); returns aware UTC datetimes."""

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(timezone.utc).replace(microsecond=0)
        self._now = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 1.0) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# id derivation (genere_nom_wiki, contract §3.2)

# (the derivation lives in the product: oscartes_sync.targets.wikiname)


def _query_match(wanted: str, token: str) -> bool:
    try:
        return re.fullmatch(wanted, token, re.IGNORECASE) is not None
    except re.error:
        return wanted.lower() == token.lower()


def _php_numbers(value: Any) -> Any:
    """PHP's json_encode writes integral floats without a fraction (45.0 -> 45, seen on the live 4.4.2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _php_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_php_numbers(v) for v in value]
    return value


def _php_empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == "0" or value == [] or value == {} \
        or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


# ---------------------------------------------------------------------------------------------
# HTML purifier approximation

_IMG_TAG = re.compile(r"<img\b([^>]*?)\s*/?>")
_SRC_ATTR = re.compile(r'\bsrc="([^"]*)"')


def _img_with_alt(match: re.Match) -> str:
    attrs = match.group(1)
    if " alt=" not in attrs:
        src = _SRC_ATTR.search(attrs)
        alt = src.group(1).rsplit("/", 1)[-1] if src else ""
        attrs = f'{attrs} alt="{alt}"'
    return f"<img{attrs} />"


def purify_html(value: str) -> str:
    """Approximates HTMLPurifier: drops <script> (with content), on* handlers, javascript: URLs,
    escapes bare &, <, > in text, adds alt to <img>."""
    if "<" not in value and ">" not in value and "&" not in value:
        return value
    cleaned = nh3.clean(value, link_rel=None, url_schemes={"http", "https", "mailto", "ftp", "tel"})
    return _IMG_TAG.sub(_img_with_alt, cleaned) if "<img" in cleaned else cleaned


# ---------------------------------------------------------------------------------------------
# PHP-like request parsing


@dataclass
class Upload:
    filename: str
    content: bytes
    content_type: str = ""


@dataclass
class Posted:
    data: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    invalid_utf8: set[str] = field(default_factory=set)


def _php_key(raw_key: str) -> tuple[str, list[str]]:
    """Split `a[b][]` into ('a', ['b', '']); PHP turns '.' and ' ' of the base name into '_'."""
    if "[" in raw_key and raw_key.endswith("]") and raw_key.index("[") > 0:
        base, rest = raw_key.split("[", 1)
        subs = rest[:-1].split("][")
    else:
        base, subs = raw_key, []
    return base.replace(".", "_").replace(" ", "_"), subs


def _php_assign(target: dict[str, Any], raw_key: str, value: Any) -> str:
    base, subs = _php_key(raw_key)
    if not subs:
        target[base] = value
        return base
    node = target.get(base)
    if not isinstance(node, dict):
        node = {}
        target[base] = node
    for i, sub in enumerate(subs):
        last = i == len(subs) - 1
        if sub == "":
            sub = str(sum(1 for k in node if k.isdigit()))
        if last:
            node[sub] = value
        else:
            nxt = node.get(sub)
            if not isinstance(nxt, dict):
                nxt = {}
                node[sub] = nxt
            node = nxt
    return base


def _listify(value: Any) -> Any:
    """`key[]` maps with 0..n-1 keys behave like PHP lists when JSON-encoded."""
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and all(k == str(i) for i, k in enumerate(value)):
            return list(value.values())
    return value


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="ignore"), False  # PHP strips invalid bytes silently


def parse_php_query(raw: bytes | str, posted: Posted | None = None) -> Posted:
    posted = posted or Posted()
    if isinstance(raw, str):
        raw = raw.encode("latin-1", errors="ignore")
    for part in raw.split(b"&"):
        if not part:
            continue
        key_raw, _, val_raw = part.partition(b"=")
        key, _ = _decode(unquote_to_bytes(key_raw.replace(b"+", b" ")))
        value, ok = _decode(unquote_to_bytes(val_raw.replace(b"+", b" ")))
        if not key:
            continue
        base = _php_assign(posted.data, key, value)
        if not ok:
            posted.invalid_utf8.add(base)
    posted.data = {k: _listify(v) for k, v in posted.data.items()}
    return posted


def parse_body(request: Request) -> Posted:
    """$_POST (urlencoded or multipart), else the JSON body decoded as an array (contract §3.1)."""
    ctype = (request.mimetype or "").lower()
    posted = Posted()
    if ctype == "application/x-www-form-urlencoded":
        parse_php_query(request.get_data(cache=True), posted)
    elif ctype == "multipart/form-data":
        for key, value in request.form.items(multi=True):
            _php_assign(posted.data, key, value)
        for key, storage in request.files.items(multi=True):
            if storage.filename:
                base, _ = _php_key(key)
                posted.files[base] = Upload(storage.filename, storage.read(), storage.mimetype or "")
        posted.data = {k: _listify(v) for k, v in posted.data.items()}
    if not posted.data and not posted.files:
        raw = request.get_data(cache=True)
        if raw:
            try:
                decoded = json.loads(raw.decode("utf-8", errors="ignore"))
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                posted.data = dict(decoded)
            elif isinstance(decoded, list):
                posted.data = {str(i): v for i, v in enumerate(decoded)}
    return posted


# ---------------------------------------------------------------------------------------------
# forms


@dataclass
class FormField:
    kind: str  # template type (texte, checkbox, map, ...)
    columns: list[str]
    prepared: dict[str, Any]

    @property
    def propertyname(self) -> str:
        return self.prepared.get("propertyname", "")


NO_PROPERTY_TYPES = {"labelhtml", "acls", "metadatas", "separator", "tab", "tabchange", "bookmarklet",
                     "inscriptionliste", "utilisateur_wikini", "custom", "reactions"}
ENUM_TYPES = {"checkbox", "liste", "radio", "checkboxfiche", "listefiche", "radiofiche", "enumlevel"}
DATE_TYPES = {"listedatedeb", "listedatefin", "jour", "date"}
TEXT_PURIFIED_TYPES = {"texte", "textelong"}
PREPARED_TYPE = {"texte": "text", "lien_internet": "link", "champs_mail": "email"}


def parse_template_lines(template: str) -> list[list[str]]:
    rows = []
    for line in re.split(r"\r?\n", template):
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split("***")]
        cols += [""] * (16 - len(cols))
        rows.append(cols)
    return rows


class WikiForm:
    def __init__(self, form_id: str, label: str, template: str, description: str = "",
                 options_for: Callable[[str, str], dict] | None = None, extra: dict | None = None):
        self.id = str(form_id)
        self.label = label
        self.template_text = template
        self.description = description
        self.extra = extra or {}
        self.rows = parse_template_lines(template)
        self._options_for = options_for or (lambda kind, ref: {})
        self.fields = [self._prepare(row) for row in self.rows]

    def _prepare(self, c: list[str]) -> FormField:
        kind = c[0]
        if kind == "labelhtml":
            return FormField(kind, c, {"type": "labelhtml", "viewtext": c[3], "formtext": c[1]})
        if kind in NO_PROPERTY_TYPES:
            return FormField(kind, c, {"type": kind})
        base = {"id": "", "propertyname": "", "label": c[2], "name": c[1], "type": PREPARED_TYPE.get(kind, kind),
                "default": c[5], "searchable": c[9], "required": c[8] == "1", "helper": c[10],
                "read_acl": c[11], "write_acl": c[12], "sem_type": c[14]}
        if kind in ("checkbox", "liste", "radio", "checkboxfiche", "listefiche", "radiofiche"):
            prop = kind + c[1] + c[6]
            base.update(name="", linkedObjectName=c[1], queries=c[15], options=None)
        elif kind == "image":
            prop = "image" + c[1]
            base.update(default=None, thumbnailHeight=c[3], thumbnailWidth=c[4], imageHeight=c[5],
                        imageWidth=c[6], imageClass=c[7])
        elif kind == "fichier":
            prop = "fichier" + c[1]
            base.update(readLabel="Fichier : {filename}")
        elif kind == "map":
            prop = "geolocation"
            base.update(label="geolocation", default="", read_acl=c[11], write_acl=c[12], latitudeField=c[1],
                        longitudeField=c[2], autocomplete=None, geolocate=0,
                        autocompleteFieldnames={"postalCode": "bf_code_postal", "town": "bf_ville",
                                                "street": "bf_adresse", "street1": "bf_adresse1",
                                                "street2": "bf_adresse2", "county": "", "state": "bf_pays"})
        elif kind == "titre":
            prop = "bf_titre"
            base.update(label=c[2])
        else:
            prop = c[1]
        if kind == "texte":
            base.update(maxChars=c[4], size=c[3], subType=c[7], pattern=c[6])
        if kind == "champs_mail":
            base.update(sendMail=c[5] == "1", showContactForm=c[6] == "form", seeEmailAcls="@admins")
        base["id"] = base["propertyname"] = prop
        return FormField(kind, c, base)

    def prepared(self) -> list[dict[str, Any]]:
        out = []
        for f in self.fields:
            p = dict(f.prepared)
            if "options" in p:
                p["options"] = self._options_for(f.kind, f.columns[1])
            out.append(p)
        return out

    def as_json(self) -> dict[str, Any]:
        return {"bn_id_nature": self.id, "bn_label_nature": self.label, "bn_description": self.description,
                "bn_condition": self.extra.get("bn_condition", ""),
                "bn_sem_context": self.extra.get("bn_sem_context", ""),
                "bn_sem_type": self.extra.get("bn_sem_type", ""),
                "bn_sem_use_template": self.extra.get("bn_sem_use_template", "0"),
                "bn_template": self.template_text, "bn_ce_i18n": "fr-FR",
                "bn_only_one_entry": self.extra.get("bn_only_one_entry", "N"),
                "bn_only_one_entry_message": self.extra.get("bn_only_one_entry_message", ""),
                "template": [list(r) for r in self.rows], "prepared": self.prepared()}

    def property_fields(self) -> list[FormField]:
        return [f for f in self.fields if f.propertyname]


# ---------------------------------------------------------------------------------------------
# state


@dataclass
class User:
    name: str
    password: str
    admin: bool = False
    email: str = ""
    signuptime: str = ""




def _php_json(value: Any) -> str:
    """json_encode() with PHP's defaults (escaped slashes and non-ASCII)."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def _h(value: Any) -> str:
    return html_lib.escape("" if value is None else str(value), quote=True)


_EXTERNAL_LINK = re.compile(r"\[\[(https?://[^\s\]]+) ([^\]]+)\]\]")


def _page_html(body: str) -> str:
    """A page's text as the wiki shows it. Only what the tests rely on is formatted: `[[url label]]` becomes
    `<a href='url' track=true >label</a>`, the URL's `&` escaped as `&amp;` (review_06); the rest is shown as
    escaped text, one `<br />` a line."""
    return _EXTERNAL_LINK.sub(r"<a href='\1' track=true >\2</a>", _h(body)).replace("\n", "<br />\n")


def _scalar_str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


Handler = Callable[["Ctx", dict[str, str]], Response]


@dataclass
class Ctx:
    """One request as the handlers see it."""
    request: Request
    method: str
    wiki: str  # first query component, decoded (`api/entries/5`, `CafeJson/edit`)
    get: dict[str, Any]
    base_url: str  # `http://host:port/`
    user: str | None
    is_admin: bool
    via_bearer: bool
    session_id: str
    client_ip: str
    _posted: Posted | None = None

    @property
    def posted(self) -> Posted:
        if self._posted is None:
            self._posted = parse_body(self.request)
        return self._posted


class YesWikiEmulator(RequestRecorder):
    """A YesWiki 4.4.2 as a WSGI app. Setup/inspection helpers do not go through HTTP; every
    change a member or the sync makes must go through HTTP."""

    def __init__(self, name: str = "wiki", *, php_tz: str = "Europe/Paris",
                 now: Callable[[], datetime] | None = None, baz_etat_validation: str = "1",
                 seed_pages: bool = True):
        self.name = name
        self.php_tz = ZoneInfo(php_tz)
        self.now: Callable[[], datetime] = now or _utcnow
        self.baz_etat_validation = baz_etat_validation
        self._lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.api_keys: dict[str, str] = {}  # token -> user name (api_allowed_keys, keyed by user name)
        self.sessions: dict[str, str] = {}  # YesWiki-main session id -> user name
        self.forms: dict[str, WikiForm] = {}
        self.revisions: dict[str, list[dict[str, Any]]] = {}  # tag -> revisions, oldest first
        self.types: dict[str, str] = {}  # tag -> value of its type triple (fiche_bazar, liste)
        self.triples: list[dict[str, Any]] = []
        self.acls: dict[str, dict[str, str]] = {}  # tag -> privilege (read, write, comment) -> ACL text
        self.groups: dict[str, str] = {}  # group name -> its ACL text (triples ThisWikiGroup:<name>)
        self.files: dict[str, bytes] = {}
        self.request_log: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._next_revision_id = 1
        self._next_triple_id = 1
        self.api_routes: list[tuple[str, re.Pattern, str, Handler]] = []
        self.web_handlers: dict[str, Handler] = {}
        self.bazar_views: dict[tuple[str, str], Handler] = {}
        self.path_handlers: dict[str, Handler] = {}
        self._install_routes()
        self.register_bazar_view("saisir", "supprimer", self._bazar_delete_entry)
        from .yeswiki_admin_routes import install_admin_routes  # imports this module: late import
        install_admin_routes(self)
        if seed_pages:
            # a fresh 4.4.2's home page, banner and menu, as recorded (tests/contract/recorded/pages_x*)
            from ..publish.fresh_wiki import stock_bodies  # the sandbox sits above publish: late import

            for tag, body in stock_bodies().items():
                self.add_page(tag, body, owner="WikiAdmin")
            self.add_page("BacASable", "Ceci est un bac à sable.", owner="WikiAdmin")

    # ----------------------------------------------------------------- clocks
    def php_now(self) -> str:
        return self._now().astimezone(self.php_tz).strftime("%Y-%m-%d %H:%M:%S")

    def db_now(self) -> str:
        return self._now().astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def _now(self) -> datetime:
        now = self.now()
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)

    # ----------------------------------------------------------------- setup helpers
    def add_user(self, name: str, password: str, token: str | None = None, admin: bool = False,
                 email: str | None = None) -> None:
        with self._lock:
            self.users[name] = User(name, password, admin, email or f"{name.lower()}@example.org", self.db_now())
            if token:
                self.api_keys[token] = name

    def add_api_key(self, user_name: str, token: str) -> None:
        """An `api_allowed_keys` entry; its user may not exist (then it authenticates nobody)."""
        with self._lock:
            self.api_keys[token] = user_name

    def add_form(self, form_id: str | int, label: str, template: str, description: str = "",
                 **bn_fields: str) -> dict[str, Any]:
        with self._lock:
            form = WikiForm(str(form_id), label, template, description, self._options_for, bn_fields)
            self.forms[form.id] = form
            return form.as_json()

    def add_list(self, list_id: str, title: str, labels: dict[str, str], owner: str = "WikiAdmin") -> None:
        with self._lock:
            self._save_page(list_id, _php_json({"titre_liste": title, "label": labels}), owner, owner)
            self._set_type(list_id, "liste")

    def add_page(self, tag: str, body: str, owner: str = "WikiAdmin", user: str | None = None) -> None:
        with self._lock:
            self._save_page(tag, body, user or owner, owner)

    def add_group(self, name: str, acl: str) -> None:
        """A group of users (its ACL text: one name or @group a line), as {{editgroups}} saves it."""
        with self._lock:
            self.groups[name] = acl

    def set_acl(self, tag: str, privilege: str, acl: str) -> None:
        with self._lock:
            self._save_acl(tag, privilege, acl)

    # ----------------------------------------------------------------- inspection helpers
    def entries(self, form_id: str | int | None = None) -> dict[str, dict[str, Any]]:
        with self._lock:
            out = {}
            for tag in self._entry_tags():
                data = json.loads(self.revisions[tag][-1]["body"])
                if form_id is None or str(data.get("id_typeannonce")) == str(form_id):
                    out[tag] = data
            return out

    def page(self, tag: str) -> dict[str, Any] | None:
        with self._lock:
            revs = self.revisions.get(tag)
            return self._row(revs[-1]) if revs else None

    def page_revisions(self, tag: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self._row(r) for r in self.revisions.get(tag, [])]





    # ----------------------------------------------------------------- extension points
    def register_api_route(self, method: str, pattern: str, acl: str, handler: Handler) -> None:
        """Add a `/?api/...` route; `pattern` is a regex over the path after `api/`; acl is
        public|token|admin. Later registrations win over earlier ones."""
        self.api_routes.insert(0, (method.upper(), re.compile(pattern), acl, handler))

    def register_web_handler(self, name: str, handler: Handler) -> None:
        """Add a page handler (`/?Tag/<name>`)."""
        self.web_handlers[name] = handler

    def register_path_handler(self, path: str, handler: Handler) -> None:
        """Add a script outside index.php (e.g. `/tools/security/wp-hashcash-getkey.php`)."""
        self.path_handlers[path] = handler

    def register_bazar_view(self, vue: str, action: str, handler: Handler) -> None:
        """Add a `/?BazaR&vue=<vue>&action=<action>` web UI route (forms, lists admin)."""
        self.bazar_views[(vue, action)] = handler

    # ----------------------------------------------------------------- storage primitives
    def _row(self, rev: dict[str, Any]) -> dict[str, Any]:
        latest = self.revisions[rev["tag"]][-1] is rev
        return {"id": str(rev["id"]), "tag": rev["tag"], "time": rev["time"], "body": rev["body"], "body_r": "",
                "owner": rev["owner"], "user": rev["user"], "latest": "Y" if latest else "N", "handler": "page",
                "comment_on": "", "metadatas": None}

    def _save_page(self, tag: str, body: str, user: str, owner: str | None = None) -> dict[str, Any]:
        revs = self.revisions.setdefault(tag, [])
        if revs:
            owner = revs[-1]["owner"] if owner is None else owner
        rev = {"id": self._next_revision_id, "tag": tag, "time": self.db_now(), "body": body,
               "owner": owner or "", "user": user}
        self._next_revision_id += 1
        revs.append(rev)
        return rev

    def _page_exists(self, tag: str) -> bool:
        return bool(self.revisions.get(tag))

    def _set_type(self, tag: str, value: str) -> None:
        if self.types.get(tag) != value:
            self.triples = [t for t in self.triples if not (t["resource"] == tag and t["property"] == TYPE_URI)]
            self._add_triple(tag, TYPE_URI, value)
            self.types[tag] = value

    def _add_triple(self, resource: str, prop: str, value: str) -> int:
        for t in self.triples:
            if t["resource"] == resource and t["property"] == prop and t["value"] == value:
                return 3
        self.triples.append({"id": str(self._next_triple_id), "resource": resource, "property": prop,
                             "value": value})
        self._next_triple_id += 1
        return 0

    def _entry_tags(self) -> list[str]:
        tags = [t for t, v in self.types.items() if v == "fiche_bazar" and self.revisions.get(t)]
        return sorted(tags, key=lambda t: self.revisions[t][-1]["id"])  # DB order of the latest rows

    def _options_for(self, kind: str, ref: str) -> dict[str, str]:
        if kind.endswith("fiche"):
            return {t: str(e.get("bf_titre", "")) for t, e in self.entries(ref).items()}
        revs = self.revisions.get(ref)
        if not revs or self.types.get(ref) != "liste":
            return {}
        try:
            return dict(json.loads(revs[-1]["body"]).get("label") or {})
        except (ValueError, AttributeError):
            return {}

    # ----------------------------------------------------------------- ACL helpers
    # AclService::check / hasAccess (includes/services/AclService.php): an ACL is one entry a line; `*`, `+`,
    # `%` (owner), `@group`, a user name, `!` negating; the first line that grants wins. Administrators pass
    # every check; a page's owner passes every page check. Pages without an ACL row use the defaults of a
    # fresh 4.4.2 (read '*', write '*', comment 'comments-closed'). Recorded: tests/contract/recorded/review/.
    DEFAULT_ACLS = {"read": "*", "write": "*", "comment": "comments-closed"}

    def _check_acl(self, acl: str | None, user: str | None, *, admin_check: bool = True,
                   owner: str | None = None, _seen: frozenset[str] = frozenset()) -> bool:
        if admin_check and user is not None and user in self.users and self.users[user].admin:
            return True
        for line in (acl or "").replace("\r", "").split("\n"):
            line = line.strip()
            granted = not line.startswith("!")
            entry = line if granted else line[1:]
            if not entry or entry.startswith("#"):
                continue
            if entry == "*":
                hit = True
            elif entry == "+":
                hit = user is not None and user in self.users
            elif entry.startswith("%"):
                if owner is None:
                    continue  # no page in question: never grants (AclService::check with $tag '')
                hit = user is not None and user == owner
            elif entry.startswith("@"):
                hit = user is not None and self._in_group(entry[1:], user, _seen)
            else:
                hit = user is not None and entry == user
            if hit == granted:
                return True
        return False

    def _in_group(self, group: str, user: str, _seen: frozenset[str] = frozenset()) -> bool:
        """UserManager::isInGroup(group, user, admincheck=false)."""
        if not group or group.casefold() in _seen:
            return False
        return self._check_acl(self._group_acl(group), user, admin_check=False, _seen=_seen | {group.casefold()})

    def _group_acl(self, group: str) -> str | None:
        if group == "admins":
            return "\n".join(sorted(u.name for u in self.users.values() if u.admin))
        return self.groups.get(group)

    def _acl_allows(self, acl: str, user: str | None, is_admin: bool, owner: str | None) -> bool:
        """A field's read or write ACL (template columns 11, 12): empty means everyone."""
        if not (acl or "").strip():
            return True
        return self._check_acl(acl, user, owner=owner)

    def _page_owner(self, tag: str) -> str:
        revs = self.revisions.get(tag)
        return revs[-1]["owner"] if revs else ""

    def _page_acl(self, tag: str, privilege: str) -> str:
        return self.acls.get(tag, {}).get(privilege, self.DEFAULT_ACLS[privilege])

    def _has_access(self, ctx: Ctx, privilege: str, tag: str) -> bool:
        """AclService::hasAccess: the owner of an existing page always; else the page's ACL."""
        acl = self._page_acl(tag, privilege)
        if acl == "comments-closed":
            return False
        if ctx.user is not None and self.revisions.get(tag) and self._page_owner(tag) == ctx.user:
            return True
        return self._check_acl(acl, ctx.user)

    def _listable(self, ctx: Ctx, tag: str) -> bool:
        """AclService::updateRequestWithACL, the SQL filter of entry listings: admins see everything; others
        see an entry without a read ACL row, or whose row contains `*`, `+`, their name or one of their
        groups as text (LIKE) and none of them negated; the owner only when the row has `%`. Unlike a page
        read, owning an entry does not list it (review_04)."""
        acl = self.acls.get(tag, {}).get("read")
        if acl is None or ctx.is_admin:
            return True
        needed = ["*"]
        if ctx.user is not None:
            needed += ["+", ctx.user] + [f"@{g}" for g in self._groups_list() if self._in_group(g, ctx.user)]
        if any(a in acl for a in needed) and not any(f"!{a}" in acl for a in needed):
            return True
        return (ctx.user is not None and "%" in acl and "!%" not in acl and self._page_owner(tag) == ctx.user)

    def _groups_list(self) -> list[str]:
        return ["admins", *self.groups]

    def _save_acl(self, tag: str, privilege: str, acl: str) -> None:
        """AclService::save: a comma list becomes one entry a line; trimmed."""
        if "," in acl:
            acl = re.sub(r"\s*,\s*", "\n", acl)
        self.acls.setdefault(tag, {})[privilege] = acl.replace("\r", "").strip()

    # ----------------------------------------------------------------- entry save (create/overwrite/edit)
    def _format_fields(self, data: dict[str, Any], form: WikiForm | None, posted: Posted, id_fiche: str) -> dict:
        if form is None:
            return data
        for f in form.fields:
            prop = f.propertyname
            if not prop:
                continue
            kind = f.kind
            if kind == "titre":
                continue
            if kind == "map":
                lat_key, lon_key = f.columns[1], f.columns[2]
                lat, lon = data.get(lat_key), data.get(lon_key)
                if _php_empty(lat) or _php_empty(lon):
                    for key in (lat_key, lon_key, "geolocation"):
                        data.pop(key, None)
                else:  # assigned in place: a geolocation merged from the previous version keeps its position
                    data["geolocation"] = {lat_key: lat, lon_key: lon}
                continue
            if kind in ("checkbox", "checkboxfiche"):
                value = data.pop(prop, "")
                data.pop(prop + "_fromForm", None)
                if isinstance(value, dict):
                    value = ",".join(str(k) for k, v in value.items()
                                     if not (v is None or v is False or v in (0, "0", "false", "")))
                elif isinstance(value, list):
                    value = ",".join(str(i) for i, v in enumerate(value)
                                     if not (v is None or v is False or v in (0, "0", "false", "")))
                data[prop] = "" if value is None else value
                continue
            if kind in ("image", "fichier"):
                upload = posted.files.get(prop)
                if upload is not None:
                    # an image field checks the extension only (recorded: a .txt is refused and the field
                    # emptied, text named .png is stored): files_x1_image_field
                    ext = upload.filename.rpartition(".")[2].lower() if "." in upload.filename else ""
                    ok = kind != "image" or ext in IMAGE_FIELD_EXTENSIONS
                    data[prop] = self._store_upload(id_fiche, prop, kind, upload) if ok else ""
                else:
                    value = data.get(prop)
                    data[prop] = value if isinstance(value, str) and value in self.files else ""
                continue
            if prop not in data:
                data[prop] = None if kind in DATE_TYPES else ""
            elif kind in TEXT_PURIFIED_TYPES and isinstance(data[prop], str):
                data[prop] = purify_html(data[prop])
        return data

    def _store_upload(self, id_fiche: str, prop: str, kind: str, upload: Upload) -> str:
        stem, dot, ext = upload.filename.rpartition(".")
        if not dot:
            stem, ext = upload.filename, ""
        # attach::sanitizeFilename on 4.4.2: spaces -> "_", then every character but [A-Za-z0-9_.] dropped,
        # accented letters included ("logo été" -> "logo_t", "nouveau-logo" -> "nouveaulogo", recorded)
        stem = re.sub(r"[^A-Za-z0-9_.]", "", stem.replace(" ", "_"))
        stamp = self._now().astimezone(self.php_tz).strftime("%Y%m%d%H%M%S")
        ext = ext.lower()
        if kind == "fichier" and ext not in IMAGE_EXTENSIONS:
            ext += "_"  # YesWiki neutralises non-image files
        name = f"{id_fiche}_{prop}_{stem}_{stamp}_{stamp}" + (f".{ext}" if ext else "")
        self.files[name] = upload.content
        return name

    def _finish_and_save(self, data: dict[str, Any], form_id: str, ctx: Ctx, posted: Posted,
                         id_fiche: str) -> None:
        form = self.forms.get(form_id)
        # date_creation_fiche: PHP clock on creation, MIN(pages.time) (DB clock) once the page exists
        revs = self.revisions.get(id_fiche)
        data["date_creation_fiche"] = min(r["time"] for r in revs) if revs else self.php_now()
        data["statut_fiche"] = "1" if ctx.is_admin else self.baz_etat_validation
        self._format_fields(data, form, posted, id_fiche)
        data["date_maj_fiche"] = self.php_now()
        for key in SERVER_KEYS_DROPPED:
            data.pop(key, None)
        for key, value in list(data.items()):
            if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
                data[key] = value[:MAX_VALUE_CHARS]
        owner = None if revs else (ctx.user or "")
        self._save_page(id_fiche, _php_json(_php_numbers(data)), ctx.user or ctx.client_ip, owner)
        self._set_type(id_fiche, "fiche_bazar")
        for f in (form.fields if form is not None else []):
            if f.kind == "acls":  # AclField: the entry's ACLs from columns 1-3, set only where none is stored
                for privilege, col, default in (("read", 1, "*"), ("write", 2, "%"), ("comment", 3, "comments-closed")):
                    if not self.acls.get(id_fiche, {}).get(privilege):
                        self._save_acl(id_fiche, privilege, f.columns[col].strip() or default)

    def _create_entry(self, ctx: Ctx, form_id: str) -> str:
        posted = ctx.posted
        data = dict(posted.data)
        data["antispam"] = 1
        data["id_typeannonce"] = form_id
        form = self.forms.get(form_id)
        titre = next((f for f in form.fields if f.kind == "titre"), None) if form else None
        if titre is not None:
            data["bf_titre"] = re.sub(r"\{\{([^}]+)\}\}", lambda m: _scalar_str(data.get(m.group(1).strip(), "")),
                                      titre.columns[1])
        if "bf_titre" not in data or data["bf_titre"] is None:
            raise PhpException(MSG_NO_TITLE)
        if data.get("id_fiche") is not None:
            id_fiche = _scalar_str(data["id_fiche"])
            if _php_empty(id_fiche):
                raise PhpException(MSG_EMPTY_ID)
        else:
            title = "" if "bf_titre" in posted.invalid_utf8 else _scalar_str(data["bf_titre"])
            id_fiche = genere_nom_wiki(title, self._page_exists)
            if _php_empty(id_fiche):
                raise PhpException(MSG_NO_ID)
        data["id_fiche"] = id_fiche
        if form is not None:
            # The API create fills a field's default (template column 5) when the field is not sent at all;
            # sent empty, it stays empty (recorded on the live 4.4.2: tests/contract/recorded/entries_x1_*,
            # seen for texte and liste fields). The web edit handler does not do this.
            for f in form.property_fields():
                if f.kind in ("texte", "liste") and f.propertyname not in data and len(f.columns) > 5:
                    default = f.columns[5].strip()
                    if default:
                        data[f.propertyname] = default
        self._finish_and_save(data, form_id, ctx, posted, id_fiche)
        source_url = ctx.request.headers.get("Source-Url")
        if source_url:
            self._add_triple(id_fiche, SOURCE_URL_URI, source_url)
        return id_fiche

    def _edit_entry(self, ctx: Ctx, tag: str, previous: dict[str, Any]) -> None:
        posted = ctx.posted
        form_id = str(previous.get("id_typeannonce", ""))
        form = self.forms.get(form_id)
        data = dict(posted.data)
        data["id_fiche"] = tag
        data["id_typeannonce"] = form_id
        if form is not None:
            for f in form.property_fields():
                prop = f.propertyname
                if prop not in data and prop in previous and prop not in posted.files:
                    data[prop] = previous[prop]
        self._finish_and_save(data, form_id, ctx, posted, tag)

    # ----------------------------------------------------------------- entry read
    def _display_entry(self, tag: str, ctx: Ctx, rev: dict[str, Any] | None = None) -> dict[str, Any] | None:
        rev = rev or self.revisions[tag][-1]
        try:
            entry = json.loads(rev["body"])
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        self._blank_restricted(entry, ctx, self.revisions[tag][0]["owner"])
        entry["user"] = rev["user"]
        entry["owner"] = rev["owner"]
        form = self.forms.get(str(entry.get("id_typeannonce", "")))
        entry["html_data"] = self._html_data(entry, form)
        entry["url"] = f"{ctx.base_url}?{tag}"
        return entry

    def _blank_restricted(self, entry: dict[str, Any], ctx: Ctx, owner: str) -> bool:
        """Fields the reader may not read are returned as "" (field read ACL, contact-form emails)."""
        form = self.forms.get(str(entry.get("id_typeannonce", "")))
        changed = False
        for f in (form.property_fields() if form is not None else []):
            prop = f.propertyname
            if prop not in entry:
                continue
            hidden = not self._acl_allows(f.columns[11], ctx.user, ctx.is_admin, owner)
            if f.kind == "champs_mail" and f.prepared.get("showContactForm"):
                hidden = hidden or not (ctx.is_admin or (ctx.user is not None and ctx.user == owner))
            if hidden and entry[prop] != "":
                entry[prop] = ""
                changed = True
        return changed

    def _visible_body(self, rev: dict[str, Any], ctx: Ctx) -> str:
        """Raw page body as this reader gets it: entries have their restricted fields blanked."""
        if self.types.get(rev["tag"]) != "fiche_bazar":
            return rev["body"]
        try:
            entry = json.loads(rev["body"])
        except ValueError:
            return rev["body"]
        if isinstance(entry, dict) and self._blank_restricted(entry, ctx, self.revisions[rev["tag"]][0]["owner"]):
            return _php_json(entry)
        return rev["body"]

    def _html_data(self, entry: dict[str, Any], form: WikiForm | None) -> str:
        special = {}
        if form is not None:
            special = {f.propertyname: f for f in form.property_fields()
                       if f.kind in ENUM_TYPES or f.kind in DATE_TYPES}
        out = []
        for key, value in entry.items():
            if _php_empty(value):
                continue
            if key in HTML_DATA_KEYS or key in special:
                if isinstance(value, list):
                    text = "[" + ",".join(_scalar_str(v) for v in value) + "]"
                else:
                    text = _scalar_str(value)
                out.append(f'data-{_h(key)}="{_h(text)}" ')
        return "".join(out)

    def _static_file(self, ctx: Ctx, path: str) -> Response:
        """Uploads under files/, and the thumbnails of cache/ (served here as the original bytes: the emulator
        does not resize). A missing file gets the home page, 200 text/html, as the real web server answers."""
        folder, _, name = path[1:].partition("/")
        if folder == "cache" and (m := _THUMBNAIL_RE.match(name)):
            name = f"{m.group('stem')}_{m.group('stamps')}"
        data = self.files.get(name) if "/" not in name else None
        if data is None:
            ctx.wiki = "PagePrincipale"
            return self._show_page(ctx, "PagePrincipale")
        ext = name.rpartition(".")[2].lower()
        return Response(data, status=200, content_type=_FILE_TYPES.get(ext, "application/octet-stream"))

    def _image_html(self, ctx_base: str, f: FormField, name: str) -> str:
        """The entry page shows an image field as its thumbnail in cache/ (display-image macro, recorded)."""
        stem, _, ext = name.rpartition(".")
        m = re.match(r"^(.*)_(\d{14}_\d{14})$", stem)
        if not m:
            return f'<img loading="lazy" src="{_h(ctx_base)}files/{_h(name)}" class="img-responsive" alt="{_h(name)}" />'
        tw, th, iw, ih = (f.columns[i] if len(f.columns) > i else "" for i in (4, 3, 6, 5))
        thumb = f"{m.group(1)}_vignette_{tw}_{th}_{m.group(2)}.{ext}"
        big = f"{m.group(1)}_vignette_{iw}_{ih}_{m.group(2)}.{ext}"
        short = re.sub(r"^.*?_image\w+?_", "", m.group(1)) + f".{ext}"
        return (f'<a data-id="{_h(f.columns[1])}" class="modalbox {_h(f.columns[7] if len(f.columns) > 7 else "")}" '
                f'href="{_h(ctx_base)}cache/{_h(big)}" title="{_h(short)}">\n'
                f'<img loading="lazy" src="{_h(ctx_base)}cache/{_h(thumb)}" alt="{_h(short)}" />\n</a>')

    def _render_entry_html(self, entry: dict[str, Any], base_url: str = "") -> str:
        form = self.forms.get(str(entry.get("id_typeannonce", "")))
        parts = [f'<div class="BAZ_cadre_fiche id{_h(entry.get("id_typeannonce"))}">\n'
                 f'    <h1 class="BAZ_fiche_titre">{entry.get("bf_titre", "")}</h1>\n']
        for f in (form.property_fields() if form else []):
            prop = f.propertyname
            value = entry.get(prop)
            if prop == "bf_titre" or _php_empty(value):
                continue
            if f.kind == "image":
                if isinstance(value, str) and value in self.files:
                    parts.append(self._image_html(base_url, f, value))
                continue
            parts.append(f'<div class="BAZ_rubrique field-{_h(f.prepared.get("type"))}" data-id="{_h(prop)}">\n'
                         f'    <span class="BAZ_label">{_h(f.prepared.get("label"))}</span>\n'
                         f'    <span class="BAZ_texte">{_h(_scalar_str(value))}</span>\n</div>')
        parts.append("  </div>\n")
        return "".join(parts)

    @staticmethod
    def _entry_code(entry: dict[str, Any]) -> str:
        rows = "".join(f"<tr><td class='key'><pre>{_h(k)}</pre></td>"
                       f"<td><pre>{_h(_scalar_str(entry[k]))}</pre></td></tr>" for k in sorted(entry))
        return f"<table class='entry-code'><tbody>{rows}</tbody></table>"

    # ----------------------------------------------------------------- WSGI
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        raw_qs = environ.get("QUERY_STRING", "")
        path = request.path + (f"?{raw_qs}" if raw_qs else "")
        method = request.method.upper()
        faulty = self._record(method, path, environ, start_response)
        if faulty is not None:
            return faulty
        try:
            response = self._dispatch(request, raw_qs, method)
        except Exception:  # noqa: BLE001 - a crash of the emulator must look like a PHP 500
            response = self._json(500, {"exceptionMessage": "Error: emulator crash\n" + traceback.format_exc()})
        return response(environ, start_response)

    # no 429 in the YesWiki contract: 4.4.2 has no rate limit of its own
    supported_faults = ("500", "html200", "drop", "slow", "truncate", "drop-after")

    def _fault_response(self, kind: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if kind == "html200":
            return Response("<!doctype html><html><body><h1>Maintenance</h1><p>Le site est en maintenance."
                            "</p></body></html>", status=200,
                            content_type="text/html; charset=UTF-8")(environ, start_response)
        return self._json(500, {"exceptionMessage": "Exception: injected fault in <webroot>/index.php:18" + _TRACE})(
            environ, start_response)

    # ----------------------------------------------------------------- dispatch
    def _dispatch(self, request: Request, raw_qs: str, method: str) -> Response:
        first, _, rest = raw_qs.partition("&")
        get = parse_php_query(rest).data if rest else {}
        if "=" in first:
            params = parse_php_query(raw_qs).data
            wiki = str(params.pop("wiki", "PagePrincipale"))
            get = params
        else:
            wiki = unquote_plus(first) or "PagePrincipale"
        base_url = request.host_url
        session_id = request.cookies.get("YesWiki-main") or secrets.token_hex(13)
        with self._lock:
            user = self.sessions.get(session_id)
            if user is not None and user not in self.users:
                user = None
            ctx = Ctx(request, method, wiki, get, base_url, user, bool(user and self.users[user].admin), False,
                      session_id, request.remote_addr or "127.0.0.1")
            path_handler = self.path_handlers.get(request.path)
            if request.path.startswith(("/files/", "/cache/")) and method in ("GET", "HEAD"):
                return self._static_file(ctx, request.path)
            if path_handler is not None:
                response = path_handler(ctx, {})
            elif wiki == "api" or wiki.startswith("api/"):
                response = self._api(ctx)
            else:
                response = self._web(ctx)
            response.headers.add("Set-Cookie", f"YesWiki-main={ctx.session_id}; path=/; HttpOnly; SameSite=Lax")
            if ctx.via_bearer and ctx.user:
                # bearer side effect: the request also logs the client into a PHP session
                self.sessions[ctx.session_id] = ctx.user
                expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
                for name, value in (("name", ctx.user), ("token", secrets.token_hex(16))):
                    response.headers.add("Set-Cookie", f"{name}={quote(value)}; expires={expires}; Max-Age=3600; "
                                                       "path=/; HttpOnly; SameSite=Lax")
            response.headers["Cache-Control"] = CACHE_CONTROL
            return response

    @staticmethod
    def _json(status: int, body: Any) -> Response:
        resp = Response(json.dumps(body), status=status, content_type="application/json")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    @staticmethod
    def _empty(status: int) -> Response:
        return Response("", status=status, content_type="text/html; charset=UTF-8")

    @staticmethod
    def _html(body: str, status: int = 200) -> Response:
        return Response(body, status=status, content_type="text/html; charset=UTF-8")

    def _html_page(self, ctx: Ctx, tag: str, content: str) -> str:
        return (f'<!doctype html>\n<html class="no-js" lang="fr">\n<head>\n<meta charset="UTF-8">\n'
                f"<title>{_h(self.name)} : {_h(tag)}</title>\n</head>\n<body>\n"
                f'<div class="page" ondblclick="doubleClickEdit(event);">\n{content}\n</div>\n</body>\n</html>\n')

    # ----------------------------------------------------------------- API
    def _api(self, ctx: Ctx) -> Response:
        auth = ctx.request.headers.get("Authorization", "")
        m = re.search(r"Bearer\s(\S+)", auth)
        if m:
            name = self.api_keys.get(m.group(1))
            if name is not None and name in self.users:
                ctx.user, ctx.is_admin, ctx.via_bearer = name, self.users[name].admin, True
        sub = ctx.wiki[4:] if ctx.wiki.startswith("api/") else ""
        allowed_elsewhere = False
        for method, pattern, acl, handler in self.api_routes:
            match = pattern.fullmatch(sub)
            if match is None:
                continue
            if method != ctx.method:
                allowed_elsewhere = True
                continue
            if acl == "token" and ctx.user is None:
                return self._empty(401)
            if acl == "admin" and not ctx.is_admin:
                return self._empty(403)
            try:
                return handler(ctx, {k: v for k, v in match.groupdict().items() if v is not None})
            except PhpException as exc:
                return self._json(500, {"exceptionMessage": str(exc) + _TRACE})
        return self._empty(405 if allowed_elsewhere else 404)

    def _install_routes(self) -> None:
        r = self.api_routes
        r += [
            ("GET", re.compile(r""), "public", self._api_doc),
            ("GET", re.compile(r"forms"), "public", self._api_forms),
            ("GET", re.compile(r"forms/(?P<form>[^/]*)"), "public", self._api_form),
            ("GET", re.compile(r"forms/(?P<form>[^/]*)/entries(?:/(?P<output>[^/]*)(?:/(?P<ids>[^/]*))?)?"),
             "public", self._api_list_entries),
            ("GET", re.compile(r"entries/bazarlist"), "public", self._api_bazarlist),
            ("GET", re.compile(r"entries(?:/(?P<output>[^/]*)(?:/(?P<ids>[^/]*))?)?"), "public",
             self._api_list_entries),
            ("POST", re.compile(r"entries/(?P<form>[^/]*)"), "token", self._api_create_entry),
            ("GET", re.compile(r"entry/url/(?P<url>[^/]+)"), "token", self._api_entry_by_url),
            ("GET", re.compile(r"pages"), "public", self._api_pages),
            ("GET", re.compile(r"pages/(?P<tag>[^/]+)"), "public", self._api_page),
            ("DELETE", re.compile(r"pages/(?P<tag>[^/]+)"), "token", self._api_delete_page),
            ("POST", re.compile(r"pages/(?P<tag>[^/]+)/delete"), "token", self._api_delete_page_post),
            ("GET", re.compile(r"users"), "admin", self._api_users),
            ("POST", re.compile(r"users"), "admin", self._api_create_user),
            ("GET", re.compile(r"users/(?P<name>[^/]+)"), "admin", self._api_get_user),
            ("GET", re.compile(r"groups"), "admin", lambda ctx, p: self._json(200, self._groups_list())),
            ("GET", re.compile(r"comments/(?P<tag>[^/]+)"), "public", lambda ctx, p: self._json(200, [[]])),
            ("POST", re.compile(r"comments"), "token", self._api_post_comment),
            ("GET", re.compile(r"triples/(?P<res>[^/]+)"), "token", self._api_triples),
            ("POST", re.compile(r"triples/(?P<res>[^/]+)"), "token", self._api_set_triple),
            ("GET", re.compile(r"auth/?"), "admin", lambda ctx, p: self._json(200, [{}])),
            ("GET", re.compile(r"auth/(?P<name>[^/]+)"), "admin",
             lambda ctx, p: self._json(200, {"error": [f"User {p['name'][:1]} not found."]})),
        ]

    def _api_doc(self, ctx: Ctx, p: dict) -> Response:
        routes = "".join(f"<li><code>{_h(m)} {_h(ctx.base_url)}?api/{_h(pt.pattern)}</code></li>"
                         for m, pt, _a, _hd in self.api_routes)
        return self._html(self._html_page(ctx, "api", f"<h1>API YesWiki</h1><ul>{routes}</ul>"))

    def _api_forms(self, ctx: Ctx, p: dict) -> Response:
        forms = sorted(self.forms.values(), key=lambda f: f.label.lower())
        return self._json(200, {f.id: f.as_json() for f in forms})

    def _api_form(self, ctx: Ctx, p: dict) -> Response:
        form = self.forms.get(p["form"])
        return self._json(200, form.as_json()) if form else self._empty(404)

    def _select_entries(self, ctx: Ctx, form_id: str | None, ids: str | None) -> list[tuple[str, dict]]:
        wanted = set(ids.split(",")) if ids else None
        date_min = ctx.get.get("dateMin")
        out = []
        for tag in self._entry_tags():
            if wanted is not None and tag not in wanted:
                continue
            latest = self.revisions[tag][-1]
            if isinstance(date_min, str) and date_min and latest["time"] < date_min:
                continue
            if not self._listable(ctx, tag):
                continue
            entry = self._display_entry(tag, ctx)
            if entry is None:
                continue
            if form_id is not None and str(entry.get("id_typeannonce")) != form_id:
                continue
            out.append((tag, entry))
        query = ctx.get.get("query")
        if isinstance(query, str) and query:
            out = [(t, e) for t, e in out if self._matches_query(e, query)]
        return out

    @staticmethod
    def _matches_query(entry: dict[str, Any], query: str) -> bool:
        for clause in query.split("|"):
            negate = "!=" in clause
            key, sep, values = clause.partition("!=" if negate else "=")
            if not sep:
                continue
            stored = entry.get(key.strip())
            if isinstance(stored, list):
                tokens = [_scalar_str(v) for v in stored]
            else:
                tokens = _scalar_str(stored).split(",")
            # MariaDB REGEXP on the stored JSON: each wanted value must match one whole comma-separated
            # item, case-insensitively, and may itself be a regex (checked on the live 4.4.2)
            found = any(_query_match(w, t) for w in values.split(",") for t in tokens)
            if found == negate:
                return False
        return True

    def _api_list_entries(self, ctx: Ctx, p: dict) -> Response:
        output = p.get("output") or "json"
        form_id = p.get("form")
        selected = self._select_entries(ctx, form_id, p.get("ids"))
        if output == "geojson":
            features = []
            for tag, e in selected:
                geo = e.get("geolocation")
                if not isinstance(geo, dict) or len(geo) < 2:
                    continue
                lat, lon = list(geo.values())[:2]
                features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                                 "id": tag, "title": e.get("bf_titre", ""), "properties": e})
            return self._json(200, {"type": "FeatureCollection", "features": features})
        if output == "ical":
            raise PhpException("Error: Call to a member function getDateTimeWithRightTimeZone() on null in "
                               "<webroot>/tools/bazar/controllers/IcalFormatter.php:152")
        if output == "json-ld":
            form = self.forms.get(form_id or "")
            if form is None or not form.extra.get("bn_sem_type"):
                raise PhpException("Exception: Le type sémantique de ce formulaire n'a pas été défini, il ne peut "
                                   "donc être affiché en JSON-LD in <webroot>/tools/bazar/services/"
                                   "SemanticTransformer.php:12")
        fields = ctx.get.get("fields")
        result: dict[str, Any] = {}
        for tag, e in selected:
            if output == "html":
                e["html_output"] = self._render_entry_html(e, ctx.base_url)
            if isinstance(fields, str) and fields:
                e = {k: e[k] for k in fields.split(",") if k in e}
                if not e:
                    continue
            result[tag] = e
        return self._json(200, result)

    def _api_bazarlist(self, ctx: Ctx, p: dict) -> Response:
        form_ids = str(ctx.get.get("id", "")).split(",") if ctx.get.get("id") else None
        rows = []
        for tag, e in self._select_entries(ctx, None, None):
            if form_ids is None or str(e.get("id_typeannonce")) in form_ids:
                rows.append([tag, e.get("bf_titre", "")])
        rows.sort(key=lambda r: r[0])
        forms = {f: self.forms[f].as_json() for f in (form_ids or []) if f in self.forms}
        return self._json(200, {"entries": rows, "fieldMapping": ["id_fiche", "bf_titre"], "filters": [],
                                "forms": forms})

    def _api_create_entry(self, ctx: Ctx, p: dict) -> Response:
        id_fiche = self._create_entry(ctx, p["form"])
        return self._json(201, {"success": f"{ctx.base_url}?{id_fiche}"})

    def _api_entry_by_url(self, ctx: Ctx, p: dict) -> Response:
        url = unquote_plus(p["url"])
        hits = [f"{ctx.base_url}?{t['resource']}" for t in self.triples
                if t["property"] == SOURCE_URL_URI and t["value"] == url and self._page_exists(t["resource"])]
        return self._json(200, hits) if hits else self._empty(404)

    def _api_pages(self, ctx: Ctx, p: dict) -> Response:
        out = {}
        for tag in sorted(self.revisions, key=str.lower):
            revs = self.revisions[tag]
            if revs and tag not in self.types and not tag.startswith("LogDesActionsAdministratives") \
                    and self._has_access(ctx, "read", tag):
                out[tag] = self._row(revs[-1])
        return self._json(200, out)

    def _api_page(self, ctx: Ctx, p: dict) -> Response:
        tag = p["tag"]
        if not self._has_access(ctx, "read", tag):
            return self._empty(403)  # denyAccessUnlessGranted (review_01)
        revs = self.revisions.get(tag) or []
        when = ctx.get.get("time")
        if isinstance(when, str) and when:
            rev = next((r for r in revs if r["time"] == when), None)
        else:
            rev = revs[-1] if revs else None
        if rev is None:
            return self._json(404, {})
        row = self._row(rev)
        if self.types.get(tag) == "fiche_bazar":
            row["body"] = self._visible_body(rev, ctx)
            entry = self._display_entry(tag, ctx, rev) or {}
            row["html"] = self._render_entry_html(entry, ctx.base_url)
            row["code"] = self._entry_code(json.loads(row["body"]))
        else:
            row["html"] = _h(rev["body"]).replace("\n", "<br />\n")
            row["code"] = rev["body"]
        if ctx.get.get("includeDiff"):
            prev_idx = revs.index(rev) - 1
            previous = revs[prev_idx]["body"] if prev_idx >= 0 else ""
            row.update(commit_diff_html=row["html"], commit_diff_code=rev["body"] if rev["body"] != previous else "",
                       diff_html=row["html"], diff_code=rev["body"])
        return self._json(200, row)

    def _can_delete(self, ctx: Ctx, tag: str) -> bool:
        return ctx.is_admin or (ctx.user is not None and self._page_owner(tag) == ctx.user)

    def _delete_page(self, tag: str) -> None:
        self.revisions.pop(tag, None)
        self.acls.pop(tag, None)  # contract §3.6: revisions, ACLs, links
        if self.types.pop(tag, None) is not None:
            # the type triple goes, a Source-Url triple is left behind (contract §3.6)
            self.triples = [t for t in self.triples if not (t["resource"] == tag and t["property"] == TYPE_URI)]

    def _api_delete_page(self, ctx: Ctx, p: dict) -> Response:
        tag = p["tag"]
        if not self._page_exists(tag):
            return self._json(404, [])
        if not self._can_delete(ctx, tag):
            return self._json(401, [])
        self._delete_page(tag)
        return self._json(200, {"deleted": [tag]})

    def _api_delete_page_post(self, ctx: Ctx, p: dict) -> Response:
        return self._json(401, {"notDeleted": [p["tag"]], "error": (
            "Erreur de conception du site : Le formulaire de soumission ne contenait pas le jeton "
            "d'identification unique nécessaire aux mécanismes internes de sécurité.")})

    def _api_users(self, ctx: Ctx, p: dict) -> Response:
        return self._json(200, [{"email": u.email, "name": u.name, "signuptime": u.signuptime}
                                for u in self.users.values()])

    def _api_create_user(self, ctx: Ctx, p: dict) -> Response:
        name = _scalar_str(ctx.posted.data.get("name", ""))
        email = _scalar_str(ctx.posted.data.get("email", ""))
        if name in self.users:
            return self._json(400, {"notCreated": [name], "error": f"L'identifiant \"{name}\" existe déjà !"})
        self.users[name] = User(name, secrets.token_hex(8), False, email, self.db_now())
        return self._json(200, {"created": [name], "user": {"name": name, "email": email,
                                                            "signuptime": self.users[name].signuptime}})

    def _api_get_user(self, ctx: Ctx, p: dict) -> Response:
        raise PhpException("Error: Call to undefined method YesWiki\\Core\\Service\\UserManager::getOne() in "
                           "<webroot>/includes/controllers/ApiController.php:109")

    def _api_post_comment(self, ctx: Ctx, p: dict) -> Response:
        return self._json(403, {"code": 403, "error": "Vous n'êtes pas dans un groupe autorisé à laisser des "
                                                      "commentaires."})

    def _api_triples(self, ctx: Ctx, p: dict) -> Response:
        prop = ctx.get.get("property")
        rows = [dict(t) for t in self.triples]
        for i, group in enumerate(self._groups_list()):  # groups are triples ThisWikiGroup:<name> (review_03)
            rows.append({"id": f"g{i}", "resource": f"ThisWikiGroup:{group}",
                         "property": "http://www.wikini.net/_vocabulary/acls", "value": self._group_acl(group)})
        rows = [t for t in rows if t["resource"] == p["res"] and (not prop or t["property"] == prop)]
        if not ctx.is_admin:  # ApiController::extractTriplesParams: only the triples whose value names the user
            rows = [t for t in rows if f'"user":"{ctx.user}"' in str(t["value"])]
        return self._json(200, rows)

    def _api_set_triple(self, ctx: Ctx, p: dict) -> Response:
        data = ctx.posted.data
        value = json.dumps({"value": data.get("value"), "user": ctx.user, "date": self.php_now()},
                           separators=(",", ":"))  # PHP's json_encode: no spaces
        return self._json(200, {"result": self._add_triple(p["res"], _scalar_str(data.get("property")), value)})

    # ----------------------------------------------------------------- web UI
    def _web(self, ctx: Ctx) -> Response:
        tag, _, handler = ctx.wiki.partition("/")
        if ctx.method == "POST" and ctx.posted.data.get("action") == "login":
            return self._login(ctx, tag)
        if ctx.method in ("PATCH", "PUT", "DELETE") and not handler:
            return self._broken_rest_handler(ctx, {"PATCH": "api_patch", "PUT": "api_put",
                                                   "DELETE": "api_delete"}[ctx.method])
        if tag == "BazaR" and not handler:
            view = self.bazar_views.get((str(ctx.get.get("vue", "")), str(ctx.get.get("action", ""))))
            if view is not None:
                return view(ctx, {"tag": tag})
        custom = self.web_handlers.get(handler)
        if custom is not None:
            return custom(ctx, {"tag": tag})
        if handler == "raw":
            revs = self.revisions.get(tag)
            if not revs or not self._has_access(ctx, "read", tag):
                return self._html("")  # review_01: 200, empty
            return Response(self._visible_body(revs[-1], ctx), content_type="text/plain; charset=UTF-8")
        if handler == "revisions":
            return self._revisions_page(ctx, tag)
        if handler == "iframe" and not self._has_access(ctx, "read", tag):
            # IframeHandler: the login form alone, no alert and no body (review_01)
            return self._html(self._html_page(ctx, tag, (
                f'<form action="{_h(ctx.base_url)}?{_h(tag)}/iframe" class="login-form" method="post">'
                '<input name="name" type="text"><input name="password" type="password">'
                '<input name="action" type="hidden" value="login"></form>')))
        if handler == "edit" and self.types.get(tag) == "fiche_bazar":
            return self._entry_edit(ctx, tag)  # the page edit handler is in yeswiki_admin_routes
        return self._show_page(ctx, tag)

    def _login(self, ctx: Ctx, tag: str) -> Response:
        data = ctx.posted.data
        user = self.users.get(_scalar_str(data.get("name")))
        target = _scalar_str(data.get("incomingurl")) or f"{ctx.base_url}?{tag}"
        resp = Response("", status=302, content_type="text/html; charset=UTF-8", headers={"Location": target})
        if user is not None and user.password == _scalar_str(data.get("password")):
            ctx.session_id = secrets.token_hex(13)
            self.sessions[ctx.session_id] = user.name
            max_age = 3600 * 24 * 90 if data.get("remember") else 3600
            for name, value in (("name", user.name), ("token", secrets.token_hex(16))):
                resp.headers.add("Set-Cookie", f"{name}={quote(value)}; Max-Age={max_age}; path=/; HttpOnly; "
                                               "SameSite=Lax")
        return resp

    def _broken_rest_handler(self, ctx: Ctx, handler: str) -> Response:
        return self._html(self._html_page(ctx, ctx.wiki, (
            '<div class="alert alert-danger">Une erreur inattendue s\'est produite. Too few arguments to function '
            "YesWiki\\Core\\Service\\ApiService::isAuthorized(), 0 passed in "
            f"&lt;webroot&gt;/tools/bazar/handlers/page/{handler}.php on line 14 and exactly 2 expected in "
            "&lt;webroot&gt;/includes/services/ApiService.php</div>")))

    def _revisions_page(self, ctx: Ctx, tag: str) -> Response:
        if not self._has_access(ctx, "read", tag):
            return self._html(self._html_page(ctx, tag, f'<div class="alert alert-danger">{MSG_READ_REFUSED}</div>'))
        revs = self.revisions.get(tag) or []
        # ORDER BY time DESC; same-second revisions keep the DB (id) order
        ordered = sorted(revs, key=lambda r: (r["time"], -r["id"]), reverse=True)
        listing = json.dumps([{"id": str(r["id"]), "time": r["time"], "user": r["user"]} for r in ordered],
                             separators=(",", ":"), ensure_ascii=False)
        is_entry = "1" if self.types.get(tag) == "fiche_bazar" else ""
        content = (f'<div class="revisions-container" \n     data-revisions="{_h(listing)}" \n'
                   f'     data-revisions-count="{len(revs)}"\n     data-is-entry="{is_entry}">\n</div>')
        return self._html(self._html_page(ctx, tag, content))

    def _show_page(self, ctx: Ctx, tag: str) -> Response:
        revs = self.revisions.get(tag)
        if not self._has_access(ctx, "read", tag):  # review_01: an alert and the login form, no body
            return self._html(self._html_page(ctx, tag, (
                f'<div class="alert alert-danger alert-error">{MSG_READ_REFUSED}, veuillez vous identifier.</div>\n'
                f'<form action="{_h(ctx.base_url)}?{_h(tag)}" class="login-form" method="post">'
                '<input name="name" type="text"><input name="password" type="password">'
                '<input name="action" type="hidden" value="login"></form>')))
        if not revs:
            return self._html(self._html_page(ctx, tag, "<p>Cette page n'existe pas encore.</p>"))
        if self.types.get(tag) == "fiche_bazar":
            entry = self._display_entry(tag, ctx) or {}
            return self._html(self._html_page(ctx, tag, self._render_entry_html(entry, ctx.base_url)))
        return self._html(self._html_page(ctx, tag, _page_html(revs[-1]["body"])))

    def _entry_form_html(self, ctx: Ctx, tag: str, entry: dict[str, Any], alert: str = "") -> str:
        form = self.forms.get(str(entry.get("id_typeannonce", "")))
        inputs = []
        for f in (form.property_fields() if form else []):
            prop, value = f.propertyname, entry.get(f.propertyname)
            if f.kind == "textelong":
                inputs.append(f'<textarea name="{_h(prop)}">{_h(_scalar_str(value))}</textarea>')
            elif f.kind in ("checkbox", "checkboxfiche"):
                for key in self._options_for(f.kind, f.columns[1]):
                    inputs.append(f'<input type="checkbox" name="{_h(prop)}[{_h(key)}]" value="1">')
                inputs.append(f'<input type="hidden" name="{_h(prop)}_fromForm" value="{_h(_scalar_str(value))}">')
            elif f.kind == "map":
                for key in (f.columns[1], f.columns[2]):
                    inputs.append(f'<input type="hidden" name="{_h(key)}" value="{_h(_scalar_str(entry.get(key)))}">')
            elif f.kind in ("image", "fichier"):
                inputs.append(f'<input type="file" name="{_h(prop)}" value="">')
            else:
                inputs.append(f'<input type="text" name="{_h(prop)}" value="{_h(_scalar_str(value))}">')
        inputs += ['<button type="submit"></button>', '<input type="hidden" name="antispam" value="0">',
                   f'<input type="hidden" name="id_typeannonce" value="{_h(entry.get("id_typeannonce"))}">',
                   f'<input type="hidden" name="id_fiche" value="{_h(tag)}">']
        return self._html_page(ctx, f"{tag}/edit", alert + '<form id="formulaire" method="post" '
                               'enctype="multipart/form-data" action="">\n' + "\n".join(inputs) + "\n</form>")

    def write_refused(self, ctx: Ctx, tag: str) -> Response | None:
        """The editor and a save of a page or an entry the user may not write (review_01, review_04)."""
        if self._has_access(ctx, "write", tag):
            return None
        return self._html(self._html_page(ctx, f"{tag}/edit", f'<div class="alert alert-danger">{MSG_WRITE_REFUSED}'
                                                              "</div>"))

    def _entry_edit(self, ctx: Ctx, tag: str) -> Response:
        refused = self.write_refused(ctx, tag)
        if refused is not None:
            return refused
        previous = json.loads(self.revisions[tag][-1]["body"])
        if ctx.method != "POST":
            return self._html(self._entry_form_html(ctx, tag, previous))
        data = ctx.posted.data
        if "bf_titre" not in data:
            return self._html(self._entry_form_html(ctx, tag, previous))
        if _scalar_str(data.get("antispam")) != "1":
            alert = ('<div class="alert alert-danger">Une erreur inattendue s\'est produite. Veuillez contacter '
                     "l'administrateur du site et lui communiquer l'erreur suivante : Protection antispam in "
                     "&lt;webroot&gt;/tools/bazar/services/EntryManager.php on line 474</div>")
            return self._html(self._entry_form_html(ctx, tag, previous, alert))
        self._edit_entry(ctx, tag, previous)
        location = f"{ctx.base_url}?{tag}&vue=consulter&action=voir_fiche&id_fiche={tag}&message=modif_ok"
        return Response("", status=302, content_type="text/html; charset=UTF-8", headers={"Location": location})

    def _bazar_delete_entry(self, ctx: Ctx, p: dict) -> Response:
        """GET /?BazaR&vue=saisir&action=supprimer&id_fiche=X (session of an admin or the owner, no CSRF)."""
        tag = _scalar_str(ctx.get.get("id_fiche"))
        if self.types.get(tag) != "fiche_bazar" or not self._can_delete(ctx, tag):
            # EntryManager::delete throws: the page shows the error, nothing is deleted (not recorded)
            return self._html(self._html_page(ctx, "BazaR", '<div class="alert alert-danger">'
                                              "La page n'a pas été supprimée.</div>"))
        self._delete_page(tag)
        self.triples = [t for t in self.triples if not (t["resource"] == tag and t["property"] == SOURCE_URL_URI)]
        return Response("", status=302, content_type="text/html; charset=UTF-8",
                        headers={"Location": f"{ctx.base_url}?BazaR&vue=consulter"})


__all__ = ["YesWikiEmulator", "ManualClock", "genere_nom_wiki", "wiki_name_base", "purify_html", "PhpException"]
