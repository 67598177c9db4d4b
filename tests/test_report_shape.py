"""A run report a person reads in a minute (issue 15 item 2): what an earlier run reported and is still true is
summarised, never repeated word for word; the order is the same whatever order things happened in; every line fits
the width; request counts only on demand; a progress bar on a terminal only. Over real runs on the sandbox."""

from __future__ import annotations

import io
import re

import pytest

from oscartes_sync import cli as cli_module
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.report import render_run
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


# what needs a person in the first run: two refused values, a possible duplicate, and (once linked) conflicts
ENTRIES = {
    "polesnoe": [entry("Repair café de Massy", "Massy", "91300", bf_site_internet="javascript:alert(1)"),
                 entry("Ressourcerie Cyclamen", bf_siret="73282932000074"),
                 entry("Épicerie La Fourmi", "Palaiseau", "91120", bf_telephone="12"),
                 entry("Atelier vélo Roue Libre", "Palaiseau", "91120")],
    "tel": [entry("Ressourcerie du Cyclamen", bf_siret="55208131766522"),
            entry("Jardin des Sablons", "Massy", "91300")],
}


class World:
    def __init__(self, sandbox, tmp_path, name):
        self.sandbox = sandbox
        self.cfg = sandbox.config(store_url=f"sqlite:///{tmp_path / f'{name}.db'}", lock=str(tmp_path / f"{name}.lock"))
        self.cfg.publish.dashboards = False
        self.store = Store(self.cfg.store_url())
        self.instances = build_instances(self.cfg)

    def seed(self, reverse: bool = False) -> None:
        for wiki, rows in ENTRIES.items():
            for row in (reversed(rows) if reverse else rows):
                self.sandbox.wikis[wiki].member_create(FORM, row)

    def run(self) -> str:
        return render_run(sync_once(self.cfg, self.store, self.instances), width=100)

    def conflict(self, title: str, field: str, values: dict[str, str]) -> None:
        """Members of both wikis change one field of one actor, each their own way."""
        for wiki, value in values.items():
            w = self.sandbox.wikis[wiki]
            [eid] = [i for i, e in w.list(FORM).items() if e["bf_titre"] == title]
            w.member_edit(eid, {field: value})


@pytest.fixture
def world(tmp_path):
    with start_sandbox() as sandbox:
        w = World(sandbox, tmp_path, "one")
        try:
            yield w
        finally:
            w.store.close()


def items(text: str) -> list[str]:
    """The items of "To do for a person" and "Notes" (an item and its wrapped lines, joined)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("- "):
            out.append(line.strip())
        elif out and line.startswith("      ") and not line.strip().startswith(("still ", "...")):
            out[-1] += " " + line.strip()
    return out


def test_what_an_earlier_run_reported_is_summarised_not_repeated(world):
    world.seed()
    first = world.run()
    listed = items(first)
    assert len([i for i in listed if "refused" in i]) == 2 and any("`oscartes-sync match link" in i for i in listed)
    world.conflict("Atelier vélo Roue Libre", "bf_horaires", {"polesnoe": "Mo 09:00-12:00", "tel": "Tu 14:00-18:00"})
    second = world.run()
    # the new conflict is listed in full; nothing of the first run is repeated word for word
    assert [i for i in items(second) if "Atelier vélo Roue Libre" in i and "opening hours" in i], second
    assert not set(items(second)) & set(listed), second
    # what is still open is one line per group, with the date it has waited since
    for group in ("possible duplicate", "refused value"):
        assert re.search(rf"still waiting since \d+ \w+( \d{{4}})?: \d+ {group}", " ".join(second.split())), second
    third = world.run()
    assert items(third) == [], third  # the same state again: only summaries
    assert not set(third.splitlines()[1:]) & {line for line in second.splitlines() if line.lstrip().startswith("- ")}
    # and the last line counts what the groups count, from the store: the same things the status command does
    assert third.splitlines()[-1] == ("Needs a person: 1 conflict on 1 record; 1 possible duplicate; "
                                      "2 refused values."), third


def normalised(text: str) -> str:
    """A report with what differs between two worlds of the same state blanked: ids, addresses, times."""
    text = re.sub(r"\b[0-9a-f]{8}\b", "<id>", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "<host>", text)
    text = re.sub(r"\b\d{1,2} \w+( \d{4})? at \d\d:\d\d", "<when>", text)
    return re.sub(r"match link \d+", "match link <n>", re.sub(r"match distinct \d+", "match distinct <n>", text))


def test_the_same_state_reads_the_same_whatever_order_things_happened_in(tmp_path):
    texts = []
    for name, reverse in (("straight", False), ("reversed", True)):
        with start_sandbox() as sandbox:
            w = World(sandbox, tmp_path, name)
            try:
                w.seed(reverse=reverse)
                w.run()
                for title, field, values in (
                        ("Atelier vélo Roue Libre", "bf_horaires", {"polesnoe": "Mo 09:00-12:00", "tel": "Tu 14:00"}),
                        ("Jardin des Sablons", "bf_telephone", {"polesnoe": "01 69 00 00 01", "tel": "01 69 00 00 02"})):
                    w.conflict(title, field, dict(reversed(values.items())) if reverse else values)
                texts.append(normalised(w.run()))
            finally:
                w.store.close()
    assert texts[0] == texts[1], "\n---\n".join(texts)
    listed = [i for i in items(texts[0]) if "conflicts --record" in i]
    assert [i.split(" (<id>)")[0] for i in listed] == ["- Atelier vélo Roue Libre", "- Jardin des Sablons"]


def test_lines_fit_the_width_and_requests_are_counted_only_on_demand(world):
    world.seed()
    run = sync_once(world.cfg, world.store, world.instances)
    for width in (60, 100):
        text = render_run(run, width=width)
        assert max(len(line) for line in text.splitlines()) <= width, text
        assert "Requests sent" not in text and "GET list" not in text
    verbose = render_run(run, verbose=True, width=100)
    assert "Requests sent:" in verbose and re.search(r"polesnoe: \d+ \(\d+ GET form, \d+ GET list", verbose), verbose
    assert "requests" in run.report and run.report["requests"]["polesnoe"]  # the JSON always has them


def test_no_developer_detail_in_the_default_report(world):
    world.seed()
    text = world.run()
    assert "DECISIONS" not in text and "§" not in text
    for name in ("CreateEntry", "UpdateRecord", "ReviewDuplicate", ".py"):
        assert name not in text


class _Terminal(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_a_progress_bar_on_a_terminal_only(monkeypatch, tty):
    out = _Terminal(tty)
    monkeypatch.setattr("sys.stdout", out)
    progress = cli_module._Progress()
    for done in range(0, 41):
        progress("actor", done, 40)
    progress.close()
    shown = out.getvalue()
    assert (("40/40" in shown) and ("Actors: writing to the wikis" in shown)) if tty else shown == ""


def test_the_executor_reports_its_progress_write_by_write(world):
    world.seed()
    seen: list[tuple[str, int, int]] = []
    sync_once(world.cfg, world.store, world.instances, progress=lambda kind, done, total: seen.append(
        (kind, done, total)))
    assert seen and seen[-1][1] == seen[-1][2] > 0  # it ends at total
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)  # never goes back
