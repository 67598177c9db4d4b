"""Canonical fields <-> one wiki's form fields.

A `FormMap` says, for one kind in one wiki, which form holds it and which entry key carries each canonical
field. Reading turns a raw entry into canonical values through the cleaning of clean.py; a value that
cleaning refuses is left out (it is neither a change nor something to overwrite) and named as a problem.
Writing renders canonical values as the strings a Bazar form expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import clean
from .records import KINDS, Kind

# Bazar keys the server computes; never sent, never compared.
SERVER_KEYS = frozenset({
    "id_fiche", "id_typeannonce", "date_creation_fiche", "date_maj_fiche", "statut_fiche", "user", "owner",
    "html_data", "url", "geolocation", "antispam",
})


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


@dataclass(frozen=True)
class FormMap:
    kind: Kind
    form_id: str
    keys: dict[str, str] = field(default_factory=dict)  # canonical name -> entry key

    @property
    def title_key(self) -> str:
        return self.keys[self.kind.title_field]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.kind.field_names if f in self.keys)

    def geo_keys(self) -> tuple[str, str] | None:
        if "latitude" in self.keys and "longitude" in self.keys:
            return self.keys["latitude"], self.keys["longitude"]
        return None


def default_form_map(kind_name: str, forms: dict[str, str], overrides: dict[str, str] | None = None) -> FormMap:
    """The map of the forms this project provisions; `overrides` (from the config) rename or drop keys
    (an empty string drops a field the wiki does not have)."""
    kind = KINDS[kind_name]
    keys: dict[str, str] = {}
    for f in kind.fields:
        key = f.wiki_key
        if "{form:" in key:
            target = key.split("{form:", 1)[1].split("}", 1)[0]
            if target not in forms:
                continue  # links to a kind this wiki does not sync
            key = key.replace("{form:" + target + "}", str(forms[target]))
        keys[f.name] = key
    for name, key in (overrides or {}).items():
        if key:
            keys[name] = key
        else:
            keys.pop(name, None)
    return FormMap(kind, str(forms[kind_name]), keys)


def to_canonical(raw: dict[str, Any], fmap: FormMap) -> tuple[dict[str, Any], list[Problem]]:
    """Canonical values of one raw entry, refused values left out and reported."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in fmap.fields:
        fdef = fmap.kind.field(name)
        cleaned = clean.clean(fdef.type, raw.get(fmap.keys[name]), max_length=fdef.max_length)
        if cleaned.problem:
            problems.append(Problem(name, cleaned.problem))
            continue
        values[name] = cleaned.value
    return values, problems


def to_wiki(values: dict[str, Any], fmap: FormMap, names: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """Entry keys and strings for the given canonical fields (all mapped fields by default)."""
    out: dict[str, str] = {}
    for name in names if names is not None else fmap.fields:
        if name not in fmap.keys:
            continue
        fdef = fmap.kind.field(name)
        out[fmap.keys[name]] = clean.to_wiki_string(fdef.type, values.get(name))
    return out
