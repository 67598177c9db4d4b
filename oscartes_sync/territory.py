"""A territory's parameters: what makes one OSCARTES set-up local (PRODUCT.md §1 "another territory").

The parameters are its name and the texts that name it, the networks that run it, its communes (INSEE code,
name, postcodes, point, intercommunality, population) and the map view that shows them. Everything else of a
set-up (forms, lists, pages, documentation) is the same for every territory. They are built from a department
or an intercommunality code out of the packaged reference data of every French commune (geo.py), or read from
a parameters file (`territory.json`, written by `kit export` and `kit apply`, editable by hand).

A commune without coordinates (106 communes created in the latest COG have none) is kept: it is a real commune
where actors live, so it stays in the Bazar list, the dashboards and the INSEE look-up; it is only left out of
the map extent, with a note. A territory where no commune has coordinates cannot centre its map from the
reference data: that is an error unless a parameters file gives the map view.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from slugify import slugify

from . import geo
from .targets.wikiname import list_id_for
from .text import Text, join

PARAMS_FORMAT = "oscartes-territory"
PARAMS_VERSION = 1  # bumped when a reader of version N cannot read the file any more
ORIGIN_FILE = Path(__file__).resolve().parent / "data" / "territory-origin.json"
OTHER_NETWORK = ("autre", "Autre réseau")  # always offered after the territory's networks
NETWORKS_LIST_ID, NETWORKS_LIST_TITLE = "ListeReseaux", "Réseaux"
# The view is fitted to a map of this size (the map pages are 600 px high; 800 px is a narrow page), with a
# margin, and never closer than a town's scale.
MAP_WIDTH_PX, MAP_HEIGHT_PX, MAP_MARGIN = 800, 600, 0.9
MAX_ZOOM, MIN_ZOOM = 12, 2
OSCARTES_NAME = "OSCARTES (« Outils et Services Coopératifs des Acteurs Régionaux pour la Transition Écologique et " \
                "Sociale »)"


class TerritoryError(Exception):
    """Parameters that cannot be built or read; the message says what to change."""


@dataclass(frozen=True)
class Network:
    key: str
    label: str
    area: str = ""  # where it works, e.g. "nord-ouest de l'Essonne"


@dataclass(frozen=True)
class MapView:
    lat: float
    lon: float
    zoom: int

    def params(self) -> tuple[str, str, str]:
        """lat, lon, zoom as the {{bazarliste}} action takes them."""
        return f"{self.lat:.2f}", f"{self.lon:.2f}", str(self.zoom)


@dataclass(frozen=True)
class Territory:
    name: str
    title: str  # the heading of the home page and the banner
    presentation: str  # the first paragraph of the home page
    networks: tuple[Network, ...]
    communes_list_title: str  # the Bazar list of communes; YesWiki derives its id from it
    map: MapView
    communes: tuple[geo.Commune, ...]
    scope: dict[str, str] = field(default_factory=dict)  # {"department": "69"} or {"epci": "200046977"}
    source: str = geo.ATTRIBUTION
    notes: tuple[str, ...] = ()  # what a person should know about these parameters (not saved)

    @cached_property
    def index(self) -> geo.CommuneIndex:
        return geo.CommuneIndex(self.communes)

    def insee_of(self, name: Any, postcode: Any = None) -> str | None:
        return self.index.insee_of(name, postcode)

    @property
    def communes_list_id(self) -> str:
        return list_id_for(self.communes_list_title)

    def communes_list(self) -> dict:
        """The Bazar list of communes: key = INSEE code, label = official name (sorted by name)."""
        return {"titre": self.communes_list_title, "values": {c.insee: c.name for c in self.index.all_communes()}}

    def networks_list(self) -> dict:
        """The Bazar list of networks: the territory's, then "Autre réseau"."""
        values = {n.key: n.label for n in self.networks}
        values[OTHER_NETWORK[0]] = OTHER_NETWORK[1]
        return {"titre": NETWORKS_LIST_TITLE, "values": values}

    def lists(self) -> dict[str, dict]:
        """The Bazar lists these parameters make."""
        return {NETWORKS_LIST_ID: self.networks_list(), self.communes_list_id: self.communes_list()}

    def without_point(self) -> list[geo.Commune]:
        return [c for c in self.communes if not c.has_point]

    def to_json(self) -> str:
        """The parameters file: the same parameters give the same bytes."""
        data = {
            "format": PARAMS_FORMAT,
            "format_version": PARAMS_VERSION,
            "name": self.name,
            "scope": dict(sorted(self.scope.items())),
            "title": self.title,
            "presentation": self.presentation,
            "networks": [{"key": n.key, "label": n.label, "area": n.area} for n in self.networks],
            "communes_list": self.communes_list_title,
            "map": {"lat": self.map.lat, "lon": self.map.lon, "zoom": self.map.zoom},
            "source": self.source,
            "communes": [_commune_json(c) for c in sorted(self.communes, key=lambda c: c.insee)],
        }
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _commune_json(c: geo.Commune) -> dict[str, Any]:
    return {"insee": c.insee, "name": c.name, "postcodes": list(c.postcodes), "lat": c.lat, "lon": c.lon,
            "department": c.department, "epci_siren": c.epci_siren, "epci_name": c.epci_name,
            "population": c.population}


