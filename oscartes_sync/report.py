"""The run report: what was read, written, refused and failed, and the requests sent to each instance."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .coordinator import short_id
from .sync.engine import SyncResult
from .sync.model import (
    CreateEntry, CreateRecord, DeleteEntry, LinkEntry, OpenConflict, PlaceRecord, ResurrectRecord, ReviewDuplicate,
    TombstoneRecord, UpdateEntry, UpdateRecord,
)

ACTION_LABELS = {  # singular, plural
    CreateRecord: ("new record (from a member's entry)", "new records (from a member's entry)"),
    UpdateRecord: ("record updated (merged edits)", "records updated (merged edits)"),
    PlaceRecord: ("record placed on the map from its address", "records placed on the map from their address"),
    CreateEntry: ("entry created", "entries created"),
    UpdateEntry: ("entry updated", "entries updated"),
    DeleteEntry: ("entry deleted", "entries deleted"),
    TombstoneRecord: ("record deleted (tombstone kept)", "records deleted (tombstone kept)"),
    ResurrectRecord: ("deleted record back (edited elsewhere meanwhile)",
                      "deleted records back (edited elsewhere meanwhile)"),
    OpenConflict: ("conflict opened or refreshed", "conflicts opened or refreshed"),
    ReviewDuplicate: ("possible duplicate queued for review", "possible duplicates queued for review"),
    LinkEntry: ("link refreshed (no write)", "links refreshed (no write)"),
}


# Attention notices by what a person has to do about them. The planner's messages are matched on their
# wording; anything unrecognised is "other", so the counts always add up to what made the exit code 1.
_CONFLICT = re.compile(r"^conflict on '([^']+)'$")
CATEGORIES = (
    ("conflicts", lambda m: bool(_CONFLICT.match(m))),
    ("possible_duplicates", lambda m: "may duplicate" in m),
    ("refused_values", lambda m: re.search(r": \S+ refused \(", m) is not None),
    ("refused_deletions", lambda m: "deletions refused" in m),
)
# A listing that failed for a passing reason (connection refused, timeout) is a notice, not an instance error,
# in the engine; for a person it is the same thing: that wiki was not synced. Shown as an ERROR line.
_LISTING_FAILED = re.compile(r"^listing failed \((.*)\): nothing read, written or deleted there$", re.DOTALL)
MAX_ATTENTION_LINES = 30
MAX_INFO_LINES = 30
MAX_NAMES = 5  # records (or pages) named on one line of the report; `sync --json` lists them all


def categorise(message: str) -> str:
    for name, test in CATEGORIES:
        if test(message):
            return name
    return "other"


def named(record_id: str, titles: dict[str, str]) -> str:
    """How a report names a record: its title and short id, "Recyclerie des Ulis (1a2b3c4d)"."""
    title = titles.get(record_id)
    return f"{title} ({short_id(record_id)})" if title and title != record_id else short_id(record_id)


def _names(items: list[str], name=lambda x: x) -> str:
    """Up to MAX_NAMES names, then how many more."""
    shown = ", ".join(name(i) for i in items[:MAX_NAMES])
    return shown + (f" and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else "")


def _unique(items) -> list:
    return list(dict.fromkeys(items))


def _actions(result: SyncResult) -> list:
    return [a for p in result.plans for a in p.actions] if result.dry_run else result.outcome.applied


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


def summary(result: SyncResult, stats: dict[str, Any] | None = None,
            titles: dict[str, str] | None = None) -> dict[str, Any]:
    """A JSON-ready summary for `status --json`, the runs table and monitoring."""
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
    attention = Counter(categorise(n.message) for n in result.notices if n.level == "attention")
    return {
        "dry_run": result.dry_run,
        "actions": dict(counts),
        "writes": {k: dict(v) for k, v in per_instance.items()},
        "skipped": [{"action": type(a).__name__, "record": a.record_id, "why": why}
                    for a, why in result.outcome.skipped],
        "instance_errors": result.instance_errors,
        "notices": [{"level": n.level, "instance": n.instance, "record": n.record_id, "message": n.message}
                    | ({"records": list(n.records)} if n.records else {}) for n in result.notices],
        # every record this run acted on (or, dry run, would act on), by what was done and where
        "records_acted_on": [{"action": type(a).__name__, "record": a.record_id, "title": titles.get(a.record_id),
                              "instance": getattr(a, "instance", None)} for a in actions],
        "attention": {name: attention.get(name, 0) for name, _ in CATEGORIES} | {"other": attention.get("other", 0)},
        # instance_errors plus the wikis whose listing failed for a passing reason: every instance not synced
        "instances_not_synced": instance_errors(result),
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
    """Instance -> the record ids whose card (or event) was written, and deleted."""
    return {n: {"written": written.get(n, []), "deleted": deleted.get(n, [])} for n in sorted({*written, *deleted})}


def _grouped(notices: list, titles: dict[str, str]) -> list[str]:
    """One line per notice, except that the conflicts of one record share one line:
    "conflicts on commune, description, name"."""
    lines: list[str] = []
    conflict_line: dict[tuple[str, str | None], int] = {}
    conflict_fields: dict[int, list[str]] = {}
    for n in notices:
        who = f" [{named(n.record_id, titles)}]" if n.record_id else ""
        m = _CONFLICT.match(n.message)
        if m:
            key = (n.instance, n.record_id)
            if key not in conflict_line:
                conflict_line[key] = len(lines)
                conflict_fields[len(lines)] = []
                lines.append(f"  - {n.instance}{who}: ")
            conflict_fields[conflict_line[key]].append(m.group(1))
            continue
        about = f" ({_names(list(n.records), lambda r: named(r, titles))})" if n.records else ""
        lines.append(f"  - {n.instance}{who}: {n.message}{about}")
    for i, fields in conflict_fields.items():
        lines[i] += ("conflicts on " if len(fields) > 1 else "conflict on ") + ", ".join(fields)
    return lines


def _capped(lines: list[str], limit: int, hint: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"  ... and {len(lines) - limit} more ({hint})"]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def instance_errors(result: SyncResult) -> dict[str, str]:
    """Instances this run could not sync, with the reason: the engine's errors and the failed listings."""
    errors = dict(result.instance_errors)
    for n in result.notices:
        m = _LISTING_FAILED.match(n.message) if n.level == "attention" else None
        if m and n.instance not in errors:
            errors[n.instance] = f"{m.group(1)}; nothing read, written or deleted there"
    return errors


