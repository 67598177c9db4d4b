"""The planner: (records, links, listings, open conflicts, policy) -> Plan. Pure: no I/O, no clock.

One call plans one kind, in named passes over one `PlanState`, so that every guard sees the whole kind before
anything is decided:

  1. trusted_instances   which listings can be acted on at all
  2. link_new_entries    entries no link names: relink, link to a sure match, queue for review, or new record
  3. collect_changes     what each instance changed since the last sync, and what it deleted
  4. guard_blanking      a field emptied in too many entries at once is a renamed field: not propagated
  5. guard_deletions     a deletion propagates only if nothing changed elsewhere, and within the limit
  6. settle_records      per record: finish a deletion, bring a record back, delete, or merge, place and write

Everything the planner needs arrives in `PlanInput` as plain values, the duplicate matcher and the commune
look-up included: nothing here imports a target, the store, an HTTP library, reference data or a clock.
Each decision is a small function whose cases read as a table, one comment per case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..text import SEMICOLON, Plural, Term, Text, join
from .merge import merge_field
from .model import (
    CONFLICT, DUPLICATE, LISTING_FAILED, REFUSED_DELETION, WRITTEN, CreateEntry, CreateRecord, DeleteEntry,
    ForgetLink, LinkEntry, LinkState, Observed, OpenConflict,
    PlaceRecord, Plan, PlanInput, RecordState, ResurrectRecord, ReviewDuplicate, TombstoneRecord, TwinOutcome,
    UpdateEntry, UpdateRecord, Values,
)

MISSING = object()


# ---- the duplicate matcher, as the planner sees it ---------------------------------------------------------


class MatchResult(Protocol):
    sure: str | None  # the record this entry surely is
    likely: Any  # [(record id, score, evidence)] it may be, best first
    evidence: Any  # why it is surely `sure` (phrases for the history)


class MatchIndex(Protocol):
    """Answers "which record is this entry?" against the live records of the kind (identity.MatchIndex)."""

    def add(self, rid: str, fields: Values) -> None: ...

    def match(self, values: Values) -> MatchResult: ...


@dataclass(frozen=True)
class _NoMatch:
    """A person said this entry is distinct from its look-alikes (or no matcher is configured)."""

    sure: None = None
    likely: tuple = ()
    evidence: tuple = ()


class _NoIndex:
    def add(self, rid: str, fields: Values) -> None:
        pass

    def match(self, values: Values) -> _NoMatch:
        return _NoMatch()


class PoolMatcher:
    """Adapts a `match(candidate, pool)` function (tests) to the MatchIndex interface."""

    def __init__(self, fn: Callable[[Values, list[tuple[str, Values]]], Any], records: Iterable[tuple[str, Values]]):
        self.fn, self.pool = fn, list(records)

    def add(self, rid: str, fields: Values) -> None:
        self.pool.append((rid, fields))

    def match(self, values: Values) -> Any:
        return self.fn(values, self.pool)


class _LazyIndex:
    """The matcher's index, built on the first entry that needs it: a run where no entry reaches the matcher
    does not index the whole kind. Records made before that are indexed with it."""

    def __init__(self, build: Callable[[], MatchIndex]):
        self._build, self._index = build, None
        self._added: list[tuple[str, Values]] = []

    def add(self, rid: str, fields: Values) -> None:
        if self._index is None:
            self._added.append((rid, fields))
        else:
            self._index.add(rid, fields)

    def match(self, values: Values) -> Any:
        if self._index is None:
            self._index = self._build()
            for rid, fields in self._added:
                self._index.add(rid, fields)
            self._added = []
        return self._index.match(values)


def reaches_matcher(inst: str, obs: Observed, open_reviews: Any, distinct: Any) -> bool:
    """Whether an entry no link names is matched against the records (`_new_entry`): the engine hands the
    planner the pool of live records only when one does."""
    key = (inst, obs.remote_id)
    return obs.validated and key not in open_reviews and obs.source is None and key not in distinct


def seen_values(snapshot: Values) -> Values:
    return {k: v for k, v in snapshot.items() if k != WRITTEN}


# ---- the state the passes share ---------------------------------------------------------------------------


@dataclass
class PlanState:
    inp: PlanInput
    out: Plan
    new_id: Callable[[], str]
    index: MatchIndex
    ok: list[str] = field(default_factory=list)  # instances whose listing can be trusted, config order
    records: dict[str, RecordState] = field(default_factory=dict)  # this kind's records, new ones included
    links: dict[tuple[str, str], LinkState] = field(default_factory=dict)
    by_remote: dict[tuple[str, str], LinkState] = field(default_factory=dict)
    # (record_id, instance) with no merge base: linked this run, or linked by a person with `match link`
    first_links: set[tuple[str, str]] = field(default_factory=set)
    held: set[str] = field(default_factory=set)  # records waiting on a review: copied nowhere
    created_at: dict[str, int] = field(default_factory=dict)  # new record -> index of its CreateRecord
    changes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # record -> inst -> field -> value
    deleted_in: dict[str, list[str]] = field(default_factory=dict)  # record -> instances it vanished from
    frozen: set[tuple[str, str]] = field(default_factory=set)  # (instance, field) not propagated this run
    to_delete: dict[str, list[str]] = field(default_factory=dict)  # record -> instances it was deleted in
    recreate: dict[str, list[str]] = field(default_factory=dict)  # record -> instances to create it in again
    refused: set[str] = field(default_factory=set)  # records whose deletion waits for a person
    # (record, instance) -> fields where that wiki keeps its own spelling of the record's value (twins, §22)
    keep: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # (record, instance) -> why the entry linked there this run is surely that record (for the history)
    why: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def listed(self, inst: str) -> dict[str, Observed]:
        return self.inp.listings[inst].entries or {}

    def observed(self, rid: str, inst: str) -> Observed | None:
        link = self.links.get((rid, inst))
        if link is None or link.remote_id is None:
            return None
        return self.listed(inst).get(link.remote_id)

    def attach(self, rid: str, inst: str, remote_id: str, snapshot: Values) -> None:
        link = LinkState(rid, inst, remote_id, snapshot)
        self.links[(rid, inst)] = link
        self.by_remote[(inst, remote_id)] = link
        if not snapshot:
            self.first_links.add((rid, inst))


def plan(inp: PlanInput, new_id: Callable[[], str], match: Callable | None = None) -> Plan:
    """The plan of one kind. `match(candidate, pool)` replaces `inp.matcher` (tests use a toy one)."""
    st = _start(inp, new_id, match)
    trusted_instances(st)
    link_new_entries(st)
    collect_changes(st)
    guard_blanking(st)
    guard_deletions(st)
    settle_records(st)
    st.out.trusted = list(st.ok)
    st.out.considered = set(st.records)
    return st.out


def _start(inp: PlanInput, new_id: Callable[[], str], match: Callable | None) -> PlanState:
    records = {rid: r for rid, r in inp.records.items() if r.kind == inp.kind}

    def pool() -> list[tuple[str, Values]]:
        if inp.pool is not None:
            return list(inp.pool)
        if inp.known is not None:  # a plan of part of the kind matched without every record: a wrong answer
            raise ValueError("an entry reached the matcher but the planner was not given the pool of records")
        return [(r.id, r.fields) for r in records.values() if not r.deleted]

    if match is not None:
        index: MatchIndex = _LazyIndex(lambda: PoolMatcher(match, pool()))
    elif inp.matcher is not None:
        index = _LazyIndex(lambda: inp.matcher(pool()))  # built once: a first import of thousands stays linear
    else:
        index = _NoIndex()
    st = PlanState(inp, Plan(inp.kind), new_id, index, records=records, links=dict(inp.links))
    st.by_remote = {(l.instance, l.remote_id): l for l in st.links.values() if l.remote_id is not None}
    st.first_links = {k for k, l in st.links.items() if l.remote_id and not seen_values(l.snapshot)}
    st.held = {rid for cands in inp.open_reviews.values() for rid in cands}
    return st


# ---- 1. which listings can be trusted ---------------------------------------------------------------------


def trusted_instances(st: PlanState) -> None:
    inp = st.inp
    for inst in inp.instances:
        listing = inp.listings.get(inst)
        if listing is None:
            continue  # not read this run (no form for this kind there)
        if listing.entries is None:  # failed: never act on what was not read
            st.out.note("attention", inst, None, Text("listing failed ({reason}): nothing read, written or deleted "
                                                      "there", reason=listing.error or Text("unknown error")),
                        kind=LISTING_FAILED)
            continue
        if inp.linked_counts is not None:
            linked = inp.linked_counts.get(inst, 0) > 0
        else:
            linked = any(l.instance == inst and l.remote_id for l in inp.links.values()
                         if inp.records.get(l.record_id) and inp.records[l.record_id].kind == inp.kind)
        listed = listing.total if listing.total is not None else len(listing.entries)
        if not listed and linked:  # empty although entries are linked: a failure in disguise
            st.out.note("attention", inst, None, Text("the listing came back empty although entries are linked: "
                                                      "treated as failed, nothing deleted"), kind="empty_listing")
            continue
        st.ok.append(inst)


# ---- 2. entries no link names yet (DECISIONS §1, §2) -------------------------------------------------------


def link_new_entries(st: PlanState) -> None:
    # Entries that carry a Source-Url go first: they name their record, so a lost store or an unrecorded
    # create relinks them to it (DECISIONS §2), and the members' own entries then match those records.
    unlinked = [(inst, rid) for inst in st.ok for rid in sorted(st.listed(inst)) if (inst, rid) not in st.by_remote]
    unlinked.sort(key=lambda k: st.listed(k[0])[k[1]].source is None)
    for inst, remote_id in unlinked:
        _new_entry(st, inst, st.listed(inst)[remote_id])


def _new_entry(st: PlanState, inst: str, obs: Observed) -> None:
    inp, rid = st.inp, obs.remote_id
    if not obs.validated:  # awaiting moderation: copied nowhere until validated (§6)
        st.out.note("info", inst, None, Text("entry {entry} awaits validation in the wiki: not copied",
                                             entry=rid), kind="awaits_validation")
        return
    if (inst, rid) in inp.open_reviews:  # a person has not decided yet
        return
    if obs.source is not None:  # names its record by its Source-Url
        src = st.records.get(obs.source)
        if src is None and inp.known is not None and obs.source in inp.known:  # not given: plan again with it
            st.out.needs.add(obs.source)
        elif src is None:  # a record the store lost: rebuilt with the same id
            _new_record(st, obs.source, inst, obs)
        elif src.deleted:  # a record deleted meanwhile: the person decides
            st.out.note("attention", inst, src.id, Text(
                "entry {entry} belongs to a deleted record: left as is; restore the record "
                "(`oscartes-sync restore {record}`) or delete the entry in the wiki", entry=rid, record=src.id[:8]),
                kind="entry_of_deleted")
        elif _has_live_entry(st, src.id, inst):  # a second entry of one record in one wiki
            _review(st, inst, obs, ((src.id, 100.0),))
        else:  # the create an earlier run could not confirm
            st.attach(src.id, inst, rid, {})
        return
    found = _NoMatch() if (inst, rid) in inp.distinct else st.index.match(obs.values)
    why = tuple(getattr(found, "evidence", ()))
    named = {found.sure} if found.sure is not None else {c[0] for c in found.likely}
    if named - set(st.records):  # records the engine left out (nothing moved in them): plan again with them
        st.out.needs |= named - set(st.records)
    elif found.sure is not None and _has_live_entry(st, found.sure, inst):  # that record has its entry here
        _review(st, inst, obs, ((found.sure, 100.0, why + (Text("its entry in {wiki} is another", wiki=inst),)),))
    elif found.sure is not None:  # surely that record: linked, its fields merged like twins
        st.attach(found.sure, inst, rid, {})
        st.why[(found.sure, inst)] = why
    elif found.likely:  # maybe: copied nowhere until a person decides
        _review(st, inst, obs, tuple(found.likely))
    else:  # nobody like it: a new record
        _new_record(st, st.new_id(), inst, obs)


def _new_record(st: PlanState, rid: str, inst: str, obs: Observed) -> None:
    rec = RecordState(rid, st.inp.kind, {n: obs.values.get(n) for n in st.inp.fields_by_instance[inst]})
    st.records[rid] = rec
    st.index.add(rid, rec.fields)
    st.attach(rid, inst, obs.remote_id, dict(obs.values))
    st.created_at[rid] = len(st.out.actions)  # its fields are filled in by the merge of pass 6
    st.out.add(CreateRecord(rid, st.inp.kind, {}, inst, obs.remote_id, dict(obs.values), obs.user))


def _has_live_entry(st: PlanState, rid: str, inst: str) -> bool:
    existing = st.links.get((rid, inst))
    return bool(existing and existing.remote_id in st.listed(inst))


def _review(st: PlanState, inst: str, obs: Observed, candidates: tuple) -> None:
    best = candidates[0][0]
    st.out.add(ReviewDuplicate(best, inst, obs.remote_id, dict(obs.values), tuple(candidates)))
    st.held.update(c[0] for c in candidates)
    title = st.inp.title_field
    named = join(SEMICOLON, (Text("{title} ({record}, score {score:.0f})",
                                  title=st.records[c[0]].fields.get(title) or "?", record=c[0][:8], score=c[1])
                             for c in candidates if c[0] in st.records))
    st.out.note("attention", inst, best, Text("entry {entry} ({title}) may be {candidates}: waiting in `match`, "
                                              "copied nowhere", entry=obs.remote_id,
                                              title=obs.values.get(title) or "?", candidates=named), kind=DUPLICATE)


# ---- 3. what changed where --------------------------------------------------------------------------------


def collect_changes(st: PlanState) -> None:
    for rid in sorted(st.records):
        for inst in st.ok:
            link = st.links.get((rid, inst))
            if link is None or link.remote_id is None or (rid, inst) in st.first_links:
                continue  # nothing known there yet: no base to compare with
            obs = st.listed(inst).get(link.remote_id)
            if obs is None:  # linked, no longer listed: deleted there
                st.deleted_in.setdefault(rid, []).append(inst)
            elif obs.validated and (ch := _changes(obs, link, st.inp.fields_by_instance[inst])):
                st.changes.setdefault(rid, {})[inst] = ch


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


# ---- 4. mass blanking (DECISIONS §11) ---------------------------------------------------------------------


def guard_blanking(st: PlanState) -> None:
    """A field emptied in too many entries at once is a renamed field, not a member's edit: it is neither
    propagated nor written back there this run."""
    policy = st.inp.policy
    for inst in st.ok:
        if st.inp.linked_counts is not None:
            counted = st.inp.linked_counts.get(inst, 0)
        else:
            counted = sum(1 for (rid, i), l in st.links.items() if i == inst and l.remote_id and rid in st.records)
        limit = policy.limit(counted)
        blanked: dict[str, list[str]] = {}
        for rid, per in st.changes.items():
            snap = st.links[(rid, inst)].snapshot if (rid, inst) in st.links else {}
            for f, v in per.get(inst, {}).items():
                if v is None and snap.get(f) is not None:
                    blanked.setdefault(f, []).append(rid)
        for f, rids in blanked.items():
            if len(rids) > limit:
                st.out.unsettled.update(rids)  # noted again on every run until the field is fixed
                for rid in rids:
                    del st.changes[rid][inst][f]
                st.frozen.add((inst, f))
                st.out.note("attention", inst, None, Plural(
                    "{n} entry lost its value of {field} at once: not propagated (a field renamed in the form?)",
                    "{n} entries lost their value of {field} at once: not propagated (a field renamed in the form?)",
                    len(rids), n=len(rids), field=Term.field(f)), kind="mass_blanking")


# ---- 5. deletions (DECISIONS §11) -------------------------------------------------------------------------


def guard_deletions(st: PlanState) -> None:
    inp = st.inp
    for rid, insts in st.deleted_in.items():
        rec = st.records[rid]
        if rec.deleted:
            continue  # already a tombstone: pass 6 finishes it
        changed_elsewhere = bool(st.changes.get(rid)) or any(
            _differs(rec.fields, seen_values(st.links[(rid, i)].snapshot), inp.fields_by_instance[i]) for i in insts)
        if changed_elsewhere:  # deleted here, edited elsewhere: the edit wins, the entry comes back
            st.recreate[rid] = insts
            for i in insts:
                st.out.note("info", i, rid, Text("deleted here but changed elsewhere: the entry is re-created"))
        else:  # deleted here, untouched elsewhere: a deletion to propagate
            st.to_delete[rid] = insts
    live = inp.live_count if inp.live_count is not None else \
        sum(1 for r in inp.records.values() if r.kind == inp.kind and not r.deleted)
    n = len(st.to_delete)
    if n and inp.policy.refuses(n, live):  # too many at once: a person accepts them
        st.out.note("attention", ",".join(sorted({i for v in st.to_delete.values() for i in v})), None,
                    Text("{n} {kind} deletions refused (more than the limit of {limit} out of {count}); if they "
                         "are expected, accept them once with `oscartes-sync sync --allow-deletes {n}`",
                         n=n, kind=Term.kind(inp.kind), limit=inp.policy.limit(live), count=live),
                    records=tuple(sorted(st.to_delete)), kind=REFUSED_DELETION)
        st.refused = set(st.to_delete)
        st.out.unsettled |= st.refused
        st.to_delete = {}


def _differs(a: Values, b: Values, fields: tuple[str, ...]) -> bool:
    return any(f in b and a.get(f) != b.get(f) for f in fields)


# ---- 6. per record ----------------------------------------------------------------------------------------


def settle_records(st: PlanState) -> None:
    for rid in sorted(st.records):
        rec = st.records[rid]
        edited = [i for i in st.ok if (rid, i) in st.links and i in st.changes.get(rid, {})]
        if rid in st.refused:  # its deletion waits for a person: nothing else moves
            continue
        if rec.deleted and not edited:  # a tombstone: remove what is left of it
            _finish_deletion(st, rec)
            continue
        if rec.deleted:  # deleted elsewhere, but a member edited it here (a failed listing hid it): edit wins
            st.out.add(ResurrectRecord(rid, ",".join(edited)))
            st.out.note("info", ",".join(edited), rid, Text("deleted elsewhere but edited here: the record comes "
                                                            "back"))
            rec = RecordState(rec.id, rec.kind, rec.fields, deleted=False)
        if rid in st.to_delete:  # deleted in a wiki, within the limit: everywhere
            _delete(st, rec, st.to_delete[rid])
            continue
        observed = {inst: obs for inst in st.ok if (obs := st.observed(rid, inst)) is not None}
        merged = _merge(st, rec, observed)
        _record_merge(st, rec, merged, observed)
        _place(st, rec, merged)
        _write_instances(st, rec, merged)


@dataclass
class Merged:
    """One record after this run's edits: its values, the fields left in conflict, where the changes came from."""

    values: Values
    conflicts: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)


