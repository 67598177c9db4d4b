"""The run report: what changed, then what needs a person grouped by what to do about it, each with the command
(or the page) where it is done; in the reader's language, fitted to the terminal.

Messages are carried as `text.Text` values and translated only here, where they are shown: the JSON summary
(`sync --json`, the runs table) keeps the stable English. A notice is grouped by its `kind`, never by its words.
What an earlier run already reported, and is still true, is summarised ("still waiting since 2 December")
rather than repeated; everything comes out in a stable order (titles, then ids), so that two runs over the
same state read the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .coordinator import short_id
from .i18n import human_date, human_datetime
from .layout import Line, fit, terminal_width
from .sync.engine import SyncResult
from .sync.model import (
    CONFLICT, DUPLICATE, LISTING_FAILED, REFUSED_DELETION, REFUSED_VALUE, CreateEntry, CreateRecord, DeleteEntry,
    ForgetLink, LinkEntry, Notice, OpenConflict, PlaceRecord, ResurrectRecord, ReviewDuplicate, TombstoneRecord,
    UpdateEntry, UpdateRecord,
)
from .text import SEMICOLON, N_, N_plural, Plural, Term, Text, join, restored

# What the JSON summary counts, by notice kind (stable keys: monitoring reads them).
CATEGORIES = ("conflicts", "possible_duplicates", "refused_values", "refused_deletions")
_CATEGORY_OF = {CONFLICT: "conflicts", DUPLICATE: "possible_duplicates", REFUSED_VALUE: "refused_values",
                REFUSED_DELETION: "refused_deletions"}
# A listing that came back empty although entries are linked is a wiki failing in disguise: for a person, an
# instance to look at, like one that could not be read.
_INSTANCE_KINDS = {LISTING_FAILED, "empty_listing"}

# What each action did, as a count line of "what changed" (records and entries; a dry run says what it would do)
ACTION_LABELS: dict[type, tuple[str, str]] = {
    CreateRecord: N_plural("{n} new record, from a member's entry", "{n} new records, from members' entries"),
    UpdateRecord: N_plural("{n} record updated with a member's edits", "{n} records updated with members' edits"),
    PlaceRecord: N_plural("{n} record placed on the map from its address",
                          "{n} records placed on the map from their address"),
    TombstoneRecord: N_plural("{n} record deleted (its history is kept)",
                              "{n} records deleted (their history is kept)"),
    ResurrectRecord: N_plural("{n} deleted record back (edited in a wiki meanwhile)",
                              "{n} deleted records back (edited in a wiki meanwhile)"),
    CreateEntry: N_plural("{n} entry created in {where}", "{n} entries created in {where}"),
    UpdateEntry: N_plural("{n} entry updated in {where}", "{n} entries updated in {where}"),
    DeleteEntry: N_plural("{n} entry deleted in {where}", "{n} entries deleted in {where}"),
}
VERBOSE_LABELS: dict[type, tuple[str, str]] = {
    LinkEntry: N_plural("{n} link refreshed in {where} (nothing written)",
                        "{n} links refreshed in {where} (nothing written)"),
}
MAX_NAMES = 5  # records (or pages) named on one line; `sync --json` lists them all
MAX_ITEMS = 10  # items of one group of "needs a person" shown in full; the rest counted
MAX_NOTES = 10


# ---- what the store knows besides the run ---------------------------------------------------------------------


@dataclass
class Pending:
    """What waits for a person in the store after the run, and what earlier runs already reported: the report
    lists the new items in full and summarises the older ones."""

    conflicts: list = field(default_factory=list)  # open ConflictRows
    reviews: list = field(default_factory=list)  # open ReviewRows (entries that may duplicate a record)
    suggestions: list = field(default_factory=list)  # open SuggestionRows (a card edited in Nextcloud)
    seen: dict = field(default_factory=dict)  # notice key → when an earlier run first reported it
    errors_seen: dict = field(default_factory=dict)  # instance → since when it has not been synced
    started: datetime | None = None  # this run's start: an item opened before it is from an earlier run
    urls: dict[str, str] = field(default_factory=dict)  # wiki → its address (where a value is corrected)
    review_pages: dict[str, str] = field(default_factory=dict)  # wiki → its review page (DECISIONS §25), if any

    @classmethod
    def collect(cls, store, previous: Any = None, started: datetime | None = None,
                urls: dict[str, str] | None = None, review_pages: dict[str, str] | None = None) -> Pending:
        """From the store after a run; `previous` is the last finished run before it (a RunRow, or None)."""
        seen: dict[tuple, datetime] = {}
        errors_seen: dict[str, datetime] = {}
        if previous is not None:
            rep = previous.report or {}
            for d in rep.get("notices") or []:
                seen.setdefault(_key_of(d), _moment(d.get("first_seen")) or previous.started_at)
            since = rep.get("instances_not_synced_since") or {}
            for name in rep.get("instances_not_synced") or {}:
                errors_seen[name] = _moment(since.get(name)) or previous.started_at
        return cls(store.conflicts("open"), store.review_items("open"), store.suggestions("open"), seen,
                   errors_seen, started, dict(urls or {}), dict(review_pages or {}))

    def older(self, moment: datetime | None) -> bool:
        return self.started is not None and moment is not None and _aware(moment) < self.started


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _moment(text: Any) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(text)) if text else None
    except (TypeError, ValueError):
        return None


def _key_of(d: dict) -> tuple:
    return (d.get("level"), d.get("instance"), d.get("record"), d.get("message"))


def notice_key(n: Notice) -> tuple:
    """What makes two runs' notices the same item (their English text included)."""
    return (n.level, n.instance, n.record_id, str(n.message))


