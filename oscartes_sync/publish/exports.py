"""Open-data exports of the directory (PRODUCT.md §4, DECISIONS §6, §13, §14, §19, §20).

For each kind the store holds among actors, projects, events and offers: `<kind>.csv`, `<kind>.json` and
`<kind>.geojson`, plus `structures.json` (actors in the data·inclusion `structures` schema, when the
`data-inclusion-schema` package is installed to validate them) and `LICENCE.txt`.

Public fields only: contact details appear only where the record marks them public (never for offers, whose
records carry no such mark), and a link to another record always carries that record's name next to its id.
The licence (`[export] licence`) is stated in the metadata of every JSON and GeoJSON file; CSV has no standard
place for metadata, so the folder holds `LICENCE.txt`, which names the licence, the sources and every file (no
licence column: it would repeat one value on every row and break column-based schemas). Where commune data is
used, the reference data keeps its source line.

Every file is deterministic (rows sorted, keys sorted, no generation date): an unchanged store gives
byte-identical files, so they are rewritten only when their content changes. Each instance's folder has one
public link, created once and remembered. They are not even built when nothing they are made from moved since
they were last published (`LazyExports.signature`: the store's keys, the pictures and placed points, the
settings) and the folder's listing shows them as the service left them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .. import geo
from ..config import Config, NextcloudConfig
from ..hashing import content_hash
from ..records import KINDS
from ..store import Store
from ..store.view import StoreView
from ..sync.files import state_key as files_state_key
from ..sync.geocoding import placed_points
from .calendar import FEED_FILE, Events, build_events, feed_url
from ..sync.model import Notice
from ..sync.quiet import code_version
from ..targets.base import EntryError
from ..targets.nextcloud import BadFileName, NextcloudClient, PreconditionFailed
from ..targets.yeswiki import file_url
from ..templates import all_lists
from ..text import Text, decode_note, encode_note

FILE_STEMS = {k.name: k.export_stem for k in KINDS.values() if k.export_stem}
EXPORT_KINDS = tuple(FILE_STEMS)
LICENCE_URLS = {
    "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/deed.fr",
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/deed.fr",
    "CC0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/deed.fr",
    "Licence Ouverte 2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "ODbL 1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
}
PUBLISHER = "OSCARTES (PôleS NOE, Territoires en Liens)"
# Fields never exported: the visibility marker itself (an internal setting).
HIDDEN_FIELDS = frozenset({"contact_visibility"})
SUSPICIOUS_WINDOW = 2.0  # seconds: file ETags can stay equal within one second (contract §2, DECISIONS §14)


def state_key(instance: str) -> str:
    return f"nextcloud:{instance}:exports"


# ---------------------------------------------------------------------------------------------------- content


@dataclass
class Exports:
    files: dict[str, bytes] = field(default_factory=dict)
    notices: list[tuple[str | None, str]] = field(default_factory=list)  # (record id, message), instance-free


EXPORT_FORMAT = 1  # moves when what the files are made from changes shape: every file is built again once


class LazyExports:
    """The export files of one run, built on first use (`files`, `notices`): a run where nothing they are made
    from moved and no file was touched in Nextcloud builds none. `signature` hashes what they are made from."""

    def __init__(self, cfg: Config, store: Store, view: StoreView, events: Callable[[], Events] | None = None):
        self._build = lambda: build_exports(cfg, store, events() if events else None, view=view)
        self._built: Exports | None = None
        extra = [store.get_state(files_state_key(w.name, k)) for w in cfg.wiki for k in EXPORT_KINDS]
        extra += [placed_points(store, k) for k in EXPORT_KINDS]
        self.signature = content_hash([
            EXPORT_FORMAT, code_version(), view.signature(None, [w.name for w in cfg.wiki]),
            {w.name: w.url for w in cfg.wiki}, {k: v["values"] for k, v in all_lists(cfg.local_territory()).items()},
            cfg.export.licence, cfg.calendar.timezone, list(cfg.sync.kinds),
            extra, datetime.now(timezone.utc).date().isoformat()])  # a record's date_maj is never after today

    @property
    def built(self) -> Exports:
        if self._built is None:
            self._built = self._build()
        return self._built

    @property
    def files(self) -> dict[str, bytes]:
        return self.built.files

    @property
    def notices(self) -> list[tuple[str | None, str]]:
        return self.built.notices


def _public_fields(kind: str) -> list[str]:
    return [f.name for f in KINDS[kind].fields if f.name not in HIDDEN_FIELDS]


def _visible(kind: str, fname: str, fields: dict[str, Any]) -> bool:
    fdef = KINDS[kind].field(fname)
    if not fdef.contact:
        return True
    # Members-only unless the record marks its contact details public (DECISIONS §6); only actors can.
    return "contact_visibility" in KINDS[kind].field_names and fields.get("contact_visibility") == "public"


def _row(kind: str, rid: str, fields: dict[str, Any], names: dict[str, str], urls: list[str],
         pictures: dict[str, str] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": rid}
    for fname in _public_fields(kind):
        fdef = KINDS[kind].field(fname)
        value = fields.get(fname) if _visible(kind, fname, fields) else None
        if fdef.type == "links":
            targets = value if isinstance(value, list) else ([value] if value else [])
            # a link keeps the other record's name next to its id; a link to a gone record is left out
            value = [{"id": t, "name": names[t]} for t in sorted(targets) if t in names]
        elif fdef.type == "image":
            value = (pictures or {}).get(value) if value else None  # where anyone downloads the picture
        elif isinstance(value, list):
            value = sorted(value)
        row[fname] = value if value not in ("", [],) or fdef.type == "links" else None
    row["wiki_urls"] = urls
    return row


def _sort_key(row: dict[str, Any]) -> tuple[str, str]:
    return (str(row.get("name") or "").casefold(), row["id"])


def _metadata(cfg: Config, kind: str, count: int, lists: dict[str, dict[str, str]]) -> dict[str, Any]:
    licence = cfg.export.licence
    list_ids = sorted({f.list_id for f in KINDS[kind].fields if f.list_id and f.name not in HIDDEN_FIELDS})
    return {
        "title": f"OSCARTES — {KINDS[kind].label}",
        "publisher": PUBLISHER,
        "licence": licence,
        "licence_url": LICENCE_URLS.get(licence),
        "sources": [geo.ATTRIBUTION],
        "kind": kind,
        "count": count,
        "fields": ["id", *_public_fields(kind), "wiki_urls"],
        "lists": {lid: lists.get(lid, {}) for lid in list_ids},
        "note": "Coordonnées (courriel, téléphone) publiées seulement quand l'acteur les a rendues publiques.",
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _csv_bytes(kind: str, rows: list[dict[str, Any]]) -> bytes:
    columns = ["id"]
    for fname in _public_fields(kind):
        columns.append(fname)
        if KINDS[kind].field(fname).type == "links":
            columns.append(f"{fname}_ids")
    columns.append("wiki_urls")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        out = []
        for col in columns:
            if col.endswith("_ids") and col[:-4] in row and isinstance(row[col[:-4]], list) \
                    and KINDS[kind].field(col[:-4]).type == "links":
                out.append(";".join(t["id"] for t in row[col[:-4]]))
                continue
            value = row.get(col)
            if isinstance(value, list):
                value = ";".join(t["name"] if isinstance(t, dict) else str(t) for t in value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            out.append("" if value is None else str(value))
        writer.writerow(out)
    return buf.getvalue().encode("utf-8")


def _point(fields: dict[str, Any], communes: geo.CommuneIndex,
           placed: dict[str, Any] | None = None) -> tuple[list[float] | None, str | None]:
    lat, lon = fields.get("latitude"), fields.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        # a point the geocoder could only put at the commune's centre says so (issue 19)
        approximate = placed and placed.get("precision") == "commune" and \
            (placed.get("latitude"), placed.get("longitude")) == (lat, lon)
        return [float(lon), float(lat)], "commune" if approximate else "adresse"
    commune = communes.resolve(fields.get("insee"), fields.get("commune"), fields.get("postcode"))
    if commune is not None and commune.has_point:
        return [float(commune.lon), float(commune.lat)], "commune"  # type: ignore[arg-type]
    return None, None


def _geojson_bytes(meta: dict[str, Any], rows: list[dict[str, Any]], fields_by_id: dict[str, dict],
                   communes: geo.CommuneIndex, placed: dict[str, Any] | None = None) -> bytes:
    features = []
    for row in rows:
        coords, precision = _point(fields_by_id[row["id"]], communes, (placed or {}).get(row["id"]))
        props = {k: v for k, v in row.items() if k not in ("latitude", "longitude")}
        props["position"] = precision
        features.append({"type": "Feature", "id": row["id"],
                         "geometry": {"type": "Point", "coordinates": coords} if coords else None,
                         "properties": props})
    return _json_bytes({"type": "FeatureCollection", "metadata": meta, "licence": meta["licence"],
                        "features": features})


def _of_territory(name: str) -> str:
    """"de l'Essonne", "du territoire « Rhône »": the origin's own wording is kept."""
    return "de l'Essonne" if name == "Essonne" else f"du territoire « {name} »"


