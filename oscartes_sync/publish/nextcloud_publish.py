"""What `sync` publishes to each Nextcloud: the shared address book, the open-data exports (with the events'
iCalendar feed), the events' shared calendar and the replication kit's archive.

`publish_nextclouds(cfg, store)` goes through the `[[nextcloud]]` instances one after the other. An instance
whose secret is missing, whose app password is refused (401, or the brute-force 429) or whose server fails is
reported in `instance_errors` and the others go on; a 401 stops every request to that instance at once (about
ten failed logins lock the whole host out, contract §1). A share refused by Nextcloud's share rate limit is not
that lock-out: it is noted, the cards and the exports are published all the same, and the share is retried on the
next run (`dav_share`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..clients import nextcloud_client
from ..config import Config
from ..store import Store
from ..store.view import StoreView
from ..sync.model import Notice, SyncPolicy
from ..targets.base import AuthError, TargetError, TerminalError
from ..targets.nextcloud import NextcloudClient
from ..text import SEMICOLON, Text, join
from .addressbook import CardContext, sync_addressbook
from .calendar import LazyEvents, sync_calendar
from .exports import LazyExports, sync_exports
from .kit import KitArchive
from .nc_kit import sync_kit
from .nc_articles import known_articles, read_articles


@dataclass
class NextcloudResult:
    notices: list[Notice] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)            # instance -> cards and files written
    cards_written: dict[str, list[str]] = field(default_factory=dict)  # instance -> record ids
    cards_deleted: dict[str, list[str]] = field(default_factory=dict)  # instance -> record ids
    files_written: dict[str, int] = field(default_factory=dict)     # instance -> export files written
    events_written: dict[str, list[str]] = field(default_factory=dict)  # instance -> record ids (calendar)
    events_deleted: dict[str, list[str]] = field(default_factory=dict)  # instance -> record ids (calendar)
    instance_errors: dict[str, str] = field(default_factory=dict)   # instance -> what stopped (part of) it
    requests: dict[str, dict[str, int]] = field(default_factory=dict)  # instance -> "VERB family" -> count
    links: dict[str, str] = field(default_factory=dict)             # instance -> public link of the exports
    kit_links: dict[str, str] = field(default_factory=dict)         # instance -> public link of the kit
    articles: dict[str, str] = field(default_factory=dict)          # knowledge-base file name -> Markdown

    @property
    def needs_person(self) -> bool:
        return bool(self.instance_errors) or any(n.level == "attention" for n in self.notices)


def publish_nextclouds(cfg: Config, store: Store, *, dry_run: bool = False,
                       clients: dict[str, NextcloudClient] | None = None,
                       clock: Callable[[], datetime] | None = None,
                       policy: SyncPolicy | None = None, view: StoreView | None = None) -> NextcloudResult:
    """Publish the address book and the exports to every configured Nextcloud. `clients` (tests) replaces the
    clients built from the config; `clock` is the time used for the same-second rule of DECISIONS §14;
    `policy` the deletion limits and what a person accepted for this run (DECISIONS §11, §24)."""
    result = NextcloudResult()
    if not cfg.nextcloud:
        return result
    # built only as far as needed: a quiet run builds no card, no event and no export file
    view = view or StoreView(store)
    ctx = CardContext.from_store(cfg, store, view)
    events = LazyEvents(cfg, store, view)
    exports = LazyExports(cfg, store, view, events.full)
    kit = KitArchive(cfg)  # built at most once, and only for an instance whose copy is out of date
    for nc in cfg.nextcloud:
        client = (clients or {}).get(nc.name) or nextcloud_client(nc)
        if isinstance(client, str):
            result.instance_errors[nc.name] = client
            _add_articles(result, nc.name, known_articles(store, nc))  # nothing unpublished on a failure
            continue
        client.stats.counts.clear()
        errors: list[str] = []
        writes = 0
        try:
            try:
                book = sync_addressbook(client, nc, cfg, store, ctx=ctx, dry_run=dry_run, clock=clock,
                                        policy=policy, view=view)
                result.notices += book.notices
                writes += book.writes
                result.cards_written[nc.name] = book.written
                result.cards_deleted[nc.name] = book.deleted
                if book.error:
                    errors.append(book.error)
                if dry_run and book.planned:
                    result.notices.append(Notice("info", nc.name, None,
                                                 Text("dry run: would write {planned} cards", planned=book.planned)))
            except TerminalError:
                raise
            except TargetError as exc:
                errors.append(Text("address book not synced: {reason}", reason=exc.message))
            try:
                exp = sync_exports(client, nc, store, exports, dry_run=dry_run, clock=clock)
                result.notices += exp.notices
                writes += exp.writes
                result.files_written[nc.name] = exp.writes
                if exp.error:
                    errors.append(exp.error)
                if exp.link:
                    result.links[nc.name] = exp.link
                if dry_run and exp.planned:
                    result.notices.append(Notice("info", nc.name, None,
                                                 Text("dry run: would write {planned} export files",
                                                      planned=exp.planned)))
            except TerminalError:
                raise
            except TargetError as exc:
                errors.append(Text("open-data exports not published: {reason}", reason=exc.message))
            if "event" in cfg.sync.kinds or events.records:
                try:
                    cal = sync_calendar(client, nc, cfg, store, events, dry_run=dry_run, clock=clock,
                                        policy=policy)
                    result.notices += cal.notices
                    writes += cal.writes
                    result.events_written[nc.name] = cal.written
                    result.events_deleted[nc.name] = cal.deleted
                    if cal.error:
                        errors.append(cal.error)
                    if dry_run and cal.planned:
                        result.notices.append(Notice("info", nc.name, None,
                                                     Text("dry run: would write {planned} calendar events",
                                                          planned=cal.planned)))
                except TerminalError:
                    raise
                except TargetError as exc:
                    errors.append(Text("calendar not synced: {reason}", reason=exc.message))
            shared = sync_kit(client, nc, store, kit, dry_run=dry_run)
            result.notices += shared.notices
            writes += shared.writes
            if shared.error:
                errors.append(shared.error)
            if shared.link:
                result.kit_links[nc.name] = shared.link
            got = read_articles(client, nc, store, dry_run=dry_run, clock=clock)
            result.notices += got.notices
            if got.error:
                errors.append(got.error)
            _add_articles(result, nc.name, got.files)
        except AuthError as exc:
            errors.append(exc.message)
            _add_articles(result, nc.name, known_articles(store, nc))
        except TerminalError as exc:
            errors.append(Text("stopped: {reason}", reason=exc.message))
            _add_articles(result, nc.name, known_articles(store, nc))
        finally:
            result.requests[nc.name] = dict(client.stats.counts)
            if clients is None or nc.name not in clients:
                client.close()
        result.writes[nc.name] = writes
        if errors:
            result.instance_errors[nc.name] = join(SEMICOLON, errors)
    return result


def _add_articles(result: NextcloudResult, instance: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        if name in result.articles and result.articles[name] != text:
            result.notices.append(Notice("attention", instance, None, Text(
                "article {name} exists in more than one Nextcloud with different texts: the first one is published; "
                "rename one of them", name=name)))
            continue
        result.articles.setdefault(name, text)
