"""`oscartes-sync forget QUERY`: erase a person's data from the store (GDPR art. 17).

QUERY is the person's email address, phone number or name; `--text` adds names or other words the coordinator
confirms. Every place of the store that holds one of them is found (current values, every revision, link
snapshots, conflicts, possible duplicates, suggestions, run reports, engine state) and shown; with `--yes` each
occurrence is replaced by "[…]" (a value that was nothing else becomes empty), each record touched gets a
revision saying so, and the database files are compacted so that nothing lingers in free pages.

The wikis are the members' own: `forget` writes nothing there, and names the entries that still hold the data
(as last seen by the sync). So that the sync does not bring it back from them, the forgotten values are kept as
keyed hashes (forgotten.ForgetList): a wiki value holding one is refused like an invalid value (not stored,
not copied, not overwritten) and named in every run's report (`sync --json`; the text report summarises
it once reported) until someone edits that entry.

Only what a person confirms is erased: the email and phone forms come from QUERY itself; a name found from the
email's local part ("jean.dupont@…" → "Jean Dupont") is only proposed, with where it was found, and is erased
when given with `--text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .forgotten import ERASED, STATE_KEY, ForgetList, Needle, erase_text, erase_value, needle, words
from .store import Store
from .text import Term, Text, join


class ForgetRefused(Exception):
    """A query that cannot be used; nothing was read or erased."""


@dataclass(frozen=True)
class Place:
    table: str
    ident: dict
    column: str
    where: str  # for a person: "record Recyclerie des Ulis (1a2b3c4d), revision r3"
    fields: tuple[str, ...]  # which fields of a record-shaped value held it
    count: int


@dataclass(frozen=True)
class HeldEntry:
    instance: str
    remote_id: str
    title: str
    fields: tuple[str, ...]


@dataclass
class ForgetReport:
    needles: list[Needle]
    places: list[Place] = field(default_factory=list)
    entries: list[HeldEntry] = field(default_factory=list)  # wiki entries that still hold it (last seen)
    proposals: list[tuple[str, int]] = field(default_factory=list)  # (text, places) not confirmed
    records: list[str] = field(default_factory=list)  # names of the records touched
    published: bool = False  # a record touched shows its contact details publicly (cards, exports)
    erased: bool = False

    @property
    def occurrences(self) -> int:
        return sum(p.count for p in self.places)


def needles_of(query: str, texts: list[str]) -> list[Needle]:
    out = []
    for value in [query, *texts]:
        nd = needle(value)
        if not nd.forms or not any(any(ch.isalnum() for ch in w) for f in nd.forms for w in f):
            raise ForgetRefused(Text("{value} holds no word to look for", value=repr(value)))
        if nd.kind == "text" and sum(len(w) for w in nd.forms[0]) < 4:
            raise ForgetRefused(Text("{value} is too short to be a person's name: it would erase unrelated words",
                                     value=repr(value)))
        out.append(nd)
    return out


def _proposals(needles: list[Needle]) -> list[str]:
    """Names an email suggests ("jean.dupont@…" → "Jean Dupont"), to show, never to erase unconfirmed."""
    confirmed = {f for nd in needles for f in nd.forms}
    out = []
    for nd in needles:
        if nd.kind != "email":
            continue
        local = nd.label.split("@", 1)[0]
        parts = [w.text for w in words(local.replace(".", " ").replace("_", " ").replace("-", " "))]
        parts = [p for p in parts if p.isalpha() and len(p) > 1]
        if len(parts) >= 2 and tuple(parts) not in confirmed:
            out.append(" ".join(p.capitalize() for p in parts))
    return out


def _erase_cell(value: Any, needles: list[Needle]) -> tuple[Any, int]:
    if isinstance(value, str):
        new, n = erase_text(value, needles)
        return (ERASED if new is None else new), n  # plain text columns are never empty
    return erase_value(value, needles)


def _touched_fields(before: Any, after: Any) -> tuple[str, ...]:
    # keys starting with "_" are the service's own bookkeeping (what it wrote, when): no field a person knows
    if isinstance(before, dict) and isinstance(after, dict):
        return tuple(sorted(k for k in before if not k.startswith("_") and before.get(k) != after.get(k)))
    return ()


def scan(store: Store, needles: list[Needle]) -> tuple[list[Place], list[tuple[str, dict, str, Any]]]:
    titles = {r.id: (r.fields.get("name") or r.id) for r in store.records(include_deleted=True)}
    places, changes = [], []
    for table, ident, column, value in store.cells():
        new, n = _erase_cell(value, needles)
        if not n:
            continue
        places.append(Place(table, ident, column, _where(table, ident, column, titles), _touched_fields(value, new), n))
        changes.append((table, ident, column, new))
    return places, changes


def _who(rid: str, titles: dict[str, str]) -> str:
    name = titles.get(rid, rid)
    return f"{name} ({rid[:8]})" if isinstance(name, str) and name != rid else rid


def _where(table: str, ident: dict, column: str, titles: dict[str, str]) -> str:
    if table == "records":
        return Text("record {record}: current values", record=_who(ident["id"], titles))
    if table == "revisions":
        what = {"fields": Text("values"), "note": Text("note"), "author": Text("author")}.get(column, column)
        return Text("record {record}, revision r{number}: {what}", record=_who(ident["record_id"], titles),
                    number=ident["number"], what=what)
    if table == "links":
        what = Text("what was last seen") if column == "snapshot" else Text("a member's hidden revision")
        return Text("record {record}, {what} in {instance}", record=_who(ident["record_id"], titles), what=what,
                    instance=ident["instance"])
    if table == "conflicts":
        return Text("conflict #{id}", id=ident["id"])
    if table == "review_items":
        return Text("possible duplicate #{id} (`match`)", id=ident["id"])
    if table == "suggestions":
        return Text("suggestion #{id}", id=ident["id"])
    if table == "runs":
        return Text("report of run #{id}", id=ident["id"])
    if table == "state":
        return Text("engine state {key}", key=repr(ident["key"]))
    return f"{table} {ident} ({column})"


def _held_entries(store: Store, needles: list[Needle], titles: dict[str, str]) -> list[HeldEntry]:
    out = []
    for link in store.links():
        if not link.remote_id:
            continue
        snap = {k: v for k, v in link.snapshot.items() if not k.startswith("_")}
        new, n = erase_value(snap, needles)
        if n:
            out.append(HeldEntry(link.instance, link.remote_id, titles.get(link.record_id, link.record_id),
                                 _touched_fields(snap, new)))
    for item in store.review_items(None):
        new, n = erase_value(item.values, needles)
        if n and item.status == "open":
            out.append(HeldEntry(item.instance, item.remote_id, item.values.get("name") or item.remote_id,
                                 _touched_fields(item.values, new)))
    return sorted(out, key=lambda e: (e.instance, e.remote_id))


def forget(store: Store, query: str, texts: list[str] | None = None, *, erase: bool = False,
           by: str = "coordinator") -> ForgetReport:
    """Find (and with `erase`, erase) the person named by `query` and `texts`. The caller holds the run lock
    when erasing."""
    needles = needles_of(query, list(texts or []))
    report = ForgetReport(needles)
    titles = {r.id: (r.fields.get("name") or r.id) for r in store.records(include_deleted=True)}
    report.places, changes = scan(store, needles)
    report.entries = _held_entries(store, needles, titles)
    for text in _proposals(needles):
        found, _ = scan(store, [needle(text)])
        if found:
            report.proposals.append((text, len(found)))
    touched = sorted({p.ident["id"] for p in report.places if p.table == "records"}
                     | {p.ident["record_id"] for p in report.places if p.table in ("revisions", "links")})
    report.records = [titles.get(rid, rid) for rid in touched]
    report.published = any((store.record(rid) and (store.record(rid).fields.get("contact_visibility") == "public"))
                           for rid in touched)
    if not erase:
        return report
    hashes = ForgetList.from_state(store.get_state(STATE_KEY))
    for nd in needles:
        hashes.add(nd)
    with store.transaction():
        store.rewrite_cells(changes)
        for rid in touched:
            rec = store.record(rid)
            fields = sorted({f for p in report.places if p.table == "records" and p.ident["id"] == rid
                             for f in p.fields})
            store.update_record(rid, rec.fields, author=by, origin="forget", even_if_equal=True,
                                note=Text("personal data erased on request (forget): {fields}",
                                          fields=join(", ", [Term.field(f) for f in fields])) if fields
                                else Text("personal data erased on request (forget) from the history"))
        store.set_state(STATE_KEY, hashes.as_state())
    store.compact()
    report.erased = True
    return report
