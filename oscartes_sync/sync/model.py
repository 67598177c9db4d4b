"""Plain values that flow into the planner and the actions that flow out of it.

Nothing here does I/O: the reader builds the inputs from the store and the listings, the executor applies
the actions. Keeping them as frozen dataclasses is what lets a table of cases and a state machine drive the
planner directly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

Values = dict[str, Any]  # canonical field -> canonical value (None = empty)

# Key of a snapshot holding, per field, [value we sent, value the wiki stored for it]. Self-checking: it
# only says "nothing to write" while the wiki still holds exactly what it stored for our value.
WRITTEN = "_written"


@dataclass(frozen=True)
class RecordState:
    id: str
    kind: str
    fields: Values
    deleted: bool = False


@dataclass(frozen=True)
class LinkState:
    record_id: str
    instance: str
    remote_id: str | None  # None: a create was started and never confirmed
    snapshot: Values  # canonical values last seen or written there (+ WRITTEN)
    pending: Values | None = None  # a member's revision our write hid (DECISIONS §4)


@dataclass(frozen=True)
class Observed:
    """One entry as listed: canonical values (refused ones left out), moderation, and problems."""

    remote_id: str
    values: Values
    validated: bool = True
    updated: str = ""
    user: str = ""  # last editor, for the record's history
    source: str | None = None  # record id named by the entry's Source-Url (read only for unlinked entries)
    problems: tuple[tuple[str, str], ...] = ()  # (field, message)


@dataclass(frozen=True)
class Listing:
    instance: str
    entries: dict[str, Observed] | None  # None: the listing failed; never act on this instance
    error: str | None = None
    # entries the instance listed in all, when `entries` holds only those the planner is given (the entries of
    # the records it plans and every entry no link names: sync/quiet.py); None: `entries` holds them all
    total: int | None = None


@dataclass(frozen=True)
class TwinOutcome:
    """How a record settles with the entry just linked to it as its twin (DECISIONS §22): `values` holds the
    record's value for each field the rules settle; `keep_twin` the fields where the twin's wiki keeps its own
    spelling, `keep_base` those where the wikis that held the record's value keep theirs. A field named in
    none of them follows the plain rule: it fills an empty field, a different value is a conflict."""

    values: Values = field(default_factory=dict)
    keep_twin: frozenset[str] = frozenset()
    keep_base: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GeoPoint:
    """Where an address is, as the geocoding step found it before planning: from the address itself, or the
    centre of its commune (approximate)."""

    latitude: float
    longitude: float
    precision: str  # "address" | "commune"
    note: str  # for the history and the report: what placed it


@dataclass(frozen=True)
class SyncPolicy:
    """The deletion limits (DECISIONS §11) and what a person accepted for this run. One value for the entries
    and for everything derived from records (cards, pages), so that one acceptance holds everywhere (§24)."""

    max_delete_ratio: float = 0.2
    min_delete_count: int = 3
    allow_deletes: int = 0  # a person accepted this many refused deletions for this run
    newest_wins: bool = False

    @classmethod
    def of(cls, sync_config: Any, allow_deletes: int = 0) -> SyncPolicy:
        """From the config's [sync] table (config.SyncConfig)."""
        return cls(sync_config.max_delete_ratio, sync_config.min_delete_count, allow_deletes,
                   sync_config.newest_wins)

    def limit(self, count: int) -> int:
        """How many of `count` things may go in one run without a person."""
        return int(max(self.max_delete_ratio * count, self.min_delete_count))

    def refuses(self, n: int, count: int) -> bool:
        """Whether deleting `n` of `count` at once waits for a person: above the limit, and more than the
        person accepted for this run (`sync --allow-deletes N`)."""
        return n > self.limit(count) and n > self.allow_deletes

    def split(self, gone: list[str], accepted: Collection[str], count: int) -> tuple[list[str], list[str]]:
        """(what may go now, what is refused) of the things derived from records that `gone` lists, out of
        `count`. Those of `accepted` records (tombstones: deleted within the limits or by a person, §24) always
        go; the others count against the limit, unless a person accepted that many."""
        unexplained = [g for g in gone if g not in accepted]
        if unexplained and self.refuses(len(unexplained), count):
            return [g for g in gone if g in accepted], unexplained
        return list(gone), []