def _merge(st: PlanState, rec: RecordState, observed: dict[str, Observed]) -> Merged:
    inp, rid = st.inp, rec.id
    out = Merged(dict(rec.fields))
    merged, conflicts = out.values, out.conflicts
    updated = {i: o.updated for i, o in observed.items()} if inp.policy.newest_wins else None
    twins = _twin_outcomes(st, rec, observed)
    for f in sorted({f for i in inp.instances for f in inp.fields_by_instance.get(i, ())}):
        base = rec.fields.get(f)
        per = _proposals(st, rid, f, base, observed, twins)
        if (rid, f) in inp.open_conflicts:  # already waiting for a person: refresh its candidates only
            cands = dict(inp.open_conflicts[(rid, f)])
            fresh = {**cands, **{i: observed[i].values[f] for i in observed if f in observed[i].values}}
            if fresh != cands:
                st.out.add(OpenConflict(rid, f, base, fresh, _times(observed, fresh)))
            conflicts.add(f)
            continue
        outcome = merge_field(base, per, updated)
        if outcome.conflict:  # several different values: a conflict, nothing written for this field
            st.out.add(OpenConflict(rid, f, base, outcome.conflict, _times(observed, outcome.conflict)))
            st.out.note("attention", ",".join(sorted(outcome.conflict)), rid,
                        Text("conflict on {field}", field=Term.field(f)), kind=CONFLICT)
            conflicts.add(f)
        elif outcome.value != base:  # one new value: it wins
            merged[f] = outcome.value
            out.origins.update(outcome.origins)
    _derive_insee(merged, rec.fields, conflicts, inp)
    return out


