"""The built wheel is a working install: `pip wheel .`, installed in a fresh virtual environment outside the
source tree, runs `oscartes-sync --version` and `oscartes-sync demo` from an empty folder (issue 12, item 5).

Fast and offline beyond the package index pip already uses: the wheel is built without its dependencies,
and the fresh environment reuses the test environment's installed dependencies through a `.pth` line (the
editable install of this project there is not active in it: its finder is started by a `.pth` file that a
path line does not run). The test checks that the code that runs is the wheel's, not the source tree's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from oscartes_sync import templates

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "oscartes_sync"

pytestmark = pytest.mark.wheel


def _run(args: list, *, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy: an in-tree build leaves build/ and *.egg-info in the worktree.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "oscartes_sync",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", src, "-w", dist], cwd=src)
    (built,) = dist.glob("oscartes_sync-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_test_env_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel],
         cwd=venv.parent)
    return venv


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OSCARTES_", "PYTHON")) and k not in ("VIRTUAL_ENV",)}


def test_the_wheel_carries_the_templates_and_the_data(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    wanted = {f"oscartes_sync/{p.relative_to(PACKAGE).as_posix()}"
              for folder in (templates.TEMPLATES_DIR, PACKAGE / "data", PACKAGE / "deploy")
              for p in folder.rglob("*") if p.is_file()}
    assert any(n.startswith("oscartes_sync/wiki_templates/forms/") for n in wanted)
    assert any(n.startswith("oscartes_sync/wiki_templates/docs/") for n in wanted)
    assert {"oscartes_sync/data/communes-france.csv.gz", "oscartes_sync/data/CC-BY-SA-4.0.txt",
            "oscartes_sync/deploy/oscartes-sync.service"} <= wanted
    assert wanted <= names, sorted(wanted - names)


def test_installed_wheel_runs_version_and_demo_from_an_empty_folder(installed, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    exe = installed / "bin" / "oscartes-sync"
    where = _run([installed / "bin" / "python", "-c", "import oscartes_sync; print(oscartes_sync.__file__)"],
                 cwd=empty, env=_env()).stdout.strip()
    assert Path(where).is_relative_to(installed), where  # the wheel's code, not the source tree's

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert _run([exe, "--version"], cwd=empty, env=_env()).stdout.strip() == f"oscartes-sync {version}"

    french = {k: v for k, v in _env().items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    demo = _run([exe, "demo"], cwd=empty, env=french, timeout=180)
    out = demo.stdout + demo.stderr
    assert "Traceback" not in out
    # French by default (no English locale here): provision ran from the packaged templates, the catalogue too
    assert "formulaires," in out and "pages créés" in out, out
    assert "Passage 4" in out and "Fiches sources :" in out
    assert list(empty.iterdir()) == []  # the demo works in a temporary folder

    # the kit and its documentation come from the installed package alone (data, templates, deploy files)
    kit = _run([exe, "kit", "export", "out", "--department", "69"], cwd=empty, env=_env())
    assert "oscartes-kit-" in kit.stdout
    (archive,) = (empty / "out").glob("oscartes-kit-*.zip")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    assert any(n.endswith("/deploy/oscartes-sync.timer") for n in names)
    assert any(n.endswith("/yeswiki/lists/ListeCommunes69.json") for n in names)
