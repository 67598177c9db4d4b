"""The command line as a coordinator uses it: a real TOML file, secrets in the environment, two sandbox wikis
over HTTP. A few cases run the real entry point in a subprocess; the rest use click's CliRunner.

Exit codes (DECISIONS §12): 0 nothing needs a person, 1 something does, 2 usage or config error.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from filelock import FileLock

from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.identity import match as identity_match
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]
NAMES = ["Recyclerie des Ulis", "Atelier vélo Roue Libre", "AMAP des Coteaux", "Épicerie La Fourmi",
         "Repair café de Massy", "Jardin des Sablons", "Coworking La Fabrique", "Tiers-lieu Le Hangar"]


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


# --- set-up: a config file, its secrets, and two ways to run the command ---------------------------------------


class Setup:
    """One coordinator's installation: a config file in its own folder, the secrets it names, the sandbox."""

    def __init__(self, sandbox, root: Path):
        self.sandbox = sandbox
        self.root = root
        self.dir = root / "etc"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "oscartes.toml"
        self.env: dict[str, str] = {}
        self.urls = {name: w.url for name, w in sandbox.wikis.items()}
        for name, w in sandbox.wikis.items():
            self.env[self.token_env(name)] = w.token
            self.env[self.password_env(name)] = w.admin_password
        self.write()

    @staticmethod
    def token_env(name: str) -> str:
        return f"CLITEST_{name.upper()}_TOKEN"

    @staticmethod
    def password_env(name: str) -> str:
        return f"CLITEST_{name.upper()}_PASSWORD"

    def write(self, sync_extra: str = "") -> Path:
        # relative paths: the store and the lock live next to the config file, wherever the command runs from
        parts = ['[store]\nurl = "sqlite:///oscartes.db"\n',
                 f'[sync]\nlock_file = "oscartes.lock"\n{sync_extra}\n',
                 '[publish]\ndashboards = false\n']
        for name, w in self.sandbox.wikis.items():
            parts.append(f'[[wiki]]\nname = "{name}"\nurl = "{self.urls[name]}"\n'
                         f'api_token_env = "{self.token_env(name)}"\nadmin_user = "{w.admin_user}"\n'
                         f'admin_password_env = "{self.password_env(name)}"\n')
        self.path.write_text("\n".join(parts), encoding="utf-8")
        return self.path

    @property
    def db(self) -> Path:
        return self.dir / "oscartes.db"

    @property
    def lock(self) -> Path:
        return self.dir / "oscartes.lock"

    def store(self) -> Store:
        return Store(f"sqlite:///{self.db}")

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> "Ran":
        """CliRunner with --config."""
        return invoke(["--config", str(self.path), *args], {**self.env, **(env or {})})

    def subprocess(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> "Ran":
        return run_process(["--config", str(self.path), *args], {**self.env, **(env or {})}, cwd or self.root)


class Ran:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr
        self.output = stdout + stderr

    def __repr__(self) -> str:
        return f"<exit {self.code}>\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OSCARTES_", "CLITEST_"))}


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> Ran:
    # None removes a variable for the call (CliRunner restores the environment afterwards)
    unset = {k: None for k in os.environ if k.startswith(("OSCARTES_", "CLITEST_"))}
    result = CliRunner().invoke(cli, args, env={**unset, **(env or {})}, prog_name="oscartes-sync")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}") \
            from result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in ran.output, ran
    return ran