# ---------------------------------------------------------------------------------------------- the map view

def _mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def view_of(communes: tuple[geo.Commune, ...] | list[geo.Commune], what: str) -> MapView:
    # `what` names the territory in a message: a Text ("department 69") or a file's path
    """The map view that shows every commune that has a point: the centre of their extent, and the closest
    zoom at which that extent fits the map."""
    points = [(c.lat, c.lon) for c in communes if c.has_point]
    if not points:
        raise TerritoryError(Text("no commune of {what} has coordinates in the reference data, so its map cannot be "
                                  "centred: write a parameters file with a \"map\" (lat, lon, zoom) and give it "
                                  "with --params", what=what))
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    y_min, y_max = _mercator_y(min(lats)), _mercator_y(max(lats))
    lat = math.degrees(2 * math.atan(math.exp((y_min + y_max) / 2)) - math.pi / 2)
    lon = (min(lons) + max(lons)) / 2
    fits = [MAX_ZOOM]
    if max(lons) > min(lons):
        fits.append(math.log2(MAP_WIDTH_PX * MAP_MARGIN * 360 / (256 * (max(lons) - min(lons)))))
    if y_max > y_min:
        fits.append(math.log2(MAP_HEIGHT_PX * MAP_MARGIN * 2 * math.pi / (256 * (y_max - y_min))))
    zoom = max(MIN_ZOOM, min(MAX_ZOOM, math.floor(min(fits))))
    return MapView(round(lat, 2), round(lon, 2), zoom)


# ---------------------------------------------------------------------------------------------- from a code

def _department_code(code: str) -> str:
    c = str(code).strip().upper()
    return c.zfill(2) if c.isdigit() and len(c) < 2 else c


def _networks(labels: tuple[str, ...] | list[str]) -> tuple[Network, ...]:
    out: list[Network] = []
    taken = {OTHER_NETWORK[0]}
    for label in labels:
        label = " ".join(str(label).split())
        if not label:
            raise TerritoryError(Text("a network needs a name (--network \"Nom du réseau\")"))
        base = slugify(label)[:30].strip("-") or "reseau"
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}-{n}"
        taken.add(key)
        out.append(Network(key, label))
    return tuple(out)


def _new_territory(name: str, code: str, communes: list[geo.Commune], scope: dict[str, str],
                   networks: tuple[Network, ...], what: str) -> Territory:
    view = view_of(communes, what)
    missing = [c for c in communes if not c.has_point]
    notes = tuple(Text("{commune} ({insee}) has no coordinates in the reference data: it is in the list of "
                       "communes and the dashboards, but not in the map extent, and its own map is centred on the "
                       "territory", commune=c.name, insee=c.insee) for c in missing)
    presentation = (f"Ce wiki recense les acteurs de la transition écologique et sociale du territoire « {name} ». "
                    f"Il s'appuie sur {OSCARTES_NAME}, un commun créé par PôleS NOE et Territoires en Liens en "
                    "Essonne et publié sous licence CC BY-SA 4.0 : formulaires, listes, cartes et documentation.")
    return Territory(name=name, title=f"Les acteurs de la transition : {name}", presentation=presentation,
                     networks=networks, communes_list_title=f"Communes {code}", map=view,
                     communes=tuple(sorted(communes, key=lambda c: c.insee)), scope=scope, notes=notes)