# ---- helpers ------------------------------------------------------------------------------------------------


def named(record_id: str, titles: dict[str, str]) -> str:
    """How a report names a record: its title and short id, "Recyclerie des Ulis (1a2b3c4d)"."""
    title = titles.get(record_id)
    return f"{title} ({short_id(record_id)})" if title and title != record_id else short_id(record_id)


def _names(items: list[str], name=lambda x: x) -> str:
    """Up to MAX_NAMES names, then how many more."""
    shown = ", ".join(name(i) for i in items[:MAX_NAMES])
    if len(items) <= MAX_NAMES:
        return shown
    more = len(items) - MAX_NAMES
    return Plural("{names} and {n} other", "{names} and {n} others", more, names=shown, n=more)


def _unique(items) -> list:
    return list(dict.fromkeys(items))


def _actions(result: SyncResult) -> list:
    return [a for p in result.plans for a in p.actions] if result.dry_run else result.outcome.applied


def _kind_of_actions(result: SyncResult) -> list[tuple[str, list]]:
    """(record kind, its actions applied or planned) in the order the kinds were synced."""
    if result.dry_run:
        return [(p.kind, list(p.actions)) for p in result.plans]
    kinds = {id(a): p.kind for p in result.plans for a in p.actions}
    out: dict[str, list] = {}
    for a in result.outcome.applied:
        out.setdefault(kinds.get(id(a), ""), []).append(a)
    return list(out.items())


def _titles_with_new(result: SyncResult, titles: dict[str, str]) -> dict[str, str]:
    """The store's titles plus those of records this run creates (a dry run has not stored them)."""
    new: dict[str, str] = {}
    for a in _actions(result):
        if isinstance(a, CreateRecord):
            title = a.fields.get("name") or a.snapshot.get("name")
        elif isinstance(a, CreateEntry):
            title = a.values.get("name")
        else:
            continue
        if title:
            new.setdefault(a.record_id, str(title))
    return {**new, **titles}


def _param(message: Any, name: str) -> Any:
    return message.params.get(name) if isinstance(message, Text) else None


# ---- what the run could not do --------------------------------------------------------------------------------


def instance_errors(result: SyncResult) -> dict[str, str]:
    """Instances this run could not sync, with the reason: the engine's errors and the failed listings."""
    errors = dict(result.instance_errors)
    for n in result.notices:
        if n.level == "attention" and n.kind == LISTING_FAILED and n.instance not in errors:
            reason = _param(n.message, "reason") or n.message
            errors[n.instance] = Text("{reason}; nothing read, written or deleted there", reason=reason)
    return errors


def instances_read(result: SyncResult) -> list[str]:
    """The configured instances this run could read (and so sync)."""
    errors = instance_errors(result)
    return [name for name in result.instances if name not in errors]


def _wrote(result: SyncResult) -> bool:
    cloud = result.nextcloud
    return bool(_actions(result) or result.page_writes or (cloud and any(cloud.writes.values())))


def nothing_to_do(result: SyncResult) -> bool:
    """Every instance was read, nothing was written anywhere and nothing waits for a person: only then does
    the report say that every instance already agrees."""
    return (not result.dry_run and not instance_errors(result) and not _wrote(result)
            and not any(n.level == "attention" for n in result.notices))


def category(n: Notice) -> str:
    return _CATEGORY_OF.get(n.kind, "other")


# ---- the JSON summary ---------------------------------------------------------------------------------------


