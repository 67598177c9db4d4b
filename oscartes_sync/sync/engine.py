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
from ..fields import FileResolver as FileResolverProtocol, FormMap, link_kind, to_canonical
from ..forgotten import STATE_KEY as FORGET_STATE, ForgetList
from ..identity import MatchIndex
from ..records import KINDS
from ..store.view import StoreView
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
from .plan import plan as make_plan, reaches_matcher, seen_values
from .quiet import Settled, entry_digest, kind_context


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
    view: Any = None  # store.view.StoreView: what this run read of records and links, shared with the publishers
    # kind -> entries listed, entries cleaned, records planned and records left quiet this run (sync/quiet.py)
    work: dict[str, dict[str, int]] = field(default_factory=dict)

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

    def __init__(self, view: StoreView, instance: str):
        self._view, self._instance = view, instance
        self._maps: dict[str, tuple[dict[str, str], dict[str, str]]] = {}

    def _map(self, kind: str) -> tuple[dict[str, str], dict[str, str]]:
        if kind not in self._maps:
            ids = {k.id for k in self._view.record_keys(kind) if not k.deleted}
            forward = {l.remote_id: l.record_id for l in self._view.links
                       if l.instance == self._instance and l.remote_id and l.record_id in ids}
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
             communes: geo.CommuneIndex | None = None, view: StoreView | None = None) -> SyncResult:
    """One cycle. `identity`: the matcher's thresholds and the distance under which two pins are one place (the
    config's `[identity]`); `reconcile` replaces the twin rules (tests); `geocoder` (clients.geocoder; None: off)
    places records that have an address and no point; `progress(kind, done, total)` is told of each write to an
    instance as the executor goes (a progress bar on a terminal); `communes`: the configured territory's (Essonne
    by default), which fill the INSEE code that follows a commune and place a record at its commune's centre;
    `view`: what this run reads of records and links, shared with the publishers (one is made when not given)."""
    result = SyncResult(dry_run=dry_run, instances=list(instances))
    view = result.view = view or StoreView(store)
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
        ids = {n: StoreIdMap(view, n) for n in usable}
        files = {n: FileResolver.load(store, n, kind, i.target, max_image_bytes) for n, i in usable.items()
                 if i.form_maps[kind].file_fields}
        run = KindRun(store, view, kind, instances, usable, policy, ids, files, result, dry_run, forgotten)
        run.read()
        plan, inp, listings = run.plan(new_id, reconcile, identity, geocoder, geocoding, communes)
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
            run.settle(plan)
    return result