def from_department(code: str, networks: tuple[str, ...] | list[str] = ()) -> Territory:
    """The territory of one department (`69`, `2A`, `974`), named after it."""
    dep = _department_code(code)
    communes = geo.communes_where(department=dep)
    if not communes:
        known = geo.departments()
        raise TerritoryError(Text("unknown department code '{code}': the reference data knows {first} to {last} "
                                  "(2A and 2B for Corsica, 971 to 989 overseas)", code=str(code).strip(),
                                  first=known[0], last=known[-1]))
    name = communes[0].department_name or dep
    return _new_territory(name, dep, communes, {"department": dep}, _networks(networks),
                          Text("department {code}", code=dep))


def from_epci(code: str, networks: tuple[str, ...] | list[str] = ()) -> Territory:
    """The territory of one intercommunality, from its SIREN (`200046977`), named after it."""
    siren = str(code).strip()
    if not (siren.isdigit() and len(siren) == 9):
        raise TerritoryError(Text("'{code}' is not an intercommunality code: give its SIREN, 9 digits (e.g. "
                                  "200056232 for the Communauté Paris-Saclay)", code=siren))
    communes = geo.communes_where(epci_siren=siren)
    if not communes:
        raise TerritoryError(Text("unknown intercommunality {code}: no commune of the reference data belongs to it",
                                  code=siren))
    return _new_territory(communes[0].epci_name or siren, siren, communes, {"epci": siren}, _networks(networks),
                          Text("intercommunality {code}", code=siren))


@lru_cache(maxsize=1)
def origin() -> Territory:
    """Essonne as the two networks that run OSCARTES set it up: the default territory."""
    data = json.loads(ORIGIN_FILE.read_text(encoding="utf-8"))
    base = from_department(data["department"])
    view = data.get("map")
    return Territory(name=data["name"], title=data["title"], presentation=data["presentation"],
                     networks=tuple(Network(**n) for n in data["networks"]),
                     communes_list_title=base.communes_list_title,
                     map=MapView(**view) if view else base.map, communes=base.communes, scope=base.scope,
                     notes=base.notes)


# ---------------------------------------------------------------------------------------------- the file

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _repeated(values) -> list[str]:
    seen, twice = set(), set()
    for v in values:
        (twice if v in seen else seen).add(v)
    return sorted(twice)


