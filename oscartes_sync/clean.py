"""Cleaning of field values by field type (DECISIONS §8).

Pure functions. `clean(field_type, value)` returns `Cleaned(value, problem)`: the canonical value (None when
empty or refused) and, when the value was refused, a short English reason that a run report can show next to
the record and the wiki. Cleaning a cleaned value gives the same value (idempotent), so a value that went
through one wiki and comes back is not seen as a change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

import nh3
import phonenumbers
from PIL import Image, UnidentifiedImageError

from . import normalise
from .text import Text


@dataclass(frozen=True)
class Cleaned:
    value: Any
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


EMPTY = Cleaned(None, None)

DEFAULT_LIMITS = {
    "text": 1000,
    "longtext": 100_000,
    "url": 2048,
    "email": 254,
    "hours": 1000,
    "key": 200,
}
# Above this many characters (before cleaning) a value is refused without parsing it: no wiki field of ours
# holds that much, and a 20 MB value must not cost a full sanitiser pass.
_RAW_FACTOR = 10
_RAW_SLACK = 10_000

# Tags kept in long texts (rendered by the wiki in HTML mode); links keep only safe schemes.
LONGTEXT_TAGS = {
    "p", "br", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "a", "h2", "h3", "h4", "blockquote",
    "code", "pre",
}
LONGTEXT_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ufeff]")
_CONTROL_ALL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ufeff]")


class _Refused(Exception):
    """A value that cannot be kept; the message is the report's reason."""


def _to_str(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Refused(Text("unexpected value type ({type})", type=type(value).__name__))
    return str(value)


def _drop_controls(s: str, keep_newlines: bool = False) -> str:
    """Remove control characters, U+FFFD (left by invalid UTF-8), lone surrogates and BOMs."""
    if keep_newlines:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
        return _CONTROL_RE.sub("", s)
    return _CONTROL_ALL_RE.sub(" ", s)


def _check_raw_length(s: str, limit: int) -> None:
    if len(s) > limit * _RAW_FACTOR + _RAW_SLACK:
        raise _Refused(Text("value too long ({length} characters, limit {limit})", length=len(s),
                            limit=limit))


def _check_length(s: str, limit: int) -> None:
    if len(s) > limit:
        raise _Refused(Text("value too long ({length} characters, limit {limit})", length=len(s),
                            limit=limit))


def _fixed_point(f: Callable[[str], str], s: str, what: str) -> str:
    # Unescaping can reveal new markup ("&lt;b&gt;"), so clean until nothing changes; a value that keeps
    # changing is nested on purpose and is refused rather than half-cleaned.
    for _ in range(8):
        nxt = f(s)
        if nxt == s:
            return s
        s = nxt
    raise _Refused(Text("{what} could not be cleaned (nested markup or entities)", what=what))


def _text_pass(s: str) -> str:
    s = nh3.clean(s, tags=set(), strip_comments=True)
    s = html.unescape(s)
    s = unicodedata.normalize("NFC", _drop_controls(s))
    return " ".join(s.split())


def _clean_text(value: Any, limit: int) -> Any:
    s = _to_str(value)
    _check_raw_length(s, limit)
    s = _fixed_point(_text_pass, _drop_controls(s), Text("text"))
    _check_length(s, limit)
    return s


_ACTION_RE = re.compile(r"\{(?=\{)")
_RAW_HTML_RE = re.compile(r'"(?=")')
_WIKI_LINK_SCHEME_RE = re.compile(r"(\[\[\s*)(?:javascript|vbscript|data|file)\s*:", re.IGNORECASE)


def _longtext_pass(s: str) -> str:
    s = nh3.clean(
        s,
        tags=LONGTEXT_TAGS,
        attributes=LONGTEXT_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
    # YesWiki actions ({{include page="X"}}, {{bazarliste ...}}) and raw-HTML blocks (""<iframe>"") would run
    # in the target wiki: break the opening delimiters so they show as text.
    s = _ACTION_RE.sub("{ ", s)
    s = _RAW_HTML_RE.sub('" ', s)
    s = _WIKI_LINK_SCHEME_RE.sub(r"\1", s)
    s = unicodedata.normalize("NFC", _drop_controls(s, keep_newlines=True))
    s = "\n".join(line.rstrip() for line in s.split("\n"))
    s = re.sub(r"\n{3,}", "\n\n", s)
    return s.strip()


def _clean_longtext(value: Any, limit: int) -> Any:
    s = _to_str(value)
    _check_raw_length(s, limit)
    s = _fixed_point(_longtext_pass, _drop_controls(s, keep_newlines=True), Text("long text"))
    _check_length(s, limit)
    return s


_DOMAIN_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}(?::\d{1,5})?$", re.IGNORECASE
)
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)


