"""The TOML config (PRODUCT.md §5) as pydantic models.

Secrets never live in the file: it names environment variables, and `secret()` reads them here and nowhere
else. A config error is a user mistake: `ConfigError` carries one readable message (exit 2, no traceback).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from . import territory as territories
from .records import KINDS, SERVICE_FORMS
from .text import N_, Text, join, message_of

DEFAULT_PATH = "oscartes.toml"
# Form ids the provisioned Bazar forms ask for (bn_id_nature), away from the ids a fresh wiki already uses.
DEFAULT_FORM_IDS = {k.name: k.form_id for k in KINDS.values()}


class ConfigError(Exception):
    """A config that cannot be used; the message names the file and the setting."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(_Strict):
    url: str = "sqlite:///oscartes.db"


class SyncConfig(_Strict):
    max_delete_ratio: float = Field(0.2, ge=0, le=1)
    min_delete_count: int = Field(3, ge=0)
    newest_wins: bool = False
    kinds: list[str] = ["actor"]
    lock_file: str = "oscartes.lock"
    http_timeout: float = Field(30.0, gt=0, le=600)  # seconds a wiki may take to answer one request

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        unknown = [k for k in v if k not in KINDS]
        if unknown:
            raise ValueError(Text("unknown kind(s) {unknown}; known: {known}", unknown=", ".join(unknown),
                                  known=", ".join(sorted(KINDS))))
        return v


