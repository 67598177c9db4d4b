"""The run report: what was read, written, refused and failed, and the requests sent to each instance."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .sync.engine import SyncResult
from .sync.model import (
    CreateEntry, CreateRecord, DeleteEntry, LinkEntry, OpenConflict, PlaceRecord, ResurrectRecord, ReviewDuplicate,
    TombstoneRecord, UpdateEntry, UpdateRecord,
)

ACTION_LABELS = {
    CreateRecord: "new records (from a member's entry)",
    UpdateRecord: "records updated (merged edits)",
    PlaceRecord: "records placed on the map from their address",
    CreateEntry: "entries created",
    UpdateEntry: "entries updated",
    DeleteEntry: "entries deleted",
    TombstoneRecord: "records deleted (tombstone kept)",
    ResurrectRecord: "deleted records back (edited elsewhere meanwhile)",
    OpenConflict: "conflicts opened or refreshed",
    ReviewDuplicate: "possible duplicates queued for review",
    LinkEntry: "links refreshed (no write)",
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


def categorise(message: str) -> str:
    for name, test in CATEGORIES:
        if test(message):
            return name
    return "other"


def summary(result: SyncResult, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready summary for `status --json`, the runs table and monitoring."""
    actions = [a for p in result.plans for a in p.actions] if result.dry_run else result.outcome.applied
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
                    for n in result.notices],
        "attention": {name: attention.get(name, 0) for name, _ in CATEGORIES} | {"other": attention.get("other", 0)},
        # instance_errors plus the wikis whose listing failed for a passing reason: every instance not synced
        "instances_not_synced": instance_errors(result),
        "requests": stats or {},
        "page_writes": dict(result.page_writes),
    }


def _grouped(notices: list, titles: dict[str, str]) -> list[str]:
    """One line per notice, except that the conflicts of one record share one line:
    "conflicts on commune, description, name"."""
    lines: list[str] = []
    conflict_line: dict[tuple[str, str | None], int] = {}
    conflict_fields: dict[int, list[str]] = {}
    for n in notices:
        who = f" [{titles.get(n.record_id) or n.record_id}]" if n.record_id else ""
        m = _CONFLICT.match(n.message)
        if m:
            key = (n.instance, n.record_id)
            if key not in conflict_line:
                conflict_line[key] = len(lines)
                conflict_fields[len(lines)] = []
                lines.append(f"  - {n.instance}{who}: ")
            conflict_fields[conflict_line[key]].append(m.group(1))
            continue
        lines.append(f"  - {n.instance}{who}: {n.message}")
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
    titles = titles or {}
    lines: list[str] = []
    if result.dry_run:
        lines.append("Dry run: nothing was written. Planned actions:")
        for p in result.plans:
            for a in p.actions:
                lines.append("  " + describe(a, titles))
        if not any(p.actions for p in result.plans):
            lines.append("  (none)")
    else:
        counts = Counter(type(a) for a in result.outcome.applied)
        lines.append("Sync done.")
        for cls, label in ACTION_LABELS.items():
            if counts.get(cls):
                lines.append(f"  {counts[cls]:5d} {label}")
        if result.page_writes:
            lines.append(f"  {sum(result.page_writes.values()):5d} wiki pages rewritten (dashboards, articles: "
                         "their content changed)")
        if not result.outcome.applied and not result.page_writes:
            lines.append("  nothing to do: every instance already agrees")
    for name, err in sorted(instance_errors(result).items()):
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


def describe(a, titles: dict[str, str]) -> str:
    who = titles.get(a.record_id) or a.record_id
    name = type(a).__name__
    if isinstance(a, CreateRecord):
        return f"{name} {a.fields.get('name')!r} from {a.instance}:{a.remote_id}"
    if isinstance(a, CreateEntry):
        return f"{name} in {a.instance}: {a.values.get('name') or who!r}"
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
