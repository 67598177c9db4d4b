"""`oscartes-sync demo`: the main job on a local sandbox, with no config and no network.

Two emulated YesWikis ("polesnoe" and "tel") are started on 127.0.0.1, given the actor form this project
provisions and the sample entries of Essonne (members' entries, some of the same association in both wikis
spelled differently, a few bad values) and a few events. Then the real sync runs against them, as it would
against real wikis: a first run that builds the source records, members' edits in one wiki (new opening hours, a
logo picked, an actor added with its address but no pin), a second run that carries them to the other wiki (the
logo as a file, the actor placed on the map by the sandbox's fake of the national geocoder) and finds a conflict
(two members changed one phone number differently). The coordinator settles it on the review page of the wiki
(DECISIONS §25): logged in as an administrator, she follows the page's link and submits the "Décisions OSCARTES"
form it opens, already filled in, all through HTTP as a browser would; the next run applies that decision as
`conflicts resolve` would and writes the chosen value to both wikis, and a last run finds nothing to do. Two emulated Nextclouds ("polesnoe-cloud", "tel-cloud") receive the
shared address book, the events' shared calendar and the open-data exports (with the events' iCalendar feed)
after each run.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from bs4 import BeautifulSoup
from PIL import Image, ImageDraw

from ..app import build_instances, sync_once
from ..config import DEFAULT_FORM_IDS
from ..records import DECISIONS
from ..publish.calendar import feed_url
from ..publish.provision import render_report, run_provision
from ..layout import Line, fit, terminal_width
from ..report import render_run
from ..store import Store
from ..text import Plural, Text, join
from .sample_data import sample_entries, sample_events
from .sandbox import NEXTCLOUD_NAMES, Sandbox, follow_link, start_sandbox, submit_bazar_form


SAMPLE_ARTICLES = Path(__file__).parent / "articles"
CONFLICT_FIELD, CONFLICT_KEY = "phone", "bf_telephone"
CONFLICT_VALUES = {"polesnoe": "01 69 31 00 01", "tel": "01 60 12 00 02"}  # two members, two numbers


def run_demo(*, keep: bool = False, workdir: str | None = None, echo: Callable[[str], None] = print,
             verbose: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="oscartes-demo-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with start_sandbox(provisioned=False, nextclouds=NEXTCLOUD_NAMES, geocoder=True,
                           kinds=("actor", "event")) as sandbox:
            return _demo(sandbox, base, keep, _Narrator(echo, verbose))


class _Narrator:
    """What the demo says, in the reader's language, fitted to the terminal (its reports too)."""

    def __init__(self, echo: Callable[[str], None], verbose: bool):
        self.echo, self.verbose, self.width = echo, verbose, terminal_width()

    def __call__(self, text: object = "", indent: int = 0) -> None:
        self.echo(fit(Line(text, indent, 4), self.width) if text else "")

    def step(self, text: Text) -> None:
        self.echo("")
        self(join("", ["== ", text]))

    def report(self, run) -> None:
        self.echo(render_run(run, verbose=self.verbose, width=self.width))