def _is_listing_failure(n) -> bool:
    return n.level == "attention" and bool(_LISTING_FAILED.match(n.message))


def needs_person_line(result: SyncResult, open_conflicts: int | None = None, open_reviews: int | None = None) -> str:
    """The report's last line: what a person has to look at, or that nothing needs one.

    `open_conflicts`/`open_reviews` are the store's counts (older ones included), when the caller has them;
    otherwise the ones this run noticed."""
    attention = Counter(categorise(n.message) for n in result.notices
                        if n.level == "attention" and not _is_listing_failure(n))
    conflicted = len({(n.instance, n.record_id) for n in result.notices
                      if n.level == "attention" and _CONFLICT.match(n.message)})
    parts = []
    n_conf = attention["conflicts"] if open_conflicts is None else open_conflicts
    if n_conf:
        per = f" on {_plural(conflicted, 'record', 'records')} this run" if conflicted and open_conflicts is None else ""
        parts.append(_plural(n_conf, "open conflict", "open conflicts") + per + " (`conflicts`)")
    n_rev = attention["possible_duplicates"] if open_reviews is None else open_reviews
    if n_rev:
        parts.append(_plural(n_rev, "possible duplicate", "possible duplicates") + " (`match`)")
    if attention["refused_values"]:
        parts.append(_plural(attention["refused_values"], "refused value", "refused values")
                     + " (to correct in the wiki)")
    if attention["refused_deletions"]:
        parts.append(_plural(attention["refused_deletions"], "refused deletion batch", "refused deletion batches")
                     + " (`sync --allow-deletes N`)")
    errors = sorted(instance_errors(result))
    if errors:
        parts.append(_plural(len(errors), "instance", "instances") + f" in error ({', '.join(errors)})")
    if attention["other"]:
        parts.append(_plural(attention["other"], "other notice", "other notices"))
    return ("Needs a person: " + "; ".join(parts) + ".") if parts else "Nothing needs a person."