def run_process(args: list[str], env: dict[str, str], cwd: Path) -> Ran:
    proc = subprocess.run([sys.executable, "-m", "oscartes_sync", *args], env={**_clean_env(), **env},
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    ran = Ran(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in ran.output, ran
    return ran


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch, tmp_path):
    # a config named by the machine running the tests must not leak in
    monkeypatch.delenv("OSCARTES_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def setup(tmp_path):
    with start_sandbox() as sandbox:
        yield Setup(sandbox, tmp_path)


def wiki(setup: Setup, name: str):
    return setup.sandbox.wikis[name]


def entry_writes(setup: Setup) -> dict[str, int]:
    """Entry writes: creates, edits, deletes (the review page's own edits are a page, not an entry)."""
    return {n: w.emulator.count("POST", "api/entries") + w.emulator.count("POST", "/edit")
            - w.emulator.count("POST", "?RevueOscartes/edit") + w.emulator.count("DELETE")
            for n, w in setup.sandbox.wikis.items()}


def reset_logs(setup: Setup) -> None:
    for w in setup.sandbox.wikis.values():
        w.emulator.reset_log()


def titles(setup: Setup, name: str) -> list[str]:
    return sorted(e["bf_titre"] for e in wiki(setup, name).list(FORM).values())


def report_items(text: str, group: str) -> list[str]:
    """The items ("- ...", continuation lines joined) of one group of the report's "To do for a person"."""
    items: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            inside = line.strip().startswith(group)
        elif inside and line.startswith("    - "):
            items.append(line[6:])
        elif inside and line.startswith("      ") and items:
            items[-1] += " " + line.strip()
        elif not line.startswith("  "):
            inside = False
    return items


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- exit codes -----------------------------------------------------------------------------------------------


def test_subprocess_sync_exits_0_when_nothing_needs_a_person(setup):
    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Atelier vélo Roue Libre", "Palaiseau", "91120"))
    first = setup.subprocess("sync")
    assert first.code == 0, first
    assert re.match(r"Sync of .+: done\.\n", first.stdout), first
    assert titles(setup, "tel") == ["Atelier vélo Roue Libre"]
    assert setup.db.exists()  # next to the config file, not in the working directory
    again = setup.subprocess("sync")
    assert again.code == 0, again
    assert "Nothing to do: every instance already agrees." in again.stdout


def test_open_conflict_exits_1_and_is_named_once_per_record(setup):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    aid = a.member_create(FORM, entry("Épicerie La Fourmi"))
    assert setup.run("sync").code == 0
    bid = next(iter(b.list(FORM)))
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00", "bf_telephone": "01 69 00 00 01"})
    b.member_edit(bid, {"bf_horaires": "Tu 14:00-18:00", "bf_telephone": "01 69 00 00 02"})
    ran = setup.run("sync")
    assert ran.code == 1, ran
    # one notice line for the record (the count line above it names the record too, as every line that acts on
    # a record does)
    lines = [item for item in report_items(ran.stdout, "Settle the conflicts") if "Épicerie La Fourmi" in item]
    assert len(lines) == 1, ran.stdout
    assert ": opening hours, phone (polesnoe, tel) → `oscartes-sync conflicts --record " in lines[0]
    assert ran.stdout.rstrip().splitlines()[-1].startswith("Needs a person:"), ran.stdout
    # still open: the next run says so again
    assert setup.run("sync").code == 1


def test_possible_duplicate_exits_1(setup):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    a.member_create(FORM, entry("Ressourcerie Cyclamen", bf_siret="73282932000074"))
    b.member_create(FORM, entry("Ressourcerie du Cyclamen", bf_siret="55208131766522"))
    ran = setup.run("sync")
    assert ran.code == 1, ran
    assert "match" in ran.stdout


def test_refused_value_exits_1_and_names_the_field(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Tiers-lieu La Ruche", bf_site_internet="javascript:alert(1)"))
    ran = setup.run("sync")
    assert ran.code == 1, ran
    assert "website refused" in ran.stdout
    assert wiki(setup, "tel").list(FORM)  # the rest of the entry was still copied


def test_refused_deletions_exit_1_then_allow_deletes_accepts_them(setup):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    ids = [a.member_create(FORM, entry(n)) for n in NAMES[:6]]
    assert setup.run("sync").code == 0
    for rid in ids[:4]:  # limit: max(0.2 × 6, 3) = 3
        a.member_delete(rid)
    ran = setup.run("sync")
    assert ran.code == 1, ran
    assert "deletions refused" in ran.stdout and "--allow-deletes 4" in ran.stdout
    assert len(b.list(FORM)) == 6
    accepted = setup.run("sync", "--allow-deletes", "4")
    assert accepted.code == 0, accepted
    assert len(b.list(FORM)) == 2


def test_negative_allow_deletes_is_a_usage_error(setup):
    ran = setup.run("sync", "--allow-deletes", "-1")
    assert ran.code == 2, ran
    assert not setup.db.exists()


# --- config and usage errors: exit 2, one readable message, no work done -----------------------------------------


def test_subprocess_missing_config_file(tmp_path):
    ran = run_process(["status"], {}, tmp_path)
    assert ran.code == 2, ran
    assert "oscartes.toml" in ran.stderr and "not found" in ran.stderr


def test_subprocess_invalid_toml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[store]\nurl = "sqlite:///x.db"\n\n[sync]\nmax_delete_ratio = \n', encoding="utf-8")
    ran = run_process(["--config", str(path), "sync"], {}, tmp_path)
    assert ran.code == 2, ran
    assert "broken.toml" in ran.stderr and "line 5" in ran.stderr
    assert not (tmp_path / "x.db").exists()


def test_subprocess_unknown_command(tmp_path):
    ran = run_process(["synch"], {}, tmp_path)
    assert ran.code == 2, ran
    assert "synch" in ran.stderr


BAD_CONFIGS = {
    "unknown key": ('[sync]\nmax_delete_rato = 0.1\n', ["sync.max_delete_rato", "unknown setting"]),
    "unknown table": ('[syncs]\nkinds = ["actor"]\n', ["syncs", "unknown setting"]),
    "ratio above 1": ('[sync]\nmax_delete_ratio = 3\n', ["sync.max_delete_ratio", "1"]),
    "ratio as text": ('[sync]\nmax_delete_ratio = "lots"\n', ["sync.max_delete_ratio", "number"]),
    "unknown kind": ('[sync]\nkinds = ["actors"]\n', ["sync.kinds", "actors"]),
    "wiki not a list": ('[wiki]\nname = "a"\n', ["wiki", "[[wiki]]"]),
    "duplicate wiki names": (
        '[[wiki]]\nname = "tel"\nurl = "http://a.example/"\napi_token_env = "A"\nadmin_user = "u"\n'
        'admin_password_env = "B"\n'
        '[[wiki]]\nname = "tel"\nurl = "http://b.example/"\napi_token_env = "C"\nadmin_user = "u"\n'
        'admin_password_env = "D"\n', ["wiki names must be unique", "tel"]),
    "missing wiki url": (
        '[[wiki]]\nname = "tel"\napi_token_env = "A"\nadmin_user = "u"\nadmin_password_env = "B"\n',
        ["wiki[1].url", "missing"]),
    "bad wiki url": (
        '[[wiki]]\nname = "tel"\nurl = "wiki.example.org"\napi_token_env = "A"\nadmin_user = "u"\n'
        'admin_password_env = "B"\n', ["wiki[1].url", "http"]),
    "not utf-8": (b'[sync]\nkinds = ["\xe9"]\n', ["UTF-8"]),
    "review above auto_link": ('[identity]\nauto_link = 80\nreview = 85\n',
                               ["identity", "review (85)", "auto_link (80)"]),
    "threshold above 100": ('[identity]\nauto_link = 120\n', ["identity.auto_link", "100"]),
    "unknown identity key": ('[identity]\nsame_place = 100\n', ["identity.same_place", "same_place_m"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", [["sync"], ["status", "--json"]])
def test_bad_config_is_exit_2_with_a_message_naming_the_setting(tmp_path, case, command):
    text, expected = BAD_CONFIGS[case]
    path = tmp_path / "oscartes.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    ran = invoke(["--config", str(path), *command])
    assert ran.code == 2, ran
    assert ran.stdout == ""  # nothing a script would parse as a result
    assert str(path) in ran.stderr
    for word in expected:
        assert word in ran.stderr, ran
    assert not (tmp_path / "oscartes.db").exists()


def test_sync_without_any_wiki_is_a_config_error(tmp_path):
    path = tmp_path / "oscartes.toml"
    path.write_text('[sync]\nmax_delete_ratio = 0.1\n', encoding="utf-8")
    ran = invoke(["--config", str(path), "sync"])
    assert ran.code == 2, ran
    assert "[[wiki]]" in ran.stderr


def test_unusable_store_url_is_a_config_error(tmp_path):
    path = tmp_path / "oscartes.toml"
    path.write_text('[store]\nurl = "mysql://somewhere/db"\n', encoding="utf-8")
    ran = invoke(["--config", str(path), "status"])
    assert ran.code == 2, ran
    assert "store" in ran.stderr and "sqlite" in ran.stderr


@pytest.mark.parametrize("args", [["sync", "--dryrun"], ["conflicts", "resolve"], ["history"],
                                  ["restore", "abc", "x"], ["frobnicate"]])
def test_usage_errors_are_exit_2(tmp_path, args):
    ran = invoke(args)
    assert ran.code == 2, ran
    assert "Usage:" in ran.stderr or "error" in ran.stderr.lower()


# --- dry run ---------------------------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_writes_nothing(setup):
    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Vélo-école de Massy", "Massy", "91300"))
    reset_logs(setup)
    ran = setup.run("sync", "--dry-run")
    assert ran.code == 0, ran
    assert "Dry run" in ran.stdout and "Vélo-école de Massy" in ran.stdout
    assert re.search(r"1 entry created in tel: Vélo-école de Massy \([0-9a-f]{8}\)", ran.stdout), ran
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}
    with setup.store() as store:
        assert store.records() == [] and store.runs() == []
    assert wiki(setup, "tel").list(FORM) == {}
    # a later real run does what was planned
    assert setup.run("sync").code == 0
    assert titles(setup, "tel") == ["Vélo-école de Massy"]


def test_dry_run_json_lists_planned_actions(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Vélo-école de Massy", "Massy", "91300"))
    ran = setup.run("sync", "--dry-run", "--json")
    data = json.loads(ran.stdout)
    assert data["dry_run"] is True
    # the record, its copy in tel, and the INSEE code written back to the member's entry
    assert data["actions"] == {"CreateRecord": 1, "CreateEntry": 1, "UpdateEntry": 1}
    assert wiki(setup, "tel").list(FORM) == {}


# --- sync, status, JSON -----------------------------------------------------------------------------------------


def test_status_before_and_after_runs(setup):
    ran = setup.run("status")
    assert ran.code == 0 and "No run yet." in ran.stdout
    data = json.loads(setup.run("status", "--json").stdout)
    assert data["records"] == {} and data["last_run"] is None

    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    for n in NAMES[:3]:
        a.member_create(FORM, entry(n))
    b.member_create(FORM, entry("Jardin des Sablons", "Massy", "91300"))
    synced = setup.run("sync", "--json")
    assert synced.code == 0, synced
    report = json.loads(synced.stdout)
    assert report["actions"]["CreateRecord"] == 4
    # copies, and the INSEE code the form promises written back to each member's entry
    assert report["writes"] == {"tel": {"CreateEntry": 3, "UpdateEntry": 1},
                                "polesnoe": {"CreateEntry": 1, "UpdateEntry": 3}}
    assert report["instance_errors"] == {}

    text = setup.run("status")
    assert text.code == 0, text
    assert "Records: 4 actors" in text.stdout and "0 open conflicts" in text.stdout
    data = json.loads(setup.run("status", "--json").stdout)
    assert data["records"] == {"actor": 4}
    assert data["open_conflicts"] == 0 and data["open_reviews"] == 0
    assert data["last_run"]["exit_code"] == 0 and data["last_run"]["status"] == "ok"


def test_status_json_reports_conflicts_errors_and_exit_1(setup):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    aid = a.member_create(FORM, entry("AMAP des Coteaux"))
    setup.run("sync")
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})
    b.member_edit(next(iter(b.list(FORM))), {"bf_horaires": "Tu 14:00-18:00"})
    assert setup.run("sync").code == 1
    ran = setup.run("status", "--json")
    assert ran.code == 1
    data = json.loads(ran.stdout)
    assert data["open_conflicts"] == 1
    assert data["last_run"]["exit_code"] == 1 and data["last_run"]["status"] == "attention"

    # an instance in error shows up in status, by name
    assert setup.run("sync", env={setup.token_env("tel"): None}).code == 1
    data = json.loads(setup.run("status", "--json").stdout)
    assert setup.token_env("tel") in data["last_run"]["instance_errors"]["tel"]


# --- conflicts ---------------------------------------------------------------------------------------------------


@pytest.fixture
def conflict(setup):
    """One open conflict on opening hours between the two wikis; returns (setup, conflict id, entry ids)."""
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    aid = a.member_create(FORM, entry("Repair café de Massy", "Massy", "91300"))
    assert setup.run("sync").code == 0
    bid = next(iter(b.list(FORM)))
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})
    b.member_edit(bid, {"bf_horaires": "Tu 14:00-18:00"})
    assert setup.run("sync").code == 1
    with setup.store() as store:
        [c] = store.conflicts("open")
    return c.id, aid, bid


def test_conflicts_list_show_and_resolve_by_taking_a_wiki(setup, conflict):
    cid, aid, bid = conflict
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    listed = setup.run("conflicts")
    assert listed.code == 1
    assert f"#{cid}" in listed.stdout and "Repair café de Massy" in listed.stdout
    assert "opening hours" in listed.stdout and "Tu 14:00-18:00" in listed.stdout

    shown = setup.run("conflicts", "show", str(cid))
    assert shown.code == 0, shown
    assert '"Mo 09:00-12:00"' in shown.stdout and '"Tu 14:00-18:00"' in shown.stdout
    assert "polesnoe" in shown.stdout and "tel" in shown.stdout

    resolved = setup.run("conflicts", "resolve", str(cid), "--take", "tel")
    assert resolved.code == 0, resolved
    assert setup.run("conflicts").stdout.strip() == "No open conflict."
    reset_logs(setup)
    assert setup.run("sync").code == 0
    assert a.read(aid)["bf_horaires"] == "Tu 14:00-18:00"
    assert b.read(bid)["bf_horaires"] == "Tu 14:00-18:00"
    assert entry_writes(setup) == {"polesnoe": 1, "tel": 0}
    # resolving it twice is a mistake, not a crash
    again = setup.run("conflicts", "resolve", str(cid), "--take", "tel")
    assert again.code == 2 and "no open conflict" in again.stderr


def test_conflicts_resolve_with_a_value_of_ones_own(setup, conflict):
    cid, aid, bid = conflict
    ran = setup.run("conflicts", "resolve", str(cid), "--value", '"Mo-Fr 10:00-17:00"')
    assert ran.code == 0, ran
    assert setup.run("sync").code == 0
    assert wiki(setup, "polesnoe").read(aid)["bf_horaires"] == "Mo-Fr 10:00-17:00"
    assert wiki(setup, "tel").read(bid)["bf_horaires"] == "Mo-Fr 10:00-17:00"
    with setup.store() as store:
        last = store.history(store.records()[0].id)[-1]
        assert last.fields["opening_hours"] == "Mo-Fr 10:00-17:00"


@pytest.mark.parametrize("args, message", [
    (["--value", "Mo 09:00"], "--value is not JSON"),
    (["--take", "wikipedia"], "no candidate from 'wikipedia'"),
    ([], "exactly one of --take"),
    (["--take", "tel", "--value", '"x"'], "exactly one of --take"),
    (["--value", "{\"a\": 1}"], "--value for opening hours refused"),
    (["--value", '"every day, more or less"'], "--value for opening hours refused"),
])
def test_conflicts_resolve_mistakes_are_exit_2_and_change_nothing(setup, conflict, args, message):
    cid, aid, bid = conflict
    ran = setup.run("conflicts", "resolve", str(cid), *args)
    assert ran.code == 2, ran
    assert message in ran.stderr
    with setup.store() as store:
        assert [c.id for c in store.conflicts("open")] == [cid]


def test_conflicts_unknown_id_is_exit_2(setup, conflict):
    for args in (["show", "999"], ["resolve", "999", "--take", "tel"], ["show", "abc"]):
        ran = setup.run("conflicts", *args)
        assert ran.code == 2, ran
        assert "999" in ran.stderr or "abc" in ran.stderr


# --- match (possible duplicates) ----------------------------------------------------------------------------------


CYCLAMEN_A = entry("Ressourcerie Cyclamen", bf_siret="73282932000074")
CYCLAMEN_B = entry("Ressourcerie du Cyclamen", bf_siret="55208131766522")


def test_the_cyclamen_pair_is_likely_but_not_sure():
    a = {"name": "Ressourcerie Cyclamen", "commune": "Orsay", "postcode": "91400", "siret": "73282932000074"}
    b = {"name": "Ressourcerie du Cyclamen", "commune": "Orsay", "postcode": "91400", "siret": "55208131766522"}
    result = identity_match(b, [("r1", a)])
    assert result.sure is None and [c.record_id for c in result.likely] == ["r1"]


@pytest.fixture
def review(setup):
    """A review item: tel's entry may be polesnoe's Ressourcerie; returns (item id, record id)."""
    wiki(setup, "polesnoe").member_create(FORM, CYCLAMEN_A)
    wiki(setup, "tel").member_create(FORM, CYCLAMEN_B)
    assert setup.run("sync").code == 1
    with setup.store() as store:
        [item] = store.review_items("open")
        [rec] = store.records()
    return item.id, rec.id


def test_match_lists_the_candidate(setup, review):
    item_id, record_id = review
    ran = setup.run("match")
    assert ran.code == 1, ran
    assert f"#{item_id}" in ran.stdout
    assert "Ressourcerie du Cyclamen" in ran.stdout and "Ressourcerie Cyclamen" in ran.stdout
    assert record_id in ran.stdout  # the full id, to paste into `match link`


def test_match_link_merges_the_entry_into_the_record(setup, review):
    item_id, record_id = review
    ran = setup.run("match", "link", str(item_id), record_id)
    assert ran.code == 0, ran
    assert setup.run("match").stdout.strip() == "No possible duplicate waiting."
    after = setup.run("sync")
    # one actor, one entry per wiki; the two spellings and SIRETs are now conflicts for a person
    assert titles(setup, "polesnoe") == ["Ressourcerie Cyclamen"]
    assert titles(setup, "tel") == ["Ressourcerie du Cyclamen"]
    with setup.store() as store:
        assert len(store.records()) == 1
        open_conflicts = {c.field: c.id for c in store.conflicts("open")}
    assert set(open_conflicts) >= {"name", "siret"}
    assert after.code == 1
    # a person settles them: the name cannot be blanked; polesnoe's values are taken
    blank = setup.run("conflicts", "resolve", str(open_conflicts["name"]), "--value", "null")
    assert blank.code == 2 and "cannot be empty" in blank.stderr
    for cid in open_conflicts.values():
        assert setup.run("conflicts", "resolve", str(cid), "--take", "polesnoe").code == 0
    settled = setup.run("sync")
    assert settled.code == 0, settled
    assert titles(setup, "tel") == ["Ressourcerie Cyclamen"]
    assert [e.get("bf_siret") for e in wiki(setup, "tel").list(FORM).values()] == ["73282932000074"]


def test_match_distinct_makes_it_a_record_of_its_own(setup, review):
    item_id, record_id = review
    ran = setup.run("match", "distinct", str(item_id))
    assert ran.code == 0, ran
    after = setup.run("sync")
    assert after.code == 0, after
    both = ["Ressourcerie Cyclamen", "Ressourcerie du Cyclamen"]
    assert titles(setup, "polesnoe") == both and titles(setup, "tel") == both
    with setup.store() as store:
        assert len(store.records()) == 2 and store.review_items("open") == []
    assert setup.run("sync").code == 0  # and it is not asked again


def test_match_mistakes_are_exit_2(setup, review):
    item_id, record_id = review
    for args, message in ((["link", "999", record_id], "no open review item #999"),
                          (["link", str(item_id), "no-such-record"], "no record no-such-record"),
                          (["distinct", "999"], "no open review item #999")):
        ran = setup.run("match", *args)
        assert ran.code == 2, ran
        assert message in ran.stderr
    with setup.store() as store:
        assert [r.id for r in store.review_items("open")] == [item_id]


# --- history and restore ------------------------------------------------------------------------------------------


def test_history_and_restore_write_the_old_value_back(setup):
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    aid = a.member_create(FORM, entry("Coworking La Fabrique", bf_horaires="Mo 09:00-12:00"))
    assert setup.run("sync").code == 0
    a.member_edit(aid, {"bf_horaires": "Sa 10:00-12:00"})
    assert setup.run("sync").code == 0
    bid = next(iter(b.list(FORM)))
    assert b.read(bid)["bf_horaires"] == "Sa 10:00-12:00"
    with setup.store() as store:
        [rec] = store.records()
        revs = store.history(rec.id)
    assert len(revs) == 2

    hist = setup.run("history", rec.id)
    assert hist.code == 0, hist
    assert "r1" in hist.stdout and "r2" in hist.stdout
    assert revs[0].author in hist.stdout and revs[0].origin in hist.stdout
    assert "changed: opening hours" in hist.stdout  # what r2 changed

    restored = setup.run("restore", rec.id, "1")
    assert restored.code == 0, restored
    assert "r3" in restored.stdout
    assert setup.run("sync").code == 0
    assert a.read(aid)["bf_horaires"] == "Mo 09:00-12:00"
    assert b.read(bid)["bf_horaires"] == "Mo 09:00-12:00"
    assert "coordinator" in setup.run("history", rec.id).stdout


def test_history_and_restore_of_unknown_things_are_exit_2(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Coworking La Fabrique"))
    setup.run("sync")
    with setup.store() as store:
        [rec] = store.records()
    for args, message in ((["history", "nope"], "no record nope"), (["restore", "nope", "1"], "no record nope"),
                          (["restore", rec.id, "7"], "has no revision 7"),
                          (["restore", rec.id, "first"], "first")):
        ran = setup.run(*args)
        assert ran.code == 2, ran
        assert message in ran.stderr
    with setup.store() as store:
        assert len(store.history(rec.id)) == 1


# --- instances in error: the others still sync ---------------------------------------------------------------------


def test_subprocess_missing_secret_names_variable_and_wiki_and_the_other_still_syncs(setup):
    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Ressourcerie Les Ulis", "Les Ulis", "91940"))
    env = {k: v for k, v in setup.env.items() if k != setup.token_env("tel")}
    ran = run_process(["--config", str(setup.path), "sync"], env, setup.root)
    assert ran.code == 1, ran
    [line] = [x for x in ran.output.splitlines() if setup.token_env("tel") in x]
    assert "tel" in line
    with setup.store() as store:
        assert len(store.records()) == 1  # polesnoe was read
    assert wiki(setup, "tel").emulator.request_log == []


def test_subprocess_wrong_token_never_printed(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Atelier couture"))
    bad = "sEcReT-not-the-token-42"
    ran = setup.subprocess("sync", env={setup.token_env("tel"): bad})
    assert ran.code == 1, ran
    assert bad not in ran.output
    assert any(item.startswith("tel:") for item in report_items(ran.stdout, "Fix the instances in error")), ran
    for extra in (["status"], ["status", "--json"]):
        out = setup.run(*extra, env={setup.token_env("tel"): bad})
        assert bad not in out.output
    with setup.store() as store:
        assert len(store.records()) == 1
        assert bad not in json.dumps(store.runs()[0].report)


def test_verbose_run_never_prints_secrets(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Atelier couture"))
    ran = setup.subprocess("-v", "sync")
    for name, w in setup.sandbox.wikis.items():
        assert w.token not in ran.output and w.admin_password not in ran.output


def test_closed_port_is_one_clear_line_and_the_other_wiki_syncs(setup):
    setup.urls["tel"] = f"http://127.0.0.1:{free_port()}/"
    setup.write()
    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Fablab Orsay Sciences"))
    ran = setup.run("sync")
    assert ran.code == 1, ran
    lines = report_items(ran.stdout, "Fix the instances in error")
    assert len(lines) == 1 and lines[0].startswith("tel: GET ?api/forms/"), ran
    assert "could not connect to the wiki" in lines[0], ran
    with setup.store() as store:
        assert len(store.records()) == 1
    # the instance comes back: its entries are copied on the next run
    setup.urls["tel"] = wiki(setup, "tel").url
    setup.write()
    assert setup.run("sync").code == 0
    assert titles(setup, "tel") == ["Fablab Orsay Sciences"]


# --- one run at a time ------------------------------------------------------------------------------------------------


def test_second_sync_while_the_lock_is_held_does_nothing(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Tiers-lieu Le Hangar"))
    reset_logs(setup)
    with FileLock(str(setup.lock)):
        ran = setup.subprocess("sync")
    assert ran.code == 1, ran
    assert "another oscartes-sync run" in ran.stderr and str(setup.lock) in ran.stderr
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}
    assert all(w.emulator.request_log == [] for w in setup.sandbox.wikis.values())
    assert not setup.db.exists()  # the store was not even opened
    assert setup.run("sync").code == 0  # released: the next run goes ahead
    assert titles(setup, "tel") == ["Tiers-lieu Le Hangar"]


# --- which config file -----------------------------------------------------------------------------------------------


def _marked_config(path: Path, marker: str) -> Path:
    """A config whose store file name tells which config was read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[store]\nurl = "sqlite:///{marker}.db"\n', encoding="utf-8")
    return path


def test_config_option_wins_over_the_variable_which_wins_over_the_default(tmp_path):
    default = _marked_config(tmp_path / "oscartes.toml", "from_default")
    env_cfg = _marked_config(tmp_path / "env" / "env.toml", "from_env")
    opt_cfg = _marked_config(tmp_path / "opt" / "opt.toml", "from_option")

    assert invoke(["status"]).code == 0
    assert (default.parent / "from_default.db").exists()

    assert invoke(["status"], {"OSCARTES_CONFIG": str(env_cfg)}).code == 0
    assert (env_cfg.parent / "from_env.db").exists()

    assert invoke(["--config", str(opt_cfg), "status"], {"OSCARTES_CONFIG": str(env_cfg)}).code == 0
    assert (opt_cfg.parent / "from_option.db").exists()
    assert not (tmp_path / "from_env.db").exists() and not (tmp_path / "from_option.db").exists()


def test_subprocess_default_config_in_the_working_directory(tmp_path):
    _marked_config(tmp_path / "oscartes.toml", "here")
    ran = run_process(["status", "--json"], {}, tmp_path)
    assert ran.code == 0, ran
    assert json.loads(ran.stdout)["last_run"] is None
    assert (tmp_path / "here.db").exists()


def test_missing_file_named_by_the_variable_is_exit_2(tmp_path):
    ran = invoke(["status"], {"OSCARTES_CONFIG": str(tmp_path / "nowhere.toml")})
    assert ran.code == 2, ran
    assert "nowhere.toml" in ran.stderr and "OSCARTES_CONFIG" in ran.stderr


# --- demo --------------------------------------------------------------------------------------------------------------


def test_subprocess_demo_runs_and_exits_0(tmp_path):
    ran = run_process(["demo"], {}, tmp_path)
    assert ran.code == 0, ran
    assert max(len(line) for line in ran.stdout.splitlines()) <= 100
    out = " ".join(ran.stdout.split())  # the narration is wrapped to the width: read it as one text
    assert "Run 1" in out and "Run 4" in out
    assert "Source records:" in out
    # the loop a coordinator follows: a conflict opened, settled, and written by the next run (issue 15 item 4)
    assert re.search(r"Settle the conflicts \(41 conflicts on 19 records\)", out), out
    # settled on the review page of the wiki, through HTTP as a browser would, and applied by the next run
    assert re.search(r"The coordinator settles the conflict on the review page of polesnoe, http://\S+\?RevueOscartes "
                     r"a visitor who opens it reads only \"Vous n'êtes pas autorisé à lire cette page[^\"]*\"", out)
    assert re.search(r"logged in as WikiAdmin, she follows its link \"Garder la valeur de tel\" of conflict #\d+ and "
                     r"submits the form it opens, already filled in: decision \w+ in the form \"Décisions OSCARTES\"",
                     out)
    assert re.search(r"Run 3: the decision taken in the wiki is applied, .* 1 entry updated in polesnoe: ", out)
    assert re.search(r"decision \w+ by WikiAdmin@polesnoe: applied: conflict #\d+ \(phone\) settled with tel's value",
                     out)
    assert re.search(r"polesnoe: the phone of [^:]+ is now 01 60 12 00 02 tel: the phone of [^:]+ is now "
                     r"01 60 12 00 02", out)
    assert re.search(r"conflict #\d+ settled by WikiAdmin@polesnoe; the record's history names them \(origin "
                     r"polesnoe\) the decision's answer in the wiki: \"Appliquée : la valeur de tel est gardée", out)
    assert "the review page lists that conflict no more" in out
    # issue 19: a logo crossing wikis and showing on the entry's page, an actor placed from its address, the
    # calendar shared with the group (read, not written by a member), the feed, the backwards event named
    assert re.search(r"the logo of .* in tel: the page \S+ shows the picture the wiki serves from its cache "
                     r"\(HTTP 200, image/png\)", out)
    assert re.search(r'"Ressourcerie de la Vallée" on the map at [\d.]+, [\d.]+: placed from its address', out)
    assert re.search(r"the calendar 'oscartes-agenda' holds 5 events, shared read-only with OSCARTES [^;]+; a member "
                     r"of the group reads one \(HTTP 200\) and cannot change it \(HTTP 404\)", out)
    assert re.search(r"iCalendar feed: http://127\.0\.0\.1:\d+/public\.php/dav/files/\w+/evenements\.ics", out)
    assert "left out of the calendar: its end (2027-02-10T18:00:00) is before its start" in out
    assert list(tmp_path.iterdir()) == []  # no config, no store left behind in the working directory


# --- the human report --------------------------------------------------------------------------------------------------


def _result(notices, errors=None):
    from oscartes_sync.sync.engine import SyncResult
    from oscartes_sync.sync.model import Notice, Plan

    return SyncResult(plans=[Plan("actor", notices=[Notice(*n) for n in notices])], listing_errors=errors or {})


def _conflict(record, f):
    from oscartes_sync.sync.model import CONFLICT
    from oscartes_sync.text import Term, Text

    return ("attention", "polesnoe,tel", record, Text("conflict on {field}", field=Term.field(f)), (), CONFLICT)


def _refused(entry, record=None):
    from oscartes_sync.sync.model import REFUSED_VALUE
    from oscartes_sync.text import Term, Text

    return ("attention", "tel", record, Text("entry {entry}: {field} refused ({reason})", entry=entry,
                                             field=Term.field("phone"), reason=Text("invalid phone number")),
            (), REFUSED_VALUE)


def test_render_groups_the_conflicts_of_one_record_on_one_line():
    from oscartes_sync.report import render, summary

    notices = [_conflict("r1", f) for f in ("commune", "description", "name")]
    notices += [_conflict("r2", "phone"), _refused("X", "r1")]
    text = render(_result(notices), titles={"r1": "Ressourcerie Cyclamen", "r2": "AMAP des Coteaux"}, width=1000)
    lines = text.splitlines()
    assert report_items(text, "Settle the conflicts") == [  # in title order, whatever order they came in
        "AMAP des Coteaux (r2): phone (polesnoe, tel) → `oscartes-sync conflicts --record r2`",
        "Ressourcerie Cyclamen (r1): commune, description, name (polesnoe, tel) → `oscartes-sync conflicts "
        "--record r1`"]
    assert sum("Ressourcerie Cyclamen" in x for x in lines) == 2  # the conflicts line and the refused value
    assert lines[-1] == "Needs a person: 4 conflicts on 2 records; 1 refused value."
    # the JSON keeps one notice per conflict, and counts them
    data = summary(_result(notices))
    assert len(data["notices"]) == 5 and data["notices"][0]["kind"] == "conflict"
    assert data["attention"]["conflicts"] == 4 and data["attention"]["refused_values"] == 1


def test_render_shows_ten_items_of_a_group_and_counts_the_rest():
    from oscartes_sync.report import render

    text = render(_result([_refused(f"E{i:02d}", f"r{i}") for i in range(75)]))
    items = report_items(text, "Correct the values")
    assert len(items) == 10 and items[0].startswith("tel [r0]: entry E00: phone refused (invalid phone number)")
    assert "    ... and 65 more (`sync --json` lists them all)" in text.splitlines()
    assert text.splitlines()[-1] == "Needs a person: 75 refused values."


def test_render_ends_with_the_store_counts_when_given_and_says_when_nothing_is_needed():
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from oscartes_sync.report import Pending, render

    assert render(_result([])).splitlines()[-1] == "Nothing needs a person."
    now = datetime.now(timezone.utc)
    older = SimpleNamespace(record_id="r1", field="commune", candidates={"polesnoe": "a", "tel": "b"},
                            opened_at=datetime(2026, 12, 2, 5, 5, tzinfo=timezone.utc))
    pending = Pending(conflicts=[older, SimpleNamespace(**{**vars(older), "field": "phone"}),
                                 SimpleNamespace(**{**vars(older), "record_id": "r2"})],
                      reviews=[SimpleNamespace(id=7, instance="tel", remote_id="Amap", values={"name": "AMAP"},
                                               candidates=[["r2", 80.0]], opened_at=older.opened_at)],
                      started=now)
    text = render(_result([], errors={"tel": "secret variable X is not set: wiki skipped"}), pending=pending,
                  width=1000)
    assert report_items(text, "Fix the instances in error") == ["tel: secret variable X is not set: wiki skipped"]
    lines = text.splitlines()
    since = "2 December" if now.year == 2026 else "2 December 2026"
    assert f"    still waiting since {since}: 3 conflicts on 2 records (`oscartes-sync conflicts` lists them)" \
        in lines, text
    assert lines[-1] == ("Needs a person: 3 conflicts on 2 records; 1 possible duplicate; 1 instance in error."), text


def test_render_shows_a_failed_listing_as_an_error_of_that_wiki():
    from oscartes_sync.report import render, summary
    from oscartes_sync.sync.model import LISTING_FAILED
    from oscartes_sync.text import Text

    reason = "GET ?api/forms/20/entries: could not connect to the wiki"
    result = _result([("attention", "tel", None, Text("listing failed ({reason}): nothing read, written or deleted "
                                                      "there", reason=reason), (), LISTING_FAILED)])
    text = render(result, width=1000)
    assert report_items(text, "Fix the instances in error") == [
        "tel: GET ?api/forms/20/entries: could not connect to the wiki; nothing read, written or deleted there"]
    assert text.splitlines()[-1] == "Needs a person: 1 instance in error."
    assert "tel" in summary(result)["instances_not_synced"]


def test_config_that_is_a_folder_is_exit_2(tmp_path):
    (tmp_path / "conf").mkdir()
    ran = invoke(["--config", str(tmp_path / "conf"), "status"])
    assert ran.code == 2, ran
    assert "is a folder" in ran.stderr


def test_provision_check_then_provision_then_check_again(setup):
    # the sandbox's wikis have the actor form already (set up directly); everything else is missing
    check = setup.run("provision", "--check")
    assert check.code == 1 and "to create" in check.stdout and "objects differ from the templates" in check.stdout
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}
    for w in setup.sandbox.wikis.values():
        assert w.emulator.count("POST") == 0
    done = setup.run("provision")
    assert done.code == 0, done
    again = setup.run("provision", "--check")
    assert again.code == 0 and "No drift" in again.stdout


@pytest.mark.parametrize("args", [(), ("--check",), ("--json",)])
def test_provision_with_an_unreachable_wiki_names_it_once_and_goes_on(setup, args):
    setup.urls["tel"] = f"http://127.0.0.1:{free_port()}/"
    setup.write()
    ran = setup.run("provision", *args)  # no traceback (invoke checks it)
    assert ran.code == 1, ran
    if "--json" in args:
        data = json.loads(ran.stdout)
        assert data["errors"] == {"tel": "GET ?api/forms: could not connect to the wiki"}
        assert {i["wiki"] for i in data["items"]} == {"polesnoe"}
    else:
        lines = [x for x in ran.output.splitlines() if not x.startswith("    ")]  # diff lines are indented
        assert [x for x in lines if " tel" in x or "connect" in x] == [
            "== tel", "  ERROR: GET ?api/forms: could not connect to the wiki",
            "Not checked: tel (see above); the drift there is unknown." if args else
            "Not provisioned: tel (see above)."]
        assert "No drift" not in ran.output
    polesnoe = wiki(setup, "polesnoe").emulator
    assert (polesnoe.page("AccueilOscartes") is None) == ("--check" in args)  # the other wiki is done


@pytest.mark.parametrize("status, body", [(404, "<html>Not Found</html>"), (200, "<html>Welcome</html>")])
def test_provision_check_against_a_web_server_that_is_not_a_yeswiki(setup, httpserver, status, body):
    import re

    httpserver.expect_request(re.compile(".*")).respond_with_data(body, status=status, content_type="text/html")
    assert setup.run("provision").code == 0  # both wikis provisioned: nothing left to do there
    setup.urls["tel"] = httpserver.url_for("/")
    setup.write()
    ran = setup.run("provision", "--check")
    assert ran.code == 1, ran
    assert "No drift" not in ran.output and "to create" not in ran.output, ran
    error = "HTTP 404: no YesWiki API at this address" if status == 404 else "answered text/html (HTTP 200)"
    assert [x for x in ran.stdout.splitlines() if "ERROR" in x] == [
        x for x in ran.stdout.splitlines() if error in x], ran
    assert ran.stdout.splitlines()[-1] == "Not checked: tel (see above); the drift there is unknown.", ran


def test_provision_check_and_force_together_is_a_usage_error(setup):
    ran = setup.run("provision", "--check", "--force")
    assert ran.code == 2 and "cannot be combined" in ran.stderr