def _demo(sandbox: Sandbox, base: Path, keep: bool, say: _Narrator) -> int:
    say(Text("Sandbox: two emulated YesWikis, two emulated Nextclouds and a fake of the national address geocoder "
             "on this machine, fresh and empty"))
    for wiki in sandbox.wikis.values():
        say(f"{wiki.name:14s} {wiki.url}", 2)
    for cloud in sandbox.nextclouds.values():
        say(Text("{name} {url}  (service account '{user}', group '{group}')", name=cloud.name.ljust(14),
                 url=cloud.url, user=cloud.user, group=cloud.group), 2)
    cfg = sandbox.config(store_url=f"sqlite:///{base / 'oscartes-demo.db'}", lock=str(base / "demo.lock"))
    store = Store(cfg.store_url())

    say.step(Text("Provision: forms, lists and pages from wiki_templates/, through the wikis' admin pages"))
    report = run_provision(cfg, store)
    if report.exit_code:
        say.echo(render_report(report, show_diff=False))
        store.close()
        return 1
    for name in sandbox.wikis:
        made = [i for i in report.items if i.wiki == name and i.status == "create"]
        forms, lists, pages = (sum(i.kind == k for i in made) for k in ("form", "list", "page"))
        say(Text("{wiki}: {forms}, {lists}, {pages} created", wiki=name,
                 forms=Plural("{n} form", "{n} forms", forms, n=forms),
                 lists=Plural("{n} list", "{n} lists", lists, n=lists),
                 pages=Plural("{n} page", "{n} pages", pages, n=pages)), 2)

    counts = sandbox.seed_sample(sample_entries())
    say()
    entries = [Plural("{wiki} {n} entry", "{wiki} {n} entries", c, wiki=n, n=c) for n, c in counts.items()]
    say(Text("Sample data (members' entries, before any sync): {counts}", counts=join(", ", entries)))
    events = sample_events()
    for name, rows in events.items():
        for values in rows:
            sandbox.wikis[name].member_create(DEFAULT_FORM_IDS["event"], values)
    say(Text("Events: {counts} (no pin on the map; one typed with its end before its start)",
             counts=", ".join(f"{n} {len(r)}" for n, r in events.items())))
    if sandbox.nextclouds:
        cloud = next(iter(sandbox.nextclouds.values()))
        nc = next(n for n in cfg.nextcloud if n.name == cloud.name)
        names = sandbox.seed_articles(cloud.name, nc.articles_folder, SAMPLE_ARTICLES)
        where = f"{cloud.name}:/{nc.articles_folder}/"
        say(Text("Knowledge base: a member put {n} Markdown articles in {where} ({names})", n=len(names),
                 where=where, names=", ".join(names)))

    try:
        instances = build_instances(cfg)
        say.step(Text("Run 1: first import (a duplicate check before anything is copied)"))
        say.report(sync_once(cfg, store, instances))

        say.step(Text("Members edit their entries: new opening hours, a logo, an actor added with its address "
                      "only, and one phone number changed in both wikis, two different ways"))
        say(sandbox.member_edit_one("polesnoe"), 2)
        logo_title = _pick_logo(sandbox)
        say(Text("{title}: a logo picked in the entry's form (PNG)", title=logo_title), 2)
        new_title = "Ressourcerie de la Vallée"
        sandbox.wikis["polesnoe"].member_create(DEFAULT_FORM_IDS["actor"], {
            "bf_titre": new_title, "bf_adresse": "15 rue de la République", "bf_codepostal": "91400",
            "bf_ville": "Orsay", "bf_chapeau": "Objets de seconde main, à Orsay."})
        say(Text("{title}: added with its address, no pin on the map", title=new_title), 2)
        disputed = _edit_both_ways(sandbox, store, cfg)
        for wiki, value in CONFLICT_VALUES.items():
            say(Text("{wiki}: a member sets the phone of {title} to {value}", wiki=wiki, title=disputed.title,
                     value=value), 2)

        say.step(Text("Run 2: the edits reach the other wiki; the logo crosses as a file; the new actor is placed "
                      "on the map; the two phone numbers are a conflict, left for a person"))
        say.report(sync_once(cfg, store, instances))
        _show_media(sandbox, store, cfg, logo_title, new_title, say)

        conflict = next(c for c in store.conflicts("open", record_id=disputed.record_id)
                        if c.field == CONFLICT_FIELD)
        decision = _decide_on_review_page(sandbox, cfg, conflict.id, say)

        say.step(Text("Run 3: the decision taken in the wiki is applied, as `oscartes-sync conflicts resolve` "
                      "would, and the number kept is written where it differs"))
        say.report(sync_once(cfg, store, instances))
        for name, wiki in sandbox.wikis.items():
            shown = wiki.read(disputed.entries[name]).get(CONFLICT_KEY)
            say(Text("{wiki}: the phone of {title} is now {value}", wiki=name, title=disputed.title, value=shown), 2)
        _show_decision_applied(sandbox, store, cfg, conflict.id, decision, say)

        say.step(Text("Run 4: nothing changed since, so one listing per form and wiki, one look per address book, "
                      "calendar and Nextcloud folder, and nothing written"))
        time.sleep(2.1)  # a scheduled sync is minutes apart: past the second in which Nextcloud's ETags can lie
        say.report(sync_once(cfg, store, instances))

        say()
        _summary(sandbox, store, cfg, say)
        if keep:
            say()
            say(Text("The sandbox keeps running; press Ctrl-C to stop."))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        store.close()
    return 0