def _licence_text(cfg: Config, names: list[str]) -> bytes:
    licence = cfg.export.licence
    url = LICENCE_URLS.get(licence)
    lines = [
        "Données ouvertes OSCARTES",
        "",
        f"Éditeur : {PUBLISHER}",
        f"Licence : {licence}" + (f" ({url})" if url else ""),
        f"Communes {_of_territory(cfg.local_territory().name)} (codes INSEE, codes postaux, positions) : "
        f"{geo.ATTRIBUTION}",
        "",
        "Ces fichiers sont produits par oscartes-sync à partir des fiches des wikis du réseau. Les coordonnées "
        "(courriel, téléphone) n'y figurent que lorsque l'acteur les a rendues publiques. Les fichiers sont "
        "réécrits à chaque changement : toute modification faite ici est remplacée.",
        "",
        "Fichiers :",
        *[f"- {n}" for n in names],
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _structures(cfg: Config, rows: list[dict[str, Any]], updated: dict[str, datetime],
                out: Exports) -> bytes | None:
    """Actors as data·inclusion `structures`, each validated by the schema package; invalid ones are left out
    and named. None when the package is not installed."""
    try:
        from data_inclusion.schema.v1 import Structure
        from pydantic import ValidationError
    except ImportError:
        out.notices.append((None, "data·inclusion export skipped: the data-inclusion-schema package is not "
                                  "installed"))
        return None
    today = datetime.now(timezone.utc).date()
    valid = []
    for row in rows:
        when = updated.get(row["id"])
        data = {
            "source": "oscartes", "id": f"oscartes--{row['id']}", "nom": row.get("name"),
            "date_maj": min(when.date(), today).isoformat() if when else today.isoformat(),
            "description": row.get("description") or row.get("short_description"),
            "lien_source": (row.get("wiki_urls") or [None])[0], "siret": row.get("siret"),
            "commune": row.get("commune"), "code_postal": row.get("postcode"), "code_insee": row.get("insee"),
            "adresse": row.get("street"), "latitude": row.get("latitude"), "longitude": row.get("longitude"),
            "telephone": row.get("phone"), "courriel": row.get("email"), "site_web": row.get("website"),
            "horaires_accueil": row.get("opening_hours"),
        }
        data = {k: v for k, v in data.items() if v not in (None, "")}
        try:
            Structure.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
                                 for e in exc.errors()[:3])
            out.notices.append((row["id"], Text("\"{title}\" left out of the data·inclusion export: {problems}",
                                                title=row.get("name"), problems=problems)))
            continue
        valid.append(data)
    return _json_bytes(valid)


