"""The events in a calendar (issue 19 part 3): one VEVENT per event record in a CalDAV calendar of each Nextcloud,
shared read-only with the network's group, and the same events as an iCalendar feed among the open-data files.

An event's UID is its record id, so a client that subscribed keeps its events across runs. Times typed without a
time zone are read in `[calendar] timezone` (Europe/Paris) and written with that TZID and its VTIMEZONE; times
with an offset are written in UTC; dates alone are all-day events (DTEND the day after the last day, RFC 5545).
DTSTAMP is the record's last change, so the same record always gives the same bytes: an event is written only
when its content hash changed (DECISIONS §13). A no-op run costs one sync-collection REPORT on the calendar
(§14). An event that cannot be put in a calendar (no start, an end before its start) is left out with a line in
the report; if an earlier version was published, it stays until the record is fixed (nothing half-written).

The calendar is owned by the service account and shared read-only with the group the way the address book is
(`dav_share.ensure_group_share`: once, only when its `oc:invite` lacks the share, the group's principal encoded as
Nextcloud encodes it, the share rate limit respected), remembered in the store's state.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from icalendar import Calendar, Event

from ..config import Config, NextcloudConfig
from ..hashing import content_hash
from ..sync.quiet import code_version
from ..store import Store
from ..store.view import StoreView
from ..sync.model import REFUSED_DELETION, Notice, SyncPolicy
from ..targets.base import EntryError
from ..targets.nextcloud import NextcloudClient, NotFound, PreconditionFailed, SyncTokenInvalid
from ..text import Text, decode_note, encode_note
from .addressbook import CardContext
from .dav_share import ensure_group_share

PRODID = "-//OSCARTES//oscartes-sync//FR"
CALENDAR_NAME = "OSCARTES — agenda des événements"
CALENDAR_DESCRIPTION = ("Événements des acteurs du réseau, tenus à jour par oscartes-sync depuis les wikis. "
                        "Lecture seule : proposez vos événements dans le wiki de votre réseau.")
FEED_FILE = "evenements.ics"


def state_key(instance: str) -> str:
    return f"nextcloud:{instance}:calendar"


def feed_url(folder_link: str) -> str:
    """Where a calendar client subscribes to the feed: a file of a folder shared by public link is served at
    public.php/dav/files/<token>/<name> (recorded: tests/contract/recorded/public_x1_file_in_shared_folder)."""
    base, _, token = folder_link.rstrip("/").rpartition("/s/")
    return f"{base.removesuffix('/index.php')}/public.php/dav/files/{token}/{FEED_FILE}"


# ---------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class EventContext:
    """What an event needs besides its record: the time zone, its entries' links and the list labels (the
    address book's context), organisers' names and each record's last change (DTSTAMP)."""

    tz: ZoneInfo
    cards: CardContext = field(default_factory=lambda: CardContext({}, {}))
    names: dict[str, str] = field(default_factory=dict)
    stamps: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def from_store(cls, cfg: Config, store: Store, view: StoreView | None = None,
                   events: list | None = None) -> "EventContext":
        """`events`: the event records (their organisers' names are read, no other record's)."""
        view = view or StoreView(store)
        if events is None:
            events = view.records_of_kind("event")
        organisers = {r for e in events for r in (e.fields.get("organisers") or []) if isinstance(r, str)}
        names = {rid: name for rid, name in (store.titles(organisers) if organisers else {}).items()
                 if rid in view.records and not view.records[rid].deleted}  # live records are named
        stamps = store.updated_at("event") if events else {}
        return cls(ZoneInfo(cfg.calendar.timezone), CardContext.from_store(cfg, store, view), names, stamps)

    def entry_urls(self, record_id: str) -> list[str]:
        return self.cards.entry_urls(record_id)

    @property
    def themes(self) -> dict[str, str]:
        return self.cards.labels.get("ListeThemes", {})


