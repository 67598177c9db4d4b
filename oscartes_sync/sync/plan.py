"""The planner: (records, links, listings, open conflicts, policy) -> Plan. Pure: no I/O, no clock.

One call plans one kind. Four passes, so that every guard sees the whole kind before anything is decided:
1. new entries (no link): link to a sure match, queue an unsure one for review, or make a new record;
2. what each instance changed since the last sync, per field, and what it deleted;
3. the guards: mass blanking of a field, and the deletion limit;
4. per record: merge field by field, then the writes that bring each instance to the merged values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .merge import merge_field
from .model import (
    WRITTEN, CreateEntry, CreateRecord, DeleteEntry, ForgetLink, LinkEntry, LinkState, Observed, OpenConflict,
    Plan, PlanInput, RecordState, ResurrectRecord, ReviewDuplicate, TombstoneRecord, UpdateEntry, UpdateRecord,
    Values,
)

MISSING = object()


class NoMatch:
    """A person said this entry is distinct from its look-alikes."""
    sure = None
    likely = ()

Matcher = Callable[[Values, list[tuple[str, Values]]], Any]  # identity.match


class PoolMatcher:
    """Adapts a `match(candidate, pool)` function (tests) to the index interface of identity.MatchIndex."""

    def __init__(self, fn: Matcher, records: list[tuple[str, Values]]):
        self.fn, self.pool = fn, list(records)

    def add(self, rid: str, fields: Values) -> None:
        self.pool.append((rid, fields))

    def match(self, values: Values) -> Any:
        return self.fn(values, self.pool)


def seen_values(snapshot: Values) -> Values:
    return {k: v for k, v in snapshot.items() if k != WRITTEN}


def plan(inp: PlanInput, new_id: Callable[[], str], match: Matcher | None = None) -> Plan:
    out = Plan(inp.kind)
    ok = _usable_instances(inp, out)

    records = {rid: r for rid, r in inp.records.items() if r.kind == inp.kind}
    links = dict(inp.links)
    by_remote = {(l.instance, l.remote_id): l for l in links.values() if l.remote_id is not None}
    held = {rid for cands in inp.open_reviews.values() for rid in cands}
    live_records = [(r.id, r.fields) for r in records.values() if not r.deleted]
    if match is None:
        from ..identity import MatchIndex
        index: Any = MatchIndex(live_records)  # built once; a first import of thousands stays linear
    else:
        index = PoolMatcher(match, live_records)

    # 1. entries nobody has linked yet
    new_records: dict[str, RecordState] = {}
    # (record_id, instance) with no merge base: linked this run, or linked by a person with `match link`
    first_links: set[tuple[str, str]] = {k for k, l in links.items() if l.remote_id and not seen_values(l.snapshot)}

    def attach(rid: str, inst: str, remote_id: str, snapshot: Values) -> None:
        link = LinkState(rid, inst, remote_id, snapshot)
        links[(rid, inst)] = link
        by_remote[(inst, remote_id)] = link
        if not snapshot:
            first_links.add((rid, inst))

    created_at: dict[str, int] = {}  # record id -> index of its CreateRecord, whose fields pass 4 fills in

    def new_record(rid: str, inst: str, obs: Observed) -> None:
        new_records[rid] = RecordState(rid, inp.kind, {n: obs.values.get(n) for n in inp.fields_by_instance[inst]})
        index.add(rid, new_records[rid].fields)
        attach(rid, inst, obs.remote_id, dict(obs.values))
        created_at[rid] = len(out.actions)
        out.add(CreateRecord(rid, inp.kind, {}, inst, obs.remote_id, dict(obs.values), obs.user))

    def has_live_entry(rid: str, inst: str) -> bool:
        existing = links.get((rid, inst))
        return bool(existing and existing.remote_id in (inp.listings[inst].entries or {}))

    # Entries that carry a Source-Url go first: they name their record, so a lost store or an unrecorded
    # create relinks them to it (DECISIONS §2), and the members' own entries then match those records.
    unlinked = [(inst, rid) for inst in ok for rid in sorted(inp.listings[inst].entries or {})
                if (inst, rid) not in by_remote]
    unlinked.sort(key=lambda k: inp.listings[k[0]].entries[k[1]].source is None)
    for inst, remote_id in unlinked:
        obs = inp.listings[inst].entries[remote_id]
        if not obs.validated:
            out.note("info", inst, None, f"entry {remote_id} awaits validation: not copied")
            continue
        if (inst, remote_id) in inp.open_reviews:
            continue
        if obs.source is not None:
            src = records.get(obs.source) or new_records.get(obs.source)
            if src is None:
                new_record(obs.source, inst, obs)
            elif src.deleted:
                out.note("attention", inst, src.id, f"entry {remote_id} belongs to a deleted record: left as is; "
                                                    "`restore` the record or delete the entry by hand")
            elif has_live_entry(src.id, inst):
                _review(out, inst, remote_id, obs, ((src.id, 100.0),), held)  # two entries of one record
            else:
                attach(src.id, inst, remote_id, {})
            continue
        result = NoMatch if (inst, remote_id) in inp.distinct else index.match(obs.values)
        if result.sure is not None:
            if has_live_entry(result.sure, inst):
                _review(out, inst, remote_id, obs, ((result.sure, 100.0),), held)
            else:
                attach(result.sure, inst, remote_id, {})
        elif result.likely:
            _review(out, inst, remote_id, obs, tuple(result.likely), held)
        else:
            new_record(new_id(), inst, obs)

    every = {**records, **new_records}

    # 2. changes and deletions per instance
    changes: dict[str, dict[str, dict[str, Any]]] = {}  # record -> instance -> field -> value
    deleted_in: dict[str, list[str]] = {}
    for rid in sorted(every):
        for inst in ok:
            link = links.get((rid, inst))
            if link is None or link.remote_id is None or (rid, inst) in first_links:
                continue
            obs = (inp.listings[inst].entries or {}).get(link.remote_id)
            if obs is None:
                deleted_in.setdefault(rid, []).append(inst)
                continue
            if not obs.validated:
                continue
            ch = _changes(obs, link, inp.fields_by_instance[inst])
            if ch:
                changes.setdefault(rid, {})[inst] = ch

    # 3a. mass blanking: a field emptied in too many entries at once is a renamed field, not a member's edit;
    # it is neither propagated nor written back there this run
    frozen: set[tuple[str, str]] = set()
    for inst in ok:
        counted = sum(1 for (rid, i), l in links.items() if i == inst and l.remote_id and rid in every)
        limit = max(inp.policy.max_delete_ratio * counted, inp.policy.min_delete_count)
        blanked: dict[str, list[str]] = {}
        for rid, per in changes.items():
            snap = links[(rid, inst)].snapshot if (rid, inst) in links else {}
            for f, v in per.get(inst, {}).items():
                if v is None and snap.get(f) is not None:
                    blanked.setdefault(f, []).append(rid)
        for f, rids in blanked.items():
            if len(rids) > limit:
                for rid in rids:
                    del changes[rid][inst][f]
                frozen.add((inst, f))
                out.note("attention", inst, None,
                         f"{len(rids)} entries lost their '{f}' value at once: not propagated (renamed field?)")

    # 3b. deletions: propagate only if nothing changed elsewhere, and only within the limit
    to_delete: dict[str, list[str]] = {}
    recreate: dict[str, list[str]] = {}
    for rid, insts in deleted_in.items():
        rec = every[rid]
        if rec.deleted:
            continue
        changed_elsewhere = bool(changes.get(rid)) or any(
            _differs(rec.fields, seen_values(links[(rid, i)].snapshot), inp.fields_by_instance[i]) for i in insts)
        if changed_elsewhere:
            recreate[rid] = insts
            for i in insts:
                out.note("info", i, rid, "deleted here but changed elsewhere: the entry is re-created")
        else:
            to_delete[rid] = insts
    live = sum(1 for r in records.values() if not r.deleted)
    limit = max(inp.policy.max_delete_ratio * live, inp.policy.min_delete_count)
    if to_delete and len(to_delete) > limit and len(to_delete) > inp.policy.allow_deletes:
        out.note("attention", ",".join(sorted({i for v in to_delete.values() for i in v})), None,
                 f"{len(to_delete)} {inp.kind} deletions refused (limit {int(limit)} of {live}); "
                 f"accept once with `sync --allow-deletes {len(to_delete)}`")
        refused = set(to_delete)
        to_delete = {}
    else:
        refused = set()

    # 4. per record: merge, then writes
    for rid in sorted(every):
        rec = every[rid]
        if rid in refused:
            continue
        if rec.deleted:
            edited = [i for i in ok if (rid, i) in links and i in changes.get(rid, {})]
            if not edited:
                _finish_deletion(out, rec, links, inp, ok)
                continue
            # deleted elsewhere, but a member edited it here (a listing that failed hid it then): edit wins
            out.add(ResurrectRecord(rid, ",".join(edited)))
            out.note("info", ",".join(edited), rid, "deleted elsewhere but edited here: the record comes back")
            rec = RecordState(rec.id, rec.kind, rec.fields, deleted=False)
        if rid in to_delete:
            _delete(out, rec, to_delete[rid], links, inp, ok)
            continue
        _sync_record(out, rec, created_at.get(rid), changes.get(rid, {}), links, first_links, recreate.get(rid, []),
                     held, frozen, inp, ok)
    return out


def _usable_instances(inp: PlanInput, out: Plan) -> list[str]:
    ok = []
    for inst in inp.instances:
        listing = inp.listings.get(inst)
        if listing is None:
            continue
        if listing.entries is None:
            out.note("attention", inst, None, f"listing failed ({listing.error or 'unknown error'}): "
                                              "nothing read, written or deleted there")
            continue
        linked = any(l.instance == inst and l.remote_id for l in inp.links.values()
                     if inp.records.get(l.record_id) and inp.records[l.record_id].kind == inp.kind)
        if not listing.entries and linked:
            out.note("attention", inst, None, "listing came back empty although entries are linked: "
                                              "treated as failed, nothing deleted")
            continue
        ok.append(inst)
    return ok


def _review(out: Plan, inst: str, remote_id: str, obs: Observed, candidates: tuple, held: set[str]) -> None:
    best = candidates[0][0]
    out.add(ReviewDuplicate(best, inst, remote_id, dict(obs.values), tuple(candidates)))
    held.update(c[0] for c in candidates)
    out.note("attention", inst, best, f"entry {remote_id} may duplicate a known record: waiting in `match`")


def _changes(obs: Observed, link: LinkState, fields: tuple[str, ...]) -> dict[str, Any]:
    """Fields whose listed value differs from the snapshot; then what a hidden member revision changed."""
    ch: dict[str, Any] = {}
    for f in fields:
        if f not in obs.values:
            continue  # refused by cleaning: neither a change nor something to overwrite
        if obs.values[f] != link.snapshot.get(f, MISSING):
            ch[f] = obs.values[f]
    for f, v in (link.pending or {}).items():
        if f in fields and f not in ch and v != link.snapshot.get(f, MISSING):
            ch[f] = v
    return ch


def _differs(a: Values, b: Values, fields: tuple[str, ...]) -> bool:
    return any(f in b and a.get(f) != b.get(f) for f in fields)


def _sync_record(out: Plan, rec: RecordState, created_at: int | None, changes: dict[str, dict[str, Any]],
                 links: dict[tuple[str, str], LinkState], first_links: set[tuple[str, str]],
                 recreate: list[str], held: set[str], frozen: set[tuple[str, str]], inp: PlanInput,
                 ok: list[str]) -> None:
    rid = rec.id
    observed: dict[str, Observed] = {}
    for inst in ok:
        link = links.get((rid, inst))
        if link and link.remote_id is not None:
            obs = (inp.listings[inst].entries or {}).get(link.remote_id)
            if obs is not None:
                observed[inst] = obs

    merged: Values = dict(rec.fields)
    conflicts: set[str] = set()
    updated = {i: o.updated for i, o in observed.items()} if inp.policy.newest_wins else None
    all_fields = sorted({f for i in inp.instances for f in inp.fields_by_instance.get(i, ())})
    origins: set[str] = set()
    for f in all_fields:
        per = {inst: ch[f] for inst, ch in changes.items() if f in ch}
        base = rec.fields.get(f)
        # An entry linked this run has no merge base: it fills empty fields, and a different value is a conflict.
        for inst in ok:
            if (rid, inst) in first_links and inst in observed and f in observed[inst].values:
                v = observed[inst].values[f]
                if v != base and v is not None:
                    per[inst] = v
                    if base is not None:
                        per.setdefault(_holder(rid, f, base, observed, links, first_links), base)
        # An instance that changed a field it last saw with another value than the record's now (the
        # record moved on through another wiki while this one was unreachable or not yet written) edited
        # from a stale base: that is a conflict too, not a silent overwrite of the other edit.
        for inst in [i for i in per if (rid, i) not in first_links and (rid, i) in links]:
            if per[inst] != base and not _saw(links[(rid, inst)].snapshot, f, base):
                per.setdefault(_holder(rid, f, base, observed, links, first_links), base)
        if (rid, f) in inp.open_conflicts:
            cands = dict(inp.open_conflicts[(rid, f)])
            fresh = {**cands, **{i: observed[i].values[f] for i in observed if f in observed[i].values}}
            if fresh != cands:
                out.add(OpenConflict(rid, f, base, fresh))
            conflicts.add(f)
            continue
        outcome = merge_field(base, per, updated)
        if outcome.conflict:
            out.add(OpenConflict(rid, f, base, outcome.conflict))
            out.note("attention", ",".join(sorted(outcome.conflict)), rid, f"conflict on '{f}'")
            conflicts.add(f)
            continue
        if outcome.value != base:
            merged[f] = outcome.value
            origins.update(outcome.origins)

    _derive_insee(merged, rec.fields, conflicts, inp)

    if created_at is not None:
        a = out.actions[created_at]  # the record made in pass 1 gets its merged fields
        out.actions[created_at] = CreateRecord(rid, a.kind, merged, a.instance, a.remote_id, a.snapshot, a.author)
    elif merged != rec.fields:
        editors = sorted({f"{observed[i].user}@{i}" if observed.get(i) and observed[i].user else i for i in origins})
        out.add(UpdateRecord(rid, merged, ",".join(sorted(origins)) or "store", ",".join(editors) or "store"))

    restricted_somewhere = set().union(*inp.restricted.values()) if inp.restricted else set()
    for inst in ok:
        link = links.get((rid, inst))
        # a members-only value is not written where that field is public (DECISIONS §6)
        exposed = restricted_somewhere - inp.restricted.get(inst, frozenset())
        fields = tuple(f for f in inp.fields_by_instance[inst] if f not in exposed)
        if inst in observed:
            obs = observed[inst]
            if not obs.validated:
                continue
            written = link.snapshot.get(WRITTEN, {}) if link else {}
            diff = {}
            for f in fields:
                if f in conflicts or (inst, f) in frozen or f not in obs.values or obs.values[f] == merged.get(f):
                    continue
                # the wiki stores our value in its own form (purified HTML...): writing again would loop
                pair = written.get(f)
                if pair and pair[0] == merged.get(f) and pair[1] == obs.values[f]:
                    continue
                diff[f] = merged.get(f)
            if diff:
                out.add(UpdateEntry(rid, inst, obs.remote_id, diff, merged.get(_title(inp)), dict(obs.values)))
            elif (rid, inst) in first_links or link.pending or seen_values(link.snapshot) != obs.values:
                snap = dict(obs.values)
                if written:
                    snap[WRITTEN] = written
                out.add(LinkEntry(rid, inst, obs.remote_id, snap, clear_pending=bool(link.pending)))
        elif link is None or link.remote_id is None or inst in recreate:
            if rid in held:
                continue
            if link is not None and link.remote_id is not None:
                out.add(ForgetLink(rid, inst))
            values = {f: merged.get(f) for f in fields}
            out.add(CreateEntry(rid, inst, values))


def _derive_insee(merged: Values, before: Values, conflicts: set[str], inp: PlanInput) -> None:
    """The INSEE code follows the commune (the form promises to fill it): set when empty, and updated when
    the commune or postcode changed and nobody set the code by hand in the same edit. Reference data only:
    pure."""
    synced = {f for i in inp.instances for f in inp.fields_by_instance.get(i, ())}
    if not {"insee", "commune"} <= synced or "insee" in conflicts:
        return
    moved = any(merged.get(f) != before.get(f) for f in ("commune", "postcode"))
    if merged.get("insee") is not None and not (moved and merged.get("insee") == before.get("insee")):
        return
    from ..geo import commune_by_name

    found = commune_by_name(merged.get("commune"), merged.get("postcode"))
    if found is not None:
        merged["insee"] = found.insee


def _saw(snapshot: Values, f: str, value: Any) -> bool:
    """Whether the instance last held `value` in field `f` (as is, or in the form it stores it in)."""
    if f not in snapshot:
        return True  # never seen there: no base to be stale against
    pair = snapshot.get(WRITTEN, {}).get(f)
    return snapshot[f] == value or bool(pair and pair[0] == value and pair[1] == snapshot[f])


def _holder(rid: str, f: str, base: Any, observed: dict[str, Observed], links: dict, first_links: set) -> str:
    """Name the instance that holds the agreed value, for a readable conflict."""
    for inst, obs in observed.items():
        if (rid, inst) not in first_links and obs.values.get(f) == base:
            return inst
    return "store"


def _title(inp: PlanInput) -> str:
    from ..records import KINDS
    return KINDS[inp.kind].title_field


def _delete(out: Plan, rec: RecordState, gone_from: list[str], links: dict, inp: PlanInput, ok: list[str]) -> None:
    out.add(TombstoneRecord(rec.id, ",".join(gone_from)))
    for inst in gone_from:
        out.add(ForgetLink(rec.id, inst))
    _finish_deletion(out, rec, links, inp, ok, skip=set(gone_from))


def _finish_deletion(out: Plan, rec: RecordState, links: dict, inp: PlanInput, ok: list[str],
                     skip: set[str] = frozenset()) -> None:
    """Remove the entries of a deleted record, unless a member edited one since: that edit is not thrown away."""
    for inst in ok:
        if inst in skip:
            continue
        link = links.get((rec.id, inst))
        if link is None or link.remote_id is None:
            continue
        obs = (inp.listings[inst].entries or {}).get(link.remote_id)
        if obs is None:
            out.add(ForgetLink(rec.id, inst))
        elif _differs(obs.values, seen_values(link.snapshot), inp.fields_by_instance[inst]):
            out.note("attention", inst, rec.id, "entry of a deleted record was edited since: kept; "
                                                "`restore` the record or delete the entry by hand")
        else:
            out.add(DeleteEntry(rec.id, inst, link.remote_id, dict(obs.values)))