@dataclass(frozen=True)
class PlanInput:
    kind: str
    instances: tuple[str, ...]  # in config order: earlier instances' new entries become records first
    fields_by_instance: dict[str, tuple[str, ...]]  # canonical fields each instance's form carries
    records: dict[str, RecordState]
    links: dict[tuple[str, str], LinkState]  # (record_id, instance)
    listings: dict[str, Listing]
    open_conflicts: dict[tuple[str, str], dict[str, Any]]  # (record_id, field) -> candidates
    # (instance, remote_id) of an entry waiting for a person -> the record ids it may duplicate; those
    # records are copied nowhere until the person decides (DECISIONS §1)
    open_reviews: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    distinct: frozenset[tuple[str, str]] = frozenset()  # (instance, remote_id) a person marked as no duplicate
    # fields whose read ACL is restricted in each instance's form: a value never goes where it would be more
    # visible than where a member entered it (DECISIONS §6)
    restricted: dict[str, frozenset[str]] = field(default_factory=dict)
    policy: SyncPolicy = SyncPolicy()
    title_field: str = "name"  # the kind's title: the wiki re-derives nothing from it, but names entries by it
    # What the planner consults, passed in as values so that it stays pure: the duplicate matcher, built once
    # over the live records (identity.MatchIndex; None: nothing matches), and the commune -> INSEE code
    # look-up of the reference data (geo.insee_of; None: no code derived).
    matcher: Callable[[list[tuple[str, Values]]], Any] | None = None
    insee_of: Callable[[Any, Any], str | None] | None = None
    # (kind, record values, twin values, record's last update, twin's) -> TwinOutcome (twins.reconcile; None:
    # every difference between twins is a conflict)
    reconcile: Callable[..., TwinOutcome] | None = None
    # Placing records that have an address and no point: (record values) -> the point the geocoding step found
    # for that address before planning (a look-up in a table built from the store's cache and the geocoder;
    # None: not placed); `placed` the points the service placed itself, which it may move when the address
    # changes (a member's pin is never moved), `moved` those of them whose address changed since they were
    # placed; `address_fields` the fields that say where the record is.
    place_of: Callable[[Values], GeoPoint | None] | None = None
    placed: dict[str, tuple[float, float]] = field(default_factory=dict)
    moved: frozenset[str] = frozenset()
    address_fields: tuple[str, ...] = ()
    # A plan of part of the kind (the engine leaves out the records whose inputs did not move since their last
    # empty plan, sync/quiet.py). `records` and `links` then hold only the records to plan, with all their links,
    # and the listings all their entries plus every entry no link names. What the planner still needs of the
    # whole kind comes as values: `known` every record id of the kind (deleted ones included), so that an entry
    # naming a record it was not given asks for it (`Plan.needs`) instead of rebuilding it; `pool` every live
    # record, which the duplicate matcher is built from when an entry reaches it (`reaches_matcher`); the
    # confirmed links per instance and the live records, which the guards count against. None: `records` and
    # `links` hold the whole kind.
    known: frozenset[str] | None = None
    pool: tuple[tuple[str, Values], ...] | None = None
    linked_counts: dict[str, int] | None = None
    live_count: int | None = None


# ---- actions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    record_id: str

    @property
    def writes_remote(self) -> bool:
        return False


@dataclass(frozen=True)
class CreateRecord(Action):
    """A member's new entry with no likely duplicate becomes a source record, linked to it."""

    kind: str
    fields: Values
    instance: str
    remote_id: str
    snapshot: Values
    author: str = ""
    note: str = ""  # for the history, besides "new entry ... in ..." (a twin linked, values not kept)


