"""Communes of Essonne: INSEE codes, postcodes, names and points (data/communes_91.csv).

Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0 (see data/SOURCES.md).
Loaded once, on first use.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .normalise import commune as name_key

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


# ---- addresses to place on a map (issue 19: geocoding) ------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """What a geocoder is asked for one record: a street (or a place) and its commune."""

    street: str  # "12 rue de la Gare", or an event's place; "" when only the commune is known
    postcode: str
    commune: str
    citycode: str  # INSEE code of the commune, from the record or the reference data; "" if unknown

    @property
    def key(self) -> str:
        """Comparison key: the same address typed twice is looked up once."""
        words = " ".join(name_key(self.street).split())
        return "|".join((words, self.postcode, self.citycode or name_key(self.commune)))


def address_of(fields: dict, street_fields: tuple[str, ...] = ("street",)) -> Address | None:
    """The address of a record's (or an entry's) values, None without a commune or a postcode to anchor it."""
    street = next((str(fields[f]).strip() for f in street_fields if fields.get(f)), "")
    commune = str(fields.get("commune") or "").strip()
    postcode = str(fields.get("postcode") or "").strip()
    citycode = str(fields.get("insee") or "").strip() or (insee_of(commune, postcode) or "")
    if not (commune or postcode or citycode):
        return None
    if not commune and citycode:
        found = commune_by_insee(citycode)
        commune = found.name if found else ""
    return Address(street, postcode, commune, citycode)


def commune_centre(address: Address) -> Commune | None:
    """The commune of an address with a point in the reference data (the approximate place of last resort)."""
    found = commune_by_insee(address.citycode) or commune_by_name(address.commune, address.postcode or None)
    return found if found is not None and found.has_point else None


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h)))