class IdentityConfig(_Strict):
    """How sure the duplicate matcher must be (DECISIONS §1, §22). The defaults were chosen on the development
    part of the evaluation set and measured on its held-out part (benchmarks/README.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_link: float = Field(90, ge=0, le=100)  # score (out of 100) at or above which an entry is linked alone
    review: float = Field(70, ge=0, le=100)  # score at or above which a person is asked (`match`)
    same_place_m: float = Field(150, gt=0, le=5000)  # two pins closer than this are one place

    @model_validator(mode="after")
    def _ordered(self) -> "IdentityConfig":
        if self.review > self.auto_link:
            raise ValueError(Text("review ({review:g}) must not be above auto_link ({auto_link:g})",
                                  review=self.review, auto_link=self.auto_link))
        return self


class ExportConfig(_Strict):
    licence: str = "CC BY-SA 4.0"


class ReviewConfig(_Strict):
    """The review page of each wiki and its decisions form (DECISIONS §25)."""

    enabled: bool = True
    page: str = "RevueOscartes"  # the page's tag in every wiki

    @field_validator("page")
    @classmethod
    def _tag(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]{1,49}", v) or sum(c.isupper() for c in v) < 2:
            raise ValueError(Text("must be a WikiName: letters and digits, starting with a capital, two capitals at "
                                  "least (e.g. 'RevueOscartes')"))
        return v


class PublishConfig(_Strict):
    """What `sync` publishes in the wikis besides entries (DECISIONS §16)."""

    dashboards: bool = True  # a dashboard per theme and per commune, rewritten only when a figure changed
    articles_dir: str | None = None  # a folder of Markdown knowledge-base articles (relative to the config)


class ImagesConfig(_Strict):
    """Pictures of image fields copied between wikis (DECISIONS §7)."""

    max_bytes: int = Field(2_000_000, ge=10_000, le=50_000_000)  # a larger file is refused and named in the report


class CalendarConfig(_Strict):
    """The shared calendar of events and its iCalendar feed (issue 19)."""

    timezone: str = "Europe/Paris"  # a start or end typed without a time zone is read in this one

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(Text("unknown time zone '{zone}' (an IANA name such as Europe/Paris)", zone=v)) from None
        return v


class GeocodingConfig(_Strict):
    """Placing records that have an address and no point (issue 19). Off by default: the national service
    is called only when a coordinator turns it on."""

    enabled: bool = False
    url: str = "https://api-adresse.data.gouv.fr/search/"
    min_score: float = Field(0.5, ge=0, le=1)  # a weaker match is not trusted: the commune's centre instead
    requests_per_second: float = Field(10.0, gt=0, le=50)  # the public service allows 50 per second per IP
    max_per_run: int = Field(200, ge=0)  # a first import spreads its look-ups over several runs

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(Text("must be an http:// or https:// address"))
        return v


class TerritoryConfig(_Strict):
    """The territory the wikis serve (communes, map view, networks): a parameters file written by `kit apply`
    or `kit export`; without one, Essonne as PôleS NOE and Territoires en Liens set it up."""

    params: str | None = None  # relative to the config's folder


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


def _check_name(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError(Text("must be lowercase letters, digits, '-' or '_' (e.g. 'polesnoe')"))
    return v


def _check_url(v: str) -> str:
    if not re.match(r"^https?://[^\s/]+", v):
        raise ValueError(Text("must be an http:// or https:// address"))
    return v if v.endswith("/") else v + "/"


class WikiConfig(_Strict):
    name: str
    url: str
    api_token_env: str
    admin_user: str
    admin_password_env: str
    forms: dict[str, str] = Field(default_factory=dict)  # kind -> form id; provisioned ids by default
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> canonical field -> entry key
    # a wiki's own Bazar lists: list id -> {this wiki's key: canonical key} (DECISIONS §9)
    keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    # kind -> canonical fields whose read ACL is restricted in this wiki's form (default: what our forms
    # restrict, the contact fields); a restricted value is never written where it would be more visible
    restricted: dict[str, list[str]] = Field(default_factory=dict)
    # the secret of this wiki's webhook (`serve`, DECISIONS §17); unset: hooks from this wiki are refused
    hook_secret_env: str | None = None
    # besides the wiki's administrators, the members of this YesWiki group read the review page and take
    # decisions there (DECISIONS §25)
    review_group: str | None = None

    _n = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))
    _u = field_validator("url")(classmethod(lambda cls, v: _check_url(v)))

    @field_validator("fields", "restricted")
    @classmethod
    def _kinds(cls, v: dict) -> dict:
        unknown = [k for k in v if k not in KINDS]
        if unknown:
            raise ValueError(Text("unknown kind(s) {unknown}; known: {known}", unknown=", ".join(unknown),
                                  known=", ".join(sorted(KINDS))))
        return v

    @field_validator("forms")
    @classmethod
    def _forms(cls, v: dict) -> dict:
        unknown = [k for k in v if k not in KINDS and k not in SERVICE_FORMS]
        if unknown:
            raise ValueError(Text("unknown form(s) {unknown}; known: {known}", unknown=", ".join(unknown),
                                  known=", ".join(sorted([*KINDS, *SERVICE_FORMS]))))
        return v

    @field_validator("review_group")
    @classmethod
    def _group(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9]+", v):
            raise ValueError(Text("a YesWiki group name has only letters and digits"))
        return v

    def form_ids(self) -> dict[str, str]:
        """Kind -> this wiki's form id."""
        return {**DEFAULT_FORM_IDS, **{k: str(v) for k, v in self.forms.items() if k in KINDS}}

    def service_form_id(self, name: str) -> str:
        return str(self.forms.get(name) or SERVICE_FORMS[name].form_id)


class NextcloudConfig(_Strict):
    name: str
    url: str
    user: str
    app_password_env: str
    group: str
    # Optional: where the service publishes (DECISIONS §18). Names Nextcloud refuses are reported at run time
    # for this instance only, so the other instances keep syncing.
    addressbook: str = "oscartes"
    exports_folder: str = "OSCARTES/Donnees-ouvertes"
    articles_folder: str = "OSCARTES/Base-de-connaissances"
    calendar: str = "oscartes-agenda"  # the events' calendar, shared read-only with the group
    kit_folder: str = "OSCARTES/Kit-de-replication"  # the replication kit's archive, with a public link

    _n = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))
    _u = field_validator("url")(classmethod(lambda cls, v: _check_url(v)))


class ServeConfig(_Strict):
    """`oscartes-sync serve`, the webhook trigger (DECISIONS §17): behind the host's reverse proxy."""

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    settle_seconds: float = Field(1.0, ge=0, le=60)  # hooks of one burst are handled together after this pause


