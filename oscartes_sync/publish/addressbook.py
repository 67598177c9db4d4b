"""The shared address book: one vCard per live actor in each Nextcloud (PRODUCT.md §4, DECISIONS §6, §13, §18).

The book is owned by the service account and shared read-only with the network's group, once, when its `oc:invite`
lacks the share (`dav_share`). A card is written only when its content changed since the service last wrote it; a
no-op run costs one sync-collection REPORT.
What the service wrote is remembered in the store's state (per instance: record id -> content hash, ETag, and the
values the card showed), which is how an edit made in Nextcloud is told apart from the service's own writes:
such an edit becomes one suggestion per changed field (`oscartes-sync suggestions`), then the card is restored.
Each card also remembers the hash of what it was built from (the record's revision, its entries' links, the
list labels): a card is built again only when that moved, or when Nextcloud shows it was changed there, so a
quiet run reads no record's fields and builds no vCard.

Contact details (email, phone) go into a card only when the record marks them public (members-only otherwise).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Iterable
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import vobject

from .. import normalise
from ..clean import display_phone
from ..config import Config, NextcloudConfig
from ..hashing import content_hash
from ..records import ACTOR
from ..store import Store
from ..store.view import StoreView
from ..sync.model import REFUSED_DELETION, Notice, SyncPolicy
from ..sync.quiet import code_version
from ..targets.base import EntryError
from ..targets.nextcloud import (
    NextcloudClient, NotFound, PreconditionFailed, SyncResult, SyncTokenInvalid, group_principal,
)
from ..templates import all_lists
from ..text import Term, Text
from .dav_share import ensure_group_share

PRODID = "-//OSCARTES//oscartes-sync//FR"
BOOK_DISPLAYNAME = "OSCARTES — annuaire des acteurs"
BOOK_DESCRIPTION = ("Annuaire des acteurs du réseau, tenu à jour par oscartes-sync. Lecture seule : proposez vos "
                    "corrections dans le wiki.")
# The fields a card shows that a person may edit in Nextcloud; each becomes a suggestion when changed there.
CARD_FIELDS = ("name", "short_description", "street", "postcode", "commune", "email", "phone", "website")
CONTACT_FIELDS = ("email", "phone")
CARD_FORMAT = 1  # moves when what a card is built from changes shape: every card is built again once


def state_key(instance: str) -> str:
    return f"nextcloud:{instance}:addressbook"


# ---------------------------------------------------------------------------------------------------- cards


@dataclass(frozen=True)
class CardContext:
    """What a card needs besides the record: wiki entry links and list labels."""

    wiki_urls: dict[str, str]                       # wiki name -> base url (config order)
    remote_ids: dict[str, dict[str, str]]           # record id -> {wiki name: entry id}
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # list id -> key -> label

    @classmethod
    def from_store(cls, cfg: Config, store: Store, view: StoreView | None = None) -> "CardContext":
        urls = {w.name: w.url for w in cfg.wiki}
        remote = (view or StoreView(store)).remote_ids(urls)
        lists = all_lists(cfg.local_territory())
        return cls(urls, remote, {k: v["values"] for k, v in lists.items()})

    def entry_urls(self, record_id: str) -> list[str]:
        ids = self.remote_ids.get(record_id, {})
        return [f"{url}?{ids[name]}" for name, url in self.wiki_urls.items() if ids.get(name)]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def contact_public(fields: dict[str, Any]) -> bool:
    """Email and phone are members-only unless the record marks them public (DECISIONS §6)."""
    return fields.get("contact_visibility") == "public"


def card_values(fields: dict[str, Any]) -> dict[str, str]:
    """The editable values a card shows for these record fields (members-only contact details left out)."""
    public = contact_public(fields)
    out: dict[str, str] = {}
    for name in CARD_FIELDS:
        if name in CONTACT_FIELDS and not public:
            continue
        value = fields.get(name)
        if not _empty(value):
            # a phone is stored in E.164 and shown the way members read it (DECISIONS §23)
            out[name] = display_phone(str(value)) if name == "phone" else str(value)
    return out


def _one_value(name: str, a: Any, b: Any) -> bool:
    """Two values a card field shows that are one (a phone in two display forms: not an edit, §23)."""
    if a == b:
        return True
    ftype = ACTOR.field(name).type
    return a is not None and b is not None and \
        normalise.field_key(name, ftype, a) == normalise.field_key(name, ftype, b)


def _number(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(float(value), ".6f")
    return None


def build_card(record_id: str, fields: dict[str, Any], ctx: CardContext) -> tuple[str, dict[str, str]]:
    """The vCard 3.0 text of one actor and the editable values it shows. Deterministic: the same record and
    context give the same bytes (so the same ETag, contract §4)."""
    values = card_values(fields)
    name = values.get("name") or record_id
    card = vobject.vCard()
    card.add("prodid").value = PRODID
    card.add("uid").value = record_id
    card.add("fn").value = name
    card.add("n").value = vobject.vcard.Name()
    card.add("org").value = [name]
    card.add("x-addressbookserver-kind").value = "org"
    if any(k in values for k in ("street", "postcode", "commune")):
        card.add("adr").value = vobject.vcard.Address(street=values.get("street", ""), city=values.get("commune", ""),
                                                      code=values.get("postcode", ""), country="France")
    lat, lon = _number(fields.get("latitude")), _number(fields.get("longitude"))
    if lat and lon:
        card.add("geo").value = f"{lat};{lon}"
    if "phone" in values:
        tel = card.add("tel")
        tel.value = values["phone"]
        tel.type_param = "WORK"
    if "email" in values:
        email = card.add("email")
        email.value = values["email"]
        email.type_param = "INTERNET"
    if "website" in values:
        card.add("url").value = values["website"]
    for url in ctx.entry_urls(record_id):
        link = card.add("url")
        link.value = url
        link.type_param = "wiki"
    categories = []
    for fname, list_id in (("themes", "ListeThemes"), ("services", "ListeServices")):
        labels = ctx.labels.get(list_id, {})
        categories += [labels.get(k, k) for k in (fields.get(fname) or [])]
    if categories:
        card.add("categories").value = categories
    if "short_description" in values:
        card.add("note").value = values["short_description"]
    return card.serialize(), values


def parse_card(text: str) -> dict[str, str]:
    """The editable values of a card as it is on the server. Raises ValueError for a card that does not parse."""
    try:
        card = vobject.readOne(text)
    except Exception as exc:  # vobject raises several unrelated types for bad input
        raise ValueError(f"not a readable vCard ({type(exc).__name__})") from None
    if getattr(card, "name", "").upper() != "VCARD":
        raise ValueError("not a vCard")
    out: dict[str, str] = {}

    def first(name: str) -> Any:
        items = card.contents.get(name) or []
        return items[0].value if items else None

    fn = first("fn")
    if isinstance(fn, str) and fn.strip():
        out["name"] = fn.strip()
    note = first("note")
    if isinstance(note, str) and note.strip():
        out["short_description"] = note.strip()
    adr = first("adr")
    if adr is not None:
        for key, attr in (("street", "street"), ("postcode", "code"), ("commune", "city")):
            value = getattr(adr, attr, "")
            value = " ".join(value) if isinstance(value, list) else str(value or "")
            if value.strip():
                out[key] = value.strip()
    for key, name in (("email", "email"), ("phone", "tel")):
        value = first(name)
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    for url in card.contents.get("url") or []:
        types = [t.lower() for t in url.params.get("TYPE", [])]
        if "wiki" not in types and isinstance(url.value, str) and url.value.strip():
            out["website"] = url.value.strip()
            break
    return out


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------- sync


@dataclass
class BookOutcome:
    writes: int = 0
    planned: int = 0  # dry run: the writes a real run would make
    written: list[str] = field(default_factory=list)  # record ids whose card was written this run
    deleted: list[str] = field(default_factory=list)  # record ids whose card was deleted this run
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None


def _fresh_state(book: str) -> dict[str, Any]:
    return {"book": book, "share": {}, "token": None, "cards": {}, "unknown": [], "recheck": []}


def load_state(store: Store, nc: NextcloudConfig) -> dict[str, Any]:
    state = store.get_state(state_key(nc.name))
    if not isinstance(state, dict) or state.get("book") != nc.addressbook:
        return _fresh_state(nc.addressbook)  # first run, or the config names another book
    # An older state's "shared_with" remembers a share that named the group raw, which reaches no member: dropped,
    # so that the share is checked again.
    return {**_fresh_state(nc.addressbook), **{k: v for k, v in state.items() if k != "shared_with"}}


class BookSync:
    """One address book of one Nextcloud, for one run."""

    def __init__(self, client: NextcloudClient, nc: NextcloudConfig, cfg: Config, store: Store,
                 view: StoreView, ctx: CardContext, *, dry_run: bool = False,
                 clock: Callable[[], datetime] | None = None, policy: SyncPolicy | None = None):
        self.client, self.nc, self.cfg, self.store, self.view, self.ctx = client, nc, cfg, store, view, ctx
        self.book = nc.addressbook
        self.dry_run = dry_run
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.policy = policy or SyncPolicy.of(cfg.sync)
        keys = view.record_keys("actor")
        self.live = {k.id: k.revision for k in keys if not k.deleted}  # a card each
        # actors deleted in the store (tombstones): their deletion was accepted, within the limits or by a
        # person (DECISIONS §24), so their cards go without counting against the limit again
        self.deleted = {k.id for k in keys if k.deleted}
        self._labels = content_hash(ctx.labels)
        self._built: dict[str, tuple[str, dict[str, str], str]] = {}  # record id -> (text, values, hash)
        self.names: dict[str, str] = {}
        self.loaded = load_state(store, nc)
        self.state = _copy(self.loaded)
        self.out = BookOutcome()
        self._book_path = unquote(urlsplit(client.book_url(self.book)).path)

    # -- helpers
    def _notice(self, level: str, record_id: str | None, message: str, kind: str = "") -> None:
        self.out.notices.append(Notice(level, self.nc.name, record_id, message, kind=kind))

    def _who(self, rid: str) -> str:
        if rid not in self.names:
            self.names.update(self.store.titles([rid]))
        return Text("the card of \"{name}\"", name=self.names.get(rid, rid))

    def inputs(self, rid: str) -> str:
        """What the card of a live actor is built from, as one hash: its record's revision, its entries' links,
        the list labels, the code that builds it."""
        return content_hash([CARD_FORMAT, code_version(), self.live[rid], self.ctx.entry_urls(rid), self._labels])

    def build(self, rids: Iterable[str]) -> None:
        """The cards of these live actors, built now (their fields read in one go)."""
        missing = [rid for rid in rids if rid in self.live and rid not in self._built]
        for rid, row in self.view.fields_of(missing).items():
            text, values = build_card(rid, row.fields, self.ctx)
            self._built[rid] = (text, values, text_hash(text))
            self.names[rid] = row.fields.get("name") or rid

    def wanted(self, rid: str) -> tuple[str, dict[str, str], str] | None:
        """The card a live actor should have; None for any other id."""
        if rid not in self.live:
            return None
        self.build([rid])
        return self._built.get(rid)

    def _rid_of(self, href: str) -> str | None:
        path = unquote(urlsplit(href).path)
        folder, _, name = path.rpartition("/")
        if folder.rstrip("/") != self._book_path.rstrip("/") or not name.endswith(".vcf"):
            return None
        return name[: -len(".vcf")]

    # -- steps
    def setup(self) -> None:
        """Create the book and share it read-only with the group, until the state remembers the share."""
        share = self.state["share"]
        if share.get("href") == group_principal(self.nc.group):
            return
        if not self.dry_run:
            self.client.ensure_addressbook(self.book, BOOK_DISPLAYNAME, BOOK_DESCRIPTION)
        got = ensure_group_share(self.client, self.client.book_url(self.book), share,
                                 what=Text("address book '{book}'", book=self.book), group=self.nc.group,
                                 now=self.clock(),
                                 dry_run=self.dry_run)
        self.out.notices += got.notices
        if got.error:
            self.out.error = got.error

    def changes(self) -> tuple[SyncResult, bool]:
        """The one change query of a run: (result, full) where `full` means the result lists every card."""
        token = self.state["token"]
        try:
            return self.client.sync_collection(self.book, token), token is None
        except SyncTokenInvalid:
            self._notice("info", None, Text("address book '{book}': the sync token was refused; full resync",
                                            book=self.book))
            return self.client.sync_collection(self.book, None), True
        except NotFound:
            if self.dry_run:
                return SyncResult("", [], []), True
            if self.state["cards"]:
                self._notice("attention", None, Text("address book '{book}' had disappeared: re-created and "
                                                     "filled again", book=self.book))
            self.state.update(_fresh_state(self.book))
            self.setup()
            return self.client.sync_collection(self.book, None), True

    def run(self) -> BookOutcome:
        self.setup()
        res, full = self.changes()
        cards: dict[str, dict[str, Any]] = self.state["cards"]
        changed: dict[str, str] = {}
        removed: set[str] = set()
        foreign: list[str] = []
        for href, etag in res.changed:
            rid = self._rid_of(href)
            if rid is None or (rid not in cards and rid not in self.live):
                foreign.append(href)
            else:
                changed[rid] = etag
        for href in res.removed:
            rid = self._rid_of(href)
            if rid is not None:
                removed.add(rid)
        if full:
            removed |= {rid for rid in cards if rid not in changed}
        to_fetch = {rid for rid, etag in changed.items() if cards.get(rid, {}).get("etag") != etag}
        to_fetch |= {rid for rid in self.state["recheck"] if rid in cards and rid not in removed}
        self.state["recheck"] = []
        if to_fetch:
            self._read_edits(sorted(to_fetch), removed)
        for rid in sorted(removed):
            if rid not in cards:
                continue
            del cards[rid]
            if rid in self.live:
                self._notice("info", rid, Text("{card} was deleted in Nextcloud: restored", card=self._who(rid)))
        self._report_foreign(foreign)
        self._write_cards()
        self._delete_cards()
        self.state["token"] = res.new_token or self.state["token"]
        if not self.dry_run and content_hash(self.state) != content_hash(self.loaded):
            self.store.set_state(state_key(self.nc.name), self.state)
        return self.out

    def _read_edits(self, rids: list[str], removed: set[str]) -> None:
        """Cards changed on the server by someone else: each changed field becomes a suggestion, and the card
        is marked for restoring."""
        cards = self.state["cards"]
        hrefs = {rid: self.client.card_href(self.book, rid) for rid in rids}
        got = self.client.multiget(self.book, hrefs.values())
        self.build(rids)
        for rid in rids:
            found = got.get(hrefs[rid])
            if found is None:
                removed.add(rid)  # gone meanwhile (multiget omits missing cards)
                continue
            text, etag = found
            mine = cards.get(rid)
            wanted = self.wanted(rid)
            if mine is None:
                # A card of one of our records with no trace of our write (state lost, or a crash right after
                # the PUT): adopt it when it is what we would write, else overwrite it (no base to compare).
                if wanted and text_hash(text) == wanted[2]:
                    cards[rid] = {"hash": wanted[2], "etag": etag, "fields": wanted[1], "inputs": self.inputs(rid)}
                else:
                    cards[rid] = {"hash": None, "etag": etag, "fields": {}}
                continue
            if wanted and text_hash(text) == wanted[2]:
                cards[rid] = {"hash": wanted[2], "etag": etag, "fields": wanted[1], "inputs": self.inputs(rid)}
                continue
            mine["etag"], mine["hash"] = etag, None  # restore it below, with If-Match on its current ETag
            if wanted is None:
                continue  # the record is gone: the card is deleted below
            try:
                seen = parse_card(text)
            except ValueError as exc:
                self._notice("attention", rid, Text("{card} was changed in Nextcloud into something that "
                                                    "cannot be read ({reason}): restored", card=self._who(rid),
                                                    reason=exc.args[0] if exc.args else str(exc)))
                continue
            written = mine.get("fields") or {}
            diffs = {f: seen.get(f) for f in CARD_FIELDS if not _one_value(f, seen.get(f), written.get(f))
                     and not _one_value(f, seen.get(f), wanted[1].get(f))}
            if not diffs:
                self._notice("info", rid, Text("{card} was changed in Nextcloud (no value the directory "
                                               "keeps): restored", card=self._who(rid)))
                continue
            for fname, value in sorted(diffs.items()):
                if self.dry_run:
                    self._notice("attention", rid, Text("dry run: {card} was edited in Nextcloud: would "
                                                        "suggest {field} = {value}", card=self._who(rid),
                                                        field=Term.field(fname), value=repr(value)),
                                 kind="suggestion")
                    continue
                sid, new = self.store.add_suggestion(rid, self.nc.name, fname, value)
                if new:
                    self._notice("attention", rid, Text("{card} was edited in Nextcloud: suggestion #{id} "
                                                        "{field} = {value} (`oscartes-sync suggestions`); card "
                                                        "restored", card=self._who(rid), id=sid,
                                                        field=Term.field(fname), value=repr(value)),
                                 kind="suggestion")

    def _report_foreign(self, hrefs: list[str]) -> None:
        known = set(self.state["unknown"])
        for href in sorted(set(hrefs) - known):
            name = unquote(urlsplit(href).path).rsplit("/", 1)[-1]
            self._notice("info", None, Text("address book '{book}' holds a card '{name}' that matches no "
                                            "record: left alone", book=self.book, name=name))
            known.add(href)
        self.state["unknown"] = sorted(known)

    def _write_cards(self) -> None:
        cards = self.state["cards"]
        # a card whose inputs did not move since it was written holds what would be built: not built again
        todo = [rid for rid in sorted(self.live) if (mine := cards.get(rid)) is None or mine.get("hash") is None
                or mine.get("inputs") != self.inputs(rid)]
        self.build(todo)
        for rid in todo:
            text, values, digest = self._built[rid]
            mine = cards.get(rid)
            if mine is not None and mine.get("hash") == digest:
                mine["inputs"] = self.inputs(rid)  # built from other inputs into the same card: nothing to send
                continue
            if self.dry_run:
                self.out.planned += 1
                continue
            etag = mine.get("etag") if mine else None
            try:
                new_etag = self.client.put_card(self.book, rid, text, etag=etag)
            except PreconditionFailed:
                if etag is None:
                    cards.pop(rid, None)  # it exists already: read it next run, then adopt or overwrite it
                    self._notice("info", rid, Text("{card} already existed in Nextcloud: checked on the next run",
                                                   card=self._who(rid)))
                else:
                    mine["hash"] = None
                    self._notice("info", rid, Text("{card} changed in Nextcloud while it was written "
                                                   "(HTTP 412): read again next run", card=self._who(rid)))
                self.state["recheck"].append(rid)
                continue
            except NotFound:
                raise
            except EntryError as exc:
                self._notice("attention", rid, Text("{card} not written: {message}", card=self._who(rid),
                                                        message=exc.message))
                continue
            # The card ETag is the md5 of the stored text (contract §4) when the server sends none.
            cards[rid] = {"hash": digest, "etag": new_etag or hashlib.md5(text.encode("utf-8")).hexdigest(),
                          "fields": values, "inputs": self.inputs(rid)}
            self.out.writes += 1
            self.out.written.append(rid)

    def _delete_cards(self) -> None:
        """Cards of deleted records go; cards whose record the store does not hold at all (a store swapped
        for an older copy, a record erased) go only within the limits or as far as a person accepted."""
        cards = self.state["cards"]
        gone, refused = self.policy.split(sorted(rid for rid in cards if rid not in self.live), self.deleted,
                                          len(cards))
        if refused:
            n = len(refused)
            self.out.notices.append(Notice(
                "attention", self.nc.name, None,
                Text("card deletions refused: {n} of {count} cards would go although the store holds no deletion "
                     "of their records (limit {limit}); none of them deleted in address book '{book}'; if those "
                     "records are really gone, accept them once with `oscartes-sync sync --allow-deletes {n}`",
                     n=n, count=len(cards), limit=self.policy.limit(len(cards)), book=self.book),
                tuple(refused), REFUSED_DELETION))
        for rid in gone:
            if self.dry_run:
                self.out.planned += 1
                continue
            try:
                self.client.delete_card(self.book, rid, etag=cards[rid].get("etag"))
            except PreconditionFailed:
                self._notice("info", rid, Text("{card} changed in Nextcloud before its deletion: deleted "
                                               "next run", card=self._who(rid)))
                cards[rid]["etag"] = None
                continue
            except EntryError as exc:
                self._notice("attention", rid, Text("{card} not deleted: {message}", card=self._who(rid),
                                                        message=exc.message))
                continue
            del cards[rid]
            self.out.writes += 1
            self.out.deleted.append(rid)


def _copy(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def sync_addressbook(client: NextcloudClient, nc: NextcloudConfig, cfg: Config, store: Store, *,
                     ctx: CardContext | None = None, dry_run: bool = False,
                     clock: Callable[[], datetime] | None = None, policy: SyncPolicy | None = None,
                     view: StoreView | None = None) -> BookOutcome:
    view = view or StoreView(store)
    return BookSync(client, nc, cfg, store, view, ctx or CardContext.from_store(cfg, store, view),
                    dry_run=dry_run, clock=clock, policy=policy).run()
