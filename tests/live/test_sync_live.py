"""The sync engine end to end against real YesWikis (OSCARTES_LIVE_YESWIKI_*; skipped when unset).

Wiki A is the real wiki of OSCARTES_LIVE_YESWIKI_URL. Wiki B is the real wiki of OSCARTES_LIVE_YESWIKI_B_URL when
the _B_ variables are set, else an emulated wiki (sandbox.new_wiki), so that the test runs with only the
PRODUCT.md §5 variables. Each test gets a throw-away actor form on each real wiki ("Oscartes test <tag>",
random free id in 9000-9999), created and deleted through the admin web UI; every entry of those forms is
deleted with the admin token afterwards, whatever the outcome. Members act as a browser would: entries through
the API with the member's token, edits through the Bazar edit form of a logged-in member session.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from oscartes_sync.app import RunSummary, build_instances, open_store, sync_once
from oscartes_sync.config import Config, StoreConfig, SyncConfig, WikiConfig
from oscartes_sync.templates import render_form_template

pytestmark = pytest.mark.live

A_PREFIX, B_PREFIX = "OSCARTES_LIVE_YESWIKI", "OSCARTES_LIVE_YESWIKI_B"
# Request families of YesWikiClient.stats that write an entry (a login is not a write).
WRITE_FAMILIES = ("POST create", "POST edit", "DELETE page")


@dataclass
class Wiki:
    """One wiki of the test, real or emulated, seen through HTTP only."""

    name: str
    url: str
    token: str = field(repr=False)
    admin_user: str
    admin_password: str = field(repr=False)
    member_user: str
    member_password: str = field(repr=False)
    member_token: str = field(repr=False)
    form_id: str
    web: Any = field(repr=False)  # the live_web helpers of conftest.py

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def member_create(self, values: dict[str, str]) -> str:
        # The Bazar form posts its select empty here (the test wiki has no ListeVisibilite list, so the select
        # offers only ''); left out, the real wiki would store the field's default 'membres' instead.
        values = {"listeListeVisibilite": "", **values}
        r = requests.post(f"{self.url}?api/entries/{self.form_id}", data=values,
                          headers=self._auth(self.member_token), timeout=30)
        assert r.status_code == 201, f"{self.name}: member create HTTP {r.status_code}"
        return r.json()["success"].split("?", 1)[1]

    def member_edit(self, entry_id: str, changes: dict[str, str]) -> None:
        session = self.web.web_login(self.url, self.member_user, self.member_password)
        try:
            self.web.browser_edit(session, self.url, entry_id, changes)
        finally:
            session.close()

    def member_upload(self, entry_id: str, field: str, filename: str, data: bytes, ctype: str = "image/png") -> None:
        session = self.web.web_login(self.url, self.member_user, self.member_password)
        try:
            self.web.browser_edit(session, self.url, entry_id, {}, files={field: (filename, data, ctype)})
        finally:
            session.close()

    def member_delete(self, entry_id: str) -> None:
        # The member owns the entries they created: DELETE ?api/pages/{id} with their token (contract §3.6).
        r = requests.delete(f"{self.url}?api/pages/{entry_id}", headers=self._auth(self.member_token), timeout=30)
        assert r.status_code == 200, f"{self.name}: member delete HTTP {r.status_code}"

    def entries(self) -> dict[str, dict[str, Any]]:
        r = requests.get(f"{self.url}?api/forms/{self.form_id}/entries", headers=self._auth(self.token), timeout=30)
        assert r.status_code == 200
        body = r.json()
        return body if isinstance(body, dict) else {}

    def titles(self) -> list[str]:
        return sorted(e.get("bf_titre", "") for e in self.entries().values())

    def by_title(self, title: str) -> tuple[str, dict[str, Any]]:
        found = [(i, e) for i, e in self.entries().items() if e.get("bf_titre") == title]
        assert len(found) == 1, f"{self.name}: {len(found)} entries titled {title!r}"
        return found[0]


def _member(env: dict[str, str], prefix: str, admin: tuple[str, str, str]) -> tuple[str, str, str]:
    """The member's (user, password, token); the admin's when the rig gives no member (only §5 variables)."""
    vals = tuple(env.get(f"{prefix}_MEMBER_{k}", "") for k in ("USER", "PASSWORD", "TOKEN"))
    return vals if all(vals) else admin  # type: ignore[return-value]


def _real_wiki(name: str, prefix: str, tag: str, web):
    env = web.hidden_env(prefix)
    admin = web.WebAdmin(env, prefix)
    form_id = admin.free_form_id()
    token = env[f"{prefix}_TOKEN"]
    creds = (env[f"{prefix}_ADMIN_USER"], env[f"{prefix}_ADMIN_PASSWORD"], token)
    label = f"Oscartes test {tag}"
    try:
        admin.create_form(label, render_form_template("actor", {"actor": form_id}), form_id)
        yield Wiki(name, admin.base, token, creds[0], creds[1], *_member(env, prefix, creds), form_id,
                   web=web)
    finally:
        # By label, not by the id asked for: a failed create may have landed elsewhere (contract §4).
        mine = [fid for fid, f in admin.forms().items() if f.get("bn_label_nature") == label]
        try:
            for fid in mine:
                admin.delete_entries(fid, token)
        finally:
            for fid in mine:
                admin.delete_form(fid)
            assert not set(mine) & set(admin.forms())
            admin.s.close()


@pytest.fixture
def tag() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def wiki_a(live_env, live_web, tag):
    yield from _real_wiki("polesnoe", A_PREFIX, tag, live_web)


@pytest.fixture
def wiki_b(live_env, live_web, tag):
    if all(os.environ.get(f"{B_PREFIX}_{k}") for k in ("URL", "TOKEN", "ADMIN_USER", "ADMIN_PASSWORD")):
        yield from _real_wiki("tel", B_PREFIX, tag, live_web)
        return
    from oscartes_sync.config import DEFAULT_FORM_IDS
    from oscartes_sync.sandbox.sandbox import new_wiki

    sb = new_wiki("tel")
    try:
        yield Wiki("tel", sb.url, sb.token, sb.admin_user, sb.admin_password, sb.member_user, sb.member_password,
                   sb.member_token, DEFAULT_FORM_IDS["actor"], web=live_web)
    finally:
        sb.server.stop()


@pytest.fixture
def cfg(wiki_a, wiki_b, tmp_path, monkeypatch) -> Config:
    wikis = []
    for w in (wiki_a, wiki_b):
        token_env, password_env = f"OSCARTES_LIVETEST_{w.name.upper()}_TOKEN", f"OSCARTES_LIVETEST_{w.name.upper()}_PW"
        monkeypatch.setenv(token_env, w.token)
        monkeypatch.setenv(password_env, w.admin_password)
        wikis.append(WikiConfig(name=w.name, url=w.url, api_token_env=token_env, admin_user=w.admin_user,
                                admin_password_env=password_env, forms={"actor": w.form_id}))
    config = Config(store=StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}"),
                    sync=SyncConfig(kinds=["actor"], lock_file=str(tmp_path / "lock")), wiki=wikis,
                    base_dir=str(tmp_path))
    # these tests count entry writes, and dashboard pages would outlive the throw-away form
    config.publish.dashboards = False
    config.review.enabled = False  # and listings; the review page has its own live test (test_review_live.py)
    return config


@pytest.fixture
def store(cfg):
    s = open_store(cfg)
    yield s
    s.close()


def run(cfg: Config, store) -> RunSummary:
    instances = build_instances(cfg)
    try:
        return sync_once(cfg, store, instances)
    finally:
        for inst in instances.values():
            if inst.target is not None:
                inst.target.close()


def writes(summary: RunSummary) -> dict[str, dict[str, int]]:
    return {name: {f: n for f, n in counts.items() if f in WRITE_FAMILIES and n}
            for name, counts in summary.stats.items()}


def write_actions(summary: RunSummary) -> list:
    """The remote writes applied, for assertion messages."""
    return [a for a in summary.result.outcome.applied if a.writes_remote]


def attention(summary: RunSummary, instance: str) -> list[str]:
    return [n["message"] for n in summary.report["notices"] if n["level"] == "attention" and n["instance"] == instance]


# The same actor in both wikis (same title, same commune); each copy carries what the other lacks.
SHARED = "Recyclerie du Val d'Yvette"
A_ONLY = ("Atelier vélo Roue Libre", "Épicerie solidaire La Fourmi")
B_ONLY = ("Jardin partagé des Sablons",)


def title(tag: str, name: str) -> str:
    return f"Oscartes test {tag} {name}"


def seed_and_sync(a: Wiki, b: Wiki, cfg: Config, store, tag: str) -> RunSummary:
    a.member_create({"bf_titre": title(tag, SHARED), "bf_ville": "Orsay", "bf_codepostal": "91400",
                     "bf_site_internet": "https://recyclerie.example.org/", "bf_latitude": "48.6985",
                     "bf_longitude": "2.1871"})
    a.member_create({"bf_titre": title(tag, A_ONLY[0]), "bf_ville": "Palaiseau", "bf_codepostal": "91120",
                     "bf_chapeau": "Atelier de réparation participative."})
    a.member_create({"bf_titre": title(tag, A_ONLY[1]), "bf_ville": "Massy", "bf_codepostal": "91300",
                     "bf_mail": "fourmi@example.org"})
    b.member_create({"bf_titre": title(tag, SHARED), "bf_ville": "Orsay", "bf_codepostal": "91400",
                     "bf_horaires": "Mo-Fr 09:00-18:00"})
    b.member_create({"bf_titre": title(tag, B_ONLY[0]), "bf_ville": "Les Ulis", "bf_codepostal": "91940",
                     "bf_description": "Un jardin ouvert à tous."})
    return run(cfg, store)


def test_first_sync_links_the_shared_actor_and_copies_the_others(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    summary = seed_and_sync(a, b, cfg, store, tag)
    assert summary.exit_code == 0, summary.report["notices"]
    assert len(store.records("actor")) == 4
    expected = sorted(title(tag, n) for n in (SHARED, *A_ONLY, *B_ONLY))
    assert a.titles() == expected and b.titles() == expected  # 4 each, none twice
    assert not store.conflicts("open") and not store.review_items("open")
    # the shared actor was linked, not copied: each side gained what the other had
    for w in (a, b):
        _, shared = w.by_title(title(tag, SHARED))
        assert shared["bf_site_internet"] == "https://recyclerie.example.org/"
        assert shared["bf_horaires"] == "Mo-Fr 09:00-18:00"
        assert (shared["bf_latitude"], shared["bf_longitude"]) == ("48.6985", "2.1871")
    assert b.by_title(title(tag, A_ONLY[1]))[1]["bf_mail"] == "fourmi@example.org"
    assert a.by_title(title(tag, B_ONLY[0]))[1]["bf_description"] == "Un jardin ouvert à tous."
    # creates of the copies, the shared actor's fill-ins, and the INSEE code written back to each member's
    # entry (the copies carry it from the start)
    assert writes(summary) == {"polesnoe": {"POST create": 1, "POST edit": 3},
                               "tel": {"POST create": 2, "POST edit": 2}}, write_actions(summary)
    # what the wikis stored of our writes is what we expected: nothing left to do
    idle = run(cfg, store)
    assert idle.stats == {"polesnoe": {"GET list": 1}, "tel": {"GET list": 1}}, write_actions(idle)
    assert idle.exit_code == 0 and not idle.result.outcome.applied


def test_member_web_edit_reaches_the_other_wiki_with_one_write_then_nothing_to_do(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    seed_and_sync(a, b, cfg, store, tag)
    a_id, _ = a.by_title(title(tag, SHARED))
    a.member_edit(a_id, {"bf_horaires": "Mo-Sa 10:00-19:00"})
    assert a.by_title(title(tag, SHARED))[1]["bf_latitude"] == "48.6985"  # the browser re-sent the map

    summary = run(cfg, store)
    assert summary.exit_code == 0, summary.report["notices"]
    _, shared_b = b.by_title(title(tag, SHARED))
    assert shared_b["bf_horaires"] == "Mo-Sa 10:00-19:00"
    assert (shared_b["bf_latitude"], shared_b["bf_longitude"]) == ("48.6985", "2.1871")
    assert shared_b["bf_site_internet"] == "https://recyclerie.example.org/"
    assert writes(summary) == {"polesnoe": {}, "tel": {"POST edit": 1}}, write_actions(summary)

    idle = run(cfg, store)
    assert idle.exit_code == 0
    assert idle.stats == {"polesnoe": {"GET list": 1}, "tel": {"GET list": 1}}
    assert not idle.result.outcome.applied


def test_same_field_edited_differently_in_both_wikis_is_a_conflict_and_nothing_changes(wiki_a, wiki_b, cfg, store,
                                                                                      tag):
    a, b = wiki_a, wiki_b
    seed_and_sync(a, b, cfg, store, tag)
    a_id, _ = a.by_title(title(tag, SHARED))
    b_id, _ = b.by_title(title(tag, SHARED))
    a.member_edit(a_id, {"bf_horaires": "Mo-Fr 08:00-12:00"})
    b.member_edit(b_id, {"bf_horaires": "Tu-Sa 14:00-18:00"})
    before = {w.name: w.entries() for w in (a, b)}

    summary = run(cfg, store)
    assert summary.exit_code == 1
    [conflict] = store.conflicts("open")
    assert conflict.field == "opening_hours"
    assert conflict.candidates == {"polesnoe": "Mo-Fr 08:00-12:00", "tel": "Tu-Sa 14:00-18:00"}
    assert writes(summary) == {"polesnoe": {}, "tel": {}}, write_actions(summary)
    assert {w.name: w.entries() for w in (a, b)} == before


def test_deletion_in_a_is_propagated_to_b(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    seed_and_sync(a, b, cfg, store, tag)
    gone = title(tag, A_ONLY[1])
    a_id, _ = a.by_title(gone)
    a.member_delete(a_id)

    summary = run(cfg, store)
    assert summary.exit_code == 0, summary.report["notices"]
    assert gone not in b.titles() and len(b.titles()) == 3
    assert writes(summary) == {"polesnoe": {}, "tel": {"DELETE page": 1}}, write_actions(summary)
    assert len(store.records("actor")) == 3
    [deleted] = [r for r in store.records("actor", include_deleted=True) if r.deleted]
    assert deleted.fields["name"] == gone


def test_refused_member_values_are_reported_and_not_copied(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    name = title(tag, "Tiers-lieu La Ruche")
    a_id = a.member_create({"bf_titre": name, "bf_ville": "Évry-Courcouronnes", "bf_codepostal": "91000",
                            "bf_site_internet": "javascript:alert(1)", "bf_latitude": "abc", "bf_longitude": "2.2",
                            "bf_horaires": "Mo-Fr 09:00-17:00"})
    summary = run(cfg, store)
    assert summary.exit_code == 1
    _, copy = b.by_title(name)
    assert copy["bf_horaires"] == "Mo-Fr 09:00-17:00"  # the rest of the entry is copied
    assert copy["bf_site_internet"] == ""
    assert copy.get("bf_latitude") in ("", None) and "geolocation" not in copy
    messages = attention(summary, "polesnoe")
    assert any("website" in m and a_id in m for m in messages), messages
    assert any("latitude" in m and a_id in m for m in messages), messages
    # the member's own entry is left as they wrote it, for a person to fix
    _, source = a.by_title(name)
    assert (source["bf_site_internet"], source["bf_latitude"]) == ("javascript:alert(1)", "abc")


def test_refused_value_in_a_member_web_edit_is_not_written_over_the_other_copy(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    name = title(tag, "Ressourcerie du Hurepoix")
    a_id = a.member_create({"bf_titre": name, "bf_ville": "Arpajon", "bf_codepostal": "91290",
                            "bf_site_internet": "https://ressourcerie.example.org/"})
    assert run(cfg, store).exit_code == 0
    a.member_edit(a_id, {"bf_site_internet": "javascript:alert(document.cookie)", "bf_horaires": "Sa 09:00-13:00"})

    summary = run(cfg, store)
    assert summary.exit_code == 1
    _, copy = b.by_title(name)
    assert copy["bf_horaires"] == "Sa 09:00-13:00"  # the valid part of the edit goes through
    assert copy["bf_site_internet"] == "https://ressourcerie.example.org/"
    assert any("website" in m and a_id in m for m in attention(summary, "polesnoe"))
    assert writes(summary) == {"polesnoe": {}, "tel": {"POST edit": 1}}, write_actions(summary)


def test_a_logo_picked_in_one_real_wiki_shows_in_the_other_and_a_quiet_run_moves_no_file(wiki_a, wiki_b, cfg,
                                                                                          store, tag, make_png):
    """Issue 19: the logo crosses as a file (multipart through the edit handler), shows on the entry's page of
    the other wiki (its thumbnail answers 200 with an image type), and is neither downloaded nor sent again."""
    a, b = wiki_a, wiki_b
    name = title(tag, "Atelier logo")
    a_id = a.member_create({"bf_titre": name, "bf_ville": "Orsay", "bf_codepostal": "91400"})
    assert run(cfg, store).exit_code == 0
    png = make_png("teal", (120, 80))
    a.member_upload(a_id, "imagebf_logo", "logo atelier.png", png)

    summary = run(cfg, store)
    assert summary.exit_code == 0, summary.report["notices"]
    b_id, copy = b.by_title(name)
    stored = requests.get(f"{b.url}files/{copy['imagebf_logo']}", timeout=30)
    assert stored.status_code == 200 and stored.content == png
    assert copy["imagebf_logo"].startswith(f"{b_id}_imagebf_logo_logo_atelier_")  # the member's file name
    page = requests.get(f"{b.url}?{b_id}", timeout=30).text
    src = re.search(r'<img loading="lazy" src="([^"]+)"', page).group(1)
    shown = requests.get(src, timeout=30)
    assert shown.status_code == 200 and shown.headers["Content-Type"].startswith("image/"), src
    assert writes(summary) == {"polesnoe": {}, "tel": {"POST edit": 1}}, write_actions(summary)
    assert summary.stats["polesnoe"].get("GET file") == 1 and not summary.stats["tel"].get("GET file")

    idle = run(cfg, store)
    assert idle.stats == {"polesnoe": {"GET list": 1}, "tel": {"GET list": 1}}, write_actions(idle)
    assert idle.exit_code == 0


def test_a_text_file_named_png_in_a_real_wiki_is_refused_by_its_bytes(wiki_a, wiki_b, cfg, store, tag):
    a, b = wiki_a, wiki_b
    name = title(tag, "Faux logo")
    a_id = a.member_create({"bf_titre": name, "bf_ville": "Orsay", "bf_codepostal": "91400"})
    a.member_upload(a_id, "imagebf_logo", "logo.png", b"this is no picture")  # the wiki checks the name only
    summary = run(cfg, store)
    assert summary.exit_code == 1
    assert any("logo refused (not an image" in m and a_id in m for m in attention(summary, "polesnoe"))
    assert b.by_title(name)[1]["imagebf_logo"] == ""


def test_one_association_entered_in_both_wikis_before_the_first_sync_is_one_record(wiki_a, wiki_b, cfg, store, tag):
    """Issue 14: two members enter the same association, each in their wiki and their way (the real wikis' pair:
    same postcode and town, pins 40 m apart; here with a typo too), before the first sync. Afterwards it is one
    record with both entries linked, nothing copied; a look-alike with words added waits for a person, copied
    nowhere."""
    a, b = wiki_a, wiki_b
    same_a = f"Les Jardins Partagés de l'Yvette {tag}"
    same_b = f"Association les jardins partages de l Yvete {tag}"  # a typo too: no longer the same title
    look_alike = f"Jardins Partagés de l'Yvette {tag} du Moulin"
    a_id = a.member_create({"bf_titre": same_a, "bf_ville": "Gif-sur-Yvette", "bf_codepostal": "91190",
                            "bf_latitude": "48.70130", "bf_longitude": "2.13140", "bf_telephone": "01 69 10 20 30"})
    b_id = b.member_create({"bf_titre": same_b, "bf_ville": "GIF SUR YVETTE", "bf_codepostal": "91190",
                            "bf_latitude": "48.70160", "bf_longitude": "2.13180",
                            "bf_telephone": "+33 1 69 10 20 30", "bf_mail": "jardins@yvette.example"})
    b_look = b.member_create({"bf_titre": look_alike, "bf_ville": "Gif-sur-Yvette", "bf_codepostal": "91190"})

    summary = run(cfg, store)
    assert summary.exit_code == 1  # the look-alike waits for a person
    [record] = store.records("actor")
    assert {(l.instance, l.remote_id) for l in store.links(record_id=record.id)} == {("polesnoe", a_id), ("tel", b_id)}
    assert "linked (names 75% alike, same commune, pins 44 m apart, same phone)" in store.history(record.id)[-1].note
    # one place, one phone: no conflict; the typo is a real disagreement on the name, for a person to settle
    assert [(c.field, c.candidates) for c in store.conflicts("open")] == [("name", {"polesnoe": same_a,
                                                                                     "tel": same_b})]
    [item] = store.review_items("open")
    assert (item.instance, item.remote_id, item.candidates[0][0]) == ("tel", b_look, record.id)
    # nothing copied twice, and the look-alike copied nowhere
    assert a.titles() == [same_a] and b.titles() == sorted([same_b, look_alike])
    assert not any(n for counts in writes(summary).values() for f, n in counts.items() if f == "POST create")
    assert a.by_title(same_a)[1]["bf_mail"] == "jardins@yvette.example"  # what b had and a lacked
    idle = run(cfg, store)
    assert idle.stats == {"polesnoe": {"GET list": 1}, "tel": {"GET list": 1}}, write_actions(idle)
