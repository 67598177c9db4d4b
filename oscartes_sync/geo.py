"""Communes of Essonne: INSEE codes, postcodes, names and points (data/communes_91.csv).

Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0 (see data/SOURCES.md).
Loaded once, on first use.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "communes_91.csv"
ATTRIBUTION = "Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0"


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    postcodes: tuple[str, ...]
    epci_name: str
    lat: float | None
    lon: float | None
    population: int | None

    @property
    def postcode(self) -> str:
        """Main (first) postcode."""
        return self.postcodes[0] if self.postcodes else ""

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "s": "sur"}
_LEADING_ARTICLES = {"le", "la", "les", "l"}


def name_key(name: str) -> str:
    """Comparison key of a commune name: no case, accents, hyphens, apostrophes or leading article.

    "St-Michel-sur-Orge", "saint michel sur orge" and "Saint-Michel-sur-Orge" share one key;
    "Ulis" and "Les Ulis" too.
    """
    s = unicodedata.normalize("NFKD", name or "")
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = s.replace("œ", "oe").replace("æ", "ae")
    words = re.sub(r"[^a-z0-9]+", " ", s).split()
    if words and words[0] in _LEADING_ARTICLES:
        words = words[1:]
    # "s/" as in "Villebon s/ Yvette" only makes sense between words, not at the start.
    words = [w if i == 0 and w == "s" else _ABBREVIATIONS.get(w, w) for i, w in enumerate(words)]
    return " ".join(words)


def _float(s: str) -> float | None:
    s = (s or "").strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _int(s: str) -> int | None:
    s = (s or "").strip()
    return int(s) if s.isdigit() else None


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Commune], dict[str, list[Commune]], dict[str, list[Commune]]]:
    by_insee: dict[str, Commune] = {}
    by_pc: dict[str, list[Commune]] = {}
    by_name: dict[str, list[Commune]] = {}
    with DATA_FILE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            c = Commune(
                insee=row["insee"].strip(),
                name=row["name"].strip(),
                postcodes=tuple(row["postcodes"].split()),
                epci_name=row.get("epci_name", "").strip(),
                lat=_float(row.get("latitude", "")),
                lon=_float(row.get("longitude", "")),
                population=_int(row.get("population", "")),
            )
            by_insee[c.insee] = c
            for pc in c.postcodes:
                by_pc.setdefault(pc, []).append(c)
            by_name.setdefault(name_key(c.name), []).append(c)
    return by_insee, by_pc, by_name


def all_communes() -> list[Commune]:
    """Every commune, sorted by name."""
    return sorted(_index()[0].values(), key=lambda c: (name_key(c.name), c.insee))


def commune_by_insee(code: str | None) -> Commune | None:
    if not code:
        return None
    return _index()[0].get(str(code).strip().upper())


def communes_by_postcode(pc: str | None) -> list[Commune]:
    if not pc:
        return []
    return list(_index()[1].get(str(pc).strip(), []))


def commune_by_name(name: str | None, postcode: str | None = None) -> Commune | None:
    """The commune with that name; `postcode` settles homonyms. None when unknown or still ambiguous."""
    if not name:
        return None
    found = _index()[2].get(name_key(name), [])
    if postcode:
        pc = str(postcode).strip()
        with_pc = [c for c in found if pc in c.postcodes]
        if with_pc:
            found = with_pc
    return found[0] if len(found) == 1 else None


def insee_of(name: str | None, postcode: str | None = None) -> str | None:
    """The INSEE code of the commune with that name (and postcode), None when unknown or ambiguous: the
    look-up the planner receives to fill the code that follows the commune."""
    found = commune_by_name(name, postcode)
    return found.insee if found else None
