"""Open-data exports: public fields only, licence and sources stated, byte-identical for an unchanged store, and
written to each emulated Nextcloud only when their content changed (or someone else changed them there)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

from oscartes_sync.publish.exports import build_exports, state_key
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds

from ncsample import CLOUDS, commune_fields

ULIS = commune_fields("Les Ulis")

FOLDER = "OSCARTES/Donnees-ouvertes"
SECRET_MAIL = b"prive@recyclerie-ulis.fr"
SECRET_PHONE = b"+33169000001"


def actor(name, **extra):
    fields = {"name": name, "short_description": f"{name}, une structure de l'Essonne.", "street": "1 rue Haute",
              **ULIS,
              "email": SECRET_MAIL.decode(), "phone": SECRET_PHONE.decode(), "siret": "73282932000074",
              "website": "https://recyclerie.example.org", "themes": ["economie-circulaire"],
              "services": ["recyclerie"], "contact_visibility": "membres"}
    fields.update(extra)
    return fields


@pytest.fixture
def ids(store):
    out = {"ulis": store.create_record("actor", actor("Recyclerie des Ulis"), author="t", origin="polesnoe"),
           "velo": store.create_record("actor", actor("Atelier Roue Libre", contact_visibility="public",
                                                      email="velo@rouelibre.fr", phone="+33169000002",
                                                      latitude=None, longitude=None, commune="Orsay",
                                                      postcode="91400", insee="91471"),
                                       author="t", origin="tel")}
    out["project"] = store.create_record("project", {"name": "Ressourcerie mobile", "carriers": [out["ulis"]],
                                                     "commune": "Les Ulis", "themes": ["economie-circulaire"]},
                                         author="t", origin="tel")
    out["offer"] = store.create_record("offer", {"name": "Service civique réemploi", "offer_kind": "service-civique",
                                                 "actor": [out["ulis"]], "contact": "rh@recyclerie-ulis.fr"},
                                       author="t", origin="tel")
    return out


def publish(cfg, store, clock, **kw):
    clock.advance(5)  # runs are minutes apart in real life; past the same-second window of DECISIONS §14
    return publish_nextclouds(cfg, store, clock=clock, **kw)


def files(sandbox, name="polesnoe-cloud"):
    nc = sandbox.nextclouds[name]
    return {f: nc.emulator.file(nc.user, f"{FOLDER}/{f}") for f in nc.emulator.listdir(nc.user, FOLDER)}


def test_exports_hold_public_fields_licence_and_sources(cfg, store, ids):
    out = build_exports(cfg, store).files
    assert {"acteurs.csv", "acteurs.json", "acteurs.geojson", "projets.csv", "projets.json", "projets.geojson",
            "offres.csv", "offres.json", "offres.geojson", "LICENCE.txt"} <= set(out)
    assert "evenements.csv" not in out  # no event in the store and events not synced
    everything = b"".join(out.values())
    assert SECRET_MAIL not in everything and SECRET_PHONE not in everything
    assert b"rh@recyclerie-ulis.fr" not in everything  # an offer's contact carries no public mark
    assert b"velo@rouelibre.fr" in everything and b"+33169000002" in everything
    for name in ("acteurs.json", "projets.json", "offres.json"):
        meta = json.loads(out[name])["metadata"]
        assert meta["licence"] == "CC BY-SA 4.0" and meta["licence_url"].startswith("https://creativecommons.org")
        assert "Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0" in meta["sources"]
    geo = json.loads(out["acteurs.geojson"])
    assert geo["type"] == "FeatureCollection" and geo["licence"] == "CC BY-SA 4.0"
    by_id = {f["id"]: f for f in geo["features"]}
    assert by_id[ids["ulis"]]["geometry"] == {"type": "Point", "coordinates": [ULIS["longitude"], ULIS["latitude"]]}
    assert by_id[ids["velo"]]["properties"]["position"] == "commune"  # no address point: the commune's
    licence = out["LICENCE.txt"].decode()
    assert "CC BY-SA 4.0" in licence and "Licence Ouverte 2.0" in licence and "acteurs.csv" in licence
    # a link to another record carries its name next to its id
    project = json.loads(out["projets.json"])["data"][0]
    assert project["carriers"] == [{"id": ids["ulis"], "name": "Recyclerie des Ulis"}]
    rows = list(csv.DictReader(io.StringIO(out["projets.csv"].decode())))
    assert rows[0]["carriers"] == "Recyclerie des Ulis" and rows[0]["carriers_ids"] == ids["ulis"]
    actors = list(csv.DictReader(io.StringIO(out["acteurs.csv"].decode())))
    assert [r["name"] for r in actors] == ["Atelier Roue Libre", "Recyclerie des Ulis"]
    assert "contact_visibility" not in actors[0]


def test_an_unchanged_store_gives_byte_identical_files(cfg, store, ids):
    first = build_exports(cfg, store).files
    store.create_record("actor", actor("AMAP des Coteaux"), author="t", origin="tel")
    second = build_exports(cfg, store).files
    assert second["acteurs.csv"] != first["acteurs.csv"]
    assert second["projets.csv"] == first["projets.csv"]
    assert build_exports(cfg, store).files == second


def test_data_inclusion_structures_are_validated_and_invalid_ones_named(cfg, store, ids):
    pytest.importorskip("data_inclusion.schema")
    bad = store.create_record("actor", actor("AB", siret=None), author="t", origin="tel")  # nom: 3 chars minimum
    out = build_exports(cfg, store)
    structures = json.loads(out.files["structures-data-inclusion.json"])
    assert sorted(s["nom"] for s in structures) == ["Atelier Roue Libre", "Recyclerie des Ulis"]
    assert all("courriel" not in s or s["courriel"] == "velo@rouelibre.fr" for s in structures)
    assert [rid for rid, msg in out.notices if "data·inclusion" in msg] == [bad]


def test_written_once_then_no_op_is_one_propfind_and_no_write(sandbox, cfg, store, clock, ids):
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    want = build_exports(cfg, store).files
    for name in CLOUDS:
        assert files(sandbox, name) == want
    link = res.links["polesnoe-cloud"]
    assert requests.get(link.replace("/index.php/s/", "/s/") + "/download", allow_redirects=False).status_code == 303
    publish(cfg, store, clock)  # reads back, once, the files written less than 2 s before the last look
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    for name, nc in sandbox.nextclouds.items():
        assert res.requests[name] == {"REPORT addressbook": 1, "PROPFIND files": 2}  # exports and articles folders
        assert nc.emulator.count("PUT") == 0 and nc.emulator.count("GET") == 0
    assert res.links["polesnoe-cloud"] == link  # the same public link, created once
    assert len([s for s in sandbox.nextclouds["polesnoe-cloud"].emulator.shares.values()
                if s.share_type == 3 and s.path == "/OSCARTES/Donnees-ouvertes"]) == 1


def test_a_changed_record_rewrites_only_the_files_that_changed(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    publish(cfg, store, clock)
    rec = store.record(ids["velo"])
    store.update_record(ids["velo"], {**rec.fields, "website": "https://rouelibre.org"}, author="t", origin="tel")
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    publish(cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    written = sorted(p.rsplit("/", 1)[-1] for m, p in nc.emulator.request_log if m == "PUT" and FOLDER in p)
    assert written == ["acteurs.csv", "acteurs.geojson", "acteurs.json", "structures-data-inclusion.json"] or \
        written == ["acteurs.csv", "acteurs.geojson", "acteurs.json"]
    assert b"https://rouelibre.org" in files(sandbox)["acteurs.csv"]


def test_a_file_changed_or_removed_in_nextcloud_is_written_again(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    publish(cfg, store, clock)
    want = build_exports(cfg, store).files
    nc = sandbox.nextclouds["polesnoe-cloud"]
    s = requests.Session()
    s.auth = (nc.user, nc.password)
    base = f"{nc.url}remote.php/dav/files/{nc.user}/{FOLDER}/"
    clock.advance(5)
    assert s.put(base + "acteurs.csv", data=b"id,name\r\nx,vandalised\r\n").status_code == 204
    assert s.delete(base + "offres.json").status_code == 204
    res = publish(cfg, store, clock)
    assert files(sandbox) == want
    assert any("acteurs.csv was changed in Nextcloud" in n.message for n in res.notices)


def test_a_same_second_edit_with_an_unchanged_etag_is_still_caught(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    want = build_exports(cfg, store).files
    nc = sandbox.nextclouds["polesnoe-cloud"]
    # someone rewrites the file within the second of our write, same size: the file ETag does not move
    original = want["projets.csv"]
    same_size = original.replace(b"Ressourcerie mobile", b"Ressourcerie MOBILE")
    assert len(same_size) == len(original) and same_size != original
    node = nc.emulator.files[nc.user][tuple(f"{FOLDER}/projets.csv".split("/"))]
    etag = node.etag
    nc.emulator.put_file(nc.user, f"{FOLDER}/projets.csv", same_size, mtime=node.mtime)
    assert node.etag == etag and nc.emulator.file(nc.user, f"{FOLDER}/projets.csv") == same_size
    publish(cfg, store, clock)
    assert files(sandbox)["projets.csv"] == original


def test_a_412_on_an_export_write_is_no_crash_and_settles_next_run(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    publish(cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]

    def race(app):
        fired = []

        def wrapped(environ, start_response):
            if environ["REQUEST_METHOD"] == "PUT" and environ.get("PATH_INFO", "").endswith("/acteurs.json") \
                    and not fired:
                fired.append(1)
                clock.advance(1)
                nc.emulator.put_file(nc.user, f"{FOLDER}/acteurs.json", b"{}")
            return app(environ, start_response)
        return wrapped

    nc.server.wrap(race)
    rec = store.record(ids["velo"])
    store.update_record(ids["velo"], {**rec.fields, "name": "Atelier Roue Libre Orsay"}, author="t", origin="tel")
    res = publish(cfg, store, clock)
    assert "polesnoe-cloud" not in res.instance_errors
    assert any("acteurs.json" in n.message and "412" in n.message for n in res.notices)
    publish(cfg, store, clock)
    assert files(sandbox) == build_exports(cfg, store).files


def test_a_folder_name_nextcloud_refuses_is_one_clear_message(sandbox, cfg, store, clock, ids):
    bad = cfg.nextcloud[0].model_copy(update={"exports_folder": "OSCARTES/export.part"})
    cfg = cfg.model_copy(update={"nextcloud": [bad, cfg.nextcloud[1]]})
    res = publish(cfg, store, clock)
    msg = res.instance_errors["polesnoe-cloud"]
    assert "'OSCARTES/export.part'" in msg and ".part" in msg
    nc = sandbox.nextclouds["polesnoe-cloud"]
    assert len(nc.emulator.cards(nc.user, "oscartes")) == 2  # the address book still synced
    assert "tel-cloud" not in res.instance_errors and files(sandbox, "tel-cloud")


def test_state_remembers_what_was_written(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    state = store.get_state(state_key("tel-cloud"))
    assert state["folder"] == FOLDER and state["link"]
    assert set(state["files"]) == set(build_exports(cfg, store).files)
