"""`oscartes-sync demo`: the main job on a local sandbox, with no config and no network.

Two emulated YesWikis ("polesnoe" and "tel") are started on 127.0.0.1, given the actor form this project
provisions and the sample entries of Essonne (members' entries, some of the same association in both wikis
spelled differently, a few bad values). Then the real sync runs against them, as it would against real
wikis: a first run that builds the source records, a member's edit in one wiki, a second run that carries it
to the other, and a third that finds nothing to do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..app import build_instances, sync_once
from ..publish.provision import render_report, run_provision
from ..report import render
from ..store import Store
from .sample_data import sample_entries
from .sandbox import Sandbox, start_sandbox


def run_demo(*, keep: bool = False, workdir: str | None = None, echo: Callable[[str], None] = print) -> int:
    with tempfile.TemporaryDirectory(prefix="oscartes-demo-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with start_sandbox(provisioned=False) as sandbox:
            return _demo(sandbox, base, keep, echo)


def _demo(sandbox: Sandbox, base: Path, keep: bool, echo: Callable[[str], None]) -> int:
    echo("Sandbox: two emulated YesWikis on this machine, fresh and empty")
    for wiki in sandbox.wikis.values():
        echo(f"  {wiki.name:9s} {wiki.url}")
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

    def show(run) -> None:
        echo(render(run.result, run.stats, run.titles, open_conflicts=len(store.conflicts("open")),
                    open_reviews=len(store.review_items("open"))))

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

        echo("\n== Run 3: nothing changed, so one listing per wiki and no write")
        run = sync_once(cfg, store, instances)
        show(run)

        records = store.records("actor")
        echo(f"\nSource records: {len(records)} actors; open conflicts: {len(store.conflicts('open'))}; "
             f"possible duplicates waiting in `match`: {len(store.review_items('open'))}")
        for name, wiki in sandbox.wikis.items():
            echo(f"  {name}: {len(wiki.emulator.entries(cfg.wiki[0].form_ids()['actor']))} entries now")
        if keep:
            echo("\nThe sandbox keeps running; press Ctrl-C to stop.")
            try:
                import time
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        store.close()
    return 0
