"""The layers of ARCHITECTURE.md, checked on the imports themselves: read -> plan -> act -> record, a planner
that is pure by construction, targets that know nothing of records or the store, a CLI that only calls."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "oscartes_sync"


def imports(path: Path) -> set[str]:
    """Every module a file imports, relative ones resolved against the package (`.merge` -> sync.merge)."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(here[: len(here) - node.level + 1]) if node.level else []
            out.add(".".join(base + ([node.module] if node.module else [])))
    return out


# `text` is a leaf value type (standard library only, no I/O): a message carried as a value until it is shown, so
# the pure planner and the targets can say what happened without choosing the reader's language (DECISIONS §21).
LEAVES = {"oscartes_sync.text"}


def test_the_leaf_value_type_of_messages_imports_only_the_standard_library():
    assert not [m for m in imports(PACKAGE / "text.py") if m.startswith("oscartes_sync")]


def test_the_planner_imports_only_the_standard_library_and_its_own_values():
    allowed = {"__future__", "collections.abc", "dataclasses", "json", "typing",
               "oscartes_sync.sync.merge", "oscartes_sync.sync.model", *LEAVES}
    for name in ("plan.py", "merge.py", "model.py"):
        assert imports(PACKAGE / "sync" / name) <= allowed, name


def test_targets_know_nothing_of_records_the_store_or_the_sync():
    for path in (PACKAGE / "targets").glob("*.py"):
        ours = {m for m in imports(path) if m.startswith("oscartes_sync")} - LEAVES
        assert all(m.startswith("oscartes_sync.targets") for m in ours), (path.name, ours)


def test_no_import_runs_back_up_from_the_store_records_or_fields():
    upper = ("oscartes_sync.sync", "oscartes_sync.publish", "oscartes_sync.cli", "oscartes_sync.app",
             "oscartes_sync.coordinator", "oscartes_sync.report", "oscartes_sync.sandbox")
    lower = [*(PACKAGE / "store").glob("*.py"), PACKAGE / "records.py", PACKAGE / "fields.py",
             PACKAGE / "config.py", PACKAGE / "clean.py"]
    for path in lower:
        assert not [m for m in imports(path) if m.startswith(upper)], path.name


def test_the_cli_reaches_the_store_only_to_open_and_close_it():
    text = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    calls = {line.split("store.", 1)[1].split("(", 1)[0] for line in text.splitlines() if "store." in line
             and not line.lstrip().startswith(('"""', "#"))}
    assert calls <= {"close"}, calls
