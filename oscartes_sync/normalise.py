"""How two values are compared: one rule per kind of value, and the only place each rule lives.

The matcher (identity), the twin rules (twins), cleaning (clean), the commune look-up (geo) and the record
look-up (coordinator) all call these. A comparison key is never shown to anyone: what a wiki shows is the
value as a member typed it, and the store keeps the canonical value that cleaning makes (DECISIONS §23).

- names: case, accents, punctuation, legal-form words (association, asso, SCIC, SAS…), articles, a few
  abbreviations (St, Cie…); `title` for equality, `title_words` for fuzzy scores;
- SIRET and SIREN: checksums (python-stdnum), the SIREN of a SIRET;
- phones: E.164 (phonenumbers), French numbers read in the national format too;
- emails: case; website URLs: scheme, `www.`, trailing slash; a site's own domain;
- street addresses: case, accents, punctuation, usual abbreviations (r., av., bd…);
- communes: case, accents, hyphens, leading article, St/Ste/s/ (the commune → INSEE look-up over the packaged
  reference data is `geo.insee_of`, which indexes the communes by this key).

Pure: no I/O.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Any

import phonenumbers
from stdnum import exceptions as stdnum_exceptions
from stdnum.fr import siret as stdnum_siret

# ---- words ---------------------------------------------------------------------------------------------------

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "&": " et "})
_NOT_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=65536)
def fold(s: str | None) -> str:
    """Lower-case ASCII words separated by one space: "L’Arbre à Palabres !" → "l arbre a palabres"."""
    s = unicodedata.normalize("NFKD", html.unescape(str(s or "")).translate(_LIGATURES))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    return " ".join(_NOT_WORD.sub(" ", s).split())


def words(s: str | None) -> list[str]:
    return fold(s).split()


# ---- organisation names ------------------------------------------------------------------------------------------

# Words that say what kind of organisation it is, not which one.
LEGAL_FORM_WORDS = frozenset({
    "association", "associations", "asso", "assoc", "asbl", "aisbl",
    "scic", "scop", "sarl", "sas", "sasu", "eurl", "sapo", "gie", "eirl", "scea", "gaec", "earl",
})
ARTICLES = frozenset({"l", "le", "la", "les"})
# Only dropped right after a legal-form word: "Association des Jardins de Massy" → "jardins de massy".
LINK_WORDS = frozenset({"de", "des", "du", "d"})
# Words that carry nothing of who an actor is: left out of fuzzy scores.
FILLER_WORDS = frozenset("a au aux d de des du en et l la le les sur sous un une pour par".split())
NAME_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "cie": "compagnie", "coop": "cooperative",
                      "cooperatives": "cooperative", "univ": "universite", "ctre": "centre"}


def _name_words(s: str | None) -> list[str]:
    out = [NAME_ABBREVIATIONS.get(w, w) for w in words(s)]
    # "association loi 1901": the law's year is not part of the name
    return [w for i, w in enumerate(out) if not (w == "loi" and out[i + 1:i + 2] == ["1901"])
            and not (w == "1901" and out[i - 1:i] == ["loi"] and i > 0)]


@lru_cache(maxsize=65536)
def title(s: str | None) -> str:
    """Comparison form of an organisation's name, for equality.

    "Association Les Jardins de Massy", "Jardins de Massy (asso)" and "LES JARDINS DE MASSY" all give
    "jardins de massy". A name made only of such words keeps them ("Association" → "association").
    """
    ws = _name_words(s)
    original = list(ws)
    i, after_legal = 0, False
    while i < len(ws):  # leading legal-form words and articles, and the "de/des/du" after a legal-form word
        w = ws[i]
        if w in LEGAL_FORM_WORDS:
            after_legal = True
        elif not (w in ARTICLES or (after_legal and w in LINK_WORDS)):
            break
        i += 1
    ws = ws[i:]
    while ws and ws[-1] in LEGAL_FORM_WORDS:
        ws.pop()
    return " ".join(ws or original)


_PLURAL = re.compile(r"(?<=[a-z]{3})[sx]$")


def singular(word: str) -> str:
    """A word without its plural mark, roughly: "jardins" → "jardin", "reseaux" → "reseau"."""
    return _PLURAL.sub("", word)


def title_words(s: str | None, leave_out: frozenset[str] = frozenset()) -> list[str]:
    """The words of a name that say which actor it is, for fuzzy scores, in the singular ("Jardins partagés"
    and "Jardin partagé" are one name to a person): no legal-form word, article or filler anywhere, nor any
    word of `leave_out` (the words of the actor's own commune, say). Never empty when the name has words."""
    ws = [singular(w) for w in title(s).split()]
    out = {singular(w) for w in leave_out}
    kept = [w for w in ws if w not in LEGAL_FORM_WORDS and w not in FILLER_WORDS and w not in out]
    return kept or ws


def numbers(s: str | None) -> tuple[str, ...]:
    """The numbers in a name: "Jardin partagé 1" and "Jardin partagé 2" are two gardens."""
    return tuple(sorted(w for w in _name_words(s) if w.isdigit()))


# ---- communes and streets ----------------------------------------------------------------------------------------

_COMMUNE_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "s": "sur"}


