"""Language of what a person reads (DECISIONS §21): the catalogue, the choice of language, dates."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscartes_sync import i18n
from oscartes_sync.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def _catalogue_tool():
    spec = importlib.util.spec_from_file_location("catalogue", ROOT / "tools" / "catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_catalogue_is_what_the_code_marks_every_message_translated_and_compiled():
    assert _catalogue_tool().check() == []


@pytest.mark.parametrize(("env", "lang"), [
    ({}, "fr"),
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "C.UTF-8"}, "fr"),
    ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),  # LC_ALL wins, as in the C library
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8"}, "fr"),
])
def test_the_language_comes_from_the_first_locale_variable_set(env, lang):
    assert i18n.language_from_env(env) == lang


def test_help_is_french_by_default_and_english_on_request(monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    fr = runner.invoke(cli, ["--help"])
    assert "Usage :" in fr.output and "Tient une fiche source par acteur" in fr.output
    assert "Affiche cette aide et quitte." in fr.output  # click's own texts follow too
    en = runner.invoke(cli, ["--lang", "en", "--help"])
    assert "Usage:" in en.output and "Keep one source record per actor" in en.output
    assert "Show this message and exit." in en.output


def test_an_english_locale_gives_english(monkeypatch):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert "Keep one source record" in CliRunner().invoke(cli, ["--help"]).output


def test_an_unknown_language_is_a_usage_error_in_the_default_language(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    result = CliRunner().invoke(cli, ["--lang", "de", "status"])
    assert result.exit_code == 2
    assert "Valeur invalide pour" in result.output


def test_a_message_the_catalogue_lacks_is_shown_in_english_and_noted():
    i18n.set_language("fr")
    assert i18n._("A message nobody translated") == "A message nobody translated"
    assert "A message nobody translated" in i18n.missing()
    i18n.set_language("en")
    assert i18n._("Another one") == "Another one" and i18n.missing() == set()


def test_dates_are_read_in_paris_time_in_a_person_s_words():
    winter = datetime(2026, 12, 2, 5, 5, 19, 9007, tzinfo=timezone.utc)  # 06:05 in Paris
    i18n.set_language("fr")
    assert i18n.human_datetime(winter) == "2 décembre à 06:05"
    summer = datetime(2025, 7, 14, 22, 30)  # naive: UTC, as the store keeps them; 00:30 the next day in Paris
    assert i18n.human_datetime(summer) == "15 juillet 2025 à 00:30"
    i18n.set_language("en")
    assert i18n.human_datetime(winter) == "2 December at 06:05"


def test_the_package_speaks_french_without_babel_s_tools_or_the_source_tree(tmp_path):
    # the compiled catalogue is read from the installed package: run from elsewhere, with the sources' tools
    # out of reach, and the French help still comes out
    out = subprocess.run([sys.executable, "-m", "oscartes_sync", "--help"], cwd=tmp_path, capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin"}, check=True).stdout
    assert "Tient une fiche source par acteur" in out
