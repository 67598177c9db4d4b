"""`oscartes-sync doctor` against two sandbox wikis over HTTP, with a real TOML file and secrets in the
environment: one case per thing a coordinator can get wrong, each named on its own PROBLEM line (exit 1).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.doctor import form_keys
from oscartes_sync.records import KINDS
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.sandbox.server import start_server
from oscartes_sync.store import Store
from oscartes_sync.templates import render_form_template

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PREFIX = "DOCTORTEST_"

ACTOR_FIELDS = len(KINDS["actor"].fields)  # the provisioned actor form carries every canonical field


class Setup:
    """A config file naming the sandbox wikis, the secrets it names, and a way to run `doctor`."""

    def __init__(self, sandbox, root: Path):
        self.sandbox = sandbox
        self.path = root / "oscartes.toml"
        self.urls = {name: w.url for name, w in sandbox.wikis.items()}
        self.extra: dict[str, str] = {name: "" for name in sandbox.wikis}
        self.top = ""
        self.env: dict[str, str | None] = {}
        for name, w in sandbox.wikis.items():
            self.env[self.token_env(name)] = w.token
            self.env[self.password_env(name)] = w.admin_password

    @staticmethod
    def token_env(name: str) -> str:
        return f"{PREFIX}{name.upper()}_TOKEN"

    @staticmethod
    def password_env(name: str) -> str:
        return f"{PREFIX}{name.upper()}_PASSWORD"

    def write(self) -> None:
        parts = ['[store]\nurl = "sqlite:///oscartes.db"\n', self.top]
        for name, w in self.sandbox.wikis.items():
            parts.append(f'[[wiki]]\nname = "{name}"\nurl = "{self.urls[name]}"\n'
                         f'api_token_env = "{self.token_env(name)}"\nadmin_user = "{w.admin_user}"\n'
                         f'admin_password_env = "{self.password_env(name)}"\n{self.extra[name]}\n')
        self.path.write_text("\n".join(parts), encoding="utf-8")

    def run(self, *args: str) -> "Ran":
        self.write()
        unset = {k: None for k in os.environ if k.startswith(("OSCARTES_", PREFIX))}
        result = CliRunner().invoke(cli, ["--config", str(self.path), "doctor", *args],
                                    env={**unset, **self.env}, prog_name="oscartes-sync")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n"
                                 f"{result.output}") from result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    def subprocess(self, *args: str) -> "Ran":
        self.write()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OSCARTES_", PREFIX))}
        env.update({k: v for k, v in self.env.items() if v is not None})
        proc = subprocess.run([sys.executable, "-m", "oscartes_sync", *args, "--config", str(self.path), "doctor"],
                              env=env, cwd=self.path.parent, capture_output=True, text=True, timeout=120)
        return Ran(proc.returncode, proc.stdout, proc.stderr)


class Ran:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr
        self.output = stdout + stderr
        assert "Traceback" not in self.output, self

    def __repr__(self) -> str:
        return f"<exit {self.code}>\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def lines(self, wiki: str) -> dict[str, str]:
        """check name -> its printed line, for one instance's block of the text output."""
        out: dict[str, str] = {}
        block, last = None, None
        for line in self.stdout.splitlines():
            if not line.startswith(" "):
                block = line
                continue
            if block == wiki or block == f"wiki {wiki}":
                if line.startswith("   ") and last:  # the line of the check before, wrapped to the width
                    out[last] += " " + line.strip()
                    continue
                status, rest = line.split(None, 1)
                last = rest.split(":", 1)[0]
                out[last] = f"{status} {rest}"
        return out

    def status(self, wiki: str, check: str) -> str:
        return self.lines(wiki)[check].split()[0]


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch, tmp_path):
    monkeypatch.delenv("OSCARTES_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def setup(tmp_path):
    with start_sandbox() as sandbox:
        yield Setup(sandbox, tmp_path)


WIKI_CHECKS = ("secrets", "reachable", "version", "token", "admin login", "form actor")


def assert_all_ok(ran: Ran, wiki: str) -> None:
    lines = ran.lines(wiki)
    assert set(lines) == set(WIKI_CHECKS), ran
    for name in WIKI_CHECKS:
        # the sandbox's home page does not show a version, as some themes: a warning, not a problem
        expected = ("OK", "WARN") if name == "version" else ("OK",)
        assert lines[name].split()[0] in expected, ran


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_version_footer(version: str):
    """Middleware: the home page carries the footer link a stock YesWiki theme shows."""
    def middleware(app):
        def wrapped(environ, start_response):
            if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
                body = (f'<html><body><div class="footer">Galope sous <a data-toggle="tooltip" '
                        f'title="{version}" href="https://www.yeswiki.net">YesWiki</a></div></body></html>')
                start_response("200 OK", [("Content-Type", "text/html; charset=UTF-8")])
                return [body.encode()]
            return app(environ, start_response)
        return wrapped
    return middleware


# --- everything fine --------------------------------------------------------------------------------------------


def test_all_ok_exit_0_with_one_line_per_check(setup):
    ran = setup.run()
    assert ran.code == 0, ran
    for name in setup.sandbox.wikis:
        assert_all_ok(ran, name)
        assert f"form 20 has the {ACTOR_FIELDS} fields synced" in ran.lines(name)["form actor"]
    # no store yet: reported, not created (a check writes nothing); the first sync creates it
    assert ran.status("store", "store") == "WARN"
    assert "does not exist yet: the first sync creates it" in ran.lines("store")["store"], ran
    assert "PROBLEM" not in ran.stdout
    assert not (setup.path.parent / "oscartes.db").exists()


def test_json_output(setup):
    setup.env[setup.token_env("tel")] = None
    ran = setup.run("--json")
    assert ran.code == 1, ran
    data = json.loads(ran.stdout)
    assert data["exit_code"] == 1 and data["problems"] == 1
    by = {(c["instance"], c["name"]): c for c in data["checks"]}
    assert by[("tel", "secrets")]["status"] == "problem"
    assert setup.token_env("tel") in by[("tel", "secrets")]["message"]
    assert by[("tel", "secrets")]["hint"]
    assert by[("tel", "token")]["status"] == "skip"
    assert by[("polesnoe", "token")]["status"] == "ok"
    assert by[("store", "store")]["kind"] == "store"


def test_version_4_4_is_ok_and_another_release_a_warning(setup):
    setup.sandbox.wikis["polesnoe"].server.wrap(with_version_footer("doryphore 4.4.2"))
    setup.sandbox.wikis["tel"].server.wrap(with_version_footer("doryphore 4.5.1"))
    ran = setup.run()
    assert ran.code == 0, ran  # a warning needs no person
    assert ran.lines("polesnoe")["version"] == "OK version: YesWiki doryphore 4.4.2"
    line = ran.lines("tel")["version"]
    assert line.startswith("WARN") and "4.5.1" in line and "4.4.2" in line


# --- each problem on its own line -------------------------------------------------------------------------------


def test_missing_secret_names_the_variable_and_still_checks_the_rest(setup):
    setup.env[setup.token_env("tel")] = None
    ran = setup.run()
    assert ran.code == 1, ran
    tel = ran.lines("tel")
    assert tel["secrets"].startswith(f"PROBLEM secrets: {setup.token_env('tel')} is not set"), ran
    assert "wakka.config.php" in tel["secrets"]
    assert tel["token"].startswith("SKIP")
    # what does not need the token is still checked
    assert tel["reachable"].startswith("OK") and tel["admin login"].startswith("OK")
    assert tel["form actor"].startswith("OK")
    assert_all_ok(ran, "polesnoe")


def test_empty_secret_counts_as_missing(setup):
    setup.env[setup.password_env("polesnoe")] = ""
    ran = setup.run()
    assert ran.code == 1, ran
    assert ran.status("polesnoe", "secrets") == "PROBLEM"
    assert setup.password_env("polesnoe") in ran.lines("polesnoe")["secrets"]
    assert ran.status("polesnoe", "admin login") == "SKIP"
    assert ran.status("polesnoe", "token") == "OK"


def test_wrong_token_and_wrong_password_are_problems_and_never_printed(setup):
    bad_token, bad_password = "wrong-token-7f3a9c1e55", "wrong-password-b81d204c"
    setup.env[setup.token_env("polesnoe")] = bad_token
    setup.env[setup.password_env("tel")] = bad_password
    ran = setup.run()
    assert ran.code == 1, ran
    assert ran.status("polesnoe", "token") == "PROBLEM"
    assert "refused" in ran.lines("polesnoe")["token"] and "api_allowed_keys" in ran.lines("polesnoe")["token"]
    assert ran.status("polesnoe", "admin login") == "OK"
    assert ran.status("tel", "admin login") == "PROBLEM"
    assert setup.password_env("tel") in ran.lines("tel")["admin login"]
    assert ran.status("tel", "token") == "OK"
    as_json = setup.run("--json")
    verbose = setup.subprocess("-v")  # the real entry point, request logging on
    assert as_json.code == verbose.code == 1, verbose
    for out in (ran, as_json, verbose):
        for value in (bad_token, bad_password, *(w.token for w in setup.sandbox.wikis.values()),
                      *(w.admin_password for w in setup.sandbox.wikis.values())):
            assert value not in out.output


def test_token_of_a_non_admin_user(setup):
    setup.env[setup.token_env("tel")] = setup.sandbox.wikis["tel"].member_token
    ran = setup.run()
    assert ran.code == 1, ran
    line = ran.lines("tel")["token"]
    assert line.startswith("PROBLEM") and "not in @admins" in line, ran


def test_closed_port(setup):
    setup.urls["tel"] = f"http://127.0.0.1:{closed_port()}/"
    ran = setup.run()
    assert ran.code == 1, ran
    tel = ran.lines("tel")
    assert tel["reachable"].startswith("PROBLEM") and "could not connect" in tel["reachable"], ran
    assert "check url" in tel["reachable"]
    for name in ("version", "token", "admin login", "form actor"):
        assert tel[name].startswith("SKIP"), tel
    assert_all_ok(ran, "polesnoe")


def test_a_site_that_is_not_a_yeswiki(setup):
    def html_site(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=UTF-8")])
        return [b"<html><body>Bienvenue</body></html>"]

    with start_server(html_site) as other:
        setup.urls["tel"] = other.url
        ran = setup.run()
    assert ran.code == 1, ran
    line = ran.lines("tel")["reachable"]
    assert line.startswith("PROBLEM") and "not the YesWiki API" in line, ran


def test_form_missing_on_one_wiki(setup):
    setup.extra["tel"] = 'forms = { actor = "77" }'
    ran = setup.run()
    assert ran.code == 1, ran
    line = ran.lines("tel")["form actor"]
    assert line.startswith("PROBLEM form actor: form 77 does not exist (forms on this wiki: 20, 25)"), ran
    assert 'forms = { actor = "ID" }' in line
    assert_all_ok(ran, "polesnoe")


def short_actor_template() -> str:
    full = render_form_template("actor", DEFAULT_FORM_IDS)
    lines = [line for line in full.splitlines() if "bf_telephone" not in line and "bf_horaires" not in line]
    assert len(lines) == len(full.splitlines()) - 2
    return "\n".join(lines)


def test_form_missing_expected_fields_lists_them_by_canonical_name(setup):
    setup.sandbox.wikis["tel"].emulator.add_form("30", "Acteurs (ancien)", short_actor_template())
    setup.extra["tel"] = 'forms = { actor = "30" }'
    ran = setup.run()
    assert ran.code == 1, ran
    line = ran.lines("tel")["form actor"]
    assert line.startswith("PROBLEM form actor: form 30 has no field for phone (bf_telephone), "
                           "opening_hours (bf_horaires)"), ran
    for present in ("name", "email", "latitude", "street"):
        assert f"{present} (" not in line
    assert_all_ok(ran, "polesnoe")

    # the hint works: mapping the missing fields away ("" = this wiki does not have it) satisfies doctor
    setup.extra["tel"] = 'forms = { actor = "30" }\nfields.actor = { phone = "", opening_hours = "" }'
    ran = setup.run()
    assert ran.code == 0, ran
    assert ran.lines("tel")["form actor"] == f"OK form actor: form 30 has the {ACTOR_FIELDS - 2} fields synced"


def test_every_synced_kind_is_checked(setup):
    setup.top = '[sync]\nkinds = ["actor", "project"]\n'
    ran = setup.run()
    assert ran.code == 1, ran
    for name in setup.sandbox.wikis:
        assert ran.status(name, "form actor") == "OK"
        assert ran.lines(name)["form project"].startswith("PROBLEM form project: form 21 does not exist")


def test_store_written_by_a_newer_version(setup, tmp_path):
    db = tmp_path / "oscartes.db"
    Store(f"sqlite:///{db}").close()  # as the first sync leaves it
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE oscartes_schema_version SET version_num = 'ffffffffffff'")
    ran = setup.run()
    assert ran.code == 1, ran
    line = ran.lines("store")["store"]
    assert line.startswith("PROBLEM") and "newer version" in line, ran
    assert_all_ok(ran, "polesnoe")


@pytest.fixture
def cloud_setup(tmp_path):
    with start_sandbox(nextclouds=("polesnoe-cloud",)) as sandbox:
        setup = Setup(sandbox, tmp_path)
        cloud = sandbox.nextclouds["polesnoe-cloud"]
        setup.top = (f'[[nextcloud]]\nname = "cloud"\nurl = "{cloud.url}"\nuser = "{cloud.user}"\n'
                     f'app_password_env = "{PREFIX}CLOUD"\ngroup = "{cloud.group}"\n')
        setup.env[f"{PREFIX}CLOUD"] = cloud.app_password
        yield setup, cloud


def test_nextcloud_checks_all_ok(cloud_setup):
    setup, cloud = cloud_setup
    ran = setup.run()
    assert ran.code == 0, ran
    lines = ran.lines("nextcloud cloud")
    for name in ("secrets", "reachable", "version", "app password", "group"):
        assert lines[name].startswith("OK"), ran


def test_nextcloud_missing_group_wrong_password_and_missing_secret(cloud_setup):
    setup, cloud = cloud_setup
    setup.top = setup.top.replace(f'group = "{cloud.group}"', 'group = "OSCARTES Inexistant"')
    ran = setup.run()
    assert ran.code == 1 and ran.lines("nextcloud cloud")["group"].startswith("PROBLEM"), ran
    assert "creates it once" in ran.lines("nextcloud cloud")["group"]
    setup.env[f"{PREFIX}CLOUD"] = "pas-le-bon-mot-de-passe"
    cloud.emulator.reset_log()
    ran = setup.run()
    assert ran.code == 1 and ran.lines("nextcloud cloud")["app password"].startswith("PROBLEM"), ran
    assert "pas-le-bon-mot-de-passe" not in ran.output and cloud.app_password not in ran.output
    assert cloud.emulator.count() == 2  # status, then one refused login: never a second try
    setup.env[f"{PREFIX}CLOUD"] = None
    ran = setup.run()
    assert ran.code == 1 and ran.lines("nextcloud cloud")["secrets"].startswith("PROBLEM"), ran


# --- config errors: exit 2 --------------------------------------------------------------------------------------


def test_config_errors_exit_2(tmp_path):
    ran_missing = Ran(*_invoke(["--config", str(tmp_path / "none.toml"), "doctor"]))
    assert ran_missing.code == 2 and "config file not found" in ran_missing.stderr
    empty = tmp_path / "empty.toml"
    empty.write_text('[store]\nurl = "sqlite:///x.db"\n', encoding="utf-8")
    ran_empty = Ran(*_invoke(["--config", str(empty), "doctor"]))
    assert ran_empty.code == 2 and "no [[wiki]] configured" in ran_empty.stderr


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, prog_name="oscartes-sync")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


# --- the field keys of a real form ------------------------------------------------------------------------------


def test_form_keys_of_the_recorded_form_include_the_map_coordinates():
    fixture = SHARED / "yeswiki-contract" / "fixtures" / "forms_12_get_created.json"
    if not fixture.is_file():
        pytest.skip("../shared not available")
    body = json.loads(fixture.read_text(encoding="utf-8"))["response"]["body"]
    form = json.loads(body) if isinstance(body, str) else body
    keys = form_keys(form["prepared"])
    assert {"bf_titre", "checkboxListeThemes", "imagebf_image", "bf_latitude", "bf_longitude"} <= keys
    assert "" not in keys


# --- doctor writes nothing (issue 12 item 7) ----------------------------------------------------------------------


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, size and modification time: what a write would change."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    return out


EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "oscartes.toml.example"


def test_doctor_with_the_example_config_writes_nothing(tmp_path):
    """The example config names /var/lib/oscartes-sync/oscartes.db: doctor reports that the store does not
    exist yet, and creates neither the file nor its folder (here under tmp_path, instances unreachable)."""
    var = tmp_path / "var" / "lib"
    var.mkdir(parents=True)
    text = EXAMPLE.read_text(encoding="utf-8").replace("/var/lib/oscartes-sync", f"{var}/oscartes-sync")
    for url in ("https://wiki.polesnoe.example/", "https://wiki.territoires-en-liens.example/",
                "https://cloud.polesnoe.example/"):
        text = text.replace(url, f"http://127.0.0.1:{closed_port()}/")
    config = tmp_path / "oscartes.toml"
    config.write_text(text, encoding="utf-8")
    before = tree(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor"], prog_name="oscartes-sync",
                                env={k: None for k in os.environ if k.startswith("OSCARTES_")})
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    assert tree(tmp_path) == before, ran
    line = ran.lines("store")["store"]
    assert line.startswith("WARN") and "oscartes-sync/oscartes.db does not exist yet" in line, ran
    assert "folder" in line and "first sync creates" in line, ran


def test_doctor_reads_an_existing_store_without_touching_it(setup, tmp_path):
    db = tmp_path / "oscartes.db"
    store = Store(f"sqlite:///{db}")
    store.finish_run(store.start_run(), status="ok", exit_code=0, report={})
    store.close()
    before = tree(tmp_path)
    ran = setup.run()
    assert ran.code == 0, ran
    line = ran.lines("store")["store"]
    assert line.startswith("OK") and "schema up to date" in line and "last run #1: nothing needed a person" in line, ran
    assert {k: v for k, v in tree(tmp_path).items() if k != "oscartes.toml"} == \
           {k: v for k, v in before.items() if k != "oscartes.toml"}


def test_doctor_reports_a_store_that_cannot_be_created(setup, tmp_path):
    (tmp_path / "not-a-folder").write_text("x", encoding="utf-8")
    setup.write()
    setup.path.write_text(setup.path.read_text(encoding="utf-8").replace(
        'url = "sqlite:///oscartes.db"', 'url = "sqlite:///not-a-folder/oscartes.db"'), encoding="utf-8")
    before = tree(tmp_path)
    unset = {k: None for k in os.environ if k.startswith(("OSCARTES_", PREFIX))}
    result = CliRunner().invoke(cli, ["--config", str(setup.path), "doctor"], env={**unset, **setup.env},
                                prog_name="oscartes-sync")
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    assert ran.code == 1, ran
    line = ran.lines("store")["store"]
    assert line.startswith("PROBLEM") and "cannot be created" in line and "not a folder" in line, ran
    assert tree(tmp_path) == before
