"""Placing records from their address (issue 19): the step between reading and planning.

Where it happens, and why there: the planner is pure, so it cannot call a geocoder; but which address a record
ends up with is only known once the planner has merged the wikis' edits. So, after the listings are read, this
step collects the addresses that lack a point (in the listed entries, and in the records), finds a point for
each one it has not met before, and hands the planner a look-up table (`PlanInput.place_of`). The planner
places a record whose merged address is in the table and whose merged values have no point; an address first
met in a merge that is in no entry yet is placed on the next run, once the record holds it.

What becomes of the point: it is a change of the record by the service (a `PlaceRecord` action, origin
"geocoder" in the record's history), written to every wiki with the rest, so the entry appears on the wikis'
maps, in the exports and in the address book, and a member sees in the entry's history who placed it. A point
the service placed moves when the address changes; a point a member placed is never moved (`PlanInput.placed`).

Cost (DECISIONS §13-14): every answer is kept in the store (`geocoder/cache`, by normalised address), refusals
included, so an address is looked up once; a quiet run has no address without a point, and sends nothing.
Requests are spaced (`requests_per_second`) and capped per run (`max_per_run`); an unreachable geocoder places
nothing and leaves the addresses for the next run. The centre of the commune (reference data) stands in, marked
approximate, when the geocoder cannot place the address or when there is no street.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import geo
from ..records import KINDS
from ..targets.base import TargetError
from ..text import Text, restored, stored
from .model import GeoPoint, Listing, Notice, Values

CACHE_KEY = "geocoder/cache"
PLACED_KEY = "geocoder/placed"


@dataclass
class Settings:
    min_score: float = 0.5
    max_per_run: int = 200


@dataclass
class Placements:
    """What the planner receives: address key -> point, and the points the service placed itself."""

    kind: str
    points: dict[str, GeoPoint] = field(default_factory=dict)
    placed: dict[str, tuple[float, float]] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)  # placed by the service for an address the record no longer has
    notices: list[Notice] = field(default_factory=list)
    communes: geo.CommuneIndex | None = None  # the territory's (Essonne by default)

    def place_of(self, values: Values) -> GeoPoint | None:
        address = _address(self.kind, values, self.communes)
        return self.points.get(address.key) if address else None


def _address(kind: str, values: Values, communes: geo.CommuneIndex | None) -> geo.Address | None:
    fields = KINDS[kind].address_fields
    return geo.address_of(values, fields[:1], communes) if fields else None


def placed_points(store, kind: str) -> dict[str, dict[str, Any]]:
    found = store.get_state(f"{PLACED_KEY}/{kind}")
    return found if isinstance(found, dict) else {}


def locate(store, kind: str, records: dict, listings: dict[str, Listing], geocoder, settings: Settings,
           dry_run: bool = False, communes: geo.CommuneIndex | None = None) -> Placements:
    """The points of the addresses that need one this run (records: RecordState by id, of this kind).
    `communes`: the territory's (Essonne by default), for INSEE codes and commune centres."""
    out = Placements(kind, communes=communes)
    if not KINDS[kind].address_fields:
        return out
    placed = placed_points(store, kind)
    out.placed = {rid: (p["latitude"], p["longitude"]) for rid, p in placed.items()}
    wanted: dict[str, geo.Address] = {}
    for rid, rec in sorted(records.items()):
        if rec.deleted:
            continue
        point = (rec.fields.get("latitude"), rec.fields.get("longitude"))
        ours = out.placed.get(rid) == point
        if point == (None, None) or ours:
            a = _address(kind, rec.fields, communes)
            if ours and (a.key if a else None) != placed[rid].get("key"):
                out.moved.add(rid)
            if a and (not ours or rid in out.moved):
                wanted.setdefault(a.key, a)
    for listing in listings.values():
        for obs in (listing.entries or {}).values():
            if obs.values.get("latitude") is None and obs.values.get("longitude") is None \
                    and "latitude" not in dict(obs.problems) and (a := _address(kind, obs.values, communes)):
                wanted.setdefault(a.key, a)
    if not wanted:
        return out
    loaded = store.get_state(CACHE_KEY)
    cache: dict[str, dict[str, Any]] = dict(loaded) if isinstance(loaded, dict) else {}
    budget, stopped = settings.max_per_run, None
    for key, address in sorted(wanted.items()):
        if key not in cache and address.street and geocoder is not None:
            if stopped or budget <= 0:
                continue  # left for the next run
            budget -= 1
            try:
                cache[key] = _ask(geocoder, address, settings)
            except TargetError as exc:  # unreachable, or refusing more requests: the rest waits for next run
                stopped = exc.message
                continue
            if "refused" in cache[key]:
                out.notices.append(Notice("attention", "geocoder", None, Text(
                    "address '{address}' could not be placed ({reason})", address=_show(address),
                    reason=restored(cache[key]["refused"])), kind="not_placed"))
        point = _point(address, cache.get(key), communes)
        if point is not None:
            out.points[key] = point
    if stopped:
        out.notices.append(Notice("info", "geocoder", None, Text("geocoder stopped ({reason}): the other addresses "
                                                                 "are looked up on the next run", reason=stopped)))
    if not dry_run and cache != loaded:
        store.set_state(CACHE_KEY, cache)
    return out


def _ask(geocoder, address: geo.Address, settings: Settings) -> dict[str, Any]:
    text = " ".join(p for p in (address.street, address.commune) if p)
    match = geocoder.search(text, postcode=address.postcode, citycode=address.citycode)
    if match is None:
        return {"refused": stored(Text("no match"))}
    if match.type == "municipality":
        return {"refused": stored(Text("only the commune was recognised"))}
    if match.score < settings.min_score:
        return {"refused": stored(Text("best match '{label}' scored {score:.2f}, below {minimum:g}",
                                       label=match.label, score=match.score, minimum=settings.min_score))}
    if address.citycode and match.citycode and match.citycode != address.citycode:
        return {"refused": stored(Text("best match '{label}' is in another commune", label=match.label))}
    return {"latitude": round(match.latitude, 6), "longitude": round(match.longitude, 6), "label": match.label,
            "score": round(match.score, 2)}


def _point(address: geo.Address, found: dict[str, Any] | None,
           communes: geo.CommuneIndex | None) -> GeoPoint | None:
    if found and "latitude" in found:
        return GeoPoint(found["latitude"], found["longitude"], "address",
                        Text("placed from its address ({label}, score {score:.2f})", label=found["label"],
                             score=found["score"]))
    if found is None and address.street:
        return None  # not looked up yet (geocoder off, unreachable or over budget): nothing approximate yet
    commune = geo.commune_centre(address, communes)
    if commune is None:
        return None
    why = restored(found["refused"]) if found else Text("no street")
    return GeoPoint(round(commune.lat, 6), round(commune.lon, 6), "commune",
                    Text("placed at the centre of {commune} (approximate: {reason})", commune=commune.name,
                         reason=why))


def _show(address: geo.Address) -> str:
    return ", ".join(p for p in (address.street, f"{address.postcode} {address.commune}".strip()) if p)
