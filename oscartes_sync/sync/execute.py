"""Applies a Plan through the targets, recording each result in the store as it goes.

Each action is applied and recorded on its own, so a run killed between two actions leaves the store
describing exactly what was done; the next run's planner starts from there. Remote writes follow
DECISIONS §3-§5: a create leaves an intent before the request (found again by its Source-Url if the run
dies), an update re-reads the entry first and checks the revision history afterwards.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..fields import FormMap, to_canonical, to_wiki
from ..forgotten import ForgetList
from ..hashing import content_hash
from ..targets.base import EntryError, EntryTarget, TargetError, TerminalError, TransientError
from ..text import SEMICOLON, Term, Text, join, stored
from .. import geo
from ..records import KINDS
from .files import FileResolver, FileSource
from .geocoding import PLACED_KEY, placed_points
from .model import (
    WRITTEN, Action, CreateEntry, CreateRecord, DeleteEntry, ForgetLink, LinkEntry, Notice, OpenConflict,
    PlaceRecord, Plan, ResurrectRecord, ReviewDuplicate, TombstoneRecord, UpdateEntry, UpdateRecord, Values,
)
from .plan import seen_values

log = logging.getLogger(__name__)

SOURCE_URL = "https://oscartes-sync.invalid/records/{record_id}"


def source_url(record_id: str) -> str:
    """The identity anchor sent as `Source-Url` on create: survives a lost store (DECISIONS §2)."""
    return SOURCE_URL.format(record_id=record_id)


def record_id_of(url: str | None) -> str | None:
    """The record id in one of our Source-Urls; None for any other URL (another tool's import)."""
    prefix = SOURCE_URL.format(record_id="")
    if not url or not url.startswith(prefix):
        return None
    rid = url[len(prefix):]
    return rid if re.fullmatch(r"[0-9a-fA-F-]{8,64}", rid) else None


@dataclass
class Outcome:
    applied: list[Action] = field(default_factory=list)
    skipped: list[tuple[Action, str]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    failed_instances: dict[str, str] = field(default_factory=dict)


class Executor:
    def __init__(self, store, targets: dict[str, EntryTarget], form_maps: dict[str, FormMap],
                 stop_after: Callable[[Action], bool] | None = None, ids: dict | None = None,
                 files: dict[str, FileResolver] | None = None, source: FileSource | None = None,
                 forgotten: ForgetList | None = None, communes: geo.CommuneIndex | None = None,
                 progress: Callable[[int, int], None] | None = None):
        self.store = store
        self.forgotten = forgotten or ForgetList()  # values erased with `forget`: never kept from a read-back
        self.targets = targets
        self.maps = form_maps  # instance -> FormMap of the kind being executed
        self.stop_after = stop_after  # tests: simulate a run killed after an action
        self.ids = ids or {}  # instance -> IdMap, for link fields
        self.files = files or {}  # instance -> what its stored files hold, for image fields
        self.source = source or FileSource(self.files)  # where the pictures to send are downloaded from
        self.progress = progress  # (done, total) after each write to an instance: a progress bar
        self.communes = communes  # the territory's, to key a placed record's address as geocoding does

    def run(self, plan: Plan, outcome: Outcome) -> Outcome:
        total, done = len(plan.remote_writes), 0
        for action in plan.actions:
            if self.progress and action.writes_remote:
                self.progress(done, total)
                done += 1
            inst = getattr(action, "instance", None)
            if inst in outcome.failed_instances and action.writes_remote:
                outcome.skipped.append((action, f"{inst} unusable this run"))
                continue
            try:
                self._apply(action, outcome)
                outcome.applied.append(action)
            except TerminalError as exc:
                outcome.failed_instances[exc.instance] = exc.message
                outcome.skipped.append((action, str(exc)))
                outcome.notices.append(Notice("attention", exc.instance, action.record_id,
                                              Text("stopped: {reason}", reason=exc.message), kind="stopped"))
            except (EntryError, TransientError, TargetError) as exc:
                outcome.skipped.append((action, str(exc)))
                outcome.notices.append(Notice("attention", exc.instance, action.record_id, exc.message,
                                              kind="write_failed"))
            if self.stop_after and self.stop_after(action):
                raise KilledForTest(action)
        if self.progress and total:
            self.progress(total, total)
        return outcome

    # ---- one action ---------------------------------------------------------------------------------

    def _apply(self, a: Action, outcome: Outcome) -> None:
        handler = self._HANDLERS.get(type(a))
        if handler is None:  # pragma: no cover - a new action type without its executor is a programming error
            raise TypeError(f"no executor for {type(a).__name__}")
        handler(self, a, outcome)

    # what is only recorded in the store

    def _create_record(self, a: CreateRecord, outcome: Outcome) -> None:
        s = self.store
        with s.transaction():
            s.create_record(a.kind, a.fields, author=a.author or a.instance, origin=a.instance,
                            record_id=a.record_id,
                            note=join(SEMICOLON, filter(None, [Text("new entry {entry} in {wiki}", entry=a.remote_id,
                                                                    wiki=a.instance), a.note])))
            s.set_link(a.record_id, a.instance, form_id=self.maps[a.instance].form_id,
                       remote_id=a.remote_id, snapshot=a.snapshot)

    def _update_record(self, a: UpdateRecord, outcome: Outcome) -> None:
        self.store.update_record(a.record_id, a.fields, author=a.author or "oscartes-sync", origin=a.origin,
                                 note=a.note or Text("merged edits from {origin}", origin=a.origin),
                                 even_if_equal=bool(a.note))

    def _place_record(self, a: PlaceRecord, outcome: Outcome) -> None:
        rec = self.store.record(a.record_id)
        kind = rec.kind
        with self.store.transaction():
            self.store.update_record(a.record_id, {**rec.fields, "latitude": a.latitude, "longitude": a.longitude},
                                     author="oscartes-sync", origin="geocoder", note=a.note)
            # remembered as the service's own point: it may move with the address, a member's pin never does
            placed = dict(placed_points(self.store, kind))
            address = geo.address_of(rec.fields, KINDS[kind].address_fields[:1], self.communes)
            placed[a.record_id] = {"latitude": a.latitude, "longitude": a.longitude, "precision": a.precision,
                                   "key": address.key if address else None}
            self.store.set_state(f"{PLACED_KEY}/{kind}", placed)

    def _link_entry(self, a: LinkEntry, outcome: Outcome) -> None:
        old = self.store.link(a.record_id, a.instance)
        self.store.set_link(a.record_id, a.instance, form_id=self.maps[a.instance].form_id, remote_id=a.remote_id,
                            snapshot=a.snapshot, written_hash=old.written_hash if old else None,
                            pending=None if a.clear_pending else (old.pending if old else None))

    def _open_conflict(self, a: OpenConflict, outcome: Outcome) -> None:
        self.store.open_conflict(a.record_id, a.field, a.base, a.candidates, a.times)

    def _review_duplicate(self, a: ReviewDuplicate, outcome: Outcome) -> None:
        # the evidence phrases are kept as messages, to be shown in the reader's language (`match`)
        self.store.add_review_item(a.instance, a.remote_id, self.maps[a.instance].kind.name, a.values,
                                   [[*c[:2], [stored(e) for e in c[2]]] if len(c) > 2 else list(c)
                                    for c in a.candidates])

    def _tombstone(self, a: TombstoneRecord, outcome: Outcome) -> None:
        self.store.tombstone_record(a.record_id, author="oscartes-sync", origin=a.origin,
                                    note=Text("deleted in {origin}", origin=a.origin))

    def _resurrect(self, a: ResurrectRecord, outcome: Outcome) -> None:
        alive = [r for r in self.store.history(a.record_id) if not r.deleted]
        if alive:
            self.store.restore(a.record_id, alive[-1].number, author=f"member@{a.origin}")

    def _forget_link(self, a: ForgetLink, outcome: Outcome) -> None:
        self.store.remove_link(a.record_id, a.instance)

    # what writes to an instance

    def _create(self, a: CreateEntry, outcome: Outcome) -> None:
        target, fmap = self.targets[a.instance], self.maps[a.instance]
        url = source_url(a.record_id)
        # Intent first: if the run dies after the POST, the next run finds the entry by its Source-Url.
        self.store.set_link(a.record_id, a.instance, form_id=fmap.form_id, remote_id=None,
                            snapshot={})
        # Every mapped field is sent, empty ones as "": a field left out takes the form's default on a real
        # wiki (tests/contract/recorded/entries_x1), which would make the copy say what the member never did.
        raw = to_wiki(a.values, fmap, ids=self.ids.get(a.instance))
        dropped = self._attach_files(a.record_id, a.instance, raw, a.values, outcome)
        remote_id = target.create_entry(fmap.form_id, raw, url)
        # a picture that could not be sent is left out of what we expect there: the next run sends it again
        self._record_readback(a.record_id, a.instance, remote_id,
                              {f: v for f, v in a.values.items() if f not in dropped}, None, outcome)

    def _update(self, a: UpdateEntry, outcome: Outcome) -> None:
        target, fmap = self.targets[a.instance], self.maps[a.instance]
        before = target.read_entry(a.remote_id)
        if before is None:
            outcome.notices.append(Notice("info", a.instance, a.record_id,
                                          Text("entry {entry} vanished before the write: the next run decides",
                                               entry=a.remote_id)))
            return
        now, _ = to_canonical(before.values, fmap, self.ids.get(a.instance), self.files.get(a.instance))
        if any(now.get(f) != v for f, v in a.expected.items()):
            # A member saved since the listing: writing now would hide that edit. Next run merges it.
            outcome.notices.append(Notice("info", a.instance, a.record_id,
                                          Text("entry {entry} changed since the listing: write postponed to the "
                                               "next run", entry=a.remote_id)))
            return
        # Only the changed fields: what the instance needs besides them to keep the rest (YesWiki: the title
        # and the map field) is the target's business.
        raw = to_wiki(a.changes, fmap, list(a.changes), self.ids.get(a.instance))
        dropped = self._attach_files(a.record_id, a.instance, raw, a.changes, outcome)
        changes = {f: v for f, v in a.changes.items() if f not in dropped}
        if not changes:
            return  # only pictures that cannot be had this run: nothing written, the next run tries again
        target.write_changes(fmap.form_id, a.remote_id, raw, before)
        expected_after = {**a.expected, **changes}
        self._record_readback(a.record_id, a.instance, a.remote_id, expected_after, before.revision, outcome,
                              changes, a.kept)

    def _attach_files(self, record_id: str, instance: str, raw: dict, values: Values, outcome: Outcome) -> set[str]:
        """Put the file to upload in place of each picture's hash in `raw` (an emptied one stays "": it erases
        the file there). A picture no wiki can give this run is left out of the write and named."""
        fmap, dropped = self.maps[instance], set()
        for f in fmap.file_fields:
            digest = values.get(f, None)
            if f not in values or digest is None:
                continue
            key = fmap.keys[f]
            got = self.source.upload(digest)
            if isinstance(got, str):
                dropped.add(f)
                raw.pop(key, None)
                outcome.notices.append(Notice("attention", instance, record_id,
                                              Text("{field} not sent ({reason}): the rest is written, the picture "
                                                   "on the next run", field=Term.field(f), reason=got),
                                              kind="file_not_sent"))
                continue
            raw[key] = got
            if instance in self.files:
                self.files[instance].expect(key, digest, got)
        return dropped

    def _record_readback(self, record_id: str, instance: str, remote_id: str, expected: Values,
                         previous_revision: str | None, outcome: Outcome, written: Values | None = None,
                         kept: dict[str, list] | None = None) -> None:
        """Link the entry to what it holds now. Where the history shows a member's save between our read and
        our write, or after it, the snapshot stays on what we wrote, so that their values are merged next run."""
        target, fmap = self.targets[instance], self.maps[instance]
        after = target.read_entry(remote_id)
        old = self.store.link(record_id, instance)
        old_written = (old.snapshot.get(WRITTEN, {}) if old else {})
        snapshot: Values = dict(expected)
        pending = None  # what an earlier hidden revision held was merged by the plan that led to this write
        if after is not None:
            seen = self._screened(to_canonical(after.values, fmap, self.ids.get(instance),
                                               self.files.get(instance))[0])
            clean_history = True
            if previous_revision is not None:
                revs = target.revisions(remote_id)
                ours_on_top = bool(revs) and revs[0].id == after.revision
                below = revs[1] if len(revs) > 1 else None
                clean_history = ours_on_top and below is not None and below.id == previous_revision
                if ours_on_top and below is not None and below.id != previous_revision:
                    hidden = target.read_revision(remote_id, below)
                    if hidden is not None:
                        pending = self._screened(to_canonical(hidden, fmap, self.ids.get(instance),
                                                              self.files.get(instance))[0])
                    else:
                        outcome.notices.append(Notice("attention", instance, record_id, Text(
                            "a member saved entry {entry} during our write and that revision cannot be read "
                            "back: check its history in the wiki", entry=remote_id), kind="hidden_revision"))
            if clean_history:
                snapshot = seen  # trust how the wiki stored our values (purified HTML, number formats)
        sent = written if written is not None else expected
        for f in fmap.file_fields:
            if sent.get(f) is not None and after is not None and snapshot.get(f) is None:
                outcome.notices.append(Notice("attention", instance, record_id, Text(
                    "{field} was sent to entry {entry} but the wiki did not keep it", field=Term.field(f),
                    entry=remote_id), kind="file_not_kept"))
        snapshot[WRITTEN] = {**old_written, **(kept or {}), **{f: [v, snapshot.get(f)] for f, v in sent.items()}}
        self.store.set_link(record_id, instance, form_id=fmap.form_id, remote_id=remote_id, snapshot=snapshot,
                            written_hash=content_hash(sent), pending=pending)

    def _screened(self, values: Values) -> Values:
        """Read-back values without those that hold a value erased with `forget` (the sync refuses them)."""
        if not self.forgotten:
            return values
        return {f: v for f, v in values.items() if not self.forgotten.holds(v)}

    def _delete(self, a: DeleteEntry, outcome: Outcome) -> None:
        target, fmap = self.targets[a.instance], self.maps[a.instance]
        before = target.read_entry(a.remote_id)
        if before is not None:
            now, _ = to_canonical(before.values, fmap, self.ids.get(a.instance), self.files.get(a.instance))
            if any(now.get(f) != v for f, v in seen_values(a.expected).items()):
                outcome.notices.append(Notice("attention", a.instance, a.record_id,
                                              Text("entry {entry} was edited since the listing: not deleted",
                                                   entry=a.remote_id), kind="not_deleted"))
                return
            target.delete_entry(a.remote_id)
        self.store.remove_link(a.record_id, a.instance)

    # one handler per action type: a new action without its handler fails at once in the tests
    _HANDLERS = {
        CreateRecord: _create_record,
        UpdateRecord: _update_record,
        PlaceRecord: _place_record,
        LinkEntry: _link_entry,
        OpenConflict: _open_conflict,
        ReviewDuplicate: _review_duplicate,
        TombstoneRecord: _tombstone,
        ResurrectRecord: _resurrect,
        ForgetLink: _forget_link,
        CreateEntry: _create,
        UpdateEntry: _update,
        DeleteEntry: _delete,
    }


class KilledForTest(Exception):
    """Raised by the executor when a test asked to stop the run right after an action."""

    def __init__(self, action: Action):
        super().__init__(f"run stopped after {type(action).__name__}")
        self.action = action
