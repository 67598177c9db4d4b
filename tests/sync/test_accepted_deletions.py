"""A person's acceptance of deletions carries through (DECISIONS §24, issue 12 item 2): once `sync
--allow-deletes N` (or a deletion within the limits) has made records tombstones, their entries, cards, export
rows and derived pages go too, and no later run refuses them again. A refusal always names an action that works.
"""

from __future__ import annotations

import csv
import io

import pytest

from oscartes_sync import geo
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.publish.addressbook import state_key as book_key
from oscartes_sync.publish.pages import dashboard_tag, map_tag
from oscartes_sync.report import render_run
from oscartes_sync.sandbox.sandbox import NEXTCLOUD_NAMES, start_sandbox
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]
BOOK = "oscartes"


@pytest.fixture
def world(tmp_path):
    with start_sandbox(nextclouds=NEXTCLOUD_NAMES) as sb:
        cfg = sb.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))
        assert cfg.publish.dashboards  # cards and pages: everything derived from the actors
        store = Store(cfg.store_url())
        try:
            yield sb, cfg, store
        finally:
            store.close()


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def section(report: str, heading: str) -> list[str]:
    """The lines under a heading of "What changed" (one item a line: rendered wide), stripped."""
    lines = report.splitlines()
    start = next(i for i, x in enumerate(lines) if x.strip() == heading)
    indent = len(lines[start]) - len(lines[start].lstrip())
    out = []
    for x in lines[start + 1:]:
        if len(x) - len(x.lstrip()) <= indent:
            break
        out.append(x.strip())
    return out


def text(r) -> str:
    return render_run(r, width=1000)  # one line per item, to read each whole


def communes(n: int) -> list[geo.Commune]:
    """n communes far apart in the alphabet: their actors' names are not look-alikes the matcher would hold
    for review ("Ressourcerie Angerville" / "Ressourcerie Angervilliers")."""
    return [c for c in geo.all_communes() if c.has_point and c.postcodes][::8][:n]


def cards(sb, name):
    cloud = sb.nextclouds[name]
    return cloud.emulator.cards(cloud.user, BOOK)


def export_names(sb, cfg, name) -> list[str]:
    cloud = sb.nextclouds[name]
    nc = next(n for n in cfg.nextcloud if n.name == name)
    data = cloud.emulator.file(cloud.user, f"{nc.exports_folder}/acteurs.csv")
    return sorted(row["name"] for row in csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_allow_deletes_removes_entries_cards_export_rows_and_pages_and_nothing_stays_refused(world):
    sb, cfg, store = world
    a, b = sb.wikis["polesnoe"], sb.wikis["tel"]
    places = communes(24)
    ids = [a.member_create(FORM, {"bf_titre": f"Ressourcerie {c.name}", "bf_ville": c.name,
                                  "bf_codepostal": c.postcodes[0], "checkboxListeThemes": "economie-circulaire"})
           for c in places]
    run(cfg, store)
    settled = run(cfg, store)
    assert settled.exit_code == 0, text(settled)
    assert len(b.list(FORM)) == 24
    for name in NEXTCLOUD_NAMES:
        assert len(cards(sb, name)) == 24
    gone_pages = [dashboard_tag("commune", c.insee) for c in places[:20]] + [map_tag("commune", c.insee)
                                                                          for c in places[:20]]
    for w in sb.wikis.values():
        assert all(w.emulator.page(tag) is not None for tag in gone_pages)

    for rid in ids[:20]:  # members delete 20 of the 24 actors
        a.member_delete(rid)
    refused = run(cfg, store)
    assert refused.exit_code == 1
    assert "accept them once with `oscartes-sync sync --allow-deletes 20`" in text(refused)
    assert len(b.list(FORM)) == 24 and len(store.records("actor")) == 24

    accepted = run(cfg, store, allow_deletes=20)
    report = text(accepted)
    assert accepted.exit_code == 0, report
    assert "refused" not in report, report
    # the report says what went: cards deleted and pages removed, each counted as what it is
    for cloud in NEXTCLOUD_NAMES:
        assert any(x.startswith("20 cards deleted from the address book: ")
                   for x in section(report, f"Nextcloud {cloud}:")), report
    for wiki in sb.wikis:
        assert any(x.startswith("40 pages removed (no longer produced): ") for x in section(report, f"Wiki {wiki}:"))
        assert sorted(accepted.report["pages"][wiki]["removed"]) == sorted(gone_pages)
    assert len(b.list(FORM)) == 4 and len(store.records("actor")) == 4
    kept = sorted(f"Ressourcerie {c.name}" for c in places[20:])
    for name in NEXTCLOUD_NAMES:
        assert len(cards(sb, name)) == 4, name
        assert export_names(sb, cfg, name) == kept
    for w in sb.wikis.values():
        assert [tag for tag in gone_pages if w.emulator.page(tag) is not None] == []
        assert w.emulator.page(dashboard_tag("commune", places[-1].insee)) is not None

    for _ in range(2):  # and no later run refuses anything
        later = run(cfg, store)
        assert later.exit_code == 0, text(later)
        assert not [n for n in later.result.notices if "refused" in n.message], text(later)


def test_card_deletions_the_store_cannot_explain_are_refused_with_advice_that_works(world, tmp_path):
    """Cards of records the store no longer holds at all (not tombstones: a store swapped for an older copy,
    a record erased) stay behind a limit; the message names `sync --allow-deletes N`, and running it works."""
    sb, cfg, store = world
    a = sb.wikis["polesnoe"]
    for c in communes(8):
        a.member_create(FORM, {"bf_titre": f"Atelier {c.name}", "bf_ville": c.name, "bf_codepostal": c.postcodes[0]})
    run(cfg, store)
    books = {n.name: store.get_state(book_key(n.name)) for n in cfg.nextcloud}
    # the same book, seen from a store that lost those 8 records (and knows 2 others)
    cfg.store.url = f"sqlite:///{tmp_path / 'other.db'}"
    other = Store(cfg.store_url())
    try:
        for key, state in books.items():
            other.set_state(book_key(key), state)
        for name in ("Recyclerie A", "Recyclerie B"):
            other.create_record("actor", {"name": name}, author="t", origin="t")
        cfg.wiki = []  # only the Nextclouds: the wikis hold the 8 entries this store does not know
        ran = sync_once(cfg, other, {})
        message = [n.message for n in ran.result.notices if "card deletions refused" in n.message]
        assert len(message) == 2, text(ran)
        assert "`oscartes-sync sync --allow-deletes 8`" in message[0]
        assert ran.exit_code == 1
        for name in NEXTCLOUD_NAMES:
            assert len(cards(sb, name)) == 10
        followed = sync_once(cfg, other, {}, allow_deletes=8)
        assert followed.exit_code == 0, text(followed)
        for name in NEXTCLOUD_NAMES:
            assert len(cards(sb, name)) == 2
    finally:
        other.close()