def _twin_outcomes(st: PlanState, rec: RecordState, observed: dict[str, Observed]) -> dict[str, TwinOutcome]:
    """Instance -> how the record settles with the entry linked there this run (its twin). Several twins at
    once are settled one after the other, and each then proposes the value they all settled on."""
    inp, rid = st.inp, rec.id
    twins = [i for i in st.ok if (rid, i) in st.first_links and i in observed]
    if inp.reconcile is None or not twins:
        return {}
    held = [o.updated for i, o in observed.items() if (rid, i) not in st.first_links]
    acc, acc_updated = dict(rec.fields), max(held, default="")
    outcomes: dict[str, TwinOutcome] = {}
    for inst in twins:
        obs = observed[inst]
        outcomes[inst] = inp.reconcile(inp.kind, acc, obs.values, acc_updated, obs.updated)
        acc.update(outcomes[inst].values)
        acc.update({f: v for f, v in obs.values.items() if acc.get(f) is None and v is not None})
        acc_updated = max(acc_updated, obs.updated)
    return {i: TwinOutcome({f: acc[f] for f in o.values}, o.keep_twin, o.keep_base) for i, o in outcomes.items()}


def _times(observed: dict[str, Observed], candidates: dict[str, Any]) -> dict[str, str]:
    return {i: observed[i].updated for i in sorted(candidates) if i in observed and observed[i].updated}