@lru_cache(maxsize=8192)
def commune(name: str | None) -> str:
    """Comparison key of a commune name: no case, accents, hyphens, apostrophes or leading article.

    "St-Michel-sur-Orge", "saint michel sur orge" and "Saint-Michel-sur-Orge" share one key; "Ulis" and
    "Les Ulis" too; "s/" as in "Villebon s/ Yvette" reads "sur" between words.
    """
    ws = words(name)
    if ws and ws[0] in ARTICLES:
        ws = ws[1:]
    return " ".join(w if i == 0 and w == "s" else _COMMUNE_ABBREVIATIONS.get(w, w) for i, w in enumerate(ws))


_STREET_WORDS = {"r": "rue", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
                 "pl": "place", "ch": "chemin", "all": "allee", "rte": "route", "imp": "impasse", "st": "saint",
                 "ste": "sainte", "fg": "faubourg", "sq": "square", "qu": "quai", "gal": "general",
                 "bis": "b", "ter": "t"}


def street(v: Any) -> str:
    """"12, r. de la République" and "12 RUE DE LA REPUBLIQUE" are one address."""
    return " ".join(_STREET_WORDS.get(w, w) for w in words(v))


# ---- numbers that name an organisation -----------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _valid_siret(s: str) -> str | None:
    try:
        return stdnum_siret.validate(s)
    except stdnum_exceptions.ValidationError:
        return None


def siret(v: Any) -> str | None:
    """The 14 digits of a valid SIRET (spaces and dots allowed), else None."""
    return None if v is None else _valid_siret(str(v))


def siren(v: Any) -> str | None:
    """The SIREN (the organisation, 9 digits) of a valid SIRET (one of its establishments), else None."""
    s = siret(v)
    return stdnum_siret.to_siren(s) if s else None


# ---- contacts ----------------------------------------------------------------------------------------------------


def phone(v: Any) -> str | None:
    """A valid phone number in E.164 ("+33169102030"), read as French when it has no country code; else None."""
    s = str(v or "").strip()
    if not s or len(s) > 64:
        return None
    try:
        num = phonenumbers.parse(s, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def email(v: Any) -> str:
    """An email address without case or `mailto:`."""
    s = str(v or "").strip()
    return (s[7:] if s.lower().startswith("mailto:") else s).strip().casefold()


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def url(v: Any) -> str:
    """A web address without scheme, `www.`, host case or trailing slash: "https://www.Asso.fr/" → "asso.fr"."""
    s = _SCHEME.sub("", str(v or "").strip())
    s = re.sub(r"^www\.", "", s, flags=re.I)
    host, _, rest = s.partition("/")
    return (host.lower() + ("/" + rest if rest else "")).rstrip("/")


# Hosts on which many organisations have a page: there the page, not the host, names the actor.
SHARED_HOSTS = frozenset({
    "facebook.com", "fr-fr.facebook.com", "m.facebook.com", "instagram.com", "linkedin.com", "fr.linkedin.com",
    "twitter.com", "x.com", "youtube.com", "helloasso.com", "sites.google.com", "google.com", "linktr.ee",
    "journal-officiel.gouv.fr", "annuaire-entreprises.data.gouv.fr", "pagesjaunes.fr", "wixsite.com",
})


def website(v: Any) -> str | None:
    """What names an actor in its web address: its own domain ("asso.fr" for "https://www.asso.fr/agenda"), or
    the page on a host many share ("facebook.com/jardins.yvette"); None when empty."""
    key = url(v)
    if not key:
        return None
    host, _, rest = key.partition("/")
    host = host.split(":", 1)[0]
    if host in SHARED_HOSTS or any(host.endswith("." + h) for h in SHARED_HOSTS):
        first = rest.split("/", 1)[0].split("?", 1)[0].lower()
        return f"{host}/{first}" if first else None
    return host


# ---- plain text --------------------------------------------------------------------------------------------------


def text(v: Any) -> str:
    """A text without case, HTML entities or extra whitespace."""
    return " ".join(html.unescape(str(v)).split()).casefold()


def longtext(v: Any) -> str:
    """A long text without markup, case, entities or extra whitespace."""
    return text(re.sub(r"<[^>]+>", " ", str(v)))


# ---- one field of a record ---------------------------------------------------------------------------------------

_BY_FIELD = {"name": title, "commune": commune, "street": street}
_BY_TYPE = {"text": text, "longtext": longtext, "email": email, "url": url, "siret": siret, "phone": phone}


def field_key(field: str, field_type: str, value: Any) -> Any:
    """The form of a field's value under which two values are the same (a name by `title`, a commune by
    `commune`, a street by `street`, then by the field's type); other values compare as they are."""
    rule = _BY_FIELD.get(field) or _BY_TYPE.get(field_type)
    key = rule(value) if rule and value is not None else None
    return value if key in (None, "") else key  # a value no rule reads is only equal to itself
