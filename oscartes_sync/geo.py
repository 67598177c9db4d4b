"""French communes: INSEE codes, postcodes, names, intercommunalities and points (data/communes-france.csv.gz).

Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0 (see data/SOURCES.md).

The packaged file holds every current commune of France; a territory (territory.py) is a set of them, and the
look-ups by name only ever search inside one territory: a name such as "Saint-Germain" is ambiguous across
France but not inside a department. The module-level functions answer for Essonne (department 91), the
territory of the two networks that run OSCARTES; the sync, the pages and the exports receive the configured
territory's `CommuneIndex` instead. Everything is loaded once, on first use.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .normalise import commune as name_key

DATA_FILE = Path(__file__).resolve().parent / "data" / "communes-france.csv.gz"
ATTRIBUTION = "Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0"
DEFAULT_DEPARTMENT = "91"


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    postcodes: tuple[str, ...]
    epci_name: str
    lat: float | None
    lon: float | None
    population: int | None
    department: str = ""
    department_name: str = ""
    epci_siren: str = ""

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


_COLUMNS = ("insee", "name", "department", "department_name", "epci_siren", "epci_name", "postcodes", "latitude",
            "longitude", "population")


@lru_cache(maxsize=1)
def _lines() -> tuple[str, tuple[str, ...]]:
    """The header and the data lines of the reference data, as text: a territory parses only its own lines."""
    lines = gzip.decompress(DATA_FILE.read_bytes()).decode("utf-8").splitlines()
    return lines[0], tuple(line for line in lines[1:] if line.strip())


def _rows(keep=lambda line: True) -> list[tuple[str, ...]]:
    header, lines = _lines()
    names = next(csv.reader([header]))
    at = [names.index(c) if c in names else None for c in _COLUMNS]
    rows = csv.reader(line for line in lines if keep(line))
    return [tuple(row[i].strip() if i is not None and i < len(row) else "" for i in at) for row in rows]


def _commune(row: tuple[str, ...]) -> Commune:
    insee, name, dep, dep_name, siren, epci, postcodes, lat, lon, population = row
    return Commune(insee=insee, name=name, postcodes=tuple(postcodes.split()), epci_name=epci, lat=_float(lat),
                   lon=_float(lon), population=_int(population), department=dep, department_name=dep_name,
                   epci_siren=siren)


def communes_where(*, department: str | None = None, epci_siren: str | None = None) -> list[Commune]:
    """The communes of one department or one intercommunality, in INSEE code order."""
    if department is not None:
        # an INSEE code starts with its department's code: only those lines are parsed
        rows = [r for r in _rows(lambda line: line.startswith(department)) if r[2] == department]
    else:
        rows = [r for r in _rows(lambda line: f",{epci_siren}," in line) if r[4] == epci_siren]
    return [_commune(r) for r in sorted(rows)]


def departments() -> list[str]:
    """Every department code of the reference data, sorted."""
    return sorted({row[2] for row in _rows()})


class CommuneIndex:
    """The communes of one territory and the look-ups the sync, pages and exports make in it."""

    def __init__(self, communes: Iterable[Commune]):
        self._by_insee: dict[str, Commune] = {}
        self._by_pc: dict[str, list[Commune]] = {}
        self._by_name: dict[str, list[Commune]] = {}
        for c in communes:
            self._by_insee[c.insee] = c
            for pc in c.postcodes:
                self._by_pc.setdefault(pc, []).append(c)
            self._by_name.setdefault(name_key(c.name), []).append(c)

    def __len__(self) -> int:
        return len(self._by_insee)

    def all_communes(self) -> list[Commune]:
        """Every commune, sorted by name."""
        return sorted(self._by_insee.values(), key=lambda c: (name_key(c.name), c.insee))

    def commune_by_insee(self, code: str | None) -> Commune | None:
        if not code:
            return None
        return self._by_insee.get(str(code).strip().upper())

    def communes_by_postcode(self, pc: str | None) -> list[Commune]:
        if not pc:
            return []
        return list(self._by_pc.get(str(pc).strip(), []))

    def commune_by_name(self, name: str | None, postcode: str | None = None) -> Commune | None:
        """The commune with that name; `postcode` settles homonyms. None when unknown or still ambiguous."""
        if not name:
            return None
        found = self._by_name.get(name_key(name), [])
        if postcode:
            pc = str(postcode).strip()
            with_pc = [c for c in found if pc in c.postcodes]
            if with_pc:
                found = with_pc
        return found[0] if len(found) == 1 else None

    def insee_of(self, name: str | None, postcode: str | None = None) -> str | None:
        """The INSEE code of the commune with that name (and postcode), None when unknown or ambiguous: the
        look-up the planner receives to fill the code that follows the commune."""
        found = self.commune_by_name(name, postcode)
        return found.insee if found else None

    def resolve(self, insee: str | None, name: str | None, postcode: str | None = None) -> Commune | None:
        """The commune a record names: by its INSEE code, else by its name (and postcode)."""
        return self.commune_by_insee(insee) or self.commune_by_name(name, postcode)


@lru_cache(maxsize=1)
def _essonne() -> CommuneIndex:
    return CommuneIndex(communes_where(department=DEFAULT_DEPARTMENT))


def all_communes() -> list[Commune]:
    """Every commune of Essonne, sorted by name."""
    return _essonne().all_communes()


def commune_by_insee(code: str | None) -> Commune | None:
    return _essonne().commune_by_insee(code)


def communes_by_postcode(pc: str | None) -> list[Commune]:
    return _essonne().communes_by_postcode(pc)


def commune_by_name(name: str | None, postcode: str | None = None) -> Commune | None:
    """The commune of Essonne with that name; `postcode` settles homonyms. None when unknown or ambiguous."""
    return _essonne().commune_by_name(name, postcode)


def insee_of(name: str | None, postcode: str | None = None) -> str | None:
    """The INSEE code of the commune of Essonne with that name (and postcode), None when unknown or ambiguous."""
    return _essonne().insee_of(name, postcode)


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


def address_of(fields: dict, street_fields: tuple[str, ...] = ("street",),
               communes: CommuneIndex | None = None) -> Address | None:
    """The address of a record's (or an entry's) values, None without a commune or a postcode to anchor it.
    `communes`: the territory whose look-ups fill the INSEE code (Essonne by default)."""
    communes = communes if communes is not None else _essonne()
    street = next((str(fields[f]).strip() for f in street_fields if fields.get(f)), "")
    commune = str(fields.get("commune") or "").strip()
    postcode = str(fields.get("postcode") or "").strip()
    citycode = str(fields.get("insee") or "").strip() or (communes.insee_of(commune, postcode) or "")
    if not (commune or postcode or citycode):
        return None
    if not commune and citycode:
        found = communes.commune_by_insee(citycode)
        commune = found.name if found else ""
    return Address(street, postcode, commune, citycode)


def commune_centre(address: Address, communes: CommuneIndex | None = None) -> Commune | None:
    """The commune of an address with a point in the reference data (the approximate place of last resort)."""
    communes = communes if communes is not None else _essonne()
    found = communes.resolve(address.citycode, address.commune, address.postcode or None)
    return found if found is not None and found.has_point else None


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h)))