class KindRun:
    """Reading and planning one kind: the listings, then only what moved since the last run (sync/quiet.py).

    Read: one listing per wiki; each entry's digest. Then the records to plan: those whose fingerprint moved
    (an entry changed or vanished, the record changed in the store, a review or a conflict opened or closed),
    with all their links and entries, and every entry no link names. Only their entries are cleaned, only
    they are planned; the others are quiet. An entry may turn out to be a record that was left out (its Source-
    Url names it, the matcher finds it): the planner asks for it (`Plan.needs`) and the kind is planned again
    with it, with the same new record ids."""

    def __init__(self, store, view: StoreView, kind: str, instances: dict[str, Instance],
                 usable: dict[str, Instance], policy: SyncPolicy, ids: dict[str, StoreIdMap],
                 files: dict[str, FileResolver], result: SyncResult, dry_run: bool, forgotten: ForgetList):
        self.store, self.view, self.kind, self.forgotten = store, view, kind, forgotten
        self.instances, self.usable, self.policy = instances, usable, policy
        self.ids, self.files, self.result, self.dry_run = ids, files, result, dry_run
        self.raw: dict[str, dict[str, ListedEntry]] = {}  # wiki -> entry id -> entry, listed this run
        self.errors: dict[str, str] = {}  # wiki -> why its listing cannot be used
        self.digests: dict[str, dict[str, str]] = {}
        self.observed: dict[str, dict[str, Observed]] = {n: {} for n in usable}  # cleaned this run
        self.unlinked: dict[str, list[str]] = {}
        self.waiting: dict[str, dict[str, str]] = {}  # unlinked entries in review, with no refused value
        self.settled = Settled.load(store, kind)
        self.fingerprints: dict[str, tuple[str, dict[str, str]]] = {}
        self.compared: list[str] = []
        self.to_plan: set[str] = set()
        self.work = result.work.setdefault(kind, {"listed": 0, "cleaned": 0, "planned": 0, "quiet": 0})

    # ---- read

    def read(self) -> None:
        for name, inst in self.usable.items():
            fmap = inst.form_maps[self.kind]
            try:
                raw = inst.target.listing(fmap.form_id)
            except TargetError as exc:
                # any failed listing leaves this wiki unsynced for the run: monitoring must see it as an error
                self.errors[name] = exc.message
                self.result.listing_errors[name] = exc.message
                continue
            try:
                _resolve_intents(self.store, self.view, inst, self.kind, raw, self.dry_run)
            except TargetError as exc:
                self.errors[name] = Text("could not check unlinked entries: {reason}", reason=exc.message)
                continue
            self.raw[name] = raw
            self.digests[name] = {rid: entry_digest(e) for rid, e in raw.items()}
            self.work["listed"] += len(raw)
        self.reviews = [r for r in self.store.review_items("open") if r.kind == self.kind]
        self.open_reviews = {(r.instance, r.remote_id): tuple(c[0] for c in r.candidates) for r in self.reviews}
        self.distinct = frozenset((r.instance, r.remote_id) for r in self.store.review_items("distinct")
                                  if r.kind == self.kind)
        self.keys = {k.id: k for k in self.view.record_keys(self.kind)}
        self.conflicts: dict[str, list] = {}
        for c in self.store.conflicts("open"):
            if c.record_id in self.keys:
                self.conflicts.setdefault(c.record_id, []).append(c)
        self._find_moved()
        self._read_unlinked()

    def _find_moved(self) -> None:
        """The records to plan: those whose fingerprint is not the one of their last empty plan."""
        links = self.view.links_by_record()
        self.linked: dict[str, dict[str, str]] = {n: {} for n in self.usable}  # wiki -> entry id -> record id
        for rid in self.keys:
            for name, link in links.get(rid, {}).items():
                if name in self.linked and link.remote_id:
                    self.linked[name][link.remote_id] = rid
        self.linked_counts = {n: len(v) for n, v in self.linked.items()}
        # an empty listing where entries are linked is a failure in disguise (the planner says so): nothing of
        # it is compared, as for a failed one
        self.compared = [n for n in self.usable if n in self.raw and (self.raw[n] or not self.linked_counts[n])]
        context = self._context()
        held = {rid for cands in self.open_reviews.values() for rid in cands}
        for rid, key in self.keys.items():
            part = Settled.record_part(context, key.revision, key.deleted, rid in held,
                                       tuple(sorted(c.field for c in self.conflicts.get(rid, ()))))
            mine = links.get(rid, {})
            parts = {}
            for name in self.compared:
                link = mine.get(name)
                parts[name] = Settled.instance_part(
                    link, self.digests[name].get(link.remote_id) if link is not None and link.remote_id else None)
            self.fingerprints[rid] = (part, parts)
            if not self.settled.quiet(rid, part, parts):
                self.to_plan.add(rid)
        self.work["quiet"] = len(self.keys) - len(self.to_plan)

    def _context(self) -> str:
        """What every record of the kind is planned with: a change here plans them all again."""
        # every configured instance of the kind, usable this run or not: a plan of a record on fewer instances is
        # empty when its plan on all of them was (a wiki out of reach only leaves that wiki out)
        maps = {n: i.form_maps[self.kind] for n, i in self.instances.items() if self.kind in i.form_maps}
        targets = sorted({link_kind(f) for f in KINDS[self.kind].fields if f.type == "links"} - {None})
        return kind_context(
            self.kind, list(maps),
            {n: [m.form_id, m.keys, m.list_keys, sorted(m.restricted)] for n, m in maps.items()},
            [self.policy.max_delete_ratio, self.policy.min_delete_count, self.policy.newest_wins],
            # a value erased with `forget` is refused wherever a wiki still holds it: every entry is read again
            sorted(self.forgotten.hashes),
            # link fields are cleaned into record ids through the links of the kinds they point to
            self.view.link_signature(targets, maps) if targets else None,
        )

    def _read_unlinked(self) -> None:
        """Every entry no link names is cleaned, except one waiting for a person whose raw values did not move
        (the planner leaves it alone until the person decides)."""
        for name in self.compared:
            inst, raw = self.usable[name], self.raw[name]
            entries: dict[str, Observed] = {}
            waiting: dict[str, str] = {}
            placeholders = set()
            for rid in raw:
                if rid in self.linked[name]:
                    continue
                entry, digest = raw[rid], self.digests[name][rid]
                if (name, rid) in self.open_reviews and entry.validated and self.settled.waits(name, rid, digest):
                    entries[rid] = Observed(rid, {}, entry.validated, entry.updated, entry.user)
                    placeholders.add(rid)
                    waiting[rid] = digest
                    continue
                obs = entries[rid] = self._clean(name, rid, entry)
                if (name, rid) in self.open_reviews and entry.validated and not obs.problems:
                    waiting[rid] = digest
            try:
                entries = _read_sources(self.store, self.view, inst, entries, self.dry_run)
            except TargetError as exc:
                self.errors[name] = Text("could not check unlinked entries: {reason}", reason=exc.message)
                continue
            self.observed[name].update({rid: o for rid, o in entries.items() if rid not in placeholders})
            self.unlinked[name] = [rid for rid in entries if rid not in placeholders]
            self.waiting[name] = waiting
        self.compared = [n for n in self.compared if n not in self.errors]

    def _clean(self, name: str, rid: str, entry: ListedEntry) -> Observed:
        self.work["cleaned"] += 1
        fmap = self.usable[name].form_maps[self.kind]
        return refuse_forgotten(observe(entry, fmap, rid, self.ids[name], self.files.get(name)), self.forgotten)

    # ---- plan

    def plan(self, new_id: Callable[[], str], reconcile, identity: IdentityConfig, geocoder,
             geocoding: GeocodingSettings,
             communes: geo.CommuneIndex | None = None) -> tuple[Plan, PlanInput, dict[str, Listing]]:
        ids = _Replay(new_id)
        for _ in range(3):
            listings = self._listings()
            inp = self._plan_input(listings, reconcile, identity, communes)
            placements = None
            if geocoder is not None:  # before planning: the planner receives the points as a look-up table
                placements = locate(self.store, self.kind, inp.records, listings, geocoder, geocoding, self.dry_run,
                                    communes)
                inp = replace(inp, place_of=placements.place_of, placed=placements.placed,
                              moved=frozenset(placements.moved), address_fields=KINDS[self.kind].address_fields)
            plan = make_plan(inp, ids.again())
            more = plan.needs - self.to_plan
            if not more:
                break
            self.to_plan |= more  # records an entry turned out to be: planned with them, same new ids
        if placements is not None:
            plan.notices.extend(placements.notices)
        _note_refused_values(plan, listings, inp)
        self.work["planned"] = len(self.to_plan)
        for name, resolver in self.files.items():  # pictures of entries not cleaned are not forgotten
            if name in self.raw:
                resolver.keep((e.values for rid, e in self.raw[name].items() if rid not in self.observed[name]),
                              self.usable[name].form_maps[self.kind])
        return plan, inp, listings

    def _listings(self) -> dict[str, Listing]:
        links = self.view.links_by_record()
        for name in self.compared:
            raw, seen = self.raw[name], self.observed[name]
            for rid in self.to_plan:
                link = links.get(rid, {}).get(name)
                if link is not None and link.remote_id in raw and link.remote_id not in seen:
                    seen[link.remote_id] = self._clean(name, link.remote_id, raw[link.remote_id])
        out: dict[str, Listing] = {}
        for name in self.usable:
            if name in self.errors or name not in self.raw:
                out[name] = Listing(name, None, self.errors.get(name))
                continue
            wanted = {links[rid][name].remote_id for rid in self.to_plan if name in links.get(rid, {})}
            wanted.update(self.unlinked.get(name, ()))
            entries = {rid: o for rid, o in self.observed[name].items() if rid in wanted}
            out[name] = Listing(name, entries, total=len(self.raw[name]))
        return out

    def _plan_input(self, listings: dict[str, Listing], reconcile, identity: IdentityConfig,
                    communes: geo.CommuneIndex | None = None) -> PlanInput:
        rows = self.view.fields_of(self.to_plan)
        records = {rid: RecordState(r.id, r.kind, dict(r.fields), r.deleted) for rid, r in rows.items()}
        links = {(l.record_id, l.instance): LinkState(l.record_id, l.instance, l.remote_id, dict(l.snapshot),
                                                      l.pending)
                 for l in self.store.links_of(records) if l.instance in self.instances}
        pool = None
        if any(reaches_matcher(name, listings[name].entries[rid], self.open_reviews, self.distinct)
               for name, rids in self.unlinked.items() if listings[name].entries is not None
               for rid in rids if rid in listings[name].entries):
            pool = tuple((r.id, r.fields) for r in self.view.records_of_kind(self.kind))
        return PlanInput(
            kind=self.kind,
            instances=tuple(self.usable),
            fields_by_instance={n: i.form_maps[self.kind].fields for n, i in self.usable.items()},
            restricted={n: i.form_maps[self.kind].restricted & frozenset(i.form_maps[self.kind].fields)
                        for n, i in self.usable.items()},
            records=records,
            links=links,
            listings=listings,
            open_conflicts={(c.record_id, c.field): dict(c.candidates) for rid in records
                            for c in self.conflicts.get(rid, ())},
            open_reviews=self.open_reviews,
            distinct=self.distinct,
            policy=self.policy,
            title_field=KINDS[self.kind].title_field,
            insee_of=communes.insee_of if communes is not None else geo.insee_of,
            reconcile=reconcile,
            matcher=partial(MatchIndex, settings=identity, kind=self.kind),
            known=frozenset(self.keys),
            pool=pool,
            linked_counts=self.linked_counts,
            live_count=sum(1 for k in self.keys.values() if not k.deleted),
        )

    # ---- after the run

    def settle(self, plan: Plan) -> None:
        """Remember the fingerprints of the records whose plan was empty; forget those of the others."""
        acted = {a.record_id for a in plan.actions}
        noticed = {n.record_id for n in plan.notices} | {r for n in plan.notices for r in n.records}
        records = self.settled.records
        for rid in [r for r in records if r not in self.keys]:
            del records[rid]  # records that no longer exist
        for rid in plan.considered:
            records.pop(rid, None)
        configured = {n for n, i in self.instances.items() if self.kind in i.form_maps}
        complete = set(self.compared) == set(plan.trusted) == configured
        if complete:  # a partial run knows nothing of a wiki it could not read: it records no new fingerprint
            for rid in plan.considered - acted - noticed - plan.unsettled:
                if rid in self.fingerprints:
                    part, parts = self.fingerprints[rid]
                    records[rid] = [part, parts]
        for name in self.compared:
            self.settled.waiting[name] = self.waiting.get(name, {})
        self.settled.save(self.store)


