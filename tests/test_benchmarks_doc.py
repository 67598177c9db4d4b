"""docs/benchmarks.md and the figures block of benchmarks/README.md are what `python -m benchmarks.publish` makes
from the committed benchmarks/results.json: no measured figure is typed by hand (issue 16)."""

from __future__ import annotations

import json

from benchmarks import publish


def test_the_published_tables_are_made_from_results_json():
    assert publish.main(["--check"]) == 0, "run python -m benchmarks.publish"


def test_a_changed_result_makes_the_published_tables_stale(tmp_path, monkeypatch):
    results = publish.load()
    quiet = publish.quiet(publish.run_of(results, 1000))
    quiet["client_cpu_s"] += 1
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    monkeypatch.setattr(publish, "RESULTS", path)
    assert publish.main(["--check"]) == 1