def _moment(value: Any, tz: ZoneInfo) -> date | datetime:
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _text(html_text: Any) -> str:
    """A long text's HTML as the plain text a calendar shows: one line per paragraph or list item."""
    soup = BeautifulSoup(str(html_text or ""), "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["p", "li", "h2", "h3", "h4", "blockquote", "pre"]):
        block.append("\n")
    return "\n".join(" ".join(line.split()) for line in soup.get_text().splitlines() if line.strip())


def build_event(record_id: str, fields: dict[str, Any], ctx: EventContext) -> tuple[Event | None, str | None]:
    """The VEVENT of one event record, or why it cannot be one."""
    if not fields.get("start"):
        return None, Text("it has no start date")
    try:
        start = _moment(fields["start"], ctx.tz)
        end = _moment(fields["end"], ctx.tz) if fields.get("end") else None
    except ValueError:
        return None, Text("its start or end is not a date")
    if isinstance(start, datetime):
        if isinstance(end, date) and not isinstance(end, datetime):
            end = datetime.combine(end + timedelta(days=1), time(0), ctx.tz)  # the whole last day
        if end is not None and end < start:
            return None, Text("its end ({end}) is before its start ({start})", end=fields["end"],
                              start=fields["start"])
    else:
        last = end.astimezone(ctx.tz).date() if isinstance(end, datetime) else end
        if last is not None and last < start:
            return None, Text("its end ({end}) is before its start ({start})", end=fields["end"],
                              start=fields["start"])
        end = (last or start) + timedelta(days=1)  # DTEND of an all-day event is exclusive
    ev = Event()
    ev.add("uid", record_id)
    stamp = ctx.stamps.get(record_id) or datetime(2000, 1, 1, tzinfo=timezone.utc)
    ev.add("dtstamp", stamp.astimezone(timezone.utc).replace(microsecond=0))
    ev.add("dtstart", start)
    if end is not None:
        ev.add("dtend", end)
    ev.add("summary", str(fields.get("name") or "Événement"))
    links = ctx.entry_urls(record_id)
    description = "\n\n".join(p for p in (_text(fields.get("description")),
                                          "\n".join(links) if links else "") if p)
    if description:
        ev.add("description", description)
    location = ", ".join(str(fields[f]) for f in ("place", "commune") if fields.get(f))
    if location:
        ev.add("location", location)
    lat, lon = fields.get("latitude"), fields.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        ev.add("geo", (float(lat), float(lon)))
    url = fields.get("link") or (links[0] if links else None)
    if url:
        ev.add("url", str(url))
    themes = [ctx.themes.get(k, k) for k in fields.get("themes") or []]
    if themes:
        ev.add("categories", themes)
    organisers = [ctx.names[r] for r in fields.get("organisers") or [] if r in ctx.names]
    if organisers:
        ev.add("comment", "Organisé par " + ", ".join(organisers))
    return ev, None


def _calendar(events: list[Event], name: str | None = None, tz: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
    if tz:
        cal.add("x-wr-timezone", tz)
    for ev in events:
        cal.add_component(ev)
    cal.add_missing_timezones()  # a VTIMEZONE for every TZID used (RFC 5545 §3.6.5)
    return cal.to_ical()


@dataclass
class Events:
    """Every event record as a calendar object (record id -> iCalendar text), and the ones left out."""

    objects: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # record id -> why it is not in the calendar
    names: dict[str, str] = field(default_factory=dict)
    feed: bytes = b""

    def problems(self) -> list[tuple[str, str]]:
        return [(rid, Text("event \"{title}\" left out of the calendar: {reason}", title=self.names.get(rid, rid),
                           reason=why))
                for rid, why in sorted(self.refused.items())]


def build_events(cfg: Config, store: Store, ctx: EventContext | None = None, view: StoreView | None = None) -> Events:
    return LazyEvents(cfg, store, view or StoreView(store), ctx).full()


EVENT_FORMAT = 1  # moves when what an event is built from changes shape: every event is built again once


class LazyEvents:
    """The calendar objects of the event records, each built when first asked for: a run whose events did not
    move builds none (`inputs`: a hash of what an event is built from: its record's revision, its entries'
    links, its organisers' records, the time zone)."""

    def __init__(self, cfg: Config, store: Store, view: StoreView, ctx: EventContext | None = None):
        self.cfg, self.store, self.view, self._ctx = cfg, store, view, ctx
        self.records = {r.id: r for r in view.records_of_kind("event")} if view.record_keys("event") else {}
        self.names = {rid: str(r.fields.get("name") or rid) for rid, r in self.records.items()}
        self._built: dict[str, tuple[Event | None, str | None]] = {}
        self._full: Events | None = None

    @property
    def ctx(self) -> EventContext:
        if self._ctx is None:
            self._ctx = EventContext.from_store(self.cfg, self.store, self.view, list(self.records.values()))
        return self._ctx

    @property
    def ids(self) -> list[str]:
        return sorted(self.records)

    def inputs(self, rid: str) -> str:
        keys = self.view.records
        organisers = [(o, keys[o].revision) for o in self.records[rid].fields.get("organisers") or []
                      if isinstance(o, str) and o in keys and not keys[o].deleted]
        return content_hash([EVENT_FORMAT, code_version(), keys[rid].revision, self.ctx.entry_urls(rid),
                             self.cfg.calendar.timezone, organisers, self.ctx.themes])

    def get(self, rid: str) -> tuple[str | None, str | None]:
        """(calendar object, None) or (None, why it cannot be one)."""
        if rid not in self._built:
            self._built[rid] = build_event(rid, self.records[rid].fields, self.ctx)
        ev, why = self._built[rid]
        return (_calendar([ev]).decode("utf-8"), None) if ev is not None else (None, why or Text("invalid"))

    def full(self) -> Events:
        """Every event built, and the feed (the open-data file)."""
        if self._full is None:
            out = Events(names=dict(self.names))
            built: list[tuple[str, Event]] = []
            for rid in self.ids:
                text, why = self.get(rid)
                if text is None:
                    out.refused[rid] = why or Text("invalid")
                    continue
                out.objects[rid] = text
                built.append((str(self.records[rid].fields.get("start")), self._built[rid][0]))
            if built or "event" in self.cfg.sync.kinds:
                out.feed = _calendar([ev for _, ev in sorted(built, key=lambda x: (x[0], str(x[1]["uid"])))],
                                     CALENDAR_NAME, self.cfg.calendar.timezone)
            self._full = out
        return self._full


# ---------------------------------------------------------------------------------------------------- CalDAV


@dataclass
class CalendarOutcome:
    writes: int = 0
    planned: int = 0
    written: list[str] = field(default_factory=list)  # record ids whose event was written this run
    deleted: list[str] = field(default_factory=list)  # record ids whose event was deleted this run
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None


def _fresh(calendar: str) -> dict[str, Any]:
    return {"calendar": calendar, "share": {}, "token": None, "events": {}}


def load_state(store: Store, nc: NextcloudConfig) -> dict[str, Any]:
    state = store.get_state(state_key(nc.name))
    if not isinstance(state, dict) or state.get("calendar") != nc.calendar:
        return _fresh(nc.calendar)
    return {**_fresh(nc.calendar), **state}


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sync_calendar(client: NextcloudClient, nc: NextcloudConfig, cfg: Config, store: Store,
                  events: LazyEvents, *, dry_run: bool = False, clock: Callable[[], datetime] | None = None,
                  policy: SyncPolicy | None = None) -> CalendarOutcome:
    """Bring the instance's calendar to `events`: create, restore (an event changed in Nextcloud), update and
    delete only what differs; one sync-collection REPORT when nothing does. The events of deleted records go
    (their deletion was accepted, DECISIONS §24); others only within `policy`'s limits."""
    policy = policy or SyncPolicy.of(cfg.sync)
    out = CalendarOutcome()
    loaded = load_state(store, nc)
    state = json.loads(json.dumps(loaded))
    cal, mine = nc.calendar, state["events"]
    refused_before: dict[str, list] = state.setdefault("refused", {})

    def notice(level: str, message: str, rid: str | None = None, kind: str = "") -> None:
        out.notices.append(Notice(level, nc.name, rid, message, kind=kind))

    if state["token"] is None and not dry_run:
        client.ensure_calendar(cal, CALENDAR_NAME, CALENDAR_DESCRIPTION)
    try:
        changes = client.sync_calendar(cal, state["token"])
    except (SyncTokenInvalid, NotFound) as exc:
        if dry_run:
            changes = None
        else:
            notice("info", Text("calendar '{calendar}': {reason}; read again in full", calendar=cal,
                                reason=exc.message))
            if isinstance(exc, NotFound):
                client.ensure_calendar(cal, CALENDAR_NAME, CALENDAR_DESCRIPTION)
                state.update(_fresh(cal))
                mine = state["events"]
            changes = client.sync_calendar(cal, None)
    if changes is not None:
        prefix = unquote(urlsplit(client.calendar_url(cal)).path)
        seen: set[str] = set()
        for href, etag in changes.changed:
            rid = _rid(href, prefix)
            if rid is None:
                continue
            seen.add(rid)
            if rid in mine and mine[rid].get("etag") != etag:
                notice("info", Text("event \"{title}\" was changed in Nextcloud: restored",
                                    title=events.names.get(rid, rid)), rid)
                mine[rid] = {"hash": None, "etag": etag}
            elif rid not in mine:
                mine[rid] = {"hash": None, "etag": etag}  # there already (a lost state): rewritten if it differs
        for href in changes.removed:
            rid = _rid(href, prefix)
            if rid in mine:
                del mine[rid]
        if state["token"] is None:  # a full listing: what it does not show is not there
            for rid in [r for r in mine if r not in seen]:
                del mine[rid]
        state["token"] = changes.new_token
    refused_now: dict[str, list] = {}
    for rid in events.ids:
        known = mine.get(rid)
        inputs = events.inputs(rid)
        if known and known.get("hash") and known.get("inputs") == inputs:
            continue  # built from what it was written from: the same object
        if (was := refused_before.get(rid)) and was[0] == inputs:
            refused_now[rid] = was  # still not an event a calendar can hold: named again below
            continue
        text, why = events.get(rid)
        if text is None:
            refused_now[rid] = [inputs, encode_note(why)]  # the reason kept as a message (shown translated)
            continue
        digest = _hash(text)
        if known and known.get("hash") == digest:
            known["inputs"] = inputs
            continue
        if dry_run:
            out.planned += 1
            continue
        try:
            etag = client.put_event(cal, rid, text, etag=known.get("etag") if known else None)
        except PreconditionFailed:
            # stale If-Match (changed meanwhile) or If-None-Match on one that exists: never overwritten blind;
            # the next run's REPORT gives its current ETag, then it is written
            mine.pop(rid, None)
            state["token"] = None  # the next run lists the calendar in full and learns its current ETag
            notice("info", Text("event \"{title}\" changed in Nextcloud while it was written (HTTP 412): written on "
                                "the next run", title=events.names.get(rid, rid)), rid)
            continue
        except EntryError as exc:
            notice("attention", Text("event \"{title}\" not written: {reason}", title=events.names.get(rid, rid),
                                     reason=exc.message), rid, "write_failed")
            continue
        mine[rid] = {"hash": digest, "etag": etag or hashlib.md5(text.encode("utf-8")).hexdigest(), "inputs": inputs}
        out.writes += 1
        out.written.append(rid)
    state["refused"] = refused_now
    out.notices[:0] = [Notice("attention", nc.name, rid, Text("event \"{title}\" left out of the calendar: {reason}",
                                                              title=events.names.get(rid, rid),
                                                              reason=decode_note(why)), kind="event_left_out")
                       for rid, (_, why) in sorted(refused_now.items())]
    deleted = {k.id for k in events.view.record_keys("event") if k.deleted}
    gone, refused = policy.split(sorted(r for r in mine if r not in events.records), deleted, len(mine))
    if refused:
        n = len(refused)
        out.notices.append(Notice(
            "attention", nc.name, None,
            Text("event deletions refused: {n} of {count} events would go although the store holds no deletion of "
                 "their records (limit {limit}); none of them deleted in calendar '{calendar}'; if those records are "
                 "really gone, accept them once with `oscartes-sync sync --allow-deletes {n}`",
                 n=n, count=len(mine), limit=policy.limit(len(mine)), calendar=cal),
            tuple(refused), REFUSED_DELETION))
    for rid in gone:
        if dry_run:
            out.planned += 1
            continue
        try:
            client.delete_event(cal, rid, etag=mine[rid].get("etag"))
        except PreconditionFailed:
            mine[rid]["etag"] = None
            notice("info", Text("event {id} changed in Nextcloud before its deletion: deleted on the next run",
                                id=rid), rid)
            continue
        del mine[rid]
        out.writes += 1
        out.deleted.append(rid)
    if not dry_run or state["token"] is not None:  # a calendar that exists: shared with the group, once
        got = ensure_group_share(client, client.calendar_url(cal), state["share"],
                                 what=Text("calendar '{calendar}'", calendar=cal),
                                 group=nc.group, now=(clock or (lambda: datetime.now(timezone.utc)))(),
                                 family="calendar", dry_run=dry_run)
        out.notices += got.notices
        out.error = got.error
    if not dry_run and content_hash(state) != content_hash(loaded):
        store.set_state(state_key(nc.name), state)
    return out


def _rid(href: str, prefix: str) -> str | None:
    path = unquote(urlsplit(href).path)
    if not path.startswith(prefix) or not path.endswith(".ics"):
        return None
    return path[len(prefix):-len(".ics")] or None
