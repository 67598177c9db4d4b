"""`doctor` against a real YesWiki (OSCARTES_LIVE_YESWIKI_*; skipped when unset). Reads and one admin login only.

The config is built in memory (no file holds the user name), naming the live variables as its secrets.
"""

from __future__ import annotations

import re

import pytest
import requests

from oscartes_sync.config import DEFAULT_FORM_IDS, Config, StoreConfig, WikiConfig
from oscartes_sync.doctor import OK, PROBLEM, render_text, run_doctor

pytestmark = pytest.mark.live

P = "OSCARTES_LIVE_YESWIKI"


def live_config(live_env, tmp_path, **wiki_extra) -> Config:
    wiki = WikiConfig(name="live", url=live_env[f"{P}_URL"], api_token_env=f"{P}_TOKEN",
                      admin_user=live_env[f"{P}_ADMIN_USER"], admin_password_env=f"{P}_ADMIN_PASSWORD", **wiki_extra)
    return Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 'doctor.db'}"), wiki=[wiki])


def test_doctor_on_the_live_wiki(live_env, tmp_path):
    base = live_env[f"{P}_URL"].rstrip("/") + "/"
    forms = requests.get(base + "?api/forms", timeout=30).json()
    assert DEFAULT_FORM_IDS["actor"] not in forms, "precondition: the live wiki has no provisioned actor form"

    report = run_doctor(live_config(live_env, tmp_path))
    text = render_text(report)
    by = {c.name: c for c in report.checks if c.instance == "live"}
    assert by["secrets"].status == OK, text
    assert by["reachable"].status == OK, text
    assert by["token"].status == OK, text
    assert by["admin login"].status == OK, text
    # the real release, as the home page footer shows it
    m = re.fullmatch(r"YesWiki (\w+ (\d+\.\d+(?:\.\d+)?))", by["version"].message)
    assert m, text
    assert f'title="{m.group(1)}"' in requests.get(base, timeout=30).text
    assert by["version"].status == (OK if m.group(2).startswith("4.4.") else "warn")
    assert by["form actor"].status == PROBLEM, text
    assert by["form actor"].message.startswith(f"form {DEFAULT_FORM_IDS['actor']} does not exist"), text
    assert report.exit_code == 1
    for value in (live_env[f"{P}_TOKEN"], live_env[f"{P}_ADMIN_PASSWORD"]):
        assert value not in text and value not in str(report.as_dict())


def test_doctor_on_the_live_wiki_with_wrong_secrets(live_env, tmp_path, monkeypatch):
    bad_token, bad_password = "oscartes-doctor-bad-token-51c2", "oscartes-doctor-bad-password-9e07"
    monkeypatch.setenv("OSCARTES_DOCTOR_BAD_TOKEN", bad_token)
    monkeypatch.setenv("OSCARTES_DOCTOR_BAD_PASSWORD", bad_password)
    cfg = live_config(live_env, tmp_path)
    cfg.wiki[0].api_token_env = "OSCARTES_DOCTOR_BAD_TOKEN"
    cfg.wiki[0].admin_password_env = "OSCARTES_DOCTOR_BAD_PASSWORD"
    report = run_doctor(cfg)
    text = render_text(report)
    by = {c.name: c for c in report.checks if c.instance == "live"}
    assert by["token"].status == PROBLEM and "refused" in by["token"].message, text
    assert by["admin login"].status == PROBLEM, text
    assert bad_token not in text and bad_password not in text