class Config(_Strict):
    store: StoreConfig = StoreConfig()
    sync: SyncConfig = SyncConfig()
    identity: IdentityConfig = IdentityConfig()
    export: ExportConfig = ExportConfig()
    publish: PublishConfig = PublishConfig()
    images: ImagesConfig = ImagesConfig()
    geocoding: GeocodingConfig = GeocodingConfig()
    calendar: CalendarConfig = CalendarConfig()
    serve: ServeConfig = ServeConfig()
    territory: TerritoryConfig = TerritoryConfig()
    review: ReviewConfig = ReviewConfig()
    wiki: list[WikiConfig] = Field(default_factory=list)
    nextcloud: list[NextcloudConfig] = Field(default_factory=list)
    base_dir: str = "."  # where relative paths (sqlite file, lock) are resolved: the config's folder

    @field_validator("wiki")
    @classmethod
    def _unique(cls, v: list[WikiConfig]) -> list[WikiConfig]:
        names = [w.name for w in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(Text("wiki names must be unique, repeated: {names}", names=", ".join(dupes)))
        return v

    def has_knowledge_base(self) -> bool:
        """Whether articles have a source (a local folder, or the knowledge-base folder of a Nextcloud): then
        `sync` publishes the knowledge-base index, even before the first article, and pages link to it."""
        return bool(self.publish.articles_dir or self.nextcloud)

    def path(self, p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() else Path(self.base_dir) / path

    _territory: territories.Territory | None = PrivateAttr(None)

    def local_territory(self) -> territories.Territory:
        """The territory's parameters (read once); TerritoryError when the file named by [territory] is bad."""
        if self._territory is None:
            self._territory = (territories.load(self.path(self.territory.params)) if self.territory.params
                               else territories.origin())
        return self._territory

    def store_url(self) -> str:
        url = self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
            return prefix + str(self.path(url[len(prefix):]).resolve())
        return url


def secret(env_name: str) -> str | None:
    """The value of a secret variable, or None when unset or empty."""
    value = os.environ.get(env_name, "")
    return value or None


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("OSCARTES_CONFIG") or DEFAULT_PATH)


def config_origin(explicit: str | None) -> str:
    """Where `config_path` took the path from, for the message of a missing file."""
    if explicit:
        return Text("given with --config")
    if os.environ.get("OSCARTES_CONFIG"):
        return Text("named by OSCARTES_CONFIG")
    return Text("the default; give --config PATH or set OSCARTES_CONFIG")


SECRETS_FILE_ENV = "OSCARTES_SECRETS_FILE"  # where the secrets file is, when it is not secrets.env beside the config


def permission_warnings(config_file: Path) -> list[str]:
    """Warnings for a config or secrets file that every user of the machine can read. The secrets file is the
    one OSCARTES_SECRETS_FILE names (the service units set it), else `secrets.env` beside the config."""
    named = os.environ.get(SECRETS_FILE_ENV)
    files = [(config_file, Text("it names the wikis and the variables that hold their secrets"), "640")]
    secrets_file = Path(named) if named else config_file.with_name("secrets.env")
    files.append((secrets_file, Text("it holds the tokens and passwords of every instance"), "600"))
    out = []
    for path, why, mode in files:
        try:
            st = path.stat()
        except OSError:
            continue
        if st.st_mode & stat.S_IROTH:
            out.append(Text("{path} is readable by every user of this machine (mode {mode}) and {why}: "
                            "chmod {wanted} {path}", path=str(path), mode=f"{stat.S_IMODE(st.st_mode):04o}",
                            why=why, wanted=mode))
    return out


def load_config(path: Path, origin: str | None = None, *, read_territory: bool = True) -> Config:
    """The config at `path`. `read_territory`: also read the territory's parameters file now (off only for
    `kit apply`, which writes that file)."""
    if not path.is_file():
        hint = origin or Text("give --config PATH or set OSCARTES_CONFIG")
        if path.is_dir():
            raise ConfigError(Text("{path}: is a folder, not a config file ({hint}; `oscartes-sync demo` needs "
                                   "none)", path=str(path), hint=hint))
        raise ConfigError(Text("{path}: config file not found ({hint}; `oscartes-sync demo` needs none)",
                               path=str(path), hint=hint))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(Text("{path}: not UTF-8 text", path=str(path))) from None
    except OSError as exc:
        raise ConfigError(Text("{path}: cannot be read ({reason})", path=str(path),
                               reason=exc.strerror or str(exc))) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(Text("{path}: invalid TOML: {reason}", path=str(path), reason=_toml_reason(str(exc)))) \
            from None
    if "base_dir" in data:  # internal: set from the file's location, never from the file
        raise ConfigError(_invalid(path, [Text("  {where}: {problem}", where="base_dir",
                                               problem=Text("unknown setting"))]))
    try:
        cfg = Config.model_validate({**data, "base_dir": str(path.resolve().parent)})
    except ValidationError as exc:
        raise ConfigError(_invalid(path, [Text("  {where}: {problem}", where=_where(err["loc"]),
                                               problem=_explain(err)) for err in exc.errors()])) from None
    try:
        if read_territory:
            cfg.local_territory()
    except territories.TerritoryError as exc:
        raise ConfigError(Text("{path}: [territory] params: {reason}", path=str(path), reason=message_of(exc))) \
            from None
    return cfg


# What the TOML parser says of the mistakes a person makes in a config file, in our words (its other messages are
# shown as it writes them); and where: "(at line 3, column 7)" or "(at end of document)".
_TOML = {
    "Expected '=' after a key in a key/value pair": N_("a key must be followed by '='"),
    "Expected ']' at the end of a table declaration": N_("a table name must end with ']'"),
    "Expected ']]' at the end of an array declaration": N_("a [[table]] name must end with ']]'"),
    "Invalid value": N_("invalid value"),
    "Invalid statement": N_("this line is neither a setting nor a [table]"),
    "Unclosed array": N_("a list opened with '[' is not closed"),
    "Unclosed inline table": N_("a table opened with '{' is not closed"),
    "Unterminated string": N_("a text opened with a quote is not closed"),
    "Invalid initial character for a key part": N_("a setting's name starts with a character it cannot have"),
    "Cannot overwrite a value": N_("this setting is given twice"),
    "Invalid date or datetime": N_("invalid date"),
}
_TOML_WHERE = re.compile(r"^(.*) \(at (?:line (\d+), column (\d+)|end of document)\)$")


def _toml_reason(message: str) -> str:
    m = _TOML_WHERE.match(message)
    what = m.group(1) if m else message
    if what not in _TOML:
        return message
    if m and m.group(2):
        return Text("{problem} (line {line}, column {column})", problem=Text(_TOML[what]), line=int(m.group(2)),
                    column=int(m.group(3)))
    if m:
        return Text("{problem} (at the end of the file)", problem=Text(_TOML[what]))
    return Text(_TOML[what])


def _invalid(path: Path, lines: list) -> Text:
    return Text("{path}: invalid config:\n{problems}", path=str(path), problems=join("\n", lines))


def _where(loc: tuple) -> str:
    """`wiki[1].url` for pydantic's ('wiki', 0, 'url'): 1-based, as a person counts the [[wiki]] tables."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The config model that holds the setting at `loc`, to list the settings it knows."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _explain(err: dict) -> str:
    kind, loc, msg = err["type"], err["loc"], err["msg"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = sorted(n for n in (model.model_fields if model else {}) if n != "base_dir")
        return (Text("unknown setting (known here: {known})", known=", ".join(known)) if known
                else Text("unknown setting"))
    if kind == "missing":
        return Text("missing: this setting is required")
    if kind == "list_type" and len(loc) == 1 and loc[0] in ("wiki", "nextcloud"):
        return Text("must be a list of tables: write [[{table}]] (double brackets), once per instance", table=loc[0])
    if kind == "model_type" and len(loc) == 1:
        return Text("must be a table: write [{table}]", table=loc[0])
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError) and ctx["error"].args:
        return ctx["error"].args[0]  # our validators' own message (a Text)
    if kind in _PYDANTIC:
        return Text(_PYDANTIC[kind], **{k: v for k, v in ctx.items() if isinstance(v, (str, int, float))})
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


# pydantic's messages for the mistakes a config file can hold, in our words (translated where shown)
_PYDANTIC = {
    "int_parsing": N_("must be a whole number"),
    "int_type": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "float_type": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "bool_type": N_("must be true or false"),
    "string_type": N_("must be a text between quotes"),
    "list_type": N_("must be a list, between [ ]"),
    "dict_type": N_("must be a table"),
    "model_type": N_("must be a table"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "too_short": N_("must not be empty"),
}