def picture_urls(cfg: Config, store: Store) -> dict[str, str]:
    """Content hash of a picture -> its public URL in the first wiki (config order) that holds it."""
    out: dict[str, str] = {}
    for w in cfg.wiki:
        for kind in EXPORT_KINDS:
            known = store.get_state(files_state_key(w.name, kind))
            for name, info in sorted((known if isinstance(known, dict) else {}).items()):
                if isinstance(info, dict) and info.get("sha256"):
                    out.setdefault(info["sha256"], file_url(w.url, name))
    return out


def build_exports(cfg: Config, store: Store, events: Events | None = None, *,
                  view: StoreView | None = None) -> Exports:
    """The export files for the store as it is now (the same bytes for every Nextcloud); `events` (the calendar's
    objects, publish/calendar.py) gives the iCalendar feed of the events."""
    view = view or StoreView(store)
    out = Exports()
    lists = {k: v["values"] for k, v in all_lists(cfg.local_territory()).items()}
    all_records = view.records_of_kind()
    names = {r.id: r.fields.get("name") or r.id for r in all_records}
    urls = {w.name: w.url for w in cfg.wiki}
    pictures = picture_urls(cfg, store)
    remote = view.remote_ids(urls)
    for kind in EXPORT_KINDS:
        records = [r for r in all_records if r.kind == kind]
        if not records and kind not in cfg.sync.kinds:
            continue
        by_id = {r.id: r.fields for r in records}
        rows = sorted((_row(kind, r.id, r.fields, names, [f"{u}?{remote[r.id][w]}" for w, u in urls.items()
                                                           if remote.get(r.id, {}).get(w)], pictures)
                       for r in records), key=_sort_key)
        meta = _metadata(cfg, kind, len(rows), lists)
        stem = FILE_STEMS[kind]
        out.files[f"{stem}.csv"] = _csv_bytes(kind, rows)
        out.files[f"{stem}.json"] = _json_bytes({"metadata": meta, "data": rows})
        out.files[f"{stem}.geojson"] = _geojson_bytes(meta, rows, by_id, cfg.local_territory().index,
                                                       placed_points(store, kind))
        if kind == "actor":
            structures = _structures(cfg, rows, store.updated_at("actor"), out)
            if structures is not None:
                out.files["structures-data-inclusion.json"] = structures
    events = events if events is not None else build_events(cfg, store, view=view)
    if events.feed:  # events left out of it are named by the calendar's sync, once per Nextcloud
        out.files[FEED_FILE] = events.feed
    out.files["LICENCE.txt"] = _licence_text(cfg, sorted(out.files))
    return out