def _proposals(st: PlanState, rid: str, f: str, base: Any, observed: dict[str, Observed],
               twins: dict[str, TwinOutcome]) -> dict[str, Any]:
    """Instance -> the value it proposes for field `f` this run."""
    per = {inst: ch[f] for inst, ch in st.changes.get(rid, {}).items() if f in ch}
    # An entry linked this run has no merge base. Its twin rules settle what they can (§22): the value they
    # settle on is proposed (the record's own: nothing), and a wiki that keeps its spelling is remembered.
    for inst, twin in twins.items():
        if f in twin.values:
            if twin.values[f] != base:
                per[inst] = twin.values[f]
            if f in twin.keep_twin:
                st.keep.setdefault((rid, inst), set()).add(f)
            if f in twin.keep_base:
                for held in (i for i, o in observed.items() if i not in twins and o.values.get(f) == base):
                    st.keep.setdefault((rid, held), set()).add(f)
    # What they leave: the entry fills empty fields, and a different value is a conflict.
    for inst in st.ok:
        if (rid, inst) in st.first_links and inst in observed and f in observed[inst].values \
                and f not in (twins[inst].values if inst in twins else ()):
            v = observed[inst].values[f]
            if v != base and v is not None:
                per[inst] = v
                if base is not None:
                    per.setdefault(_holder(st, rid, f, base, observed), base)
    # An instance that changed a field it last saw with another value than the record's now (the record moved
    # on through another wiki while this one was unreachable or not yet written) edited from a stale base: a
    # conflict too, not a silent overwrite of the other edit.
    for inst in [i for i in per if (rid, i) not in st.first_links and (rid, i) in st.links]:
        if per[inst] != base and not _saw(st.links[(rid, inst)].snapshot, f, base):
            per.setdefault(_holder(st, rid, f, base, observed), base)
    return per


