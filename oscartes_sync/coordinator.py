"""What a coordinator decides, as operations on the store: settle a conflict, link or separate a duplicate,
accept or reject a suggestion, restore a revision, and the read-outs those decisions are taken from.

The CLI, the review page of the wikis and the webhook server all call these functions, so a decision has
the same effect wherever it is taken. A decision that cannot be taken raises `Refused` with a message for a
person (the CLI prints it and exits 2); nothing is written then. Every decision is recorded in the record's
history with who took it (`by`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import normalise
from .clean import clean
from .config import Config, IdentityConfig
from .identity import MatchIndex
from .records import KINDS
from .store import Store
from .text import N_, SEMICOLON, Term, Text, join
from .twins import reconcile


class Refused(Exception):
    """A decision that cannot be taken as asked; the message says why and what would work."""


UNSET: Any = object()  # "no value given", as opposed to the value None (empty)


# ---- finding a record by what people know (DECISIONS §26) -----------------------------------------------------


def short_id(record_id: str) -> str:
    """The first 8 characters of a record id: what reports print, what commands take back as a prefix."""
    return record_id[:8]


def find_records(store: Store, query: str | None = None, *, include_deleted: bool = False) -> list[Any]:
    """Records whose title holds every word of `query` (accents and case aside), or named by their UUID, a
    prefix of it, or one of their entry ids (former ones too); all of them without a query. Title order."""
    rows = store.records(include_deleted=include_deleted)
    if query:
        named = _named(store, query, include_deleted)
        want = normalise.words(query)
        rows = [r for r in rows if r.id in named
                or (want and all(w in normalise.words(r.fields.get("name")) for w in want))]
    return sorted(rows, key=lambda r: (normalise.words(r.fields.get("name")), r.id))


def resolve_record(store: Store, ref: str) -> Any:
    """The one record `ref` names: its UUID, a unique prefix of it (4 characters at least), its exact title
    or one of its wiki entry ids, deleted records included. Ambiguous or unknown: `Refused` naming the
    candidates, nothing changed."""
    ref = (ref or "").strip()
    exact = store.record(ref)
    if exact is not None:
        return exact
    by_id = _named(store, ref, True)
    if not by_id:
        by_id = {r.id for r in store.records(include_deleted=True)
                 if (r.fields.get("name") or "").casefold() == ref.casefold()}
    if len(by_id) == 1:
        return store.record(next(iter(by_id)))
    if not by_id:
        raise Refused(Text("no record {ref} (give its id, a prefix of it, its exact title or an entry id; "
                           "`records WORDS` searches titles)", ref=ref))
    cands = sorted((store.record(i) for i in by_id), key=lambda r: r.id)
    raise Refused(Text("'{ref}' names {n} records: {records}. Give one of their ids.", ref=ref, n=len(cands),
                       records=join(SEMICOLON, [describe_record(r) for r in cands])))


def describe_record(r: Any) -> Text:
    """"Recyclerie des Ulis (1a2b3c4d, actor)", with "deleted" when it is."""
    if r.deleted:
        return Text("{title} ({id}, {kind}, deleted)", title=r.fields.get("name") or "?", id=short_id(r.id),
                    kind=Term(r.kind, "kind_one"))
    return Text("{title} ({id}, {kind})", title=r.fields.get("name") or "?", id=short_id(r.id),
                kind=Term(r.kind, "kind_one"))


def _named(store: Store, ref: str, include_deleted: bool) -> set[str]:
    """Ids of the records a UUID prefix or an entry id names."""
    out: set[str] = set()
    if len(ref) >= 4 and re.fullmatch(r"[0-9a-fA-F-]+", ref):
        out |= {r.id for r in store.records(include_deleted=True) if r.id.lower().startswith(ref.lower())}
    out |= {rid for rid, _ in store.records_of_entry(ref)}
    if not include_deleted:
        out = {i for i in out if (r := store.record(i)) is not None and not r.deleted}
    return out


# ---- read-outs ---------------------------------------------------------------------------------------------


def record_titles(store: Store) -> dict[str, str]:
    """Record id -> its name, so that what is shown to a person says who, not a UUID."""
    return {r.id: r.fields.get("name") or r.id for r in store.records(include_deleted=True)}


# what a run's status says to a person (the store keeps the code's word)
RUN_OUTCOMES = {"ok": N_("nothing needed a person"), "attention": N_("something needed a person"),
                "running": N_("still running, or stopped before its end"),
                "interrupted": N_("interrupted before its end (killed or crashed); the next run took over")}


@dataclass
class Status:
    records: dict[str, int]  # kind -> live records
    open_conflicts: int
    open_reviews: int
    last_run: Any  # RunRow or None

    @property
    def needs_person(self) -> bool:
        return bool(self.open_conflicts or self.open_reviews or (self.last_run and self.last_run.exit_code))

    def as_dict(self) -> dict[str, Any]:
        last = self.last_run
        return {
            "records": self.records,
            "open_conflicts": self.open_conflicts,
            "open_reviews": self.open_reviews,
            "last_run": None if last is None else {
                "id": last.id, "started_at": str(last.started_at), "finished_at": str(last.finished_at),
                "status": last.status, "exit_code": last.exit_code,
                "instance_errors": (last.report or {}).get("instance_errors", {}),
            },
        }


def status(store: Store) -> Status:
    counts: dict[str, int] = {}
    for r in store.records():
        counts[r.kind] = counts.get(r.kind, 0) + 1
    runs = store.runs(1)
    return Status(counts, len(store.conflicts("open")), len(store.review_items("open")), runs[0] if runs else None)


@dataclass(frozen=True)
class HistoryLine:
    revision: Any  # RevisionRow
    changed: tuple[str, ...]  # fields that differ from the revision before


def history(store: Store, ref: str) -> tuple[Any, list[HistoryLine]]:
    """The record `ref` names, and every revision of it, each with the fields it changed."""
    rec = resolve_record(store, ref)
    out: list[HistoryLine] = []
    prev: dict[str, Any] = {}
    for r in store.history(rec.id):
        changed = tuple(sorted(k for k in set(prev) | set(r.fields) if prev.get(k) != r.fields.get(k)))
        out.append(HistoryLine(r, changed))
        prev = r.fields
    return rec, out


def open_conflicts(store: Store, record: str | None = None) -> list[Any]:
    return store.conflicts("open", record_id=resolve_record(store, record).id if record else None)


def entries_of(store: Store, record_id: str) -> list[tuple[str, str, bool]]:
    """(instance, entry id, still linked) of every entry the record has or had."""
    current = {(l.instance, l.remote_id) for l in store.links(record_id=record_id) if l.remote_id}
    return [(i, e, (i, e) in current) for i, e in store.entry_ids_of(record_id)]


def open_reviews(store: Store) -> list[Any]:
    return store.review_items("open")


def conflict(store: Store, conflict_id: int) -> tuple[Any, str]:
    """One conflict (open or settled) and the name of its record."""
    c = store.conflict(conflict_id)
    if c is None:
        raise Refused(Text("no conflict #{conflict_id}", conflict_id=conflict_id))
    rec = store.record(c.record_id)
    return c, (rec.fields.get("name") if rec else None) or c.record_id


def open_suggestions(store: Store) -> list[tuple[Any, Any]]:
    """(suggestion, the record's current value of its field) for every open suggestion."""
    out = []
    for s in store.suggestions("open"):
        rec = store.record(s.record_id)
        out.append((s, rec.fields.get(s.field) if rec else None))
    return out


# ---- decisions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    field: str
    value: Any


def resolve_conflict(store: Store, conflict_id: int, *, take: str | None = None, value: Any = UNSET,
                     by: str = "coordinator", origin: str = "conflicts resolve") -> Settled:
    """Settle a conflict with one instance's candidate (`take`) or a value of one's own; the next sync writes
    it everywhere. `origin`: where the decision was taken (the CLI, or the wiki of a review page)."""
    if (take is None) == (value is UNSET):
        raise Refused(Text("give exactly one of --take INSTANCE or --value JSON"))
    c = store.conflict(conflict_id)
    if c is None or c.status != "open":
        raise Refused(Text("no open conflict #{conflict_id}", conflict_id=conflict_id))
    if take is not None:
        if take not in c.candidates:
            raise Refused(Text("conflict #{conflict} has no candidate from '{take}'; candidates: {candidates}",
                               conflict=conflict_id, take=take, candidates=", ".join(c.candidates)))
        chosen = c.candidates[take]
    rec = store.record(c.record_id)
    if rec is None:
        raise Refused(Text("conflict #{conflict_id} belongs to record {record_id}, which no longer exists",
                           conflict_id=conflict_id, record_id=c.record_id))
    if take is None:
        chosen = checked_value(rec.kind, c.field, value)
    with store.transaction():
        store.resolve_conflict(c.id, chosen, by=by)
        store.update_record(c.record_id, {**rec.fields, c.field: chosen}, author=by,
                            origin=origin, note=(
                                Text("conflict #{id} on {field} resolved with {take}'s value", id=c.id,
                                     field=Term.field(c.field), take=take) if take is not None
                                else Text("conflict #{id} on {field} resolved", id=c.id, field=Term.field(c.field))))
    return Settled(c.field, chosen)


def parse_json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(Text("--value is not JSON ({reason}); a text needs quotes: --value '\"Orsay\"'",
                           reason=str(exc))) from None


def restore_record(store: Store, ref: str, revision: int | None = None, *, by: str = "coordinator") -> tuple[Any, int]:
    """Make an old revision current again, as a new revision (nothing is lost); a deleted record without a
    revision named comes back as it was last alive, and the next sync creates its entries again."""
    rec = resolve_record(store, ref)
    history = store.history(rec.id)
    if revision is None:
        alive = [r.number for r in history if not r.deleted]
        if not rec.deleted:
            raise Refused(Text("record {record} is not deleted: name the revision to restore "
                               "(`history` lists them)", record=describe_record(rec)))
        revision = alive[-1]
    if revision not in {r.number for r in history}:
        raise Refused(Text("record {record} has no revision {revision}", record=describe_record(rec),
                           revision=revision))
    return rec, store.restore(rec.id, revision, author=by)


def link_duplicate(cfg: Config, store: Store, item_id: int, ref: str, *, by: str = "coordinator",
                   origin: str = "match link") -> Any:
    """The entry waiting for review is this record: link them; the next sync merges them. The record's
    history says who decided it."""
    item = _open_review(store, item_id)
    rec = resolve_record(store, ref)
    if rec.deleted:
        raise Refused(Text("record {record} is deleted: `restore` it first", record=describe_record(rec)))
    record_id = rec.id
    if store.link(record_id, item.instance) is not None:
        raise Refused(Text("record {record_id} already has an entry in {instance}",
                           record_id=record_id, instance=item.instance))
    wiki = next((w for w in cfg.wiki if w.name == item.instance), None)
    form_id = wiki.form_ids()[item.kind] if wiki else ""
    with store.transaction():
        store.set_link(record_id, item.instance, form_id=form_id, remote_id=item.remote_id, snapshot={})
        store.close_review_item(item.id, "merged")
        store.update_record(record_id, rec.fields, author=by, origin=origin, even_if_equal=True,
                            note=f"possible duplicate #{item.id}: entry {item.instance}:{item.remote_id} linked "
                                 "to this record")
    return item


def mark_distinct(store: Store, item_id: int, *, by: str = "coordinator", origin: str = "match distinct") -> Any:
    """The entry is a different actor: the next sync makes it a record of its own. The history of each
    record it was compared with says who decided it."""
    item = _open_review(store, item_id)
    with store.transaction():
        store.close_review_item(item.id, "distinct")
        for cand in item.candidates:
            rec = store.record(cand[0])
            if rec is not None:
                store.update_record(rec.id, rec.fields, author=by, origin=origin, even_if_equal=True,
                                    note=f"possible duplicate #{item.id}: entry {item.instance}:{item.remote_id} "
                                         "is another actor")
    return item


def accept_suggestion(store: Store, suggestion_id: int, *, by: str = "coordinator") -> Settled:
    """Take a value changed in a Nextcloud card into the record; the next sync writes it everywhere."""
    s = _open_suggestion(store, suggestion_id)
    rec = store.record(s.record_id)
    if rec is None or rec.deleted:
        raise Refused(Text("suggestion #{id} belongs to record {record_id}, which no longer exists",
                           id=s.id, record_id=s.record_id))
    value = checked_value(rec.kind, s.field, s.value)
    with store.transaction():
        store.update_record(rec.id, {**rec.fields, s.field: value}, author=by, origin=s.instance,
                            note=Text("suggestion #{id} on {field} accepted", id=s.id, field=Term.field(s.field)))
        store.close_suggestion(s.id, "accepted")
    return Settled(s.field, value)


def reject_suggestion(store: Store, suggestion_id: int) -> Any:
    """Keep the record as it is (the card stays restored)."""
    s = _open_suggestion(store, suggestion_id)
    store.close_suggestion(s.id, "rejected")
    return s


def checked_value(kind: str, field: str, value: Any) -> Any:
    """A coordinator's value, cleaned as a member's would be; refused with the reason."""
    try:
        fdef = KINDS[kind].field(field)
    except KeyError:
        return value  # a field this version does not know: kept as given
    cleaned = clean(fdef.type, value, max_length=fdef.max_length)
    if cleaned.problem:
        raise Refused(Text("--value for {field} refused: {problem}", field=Term.field(field),
                           problem=cleaned.problem))
    if cleaned.value is None and field == KINDS[kind].title_field:
        raise Refused(Text("--value for {field} refused: it cannot be empty", field=Term.field(field)))
    return cleaned.value


# ---- look-ups ----------------------------------------------------------------------------------------------


def _record(store: Store, ref: str):
    return resolve_record(store, ref)


def _open_review(store: Store, item_id: int):
    item = next((r for r in store.review_items("open") if r.id == item_id), None)
    if item is None:
        raise Refused(Text("no open review item #{item_id}", item_id=item_id))
    return item


def _open_suggestion(store: Store, suggestion_id: int):
    s = store.suggestion(suggestion_id)
    if s is None or s.status != "open":
        raise Refused(Text("no open suggestion #{suggestion_id}", suggestion_id=suggestion_id))
    return s


# ---- many conflicts at once --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    conflict: Any  # ConflictRow
    value: Any = None
    skipped: str = ""  # why this conflict is left open ("" when a value was chosen)


def resolve_conflicts(store: Store, *, record: str | None = None, every: bool = False, take: str | None = None,
                      newest: bool = False, dry_run: bool = False, by: str = "coordinator") -> list[Choice]:
    """Settle the open conflicts of one record (`record`) or all of them (`every`), with one wiki's values
    (`take`) or each time the value entered last (`newest`). A conflict without such a candidate stays open
    and says why. `dry_run`: what would be chosen, nothing written."""
    if (record is None) == (not every):
        raise Refused(Text("give exactly one of --record RECORD or --all"))
    if (take is None) == (not newest):
        raise Refused(Text("give exactly one of --take INSTANCE or --newest"))
    rows = store.conflicts("open", record_id=resolve_record(store, record).id if record else None)
    choices = [_choose(c, take) for c in rows]
    if take is not None and rows and not any(take in c.candidates for c in rows):
        raise Refused(Text("no open conflict has a candidate from '{take}'", take=take))
    if dry_run:
        return choices
    with store.transaction():
        for rid in sorted({c.conflict.record_id for c in choices if not c.skipped}):
            rec = store.record(rid)
            fields = dict(rec.fields)
            done = [c for c in choices if c.conflict.record_id == rid and not c.skipped]
            for c in done:
                store.resolve_conflict(c.conflict.id, c.value, by=by)
                fields[c.conflict.field] = c.value
            ids = ", ".join(f"#{c.conflict.id}" for c in done)
            note = (Text("conflicts {ids} resolved with the values of {wiki}", ids=ids, wiki=take) if take
                    else Text("conflicts {ids} resolved with the newest values", ids=ids))
            store.update_record(rid, fields, author=by, origin="conflicts resolve", note=note)
    return choices


def _choose(c: Any, take: str | None) -> Choice:
    if take is not None:
        if take not in c.candidates:
            return Choice(c, skipped=Text("no candidate from {wiki}", wiki=take))
        return Choice(c, c.candidates[take])
    times = {i: t for i, t in (c.candidate_times or {}).items() if i in c.candidates and t}
    if len(times) < len(c.candidates):
        return Choice(c, skipped=Text("when each value was entered is not known"))
    newest = max(times.values())
    values = {json.dumps(c.candidates[i], sort_keys=True) for i, t in times.items() if t == newest}
    if len(values) > 1:
        return Choice(c, skipped=Text("two values were entered in the same second"))
    return Choice(c, next(c.candidates[i] for i, t in times.items() if t == newest))


# ---- two records that are one actor, and back ------------------------------------------------------------------

_MERGE = "merge:{keep}:{other}"
_DISTINCT = "distinct-records"


@dataclass
class Merge:
    keep: Any  # RecordRow of the record that stays
    other: Any  # RecordRow of the record merged into it (deleted)
    values: dict[str, Any]  # the kept record's values after the merge
    not_kept: dict[str, Any]  # the other's values the merge did not keep (in the history)
    moved: list[str] = field(default_factory=list)  # instances whose entry of `other` now belongs to `keep`
    doubled: list[str] = field(default_factory=list)  # instances holding an entry of both: the sync removes one


def merge_records(store: Store, keep_ref: str, other_ref: str, *, dry_run: bool = False,
                  by: str = "coordinator", same_place_m: float = IdentityConfig().same_place_m) -> Merge:
    """One record with every link of both, field by field (the twin rules, then the value entered most
    recently); the other record is deleted (its history stays) and, where both had an entry in one wiki, the
    next sync removes the other's entry through its deletion rules (kept if a member edited it since)."""
    keep, other = resolve_record(store, keep_ref), resolve_record(store, other_ref)
    if keep.id == other.id:
        raise Refused(Text("{record} cannot be merged with itself", record=describe_record(keep)))
    for r in (keep, other):
        if r.deleted:
            raise Refused(Text("record {record} is deleted: `restore` it first", record=describe_record(r)))
    if keep.kind != other.kind:
        raise Refused(Text("{first} and {second} are not of the same kind", first=describe_record(keep),
                           second=describe_record(other)))
    times_keep, times_other = _field_times(store, keep.id), _field_times(store, other.id)
    twin = reconcile(keep.kind, keep.fields, other.fields, same_place_m=same_place_m)
    values: dict[str, Any] = {}
    for name in KINDS[keep.kind].field_names:
        a, b = keep.fields.get(name), other.fields.get(name)
        if name in twin.values:
            values[name] = twin.values[name]
        elif a is None or b is None or a == b:
            values[name] = b if a is None else a
        else:  # a real disagreement: the value entered most recently, the other stays in the history
            values[name] = b if times_other.get(name, "") > times_keep.get(name, "") else a
    not_kept = {k: v for k, v in other.fields.items() if v is not None and values.get(k) != v}
    links_keep = {l.instance for l in store.links(record_id=keep.id)}
    other_links = store.links(record_id=other.id)
    out = Merge(keep, other, values, not_kept,
                moved=sorted(l.instance for l in other_links if l.instance not in links_keep),
                doubled=sorted(l.instance for l in other_links if l.instance in links_keep))
    if dry_run:
        return out
    with store.transaction():
        for link in other_links:
            if link.instance in out.moved:
                store.remove_link(other.id, link.instance)
                store.set_link(keep.id, link.instance, form_id=link.form_id, remote_id=link.remote_id,
                               snapshot=link.snapshot, written_hash=link.written_hash, pending=link.pending)
        for c in store.conflicts("open", record_id=other.id):
            store.resolve_conflict(c.id, None, by=f"{by} (merged into {short_id(keep.id)})")
        before = store.record(keep.id).revision
        store.update_record(keep.id, values, author=by, origin="match merge", even_if_equal=True,
                            note=Text("merged with {record}; not kept from it: {values}",
                                      record=describe_record(other), values=json.dumps(not_kept, ensure_ascii=False))
                            if not_kept
                            else Text("merged with {record}", record=describe_record(other)))
        store.tombstone_record(other.id, author=by, origin="match merge",
                               note=Text("merged into {record}", record=describe_record(keep)))
        store.set_state(_MERGE.format(keep=keep.id, other=other.id),
                        {"moved": out.moved, "keep_revision_before": before,
                         "keep_revision_after": store.record(keep.id).revision})
        _forget_distinct(store, keep.id, other.id)
    return out


@dataclass
class Split:
    keep: Any
    other: Any
    moved_back: list[str]
    values_restored: bool  # the kept record went back to its values before the merge


def split_record(store: Store, ref: str, *, by: str = "coordinator") -> Split:
    """Undo the last merge into this record: the merged record comes back as it was, with the entries it
    brought; the kept record goes back to its values before the merge unless it changed since (then it keeps
    them, and the history has both). The pair is remembered as two actors."""
    keep = resolve_record(store, ref)
    merges = [k for k in store.state_keys(f"merge:{keep.id}:")]
    if not merges:
        raise Refused(Text("record {record} has no merge to undo", record=describe_record(keep)))
    key = merges[-1]
    memo = store.get_state(key)
    other = store.record(key.rsplit(":", 1)[1])
    alive = [r.number for r in store.history(other.id) if not r.deleted]
    moved_back = []
    with store.transaction():
        store.restore(other.id, alive[-1], author=by)
        for inst in memo["moved"]:
            link = store.link(keep.id, inst)
            if link is not None:
                store.remove_link(keep.id, inst)
                store.set_link(other.id, inst, form_id=link.form_id, remote_id=link.remote_id,
                               snapshot=link.snapshot, written_hash=link.written_hash, pending=link.pending)
                moved_back.append(inst)
        unchanged = store.record(keep.id).revision == memo["keep_revision_after"]
        if unchanged:
            store.restore(keep.id, memo["keep_revision_before"], author=by)
        store.set_state(key, None)
        _remember_distinct(store, keep.id, other.id)
    return Split(keep, store.record(other.id), moved_back, unchanged)


@dataclass(frozen=True)
class RecordPair:
    """Two live records that may be one actor: what `match merge` or `match distinct` settles."""

    first: Any  # RecordRow, the older id first
    second: Any
    score: float
    evidence: tuple[str, ...]


def record_pairs(store: Store, settings: IdentityConfig = IdentityConfig()) -> list[RecordPair]:
    """Live records of one kind that the matcher scores at or above `review` against each other, best first;
    a pair a person called two actors (`match distinct A B`, `match split`) is never proposed again."""
    apart = distinct_pairs(store)
    out: list[RecordPair] = []
    for kind in KINDS:
        rows = {r.id: r for r in store.records(kind)}
        index = MatchIndex([], settings, kind)
        for rid in sorted(rows):
            found = index.match(rows[rid].fields)
            candidates = list(found.likely) + ([(found.sure, found.score, found.evidence)] if found.sure else [])
            for other, score, evidence in candidates:
                if frozenset((rid, other)) not in apart:
                    out.append(RecordPair(rows[other], rows[rid], score, tuple(evidence)))
            index.add(rid, rows[rid].fields)
    return sorted(out, key=lambda p: (-p.score, p.first.id, p.second.id))


def mark_distinct_records(store: Store, a_ref: str, b_ref: str) -> tuple[Any, Any]:
    """Two records a person says are two actors: remembered, never proposed as one again."""
    a, b = resolve_record(store, a_ref), resolve_record(store, b_ref)
    if a.id == b.id:
        raise Refused(Text("{record} is one record", record=describe_record(a)))
    _remember_distinct(store, a.id, b.id)
    return a, b


def distinct_pairs(store: Store) -> set[frozenset[str]]:
    return {frozenset(p) for p in (store.get_state(_DISTINCT) or [])}


def _remember_distinct(store: Store, a: str, b: str) -> None:
    pairs = distinct_pairs(store) | {frozenset((a, b))}
    store.set_state(_DISTINCT, sorted(sorted(p) for p in pairs))


def _forget_distinct(store: Store, a: str, b: str) -> None:
    pairs = distinct_pairs(store) - {frozenset((a, b))}
    store.set_state(_DISTINCT, sorted(sorted(p) for p in pairs))


def _field_times(store: Store, record_id: str) -> dict[str, str]:
    """Field -> when its current value was entered (the revision that last changed it), ISO text."""
    out: dict[str, str] = {}
    prev: dict[str, Any] = {}
    for r in store.history(record_id):
        for k in set(prev) | set(r.fields):
            if prev.get(k) != r.fields.get(k):
                out[k] = r.at.isoformat()
        prev = r.fields
    return out
