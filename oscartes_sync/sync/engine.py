"""One sync cycle: read -> plan -> act -> record, kind by kind.

Read: one listing per synced form per wiki (nothing else on a no-op run), plus a Source-Url look-up for a
create that an earlier run started and never confirmed. Plan: the pure planner, handed what it consults as
values (the matcher, the commune look-up). Act: the executor, unless this is a dry run, in which case the
plan is returned to be printed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from dataclasses import dataclass, field, replace

from .. import geo
from ..config import IdentityConfig
from ..fields import FileResolver as FileResolverProtocol, FormMap, to_canonical
from ..forgotten import STATE_KEY as FORGET_STATE, ForgetList
from ..identity import MatchIndex
from ..records import KINDS
from ..targets.base import EntryTarget, ListedEntry, TargetError
from ..twins import reconciler
from .execute import Executor, Outcome, record_id_of, source_url
from .files import DEFAULT_MAX_BYTES, FileResolver, FileSource
from ..text import Term, Text
from .geocoding import Settings as GeocodingSettings, locate
from .model import (
    REFUSED_VALUE, Action, CreateRecord, Listing, LinkState, Notice, Observed, Plan, PlanInput, RecordState,
    SyncPolicy,
)
from .plan import plan as make_plan, seen_values


@dataclass
class Instance:
    """A configured wiki as the engine sees it: a target, or the reason it cannot be used this run."""

    name: str
    target: EntryTarget | None
    form_maps: dict[str, FormMap]  # kind -> map
    error: str | None = None


@dataclass
class SyncResult:
    plans: list[Plan] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    listing_errors: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    instances: list[str] = field(default_factory=list)  # every configured instance (wikis, then Nextclouds)
    page_writes: dict[str, int] = field(default_factory=dict)  # derived wiki pages written or removed, per wiki
    pages_written: dict[str, list[str]] = field(default_factory=dict)  # wiki -> tags of pages written
    pages_removed: dict[str, list[str]] = field(default_factory=dict)  # wiki -> tags of pages removed
    nextcloud: Any = None  # publish.nextcloud_publish.NextcloudResult of this run (address book, exports)

    @property
    def notices(self) -> list[Notice]:
        return [n for p in self.plans for n in p.notices] + self.outcome.notices

    @property
    def instance_errors(self) -> dict[str, str]:
        return {**self.listing_errors, **self.outcome.failed_instances}

    def needs_person(self, store=None) -> bool:
        if self.instance_errors or any(n.level == "attention" for n in self.notices):
            return True
        return bool(store and (store.conflicts("open") or store.review_items("open")
                               or store.suggestions("open")))


class StoreIdMap:
    """Entry ids of one wiki <-> record ids, from the store's links, for link fields (DECISIONS §9)."""

    def __init__(self, store, instance: str):
        self._store, self._instance = store, instance
        self._maps: dict[str, tuple[dict[str, str], dict[str, str]]] = {}

    def _map(self, kind: str) -> tuple[dict[str, str], dict[str, str]]:
        if kind not in self._maps:
            ids = {r.id for r in self._store.records(kind)}
            forward = {l.remote_id: l.record_id for l in self._store.links(instance=self._instance)
                       if l.remote_id and l.record_id in ids}
            self._maps[kind] = (forward, {r: e for e, r in forward.items()})
        return self._maps[kind]

    def record_of(self, kind: str, remote_id: str) -> str | None:
        return self._map(kind)[0].get(remote_id)

    def remote_of(self, kind: str, record_id: str) -> str | None:
        return self._map(kind)[1].get(record_id)


def observe(entry: ListedEntry, fmap: FormMap, remote_id: str, ids=None,
            files: FileResolverProtocol | None = None) -> Observed:
    values, problems = to_canonical(entry.values, fmap, ids, files)
    return Observed(
        remote_id=remote_id,
        values=values,
        validated=entry.validated,
        updated=entry.updated,
        user=entry.user,
        problems=tuple((p.field, p.message) for p in problems),
    )


FORGOTTEN = Text("holds a value erased with `forget`: to remove from the entry in the wiki; not copied meanwhile")


def refuse_forgotten(obs: Observed, forgotten: ForgetList) -> Observed:
    """A value erased with `forget` that a wiki still holds is refused like an invalid one: neither stored, nor
    copied, nor overwritten, and named in the run report (without the value) until the entry is edited."""
    if not forgotten:
        return obs
    held = [f for f, v in obs.values.items() if forgotten.holds(v)]
    if not held:
        return obs
    return replace(obs, values={f: v for f, v in obs.values.items() if f not in held},
                   problems=obs.problems + tuple((f, FORGOTTEN) for f in held))