class _NetworkIn(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    label: str = Field(min_length=1, max_length=120)
    area: str = ""


class _CommuneIn(_Strict):
    insee: str = Field(pattern=r"^(\d{5}|2[AB]\d{3})$")
    name: str = Field(min_length=1)
    postcodes: list[str] = []
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    department: str = ""
    epci_siren: str = ""
    epci_name: str = ""
    population: int | None = Field(None, ge=0)

    @field_validator("postcodes")
    @classmethod
    def _postcodes(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if not (isinstance(p, str) and len(p) == 5 and p.isdigit())]
        if bad:
            raise ValueError(Text("a postcode is 5 digits: {values}", values=", ".join(map(str, bad))))
        return v

    @model_validator(mode="after")
    def _point(self) -> "_CommuneIn":
        if (self.lat is None) != (self.lon is None):
            raise ValueError(Text("give both lat and lon, or neither (a commune without coordinates)"))
        return self


class _MapIn(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    zoom: int = Field(ge=1, le=18)


class _ParamsIn(_Strict):
    format: str
    format_version: int
    name: str = Field(min_length=1)
    scope: dict[str, str] = {}
    title: str = Field(min_length=1)
    presentation: str = Field(min_length=1)
    networks: list[_NetworkIn] = []
    communes_list: str = Field(min_length=1)
    map: _MapIn | None = None  # computed from the communes' extent when absent
    source: str = geo.ATTRIBUTION
    communes: list[_CommuneIn] = Field(min_length=1)

    @field_validator("networks")
    @classmethod
    def _unique_networks(cls, v: list[_NetworkIn]) -> list[_NetworkIn]:
        if OTHER_NETWORK[0] in {n.key for n in v}:
            raise ValueError(Text("the key '{key}' is kept for \"{label}\", which every set-up has",
                                  key=OTHER_NETWORK[0], label=OTHER_NETWORK[1]))
        if twice := _repeated(n.key for n in v):
            raise ValueError(Text("network keys must be unique, repeated: {keys}", keys=", ".join(twice)))
        return v

    @field_validator("communes")
    @classmethod
    def _unique_communes(cls, v: list[_CommuneIn]) -> list[_CommuneIn]:
        if twice := _repeated(c.insee for c in v):
            raise ValueError(Text("a commune appears twice: {codes}", codes=", ".join(twice[:5])))
        return v

    @field_validator("communes_list")
    @classmethod
    def _list_title(cls, v: str) -> str:
        if list_id_for(v) == list_id_for(""):
            raise ValueError(Text("'{title}' does not make a YesWiki list id: use letters or digits", title=v))
        if len("Liste " + v) > 47:
            raise ValueError(Text("at most 41 characters: YesWiki cuts longer list titles when it makes the list "
                                  "id"))
        return v


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part + 1}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or Text("(top level)")


def _problem(err: dict) -> str:
    """Our validators' own message (a Text), else pydantic's words."""
    error = (err.get("ctx") or {}).get("error")
    if err["type"] == "value_error" and isinstance(error, ValueError) and error.args:
        return error.args[0]
    return err["msg"]


def load(path: Path) -> Territory:
    """The parameters of a `territory.json`; TerritoryError says what is wrong, with the file and the place."""
    if not path.is_file():
        raise TerritoryError(Text("{path}: parameters file not found", path=str(path)))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise TerritoryError(Text("{path}: not UTF-8 text", path=str(path))) from None
    except json.JSONDecodeError as exc:
        raise TerritoryError(Text("{path}: not JSON (line {line}: {reason})", path=str(path), line=exc.lineno,
                                  reason=exc.msg)) from None
    return from_params(data, str(path))


def from_params(data: Any, where: str) -> Territory:
    if not isinstance(data, dict) or data.get("format") != PARAMS_FORMAT:
        raise TerritoryError(Text("{where}: not a territory parameters file (\"format\": \"{format}\" missing)",
                                  where=where, format=PARAMS_FORMAT))
    version = data.get("format_version")
    if isinstance(version, int) and version > PARAMS_VERSION:
        raise TerritoryError(Text("{where}: parameters of format version {version}, newer than this oscartes-sync "
                                  "reads ({ours}): upgrade oscartes-sync", where=where, version=version,
                                  ours=PARAMS_VERSION))
    try:
        p = _ParamsIn.model_validate(data)
    except ValidationError as exc:
        lines = [Text("  {where}: {problem}", where=_where(e["loc"]), problem=_problem(e)) for e in exc.errors()[:10]]
        raise TerritoryError(Text("{where}: invalid parameters:\n{problems}", where=where,
                                  problems=join("\n", lines))) from None
    communes = tuple(geo.Commune(c.insee, " ".join(c.name.split()), tuple(c.postcodes), c.epci_name, c.lat, c.lon,
                                 c.population, c.department, "", c.epci_siren) for c in p.communes)
    view = MapView(p.map.lat, p.map.lon, p.map.zoom) if p.map else view_of(communes, Text("file {path}", path=where))
    notes = tuple(Text("{commune} ({insee}) has no coordinates: it is not in the map extent, and its own map is "
                       "centred on the territory", commune=c.name, insee=c.insee) for c in communes if not c.has_point)
    return Territory(name=p.name, title=p.title, presentation=p.presentation,
                     networks=tuple(Network(n.key, n.label, n.area) for n in p.networks),
                     communes_list_title=p.communes_list, map=view, communes=communes, scope=dict(p.scope),
                     source=p.source, notes=notes)


__all__ = ["Territory", "TerritoryError", "Network", "MapView", "from_department", "from_epci", "origin", "load",
           "from_params", "view_of"]