@dataclass(frozen=True)
class UpdateRecord(Action):
    fields: Values
    origin: str  # instances whose edits this merges, comma separated, or "store"
    author: str = ""  # who made those edits there (the entries' last editors), for the history
    note: str = ""  # for the history, instead of "merged edits from ..."


@dataclass(frozen=True)
class LinkEntry(Action):
    """Set or refresh what we know of an entry: its id and the values last seen there."""

    instance: str
    remote_id: str
    snapshot: Values
    clear_pending: bool = False


@dataclass(frozen=True)
class PlaceRecord(Action):
    """A record with an address and no point gets one (origin "geocoder" in its history)."""

    latitude: float
    longitude: float
    precision: str
    note: str


@dataclass(frozen=True)
class OpenConflict(Action):
    field: str
    base: Any
    candidates: dict[str, Any]
    times: dict[str, str] = field(default_factory=dict)  # instance -> when its candidate was entered there


@dataclass(frozen=True)
class CreateEntry(Action):
    instance: str
    values: Values  # canonical values to send

    @property
    def writes_remote(self) -> bool:
        return True


@dataclass(frozen=True)
class UpdateEntry(Action):
    instance: str
    remote_id: str
    changes: Values  # canonical values of the fields to write
    title: Any
    expected: Values  # what the listing showed: the write is skipped if the entry changed since
    # fields where this wiki keeps its own spelling of the record's value: [record value, wiki value], kept in
    # the snapshot's WRITTEN pairs so that they are not rewritten (DECISIONS §22)
    kept: dict[str, list] = field(default_factory=dict)

    @property
    def writes_remote(self) -> bool:
        return True


@dataclass(frozen=True)
class DeleteEntry(Action):
    instance: str
    remote_id: str
    expected: Values

    @property
    def writes_remote(self) -> bool:
        return True


@dataclass(frozen=True)
class TombstoneRecord(Action):
    origin: str


@dataclass(frozen=True)
class ResurrectRecord(Action):
    """A deleted record whose entry a member edited elsewhere (unseen when the deletion went through): the
    edit wins over the deletion, the record comes back with its last values, then the edit is merged."""

    origin: str


@dataclass(frozen=True)
class ForgetLink(Action):
    instance: str


@dataclass(frozen=True)
class ReviewDuplicate(Action):
    """An unsure duplicate: copied nowhere until a person decides (record_id is the best candidate)."""

    instance: str
    remote_id: str
    values: Values
    candidates: tuple[tuple[str, float], ...]


# What a notice is about, so that the report groups it by what a person does about it without reading its
# words (which are translated where shown). Stable: `sync --json` carries it.
CONFLICT, DUPLICATE, REFUSED_VALUE, REFUSED_DELETION, LISTING_FAILED = (
    "conflict", "duplicate", "refused_value", "refused_deletion", "listing_failed")


@dataclass(frozen=True)
class Notice:
    """Something the run report names: refused values, refused deletions, skipped instances."""

    level: str  # "info" | "attention" (needs a person: exit 1)
    instance: str
    record_id: str | None
    message: str  # a text.Text (English as a str, translated where shown), or a plain English string
    records: tuple[str, ...] = ()  # the records a notice about several names (a refused deletion batch)
    kind: str = ""  # CONFLICT, DUPLICATE... or "" (anything else)


@dataclass
class Plan:
    kind: str
    actions: list[Action] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    trusted: list[str] = field(default_factory=list)  # instances whose listing the plan acts on
    considered: set[str] = field(default_factory=set)  # records this plan looked at (new ones included)
    unsettled: set[str] = field(default_factory=set)  # of those, records to plan again even with no action
    needs: set[str] = field(default_factory=set)  # records an entry named that were not given: plan again with them

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def note(self, level: str, instance: str, record_id: str | None, message: str,
             records: tuple[str, ...] = (), kind: str = "") -> None:
        self.notices.append(Notice(level, instance, record_id, message, records, kind))

    @property
    def remote_writes(self) -> list[Action]:
        return [a for a in self.actions if a.writes_remote]