def _clean_url(value: Any, limit: int) -> Any:
    s = _to_str(value).strip()
    _check_length(s, limit)
    if not s:
        return None
    if any(c.isspace() for c in s) or _CONTROL_ALL_RE.search(s):
        raise _Refused(Text("URL contains spaces or control characters"))
    if s.startswith("//"):
        s = "https:" + s
    head = re.split(r"[/?#]", s, maxsplit=1)[0]
    if _DOMAIN_RE.match(head) and not s.lower().startswith("mailto:"):
        # A bare domain ("example.org/page", "www.asso.fr") is a web address.
        s = "https://" + s
    m = _SCHEME_RE.match(s)
    if not m:
        raise _Refused(Text("not a URL"))
    scheme = m.group(1).lower()
    if scheme not in URL_SCHEMES:
        raise _Refused(Text("{scheme}: URL refused", scheme=scheme))
    rest = s[m.end():]
    if scheme == "mailto":
        addr = rest.split("?", 1)[0]
        _clean_email(addr, DEFAULT_LIMITS["email"])
        return "mailto:" + rest
    if not rest.startswith("//"):
        raise _Refused(Text("URL without host"))
    after = rest[2:]
    host_end = len(after)
    for sep in "/?#":
        i = after.find(sep)
        if i != -1:
            host_end = min(host_end, i)
    host, tail = after[:host_end], after[host_end:]
    hostname = host.rsplit("@", 1)[-1]
    if "@" in host:
        raise _Refused(Text("URL with credentials refused"))
    if not (_DOMAIN_RE.match(hostname) or re.match(r"^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$", hostname)):
        raise _Refused(Text("URL without a valid host"))
    return f"{scheme}://{hostname.lower()}{tail}"


_EMAIL_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def _clean_email(value: Any, limit: int) -> Any:
    s = _to_str(value).strip()
    if s.lower().startswith("mailto:"):
        s = s[7:].strip()
    _check_length(s, limit)
    if not s:
        return None
    if s.count("@") != 1:
        raise _Refused(Text("invalid email address"))
    local, domain = s.split("@")
    if (not local or len(local) > 64 or not _EMAIL_LOCAL_RE.match(local) or local.startswith(".")
            or local.endswith(".") or ".." in local):
        raise _Refused(Text("invalid email address"))
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise _Refused(Text("invalid email domain")) from None
    if not _DOMAIN_RE.match(ascii_domain):
        raise _Refused(Text("invalid email domain"))
    return f"{local}@{domain}"


def _clean_phone(value: Any, limit: int | None) -> Any:
    s = _drop_controls(_to_str(value)).strip()
    if not s:
        return None
    e164 = normalise.phone(s)
    if e164 is None:
        raise _Refused(Text("invalid phone number"))
    return e164


def _clean_siret(value: Any, limit: int | None) -> Any:
    s = _to_str(value).strip()
    if not s:
        return None
    valid = normalise.siret(s)
    if valid is None:
        digits = re.sub(r"[\s.]", "", s)  # what stdnum ignores too
        raise _Refused(Text("invalid SIRET (wrong checksum)") if re.fullmatch(r"\d{14}", digits)
                       else Text("invalid SIRET (14 digits expected)"))
    return valid


def _clean_postcode(value: Any, limit: int | None) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        s = str(value).zfill(5)
    else:
        s = re.sub(r"\s+", "", _to_str(value))
    if not s:
        return None
    if not re.fullmatch(r"\d{5}", s):
        raise _Refused(Text("postcode must be 5 digits"))
    return s


def _clean_insee(value: Any, limit: int | None) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        s = str(value).zfill(5)
    else:
        s = _to_str(value).strip().upper()
    if not s:
        return None
    if not re.fullmatch(r"\d{5}|2[AB]\d{3}", s):
        raise _Refused(Text("INSEE code must be 5 characters (digits, or 2A/2B then 3 digits)"))
    return s


def _key_str(value: Any, limit: int) -> str:
    s = " ".join(_drop_controls(_to_str(value)).split())
    _check_length(s, limit)
    return s


def _clean_key(value: Any, limit: int) -> Any:
    if isinstance(value, (list, tuple)):
        items = [k for k in (_key_str(v, limit) for v in value if v not in (None, "")) if k]
        if not items:
            return None
        if len(set(items)) > 1:
            raise _Refused(Text("several values for a single-choice field"))
        value = items[0]
    s = _key_str(value, limit)
    if not s:
        return None
    if "," in s:
        raise _Refused(Text("several values for a single-choice field"))
    return s


