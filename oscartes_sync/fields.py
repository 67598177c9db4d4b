"""Canonical fields <-> one wiki's form fields.

A `FormMap` says, for one kind in one wiki, which form holds it and which entry key carries each canonical
field. Reading turns a raw entry into canonical values through the cleaning of clean.py; a value that
cleaning refuses is left out (it is neither a change nor something to overwrite) and named as a problem.
Writing renders canonical values as the strings a Bazar form expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from . import clean
from .records import KINDS, Kind
from .text import Text

# Bazar keys the server computes; never sent, never compared.
SERVER_KEYS = frozenset({
    "id_fiche", "id_typeannonce", "date_creation_fiche", "date_maj_fiche", "statut_fiche", "user", "owner",
    "html_data", "url", "geolocation", "antispam",
})


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class IdMap(Protocol):
    """Entry ids of one wiki <-> record ids, for link fields (DECISIONS §9)."""

    def record_of(self, kind: str, remote_id: str) -> str | None: ...

    def remote_of(self, kind: str, record_id: str) -> str | None: ...


class FileResolver(Protocol):
    """Stored file names of one wiki -> the content hash of the file (sync/files.py): an image field's
    canonical value (DECISIONS §7), or the reason the file is refused."""

    def resolve(self, key: str, name: str) -> clean.Cleaned: ...


@dataclass(frozen=True)
class FormMap:
    kind: Kind
    form_id: str
    keys: dict[str, str] = field(default_factory=dict)  # canonical name -> entry key
    list_keys: dict[str, dict[str, str]] = field(default_factory=dict)  # list id -> {wiki key: canonical key}
    restricted: frozenset[str] = frozenset()  # fields whose read ACL is restricted in this form

    @property
    def title_key(self) -> str:
        return self.keys[self.kind.title_field]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.kind.field_names if f in self.keys)

    @property
    def file_fields(self) -> tuple[str, ...]:
        """Mapped fields whose value is a file (image fields)."""
        return tuple(f for f in self.fields if self.kind.field(f).type in clean.FILE_TYPES)

    def geo_keys(self) -> tuple[str, str] | None:
        if "latitude" in self.keys and "longitude" in self.keys:
            return self.keys["latitude"], self.keys["longitude"]
        return None


def link_kind(fdef) -> str | None:
    """The kind a `links` field points to, named in its key pattern (`checkboxfiche{form:actor}...`)."""
    if "{form:" not in fdef.wiki_key:
        return None
    return fdef.wiki_key.split("{form:", 1)[1].split("}", 1)[0]


def default_form_map(kind_name: str, forms: dict[str, str], overrides: dict[str, str] | None = None,
                     list_keys: dict[str, dict[str, str]] | None = None,
                     restricted: list[str] | None = None) -> FormMap:
    """The map of the forms this project provisions; `overrides` (from the config) rename or drop keys
    (an empty string drops a field the wiki does not have), `list_keys` translate a wiki's own list keys,
    `restricted` replaces the default set of members-only fields."""
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
    limited = frozenset(restricted) if restricted is not None else frozenset(f.name for f in kind.fields if f.contact)
    return FormMap(kind, str(forms[kind_name]), keys, dict(list_keys or {}), limited)


def to_canonical(raw: dict[str, Any], fmap: FormMap, ids: IdMap | None = None,
                 files: FileResolver | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """Canonical values of one raw entry, refused values left out and reported. An image field is left out
    without a resolver (`files`): what its file holds is unknown, so it is neither a change nor overwritten."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in fmap.fields:
        fdef = fmap.kind.field(name)
        key = fmap.keys[name]
        if fdef.type in clean.FILE_TYPES:
            cleaned = clean.stored_file_name(raw.get(key))
            if cleaned.ok and cleaned.value is not None:
                if files is None:
                    continue
                cleaned = files.resolve(key, cleaned.value)
        else:
            cleaned = clean.clean(fdef.type, raw.get(key), max_length=fdef.max_length)
        if cleaned.problem:
            problems.append(Problem(name, cleaned.problem))
            continue
        value = cleaned.value
        if value is not None and fdef.type in ("key", "keys") and fdef.list_id in fmap.list_keys:
            table = fmap.list_keys[fdef.list_id]
            value = table.get(value, value) if fdef.type == "key" else sorted({table.get(k, k) for k in value})
        if value is not None and fdef.type == "links":
            target = link_kind(fdef)
            records = [ids.record_of(target, r) if ids else None for r in value]
            if None in records:
                # an entry of the other kind that is not synced yet: read again next run, once it is linked
                problems.append(Problem(name, Text("links to an entry that is not synced yet")))
                continue
            value = sorted(set(records))
        values[name] = value
    return values, problems


def to_wiki(values: dict[str, Any], fmap: FormMap, names: list[str] | tuple[str, ...] | None = None,
            ids: IdMap | None = None) -> dict[str, str]:
    """Entry keys and strings for the given canonical fields (all mapped fields by default). Links to
    records that have no entry in this wiki yet are left out (they are written once it has one)."""
    out: dict[str, str] = {}
    for name in names if names is not None else fmap.fields:
        if name not in fmap.keys:
            continue
        fdef = fmap.kind.field(name)
        value = values.get(name)
        if value is not None and fdef.type in ("key", "keys") and fdef.list_id in fmap.list_keys:
            back = {c: w for w, c in fmap.list_keys[fdef.list_id].items()}
            value = back.get(value, value) if fdef.type == "key" else [back.get(k, k) for k in value]
        if value is not None and fdef.type == "links":
            target = link_kind(fdef)
            remote = [ids.remote_of(target, r) if ids else None for r in value]
            value = [r for r in remote if r] or None
        out[fmap.keys[name]] = clean.to_wiki_string(fdef.type, value)
    return out