def run_sync(store, instances: dict[str, Instance], kinds: list[str], policy: SyncPolicy, *,
             dry_run: bool = False, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
             stop_after: Callable[[Action], bool] | None = None, identity: IdentityConfig = IdentityConfig(),
             reconcile: Callable[..., Any] | None = None, max_image_bytes: int = DEFAULT_MAX_BYTES,
             geocoder: Any = None, geocoding: GeocodingSettings = GeocodingSettings(),
             progress: Callable[[str, int, int], None] | None = None,
             communes: geo.CommuneIndex | None = None) -> SyncResult:
    """One cycle. `identity`: the matcher's thresholds and the distance under which two pins are one place (the
    config's `[identity]`); `reconcile` replaces the twin rules (tests); `geocoder` (clients.geocoder; None: off)
    places records that have an address and no point; `progress(kind, done, total)` is told of each write to an
    instance as the executor goes (a progress bar on a terminal); `communes`: the configured territory's (Essonne
    by default), which fill the INSEE code that follows a commune and place a record at its commune's centre."""
    result = SyncResult(dry_run=dry_run, instances=list(instances))
    reconcile = reconcile or reconciler(identity.same_place_m)
    forgotten = ForgetList.from_state(store.get_state(FORGET_STATE))
    for name, inst in instances.items():
        if inst.error:
            result.listing_errors[name] = inst.error
    for kind in kinds:
        usable = {n: i for n, i in instances.items()
                  if i.target is not None and n not in result.instance_errors and kind in i.form_maps}
        if not usable:
            continue
        # built after the previous kind was executed: links to actors created this run resolve
        ids = {n: StoreIdMap(store, n) for n in usable}
        files = {n: FileResolver.load(store, n, kind, i.target, max_image_bytes) for n, i in usable.items()
                 if i.form_maps[kind].file_fields}
        listings = _read(store, usable, kind, result, dry_run, ids, files, forgotten)
        inp = replace(_plan_input(store, kind, instances, usable, listings, policy), reconcile=reconcile,
                      matcher=partial(MatchIndex, settings=identity, kind=kind),
                      insee_of=communes.insee_of if communes is not None else geo.insee_of)
        placements = None
        if geocoder is not None:  # before planning: the planner receives the points as a look-up table
            placements = locate(store, kind, inp.records, listings, geocoder, geocoding, dry_run, communes)
            inp = replace(inp, place_of=placements.place_of, placed=placements.placed,
                          moved=frozenset(placements.moved), address_fields=KINDS[kind].address_fields)
        plan = make_plan(inp, new_id)
        if placements is not None:
            plan.notices.extend(placements.notices)
        _note_refused_values(plan, listings, inp)
        result.plans.append(plan)
        if not dry_run:
            executor = Executor(store, {n: i.target for n, i in usable.items()},
                                {n: i.form_maps[kind] for n, i in usable.items()}, stop_after, ids,
                                files, FileSource({n: r for n, r in files.items() if listings[n].entries is not None}),
                                forgotten, communes, progress=partial(progress, kind) if progress else None)
            executor.run(plan, result.outcome)
            for resolver in files.values():
                if listings[resolver.instance].entries is not None:
                    resolver.save(store)  # what each listed file holds, so that it is not downloaded again
    return result


def _read(store, usable: dict[str, Instance], kind: str, result: SyncResult, dry_run: bool,
          ids: dict[str, StoreIdMap], files: dict[str, FileResolver], forgotten: ForgetList) -> dict[str, Listing]:
    listings: dict[str, Listing] = {}
    for name, inst in usable.items():
        fmap = inst.form_maps[kind]
        try:
            raw = inst.target.listing(fmap.form_id)
        except TargetError as exc:
            # any failed listing leaves this wiki unsynced for the run: monitoring must see it as an error
            listings[name] = Listing(name, None, exc.message)
            result.listing_errors[name] = exc.message
            continue
        entries = {rid: refuse_forgotten(observe(values, fmap, rid, ids[name], files.get(name)), forgotten)
                   for rid, values in raw.items()}
        try:
            _resolve_intents(store, inst, kind, entries, dry_run)
            entries = _read_sources(store, inst, entries, dry_run)
        except TargetError as exc:
            listings[name] = Listing(name, None, Text("could not check unlinked entries: {reason}",
                                                      reason=exc.message))
            continue
        listings[name] = Listing(name, entries)
    return listings


