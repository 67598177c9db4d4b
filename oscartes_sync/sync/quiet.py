"""Which records a run must plan, and which are quiet: a run costs what changed, not the directory's size.

A record is *settled* when its last plan was empty: no action, no notice, nothing left waiting (the planner says
which, `Plan.unsettled`). What that plan depended on is kept as a fingerprint (state `sync/settled/<kind>`):

  * the record: its revision (it moves with every change of its fields), its deleted flag, whether a review
    holds it, its open conflicts, and what the whole kind is planned with (the instances and their forms, the
    deletion policy, the package version: a change there plans every record again);
  * per instance: its link (entry id, snapshot hash, a hidden revision waiting) and the digest of the entry
    listed there now (`entry_digest`: the raw values as the wiki sent them, before any cleaning).

On the next run a record whose fingerprint is unchanged would get the same empty plan: it is neither cleaned
nor planned. Everything else is: the records an entry changed in, the records changed in the store (by a
person's decision, a restore, a merge), those whose entry vanished, and every entry no link names yet. An
instance whose listing failed is left out of the comparison (nothing of it is known this run), and such a
partial run records no new fingerprint.

Why a digest of the raw values: cleaning is what costs (a sanitiser pass per field); the raw values are what
the wiki says, so when they did not move, neither did anything cleaned from them. The snapshot of a settled
link is exactly what cleaning them gave (the planner refreshes it otherwise), so a settled record planned again
because another wiki changed reuses nothing stale: its entries are cleaned again with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..targets.base import ListedEntry

STATE = "sync/settled/{kind}"
FORMAT = 1  # moves when what a fingerprint covers changes: every record is planned once again


def entry_digest(entry: ListedEntry) -> str:
    """A digest of an entry's raw values as listed (field order as the wiki sends it). Cheaper than a JSON
    dump when every value is a string (the common case); any other value, or a separator inside a value,
    falls back to JSON, so that no two listings can share a digest by shifting text between fields."""
    values = entry.values
    try:
        text = "\x1f".join(map("\x1e".join, values.items()))
        if text.count("\x1e") != len(values) or text.count("\x1f") != max(len(values) - 1, 0):
            raise TypeError
    except TypeError:
        text = "\x00" + json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _h(*parts: Any) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass"),
                           digest_size=8).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """The installed version of the package: what a fingerprint was made by (a new release plans anew)."""
    try:
        from importlib.metadata import version

        return version("oscartes-sync")
    except Exception:  # noqa: BLE001 - running from a source tree that is not installed
        return "source"


def kind_context(*parts: Any) -> str:
    """What the whole kind is planned with, as one hash (the engine lists the parts)."""
    return _h(FORMAT, code_version(), json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False))


@dataclass
class Settled:
    """The fingerprints of one kind's settled records, and of the unlinked entries waiting for a person."""

    kind: str
    records: dict[str, list] = field(default_factory=dict)  # record id -> [record part, {instance: part}]
    waiting: dict[str, dict[str, str]] = field(default_factory=dict)  # instance -> {entry id: digest}
    loaded: Any = None

    @classmethod
    def load(cls, store, kind: str) -> "Settled":
        got = store.get_state(STATE.format(kind=kind))
        got = got if isinstance(got, dict) else {}
        records = got.get("records") if isinstance(got.get("records"), dict) else {}
        waiting = got.get("waiting") if isinstance(got.get("waiting"), dict) else {}
        return cls(kind, dict(records), {i: dict(w) for i, w in waiting.items()}, got)

    @staticmethod
    def record_part(context: str, revision: int, deleted: bool, held: bool, conflicts: tuple[str, ...]) -> str:
        return _h(context, revision, int(deleted), int(held), ",".join(conflicts))

    @staticmethod
    def instance_part(link, digest: str | None) -> str:
        """`link`: a store LinkKey or None (no link there); `digest`: of the entry listed under its id, None
        when nothing is listed there."""
        if link is None:
            return "none"
        return _h(link.remote_id, link.snapshot_hash, int(link.pending), digest or "-")

    def quiet(self, record_id: str, record_part: str, parts: dict[str, str]) -> bool:
        """Whether the record's inputs are those of its last empty plan, on the instances compared this run."""
        known = self.records.get(record_id)
        if not known or known[0] != record_part:
            return False
        theirs = known[1]
        return all(theirs.get(inst) == part for inst, part in parts.items())

    def waits(self, instance: str, entry_id: str, digest: str) -> bool:
        """Whether an entry waiting for a person is as it was when it was last read (then it is not read again:
        the planner leaves it alone until the person decides)."""
        return self.waiting.get(instance, {}).get(entry_id) == digest

    def save(self, store) -> None:
        value = {"records": self.records, "waiting": {i: w for i, w in self.waiting.items() if w}}
        if value != self.loaded:
            store.set_state(STATE.format(kind=self.kind), value)
            self.loaded = value
