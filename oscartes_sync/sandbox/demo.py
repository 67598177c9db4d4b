"""`oscartes-sync demo`: the main job on a local sandbox, with no config and no network.

Two emulated YesWikis ("polesnoe" and "tel") are started on 127.0.0.1, given the actor form this project
provisions and the sample entries of Essonne (members' entries, some of the same association in both wikis
spelled differently, a few bad values) and a few events. Then the real sync runs against them, as it would
against real wikis: a first run that builds the source records, members' edits in one wiki (new opening hours, a
logo picked, an actor added with its address but no pin), a second run that carries them to the other wiki (the
logo as a file, the actor placed on the map by the sandbox's fake of the national geocoder), and runs that find
nothing to do. Two emulated Nextclouds ("polesnoe-cloud", "tel-cloud") receive the shared address book, the
events' shared calendar and the open-data exports (with the events' iCalendar feed) after each run.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from PIL import Image, ImageDraw

from ..app import build_instances, sync_once
from ..publish.provision import render_report, run_provision
from ..report import render
from ..store import Store
from ..config import DEFAULT_FORM_IDS
from ..publish.calendar import feed_url
from .sample_data import sample_entries, sample_events
from ..publish.nextcloud_publish import NextcloudResult, publish_nextclouds
from .sandbox import NEXTCLOUD_NAMES, Sandbox, start_sandbox


SAMPLE_ARTICLES = Path(__file__).parent / "articles"


def run_demo(*, keep: bool = False, workdir: str | None = None, echo: Callable[[str], None] = print) -> int:
    with tempfile.TemporaryDirectory(prefix="oscartes-demo-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with start_sandbox(provisioned=False, nextclouds=NEXTCLOUD_NAMES, geocoder=True,
                           kinds=("actor", "event")) as sandbox:
            return _demo(sandbox, base, keep, echo)


def _demo(sandbox: Sandbox, base: Path, keep: bool, echo: Callable[[str], None]) -> int:
    echo("Sandbox: two emulated YesWikis, two emulated Nextclouds and a fake of the national address geocoder on "
         "this machine, fresh and empty")
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
    events = sample_events()
    for name, rows in events.items():
        for values in rows:
            sandbox.wikis[name].member_create(DEFAULT_FORM_IDS["event"], values)
    echo("Events: " + ", ".join(f"{n} {len(r)}" for n, r in events.items())
         + " (no pin on the map; one typed with its end before its start)")
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

        echo("\n== Members of polesnoe edit: new opening hours, a logo, and an actor added with its address only")
        edited = sandbox.member_edit_one("polesnoe")
        echo(f"  {edited}")
        logo_title = _pick_logo(sandbox)
        echo(f"  {logo_title}: a logo picked in the entry's form (PNG)")
        new_title = "Ressourcerie de la Vallée"
        sandbox.wikis["polesnoe"].member_create(DEFAULT_FORM_IDS["actor"], {
            "bf_titre": new_title, "bf_adresse": "15 rue de la République", "bf_codepostal": "91400",
            "bf_ville": "Orsay", "bf_chapeau": "Objets de seconde main, à Orsay."})
        echo(f"  {new_title}: added with its address, no pin on the map")
        echo("\n== Run 2: the edits reach the other wiki; the logo crosses as a file; the new actor is placed")
        run = sync_once(cfg, store, instances)
        show(run)
        _show_media(sandbox, store, cfg, logo_title, new_title, echo)

        echo("\n== Run 3: nothing changed, so one listing per form and wiki and no write, no file moved and no "
             "geocoder request; each Nextcloud reads back once the export files run 2 wrote less than 2 s before its "
             "look (ETags can stay equal within one second, DECISIONS §14)")
        time.sleep(2.1)  # a scheduled sync is minutes apart; the demo waits past that window
        run = sync_once(cfg, store, instances)
        show(run)

        echo("\n== Run 4: still nothing: one listing per form and wiki, one REPORT per address book and per "
             "calendar and one PROPFIND per watched Nextcloud folder, no write")
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


def _logo_png() -> bytes:
    img = Image.new("RGB", (240, 160), "#2e7d32")
    draw = ImageDraw.Draw(img)
    draw.ellipse((70, 30, 170, 130), fill="#ffd54f")
    draw.rectangle((20, 135, 220, 145), fill="#a5d6a7")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _pick_logo(sandbox: Sandbox) -> str:
    """A member of polesnoe picks a logo for the second entry of the wiki (the first got new hours)."""
    wiki = sandbox.wikis["polesnoe"]
    entries = wiki.list(DEFAULT_FORM_IDS["actor"])
    entry_id = sorted(entries)[1]
    wiki.member_upload(entry_id, "imagebf_logo", "logo.png", _logo_png())
    return str(entries[entry_id].get("bf_titre"))


def _show_media(sandbox: Sandbox, store: Store, cfg, logo_title: str, new_title: str,
                echo: Callable[[str], None]) -> None:
    """What run 2 did with the logo, the new actor's place and the events' calendar, seen from outside."""
    tel = sandbox.wikis["tel"]
    found = [(i, e) for i, e in tel.list(DEFAULT_FORM_IDS["actor"]).items() if e.get("bf_titre") == logo_title]
    if found and found[0][1].get("imagebf_logo"):
        entry_id = found[0][0]
        page = requests.get(f"{tel.url}?{entry_id}", timeout=10).text
        src = re.search(r'<img loading="lazy" src="([^"]+)"', page)
        shown = requests.get(src.group(1), timeout=10) if src else None
        echo(f"  logo of {logo_title!r} in tel: the page {tel.url}?{entry_id} shows "
             f"{src.group(1) if src else 'nothing'}"
             + (f" (HTTP {shown.status_code}, {shown.headers.get('Content-Type')})" if shown is not None else ""))
    placed = [r for r in store.records("actor") if r.fields.get("name") == new_title]
    if placed and placed[0].fields.get("latitude") is not None:
        last = store.history(placed[0].id)[-1]
        echo(f"  {new_title!r} on the map at {placed[0].fields['latitude']}, {placed[0].fields['longitude']}: "
             f"{last.note} (origin {last.origin} in its history), written to both wikis")
    for name, cloud in sandbox.nextclouds.items():
        nc = next(n for n in cfg.nextcloud if n.name == name)
        events = cloud.emulator.caldav.events(cloud.user, nc.calendar)
        shared = cloud.emulator.caldav.delivered_to(cloud.user, nc.calendar)
        member = (cloud.member, cloud.member_password)
        base = f"{cloud.url}remote.php/dav/calendars/{cloud.member}/{nc.calendar}_shared_by_{cloud.user}/"
        sample = sorted(events)[0] if events else None
        read = requests.get(base + sample, auth=member, timeout=10).status_code if sample else None
        write = requests.put(base + sample, data=events[sample].encode(), auth=member,
                             timeout=10).status_code if sample else None
        echo(f"  {name}: calendar {nc.calendar!r} holds {len(events)} events, shared read-only with "
             f"{', '.join(shared) or 'nobody'}; a member of the group reads one (HTTP {read}) and cannot change it "
             f"(HTTP {write})")
        link = (store.get_state(f"nextcloud:{name}:exports") or {}).get("link")
        if link:
            echo(f"    iCalendar feed: {feed_url(link)}")
