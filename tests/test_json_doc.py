"""The JSON of `status --json` and `sync --json` is documented key by key in the README ("Sorties JSON"): the keys
a real run prints are exactly the documented ones, and stay English whatever the language (DECISIONS §21)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.sandbox.sandbox import start_sandbox

README = Path(__file__).resolve().parents[1] / "README.md"
FORM = DEFAULT_FORM_IDS["actor"]
# keys whose value maps names (instances, kinds of record or action) to values: their own keys are data
MAPS = {"records", "actions", "writes", "instance_errors", "instances_not_synced", "instances_not_synced_since",
        "requests", "page_writes", "pages", "cards", "calendar_events", "export_files_written",
        "last_run.instance_errors"}


def documented(command: str) -> set[str]:
    """The keys listed in the README's table for `command` (its first column, between backquotes)."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"### `{command}`", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE))


def keys(value, prefix: str = "") -> set[str]:
    """Every key path of a JSON value: `a.b` in objects, `a[].b` in lists of objects; maps stop at their name."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else k
            out.add(path)
            if path not in MAPS:
                out |= keys(v, path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                out |= keys(item, f"{prefix}[]")
    return out


@pytest.fixture
def outputs(tmp_path):
    """status --json and sync --json of a run with something of each kind to say, in French."""
    with start_sandbox() as sb:
        path = tmp_path / "oscartes.toml"
        env = {}
        parts = [f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[sync]\nlock_file = "{tmp_path / "lock"}"\n'
                 '[publish]\ndashboards = false\n']
        for name, w in sb.wikis.items():
            env[f"JSONDOC_{name.upper()}_T"], env[f"JSONDOC_{name.upper()}_P"] = w.token, w.admin_password
            parts.append(f'[[wiki]]\nname = "{name}"\nurl = "{w.url}"\napi_token_env = "JSONDOC_{name.upper()}_T"\n'
                         f'admin_user = "{w.admin_user}"\nadmin_password_env = "JSONDOC_{name.upper()}_P"\n')
        path.write_text("\n".join(parts), encoding="utf-8")
        sb.wikis["polesnoe"].member_create(FORM, {"bf_titre": "Repair café de Massy", "bf_ville": "Massy",
                                                  "bf_site_internet": "javascript:x"})

        def run(*args):
            result = CliRunner().invoke(cli, ["--lang", "fr", "--config", str(path), *args], env=env)
            return json.loads(result.stdout)  # a warning (a config readable by others) goes to stderr

        before = run("status", "--json")
        synced = run("sync", "--json")
        after = run("status", "--json")
        yield before, synced, after


def test_the_documented_keys_are_those_of_the_real_outputs(outputs):
    before, synced, after = outputs
    assert keys(after) == documented("status --json")
    assert keys(before) == {k for k in documented("status --json") if not k.startswith("last_run.")}
    real = keys(synced)
    doc = documented("sync --json")
    assert real <= doc, f"undocumented: {sorted(real - doc)}"
    # a run with nothing skipped nor any notice naming several records leaves those optional keys out
    assert doc - real <= {"skipped[].action", "skipped[].record", "skipped[].why", "notices[].records"}


def test_the_json_stays_english_whatever_the_language(outputs):
    _, synced, after = outputs
    [refused] = [n for n in synced["notices"] if n["kind"] == "refused_value"]
    assert re.fullmatch(r"entry \w+: website refused \(javascript: URL refused\)", refused["message"])
    assert after["last_run"]["status"] == "attention"