def _record_merge(st: PlanState, rec: RecordState, merged: Merged, observed: dict[str, Observed]) -> None:
    rid = rec.id
    note = _twin_note(st, rid, merged, observed)
    if rid in st.created_at:  # the record made in pass 2 gets its merged fields
        i = st.created_at[rid]
        a = st.out.actions[i]
        st.out.actions[i] = CreateRecord(rid, a.kind, dict(merged.values), a.instance, a.remote_id, a.snapshot,
                                         a.author, note)
    elif merged.values != rec.fields or note:  # edits merged, or a twin's values kept in the history
        editors = sorted({f"{observed[i].user}@{i}" if observed.get(i) and observed[i].user else i
                          for i in merged.origins})
        st.out.add(UpdateRecord(rid, dict(merged.values), ",".join(sorted(merged.origins)) or "store",
                                ",".join(editors) or "store", note))


def _twin_note(st: PlanState, rid: str, merged: Merged, observed: dict[str, Observed]) -> str:
    """What a twin linked this run held that the record does not keep: named in the history, with its origin,
    so that no value is lost (DECISIONS §22)."""
    parts = []
    for inst, obs in observed.items():
        if (rid, inst) not in st.first_links:
            continue
        lost = {f: v for f, v in sorted(obs.values.items()) if v is not None and v != merged.values.get(f)
                and f not in merged.conflicts}
        why = st.why.get((rid, inst))
        linked = (Text("twin entry {entry} in {wiki} linked ({evidence})", entry=obs.remote_id, wiki=inst,
                       evidence=join(", ", why)) if why
                  else Text("twin entry {entry} in {wiki} linked", entry=obs.remote_id, wiki=inst))
        parts.append(join(SEMICOLON, [linked, Text("not kept from it: {values}",
                                              values=json.dumps(lost, ensure_ascii=False))]) if lost else linked)
    return join(SEMICOLON, parts) if parts else ""