REVIEW_WIKI, KEEP = "polesnoe", "tel"  # the coordinator decides in polesnoe's page: keep tel's number


def _decide_on_review_page(sandbox: Sandbox, cfg, conflict_id: int, say: _Narrator) -> str:
    """The coordinator takes the decision on the review page of a wiki, as a person in a browser: the page is
    refused to a visitor; logged in as an administrator, she follows its link and submits the form it opens. The
    decision's entry id."""
    wiki = sandbox.wikis[REVIEW_WIKI]
    page = f"{wiki.url}?{cfg.review.page}"
    label = f"Garder la valeur de {KEEP}"  # the page's link (the wiki's own words: French)
    say.step(Text("The coordinator settles the conflict on the review page of {wiki}, {page}", wiki=REVIEW_WIKI,
                  page=page))
    seen = requests.get(page, timeout=10).text
    alert = BeautifulSoup(seen, "html.parser").select_one(".alert")
    if alert is not None and f"Conflit n°{conflict_id} " not in seen:
        say(Text("a visitor who opens it reads only \"{alert}\": the page is for the wiki's administrators",
                 alert=" ".join(alert.get_text(" ").split())), 2)
    else:
        say(Text("a visitor who opens it reads it: its access rights are wrong"), 2)
    session = wiki.admin_session()
    link = follow_link(session, page, label)
    entry = submit_bazar_form(session, link)
    say(Text("logged in as {user}, she follows its link \"{label}\" of conflict #{id} and submits the form it "
             "opens, already filled in: decision {entry} in the form \"{form}\"; nothing changes before the next "
             "sync", user=wiki.admin_user, label=label, id=conflict_id, entry=entry, form=DECISIONS.label), 2)
    return entry


def _show_decision_applied(sandbox: Sandbox, store: Store, cfg, conflict_id: int, entry: str,
                           say: _Narrator) -> None:
    """What the run did with the decision, seen from the store and from the wiki."""
    wiki = sandbox.wikis[REVIEW_WIKI]
    c = store.conflict(conflict_id)
    if c is not None and c.status == "resolved":
        who = [r for r in store.history(c.record_id) if r.author == c.resolved_by]
        say(Text("conflict #{id} settled by {author}; the record's history names them (origin {origin})",
                 id=conflict_id, author=c.resolved_by, origin=who[-1].origin if who else "-"), 2)
    form = next(w for w in cfg.wiki if w.name == REVIEW_WIKI).service_form_id(DECISIONS.name)
    answer = (wiki.list(form).get(entry) or {}).get("bf_reponse") or ""
    say(Text("the decision's answer in the wiki: \"{answer}\"", answer=answer), 2)
    body = wiki.admin_session().get(f"{wiki.url}?{cfg.review.page}").text
    say(Text("the review page lists that conflict no more") if f"Conflit n°{conflict_id} " not in body
        else Text("the review page still lists that conflict"), 2)


@dataclass
class _Disputed:
    record_id: str
    title: str
    entries: dict[str, str]  # wiki -> entry id


def _edit_both_ways(sandbox: Sandbox, store: Store, cfg) -> _Disputed:
    """Two members, one in each wiki, give the same actor two different phone numbers: the first actor (by title)
    linked in both wikis with no conflict open yet."""
    open_records = {c.record_id for c in store.conflicts("open")}
    for rec in sorted(store.records("actor"), key=lambda r: (r.fields.get("name") or "", r.id)):
        links = {l.instance: l.remote_id for l in store.links(record_id=rec.id) if l.remote_id}
        if rec.id not in open_records and all(w in links for w in CONFLICT_VALUES):
            for wiki, value in CONFLICT_VALUES.items():
                sandbox.wikis[wiki].member_edit(links[wiki], {CONFLICT_KEY: value})
            return _Disputed(rec.id, str(rec.fields.get("name")), links)
    raise RuntimeError("no actor linked in both wikis")  # pragma: no cover - the sample data has many


