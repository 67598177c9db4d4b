"""`oscartes-sync demo`: the main job on a local sandbox, with no config and no network.

Two emulated YesWikis ("polesnoe" and "tel") are started on 127.0.0.1, given the actor form this project
provisions and the sample entries of Essonne (members' entries, some of the same association in both wikis
spelled differently, a few bad values). Then the real sync runs against them, as it would against real
wikis: a first run that builds the source records, a member's edit in one wiki, a second run that carries it
to the other, and a third that finds nothing to do. Two emulated Nextclouds ("polesnoe-cloud", "tel-cloud")
receive the shared address book and the open-data exports after each run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..app import build_instances, sync_once
from ..publish.provision import render_report, run_provision
from ..report import render
from ..store import Store
from .sample_data import sample_entries
from ..publish.nextcloud_publish import NextcloudResult, publish_nextclouds
from .sandbox import NEXTCLOUD_NAMES, Sandbox, start_sandbox


SAMPLE_ARTICLES = Path(__file__).parent / "articles"


def run_demo(*, keep: bool = False, workdir: str | None = None, echo: Callable[[str], None] = print) -> int:
    with tempfile.TemporaryDirectory(prefix="oscartes-demo-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with start_sandbox(provisioned=False, nextclouds=NEXTCLOUD_NAMES) as sandbox:
            return _demo(sandbox, base, keep, echo)


def _demo(sandbox: Sandbox, base: Path, keep: bool, echo: Callable[[str], None]) -> int:
    echo("Sandbox: two emulated YesWikis and two emulated Nextclouds on this machine, fresh and empty")
    for wiki in sandbox.wikis.values():
        echo(f"  {wiki.name:14s} {wiki.url}")
    for cloud in sandbox.nextclouds.values():
        echo(f"  {cloud.name:14s} {cloud.url}  (service account {cloud.user!r}, group {cloud.group!r})")
    cfg = sandbox.config(store_url=f"sqlite:///{base / 'oscartes-demo.db'}", lock=str(base / "demo.lock"))
    store = Store(cfg.store_url())

    echo("\n== Provision: forms, lists and pages from wiki_templates/, through the wikis' admin pages")
    report = run_provision(cfg, store)
    if report.exit_code:
        echo(render_report(report, show_diff=False))
        store.close()
        return 1
    for name in sandbox.wikis:
        made = [i for i in report.items if i.wiki == name and i.status == "create"]
        echo(f"  {name}: {sum(i.kind == 'form' for i in made)} forms, {sum(i.kind == 'list' for i in made)} lists, "
             f"{sum(i.kind == 'page' for i in made)} pages created")

    counts = sandbox.seed_sample(sample_entries())
    echo("\nSample data (members' entries, before any sync): "
         + ", ".join(f"{n} {c} entries" for n, c in counts.items()))
    if sandbox.nextclouds:
        cloud = next(iter(sandbox.nextclouds.values()))
        nc = next(n for n in cfg.nextcloud if n.name == cloud.name)
        names = sandbox.seed_articles(cloud.name, nc.articles_folder, SAMPLE_ARTICLES)
        echo(f"Knowledge base: a member put {len(names)} Markdown articles in {cloud.name}:/{nc.articles_folder}/ "
             f"({', '.join(names)})")

    def show(run) -> None:
        echo(render(run.result, run.stats, run.titles, open_conflicts=len(store.conflicts("open")),
                    open_reviews=len(store.review_items("open"))))
        # sync_once publishes to the Nextclouds once the lead wires it in; until then the demo does it here
        published = getattr(run, "nextcloud", None)
        if not isinstance(published, NextcloudResult):
            published = publish_nextclouds(cfg, store)
        show_nextclouds(published)

    def show_nextclouds(res: NextcloudResult) -> None:
        for name in sandbox.nextclouds:
            counts = res.requests.get(name, {})
            sent = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"
            echo(f"  Nextcloud {name}: {res.writes.get(name, 0)} cards/files written; requests: {sent}")
            if name in res.instance_errors:
                echo(f"    ERROR {res.instance_errors[name]}")
            for n in res.notices:
                if n.instance == name and n.level == "attention":
                    echo(f"    ! {n.message}")

    try:
        instances = build_instances(cfg)
        echo("\n== Run 1: first import (duplicate check before anything is copied)")
        run = sync_once(cfg, store, instances)
        show(run)

        echo("\n== A member of polesnoe edits an entry through the wiki's own form")
        edited = sandbox.member_edit_one("polesnoe")
        echo(f"  {edited}")
        echo("\n== Run 2: the edit reaches the other wiki")
        run = sync_once(cfg, store, instances)
        show(run)

        echo("\n== Run 3: nothing changed, so one listing per wiki and no write; each Nextcloud reads back once "
             "the export files run 2 wrote less than 2 s before its look (ETags can stay equal within one "
             "second, DECISIONS §14)")
        time.sleep(2.1)  # a scheduled sync is minutes apart; the demo waits past that window
        run = sync_once(cfg, store, instances)
        show(run)

        echo("\n== Run 4: still nothing: one listing per wiki, one REPORT per address book and one PROPFIND per "
             "watched Nextcloud folder, no write")
        run = sync_once(cfg, store, instances)
        show(run)

        records = store.records("actor")
        echo(f"\nSource records: {len(records)} actors; open conflicts: {len(store.conflicts('open'))}; "
             f"possible duplicates waiting in `match`: {len(store.review_items('open'))}")
        for name, wiki in sandbox.wikis.items():
            kb = sorted(t for t in wiki.emulator.revisions if t.startswith(("Article", "BaseDeConnaissances")))
            echo(f"  {name}: {len(wiki.emulator.entries(cfg.wiki[0].form_ids()['actor']))} entries now; "
                 f"knowledge base: {', '.join(kb) or 'none'}")
        for name, cloud in sandbox.nextclouds.items():
            nc = next(n for n in cfg.nextcloud if n.name == name)
            cards = cloud.emulator.cards(cloud.user, nc.addressbook)
            files = cloud.emulator.listdir(cloud.user, nc.exports_folder)
            shared = ", ".join(cloud.emulator.delivered_to(cloud.user, nc.addressbook)) or "nobody"
            echo(f"  {name}: address book {nc.addressbook!r} with {len(cards)} cards (shared read-only with "
                 f"{shared}); {nc.exports_folder}/: {', '.join(files)}")
            link = store.get_state(f"nextcloud:{name}:exports") or {}
            if isinstance(link, dict) and link.get("link"):
                echo(f"    public link of the exports: {link['link']}")
        if keep:
            echo("\nThe sandbox keeps running; press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        store.close()
    return 0