def _write_instances(st: PlanState, rec: RecordState, merged: Merged) -> None:
    """The writes that bring each trusted instance to the merged values."""
    inp, rid = st.inp, rec.id
    restricted_somewhere = set().union(*inp.restricted.values()) if inp.restricted else set()
    for inst in st.ok:
        link = st.links.get((rid, inst))
        # a members-only value is not written where that field is public (DECISIONS §6)
        exposed = restricted_somewhere - inp.restricted.get(inst, frozenset())
        fields = tuple(f for f in inp.fields_by_instance[inst] if f not in exposed)
        obs = st.observed(rid, inst)
        if obs is not None:  # listed there: update what differs, or just refresh what we know
            if obs.validated:
                _update_or_refresh(st, rid, inst, link, obs, fields, merged)
        elif link is None or link.remote_id is None or inst in st.recreate.get(rid, []):  # no entry there
            if rid in st.held:
                continue  # may duplicate an entry waiting for review: copied nowhere yet (§1)
            if link is not None and link.remote_id is not None:
                st.out.add(ForgetLink(rid, inst))
            st.out.add(CreateEntry(rid, inst, {f: merged.values.get(f) for f in fields}))


def _update_or_refresh(st: PlanState, rid: str, inst: str, link: LinkState, obs: Observed,
                       fields: tuple[str, ...], m: Merged) -> None:
    merged = m.values
    written = link.snapshot.get(WRITTEN, {}) if link else {}
    diff = {}
    # this wiki keeps its own spelling of these (twins, §22): remembered as if it stored our value its way
    kept = {f: [merged.get(f), obs.values[f]] for f in sorted(st.keep.get((rid, inst), ()))
            if f in obs.values and obs.values[f] != merged.get(f) and written.get(f) != [merged.get(f), obs.values[f]]}
    for f in fields:
        if f in m.conflicts or (inst, f) in st.frozen or f not in obs.values or obs.values[f] == merged.get(f):
            continue  # in conflict, frozen, refused by cleaning, or already right
        if f in kept:
            continue
        pair = written.get(f)
        if pair and pair[0] == merged.get(f) and pair[1] == obs.values[f]:
            continue  # the wiki stores our value in its own form (purified HTML...): writing again would loop
        diff[f] = merged.get(f)
    if diff:
        st.out.add(UpdateEntry(rid, inst, obs.remote_id, diff, merged.get(st.inp.title_field), dict(obs.values),
                               kept))
    elif (rid, inst) in st.first_links or link.pending or kept or seen_values(link.snapshot) != obs.values:
        snap = dict(obs.values)
        if written or kept:
            snap[WRITTEN] = {**written, **kept}
        st.out.add(LinkEntry(rid, inst, obs.remote_id, snap, clear_pending=bool(link.pending)))