def _resolve_intents(store, inst: Instance, kind: str, entries: dict[str, Observed], dry_run: bool) -> None:
    """A create an earlier run started but did not confirm: find the entry by its Source-Url, or let the
    planner create it again (the look-up proved it does not exist)."""
    for link in store.links(instance=inst.name):
        if link.remote_id is not None or link.form_id != inst.form_maps[kind].form_id:
            continue
        found = [rid for rid in inst.target.find_by_source(source_url(link.record_id)) if rid in entries]
        if found and not dry_run:
            # linked with no snapshot: a member may have edited the entry since our create, so what it holds
            # now is no base; the planner settles it like a twin (empty fields filled, differences conflicts)
            store.set_link(link.record_id, inst.name, form_id=link.form_id, remote_id=found[0], snapshot={})


def _read_sources(store, inst: Instance, entries: dict[str, Observed], dry_run: bool) -> dict[str, Observed]:
    """The Source-Url of each entry no link names yet, looked up once per entry: an entry that stays unlinked
    (waiting for review or validation) costs nothing on the following quiet runs."""
    linked = {l.remote_id for l in store.links(instance=inst.name) if l.remote_id}
    key = f"sources/{inst.name}"
    known: dict[str, str | None] = dict(store.get_state(key) or {})
    out = dict(entries)
    for rid, obs in entries.items():
        if rid in linked:
            continue
        if rid not in known:
            known[rid] = record_id_of(inst.target.source_of(rid))
        if known[rid]:
            out[rid] = replace(obs, source=known[rid])
    known = {rid: src for rid, src in known.items() if rid in entries and rid not in linked}
    if not dry_run and known != (store.get_state(key) or {}):
        store.set_state(key, known)
    return out


def _plan_input(store, kind: str, instances: dict[str, Instance], usable: dict[str, Instance],
                listings: dict[str, Listing], policy: SyncPolicy) -> PlanInput:
    records = {r.id: RecordState(r.id, r.kind, dict(r.fields), r.deleted)
               for r in store.records(kind, include_deleted=True)}
    links = {(l.record_id, l.instance): LinkState(l.record_id, l.instance, l.remote_id, dict(l.snapshot), l.pending)
             for l in store.links() if l.record_id in records and l.instance in instances}
    conflicts = {(c.record_id, c.field): dict(c.candidates) for c in store.conflicts("open")
                 if c.record_id in records}
    reviews = {(r.instance, r.remote_id): tuple(c[0] for c in r.candidates)
               for r in store.review_items("open") if r.kind == kind}
    distinct = frozenset((r.instance, r.remote_id) for r in store.review_items("distinct") if r.kind == kind)
    return PlanInput(
        kind=kind,
        instances=tuple(usable),
        fields_by_instance={n: i.form_maps[kind].fields for n, i in usable.items()},
        restricted={n: i.form_maps[kind].restricted & frozenset(i.form_maps[kind].fields) for n, i in usable.items()},
        records=records,
        links=links,
        listings=listings,
        open_conflicts=conflicts,
        open_reviews=reviews,
        distinct=distinct,
        policy=policy,
        title_field=KINDS[kind].title_field,
        insee_of=geo.insee_of,
    )


def _note_refused_values(plan: Plan, listings: dict[str, Listing], inp: PlanInput) -> None:
    by_remote = {(l.instance, l.remote_id): l.record_id for l in inp.links.values() if l.remote_id}
    by_remote.update({(a.instance, a.remote_id): a.record_id for a in plan.actions if isinstance(a, CreateRecord)})
    for name, listing in listings.items():
        for rid, obs in (listing.entries or {}).items():
            for field_name, message in obs.problems:
                record = by_remote.get((name, rid))
                plan.note("attention", name, record, Text("entry {entry}: {field} refused ({reason})", entry=rid,
                                                          field=Term.field(field_name), reason=message),
                          kind=REFUSED_VALUE)


# ---- one entry (the webhook trigger, DECISIONS §17) -------------------------------------------------------------


@dataclass
class EntryRun:
    """What syncing one entry came to: `done` (planned and applied: `result`), `unchanged` (the entry holds what
    the store last saw or wrote there: an echo of our own write, or a replay), or `full` (only a full run may
    decide: `reason` says why)."""

    status: str
    reason: str = ""
    result: SyncResult | None = None