def render(result: SyncResult, stats: dict[str, Any] | None = None, titles: dict[str, str] | None = None, *,
           open_conflicts: int | None = None, open_reviews: int | None = None) -> str:
    """Readable text for a coordinator. `titles` maps record ids to names so that lines say who. The last
    line always says what needs a person (see `needs_person_line`)."""
    titles = _titles_with_new(result, titles or {})
    lines: list[str] = []
    read, errors = instances_read(result), instance_errors(result)
    if result.dry_run:
        lines.append("Dry run: nothing was written. Planned actions:")
        for p in result.plans:
            for a in p.actions:
                lines.append("  " + describe(a, titles))
        if not any(p.actions for p in result.plans):
            lines.append("  (none)")
    else:
        if not errors:
            lines.append("Sync done.")
        elif read or not result.instances:
            lines.append(f"Sync done, except in {', '.join(sorted(errors))} (not synced: see ERROR below).")
        else:
            lines.append("Sync not done: no instance could be read (see ERROR below).")
        lines += _done_lines(result, titles)
        if nothing_to_do(result):
            lines.append("  nothing to do: every instance already agrees")
        elif not _wrote(result) and read:
            lines.append("  nothing written" + (" (what waits for a person is listed below)" if not errors else
                                                f" in {', '.join(read)}, the instances that were read"))
    for name, err in sorted(errors.items()):
        lines.append(f"ERROR {name}: {err}")
    attention = _grouped([n for n in result.notices if n.level == "attention" and not _is_listing_failure(n)],
                         titles)
    info = _grouped([n for n in result.notices if n.level != "attention"], titles)
    if attention:
        lines.append(f"Needs a person ({len(attention)}):")
        lines += _capped(attention, MAX_ATTENTION_LINES, "`conflicts`, `match` and `sync --json` list them all")
    if info:
        lines.append(f"Notes ({len(info)}):")
        lines += _capped(info, MAX_INFO_LINES, "`sync --json` lists them all")
    if stats:
        lines.append("Requests: " + ", ".join(f"{name} {sum(c.values())}" for name, c in sorted(stats.items())))
    lines.append(needs_person_line(result, open_conflicts, open_reviews))
    return "\n".join(lines)


def _done_lines(result: SyncResult, titles: dict[str, str]) -> list[str]:
    """One line per kind of action (and per instance written to), naming the records it acted on; then the
    cards, export files and wiki pages of the run."""
    def who(rid: str) -> str:
        return named(rid, titles)

    def line(n: int, label: tuple[str, str], where: str | None, names: str = "", why: str = "") -> str:
        return (f"  {n:5d} {label[n != 1]}" + (f" in {where}" if where else "") + (f" ({why})" if why else "")
                + (f": {names}" if names else ""))

    lines: list[str] = []
    for cls, label in ACTION_LABELS.items():
        done = [a for a in result.outcome.applied if type(a) is cls]
        for place in _unique(a.instance if a.writes_remote else None for a in done):
            here = [a for a in done if (a.instance if a.writes_remote else None) == place]
            lines.append(line(len(here), label, place, _names(_unique(a.record_id for a in here), who)))
    cloud = result.nextcloud
    if cloud is not None:
        for name in sorted({*cloud.cards_written, *cloud.cards_deleted}):
            if rids := cloud.cards_written.get(name):
                lines.append(line(len(rids), ("card written", "cards written"), name, _names(rids, who)))
            if rids := cloud.cards_deleted.get(name):
                lines.append(line(len(rids), ("card deleted", "cards deleted"), name, _names(rids, who)))
        for name in sorted({*cloud.events_written, *cloud.events_deleted}):
            if rids := cloud.events_written.get(name):
                lines.append(line(len(rids), ("calendar event written", "calendar events written"), name,
                                  _names(rids, who)))
            if rids := cloud.events_deleted.get(name):
                lines.append(line(len(rids), ("calendar event deleted", "calendar events deleted"), name,
                                  _names(rids, who)))
        for name, n in sorted(cloud.files_written.items()):
            if n:
                lines.append(line(n, ("export file written", "export files written"), name,
                                  why="content changed"))
    for name in sorted({*result.pages_written, *result.pages_removed}):
        if tags := result.pages_written.get(name):
            lines.append(line(len(tags), ("wiki page written", "wiki pages written"), name, _names(tags),
                              "content changed"))
        if tags := result.pages_removed.get(name):
            lines.append(line(len(tags), ("wiki page removed", "wiki pages removed"), name, _names(tags),
                              "no longer produced"))
    return lines


def describe(a, titles: dict[str, str]) -> str:
    """One planned action, naming its record by title and short id."""
    who = named(a.record_id, titles)
    name = type(a).__name__
    if isinstance(a, CreateRecord):
        return f"{name} {who} from {a.instance}:{a.remote_id}"
    if isinstance(a, CreateEntry):
        return f"{name} in {a.instance}: {who}"
    if isinstance(a, UpdateEntry):
        return f"{name} {a.instance}:{a.remote_id} ({who}): " + ", ".join(sorted(a.changes))
    if isinstance(a, UpdateRecord):
        return f"{name} {who} from {a.origin}"
    if isinstance(a, OpenConflict):
        return f"{name} {who} field {a.field}: " + ", ".join(f"{k}={v!r}" for k, v in a.candidates.items())
    if isinstance(a, (DeleteEntry, LinkEntry)):
        return f"{name} {a.instance}:{a.remote_id} ({who})"
    if isinstance(a, ReviewDuplicate):
        return f"{name} {a.instance}:{a.remote_id} may be {who}"
    return f"{name} {who}"
