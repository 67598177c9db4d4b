"""What one run reads of the records and links, read once and shared by the sync and the publishers.

A quiet run must not decode every record's fields and every link's snapshot (at 10,000 actors that alone
takes longer than the whole run should). So a run first reads the keys only: each record's id, kind, revision
and deleted flag, each link's ids and snapshot hash (`Store.record_keys`, `Store.link_keys`: two queries, no
JSON). A revision moves with every change of a record's fields, so the keys say what changed; the fields of a
record are read only when someone needs them, and then kept for the rest of the run (`fields_of`,
`records_of_kind`). Every write to records or links through the store moves `Store.generation`: the view then
reads the keys again at its next use and drops the records whose revision moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .api import LinkKey, RecordKey, RecordRow, Store


class StoreView:
    def __init__(self, store: Store):
        self.store = store
        self._generation: int | None = None
        self._records: dict[str, RecordKey] = {}
        self._links: list[LinkKey] = []
        self._by_record: dict[str, dict[str, LinkKey]] | None = None
        self._rows: dict[str, RecordRow] = {}  # records whose fields were read, at their current revision
        self._complete: set[str] = set()  # kinds read whole once: only records written since are read again
        self.reads = {"keys": 0, "records": 0}  # what was read from the store, for tests and benchmarks

    # -- keys

    def _fresh(self) -> None:
        if self._generation == self.store.generation:
            return
        self._generation = self.store.generation
        self._records = {k.id: k for k in self.store.record_keys()}
        self._links = self.store.link_keys()
        self._by_record = None
        self.reads["keys"] += 1
        stale = [rid for rid, row in self._rows.items()
                 if (k := self._records.get(rid)) is None or k.revision != row.revision or k.deleted != row.deleted]
        for rid in stale:
            del self._rows[rid]

    @property
    def records(self) -> dict[str, RecordKey]:
        """Record id -> its key, every kind, deleted records included."""
        self._fresh()
        return self._records

    def record_keys(self, kind: str) -> list[RecordKey]:
        return [k for k in self.records.values() if k.kind == kind]

    @property
    def links(self) -> list[LinkKey]:
        self._fresh()
        return self._links

    def links_by_record(self) -> dict[str, dict[str, LinkKey]]:
        """Record id -> instance -> its link."""
        self._fresh()
        if self._by_record is None:
            out: dict[str, dict[str, LinkKey]] = {}
            for link in self._links:
                out.setdefault(link.record_id, {})[link.instance] = link
            self._by_record = out
        return self._by_record

    def remote_ids(self, instances: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        """Record id -> {instance: entry id} of the confirmed links (of `instances` only, when given)."""
        wanted = set(instances) if instances is not None else None
        out: dict[str, dict[str, str]] = {}
        for link in self.links:
            if link.remote_id and (wanted is None or link.instance in wanted):
                out.setdefault(link.record_id, {})[link.instance] = link.remote_id
        return out

    # -- fields, read when needed

    def fields_of(self, ids: Iterable[str]) -> dict[str, RecordRow]:
        """The records of these ids (those that exist), fields included."""
        self._fresh()
        ids = set(ids)
        missing = [rid for rid in ids if rid not in self._rows and rid in self._records]
        if missing:
            got = self.store.records_by_id(missing)
            self.reads["records"] += len(got)
            self._rows.update(got)
        return {rid: self._rows[rid] for rid in ids if rid in self._rows}

    def records_of_kind(self, kind: str | None = None, include_deleted: bool = False) -> list[RecordRow]:
        """Every record of a kind (every kind: None), by id, as `Store.records` gives them."""
        self._fresh()
        kinds = {kind} if kind is not None else {k.kind for k in self._records.values()}
        for k in sorted(kinds):
            if k in self._complete:  # read before: only what was written since
                self.fields_of([rid for rid, key in self._records.items() if key.kind == k and rid not in self._rows])
                continue
            rows = self.store.records(k, include_deleted=True)
            self.reads["records"] += len(rows)
            self._rows.update((r.id, r) for r in rows)
            self._complete.add(k)
        return [self._rows[rid] for rid in sorted(self._records) if rid in self._rows
                and (kind is None or self._records[rid].kind == kind)
                and (include_deleted or not self._records[rid].deleted)]

    # -- signatures: whether anything a derived artefact shows may have changed, without reading fields

    def signature(self, kinds: Iterable[str] | None = None, link_instances: Iterable[str] | None = None) -> str:
        """A hash of the keys of the records of `kinds` (all: None) and of the confirmed links of
        `link_instances` (none: None). Equal signatures mean equal fields and entry ids."""
        wanted = set(kinds) if kinds is not None else None
        h = hashlib.blake2b(digest_size=16)
        for k in self.records.values():
            if wanted is None or k.kind in wanted:
                h.update(f"{k.id}\x1f{k.revision}\x1f{int(k.deleted)}\x1e".encode())
        if link_instances is not None:
            insts = set(link_instances)
            for link in self.links:
                if link.instance in insts and link.remote_id:
                    h.update(f"{link.record_id}\x1f{link.instance}\x1f{link.remote_id}\x1e".encode())
        return h.hexdigest()

    def link_signature(self, kinds: Iterable[str], instances: Iterable[str]) -> str:
        """A hash of which entry of `instances` is which live record of `kinds`: what cleaning a link field
        into record ids depends on."""
        wanted, insts = set(kinds), set(instances)
        h = hashlib.blake2b(digest_size=16)
        for link in self.links:
            k = self.records.get(link.record_id)
            if link.remote_id and link.instance in insts and k is not None and k.kind in wanted and not k.deleted:
                h.update(f"{link.record_id}\x1f{link.instance}\x1f{link.remote_id}\x1e".encode())
        return h.hexdigest()