def _place(st: PlanState, rec: RecordState, m: Merged) -> None:
    """A record with an address and no point gets the point found for its address (written to every wiki with
    the rest). A point the service placed moves with the address; a member's pin is never touched."""
    inp, v = st.inp, m.values
    synced = {f for i in inp.instances for f in inp.fields_by_instance.get(i, ())}
    if inp.place_of is None or not {"latitude", "longitude"} <= synced or {"latitude", "longitude"} & m.conflicts:
        return
    lat, lon = v.get("latitude"), v.get("longitude")
    if lat is not None or lon is not None:
        ours = inp.placed.get(rec.id) == (lat, lon)
        moved = rec.id in inp.moved or any(v.get(f) != rec.fields.get(f) for f in inp.address_fields)
        if not (ours and moved and (lat, lon) == (rec.fields.get("latitude"), rec.fields.get("longitude"))):
            return  # a member's pin (or half of one), or our point of an address that did not move
    point = inp.place_of(v)
    if point is None and lat is None and lon is None and any(v.get(f) for f in inp.address_fields):
        st.out.unsettled.add(rec.id)  # an address not placed yet (geocoder off, unreachable, over budget)
    if point is None or (point.latitude, point.longitude) == (lat, lon):
        return
    v["latitude"], v["longitude"] = point.latitude, point.longitude
    st.out.add(PlaceRecord(rec.id, point.latitude, point.longitude, point.precision, point.note))
    st.out.note("info", "geocoder", rec.id, point.note)


