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


# ---- the service units run sandboxed, as their own user -----------------------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

SERVICES = ["oscartes-sync.service", "oscartes-sync-serve.service"]
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "StateDirectory": "oscartes-sync",
    "ReadOnlyPaths": "/etc/oscartes-sync", "ProtectHome": "yes", "UMask": "0077",
}


def unit(name: str) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # systemd keys are case-sensitive
    parsed.read(DEPLOY / name)
    return parsed


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_as_its_own_user_sandboxed_with_a_read_only_config(name):
    svc = unit(name)["Service"]
    assert svc["User"] == "oscartes" and svc["Group"] == "oscartes"
    for key, value in HARDENING.items():
        assert svc.get(key) == value, (name, key)
    assert "ReadWritePaths" not in svc  # only the state directory is writable
    assert svc["WorkingDirectory"] == "/var/lib/oscartes-sync"
    assert svc["Environment"] == f"OSCARTES_SECRETS_FILE={svc['EnvironmentFile']}"
    cfg = load_config(DEPLOY / "oscartes.toml.example")
    assert cfg.store.url.startswith("sqlite:////var/lib/oscartes-sync/")  # inside StateDirectory
    assert cfg.sync.lock_file.startswith("/var/lib/oscartes-sync/")


def test_the_sysusers_file_creates_that_user_with_the_state_directory_as_home():
    line = [l for l in (DEPLOY / "oscartes-sync.sysusers.conf").read_text().splitlines()
            if l and not l.startswith("#")]
    assert len(line) == 1
    kind, name, _, _, home, shell = line[0].split(maxsplit=2)[:2] + line[0].rsplit(maxsplit=4)[1:]
    assert (kind, name, home, shell) == ("u", "oscartes", "/var/lib/oscartes-sync", "/usr/sbin/nologin")


def test_the_serve_unit_listens_where_the_reverse_proxy_forwards():
    cfg = load_config(DEPLOY / "oscartes.toml.example")
    assert cfg.serve.host == "127.0.0.1"
    nginx = (DEPLOY / "nginx-oscartes-hooks.conf").read_text()
    assert f"proxy_pass http://127.0.0.1:{cfg.serve.port};" in nginx
    assert unit("oscartes-sync-serve.service")["Service"]["ExecStart"].split()[-1] == "serve"
    assert all(w.hook_secret_env for w in cfg.wiki)


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """The units as a coordinator installs them, ExecStart pointed at this environment's oscartes-sync (the
    /opt path does not exist here). Skipped where systemd-analyze is not installed."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (Debian: the systemd package)")
    exe = shutil.which("oscartes-sync", path=os.path.dirname(sys.executable)) or shutil.which("oscartes-sync")
    if exe is None:
        pytest.skip("no oscartes-sync executable installed in this environment")
    for name in [*SERVICES, "oscartes-sync.timer"]:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/oscartes-sync/.venv/bin/oscartes-sync", exe),
                                     encoding="utf-8")
    done = subprocess.run([tool, "verify", *[str(tmp_path / n) for n in [*SERVICES, "oscartes-sync.timer"]]],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    problems = [l for l in (done.stderr + done.stdout).splitlines() if l.strip()
                and "oscartes" in l]  # verify also talks about the host's own units; ours must be silent
    assert done.returncode == 0 and problems == [], done.stderr + done.stdout


# ---- files readable by others -------------------------------------------------------------------------------------


def test_a_config_or_secrets_file_readable_by_others_is_warned_about(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from oscartes_sync.cli import cli

    monkeypatch.delenv("OSCARTES_SECRETS_FILE", raising=False)
    config = tmp_path / "oscartes.toml"
    config.write_text('[store]\nurl = "sqlite:///oscartes.db"\n', encoding="utf-8")
    secrets = tmp_path / "secrets.env"
    secrets.write_text("TEL_WIKI_TOKEN=abc\n", encoding="utf-8")

    def warnings():
        res = CliRunner().invoke(cli, ["--config", str(config), "sync"], env={"OSCARTES_SECRETS_FILE": None})
        return [l for l in res.stderr.splitlines() if l.startswith("warning:")]

    config.chmod(0o644)
    secrets.chmod(0o644)
    got = warnings()
    assert len(got) == 2
    assert str(config) in got[0] and "0644" in got[0] and "chmod 640" in got[0]
    assert str(secrets) in got[1] and "chmod 600" in got[1] and "abc" not in "".join(got)
    config.chmod(0o640)
    secrets.chmod(0o600)
    assert warnings() == []
    # the units name the secrets file: that one is checked, wherever it is
    elsewhere = tmp_path / "etc" / "s.env"
    elsewhere.parent.mkdir()
    elsewhere.write_text("X=1\n")
    elsewhere.chmod(0o604)
    monkeypatch.setenv("OSCARTES_SECRETS_FILE", str(elsewhere))
    res = CliRunner().invoke(cli, ["--config", str(config), "doctor"])
    assert f"warning: {elsewhere} is readable by every user" in res.stderr
    res = CliRunner().invoke(cli, ["--config", str(config), "kit", "apply", "kit", "--wiki", "x", "--department", "91"])
    assert res.exit_code == 2 and f"warning: {elsewhere} is readable by every user" in res.stderr  # it uses them
    # commands a person types to look at the store do not repeat it
    assert "warning" not in CliRunner().invoke(cli, ["--config", str(config), "status"]).stderr