def summary(result: SyncResult, stats: dict[str, Any] | None = None, titles: dict[str, str] | None = None,
            pending: Pending | None = None) -> dict[str, Any]:
    """A JSON-ready summary for `sync --json`, the runs table and monitoring (the README lists every key; they are
    stable, and the messages English)."""
    titles = _titles_with_new(result, titles or {})
    actions = _actions(result)
    cloud = result.nextcloud
    counts: Counter[str] = Counter()
    per_instance: dict[str, Counter[str]] = {}
    for a in actions:
        counts[type(a).__name__] += 1
        inst = getattr(a, "instance", None)
        if inst and a.writes_remote:
            per_instance.setdefault(inst, Counter())[type(a).__name__] += 1
    attention = Counter(category(n) for n in result.notices if n.level == "attention")
    now = (pending.started if pending and pending.started else datetime.now(timezone.utc)).isoformat()
    seen = pending.seen if pending else {}
    errors = instance_errors(result)
    errors_seen = pending.errors_seen if pending else {}
    return {
        "dry_run": result.dry_run,
        "actions": dict(counts),
        "writes": {k: dict(v) for k, v in per_instance.items()},
        "skipped": [{"action": type(a).__name__, "record": a.record_id, "why": why}
                    for a, why in result.outcome.skipped],
        "instance_errors": result.instance_errors,
        "notices": [{"level": n.level, "instance": n.instance, "record": n.record_id, "message": n.message,
                     "kind": n.kind or "other",
                     "first_seen": seen[k].isoformat() if (k := notice_key(n)) in seen else now}
                    | ({"records": list(n.records)} if n.records else {}) for n in result.notices],
        # every record this run acted on (or, dry run, would act on), by what was done and where
        "records_acted_on": [{"action": type(a).__name__, "record": a.record_id, "title": titles.get(a.record_id),
                              "instance": getattr(a, "instance", None)} for a in actions],
        "attention": {name: attention.get(name, 0) for name in CATEGORIES} | {"other": attention.get("other", 0)},
        # instance_errors plus the wikis whose listing failed for a passing reason: every instance not synced
        "instances_not_synced": errors,
        "instances_not_synced_since": {n: errors_seen[n].isoformat() if n in errors_seen else now for n in errors},
        "instances": list(result.instances),
        "nothing_to_do": nothing_to_do(result),
        "requests": stats or {},
        "page_writes": dict(result.page_writes),
        "pages": {w: {"written": result.pages_written.get(w, []), "removed": result.pages_removed.get(w, [])}
                  for w in sorted({*result.pages_written, *result.pages_removed})},
        "cards": _written_deleted(cloud.cards_written, cloud.cards_deleted) if cloud else {},
        "calendar_events": _written_deleted(cloud.events_written, cloud.events_deleted) if cloud else {},
        "export_files_written": dict(cloud.files_written) if cloud else {},
    }


