"""The review page on the real wikis of the rig, in a real browser (issue 15 item 3; skipped when the rig's
variables are unset, or when Debian's chromium and its chromedriver are not installed).

A conflict is made on the rig's two wikis (throw-away actor and decisions forms, random free ids, deleted with
their entries afterwards, as in test_sync_live.py), then headless Chromium opens wiki A's review page: refused
to an anonymous visitor and to a plain member who logs in through the page's own login form; an administrator
logs in the same way, follows the page's "Garder la valeur de tel" link, submits the prefilled form as a person
would, and the next `sync` writes that value to both wikis; the page then lists the conflict no more. Before
that, the plain member forged a decision (the form is open to anyone) and the administrator submitted a choice
that is no candidate: both are one line of the report, answered in the wiki, and change nothing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from oscartes_sync.app import build_instances, open_store, sync_once
from oscartes_sync.config import Config, StoreConfig, SyncConfig, WikiConfig
from oscartes_sync.publish.review_page import decision_url
from oscartes_sync.records import DECISIONS
from oscartes_sync.templates import render_form_template

pytestmark = pytest.mark.live

PREFIXES = {"polesnoe": "OSCARTES_LIVE_YESWIKI", "tel": "OSCARTES_LIVE_YESWIKI_B"}
NEEDED = ("URL", "TOKEN", "ADMIN_USER", "ADMIN_PASSWORD", "MEMBER_USER", "MEMBER_PASSWORD", "MEMBER_TOKEN")
HOURS_A, HOURS_B = "Mo-Fr 08:00-12:00", "Tu-Sa 14:00-18:00"
CHROMIUM = ("chromium", "chromium-browser")


def _browser_paths() -> tuple[str, str]:
    binary = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("headless browser not available: install Debian's chromium and chromium-driver "
                    f"(found chromium: {binary or 'no'}, chromedriver: {driver or 'no'})")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    return binary, driver


@pytest.fixture
def browser_paths():
    return _browser_paths()


class Browser:
    """One headless Chromium with a profile of its own (one person's cookies), driven through chromedriver."""

    def __init__(self, binary: str, driver: str):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="oscartes-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = binary
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     f"--user-data-dir={self.profile}"):
            opts.add_argument(flag)
        self.d = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
        self.d.set_page_load_timeout(60)

    def open(self, url: str) -> str:
        self.d.get(url)
        return self.d.page_source

    def log_in(self, user: str, password: str) -> str:
        """Through the login form the refused page shows, as a person would."""
        from selenium.webdriver.common.by import By

        form = self.d.find_element(By.CSS_SELECTOR, "form.login-form")
        form.find_element(By.NAME, "name").send_keys(user)
        form.find_element(By.NAME, "password").send_keys(password)
        form.find_element(By.CSS_SELECTOR, "[type=submit]").click()
        return self.d.page_source

    def follow(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        self.d.find_element(By.PARTIAL_LINK_TEXT, label).click()

    def submit_bazar_form(self) -> str:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        form = self.d.find_element(By.CSS_SELECTOR, "form#formulaire")
        form.find_element(By.CSS_SELECTOR, "[type=submit]").click()
        WebDriverWait(self.d, 30).until(ec.url_contains("message=ajout_ok"))
        return self.d.current_url

    def type_in(self, name: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        box = self.d.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)

    def field(self, name: str) -> str:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.NAME, name).get_attribute("value") or ""

    def close(self) -> None:
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class RigWiki:
    def __init__(self, name: str, env: dict[str, str], web, tag: str):
        p = PREFIXES[name]
        self.name, self.web = name, web
        self.url = env[f"{p}_URL"].rstrip("/") + "/"
        self.token, self.member_token = env[f"{p}_TOKEN"], env[f"{p}_MEMBER_TOKEN"]
        self.admin_user, self.admin_password = env[f"{p}_ADMIN_USER"], env[f"{p}_ADMIN_PASSWORD"]
        self.member_user, self.member_password = env[f"{p}_MEMBER_USER"], env[f"{p}_MEMBER_PASSWORD"]
        self.admin = web.WebAdmin(env, p)
        self.labels = (f"Oscartes test {tag}", f"Oscartes test {tag} décisions")
        free = self.admin.free_form_id()
        self.form_id = self.admin.create_form(self.labels[0], render_form_template("actor", {"actor": free}), free)
        self.decisions_id = self.admin.create_form(self.labels[1], render_form_template(DECISIONS.name, {}),
                                                   self.admin.free_form_id())

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def member_create(self, values: dict[str, str]) -> str:
        r = requests.post(f"{self.url}?api/entries/{self.form_id}", data={"listeListeVisibilite": "", **values},
                          headers=self.auth(self.member_token), timeout=30)
        assert r.status_code == 201
        return r.json()["success"].split("?", 1)[1]

    def member_edit(self, entry_id: str, changes: dict[str, str]) -> None:
        s = self.web.web_login(self.url, self.member_user, self.member_password)
        try:
            self.web.browser_edit(s, self.url, entry_id, changes)
        finally:
            s.close()

    def entries(self, form_id: str | None = None) -> dict[str, dict]:
        r = requests.get(f"{self.url}?api/forms/{form_id or self.form_id}/entries", headers=self.auth(self.token),
                         timeout=30)
        assert r.status_code == 200
        return r.json() or {}

    def by_title(self, title: str) -> tuple[str, dict]:
        [(i, e)] = [(i, e) for i, e in self.entries().items() if e.get("bf_titre") == title]
        return i, e

    def clean(self, page: str) -> None:
        try:
            mine = [fid for fid, f in self.admin.forms().items() if f.get("bn_label_nature") in self.labels]
            for fid in mine:
                self.admin.delete_entries(fid, self.token)
            for fid in mine:
                self.admin.delete_form(fid)
            self.admin.s.delete(f"{self.url}?api/pages/{page}", timeout=30)
        finally:
            self.admin.s.close()


