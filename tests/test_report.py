"""The run report says only what happened (issue 12 item 3), and every line that acts on a record names it by
title and short id (issue 14 §4): created, updated, merged, deleted, refused. Over real runs against the
sandbox: the rendered text and the `--json` summary."""

from __future__ import annotations

import json
import re
import socket

import pytest

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.coordinator import short_id
from oscartes_sync.report import render_run
from oscartes_sync.sandbox.sandbox import NEXTCLOUD_NAMES, start_sandbox
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]
NAMES = ["Recyclerie des Ulis", "Atelier vélo Roue Libre", "AMAP des Coteaux", "Épicerie La Fourmi",
         "Repair café de Massy", "Jardin des Sablons"]
# a count line of the report: "     3 entries created in tel: ..."
COUNT = re.compile(r"^\s+\d+ (.*)$")
NAMED = re.compile(r"\S.* \([0-9a-f]{8}\)")


@pytest.fixture
def world(tmp_path):
    with start_sandbox(nextclouds=NEXTCLOUD_NAMES) as sb:
        cfg = sb.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))
        cfg.publish.dashboards = False
        store = Store(cfg.store_url())
        try:
            yield sb, cfg, store
        finally:
            store.close()


def run(cfg, store, **kw):
    ran = sync_once(cfg, store, build_instances(cfg), **kw)
    ran.text = render_run(ran, width=1000)  # one item a line, to read each whole
    json.dumps(ran.report)  # what `sync --json` prints
    return ran


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_lines(text: str) -> list[str]:
    """The lines that act on records: count lines (but open-data files and wiki pages, which are no records)
    and the items about a record or a batch of records."""
    out = []
    for line in text.splitlines():
        m = COUNT.match(line)
        if m and not m.group(1).startswith(("open-data file", "page")):
            out.append(line)
        elif line.lstrip().startswith("- ") and ("[" in line or "refused" in line):
            out.append(line)
    return out


def section(text: str, heading: str) -> list[str]:
    """The lines under a heading of the report (stripped), up to the next heading as deep or shallower."""
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.strip() == heading)
    indent = len(lines[start]) - len(lines[start].lstrip())
    out = []
    for x in lines[start + 1:]:
        if len(x) - len(x.lstrip()) <= indent:
            break
        out.append(x.strip())
    return out


def ids_by_title(store) -> dict[str, str]:
    return {r.fields["name"]: r.id for r in store.records("actor", include_deleted=True)}


def assert_names(line: str, store, *titles: str) -> None:
    ids = ids_by_title(store)
    for t in titles:
        assert f"{t} ({short_id(ids[t])})" in line, (t, line)


def test_every_line_that_acts_on_a_record_names_it_by_title_and_short_id(world):
    sb, cfg, store = world
    a = sb.wikis["polesnoe"]
    ids = {n: a.member_create(FORM, entry(n)) for n in NAMES[:3]}
    created = run(cfg, store)
    lines = record_lines(created.text)
    assert lines and all(NAMED.search(x) for x in lines), created.text
    [new] = [x for x in lines if "new records" in x]
    assert_names(new, store, *NAMES[:3])
    [copied] = [x for x in lines if "entries created in tel" in x]
    assert_names(copied, store, *NAMES[:3])
    [cards] = [x for x in section(created.text, "Nextcloud polesnoe-cloud:") if "cards written" in x]
    assert_names(cards, store, *NAMES[:3])
    # the JSON names every record acted on
    acted = created.report["records_acted_on"]
    assert {(x["action"], x["title"]) for x in acted} >= {("CreateEntry", n) for n in NAMES[:3]}
    assert all(x["record"] and x["title"] for x in acted)

    # updated (merged from a member's edit, written to the other wiki), deleted
    a.member_edit(ids[NAMES[0]], {"bf_horaires": "Mo 09:00-12:00"})
    a.member_delete(ids[NAMES[1]])
    changed = run(cfg, store)
    lines = record_lines(changed.text)
    assert all(NAMED.search(x) for x in lines), changed.text
    assert_names(next(x for x in lines if "record updated with a member's edits" in x), store, NAMES[0])
    assert_names(next(x for x in lines if "entry updated in tel" in x), store, NAMES[0])
    assert_names(next(x for x in lines if "record deleted" in x), store, NAMES[1])
    assert_names(next(x for x in lines if "entry deleted in tel" in x), store, NAMES[1])
    assert_names(next(x for x in section(changed.text, "Nextcloud tel-cloud:") if "card deleted" in x), store,
                 NAMES[1])

    # refused: a batch of deletions above the limit names its records
    more = {n: a.member_create(FORM, entry(n)) for n in NAMES[3:]}
    run(cfg, store)
    gone = [NAMES[0], NAMES[2], NAMES[3], NAMES[4]]
    for n in gone:  # 4 of 5 > max(0.2 × 5, 3)
        a.member_delete({**ids, **more}[n])
    refused = run(cfg, store)
    [line] = [x for x in record_lines(refused.text) if "deletions refused" in x]
    assert_names(line, store, *gone)
    [notice] = [n for n in refused.report["notices"] if "deletions refused" in n["message"]]
    assert sorted(notice["records"]) == sorted(ids_by_title(store)[n] for n in gone)



