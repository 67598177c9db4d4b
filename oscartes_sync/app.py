"""What a command does once its arguments are parsed: open the store, build the instances, run, record.

The CLI stays a thin layer of parsing and printing over these functions, and the tests call them directly.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from .clients import form_maps, geocoder, missing_wiki_secrets, wiki_client
from .config import Config
from .publish.nextcloud_publish import publish_nextclouds
from .publish.review_page import publish_review_pages
from .publish.wiki_publish import publish_wikis
from .report import Pending, summary
from .review import take_decisions
from .store import Store
from .store.view import StoreView
from .sync.engine import EntryRun, Instance, SyncResult, run_sync, run_sync_entry
from .sync.geocoding import Settings as GeocodingSettings
from .sync.model import Notice, SyncPolicy
from .text import Plural, Text

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ATTENTION, EXIT_USAGE = 0, 1, 2


class Busy(Exception):
    """Another run holds the lock."""


def build_instances(cfg: Config) -> dict[str, Instance]:
    out: dict[str, Instance] = {}
    for w in cfg.wiki:
        maps = form_maps(cfg, w)
        missing = missing_wiki_secrets(w)
        if missing:
            out[w.name] = Instance(w.name, None, maps, error=Plural(
                "secret variable {names} is not set: wiki skipped",
                "secret variables {names} are not set: wiki skipped", len(missing), names=", ".join(missing)))
            continue
        out[w.name] = Instance(w.name, wiki_client(cfg, w, timeout=cfg.sync.http_timeout), maps)
    return out


@contextmanager
def one_run_at_a_time(cfg: Config) -> Iterator[None]:
    lock = FileLock(str(cfg.path(cfg.sync.lock_file)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise Busy(Text("another oscartes-sync run holds {lock}; nothing done",
                        lock=str(cfg.path(cfg.sync.lock_file)))) from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class RunSummary:
    result: SyncResult
    exit_code: int
    report: dict[str, Any]
    titles: dict[str, str]
    stats: dict[str, Any]
    open_conflicts: int = 0  # in the store after the run, older ones included
    open_reviews: int = 0
    pending: Pending | None = None  # what waits for a person in the store, and what earlier runs reported

    @property
    def nextcloud(self):
        return self.result.nextcloud


def sync_once(cfg: Config, store: Store, instances: dict[str, Instance], *, dry_run: bool = False,
              allow_deletes: int = 0, **engine_kw) -> RunSummary:
    # one policy for the entries and everything derived from them: one acceptance holds everywhere (§24)
    policy = SyncPolicy.of(cfg.sync, allow_deletes)
    interrupted = [] if dry_run else store.interrupt_unfinished_runs()
    previous = next((r for r in store.runs(5) if r.finished_at is not None), None)
    started = datetime.now(timezone.utc)
    run_id = None if dry_run else store.start_run()
    for inst in instances.values():
        if inst.target is not None:
            inst.target.stats.counts.clear()
    engine_kw.setdefault("communes", cfg.local_territory().index)  # INSEE look-up, commune centres
    # decisions taken on the review pages first (DECISIONS §25): the run then writes what they chose
    decisions = take_decisions(cfg, store, instances, dry_run=dry_run)
    engine_kw.setdefault("max_image_bytes", cfg.images.max_bytes)
    engine_kw.setdefault("geocoding", GeocodingSettings(cfg.geocoding.min_score, cfg.geocoding.max_per_run))
    own = "geocoder" not in engine_kw  # built here from the config (tests hand their own): closed here
    locator = engine_kw["geocoder"] = engine_kw["geocoder"] if not own else geocoder(cfg)
    # what the run reads of records and links: read once, by keys, shared by the sync and the publishers
    view = engine_kw.setdefault("view", StoreView(store))
    try:
        result = run_sync(store, instances, cfg.sync.kinds, policy, dry_run=dry_run, identity=cfg.identity,
                          **engine_kw)
    finally:
        if own and locator is not None:
            locator.close()
    result.outcome.notices[:0] = decisions.notices
    for rid in interrupted:  # the store says how far it got: this run started from there
        result.outcome.notices.append(Notice("info", "store", None, Text(
            "run #{id} was interrupted before it finished (killed or crashed); this run took over from where it "
            "stopped", id=rid)))
    stats = {n: dict(i.target.stats.counts) for n, i in instances.items() if i.target is not None}
    if locator is not None and locator.stats.counts:
        stats["geocoder"] = dict(locator.stats.counts)
    # then what derives from the records (DECISIONS §16): the Nextclouds (address book, exports; their
    # knowledge-base folders are read there), then the wikis that synced (dashboards, articles)
    cloud = publish_nextclouds(cfg, store, dry_run=dry_run, policy=policy, view=view)
    result.outcome.notices.extend(cloud.notices)
    result.outcome.failed_instances.update(cloud.instance_errors)
    result.nextcloud = cloud
    result.instances += [nc.name for nc in cfg.nextcloud]
    for name, counts in cloud.requests.items():
        stats[name] = dict(counts)
    pages = publish_wikis(cfg, store, dry_run=dry_run, skip=set(result.instance_errors), articles=cloud.articles,
                          policy=policy, view=view)
    result.outcome.notices.extend(pages.notices)
    result.outcome.failed_instances.update(pages.instance_errors)
    result.page_writes = pages.writes
    result.pages_written, result.pages_removed = pages.written, pages.removed
    for name, counts in pages.requests.items():
        merged = stats.setdefault(name, {})
        for key, n in counts.items():
            merged[f"pages {key}"] = merged.get(f"pages {key}", 0) + n
    # the review pages last: they show what this run left open and the decisions it answered
    review_pages = publish_review_pages(cfg, store, dry_run=dry_run, skip=set(result.instance_errors),
                                        form_ok=decisions.form_ok)
    result.outcome.notices.extend(review_pages.notices)
    for name, n in review_pages.writes.items():
        result.page_writes[name] = result.page_writes.get(name, 0) + n
    for name, counts in review_pages.requests.items():
        merged = stats.setdefault(name, {})
        for key, n in counts.items():
            merged[f"review {key}"] = merged.get(f"review {key}", 0) + n
    code = EXIT_ATTENTION if result.needs_person(store) else EXIT_OK
    pages = {w.name: f"{w.url}?{cfg.review.page}" for w in cfg.wiki} if cfg.review.enabled else {}
    pending = Pending.collect(store, previous, started, {w.name: w.url for w in cfg.wiki}, pages)
    titles = store.titles(mentioned(result, pending))
    rep = summary(result, stats, titles, pending)
    if run_id is not None:
        store.finish_run(run_id, status="attention" if code else "ok", exit_code=code, report=rep)
    return RunSummary(result, code, rep, titles, stats, len(pending.conflicts), len(pending.reviews), pending)


def mentioned(result: SyncResult, pending: Pending) -> set[str]:
    """Every record a run's report may name: those it planned or did something to, those its notices, cards and
    events are about, and those waiting for a person (their titles are read for these only, not for the whole
    store)."""
    ids = {a.record_id for p in result.plans for a in p.actions}
    ids |= {c.record_id for c in pending.conflicts} | {s.record_id for s in pending.suggestions}
    ids |= {c[0] for r in pending.reviews for c in r.candidates}
    ids |= {a.record_id for a in result.outcome.applied} | {a.record_id for a, _ in result.outcome.skipped}
    for n in result.notices:
        ids.update(r for r in (n.record_id, *n.records) if r)
    cloud = result.nextcloud
    if cloud is not None:
        for per in (cloud.cards_written, cloud.cards_deleted, cloud.events_written, cloud.events_deleted):
            ids.update(r for rids in per.values() for r in rids)
    return ids


def sync_entry(cfg: Config, store: Store, instances: dict[str, Instance], wiki: str, entry_id: str) -> EntryRun:
    """Sync the record of one entry (the webhook trigger). A run that wrote or noticed something is recorded
    in the runs table like a full one, its report saying which entry started it; an echo or a replay is not.
    The caller holds the run lock, and runs a full sync when the answer says only a full run may decide."""
    policy = SyncPolicy.of(cfg.sync)
    for inst in instances.values():
        if inst.target is not None:
            inst.target.stats.counts.clear()
    run = run_sync_entry(store, instances, cfg.sync.kinds, policy, wiki, entry_id, identity=cfg.identity,
                         max_image_bytes=cfg.images.max_bytes, communes=cfg.local_territory().index)
    if run.status == "done":
        stats = {n: dict(i.target.stats.counts) for n, i in instances.items() if i.target is not None}
        rep = summary(run.result, stats)
        rep["trigger"] = {"hook": wiki, "entry": entry_id}
        code = EXIT_ATTENTION if run.result.needs_person(store) else EXIT_OK
        run_id = store.start_run()
        store.finish_run(run_id, status="attention" if code else "ok", exit_code=code, report=rep)
    return run


def open_store(cfg: Config) -> Store:
    url = cfg.store_url()
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return Store(url)
