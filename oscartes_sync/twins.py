"""Two entries that are one actor: which value the record keeps, field by field, before anything is a conflict.

DECISIONS §22, in order: one side empty → the other (the planner already fills empty fields); equal once
normalised (phone, URL, email, whitespace and HTML entities in text) → equal, each wiki keeps the form it has;
coordinates closer than `same_place_m` → the same place, the pin most recently placed; multi-valued list fields
→ the union; the visibility of contact fields → the more restrictive; names equal once normalised → each wiki
keeps its spelling, the record keeps the most recent. Only what is left becomes a conflict (§10).

Pure: the planner receives `reconcile` as a value (PlanInput.reconcile).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from . import normalise
from .geo import distance_m
from .records import KINDS
from .sync.model import TwinOutcome, Values

SAME_PLACE_M = 150.0
MEMBERS_ONLY = "membres"  # ListeVisibilite: members only wins over public (§6)


def reconcile(kind: str, base: Values, twin: Values, base_updated: str = "", twin_updated: str = "", *,
              same_place_m: float = SAME_PLACE_M) -> TwinOutcome:
    """How the record settles with a twin entry's values. `base` is the record's values (those of the entry it
    already has), `twin` the newly linked entry's; `*_updated` their last modification, for "most recent"."""
    k = KINDS[kind]
    twin_newer = bool(twin_updated) and twin_updated > base_updated
    values: Values = {}
    keep_twin: set[str] = set()
    keep_base: set[str] = set()
    for fdef in k.fields:
        f = fdef.name
        b, t = base.get(f), twin.get(f)
        if f not in twin or t is None or b is None or t == b:
            continue  # nothing to settle: equal, or one side empty (the planner fills it)
        if f == k.title_field and normalise.title(b) == normalise.title(t):
            values[f] = t if twin_newer else b  # the same name: each wiki keeps its spelling
            (keep_base if twin_newer else keep_twin).add(f)
        elif fdef.type == "keys" and isinstance(b, list) and isinstance(t, list):
            values[f] = sorted(set(b) | set(t))
        elif f == "contact_visibility":
            values[f] = MEMBERS_ONLY if MEMBERS_ONLY in (b, t) else b
        elif normalise.field_key(f, fdef.type, b) == normalise.field_key(f, fdef.type, t):
            values[f] = b  # one value written two ways (a commune, a street, a phone, a URL…): each keeps its own
            keep_twin.add(f)
    _same_place(values, base, twin, twin_newer, same_place_m)
    return TwinOutcome(values, frozenset(keep_twin), frozenset(keep_base))


def _same_place(values: Values, base: Values, twin: Values, twin_newer: bool, limit: float) -> None:
    points = []
    for side in (base, twin):
        lat, lon = side.get("latitude"), side.get("longitude")
        points.append((float(lat), float(lon)) if lat is not None and lon is not None else None)
    if None in points or points[0] == points[1] or distance_m(points[0], points[1]) >= limit:
        return
    newest = twin if twin_newer else base
    values["latitude"], values["longitude"] = newest["latitude"], newest["longitude"]


def reconciler(same_place_m: float = SAME_PLACE_M) -> Callable[..., TwinOutcome]:
    """The planner's `reconcile`, with the configured distance under which two pins are one place."""
    return partial(reconcile, same_place_m=same_place_m)