def test_dry_run_lines_name_records_by_title_and_short_id(world):
    sb, cfg, store = world
    sb.wikis["polesnoe"].member_create(FORM, entry(NAMES[0]))
    planned = run(cfg, store, dry_run=True)
    assert planned.text.splitlines()[0].startswith("Dry run of "), planned.text
    actions = [x for x in planned.text.splitlines() if COUNT.match(x)]
    assert actions, planned.text
    for line in actions[:3]:
        assert re.search(re.escape(NAMES[0]) + r" \([0-9a-f]{8}\)", line), line


def test_card_deletions_and_removed_pages_are_reported_as_what_they_are(world):
    sb, cfg, store = world
    cfg.publish.dashboards = True
    a = sb.wikis["polesnoe"]
    ids = [a.member_create(FORM, entry(n, c, p)) for n, c, p in
           [(NAMES[0], "Les Ulis", "91940"), (NAMES[1], "Palaiseau", "91120"), (NAMES[2], "Massy", "91300"),
            (NAMES[3], "Orsay", "91400")]]
    run(cfg, store)
    a.member_delete(ids[0])  # the only actor of Les Ulis: its commune dashboard and map go
    gone = run(cfg, store)
    for cloud in NEXTCLOUD_NAMES:
        [line] = [x for x in section(gone.text, f"Nextcloud {cloud}:") if "card deleted" in x]
        assert line.split()[0] == "1"
        assert gone.report["cards"][cloud]["deleted"] == [ids_by_title(store)[NAMES[0]]]
    for wiki in ("polesnoe", "tel"):
        pages = section(gone.text, f"Wiki {wiki}:")
        [removed] = [x for x in pages if "pages removed" in x]
        assert removed.split()[0] == "2" and "TableauDeBordCommune91692" in removed
        assert sorted(gone.report["pages"][wiki]["removed"]) == ["CarteCommune91692", "TableauDeBordCommune91692"]
        written = [x for x in pages if "written" in x]
        assert all("TableauDeBordCommune91692" not in x for x in written)
    assert "rewritten" not in gone.text


def _unreachable(cfg):
    for w in cfg.wiki:
        w.url = f"http://127.0.0.1:{free_port()}/"
    for n in cfg.nextcloud:
        n.url = f"http://127.0.0.1:{free_port()}/"


def _no_secret(cfg, monkeypatch):
    for w in cfg.wiki:
        monkeypatch.delenv(w.api_token_env)
        monkeypatch.delenv(w.admin_password_env)
    for n in cfg.nextcloud:
        monkeypatch.delenv(n.app_password_env)


@pytest.mark.parametrize("breakage", ["unreachable", "no secret"])
def test_nothing_to_do_is_never_said_when_no_instance_was_read(world, monkeypatch, breakage):
    sb, cfg, store = world
    sb.wikis["polesnoe"].member_create(FORM, entry(NAMES[0]))
    run(cfg, store)
    assert run(cfg, store).text.splitlines()[1] == "  Nothing to do: every instance already agrees."
    _unreachable(cfg) if breakage == "unreachable" else _no_secret(cfg, monkeypatch)
    ran = run(cfg, store)
    assert ran.exit_code == 1
    assert "nothing to do" not in ran.text.lower() and "agrees" not in ran.text, ran.text
    assert ": done" not in ran.text
    assert re.fullmatch(r"Sync of .+: not done, no instance could be read \(see below\)\.", ran.text.splitlines()[0])
    errors = section(ran.text, "Fix the instances in error (4 instances in error); `oscartes-sync doctor` checks each "
                               "one")
    assert [x.split(":")[0] for x in errors] == ["- polesnoe", "- polesnoe-cloud", "- tel", "- tel-cloud"], ran.text
    assert ran.report["nothing_to_do"] is False
    assert sorted(ran.report["instances_not_synced"]) == ["polesnoe", "polesnoe-cloud", "tel", "tel-cloud"]


def test_nothing_to_do_needs_the_nextclouds_read_too(world):
    sb, cfg, store = world
    sb.wikis["polesnoe"].member_create(FORM, entry(NAMES[0]))
    run(cfg, store)
    cfg.nextcloud[1].url = f"http://127.0.0.1:{free_port()}/"
    ran = run(cfg, store)
    assert "nothing to do" not in ran.text.lower() and ran.report["nothing_to_do"] is False
    lines = ran.text.splitlines()
    assert re.fullmatch(r"Sync of .+: done, except in tel-cloud \(not synced: see below\)\.", lines[0]), ran.text
    assert lines[1] == "  Nothing written in polesnoe, tel, polesnoe-cloud, the instances that were read.", ran.text
