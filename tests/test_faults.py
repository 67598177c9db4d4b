"""A small seeded subset of the fault suite over real processes (tests/fault_suite.py): a real `oscartes-sync sync`
process killed with SIGKILL at a seeded request of the first import and of a run with edits, a deletion and a
conflict; a listing cut mid-JSON; a connection reset in the middle of a create; two runs started together.
After each, one clean run converges: no entry lost, no duplicate entry or card, no edit lost, the conflict kept.

The full set (32 kill points and every fault): `python tests/fault_suite.py --full`, which writes docs/faults.md.
"""

from __future__ import annotations

import pytest

from fault_suite import FAULTS, Suite, kill_points

SEED = 18


@pytest.fixture(scope="module")
def suite():
    s = Suite(SEED)
    yield s
    s.close()


def assert_converged(case):
    assert case.converged and case.lost == 0 and case.duplicates == 0, (case.detail, case.problems)


@pytest.mark.parametrize("phase", ["import", "edits"])
def test_a_run_killed_at_a_seeded_request_converges_on_the_next(suite, phase):
    total = suite.requests_of(phase)
    [(ph, at, total, mode)] = kill_points(SEED + len(phase), {phase: total}, 1)
    assert_converged(suite.kill_case(ph, at, total, mode))


@pytest.mark.parametrize("fault", [FAULTS[0], next(f for f in FAULTS if f.kind == "drop-after")],
                         ids=lambda f: f"{f.kind}-{f.phase}")
def test_an_injected_fault_is_reported_and_the_next_run_converges(suite, fault):
    assert_converged(suite.fault_case(fault))


def test_two_runs_started_together_one_refuses_at_once(suite):
    assert_converged(suite.two_runs_case())


def test_the_yeswiki_emulator_refuses_a_fault_its_contract_does_not_show():
    """4.4.2 has no rate limit of its own: a 429 is only ever the Nextcloud's (its contract's throttle)."""
    from oscartes_sync.sandbox.nextcloud_emulator import NextcloudEmulator
    from oscartes_sync.sandbox.yeswiki_emulator import YesWikiEmulator

    with pytest.raises(ValueError, match="429"):
        YesWikiEmulator("w").inject("GET", ".", "429")
    NextcloudEmulator("c").inject("*", ".", "429")


def test_an_answer_cut_after_the_request_was_handled(sandbox):
    """`drop-after` makes the create and loses its answer; `truncate` cuts a listing mid-JSON."""
    import requests

    from oscartes_sync.config import DEFAULT_FORM_IDS

    wiki = sandbox.wikis["polesnoe"]
    form = DEFAULT_FORM_IDS["actor"]
    wiki.emulator.inject("POST", "api/entries/", "drop-after")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{wiki.url}?api/entries/{form}", data={"bf_titre": "Coupée"},
                      headers={"Authorization": f"Bearer {wiki.member_token}"}, timeout=10)
    assert [e["bf_titre"] for e in wiki.emulator.entries(form).values()] == ["Coupée"]
    wiki.emulator.inject("GET", "entries", "truncate")
    with pytest.raises(requests.RequestException):
        requests.get(f"{wiki.url}?api/forms/{form}/entries", headers={"Authorization": f"Bearer {wiki.token}"},
                     timeout=10).json()


def test_a_run_that_never_finished_is_marked_interrupted_by_the_next(cfg, store):
    from oscartes_sync.app import build_instances, sync_once

    killed = store.start_run()  # what a SIGKILL leaves: a run row still "running"
    run = sync_once(cfg, store, build_instances(cfg))
    assert [r.status for r in store.runs(5)] == ["ok", "interrupted"]
    assert any(f"run #{killed} was interrupted" in n["message"] for n in run.report["notices"])
    assert run.exit_code == 0  # an info: nothing for a person to do
    again = sync_once(cfg, store, build_instances(cfg))
    assert not any("interrupted" in n["message"] for n in again.report["notices"])