def run_sync_entry(store, instances: dict[str, Instance], kinds: list[str], policy: SyncPolicy, instance: str,
                   remote_id: str, *, identity: IdentityConfig = IdentityConfig(),
                   max_image_bytes: int = DEFAULT_MAX_BYTES, communes: geo.CommuneIndex | None = None) -> EntryRun:
    """Sync the record of one entry from a fresh read of its entries (one GET per wiki that has one), through
    the same planner and executor as a full run. Whatever needs a view of the whole kind is left to a full run:
    a new or unlinked entry (the duplicate check reads every listing), an entry gone (deletions have their
    limits), a value emptied (the mass-blanking guard); and the record is written only where it has an entry."""
    inst = instances.get(instance)
    if inst is None or inst.target is None:
        return EntryRun("full", f"{instance} is not usable: {inst.error if inst else 'not configured'}")
    link = store.link_by_remote(instance, remote_id)
    if link is None:
        return EntryRun("full", "entry not linked to a record yet: the duplicate check needs every listing")
    rec = store.record(link.record_id)
    if rec is None or rec.deleted or rec.kind not in kinds or rec.kind not in inst.form_maps:
        return EntryRun("full", "its record is deleted or of a kind not synced here")
    kind = rec.kind
    forgotten = ForgetList.from_state(store.get_state(FORGET_STATE))
    links = {l.instance: l for l in store.links(record_id=rec.id) if l.remote_id and l.instance in instances}
    usable = {n: i for n, i in instances.items() if i.target is not None and kind in i.form_maps}
    ids = {n: StoreIdMap(store, n) for n in usable}
    files = {n: FileResolver.load(store, n, kind, i.target, max_image_bytes) for n, i in usable.items()
             if i.form_maps[kind].file_fields}
    listings: dict[str, Listing] = {}
    mine = links.get(instance)
    if mine is None or instance not in usable or mine.form_id != usable[instance].form_maps[kind].form_id:
        return EntryRun("full", "the entry's form is not the one its record is linked to")
    # the hooked entry first: an echo of our own write, or a replay, costs that one read
    for name, ln in sorted(links.items(), key=lambda item: item[0] != instance):
        if name not in usable or ln.form_id != usable[name].form_maps[kind].form_id:
            continue
        try:
            found = usable[name].target.listed_entry(ln.remote_id)
        except TargetError as exc:
            if name == instance:
                return EntryRun("full", f"entry could not be read: {exc.message}")
            continue  # that wiki is left as it is; the full run reads it
        if found is None:
            if name == instance:
                return EntryRun("full", "entry not found: a deletion is decided by a full run, within its limits")
            continue
        obs = refuse_forgotten(observe(found, usable[name].form_maps[kind], ln.remote_id, ids[name],
                                       files.get(name)), forgotten)
        if any(obs.values.get(f) is None and v is not None for f, v in seen_values(ln.snapshot).items()
               if f in obs.values):
            return EntryRun("full", f"a value was emptied in {name}: the full run checks it is not a renamed field")
        if name == instance and obs.values == seen_values(ln.snapshot) and not ln.pending:
            return EntryRun("unchanged", "the entry holds what was last seen or written there")
        listings[name] = Listing(name, {ln.remote_id: obs})
    inp = _plan_input(store, kind, instances, usable, listings, policy)
    # no entry of this run is new: the matcher is only handed over as a full run hands it
    inp = replace(inp, reconcile=reconciler(identity.same_place_m),
                  matcher=partial(MatchIndex, settings=identity, kind=kind), records={rec.id: inp.records[rec.id]},
                  insee_of=communes.insee_of if communes is not None else geo.insee_of,
                  links={k: v for k, v in inp.links.items() if k[0] == rec.id},
                  open_conflicts={k: v for k, v in inp.open_conflicts.items() if k[0] == rec.id})
    result = SyncResult()
    plan = make_plan(inp, lambda: str(uuid.uuid4()))
    _note_refused_values(plan, listings, inp)
    result.plans.append(plan)
    read = {n: usable[n] for n in listings}
    files = {n: r for n, r in files.items() if n in read}
    Executor(store, {n: i.target for n, i in read.items()}, {n: i.form_maps[kind] for n, i in read.items()},
             None, ids, files, FileSource(files), forgotten, communes).run(plan, result.outcome)
    for resolver in files.values():  # what the files read hold; the names not read are kept as they were
        resolver.save_read(store)
    return EntryRun("done", result=result)
