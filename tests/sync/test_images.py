"""Images between wikis (DECISIONS §7, issue 19 part 1): a logo picked in one wiki reaches the other as a file,
compared by content hash, never sent again when unchanged, checked by its bytes and its size, and an empty value
coming back erases nothing the member did not remove."""

from __future__ import annotations

import hashlib
import re
import time

import requests

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.sync.files import state_key

FORM = DEFAULT_FORM_IDS["actor"]


def entry(title, **extra):
    return {"bf_titre": title, "bf_ville": "Orsay", "bf_codepostal": "91400", "bf_insee": "91471", **extra}


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def reset(sandbox):
    for w in sandbox.wikis.values():
        w.emulator.reset_log()


def logo_of(wiki, entry_id) -> bytes | None:
    name = wiki.read(entry_id).get("imagebf_logo")
    return wiki.emulator.files.get(name) if name else None


def only_entry(wiki, title):
    [(eid, _)] = [(i, e) for i, e in wiki.list(FORM).items() if e["bf_titre"] == title]
    return eid


def notices(result):
    return [n.message for n in result.result.notices]


def test_a_logo_picked_in_one_wiki_reaches_the_other_and_shows_on_its_page(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Recyclerie des Ulis"))
    run(cfg, store)
    png = make_png("red")
    a.member_upload(aid, "imagebf_logo", "logo recyclerie.png", png)
    result = run(cfg, store)
    bid = only_entry(b, "Recyclerie des Ulis")
    assert logo_of(b, bid) == png
    [rec] = store.records("actor")
    assert rec.fields["logo"] == "sha256:" + hashlib.sha256(png).hexdigest()
    # the member of the other wiki sees the name the member gave it, and the picture on the entry's page
    assert re.fullmatch(r"\w+_imagebf_logo_logo_recyclerie_\d{14}_\d{14}\.png", b.read(bid)["imagebf_logo"])
    page = requests.get(f"{b.url}?{bid}").text
    src = re.search(r'<img loading="lazy" src="([^"]+)"', page).group(1)
    shown = requests.get(src)
    assert shown.status_code == 200 and shown.headers["Content-Type"] == "image/png"
    assert result.exit_code == 0


def test_a_quiet_run_downloads_and_uploads_nothing(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    ids = [a.member_create(FORM, entry(f"Acteur {i}")) for i in range(3)]
    for i, eid in enumerate(ids):
        a.member_upload(eid, "imagebf_logo", f"logo{i}.png", make_png(("red", "green", "blue")[i]))
    run(cfg, store)
    assert all(logo_of(b, only_entry(b, f"Acteur {i}")) for i in range(3))
    reset(sandbox)
    result = run(cfg, store)
    for w in (a, b):
        assert w.emulator.request_log == [("GET", f"/?api/forms/{FORM}/entries")]
    assert not result.result.outcome.applied and result.exit_code == 0


def test_each_new_file_is_downloaded_once_and_sent_once(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Atelier vélo"))
    run(cfg, store)
    a.member_upload(aid, "imagebf_logo", "velo.png", make_png("red"))
    reset(sandbox)
    run(cfg, store)
    gets = [p for w in (a, b) for m, p in w.emulator.request_log if m == "GET" and p.startswith("/files/")]
    assert len(gets) == 1  # read once to hash it (and kept in memory to send it): never twice
    assert b.emulator.count("POST", "/edit") == 1
    # the member of the other wiki replaces it: one download there, one upload back, the old one not re-sent
    bid = only_entry(b, "Atelier vélo")
    b.member_upload(bid, "imagebf_logo", "velo2.png", make_png("navy"))
    reset(sandbox)
    run(cfg, store)
    assert logo_of(a, aid) == make_png("navy")
    gets = [(w.name, p) for w in (a, b) for m, p in w.emulator.request_log if m == "GET" and p.startswith("/files/")]
    assert [n for n, _ in gets] == ["tel"]
    assert a.emulator.count("POST", "/edit") == 1 and b.emulator.count("POST", "/edit") == 0


def test_the_same_picture_in_both_wikis_is_one_value_whatever_its_name(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    png = make_png("orange")
    aid = a.member_create(FORM, entry("Jardin des Sablons"))
    bid = b.member_create(FORM, entry("Jardin des Sablons"))
    a.member_upload(aid, "imagebf_logo", "jardin.png", png)
    b.member_upload(bid, "imagebf_logo", "Logo Jardin FINAL.png", png)
    reset(sandbox)
    result = run(cfg, store)
    assert len(store.records("actor")) == 1 and store.conflicts("open") == []
    assert b.emulator.count("POST", "/edit") == 0 and a.emulator.count("POST", "/edit") == 0
    assert result.exit_code == 0


def test_a_logo_the_member_removes_is_removed_in_the_other_wiki(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Repair café"))
    a.member_upload(aid, "imagebf_logo", "repair.png", make_png("red"))
    run(cfg, store)
    bid = only_entry(b, "Repair café")
    assert logo_of(b, bid)
    a.member_edit(aid, {"imagebf_logo": ""})
    run(cfg, store)
    assert b.read(bid)["imagebf_logo"] == ""
    [rec] = store.records("actor")
    assert rec.fields["logo"] is None
    assert any(r.fields.get("logo") for r in store.history(rec.id))  # the old value stays in the history


def test_a_file_that_is_not_an_image_is_named_not_copied_and_not_read_again(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Fablab"))
    run(cfg, store)
    a.member_upload(aid, "imagebf_logo", "logo.png", b"%PDF-1.4 not a picture at all")
    a.member_edit(aid, {"bf_horaires": "Mo-Fr 10:00-18:00"})
    result = run(cfg, store)
    bid = only_entry(b, "Fablab")
    assert b.read(bid)["bf_horaires"] == "Mo-Fr 10:00-18:00"  # the rest still syncs
    assert b.read(bid)["imagebf_logo"] == ""
    assert any(re.search(r"logo refused \(not an image", m) for m in notices(result)), notices(result)
    assert result.exit_code == 1
    reset(sandbox)
    again = run(cfg, store)
    assert a.emulator.count("GET", "/files/") == 0  # the refusal is remembered for that file
    assert any("logo refused (not an image" in m for m in notices(again))


def test_an_oversized_or_unaccepted_image_is_refused_with_its_reason(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    cfg.images.max_bytes = 20_000
    big = make_png("white", (1500, 1500), "JPEG") + b"\x00" * 30_000
    aid = a.member_create(FORM, entry("Grande affiche"))
    a.member_upload(aid, "imagebf_logo", "affiche.jpg", big, "image/jpeg")
    cid = a.member_create(FORM, entry("Bitmap"))
    a.member_upload(cid, "imagebf_logo", "vieux.png", make_png("red", fmt="BMP"))
    result = run(cfg, store)
    msgs = notices(result)
    assert any("logo refused (image too large (more than 20 kB" in m for m in msgs), msgs
    assert any("logo refused (image type BMP not accepted" in m for m in msgs), msgs
    # the large file was not downloaded whole: the download stopped past the limit
    assert len(store.records("actor")) == 2
    assert all(b.read(e)["imagebf_logo"] == "" for e in b.list(FORM))


def test_a_wiki_that_does_not_keep_the_logo_erases_nothing_and_is_not_written_forever(sandbox, cfg, store,
                                                                                      make_png, monkeypatch):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Tiers-lieu"))
    run(cfg, store)
    monkeypatch.setattr(b.emulator, "_store_upload", lambda *args: "")  # e.g. a PHP upload limit there
    a.member_upload(aid, "imagebf_logo", "tiers.png", make_png("red"))
    result = run(cfg, store)
    assert any("logo was sent to entry" in m and "did not keep it" in m for m in notices(result))
    assert logo_of(a, aid) == make_png("red")  # the empty value that came back erased nothing
    [rec] = store.records("actor")
    assert rec.fields["logo"]
    reset(sandbox)
    run(cfg, store)
    assert b.emulator.count("POST", "/edit") == 0 and a.emulator.count("POST", "/edit") == 0
    assert logo_of(a, aid) == make_png("red")


def test_a_logo_whose_source_vanished_is_sent_later_and_the_rest_is_written(sandbox, cfg, store, make_png):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Ressourcerie"))
    run(cfg, store)
    a.member_upload(aid, "imagebf_logo", "r.png", make_png("red"))
    a.member_edit(aid, {"bf_horaires": "Sa 10:00-12:00"})
    b.emulator.inject("GET", r"api/forms/.*/entries", "500")  # the other wiki is down: the logo is only hashed
    run(cfg, store)
    a.emulator.inject("GET", r"^/files/", "html200")  # then the file is missing when it is fetched to be sent
    result = run(cfg, store)
    bid = only_entry(b, "Ressourcerie")
    assert b.read(bid)["bf_horaires"] == "Sa 10:00-12:00"
    assert b.read(bid)["imagebf_logo"] == ""
    assert any(m.startswith("logo not sent (") for m in notices(result)), notices(result)
    assert result.exit_code == 1
    run(cfg, store)
    assert logo_of(b, bid) == make_png("red")


def test_the_file_cache_keeps_only_the_names_still_listed(sandbox, cfg, store, make_png):
    a = sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Épicerie"))
    first = a.member_upload(aid, "imagebf_logo", "a.png", make_png("red"))
    run(cfg, store)
    assert set(store.get_state(state_key("polesnoe", "actor"))) == {first}
    time.sleep(1.1)
    second = a.member_upload(aid, "imagebf_logo", "b.png", make_png("blue"))
    run(cfg, store)
    assert first not in store.get_state(state_key("polesnoe", "actor"))
    assert second in store.get_state(state_key("polesnoe", "actor"))


def test_open_data_exports_give_a_public_url_of_the_logo_not_its_hash(sandbox, cfg, store, make_png):
    from oscartes_sync.publish.exports import build_exports
    import json

    a = sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Coworking La Fabrique"))
    a.member_upload(aid, "imagebf_logo", "fabrique.png", make_png("purple"))
    run(cfg, store)
    rows = json.loads(build_exports(cfg, store).files["acteurs.json"])["data"]
    [row] = rows
    assert row["logo"].startswith(a.url + "files/")
    got = requests.get(row["logo"])
    assert got.status_code == 200 and got.content == make_png("purple")