@pytest.fixture
def rig(live_env, live_web, tmp_path, monkeypatch):
    env = live_web.hidden_env("OSCARTES_LIVE_YESWIKI")
    missing = [f"{p}_{k}" for p in PREFIXES.values() for k in NEEDED if not env.get(f"{p}_{k}")]
    if missing:
        pytest.skip(f"the rig's two wikis are not configured ({', '.join(missing)} unset)")
    tag = secrets.token_hex(3)
    page = f"RevueOscartesTest{tag.upper()}"
    wikis: dict[str, RigWiki] = {}
    try:
        for name in PREFIXES:
            wikis[name] = RigWiki(name, env, live_web, tag)
        confs = []
        for w in wikis.values():
            token_env, password_env = (f"OSCARTES_REVIEWTEST_{w.name.upper()}_{k}" for k in ("TOKEN", "PW"))
            monkeypatch.setenv(token_env, w.token)
            monkeypatch.setenv(password_env, w.admin_password)
            confs.append(WikiConfig(name=w.name, url=w.url, api_token_env=token_env, admin_user=w.admin_user,
                                    admin_password_env=password_env,
                                    forms={"actor": w.form_id, DECISIONS.name: w.decisions_id}))
        cfg = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}"),
                     sync=SyncConfig(kinds=["actor"], lock_file=str(tmp_path / "lock")), wiki=confs,
                     base_dir=str(tmp_path))
        cfg.publish.dashboards = False
        cfg.review.page = page
        store = open_store(cfg)
        yield cfg, store, wikis, tag
        store.close()
    finally:
        for w in wikis.values():
            w.clean(page)


def sync(cfg, store):
    instances = build_instances(cfg)
    try:
        return sync_once(cfg, store, instances)
    finally:
        for inst in instances.values():
            if inst.target is not None:
                inst.target.close()


def test_a_decision_taken_in_a_browser_on_the_review_page_settles_the_conflict_in_both_wikis(rig, browser_paths):
    cfg, store, wikis, tag = rig
    a, b = wikis["polesnoe"], wikis["tel"]
    title = f"Oscartes test {tag} Épicerie La Fourmi"
    aid = a.member_create({"bf_titre": title, "bf_ville": "Massy", "bf_codepostal": "91300"})
    assert sync(cfg, store).exit_code == 0
    bid, _ = b.by_title(title)
    a.member_edit(aid, {"bf_horaires": HOURS_A})
    b.member_edit(bid, {"bf_horaires": HOURS_B})
    made = sync(cfg, store)
    assert made.exit_code == 1
    [conflict] = store.conflicts("open")
    assert conflict.candidates == {"polesnoe": HOURS_A, "tel": HOURS_B}
    page_url = f"{a.url}?{cfg.review.page}"

    visitor = Browser(*browser_paths)
    try:
        shown = visitor.open(page_url)
        assert "autorisé à lire cette page" in shown and title not in shown and HOURS_A not in shown
        member_view = visitor.log_in(a.member_user, a.member_password)  # the page's own login form
        assert "autorisé à lire cette page" in visitor.open(page_url)
        assert title not in member_view and title not in visitor.d.page_source
        assert requests.get(f"{a.url}?api/pages/{cfg.review.page}", timeout=30).status_code == 403
        # the member forges a decision: the form is open to anyone, so the link is typed by hand
        visitor.open(decision_url(cfg.wiki[0], {"bf_titre": "Décision", "bf_sujet": f"conflit-{conflict.id}",
                                                "bf_choix": "polesnoe"}))
        visitor.submit_bazar_form()
    finally:
        visitor.close()

    person = Browser(*browser_paths)
    try:
        person.open(page_url)
        shown = person.log_in(a.admin_user, a.admin_password)
        if title not in shown:
            shown = person.open(page_url)
        assert title in shown and HOURS_A in shown and HOURS_B in shown, shown[:2000]
        person.follow("Garder la valeur de tel")  # first a slip: a choice that is no candidate
        person.type_in("bf_choix", "wikiz")
        person.submit_bazar_form()
        person.open(page_url)
        person.follow("Garder la valeur de tel")
        assert person.field("bf_sujet") == f"conflit-{conflict.id}" and person.field("bf_choix") == "tel"
        person.submit_bazar_form()

        settled = sync(cfg, store)
        assert a.by_title(title)[1]["bf_horaires"] == HOURS_B
        assert b.by_title(title)[1]["bf_horaires"] == HOURS_B
        done = store.conflict(conflict.id)
        assert done.status == "resolved" and done.resolved_by == f"{a.admin_user}@polesnoe"
        assert any(r.author == f"{a.admin_user}@polesnoe" for r in store.history(conflict.record_id))
        # the forged decision and the slip changed nothing: one line of the report each, answered in the wiki
        lines = [n["message"] for n in settled.report["notices"] if n["level"] == "attention"]
        forged = [m for m in lines if f"written by {a.member_user}, who is not an administrator" in m]
        slip = [m for m in lines if "'wikiz' is not a candidate" in m]
        assert len(forged) == 1 and len(slip) == 1 and len(lines) == 2, lines
        assert settled.exit_code == 1
        answers = sorted(e["bf_reponse"].split(" :")[0] for e in a.entries(a.decisions_id).values())
        assert answers == ["Appliquée", "Ignorée", "Refusée"], answers
        assert b.entries(b.decisions_id) == {}  # a decision is never copied to the other wiki

        after = person.open(page_url)
        assert "Garder la valeur" not in after and "Conflits (0)" in after.replace("\u200d", "")
        assert "Appliquée" in after
    finally:
        person.close()