# ---------------------------------------------------------------------------------------------------- sync


@dataclass
class ExportOutcome:
    writes: int = 0
    planned: int = 0
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None
    link: str | None = None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_state(store: Store, nc: NextcloudConfig) -> dict[str, Any]:
    state = store.get_state(state_key(nc.name))
    if not isinstance(state, dict) or state.get("folder") != nc.exports_folder:
        return {"folder": nc.exports_folder, "files": {}, "link": None}
    return {"folder": nc.exports_folder, "files": {}, "link": None, **state}


def sync_exports(client: NextcloudClient, nc: NextcloudConfig, store: Store, exports: Exports | LazyExports, *,
                 dry_run: bool = False, clock: Callable[[], datetime] | None = None) -> ExportOutcome:
    """Write the files whose content changed (or that someone else changed or removed) into the instance's
    export folder; one PROPFIND (Depth 1) per run, a GET only for a file whose ETag or size changed or whose
    last modification is less than 2 s before the previous look."""
    now = clock or (lambda: datetime.now(timezone.utc))
    out = ExportOutcome()
    loaded = load_state(store, nc)
    state = json.loads(json.dumps(loaded))
    files: dict[str, dict[str, Any]] = state["files"]
    folder = nc.exports_folder

    def notice(level: str, message: str, record_id: str | None = None) -> None:
        out.notices.append(Notice(level, nc.name, record_id, message))

    try:
        items = client.propfind(folder, 1)
    except BadFileName as exc:
        out.error = Text("exports folder '{folder}' refused: {reason}", folder=folder, reason=exc.message)
        for rid, message in exports.notices:
            notice("info", message, rid)
        return out
    looked = now().timestamp()
    signature = getattr(exports, "signature", None)
    if signature is not None and items and state.get("signature") == signature and state.get("link") \
            and _as_left(client, folder, items, files, looked):
        # made from what they were last written from, and as the service left them: nothing built, nothing sent
        for rid, message in state.get("notices") or []:
            notice("info", decode_note(message), rid)
        out.link = state["link"]
        if not dry_run and content_hash(state) != content_hash(loaded):
            store.set_state(state_key(nc.name), state)
        return out
    for rid, message in exports.notices:
        notice("info", message, rid)
    if not items:
        if dry_run:
            notice("info", Text("dry run: would create folder '{folder}' and write {n} files", folder=folder,
                                n=len(exports.files)))
            out.planned += len(exports.files)
            return out
        client.makedirs(folder)
        state["link"] = None
        files = state["files"] = {}
        server: dict = {}
    else:
        top = items[0].path
        server = {item.path[len(top):].strip("/"): item for item in items[1:] if not item.is_dir}
    for name in sorted(exports.files):
        data = exports.files[name]
        digest = _digest(data)
        mine = files.get(name)
        srv = server.get(name)
        target = f"{folder}/{name}"
        if mine and srv and mine.get("hash") == digest:
            unchanged = srv.etag == mine.get("etag") and srv.size == mine.get("size")
            modified = srv.modified.timestamp() if srv.modified else None
            recent = modified is None or mine.get("looked") is None or mine["looked"] - modified < SUSPICIOUS_WINDOW
            if unchanged and not recent:
                continue
            # ETag or size moved, or a write could hide in the same second as our last look: read and hash
            body, etag = client.get(target)
            if _digest(body) == digest:
                mine.update(etag=etag or srv.etag, size=len(body), looked=looked)
                continue
            notice("info", Text("export {name} was changed in Nextcloud by someone else: rewritten", name=name))
            srv_etag = etag or srv.etag
        elif not mine and srv and srv.size == len(data) and client.get(target)[0] == data:
            # already there with this content (a lost state, or a crash after the PUT): adopt it
            files[name] = {"hash": digest, "etag": srv.etag, "size": len(data), "looked": looked}
            continue
        elif mine and not srv and mine.get("hash") == digest:
            notice("info", Text("export {name} was removed from Nextcloud: written again", name=name))
            srv_etag = None
        else:
            srv_etag = srv.etag if srv else None
        if dry_run:
            out.planned += 1
            continue
        try:
            etag = client.put(target, data, if_match=srv_etag, if_none_match=srv is None,
                              content_type=_content_type(name))
        except PreconditionFailed:
            files.pop(name, None)
            notice("info", Text("export {name} changed in Nextcloud while it was written (HTTP 412): checked on the "
                                "next run", name=name))
            continue
        except EntryError as exc:
            notice("attention", Text("export {name} not written: {reason}", name=name, reason=exc.message))
            continue
        files[name] = {"hash": digest, "etag": etag, "size": len(data), "looked": now().timestamp()}
        out.writes += 1
    if signature is not None and set(files) == set(exports.files) \
            and all(files[n].get("hash") == _digest(d) for n, d in exports.files.items()):
        state["signature"] = signature
        state["notices"] = [[rid, encode_note(message)] for rid, message in exports.notices]  # shown translated
    else:
        state.pop("signature", None)  # something is left to do: the next run builds the files again
    if not dry_run and not state.get("link"):
        try:
            state["link"] = client.share_public_link(folder)
            notice("info", Text("open-data exports published at {link}", link=state["link"]))
            if FEED_FILE in exports.files:
                notice("info", Text("events' calendar feed (iCalendar) at {link}", link=feed_url(state["link"])))
        except EntryError as exc:
            notice("attention", Text("public link of '{folder}' not created: {reason}", folder=folder,
                                     reason=exc.message))
    out.link = state.get("link")
    if not dry_run and content_hash(state) != content_hash(loaded):
        store.set_state(state_key(nc.name), state)
    return out


