"""The run report: what was read, written, refused and failed, and the requests sent to each instance."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .sync.engine import SyncResult
from .sync.model import (
    CreateEntry, CreateRecord, DeleteEntry, LinkEntry, OpenConflict, ReviewDuplicate, TombstoneRecord, UpdateEntry,
    UpdateRecord,
)

ACTION_LABELS = {
    CreateRecord: "new records (from a member's entry)",
    UpdateRecord: "records updated (merged edits)",
    CreateEntry: "entries created",
    UpdateEntry: "entries updated",
    DeleteEntry: "entries deleted",
    TombstoneRecord: "records deleted (tombstone kept)",
    OpenConflict: "conflicts opened or refreshed",
    ReviewDuplicate: "possible duplicates queued for review",
    LinkEntry: "links refreshed (no write)",
}


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
    return {
        "dry_run": result.dry_run,
        "actions": dict(counts),
        "writes": {k: dict(v) for k, v in per_instance.items()},
        "skipped": [{"action": type(a).__name__, "record": a.record_id, "why": why}
                    for a, why in result.outcome.skipped],
        "instance_errors": result.instance_errors,
        "notices": [{"level": n.level, "instance": n.instance, "record": n.record_id, "message": n.message}
                    for n in result.notices],
        "requests": stats or {},
    }


def render(result: SyncResult, stats: dict[str, Any] | None = None, titles: dict[str, str] | None = None) -> str:
    """Readable text for a coordinator. `titles` maps record ids to names so that lines say who."""
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
        if not result.outcome.applied:
            lines.append("  nothing to do: every instance already agrees")
    for name, err in sorted(result.instance_errors.items()):
        lines.append(f"ERROR {name}: {err}")
    attention = [n for n in result.notices if n.level == "attention"]
    info = [n for n in result.notices if n.level != "attention"]
    if attention:
        lines.append(f"Needs a person ({len(attention)}):")
        for n in attention:
            who = f" [{titles.get(n.record_id, n.record_id)}]" if n.record_id else ""
            lines.append(f"  - {n.instance}{who}: {n.message}")
    if info:
        lines.append(f"Notes ({len(info)}):")
        for n in info[:50]:
            who = f" [{titles.get(n.record_id, n.record_id)}]" if n.record_id else ""
            lines.append(f"  - {n.instance}{who}: {n.message}")
        if len(info) > 50:
            lines.append(f"  ... and {len(info) - 50} more")
    if stats:
        lines.append("Requests: " + ", ".join(f"{name} {sum(c.values())}" for name, c in sorted(stats.items())))
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