def _split_keys(value: Any, limit: int) -> list[str]:
    if isinstance(value, dict):
        # YesWiki's key map form: {"k1": 1, "k2": "true"}
        items = [k for k, v in value.items() if v not in (0, "0", False, "false", None, "")]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = _to_str(value).split(",")
    keys = set()
    for item in items:
        if item in (None, ""):
            continue
        for part in _to_str(item).split(","):
            k = _key_str(part, limit)
            if k:
                keys.add(k)
    return sorted(keys)


def _clean_keys(value: Any, limit: int) -> Any:
    keys = _split_keys(value, limit)
    return keys or None


def _coordinate(value: Any, name: str, bound: float) -> Any:
    if isinstance(value, bool):
        raise _Refused(Text("{name} is not a number", name=name))
    if isinstance(value, (int, float)):
        x = float(value)
    else:
        s = _to_str(value).strip().replace(",", ".")
        if not s:
            return None
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", s, re.IGNORECASE):
            raise _Refused(Text("{name} is not a number", name=name))
        x = float(s)
    if not math.isfinite(x):
        raise _Refused(Text("{name} is not a finite number", name=name))
    if not -bound <= x <= bound:
        raise _Refused(Text("{name} out of range", name=name))
    x = round(x, 7)
    if x == 0:
        # YesWiki drops a point whose latitude or longitude is 0: it means "no point", not a value.
        return None
    return x


def _clean_lat(value: Any, limit: int | None) -> Any:
    return _coordinate(value, Text("latitude"), 90.0)


def _clean_lon(value: Any, limit: int | None) -> Any:
    return _coordinate(value, Text("longitude"), 180.0)


_FR_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _clean_date(value: Any, limit: int | None) -> Any:
    if isinstance(value, dt.datetime):
        d: dt.date | dt.datetime = value
    elif isinstance(value, dt.date):
        d = value
    else:
        s = _to_str(value).strip()
        if not s:
            return None
        m = _FR_DATE_RE.match(s)
        try:
            if m:
                d = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
                d = dt.date.fromisoformat(s)
            elif re.match(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", s):
                d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            else:
                raise ValueError
        except ValueError:
            raise _Refused(Text("not an ISO date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)")) from None
    if isinstance(d, dt.datetime):
        return d.isoformat(timespec="seconds")
    return d.isoformat()


_HOURS_TOKEN_RE = re.compile(
    r"""\s+|"[^"]*"|24/7|\d{1,2}:\d{2}|\d+|[-,;:+/\[\]()]|\|\||
    (?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH)\b|
    (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b|
    (?:off|closed|open|unknown|sunrise|sunset|dawn|dusk|week|easter|day|days)\b""",
    re.VERBOSE,
)
_HOURS_ANCHOR_RE = re.compile(r"24/7|\d{1,2}:\d{2}|\b(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH|off|closed)\b")


def _clean_hours(value: Any, limit: int) -> Any:
    s = " ".join(_drop_controls(_to_str(value)).split())
    if not s:
        return None
    _check_length(s, limit)
    # Light check, not a full opening_hours parser: only the syntax's tokens, and at least a time, a day or a
    # state. Free French text ("Lundi 9h-12h") is refused so the member can fix it.
    pos = 0
    while pos < len(s):
        m = _HOURS_TOKEN_RE.match(s, pos)
        if not m or m.end() == pos:
            raise _Refused(Text("opening hours not in OSM opening_hours syntax"))
        pos = m.end()
    if not _HOURS_ANCHOR_RE.search(re.sub(r'"[^"]*"', "", s)):
        raise _Refused(Text("opening hours not in OSM opening_hours syntax"))
    return s


def _clean_links(value: Any, limit: int) -> Any:
    return _clean_keys(value, limit)


# ---- files and images (DECISIONS §7) ------------------------------------------------------------------------
# An image field's canonical value is the content hash of its file, `sha256:<64 hex>`: the same picture is the
# same value in every wiki whatever its file name there. The bytes stay in the wikis (sync/files.py).

FILE_TYPES = frozenset({"image"})
# Pillow format -> (MIME type, file extension). SVG is refused: it is a document that can carry scripts.
IMAGE_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "GIF": ("image/gif", "gif"),
                 "WEBP": ("image/webp", "webp")}
