"""Everything a person reads is French by default and English on request (DECISIONS §21, issue 15 item 1).

The main flows of the command line run in French: the demo, sync (first import, a conflict, a refused value, a
possible duplicate, then the same state again), status, conflicts (list, show, resolve), match, records, history,
restore, suggestions, doctor, provision, backup and restore-backup, forget, serve, the replication kit, usage and config errors, an unreachable server, a missing secret, and the
help of every command. Each flow must leave `i18n.missing()` empty (no message shown untranslated) and no line of
its output may hold common English words outside data (titles, URLs, commands, names of settings). The same flows
in English hold no French framing.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscartes_sync import i18n
from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]
ENGLISH = re.compile(r"\b(the|is|was|not|entries|records|nothing|waiting)\b", re.IGNORECASE)
# French framing an English output must not hold (the sample data's titles are French: words of titles are left out)
FRENCH = re.compile(r"’|\b(fiches?|passage|aucune?|toujours|synchronisation|trancher|n’|à faire|valeurs?)\b",
                    re.IGNORECASE)
# what is data, not framing: commands, options, settings and variables, URLs, entry ids, quoted values
DATA = [re.compile(p) for p in (
    r"oscartes-sync \w+", r"\b(?:GET|POST|PUT|DELETE|PROPFIND|REPORT|MKCOL) \S+", r"`[^`]*`", r"https?://\S+",
    r"--?[a-z][\w-]*", r"\b[A-Z][A-Z0-9_]{2,}\b", r'"[^"]*"', r"«[^»]*»", r"\[\[?\w+\]?\]",
    r"\b\w+\.(?:toml|db|lock|md|json)\b")]
DIFF = re.compile(r"^\s*(?:\+|@@|-(?! ))")
COMMANDS = ("sync", "status", "provision", "doctor", "records", "conflicts", "history", "restore", "match",
            "suggestions", "demo", "backup", "restore-backup", "forget", "serve", "kit")
HELP_COMMAND = re.compile(r"^\s+(?:%s|show|resolve|link|distinct|merge|split|accept|reject)\b" % "|".join(COMMANDS))


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """A coordinator's installation on the sandbox: a config file next to its store, the secrets in the
    environment."""

    def __init__(self, sandbox, root: Path):
        self.sandbox, self.root = sandbox, root
        self.path = root / "oscartes.toml"
        self.env = {}
        self.urls = {n: w.url for n, w in sandbox.wikis.items()}
        for name, w in sandbox.wikis.items():
            self.env[f"FLOWS_{name.upper()}_TOKEN"] = w.token
            self.env[f"FLOWS_{name.upper()}_PASSWORD"] = w.admin_password
        self.write()

    def write(self) -> None:
        parts = ['[store]\nurl = "sqlite:///oscartes.db"\n', '[sync]\nlock_file = "oscartes.lock"\n',
                 '[publish]\ndashboards = false\n']
        for name, w in self.sandbox.wikis.items():
            parts.append(f'[[wiki]]\nname = "{name}"\nurl = "{self.urls[name]}"\n'
                         f'api_token_env = "FLOWS_{name.upper()}_TOKEN"\nadmin_user = "{w.admin_user}"\n'
                         f'admin_password_env = "FLOWS_{name.upper()}_PASSWORD"\n')
        self.path.write_text("\n".join(parts), encoding="utf-8")

    def store(self) -> Store:
        return Store(f"sqlite:///{self.root / 'oscartes.db'}")


def run(lang: str, args: list[str], env: dict | None = None, config: Path | None = None):
    """One command in `lang` (`--lang`), in process: its output, and the messages shown untranslated."""
    argv = ["--lang", lang] + (["--config", str(config)] if config else []) + args
    result = CliRunner().invoke(cli, argv, env=env or {}, prog_name="oscartes-sync")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{argv}: {type(result.exception).__name__}: {result.exception}\n{result.output}") \
            from result.exception
    return result.exit_code, result.output, i18n.missing()


def framing(line: str) -> str:
    """A line without its data: what is left is the words the program chose."""
    if DIFF.match(line):  # a line of a template's diff (provision --check): the template's own text
        return ""
    line = HELP_COMMAND.sub(" ", line)  # the name of a command, in a help's list of commands
    for pattern in DATA:
        line = pattern.sub(" ", line)
    return line


def check_french(name: str, out: str, missing: set[str], titles: set[str] = frozenset()) -> None:
    assert missing == set(), f"{name}: shown untranslated: {sorted(missing)}\n{out}"
    for line in out.splitlines():
        text = framing(line)
        for title in titles:
            text = text.replace(title, " ")
        found = ENGLISH.search(text)
        assert found is None, f"{name}: English word {found.group(0)!r} in the French output:\n  {line}\n\n{out}"


def check_english(name: str, out: str, titles: set[str] = frozenset()) -> None:
    for line in out.splitlines():
        text = framing(line)
        for title in titles:
            text = text.replace(title, " ")
        found = FRENCH.search(text)
        assert found is None, f"{name}: French word {found.group(0)!r} in the English output:\n  {line}\n\n{out}"


@pytest.fixture
def world(tmp_path):
    with start_sandbox() as sandbox:
        yield World(sandbox, tmp_path)


def flows(world: World, lang: str) -> list[tuple[str, int, str, set[str]]]:
    """Every flow, in order (each leaves the state the next one needs), with its exit code and output."""
    out = []
    cfg, env = world.path, world.env
    a, b = world.sandbox.wikis["polesnoe"], world.sandbox.wikis["tel"]

    def step(name, args, env_extra=None, config=cfg):
        code, text, missing = run(lang, args, {**env, **(env_extra or {})}, config)
        out.append((name, code, text, missing))
        return code, text

    assert step("status before any run", ["status"])[0] == 0
    aid = a.member_create(FORM, entry("Repair café de Massy", "Massy", "91300", bf_site_internet="javascript:x"))
    a.member_create(FORM, entry("Ressourcerie Cyclamen", bf_siret="73282932000074"))
    b.member_create(FORM, entry("Ressourcerie du Cyclamen", bf_siret="55208131766522"))
    a.member_create(FORM, entry("Épicerie La Fourmi", "Palaiseau", "91120", bf_telephone="12"))
    assert step("dry run", ["sync", "--dry-run"])[0] == 1
    assert step("first import", ["sync"])[0] == 1
    bid = next(i for i, e in b.list(FORM).items() if e["bf_titre"] == "Repair café de Massy")
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})
    b.member_edit(bid, {"bf_horaires": "Tu 14:00-18:00"})
    assert step("a conflict", ["sync"])[0] == 1
    assert step("the same state again", ["sync"])[0] == 1
    assert step("verbose run", ["-v", "sync"])[0] == 1
    step("status", ["status"])
    with world.store() as store:
        [conflict] = store.conflicts("open")
        [item] = store.review_items("open")
        rec = next(r for r in store.records() if r.fields["name"] == "Repair café de Massy")
    step("conflicts", ["conflicts"])
    step("conflicts show", ["conflicts", "show", str(conflict.id)])
    step("conflicts resolve --all dry run", ["conflicts", "resolve", "--all", "--take", "tel", "--dry-run"])
    assert step("conflicts resolve", ["conflicts", "resolve", str(conflict.id), "--take", "tel"])[0] == 0
    step("match", ["match"])
    assert step("match distinct", ["match", "distinct", str(item.id)])[0] == 0
    step("records", ["records"])
    step("records query", ["records", "Massy"])
    assert step("history", ["history", rec.id])[0] == 0
    assert step("restore", ["restore", rec.id, "1"])[0] == 0
    step("suggestions", ["suggestions"])
    step("sync after the decisions", ["sync"])
    step("doctor", ["doctor"])
    step("provision --check", ["provision", "--check"])
    saved = world.root / "sauvegarde.db"
    assert step("backup", ["backup", str(saved)])[0] == 0
    assert step("backup over a file", ["backup", str(saved)])[0] == 2
    assert step("restore-backup", ["restore-backup", str(saved)])[0] == 0
    assert step("restore-backup of no backup", ["restore-backup", str(world.path)])[0] == 2
    assert step("forget, shown first", ["forget", "Ressourcerie Cyclamen"])[0] == 1
    assert step("forget, a query too short", ["forget", "ab"])[0] == 2
    assert step("serve without a webhook secret", ["serve"])[0] == 2
    # mistakes: usage, decisions refused, config errors
    assert step("unknown option", ["sync", "--nope"])[0] == 2
    assert step("resolve without an id", ["conflicts", "resolve"])[0] == 2
    assert step("resolve an unknown conflict", ["conflicts", "resolve", "999", "--take", "tel"])[0] == 2
    assert step("a value that is no JSON", ["conflicts", "resolve", str(conflict.id), "--value", "Orsay"])[0] == 2
    assert step("an unknown record", ["history", "zzz-inconnu"])[0] == 2
    assert step("check and force", ["provision", "--check", "--force"])[0] == 2
    missing_file = world.root / "nowhere.toml"
    assert step("missing config", ["status"], config=missing_file)[0] == 2
    bad = world.root / "bad.toml"
    bad.write_text("[sync]\nmax_delete_ratio = 3\nmin_delete_count = \"many\"\nfrequency = 2\n[[wiki]]\n"
                   "name = \"Pôle S\"\nurl = \"ftp://x\"\n", encoding="utf-8")
    assert step("invalid config", ["status"], config=bad)[0] == 2
    broken = world.root / "broken.toml"
    broken.write_text("[store\n", encoding="utf-8")
    assert step("invalid TOML", ["status"], config=broken)[0] == 2
    # an unreachable wiki, then a missing secret: those instances in error, the others synced
    world.urls["tel"] = f"http://127.0.0.1:{free_port()}/"
    world.write()
    assert step("an unreachable wiki", ["sync"])[0] == 1
    assert step("doctor, a wiki unreachable", ["doctor"])[0] == 1
    world.urls["tel"] = b.url
    world.write()
    assert step("a missing secret", ["sync"], {"FLOWS_TEL_TOKEN": ""})[0] == 1
    assert step("doctor, a secret missing", ["doctor"], {"FLOWS_TEL_TOKEN": ""})[0] == 1
    # the replication kit: export, its documentation, mistakes, then applied to a wiki for another department
    kit_dir = world.root / "kit"
    assert step("kit export", ["kit", "export", str(kit_dir)])[0] == 0
    assert step("kit docs", ["kit", "docs", str(world.root / "docs")], config=None)[0] == 0
    assert step("kit apply, an unknown department", ["kit", "apply", str(kit_dir), "--wiki", "tel",
                                                     "--department", "99"])[0] == 2
    assert step("kit apply, no kit", ["kit", "apply", str(world.path), "--wiki", "tel", "--department", "69"])[0] == 2
    assert step("kit apply, an unknown wiki", ["kit", "apply", str(kit_dir), "--wiki", "autre",
                                               "--department", "69"])[0] == 2
    (archive,) = kit_dir.glob("*.zip")
    assert step("kit apply", ["kit", "apply", str(archive), "--wiki", "tel", "--department", "69"])[0] == 1
    # the help of every command
    step("help", ["--help"], config=None)
    for command in COMMANDS:
        step(f"help of {command}", [command, "--help"], config=None)
    for sub in (["conflicts", "resolve"], ["match", "merge"], ["suggestions", "accept"], ["kit", "export"],
                ["kit", "apply"], ["kit", "docs"]):
        step(f"help of {' '.join(sub)}", [*sub, "--help"], config=None)
    return out


TITLES = {"Repair café de Massy", "Ressourcerie Cyclamen", "Ressourcerie du Cyclamen", "Épicerie La Fourmi"}


def test_every_flow_reads_in_french_with_every_message_translated(world):
    for name, code, text, missing in flows(world, "fr"):
        assert text.strip(), name
        check_french(name, text, missing, TITLES)


def test_the_same_flows_in_english_hold_no_french_framing(world):
    for name, code, text, missing in flows(world, "en"):
        assert missing == set()  # nothing is looked up in English
        check_english(name, text, TITLES)


def test_the_demo_reads_in_french_and_in_english(tmp_path):
    code, text, missing = run("fr", ["demo", "--workdir", str(tmp_path / "fr")])
    assert code == 0, text
    check_french("demo", text, missing, _demo_titles(text))
    assert "Passage 4" in text and "toujours en attente depuis le " in text
    assert max(len(line) for line in text.splitlines()) <= 100


def _demo_titles(text: str) -> set[str]:
    """The sample data's titles and places named in the demo's narration (data, in French already)."""
    from oscartes_sync.sandbox.sample_data import sample_entries, sample_events

    titles = {e["bf_titre"] for rows in sample_entries().values() for e in rows}
    titles |= {e["bf_titre"] for rows in sample_events().values() for e in rows}
    return titles | {"Ressourcerie de la Vallée"}
