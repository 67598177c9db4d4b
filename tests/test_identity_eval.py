"""The labelled set and the evaluation command of the matcher (issue 14 item 5): seeded, two parts that share
nothing, the held-out part measured only with the defaults, and the figures the README quotes taken from the
committed result file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import identity_eval
from benchmarks.identity_dataset import Generator, make_set
from oscartes_sync.config import IdentityConfig

ROOT = Path(__file__).resolve().parents[1]


def test_the_set_is_seeded_and_labelled():
    one, again = make_set("dev", seed=5, size=200), make_set("dev", seed=5, size=200)
    assert one == again
    assert make_set("dev", seed=6, size=200) != one
    ids = {rid for rid, _ in one.records}
    assert len(ids) == len(one.records) == 200 and len(one.cases) == 200
    assert {c.truth for c in one.twins} <= ids and len(one.twins) == 80
    assert {c.kind for c in one.cases} >= {"twin", "homonym", "chain", "building", "near-name", "new"}
    for case in one.twins:
        assert case.variations, case  # every twin says what differs


def test_the_held_out_part_shares_no_commune_and_no_invented_word_with_the_dev_part():
    dev, held = Generator("dev", 1), Generator("heldout", 1)
    assert not {c.insee for c in dev.communes} & {c.insee for c in held.communes}
    assert not set(dev.nouns) & set(held.nouns) and not set(dev.persons) & set(held.persons)
    communes = {v.get("insee") for _, v in make_set("heldout", size=200).records}
    assert not communes & {c.insee for c in dev.communes}


@pytest.mark.parametrize("args", [["--part", "heldout", "--sweep"], ["--part", "heldout", "--review", "60"],
                                  ["--part", "heldout", "--seed", "3"]])
def test_the_held_out_part_is_measured_with_the_defaults_only(args):
    with pytest.raises(SystemExit) as exit_:
        identity_eval.main(args)
    assert exit_.value.code == 2


def test_the_matcher_meets_its_targets_on_a_small_dev_set():
    figures = identity_eval.evaluate(make_set("dev", seed=11, size=400), IdentityConfig())
    assert figures.precision >= identity_eval.PRECISION_TARGET, figures.wrong
    assert figures.recall >= identity_eval.RECALL_TARGET


def _fr(x: float, places: int) -> str:
    return f"{x:.{places}f}".replace(".", ",")


def test_the_figures_the_readme_quotes_come_from_the_committed_result_file():
    results = json.loads((ROOT / "benchmarks" / "identity_results.json").read_text(encoding="utf-8"))
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    held = results["heldout"]
    assert held["settings"] == IdentityConfig().model_dump()  # measured with the defaults the product ships
    assert held["targets"]["met"] and held["precision_auto"] >= 0.99 and held["recall_link_or_review"] >= 0.95
    assert f"{_fr(held['precision_auto'], 4)} ({held['auto_links'] - held['auto_links_wrong']} / " \
           f"{held['auto_links']})" in readme
    assert _fr(held["recall_link_or_review"], 4) in readme
    bench = results["first_import_10000"]
    assert bench["cpu_seconds"] < bench["goal_seconds"] and f"{_fr(bench['cpu_seconds'], 2)} s de CPU" in readme