_FILE_HASH_RE = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes of an accepted image are, told by the bytes themselves (never by the file name)."""

    mime: str
    extension: str
    width: int
    height: int


def file_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _clean_image(value: Any, limit: int | None) -> Any:
    s = _to_str(value).strip().lower()
    if not _FILE_HASH_RE.fullmatch(s):
        raise _Refused(Text("not an image reference (sha256:...)"))
    return s


def stored_file_name(value: Any) -> Cleaned:
    """A file name as a wiki stores it in an image field: one name, no folder, no control character."""
    if _is_empty(value):
        return EMPTY
    try:
        s = _to_str(value).strip()
    except _Refused as e:
        return Cleaned(None, e.args[0])
    if (len(s.encode("utf-8")) > 255 or "/" in s or "\\" in s or s in (".", "..") or _CONTROL_ALL_RE.search(s)
            or "." not in s.strip(".")):
        return Cleaned(None, Text("not a file name"))
    return Cleaned(s)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} kB"


def image_content(data: bytes, max_bytes: int) -> Cleaned:
    """`Cleaned(ImageInfo)` for the bytes of a PNG, JPEG, GIF or WebP picture of at most `max_bytes`, else the
    reason it is refused. `data` may hold one byte more than the limit (a download stopped there)."""
    if len(data) > max_bytes:
        return Cleaned(None, Text("image too large (more than {size}, the configured limit)",
                                   size=_size(max_bytes)))
    if not data:
        return Cleaned(None, Text("empty file"))
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "?"
            width, height = img.size
            if fmt not in IMAGE_FORMATS:
                return Cleaned(None, Text("image type {format} not accepted (PNG, JPEG, GIF or WebP)", format=fmt))
            img.verify()  # structure and checksums, without decoding every pixel
    except UnidentifiedImageError:
        return Cleaned(None, Text("not an image (the file holds no PNG, JPEG, GIF or WebP picture)"))
    except Exception:  # noqa: BLE001 - Pillow raises many types for damaged files, and bombs
        return Cleaned(None, Text("damaged image (it does not decode)"))
    mime, ext = IMAGE_FORMATS[fmt]
    return Cleaned(ImageInfo(mime, ext, width, height))


_CLEANERS: dict[str, Callable[[Any, Any], Any]] = {
    "text": _clean_text,
    "longtext": _clean_longtext,
    "url": _clean_url,
    "email": _clean_email,
    "phone": _clean_phone,
    "siret": _clean_siret,
    "postcode": _clean_postcode,
    "insee": _clean_insee,
    "key": _clean_key,
    "keys": _clean_keys,
    "lat": _clean_lat,
    "lon": _clean_lon,
    "date": _clean_date,
    "hours": _clean_hours,
    "links": _clean_links,
    "image": _clean_image,
}

FIELD_TYPES = frozenset(_CLEANERS)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes)):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


def clean(field_type: str, value: Any, *, max_length: int | None = None) -> Cleaned:
    """Canonical value of `value` for a field of `field_type`, or the reason it is refused."""
    try:
        cleaner = _CLEANERS[field_type]
    except KeyError:
        raise ValueError(f"unknown field type: {field_type!r}") from None
    if _is_empty(value):
        return EMPTY
    limit = max_length if max_length is not None else DEFAULT_LIMITS.get(field_type, 1000)
    try:
        out = cleaner(value, limit)
    except _Refused as e:
        return Cleaned(None, e.args[0])
    return Cleaned(out, None) if not _is_empty(out) else EMPTY


def format_coordinate(x: float) -> str:
    """Plain decimal string, no exponent: 48.6817 → "48.6817"."""
    s = f"{x:.7f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def to_wiki_string(field_type: str, canonical_value: Any) -> str:
    """The string a YesWiki form field expects for a canonical value (contract §3.5)."""
    if field_type not in _CLEANERS:
        raise ValueError(f"unknown field type: {field_type!r}")
    if canonical_value is None:
        return ""
    if field_type in ("keys", "links"):
        if isinstance(canonical_value, str):
            return canonical_value
        return ",".join(canonical_value)
    if field_type in ("lat", "lon"):
        return format_coordinate(float(canonical_value))
    if field_type == "phone":
        return display_phone(str(canonical_value))
    return str(canonical_value)


def display_phone(e164: str) -> str:
    """A stored phone (E.164) as a member reads it: French numbers in the national format (`01 69 10 20 30`),
    others in the international one (DECISIONS §23); cleaning reads both back to the same E.164."""
    try:
        num = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return e164
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if num.country_code == 33 else \
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(num, fmt)