class _Replay:
    """The same new record ids to every planning of one kind (a plan made again asks for them in order)."""

    def __init__(self, new_id: Callable[[], str]):
        self.new_id, self.issued = new_id, []

    def again(self) -> Callable[[], str]:
        position = iter(range(10**9))

        def next_id() -> str:
            i = next(position)
            if i == len(self.issued):
                self.issued.append(self.new_id())
            return self.issued[i]

        return next_id


def _resolve_intents(store, view: StoreView, inst: Instance, kind: str, entries: dict[str, Any],
                     dry_run: bool) -> None:
    """A create an earlier run started but did not confirm: find the entry by its Source-Url, or let the
    planner create it again (the look-up proved it does not exist)."""
    for link in [l for l in view.links if l.instance == inst.name]:
        if link.remote_id is not None or link.form_id != inst.form_maps[kind].form_id:
            continue
        found = [rid for rid in inst.target.find_by_source(source_url(link.record_id)) if rid in entries]
        if found and not dry_run:
            # linked with no snapshot: a member may have edited the entry since our create, so what it holds
            # now is no base; the planner settles it like a twin (empty fields filled, differences conflicts)
            store.set_link(link.record_id, inst.name, form_id=link.form_id, remote_id=found[0], snapshot={})


def _read_sources(store, view: StoreView, inst: Instance, entries: dict[str, Observed],
                  dry_run: bool) -> dict[str, Observed]:
    """The Source-Url of each entry no link names yet, looked up once per entry: an entry that stays unlinked
    (waiting for review or validation) costs nothing on the following quiet runs."""
    linked = {l.remote_id for l in view.links if l.instance == inst.name and l.remote_id}
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
    view = StoreView(store)
    ids = {n: StoreIdMap(view, n) for n in usable}
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
    # a plan of this one record, with what the guards count of the whole kind from the store's keys; no entry of
    # this run is new: the matcher is only handed over as a full run hands it
    keys = view.record_keys(kind)
    inp = PlanInput(
        kind=kind, instances=tuple(usable),
        fields_by_instance={n: i.form_maps[kind].fields for n, i in usable.items()},
        restricted={n: i.form_maps[kind].restricted & frozenset(i.form_maps[kind].fields) for n, i in usable.items()},
        records={rec.id: RecordState(rec.id, rec.kind, dict(rec.fields), rec.deleted)},
        links={(l.record_id, l.instance): LinkState(l.record_id, l.instance, l.remote_id, dict(l.snapshot), l.pending)
               for l in store.links(record_id=rec.id) if l.instance in instances},
        listings=listings,
        open_conflicts={(c.record_id, c.field): dict(c.candidates) for c in store.conflicts("open", record_id=rec.id)},
        open_reviews={(r.instance, r.remote_id): tuple(c[0] for c in r.candidates)
                      for r in store.review_items("open") if r.kind == kind},
        distinct=frozenset((r.instance, r.remote_id) for r in store.review_items("distinct") if r.kind == kind),
        policy=policy, title_field=KINDS[kind].title_field,
        insee_of=communes.insee_of if communes is not None else geo.insee_of,
        reconcile=reconciler(identity.same_place_m), matcher=partial(MatchIndex, settings=identity, kind=kind),
        known=frozenset(k.id for k in keys), pool=(),
        linked_counts={n: sum(1 for l in view.links if l.instance == n and l.remote_id
                              and view.records[l.record_id].kind == kind) for n in usable},
        live_count=sum(1 for k in keys if not k.deleted),
    )
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