def _derive_insee(merged: Values, before: Values, conflicts: set[str], inp: PlanInput) -> None:
    """The INSEE code follows the commune (the form promises to fill it): set when empty, and updated when
    the commune or postcode changed and nobody set the code by hand in the same edit."""
    synced = {f for i in inp.instances for f in inp.fields_by_instance.get(i, ())}
    if inp.insee_of is None or not {"insee", "commune"} <= synced or "insee" in conflicts:
        return
    moved = any(merged.get(f) != before.get(f) for f in ("commune", "postcode"))
    if merged.get("insee") is not None and not (moved and merged.get("insee") == before.get("insee")):
        return
    found = inp.insee_of(merged.get("commune"), merged.get("postcode"))
    if found is not None:
        merged["insee"] = found


def _saw(snapshot: Values, f: str, value: Any) -> bool:
    """Whether the instance last held `value` in field `f` (as is, or in the form it stores it in)."""
    if f not in snapshot:
        return True  # never seen there: no base to be stale against
    pair = snapshot.get(WRITTEN, {}).get(f)
    return snapshot[f] == value or bool(pair and pair[0] == value and pair[1] == snapshot[f])


def _holder(st: PlanState, rid: str, f: str, base: Any, observed: dict[str, Observed]) -> str:
    """Name the instance that holds the agreed value, for a readable conflict."""
    for inst, obs in observed.items():
        if (rid, inst) not in st.first_links and obs.values.get(f) == base:
            return inst
    return "store"


def _delete(st: PlanState, rec: RecordState, gone_from: list[str]) -> None:
    st.out.add(TombstoneRecord(rec.id, ",".join(gone_from)))
    for inst in gone_from:
        st.out.add(ForgetLink(rec.id, inst))
    _finish_deletion(st, rec, skip=set(gone_from))


def _finish_deletion(st: PlanState, rec: RecordState, skip: set[str] = frozenset()) -> None:
    """Remove the entries of a deleted record, unless a member edited one since: that edit is not thrown away."""
    for inst in st.ok:
        link = st.links.get((rec.id, inst))
        if inst in skip or link is None or link.remote_id is None:
            continue
        obs = st.listed(inst).get(link.remote_id)
        if obs is None:  # already gone there
            st.out.add(ForgetLink(rec.id, inst))
        elif _differs(obs.values, seen_values(link.snapshot), st.inp.fields_by_instance[inst]):  # edited since
            st.out.note("attention", inst, rec.id, Text(
                "entry {entry} of a deleted record was edited since: kept; restore the record "
                "(`oscartes-sync restore {record}`) or delete the entry in the wiki", entry=link.remote_id,
                record=rec.id[:8]), kind="entry_of_deleted")
        else:  # untouched: removed
            st.out.add(DeleteEntry(rec.id, inst, link.remote_id, dict(obs.values)))
