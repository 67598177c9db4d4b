"""`serve`, the webhook trigger (DECISIONS §17): hooks as the YesWiki webhooks extension sends them (contract §13,
fixtures webhooks_01-03), checked and answered at once, the entry's record synced afterwards under the run lock,
echoes and replays costing one read, bursts coalesced, and nothing deleted on a guess."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
from filelock import FileLock

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.serve import MAX_BODY, Server
from oscartes_sync.store import Store

FORM = DEFAULT_FORM_IDS["actor"]
SECRETS = {"polesnoe": "a" * 64, "tel": "b" * 64}


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def message(action: str, entry_id: str, title: str = "WH", form: int = int(FORM), user: str = "MembreActif",
            base: str = "http://127.0.0.1:8082/?") -> bytes:
    """The `yeswiki` format's body, as PHP's json_encode writes it (webhooks_01-03: body_raw)."""
    data = {"bf_titre": title, "id_typeannonce": str(form), "id_fiche": entry_id,
            "date_maj_fiche": "2026-12-02 08:02:30"}
    if action == "delete":
        data["url"] = f"{base}{entry_id}"
    verb = {"add": "AJOUT", "edit": "MODIFICATION", "delete": "SUPPRESSION"}[action]
    body = {"action": action, "user": user, "text": f"**{verb}** Fiche \"{title}\" de type \"Acteurs\"",
            "data_type": "bazar", "bazar_form_id": form, "data": data, "base_url": base}
    return json.dumps(body).replace("/", "\\/").encode()


class Hooks:
    def __init__(self, sandbox, tmp_path: Path, settle: float = 0.0):
        self.sandbox = sandbox
        self.cfg = sandbox.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))
        self.cfg.publish.dashboards = False
        for w in self.cfg.wiki:
            w.hook_secret_env = f"HOOKTEST_{w.name.upper()}"
            os.environ[w.hook_secret_env] = SECRETS[w.name]
        self.server = Server(self.cfg, "127.0.0.1", 0, settle=settle).start()
        self.lock = tmp_path / "lock"

    def post(self, wiki: str, body: bytes, *, secret: str | None = "", headers: dict | None = None,
             query: str = "", method: str = "POST") -> requests.Response:
        h = {"Content-Type": "application/json", "User-Agent": "GuzzleHttp/6.5.5 curl/7.88.1 PHP/8.2.36",
             "Connection": "Close", **(headers or {})}
        if secret is not None:
            h["Authorization"] = f"Bearer {secret or SECRETS.get(wiki, 'x')}"
        return requests.request(method, f"{self.server.url}hook/{wiki}{query}", data=body, headers=h, timeout=10)

    def full_sync(self):
        with Store(self.cfg.store_url()) as s:
            return sync_once(self.cfg, s, build_instances(self.cfg))

    def store(self) -> Store:
        return Store(self.cfg.store_url())

    def wiki(self, name):
        return self.sandbox.wikis[name]

    def ids(self, name):
        return {e["bf_titre"]: i for i, e in self.wiki(name).list(FORM).items()}

    def idle(self):
        assert self.server.wait_idle(30), "the worker did not finish"

    def reset(self):
        for w in self.sandbox.wikis.values():
            w.emulator.reset_log()

    def writes(self):
        return {n: w.emulator.count("POST", "api/entries") + w.emulator.count("POST", "/edit")
                + w.emulator.count("DELETE") for n, w in self.sandbox.wikis.items()}

    def stop(self):
        self.server.stop()


@pytest.fixture
def hooks(sandbox, tmp_path):
    h = Hooks(sandbox, tmp_path)
    yield h
    h.stop()


@pytest.fixture
def synced(hooks):
    """Two actors in both wikis, linked, after one full run."""
    a = hooks.wiki("polesnoe")
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940"))
    a.member_create(FORM, entry("AMAP des Coteaux"))
    assert hooks.full_sync().exit_code == 0
    return hooks


# ---- what reaches the sync ---------------------------------------------------------------------------------


def test_an_edit_hook_syncs_that_record_to_the_other_wiki_at_once(synced):
    h = synced
    eid = h.ids("polesnoe")["Recyclerie des Ulis"]
    h.wiki("polesnoe").member_edit(eid, {"bf_horaires": "Mo-Fr 09:00-18:00"})
    h.reset()
    resp = h.post("polesnoe", message("edit", eid, "Recyclerie des Ulis"))
    assert resp.status_code == 202 and resp.json() == {"queued": eid}
    h.idle()
    # one record, not a full run: no listing anywhere, one read of each of its entries
    for w in h.sandbox.wikis.values():
        assert w.emulator.count("GET", "/entries") == 0
    assert h.writes() == {"polesnoe": 0, "tel": 1}
    copy = h.wiki("tel").read(h.ids("tel")["Recyclerie des Ulis"])
    assert copy["bf_horaires"] == "Mo-Fr 09:00-18:00"
    with h.store() as s:
        run = s.runs(1)[0]
        assert run.report["trigger"] == {"hook": "polesnoe", "entry": eid}
        rec = next(r for r in s.records("actor") if r.fields["name"] == "Recyclerie des Ulis")
        assert rec.fields["opening_hours"] == "Mo-Fr 09:00-18:00"


def test_the_echo_of_its_own_write_costs_one_read_and_writes_nothing(synced):
    h = synced
    eid = h.ids("polesnoe")["AMAP des Coteaux"]
    h.wiki("polesnoe").member_edit(eid, {"bf_chapeau": "Paniers bio du vendredi"})
    h.post("polesnoe", message("edit", eid, "AMAP des Coteaux"))
    h.idle()
    # the service wrote tel's entry through its edit handler: the extension there posts that save back
    tel_id = h.ids("tel")["AMAP des Coteaux"]
    h.reset()
    runs_before = len(h.store().runs(100))
    resp = h.post("tel", message("edit", tel_id, "AMAP des Coteaux", user="WikiAdmin"))
    assert resp.status_code == 202
    h.idle()
    assert h.server.worker.jobs[-1].entries == {("tel", tel_id): "unchanged"}
    assert h.wiki("tel").emulator.count("GET") == 1 and h.wiki("polesnoe").emulator.count() == 0
    assert h.writes() == {"polesnoe": 0, "tel": 0}
    assert len(h.store().runs(100)) == runs_before  # nothing happened: no run recorded


def test_a_replayed_hook_changes_nothing(synced):
    h = synced
    eid = h.ids("polesnoe")["Recyclerie des Ulis"]
    h.wiki("polesnoe").member_edit(eid, {"bf_site_internet": "https://recyclerie.example"})
    body = message("edit", eid, "Recyclerie des Ulis")
    assert h.post("polesnoe", body).status_code == 202
    h.idle()
    h.reset()
    for _ in range(3):
        assert h.post("polesnoe", body).status_code == 202
        h.idle()
    assert [j.entries for j in h.server.worker.jobs[-3:]] == [{("polesnoe", eid): "unchanged"}] * 3
    assert h.writes() == {"polesnoe": 0, "tel": 0}


def test_hooks_during_a_run_wait_for_the_lock_and_a_burst_is_handled_once(synced):
    h = synced
    ids = h.ids("polesnoe")
    x, y = ids["Recyclerie des Ulis"], ids["AMAP des Coteaux"]
    h.wiki("polesnoe").member_edit(x, {"bf_horaires": "Sa 10:00-12:00"})
    h.wiki("polesnoe").member_edit(y, {"bf_horaires": "Fr 17:00-19:00"})
    h.reset()
    with FileLock(str(h.lock)):  # a timer run in progress
        for _ in range(5):
            assert h.post("polesnoe", message("edit", x)).status_code == 202
        for _ in range(2):
            assert h.post("polesnoe", message("edit", y)).status_code == 202
        assert h.wiki("polesnoe").emulator.count() == 0  # nothing done while the lock is held
    h.idle()
    handled = {k: v for j in h.server.worker.jobs for k, v in j.entries.items()}
    assert handled[("polesnoe", x)] == "done" and handled[("polesnoe", y)] == "done"
    assert h.wiki("polesnoe").emulator.count("GET", f"api/pages/{x}") == 1  # five hooks, one re-read
    tel = h.ids("tel")
    assert h.wiki("tel").read(tel["Recyclerie des Ulis"])["bf_horaires"] == "Sa 10:00-12:00"
    assert h.wiki("tel").read(tel["AMAP des Coteaux"])["bf_horaires"] == "Fr 17:00-19:00"


def test_a_new_entry_runs_the_full_sync_with_its_duplicate_check(synced):
    h = synced
    new = h.wiki("polesnoe").member_create(FORM, entry("Atelier vélo Roue Libre", "Massy", "91300"))
    # the same actor, typed in tel meanwhile: the duplicate check must link them, not copy one more
    h.wiki("tel").member_create(FORM, entry("Atelier vélo Roue Libre", "Massy", "91300"))
    assert h.post("polesnoe", message("add", new, "Atelier vélo Roue Libre")).status_code == 202
    h.idle()
    job = h.server.worker.jobs[-1]
    assert job.full_run is not None and job.entries[("polesnoe", new)].startswith("full")
    for name in ("polesnoe", "tel"):
        titles = sorted(e["bf_titre"] for e in h.wiki(name).list(FORM).values())
        assert titles == ["AMAP des Coteaux", "Atelier vélo Roue Libre", "Recyclerie des Ulis"], name


def test_a_delete_hook_runs_the_full_sync_and_its_limits(synced):
    h = synced
    eid = h.ids("polesnoe")["AMAP des Coteaux"]
    h.wiki("polesnoe").member_delete(eid)
    assert h.post("polesnoe", message("delete", eid, "AMAP des Coteaux")).status_code == 202
    h.idle()
    assert h.server.worker.jobs[-1].full_run is not None
    assert sorted(h.ids("tel")) == ["Recyclerie des Ulis"]


def test_a_one_record_run_never_deletes_on_a_guess(synced):
    """tel's entry vanished without a hook (an API delete fires none): the hook of polesnoe's edit syncs the
    record where it can be read, and leaves the deletion to a full run and its limits."""
    h = synced
    eid = h.ids("polesnoe")["Recyclerie des Ulis"]
    h.wiki("tel").member_delete(h.ids("tel")["Recyclerie des Ulis"])
    h.wiki("polesnoe").member_edit(eid, {"bf_horaires": "Mo 10:00-12:00"})
    h.reset()
    h.post("polesnoe", message("edit", eid))
    h.idle()
    assert h.server.worker.jobs[-1].entries == {("polesnoe", eid): "done"}
    assert h.writes() == {"polesnoe": 0, "tel": 0}
    with h.store() as s:
        rec = next(r for r in s.records("actor", include_deleted=True) if r.fields["name"] == "Recyclerie des Ulis")
        assert not rec.deleted and rec.fields["opening_hours"] == "Mo 10:00-12:00"
        assert s.link(rec.id, "tel") is not None  # still linked: only a full run decides


def test_an_emptied_value_is_left_to_the_full_run_and_its_blanking_guard(synced):
    h = synced
    eid = h.ids("polesnoe")["AMAP des Coteaux"]
    h.wiki("polesnoe").member_edit(eid, {"bf_horaires": "Sa 10:00-12:00"})
    h.post("polesnoe", message("edit", eid))
    h.idle()
    h.wiki("polesnoe").member_edit(eid, {"bf_horaires": ""})
    h.post("polesnoe", message("edit", eid))
    h.idle()
    job = h.server.worker.jobs[-1]
    assert "emptied" in job.entries[("polesnoe", eid)] and job.full_run is not None


def test_a_hook_for_an_entry_not_linked_yet_runs_the_full_sync(synced):
    h = synced
    assert h.post("polesnoe", message("edit", "PasEncoreLiee")).status_code == 202
    h.idle()
    assert h.server.worker.jobs[-1].entries[("polesnoe", "PasEncoreLiee")].startswith("full")


# ---- what is refused, before anything is read -------------------------------------------------------------------


@pytest.mark.parametrize("case, status", [
    ("wrong secret", 401), ("missing secret", 401), ("other scheme", 401), ("secret of the other wiki", 401),
    ("unknown wiki", 404), ("secret in the query", 400), ("GET", 405),
])
def test_refused_hooks_queue_nothing(hooks, case, status):
    body = message("edit", "RecyclerieDesUlis")
    wiki, kw = "polesnoe", {}
    if case == "wrong secret":
        kw["secret"] = "a" * 63 + "b"
    elif case == "missing secret":
        kw["secret"] = None
    elif case == "other scheme":
        kw = {"secret": None, "headers": {"Authorization": f"Token {SECRETS['polesnoe']}"}}
    elif case == "secret of the other wiki":
        kw["secret"] = SECRETS["tel"]
    elif case == "unknown wiki":
        wiki = "autre"
    elif case == "secret in the query":
        kw = {"secret": None, "query": f"?bearer={SECRETS['polesnoe']}"}
    elif case == "GET":
        kw["method"] = "GET"
    resp = hooks.post(wiki, body, **kw)
    assert resp.status_code == status, resp.text
    assert "error" in resp.json() and SECRETS["polesnoe"] not in resp.text
    assert len(hooks.server.queue) == 0 and hooks.server.queue.idle


@pytest.mark.parametrize("body, words", [
    (b"not json", "not JSON"),
    (b"", "not a webhooks message"),
    (b"[1, 2]", "not a webhooks message"),
    (b'{"action": "edit", "data": {}}', "id_fiche"),
    (b'{"action": "edit", "bazar_form_id": 20, "data": {"id_fiche": "../../etc/passwd"}}', "id_fiche"),
    (b'{"action": "explode", "data": {"id_fiche": "Abc"}}', "unknown action"),
    (b'{"action": "edit", "data": {"id_fiche": ["Abc"]}}', "id_fiche"),
])
def test_malformed_bodies_are_400(hooks, body, words):
    resp = hooks.post("polesnoe", body)
    assert resp.status_code == 400 and words in resp.json()["error"]
    assert len(hooks.server.queue) == 0


def test_a_huge_body_is_413_without_being_read(hooks):
    big = b'{"action": "edit", "data": {"id_fiche": "Abc", "bf_description": "' + b"x" * (MAX_BODY * 4) + b'"}}'
    resp = hooks.post("polesnoe", big)
    assert resp.status_code == 413
    assert len(hooks.server.queue) == 0


def test_comments_and_forms_not_synced_are_acknowledged_and_ignored(hooks):
    comment = {"action": "comment.created", "user": "x", "text": "t", "data_type": "bazar",
               "bazar_form_id": "comments", "data": {"comment": {"tag": "Abc"}}}
    resp = hooks.post("polesnoe", json.dumps(comment).encode())
    assert resp.status_code == 200 and resp.json() == {"ignored": "comment"}
    resp = hooks.post("polesnoe", message("edit", "UneOffre", form=23))
    assert resp.status_code == 200 and "not synced" in resp.json()["ignored"]
    assert len(hooks.server.queue) == 0


def test_health_answers_for_monitoring(hooks):
    resp = requests.get(f"{hooks.server.url}health", timeout=5)
    assert resp.status_code == 200 and resp.json()["ok"] is True


def test_the_request_log_never_shows_a_secret_put_in_the_url(hooks, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="oscartes_sync.serve")
    hooks.post("polesnoe", message("edit", "Abc"), secret=None, query=f"?bearer={SECRETS['polesnoe']}")
    assert "POST /hook/polesnoe 400" in caplog.text
    assert SECRETS["polesnoe"] not in caplog.text


# ---- the command -----------------------------------------------------------------------------------------------


def test_serve_without_any_hook_secret_is_a_config_error(tmp_path):
    from test_cli import invoke

    path = tmp_path / "oscartes.toml"
    path.write_text('[[wiki]]\nname = "tel"\nurl = "http://127.0.0.1:9/"\napi_token_env = "T"\nadmin_user = "u"\n'
                    'admin_password_env = "P"\n', encoding="utf-8")
    ran = invoke(["--config", str(path), "serve"])
    assert ran.code == 2 and "hook_secret_env" in ran.stderr


def test_serve_on_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    from test_cli import invoke

    path = tmp_path / "oscartes.toml"
    path.write_text('[[wiki]]\nname = "tel"\nurl = "http://127.0.0.1:9/"\napi_token_env = "T"\nadmin_user = "u"\n'
                    'admin_password_env = "P"\nhook_secret_env = "H"\n', encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ran = invoke(["--config", str(path), "serve", "--port", str(port)], {"H": "x" * 40})
    assert ran.code == 2 and f"127.0.0.1:{port}" in ran.stderr


def test_a_one_record_run_keeps_what_the_store_knows_of_the_files_it_did_not_read(synced):
    """The image names a full run learnt (state files/<wiki>/<kind>) stay: a hook reads one entry, not the form."""
    h = synced
    key = "files/polesnoe/actor"
    known = {"logo_autre_fiche.png": {"sha256": "sha256:" + "0" * 64, "size": 10, "type": "image/png",
                                      "ext": "png", "label": "logo.png"}}
    with h.store() as s:
        s.set_state(key, known)
    eid = h.ids("polesnoe")["Recyclerie des Ulis"]
    h.wiki("polesnoe").member_edit(eid, {"bf_horaires": "Tu 10:00-12:00"})
    h.post("polesnoe", message("edit", eid))
    h.idle()
    assert h.server.worker.jobs[-1].entries == {("polesnoe", eid): "done"}
    with h.store() as s:
        assert s.get_state(key) == known


def test_a_one_record_run_serves_the_configured_territory(hooks, tmp_path):
    """In a territory that `kit apply` set up (here the Rhône), an edited commune gets its INSEE code from that
    territory's communes, as in a full run."""
    from oscartes_sync import territory

    h = hooks
    params = tmp_path / "territory.json"
    params.write_text(territory.from_department("69").to_json(), encoding="utf-8")
    h.cfg.territory.params = str(params)
    h.wiki("polesnoe").member_create(FORM, entry("Atelier vélo", "Villeurbanne", "69100"))
    assert h.full_sync().exit_code == 0
    eid = h.ids("polesnoe")["Atelier vélo"]
    assert h.wiki("tel").read(h.ids("tel")["Atelier vélo"])["bf_insee"] == "69266"
    h.wiki("polesnoe").member_edit(eid, {"bf_ville": "Vénissieux", "bf_codepostal": "69200"})
    h.post("polesnoe", message("edit", eid, "Atelier vélo"))
    h.idle()
    assert h.server.worker.jobs[-1].entries == {("polesnoe", eid): "done"}
    for name in ("polesnoe", "tel"):
        assert h.wiki(name).read(h.ids(name)["Atelier vélo"])["bf_insee"] == "69259", name
