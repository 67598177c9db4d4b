"""`serve` against a real YesWiki 4.4.2 with the webhooks extension (DECISIONS §17, contract §13).

Needs, besides the two live wikis of test_sync_live.py (OSCARTES_LIVE_YESWIKI_* and _B_*):
  OSCARTES_LIVE_YESWIKI_B_ROOT   the folder of wiki B's code (its tools/ gets the extension for this test only)
  OSCARTES_LIVE_WEBHOOKS_GIT     a git dir of YesWiki/yeswiki-extension-webhooks
and Guzzle from Debian's php-guzzlehttp-guzzle (the extension's vendor/ is not in its repository and 4.4.2
ships none: here vendor/autoload.php loads Debian's). Skipped otherwise.

The test installs the extension in wiki B, points its `yeswiki` format at a `serve` of its own on 127.0.0.1,
and removes both afterwards, whatever happens. Members act in the wiki's web pages, the only place the
extension listens to.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from test_sync_live import B_PREFIX, cfg, store, tag, title, wiki_a, wiki_b  # noqa: F401 - fixtures

from oscartes_sync.app import build_instances, one_run_at_a_time, sync_once
from oscartes_sync.serve import Server

pytestmark = pytest.mark.live

GUZZLE = Path("/usr/share/php/GuzzleHttp/autoload.php")
HOOK_ROWS = "?BazaR&vue=formulaire"


def _needs() -> tuple[Path, str]:
    root, git = os.environ.get("OSCARTES_LIVE_YESWIKI_B_ROOT"), os.environ.get("OSCARTES_LIVE_WEBHOOKS_GIT")
    if not (root and git and os.environ.get(f"{B_PREFIX}_URL")):
        pytest.skip("OSCARTES_LIVE_YESWIKI_B_ROOT, OSCARTES_LIVE_WEBHOOKS_GIT or wiki B not set")
    if not GUZZLE.exists():
        pytest.skip("Guzzle is not installed (Debian: apt-get install php-guzzlehttp-guzzle)")
    tools = Path(root) / "tools"
    if not tools.is_dir() or (tools / "webhooks").exists():
        pytest.skip(f"{tools} is not a YesWiki tools folder, or already has a webhooks extension")
    return tools, git


def browser_submit(session, page_url: str, changes: dict[str, str], form_controls):
    """Fill the Bazar form of `page_url` as a browser does (`changes` applied, antispam=1 as its script sets
    it) and post it, multipart."""
    page = session.get(page_url, timeout=30)
    form = BeautifulSoup(page.text, "html.parser").find("form", id="formulaire")
    assert form is not None, f"no Bazar form at {page_url}"
    fields = form_controls(form)
    names = {n for n, _ in fields}
    posted = [(n, changes.get(n, v)) for n, v in fields if n != "antispam"]
    posted += [(n, v) for n, v in changes.items() if n not in names] + [("antispam", "1")]
    return session.post(form.get("action") or page_url, files=[(n, (None, v)) for n, v in posted],
                        allow_redirects=False, timeout=30)


@pytest.fixture
def extension(wiki_b, live_web):
    """The webhooks extension in wiki B for this test: installed, then removed with its webhook rows."""
    tools, git = _needs()
    target = tools / "webhooks"
    target.mkdir()
    try:
        archive = subprocess.run(["git", "--git-dir", git, "archive", "HEAD"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        (target / "vendor").mkdir()
        (target / "vendor" / "autoload.php").write_text(f"<?php\nrequire_once '{GUZZLE}';\n")
        admin = live_web.web_login(wiki_b.url, wiki_b.admin_user, wiki_b.admin_password)
        page = admin.get(wiki_b.url + HOOK_ROWS, timeout=30)
        assert 'name="url[]"' in page.text, "the extension's form is not on the BazaR page: not loaded"
        yield admin
    finally:
        try:
            admin.post(wiki_b.url + HOOK_ROWS, data={"format[]": "yeswiki", "form[]": "0", "url[]": ""}, timeout=30)
        except Exception:  # noqa: BLE001 - the folder goes anyway
            pass
        shutil.rmtree(target, ignore_errors=True)


def configure(admin, wiki_b, url: str) -> None:
    r = admin.post(wiki_b.url + HOOK_ROWS, data={"format[]": "yeswiki", "form[]": wiki_b.form_id, "url[]": url},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 302, f"webhook row not saved: HTTP {r.status_code}"


def handled_since(server: Server, mark: int, until, timeout: float = 30) -> list:
    """The hook batches handled since `mark`, once `until(batches)` holds and the queue is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = server.worker.jobs[mark:]
        if until(jobs) and server.queue.idle:
            time.sleep(0.5)  # an echo of the last write may still be on its way
            if server.queue.idle:
                return server.worker.jobs[mark:]
        time.sleep(0.1)
    raise AssertionError(f"hook batches handled since {mark}: {server.worker.jobs[mark:]}")