def _as_left(client: NextcloudClient, folder: str, items: list, files: dict[str, dict[str, Any]],
             looked: float) -> bool:
    """Whether the folder holds the files the state remembers, as the service left them: same names,
    ETags and sizes, and (a write could hide in the same second as our last look) a file modified too close to
    it is read and hashed. Updates what was looked at."""
    top = items[0].path
    server = {item.path[len(top):].strip("/"): item for item in items[1:] if not item.is_dir}
    for name, mine in files.items():
        srv = server.get(name)
        if srv is None:
            return False
        if srv.etag != mine.get("etag") or srv.size != mine.get("size"):
            return False
        modified = srv.modified.timestamp() if srv.modified else None
        if modified is None or mine.get("looked") is None or mine["looked"] - modified < SUSPICIOUS_WINDOW:
            body, etag = client.get(f"{folder}/{name}")
            if _digest(body) != mine.get("hash"):
                return False
            mine.update(etag=etag or srv.etag, size=len(body), looked=looked)
    return True


def _content_type(name: str) -> str:
    if name.endswith(".csv"):
        return "text/csv; charset=utf-8"
    if name.endswith(".ics"):
        return "text/calendar; charset=utf-8"
    if name.endswith(".geojson"):
        return "application/geo+json"
    if name.endswith(".json"):
        return "application/json"
    return "text/plain; charset=utf-8"