def _summary(sandbox: Sandbox, store: Store, cfg, say: _Narrator) -> None:
    records = store.records("actor")
    say(Text("Source records: {actors}; open conflicts: {conflicts}; possible duplicates waiting in `match`: "
             "{duplicates}", actors=Plural("{n} actor", "{n} actors", len(records), n=len(records)),
             conflicts=len(store.conflicts("open")), duplicates=len(store.review_items("open"))))
    for name, wiki in sandbox.wikis.items():
        kb = sorted(t for t in wiki.emulator.revisions if t.startswith(("Article", "BaseDeConnaissances")))
        n = len(wiki.emulator.entries(cfg.wiki[0].form_ids()["actor"]))
        say(Text("{wiki}: {entries} now; knowledge base: {pages}", wiki=name,
                 entries=Plural("{n} entry", "{n} entries", n, n=n), pages=", ".join(kb) or "-"), 2)
    for name, cloud in sandbox.nextclouds.items():
        nc = next(n for n in cfg.nextcloud if n.name == name)
        cards = cloud.emulator.cards(cloud.user, nc.addressbook)
        files = cloud.emulator.listdir(cloud.user, nc.exports_folder)
        shared = ", ".join(cloud.emulator.delivered_to(cloud.user, nc.addressbook))
        say(Text("{cloud}: address book '{book}' with {cards}, shared read-only with {group}; {folder}/: {files}",
                 cloud=name, book=nc.addressbook, cards=Plural("{n} card", "{n} cards", len(cards), n=len(cards)),
                 group=shared or "-", folder=nc.exports_folder, files=", ".join(files)), 2)
        link = store.get_state(f"nextcloud:{name}:exports") or {}
        if isinstance(link, dict) and link.get("link"):
            say(Text("public link of the exports: {link}", link=link["link"]), 4)


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


def _show_media(sandbox: Sandbox, store: Store, cfg, logo_title: str, new_title: str, say: _Narrator) -> None:
    """What run 2 did with the logo, the new actor's place and the events' calendar, seen from outside."""
    tel = sandbox.wikis["tel"]
    found = [(i, e) for i, e in tel.list(DEFAULT_FORM_IDS["actor"]).items() if e.get("bf_titre") == logo_title]
    if found and found[0][1].get("imagebf_logo"):
        entry_id = found[0][0]
        page = requests.get(f"{tel.url}?{entry_id}", timeout=10).text
        src = re.search(r'<img loading="lazy" src="([^"]+)"', page)
        shown = requests.get(src.group(1), timeout=10) if src else None
        page = f"{tel.url}?{entry_id}"
        if shown is not None:
            say(Text("the logo of \"{title}\" in tel: the page {page} shows the picture the wiki serves from its cache "
                     "(HTTP {status}, {type})", title=logo_title, page=page, status=shown.status_code,
                     type=shown.headers.get("Content-Type")), 2)
        else:
            say(Text("the logo of \"{title}\" in tel: the page {page} shows no picture", title=logo_title, page=page), 2)
    placed = [r for r in store.records("actor") if r.fields.get("name") == new_title]
    if placed and placed[0].fields.get("latitude") is not None:
        last = store.history(placed[0].id)[-1]
        say(Text("\"{title}\" on the map at {latitude}, {longitude}: {note} (origin {origin} in its history), "
                 "written to both wikis", title=new_title, latitude=placed[0].fields["latitude"],
                 longitude=placed[0].fields["longitude"], note=last.note, origin=last.origin), 2)
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
        say(Text("{cloud}: the calendar '{calendar}' holds {events}, shared read-only with {group}; a member of "
                 "the group reads one (HTTP {read}) and cannot change it (HTTP {write})", cloud=name,
                 calendar=nc.calendar, events=Plural("{n} event", "{n} events", len(events), n=len(events)),
                 group=", ".join(shared) or "-", read=read, write=write), 2)
        link = (store.get_state(f"nextcloud:{name}:exports") or {}).get("link")
        if link:
            say(Text("iCalendar feed: {link}", link=feed_url(link)), 4)