def test_hooks_from_a_real_wiki_sync_at_once_and_the_echo_is_ignored(extension, wiki_a, wiki_b, cfg, store,
                                                                     tag, live_web, monkeypatch):
    secret = secrets.token_hex(32)
    monkeypatch.setenv("OSCARTES_LIVETEST_HOOK", secret)
    cfg.wiki[1].hook_secret_env = "OSCARTES_LIVETEST_HOOK"
    server = Server(cfg, "127.0.0.1", 0, settle=0.2).start()
    try:
        configure(extension, wiki_b, f"{server.url}hook/tel?bearer={secret}")
        member = live_web.web_login(wiki_b.url, wiki_b.member_user, wiki_b.member_password)

        # a member creates an entry in B's web form: `add` -> a full run copies it to A
        name = title(tag, "Recyclerie du Val d'Yvette")
        r = browser_submit(member, f"{wiki_b.url}?BazaR&vue=saisir&action=saisir_fiche&id={wiki_b.form_id}",
                           {"bf_titre": name, "bf_ville": "Orsay", "bf_codepostal": "91400"},
                           live_web.form_controls)
        assert r.status_code == 302, f"web create: HTTP {r.status_code}"
        jobs = handled_since(server, 0, lambda js: any(j.full_run is not None for j in js))
        assert wiki_a.titles() == [name]
        b_id, _ = wiki_b.by_title(name)
        # what the full run wrote back into B (its INSEE code) came back as an edit hook: our own echo
        assert all(j.entries == {("tel", b_id): "unchanged"} for j in jobs if j.full_run is None), jobs

        # the member edits it in B: `edit` -> that record alone is synced to A
        mark = len(server.worker.jobs)
        wiki_b.member_edit(b_id, {"bf_horaires": "Mo-Fr 09:00-18:00"})
        jobs = handled_since(server, mark, lambda js: any("done" in j.entries.values() for j in js))
        assert [j.entries for j in jobs][0] == {("tel", b_id): "done"} and all(j.full_run is None for j in jobs)
        assert wiki_a.by_title(name)[1]["bf_horaires"] == "Mo-Fr 09:00-18:00"

        # a member edits A (no extension there); the timer's run writes B through the edit handler, and B's
        # extension posts that save back while the run holds the lock: queued, then seen as our own echo
        a_id, _ = wiki_a.by_title(name)
        wiki_a.member_edit(a_id, {"bf_horaires": "Sa 10:00-12:00"})
        mark = len(server.worker.jobs)
        with one_run_at_a_time(cfg):
            sync_once(cfg, store, build_instances(cfg))
            assert len(server.worker.jobs) == mark  # the hook waits for the lock
        assert wiki_b.by_title(name)[1]["bf_horaires"] == "Sa 10:00-12:00"
        jobs = handled_since(server, mark, lambda js: bool(js))
        assert [j.entries for j in jobs] == [{("tel", b_id): "unchanged"}]
    finally:
        server.stop()