def _written_deleted(written: dict[str, list[str]], deleted: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Instance → the record ids whose card (or event) was written, and deleted."""
    return {n: {"written": written.get(n, []), "deleted": deleted.get(n, [])} for n in sorted({*written, *deleted})}


# ---- the text --------------------------------------------------------------------------------------------------


def render(result: SyncResult, stats: dict[str, Any] | None = None, titles: dict[str, str] | None = None, *,
           pending: Pending | None = None, verbose: bool = False, width: int | None = None) -> str:
    """Readable text for a coordinator. `titles` maps record ids to names so that lines say who; `pending`
    what the store holds besides this run (open conflicts and duplicates, what earlier runs reported); `verbose`
    adds the requests sent and every planned action."""
    width = width or terminal_width()
    return "\n".join(fit(line, width) for line in report_lines(result, stats, titles, pending=pending,
                                                               verbose=verbose))


def render_run(run: Any, *, verbose: bool = False, width: int | None = None) -> str:
    """The report of an `app.RunSummary`."""
    return render(run.result, run.stats, run.titles, pending=run.pending, verbose=verbose, width=width)


def report_lines(result: SyncResult, stats: dict[str, Any] | None = None, titles: dict[str, str] | None = None, *,
                 pending: Pending | None = None, verbose: bool = False) -> list[Line]:
    titles = _titles_with_new(result, titles or {})
    when = human_datetime(pending.started if pending and pending.started else datetime.now(timezone.utc))
    errors = instance_errors(result)
    lines = [Line(_headline(result, when, errors))]
    lines += _changes(result, titles, verbose)
    todo = _todo(result, titles, pending, errors)
    if todo.lines:
        lines.append(Line(Text("To do for a person:")))
        lines += todo.lines
    lines += _notes(result, titles, pending, verbose)
    if verbose:
        lines += _requests(stats)
        if result.dry_run:
            lines.append(Line(Text("Every planned action:")))
            lines += [Line(describe(a, titles), 2) for p in result.plans for a in p.actions] or [
                Line(Text("(none)"), 2)]
    lines.append(Line(todo.summary))
    return lines


def _headline(result: SyncResult, when: str, errors: dict[str, str]) -> Text:
    if result.dry_run:
        return Text("Dry run of {when}: nothing was written; here is what the run would do.", when=when)
    read = [n for n in result.instances if n not in errors]
    if not errors:
        return Text("Sync of {when}: done.", when=when)
    if read or not result.instances:
        return Text("Sync of {when}: done, except in {instances} (not synced: see below).", when=when,
                    instances=", ".join(sorted(errors)))
    return Text("Sync of {when}: not done, no instance could be read (see below).", when=when)


# ---- what changed ----------------------------------------------------------------------------------------------


def _changes(result: SyncResult, titles: dict[str, str], verbose: bool) -> list[Line]:
    """One line per kind of change (and per instance written to), naming the records when few; grouped by
    record kind, then the Nextclouds' cards, events and files, then the wiki pages."""
    def who(rid: str) -> str:
        return named(rid, titles)

    lines: list[Line] = []
    labels = {**ACTION_LABELS, **(VERBOSE_LABELS if verbose else {})}
    for kind, actions in _kind_of_actions(result):
        section: list[Line] = []
        for cls, (one, many) in labels.items():
            done = [a for a in actions if type(a) is cls]
            for place in sorted(_unique(_place(a) for a in done), key=lambda p: p or ""):
                here = [a for a in done if _place(a) == place]
                rids = _unique(a.record_id for a in here)
                section.append(_count_line(Plural(one, many, len(here), n=len(here), where=place or ""),
                                           _names(rids, who)))
        if section:
            lines.append(Line(Text("{kind}:", kind=Term.kind(kind, heading=True)), 2))
            lines += section
    lines += _cloud_lines(result, who)
    lines += _page_lines(result)
    if lines:
        return [Line(Text("What changed:") if not result.dry_run else Text("What would change:"))] + lines
    if nothing_to_do(result):
        return [Line(Text("Nothing to do: every instance already agrees."), 2)]
    read = instances_read(result)
    if not read:
        return []
    if instance_errors(result):
        return [Line(Text("Nothing written in {instances}, the instances that were read.",
                          instances=", ".join(read)), 2)]
    return [Line(Text("Nothing written; what waits for a person is below."), 2)]


def _place(a) -> str | None:
    """Where an action wrote (None: only in the store)."""
    return a.instance if a.writes_remote or isinstance(a, LinkEntry) else None


def _count_line(label: Text, names: str = "") -> Line:
    return Line(Text("{label}: {names}", label=label, names=names) if names else label, 4, 6)


def _cloud_lines(result: SyncResult, who) -> list[Line]:
    cloud = result.nextcloud
    if cloud is None:
        return []
    out: list[Line] = []
    for name in sorted({*cloud.cards_written, *cloud.cards_deleted, *cloud.events_written, *cloud.events_deleted,
                        *(n for n, k in cloud.files_written.items() if k)}):
        here: list[Line] = []
        if rids := cloud.cards_written.get(name):
            here.append(_count_line(Plural("{n} card written in the address book", "{n} cards written in the "
                                           "address book", len(rids), n=len(rids)), _names(rids, who)))
        if rids := cloud.cards_deleted.get(name):
            here.append(_count_line(Plural("{n} card deleted from the address book", "{n} cards deleted from the "
                                           "address book", len(rids), n=len(rids)), _names(rids, who)))
        if rids := cloud.events_written.get(name):
            here.append(_count_line(Plural("{n} event written in the calendar", "{n} events written in the "
                                           "calendar", len(rids), n=len(rids)), _names(rids, who)))
        if rids := cloud.events_deleted.get(name):
            here.append(_count_line(Plural("{n} event deleted from the calendar", "{n} events deleted from the "
                                           "calendar", len(rids), n=len(rids)), _names(rids, who)))
        if n := cloud.files_written.get(name):
            here.append(_count_line(Plural("{n} open-data file written (its content changed)",
                                           "{n} open-data files written (their content changed)", n, n=n)))
        if here:
            out.append(Line(Text("Nextcloud {name}:", name=name), 2))
            out += here
    return out


def _page_lines(result: SyncResult) -> list[Line]:
    out: list[Line] = []
    for name in sorted({*result.pages_written, *result.pages_removed}):
        here: list[Line] = []
        if tags := result.pages_written.get(name):
            here.append(_count_line(Plural("{n} page written (its content changed)",
                                           "{n} pages written (their content changed)", len(tags), n=len(tags)),
                                    _names(tags)))
        if tags := result.pages_removed.get(name):
            here.append(_count_line(Plural("{n} page removed (no longer produced)",
                                           "{n} pages removed (no longer produced)", len(tags), n=len(tags)),
                                    _names(tags)))
        if here:
            out.append(Line(Text("Wiki {name}:", name=name), 2))
            out += here
    return out


# ---- what needs a person ---------------------------------------------------------------------------------------


@dataclass
class _Todo:
    lines: list[Line] = field(default_factory=list)
    counts: list[Text] = field(default_factory=list)  # one per group, for the last line

    @property
    def summary(self) -> Text:
        if not self.counts:
            return Text("Nothing needs a person.")
        return Text("Needs a person: {items}.", items=join(SEMICOLON, self.counts))

    def group(self, heading: Text, count: Text, items: list[Line], older: Text | None = None,
              hint: Text | None = None) -> None:
        self.lines.append(Line(heading, 2))
        shown = items[:MAX_ITEMS]
        self.lines += shown
        if len(items) > len(shown):
            self.lines.append(Line(hint or Text("... and {n} more (`sync --json` lists them all)",
                                                n=len(items) - len(shown)), 4))
        if older is not None:
            self.lines.append(Line(older, 4, 6))
        self.counts.append(count)


def _item(text: Any) -> Line:
    return Line(join("", ["- ", text]), 4, 2)


def _since(moments: list) -> str:
    return human_date(min(_aware(m) for m in moments))


def _todo(result: SyncResult, titles: dict[str, str], pending: Pending | None,
          errors: dict[str, str]) -> _Todo:
    todo = _Todo()
    attention = [n for n in result.notices if n.level == "attention"]
    _conflicts(todo, attention, titles, pending)
    _duplicates(todo, attention, titles, pending)
    _suggestions(todo, titles, pending)
    _refused_values(todo, [n for n in attention if n.kind == REFUSED_VALUE], titles, pending)
    _refused_deletions(todo, [n for n in attention if n.kind == REFUSED_DELETION], titles, pending)
    _instances(todo, errors, [n for n in attention if n.kind in _INSTANCE_KINDS and n.instance not in errors],
               pending)
    handled = {CONFLICT, DUPLICATE, REFUSED_VALUE, REFUSED_DELETION, *_INSTANCE_KINDS}
    if pending is not None and not result.dry_run:
        handled.add("suggestion")  # listed with the store's open suggestions
    _others(todo, [n for n in attention if n.kind not in handled], titles, pending)
    return todo


def _conflicts(todo: _Todo, attention: list[Notice], titles: dict[str, str], pending: Pending | None) -> None:
    # record → (fields, wikis); from the store when the caller has it (older ones too), else from this run
    new: dict[str, tuple[list, set]] = {}
    old: list = []
    if pending is not None:
        rows = sorted(pending.conflicts, key=lambda c: (c.record_id, c.field))
        for c in rows:
            if pending.older(c.opened_at):
                old.append(c)
            else:
                entry = new.setdefault(c.record_id, ([], set()))
                entry[0].append(c.field)
                entry[1].update(c.candidates)
        stored = {(c.record_id, c.field) for c in rows}
        for n in attention:  # a dry run's conflicts are not in the store
            f = str(_param(n.message, "field") or "")
            if n.kind == CONFLICT and n.record_id and (n.record_id, f) not in stored:
                entry = new.setdefault(n.record_id, ([], set()))
                entry[0].append(f)
                entry[1].update(n.instance.split(","))
                rows.append(n)
        total, records = len(rows), len({c.record_id for c in rows})
    else:
        for n in attention:
            if n.kind == CONFLICT and n.record_id:
                entry = new.setdefault(n.record_id, ([], set()))
                entry[0].append(str(_param(n.message, "field") or n.message))
                entry[1].update(n.instance.split(","))
        total, records = sum(len(f) for f, _ in new.values()), len(new)
    if not total:
        return
    count = Text("{conflicts} on {records}", conflicts=Plural("{n} conflict", "{n} conflicts", total, n=total),
                 records=Plural("{n} record", "{n} records", records, n=records))
    items = [_item(Text("{record}: {fields} ({wikis}) → `oscartes-sync conflicts --record {id}`",
                        record=named(rid, titles), fields=join(", ", [Term.field(f) for f in sorted(set(fields))]),
                        wikis=", ".join(sorted(wikis - {"store"})), id=short_id(rid)))
             for rid, (fields, wikis) in sorted(new.items(), key=lambda kv: _order(kv[0], titles))]
    older = None
    if old:
        n_old, r_old = len(old), len({c.record_id for c in old})
        older = Text("still waiting since {date}: {conflicts} on {records} (`oscartes-sync conflicts` lists them)",
                     date=_since([c.opened_at for c in old]),
                     conflicts=Plural("{n} conflict", "{n} conflicts", n_old, n=n_old),
                     records=Plural("{n} record", "{n} records", r_old, n=r_old))
    todo.group(Text("Settle the conflicts ({count}): keep one wiki's value, or give another",
                    count=count), count, items, older,
               Text("... and {n} more (`oscartes-sync conflicts` lists them all)", n=len(items) - MAX_ITEMS))
    _on_review_pages(todo, items, pending)


def _on_review_pages(todo: _Todo, items: list, pending: Pending | None) -> None:
    """Where else the new items of a group are decided: each wiki's review page (DECISIONS §25)."""
    if items and pending is not None and pending.review_pages:
        pages = ", ".join(url for _, url in sorted(pending.review_pages.items()))
        todo.lines.append(Line(Text("or in the wikis, on their review page: {pages}", pages=pages), 4, 6))


def _order(record_id: str, titles: dict[str, str]) -> tuple:
    return ((titles.get(record_id) or "").casefold(), record_id)


def _duplicates(todo: _Todo, attention: list[Notice], titles: dict[str, str], pending: Pending | None) -> None:
    if pending is not None:
        rows = sorted(pending.reviews, key=lambda r: (r.instance, r.remote_id, r.id))
        new = [r for r in rows if not pending.older(r.opened_at)]
        old = [r for r in rows if pending.older(r.opened_at)]
        items = [_item(_review_line(r, titles)) for r in new]
        stored = {(r.instance, r.remote_id) for r in rows}
        items += [_item(Text("{wiki}: {message}", wiki=n.instance, message=n.message)) for n in attention
                  if n.kind == DUPLICATE and (n.instance, _param(n.message, "entry")) not in stored]
        total = len(rows) + len(items) - len(new)
    else:
        notices = [n for n in attention if n.kind == DUPLICATE]
        items = [_item(Text("{wiki}: {message}", wiki=n.instance, message=n.message)) for n in notices]
        old, total = [], len(notices)
    if not total:
        return
    count = Plural("{n} possible duplicate", "{n} possible duplicates", total, n=total)
    older = None
    if old:
        older = Text("still waiting since {date}: {duplicates} (`oscartes-sync match` lists them)",
                     date=_since([r.opened_at for r in old]),
                     duplicates=Plural("{n} possible duplicate", "{n} possible duplicates", len(old), n=len(old)))
    todo.group(Text("Decide the possible duplicates ({count}): the same actor, or another one",
                    count=count), count, items, older,
               Text("... and {n} more (`oscartes-sync match` lists them all)", n=len(items) - MAX_ITEMS))
    _on_review_pages(todo, items, pending)


def _review_line(r: Any, titles: dict[str, str]) -> Text:
    best = r.candidates[0][0] if r.candidates else ""
    candidates = join(SEMICOLON, [Text("{title} ({record}, score {score:.0f})", title=titles.get(c[0]) or "?",
                                       record=short_id(c[0]), score=float(c[1])) for c in r.candidates])
    return Text("{wiki}, entry {entry} \"{title}\" may be {candidates} → `oscartes-sync match link {item} {record}` "
                "if it is, `oscartes-sync match distinct {item}` if not", wiki=r.instance, entry=r.remote_id,
                title=r.values.get("name") or "?", candidates=candidates, item=r.id, record=short_id(best))


def _suggestions(todo: _Todo, titles: dict[str, str], pending: Pending | None) -> None:
    if pending is None or not pending.suggestions:
        return
    rows = sorted(pending.suggestions, key=lambda s: (*_order(s.record_id, titles), s.field, s.id))
    new = [s for s in rows if not pending.older(s.observed_at)]
    old = [s for s in rows if pending.older(s.observed_at)]
    items = [_item(Text("{record}: {field} changed in the card of {instance} → `oscartes-sync suggestions "
                        "accept {id}` or `reject {id}`", record=named(s.record_id, titles),
                        field=Term.field(s.field), instance=s.instance, id=s.id)) for s in new]
    count = Plural("{n} suggestion", "{n} suggestions", len(rows), n=len(rows))
    older = None
    if old:
        older = Text("still waiting since {date}: {suggestions} (`oscartes-sync suggestions` lists them)",
                     date=_since([s.observed_at for s in old]),
                     suggestions=Plural("{n} suggestion", "{n} suggestions", len(old), n=len(old)))
    todo.group(Text("Accept or reject the suggestions made in Nextcloud ({count})", count=count), count, items,
               older)


def _split_seen(notices: list[Notice], pending: Pending | None) -> tuple[list[Notice], list[datetime]]:
    """(notices first reported by this run, when the others were first reported)."""
    if pending is None:
        return notices, []
    new, since = [], []
    for n in notices:
        first = pending.seen.get(notice_key(n))
        if first is None:
            new.append(n)
        else:
            since.append(first)
    return new, since


# Notices of what is no instance: named in the reader's language
_PSEUDO_INSTANCES = {"geocoder": N_("geocoder"), "articles": N_("articles")}


def _instance(name: str) -> str:
    return Text(_PSEUDO_INSTANCES[name]) if name in _PSEUDO_INSTANCES else name


def _who(n: Notice, titles: dict[str, str]) -> str:
    if n.record_id:
        return join("", [_instance(n.instance), f" [{named(n.record_id, titles)}]"])
    return _instance(n.instance)


def _refused_values(todo: _Todo, notices: list[Notice], titles: dict[str, str], pending: Pending | None) -> None:
    if not notices:
        return
    notices = sorted(notices, key=lambda n: (n.instance, *_order(n.record_id or "", titles), str(n.message)))
    new, since = _split_seen(notices, pending)
    urls = pending.urls if pending else {}
    items = []
    for n in new:
        entry = _param(n.message, "entry")
        url = urls.get(n.instance)
        if url and entry:
            edit = f"{url}?{entry}/edit"
            items.append(_item(Text("{who}: {message} → correct it in the wiki: {url}", who=_who(n, titles),
                                    message=n.message, url=edit)))
        else:
            items.append(_item(Text("{who}: {message}", who=_who(n, titles), message=n.message)))
    count = Plural("{n} refused value", "{n} refused values", len(notices), n=len(notices))
    older = None
    if since:
        older = Text("still waiting since {date}: {values} (`oscartes-sync sync --json` lists them)",
                     date=_since(since), values=Plural("{n} refused value", "{n} refused values", len(since),
                                                       n=len(since)))
    todo.group(Text("Correct the values the wikis hold and the service refuses ({count})", count=count), count,
               items, older)


def _refused_deletions(todo: _Todo, notices: list[Notice], titles: dict[str, str],
                       pending: Pending | None) -> None:
    if not notices:
        return
    notices = sorted(notices, key=lambda n: (n.instance, str(n.message)))
    new, since = _split_seen(notices, pending)
    items = [_item(Text("{who}: {message}: {records}", who=n.instance, message=n.message,
                        records=_names(list(n.records), lambda r: named(r, titles)))
                   if n.records else Text("{who}: {message}", who=n.instance, message=n.message)) for n in new]
    count = Plural("{n} refused batch of deletions", "{n} refused batches of deletions", len(notices),
                   n=len(notices))
    older = None
    if since:
        older = Text("still waiting since {date}: {batches}", date=_since(since),
                     batches=Plural("{n} refused batch of deletions", "{n} refused batches of deletions",
                                    len(since), n=len(since)))
    todo.group(Text("Accept or undo the deletions refused by the limit ({count})", count=count), count, items,
               older)


def _instances(todo: _Todo, errors: dict[str, str], notices: list[Notice], pending: Pending | None) -> None:
    if not errors and not notices:
        return
    seen = pending.errors_seen if pending else {}
    items = []
    for name in sorted(errors):
        if name in seen:
            items.append(_item(Text("{instance}, not synced since {when}: {reason}", instance=name,
                                    when=human_datetime(seen[name]), reason=errors[name])))
        else:
            items.append(_item(Text("{instance}: {reason}", instance=name, reason=errors[name])))
    items += [_item(Text("{instance}: {message}", instance=n.instance, message=n.message))
              for n in sorted(notices, key=lambda n: (n.instance, str(n.message)))]
    total = len(errors) + len({n.instance for n in notices} - set(errors))
    count = Plural("{n} instance in error", "{n} instances in error", total, n=total)
    todo.group(Text("Fix the instances in error ({count}); `oscartes-sync doctor` checks each one", count=count),
               count, items)


def _others(todo: _Todo, notices: list[Notice], titles: dict[str, str], pending: Pending | None) -> None:
    if not notices:
        return
    notices = sorted(notices, key=lambda n: (n.instance, *_order(n.record_id or "", titles), str(n.message)))
    new, since = _split_seen(notices, pending)
    items = [_item(_notice_text(n, titles)) for n in new]
    n = len(notices)
    older = None
    if since:
        older = Text("still true since {date}: {points}", date=_since(since),
                     points=Plural("{n} point reported before", "{n} points reported before", len(since),
                                   n=len(since)))
    todo.group(Plural("Look at this ({n} point)", "Look at these ({n} points)", n, n=n),
               Plural("{n} point to look at", "{n} points to look at", n, n=n), items, older)


def _notice_text(n: Notice, titles: dict[str, str]) -> Text:
    if n.records:
        return Text("{who}: {message} ({records})", who=_who(n, titles), message=n.message,
                    records=_names(list(n.records), lambda r: named(r, titles)))
    return Text("{who}: {message}", who=_who(n, titles), message=n.message)


# ---- notes and requests --------------------------------------------------------------------------------------


def _notes(result: SyncResult, titles: dict[str, str], pending: Pending | None, verbose: bool) -> list[Line]:
    notes = sorted((n for n in result.notices if n.level != "attention"),
                   key=lambda n: (n.instance, *_order(n.record_id or "", titles), str(n.message)))
    if not notes:
        return []
    new, since = _split_seen(notes, pending)
    limit = len(new) if verbose else MAX_NOTES
    lines = [Line(Text("Notes:"))] if new or since else []
    lines += [Line(join("", ["- ", _notice_text(n, titles)]), 2, 2) for n in new[:limit]]
    if len(new) > limit:
        lines.append(Line(Text("... and {n} more (`-v` or `sync --json` lists them all)", n=len(new) - limit), 2))
    if since:
        lines.append(Line(Text("{notes} already given by an earlier run, still true",
                               notes=Plural("{n} note", "{n} notes", len(since), n=len(since))), 2))
    return lines


def _requests(stats: dict[str, Any] | None) -> list[Line]:
    if not stats:
        return []
    out = [Line(Text("Requests sent:"))]
    for name, counts in sorted(stats.items()):
        detail = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        out.append(Line(Text("{instance}: {total} ({detail})", instance=name, total=sum(counts.values()),
                             detail=detail), 2))
    return out


def describe(a, titles: dict[str, str]) -> Text:
    """One planned action, naming its record by title and short id (`sync --dry-run -v`)."""
    who = named(a.record_id, titles)
    if isinstance(a, CreateRecord):
        return Text("new record {record} from {wiki}:{entry}", record=who, wiki=a.instance, entry=a.remote_id)
    if isinstance(a, CreateEntry):
        return Text("create in {wiki}: {record}", wiki=a.instance, record=who)
    if isinstance(a, UpdateEntry):
        return Text("update {wiki}:{entry} ({record}): {fields}", wiki=a.instance, entry=a.remote_id, record=who,
                    fields=join(", ", [Term.field(f) for f in sorted(a.changes)]))
    if isinstance(a, UpdateRecord):
        return Text("update {record} with the edits of {origin}", record=who, origin=a.origin)
    if isinstance(a, OpenConflict):
        return Text("conflict on {record}, {field}: {candidates}", record=who, field=Term.field(a.field),
                    candidates=", ".join(f"{k}={v!r}" for k, v in a.candidates.items()))
    if isinstance(a, DeleteEntry):
        return Text("delete {wiki}:{entry} ({record})", wiki=a.instance, entry=a.remote_id, record=who)
    if isinstance(a, LinkEntry):
        return Text("refresh the link of {wiki}:{entry} ({record})", wiki=a.instance, entry=a.remote_id, record=who)
    if isinstance(a, ReviewDuplicate):
        return Text("{wiki}:{entry} may be {record}: it waits for a person", wiki=a.instance, entry=a.remote_id,
                    record=who)
    if isinstance(a, TombstoneRecord):
        return Text("delete the record {record}", record=who)
    if isinstance(a, ResurrectRecord):
        return Text("bring back the record {record}", record=who)
    if isinstance(a, PlaceRecord):
        return Text("place {record} on the map", record=who)
    if isinstance(a, ForgetLink):
        return Text("forget the entry of {record} in {wiki}", record=who, wiki=a.instance)
    return Text("{action} {record}", action=type(a).__name__, record=who)


def evidence(items: list) -> list:
    """The evidence phrases of a review item as stored (messages kept as JSON), back as messages."""
    return [restored(e) for e in items]
