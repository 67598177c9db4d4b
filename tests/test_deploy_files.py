"""The files a coordinator copies from deploy/ must work as they are."""

from __future__ import annotations

import configparser
from pathlib import Path

from oscartes_sync.config import load_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_example_config_is_valid_and_names_every_secret_of_the_secrets_example():
    cfg = load_config(DEPLOY / "oscartes.toml.example")
    names = {w.api_token_env for w in cfg.wiki} | {w.admin_password_env for w in cfg.wiki} | {
        n.app_password_env for n in cfg.nextcloud} | {w.hook_secret_env for w in cfg.wiki if w.hook_secret_env}
    listed = {line.split("=", 1)[0] for line in (DEPLOY / "secrets.env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    assert names == listed


def test_systemd_unit_treats_exit_1_as_success_and_runs_sync():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "oscartes-sync.service")
    assert unit["Service"]["SuccessExitStatus"] == "1"
    assert unit["Service"]["ExecStart"].split()[-1] == "sync"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "oscartes-sync.timer")
    assert timer["Timer"]["OnUnitActiveSec"]
