"""What a coordinator decides, as operations on the store: settle a conflict, link or separate a duplicate,
accept or reject a suggestion, restore a revision, and the read-outs those decisions are taken from.

The CLI, the review page of the wikis and the webhook server all call these functions, so a decision has
the same effect wherever it is taken. A decision that cannot be taken raises `Refused` with a message for a
person (the CLI prints it and exits 2); nothing is written then. Every decision is recorded in the record's
history with who took it (`by`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .clean import clean
from .config import Config
from .records import KINDS
from .store import Store


class Refused(Exception):
    """A decision that cannot be taken as asked; the message says why and what would work."""


UNSET: Any = object()  # "no value given", as opposed to the value None (empty)


# ---- read-outs ---------------------------------------------------------------------------------------------


def record_titles(store: Store) -> dict[str, str]:
    """Record id -> its name, so that what is shown to a person says who, not a UUID."""
    return {r.id: r.fields.get("name") or r.id for r in store.records(include_deleted=True)}


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


def history(store: Store, record_id: str) -> list[HistoryLine]:
    """Every revision of a record, each with the fields it changed."""
    _record(store, record_id)
    out: list[HistoryLine] = []
    prev: dict[str, Any] = {}
    for r in store.history(record_id):
        changed = tuple(sorted(k for k in set(prev) | set(r.fields) if prev.get(k) != r.fields.get(k)))
        out.append(HistoryLine(r, changed))
        prev = r.fields
    return out


def open_conflicts(store: Store) -> list[Any]:
    return store.conflicts("open")


def open_reviews(store: Store) -> list[Any]:
    return store.review_items("open")


def conflict(store: Store, conflict_id: int) -> tuple[Any, str]:
    """One conflict (open or settled) and the name of its record."""
    c = store.conflict(conflict_id)
    if c is None:
        raise Refused(f"no conflict #{conflict_id}")
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
                     by: str = "coordinator") -> Settled:
    """Settle a conflict with one instance's candidate (`take`) or a value of one's own; the next sync writes
    it everywhere."""
    if (take is None) == (value is UNSET):
        raise Refused("give exactly one of --take INSTANCE or --value JSON")
    c = store.conflict(conflict_id)
    if c is None or c.status != "open":
        raise Refused(f"no open conflict #{conflict_id}")
    if take is not None:
        if take not in c.candidates:
            raise Refused(f"conflict #{conflict_id} has no candidate from {take!r}; "
                          f"candidates: {', '.join(c.candidates)}")
        chosen = c.candidates[take]
    rec = store.record(c.record_id)
    if rec is None:
        raise Refused(f"conflict #{conflict_id} belongs to record {c.record_id}, which no longer exists")
    if take is None:
        chosen = checked_value(rec.kind, c.field, value)
    with store.transaction():
        store.resolve_conflict(c.id, chosen, by=by)
        store.update_record(c.record_id, {**rec.fields, c.field: chosen}, author=by,
                            origin="conflicts resolve", note=f"conflict #{c.id} on {c.field} resolved")
    return Settled(c.field, chosen)


def parse_json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(f"--value is not JSON ({exc}); a text needs quotes: --value '\"Orsay\"'") from None


def restore_record(store: Store, record_id: str, revision: int, *, by: str = "coordinator") -> int:
    """Make an old revision current again, as a new revision (nothing is lost); returns its number."""
    _record(store, record_id)
    if revision not in {r.number for r in store.history(record_id)}:
        raise Refused(f"record {record_id} has no revision {revision}")
    return store.restore(record_id, revision, author=by)


def link_duplicate(cfg: Config, store: Store, item_id: int, record_id: str) -> Any:
    """The entry waiting for review is this record: link them; the next sync merges them."""
    item = _open_review(store, item_id)
    _record(store, record_id)
    if store.link(record_id, item.instance) is not None:
        raise Refused(f"record {record_id} already has an entry in {item.instance}")
    wiki = next((w for w in cfg.wiki if w.name == item.instance), None)
    form_id = wiki.form_ids()[item.kind] if wiki else ""
    with store.transaction():
        store.set_link(record_id, item.instance, form_id=form_id, remote_id=item.remote_id, snapshot={})
        store.close_review_item(item.id, "merged")
    return item


def mark_distinct(store: Store, item_id: int) -> Any:
    """The entry is a different actor: the next sync makes it a record of its own."""
    item = _open_review(store, item_id)
    store.close_review_item(item.id, "distinct")
    return item


def accept_suggestion(store: Store, suggestion_id: int, *, by: str = "coordinator") -> Settled:
    """Take a value changed in a Nextcloud card into the record; the next sync writes it everywhere."""
    s = _open_suggestion(store, suggestion_id)
    rec = store.record(s.record_id)
    if rec is None or rec.deleted:
        raise Refused(f"suggestion #{s.id} belongs to record {s.record_id}, which no longer exists")
    value = checked_value(rec.kind, s.field, s.value)
    with store.transaction():
        store.update_record(rec.id, {**rec.fields, s.field: value}, author=by, origin=s.instance,
                            note=f"suggestion #{s.id} on {s.field} accepted")
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
        raise Refused(f"--value for {field} refused: {cleaned.problem}")
    if cleaned.value is None and field == KINDS[kind].title_field:
        raise Refused(f"--value for {field} refused: the {field} cannot be empty")
    return cleaned.value


# ---- look-ups ----------------------------------------------------------------------------------------------


def _record(store: Store, record_id: str):
    rec = store.record(record_id)
    if rec is None:
        raise Refused(f"no record {record_id}")
    return rec


def _open_review(store: Store, item_id: int):
    item = next((r for r in store.review_items("open") if r.id == item_id), None)
    if item is None:
        raise Refused(f"no open review item #{item_id}")
    return item


def _open_suggestion(store: Store, suggestion_id: int):
    s = store.suggestion(suggestion_id)
    if s is None or s.status != "open":
        raise Refused(f"no open suggestion #{suggestion_id}")
    return s
