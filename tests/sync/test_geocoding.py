"""Placing records from their address (issue 19 part 2), against two emulated wikis and the sandbox's fake of the
national geocoder (real HTTP on 127.0.0.1, GeoCodeJSON answers): the real service is never called here."""

from __future__ import annotations

import pytest

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.geo import commune_by_insee
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store
from oscartes_sync.sync.model import GeoPoint, LinkState, Listing, Observed, PlanInput, RecordState
from oscartes_sync.sync.plan import plan

FORM = DEFAULT_FORM_IDS["actor"]


@pytest.fixture
def geo_sandbox():
    with start_sandbox(geocoder=True) as sb:
        yield sb


@pytest.fixture
def gcfg(geo_sandbox, tmp_path):
    config = geo_sandbox.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))
    config.publish.dashboards = False
    config.review.enabled = False  # these tests count the wikis' requests; the review page has tests of its own
    return config


@pytest.fixture
def gstore(gcfg):
    s = Store(gcfg.store_url())
    yield s
    s.close()


def run(cfg, store):
    return sync_once(cfg, store, build_instances(cfg))


def entry(title, street="", **extra):
    return {"bf_titre": title, "bf_adresse": street, "bf_ville": "Orsay", "bf_codepostal": "91400",
            "bf_insee": "91471", **extra}


def messages(result, level=None):
    return [n.message for n in result.result.notices if level is None or n.level == level]


def point(wiki, eid):
    e = wiki.read(eid)
    return (e.get("bf_latitude"), e.get("bf_longitude"))


def reset(sb):
    for w in sb.wikis.values():
        w.emulator.reset_log()
    sb.geocoder.reset_log()


def test_an_actor_with_an_address_and_no_pin_is_placed_in_every_wiki_by_the_geocoder(geo_sandbox, gcfg, gstore):
    a, b = geo_sandbox.wikis["polesnoe"], geo_sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Recyclerie", "12 rue de Paris"))
    result = run(gcfg, gstore)
    [rec] = gstore.records("actor")
    lat, lon = rec.fields["latitude"], rec.fields["longitude"]
    orsay = commune_by_insee("91471")
    assert abs(lat - orsay.lat) < 0.01 and abs(lon - orsay.lon) < 0.01 and (lat, lon) != (orsay.lat, orsay.lon)
    [bid] = b.list(FORM)
    for wiki, eid in ((a, aid), (b, bid)):
        assert tuple(map(float, point(wiki, eid))) == (lat, lon)  # on both wikis' maps
    last = gstore.history(rec.id)[-1]
    assert last.origin == "geocoder" and last.note.startswith("placed from its address (12 rue de Paris")
    assert any(m.startswith("placed from its address") for m in messages(result, "info"))
    assert geo_sandbox.geocoder.count("GET", "/search") == 1
    assert result.exit_code == 0


def test_a_quiet_run_asks_the_geocoder_nothing(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Recyclerie", "12 rue de Paris"))
    a.member_create(FORM, entry("Fablab", "nulle part"))  # refused by the geocoder: commune centre
    a.member_create(FORM, entry("Atelier", bf_latitude="48.7", bf_longitude="2.18"))  # a member's pin
    run(gcfg, gstore)
    reset(geo_sandbox)
    result = run(gcfg, gstore)
    assert geo_sandbox.geocoder.request_log == []
    for w in geo_sandbox.wikis.values():
        assert w.emulator.request_log == [("GET", f"/?api/forms/{FORM}/entries")]
    assert not result.result.outcome.applied


def test_a_pin_a_member_placed_is_never_moved(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Atelier", "3 avenue de la Gare", bf_latitude="48.7001", bf_longitude="2.1801"))
    run(gcfg, gstore)
    assert geo_sandbox.geocoder.request_log == []
    a.member_edit(aid, {"bf_adresse": "5 rue Neuve"})  # the address changes, the member's pin stays
    run(gcfg, gstore)
    assert point(a, aid) == ("48.7001", "2.1801")
    [rec] = gstore.records("actor")
    assert (rec.fields["latitude"], rec.fields["longitude"]) == (48.7001, 2.1801)


def test_the_service_moves_its_own_point_when_the_address_changes(geo_sandbox, gcfg, gstore):
    a, b = geo_sandbox.wikis["polesnoe"], geo_sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Épicerie", "12 rue de Paris"))
    run(gcfg, gstore)
    first = point(a, aid)
    a.member_edit(aid, {"bf_adresse": "40 boulevard Dubreuil"})
    run(gcfg, gstore)
    run(gcfg, gstore)  # the record holds the new address, then its point follows it
    [bid] = b.list(FORM)
    assert point(a, aid) != first and point(a, aid) == point(b, bid)
    assert [r.origin for r in gstore.history(gstore.records("actor")[0].id)].count("geocoder") == 2


def test_an_address_the_geocoder_cannot_place_gets_the_commune_centre_marked_approximate(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Fablab", "au fond du jardin"))
    result = run(gcfg, gstore)
    orsay = commune_by_insee("91471")
    assert tuple(map(float, point(a, aid))) == (round(orsay.lat, 6), round(orsay.lon, 6))
    assert any("could not be placed (only the commune was recognised)" in m for m in messages(result, "attention"))
    assert any(m == "placed at the centre of Orsay (approximate: only the commune was recognised)"
               for m in messages(result, "info"))
    assert result.exit_code == 1  # a person should correct the address
    reset(geo_sandbox)
    again = run(gcfg, gstore)
    assert geo_sandbox.geocoder.request_log == [] and again.exit_code == 0  # refused once, not asked again


def test_an_actor_with_only_a_commune_is_placed_at_its_centre_without_asking(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Collectif"))
    result = run(gcfg, gstore)
    assert geo_sandbox.geocoder.request_log == []
    assert point(a, aid)[0] is not None
    assert any("approximate: no street" in m for m in messages(result, "info"))


def test_an_unreachable_geocoder_places_nothing_and_the_next_run_does(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Recyclerie", "12 rue de Paris"))
    geo_sandbox.geocoder.inject("GET", "/search", "500", times=5)
    result = run(gcfg, gstore)
    assert point(a, aid) == (None, None) or point(a, aid) == ("", "")
    assert any(m.startswith("geocoder stopped (") for m in messages(result, "info"))
    run(gcfg, gstore)
    assert point(a, aid)[0]


def test_lookups_per_run_are_capped_and_the_rest_waits(geo_sandbox, gcfg, gstore):
    a = geo_sandbox.wikis["polesnoe"]
    for i in range(3):
        a.member_create(FORM, entry(f"Acteur {i}", f"{i + 1} rue de Paris"))
    gcfg.geocoding.max_per_run = 2
    run(gcfg, gstore)
    assert geo_sandbox.geocoder.count("GET", "/search") == 2
    assert sum(1 for r in gstore.records("actor") if r.fields["latitude"] is not None) == 2
    run(gcfg, gstore)
    assert all(r.fields["latitude"] is not None for r in gstore.records("actor"))


def test_geocoding_is_off_unless_the_config_turns_it_on(geo_sandbox, gcfg, gstore):
    gcfg.geocoding.enabled = False
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, entry("Recyclerie", "12 rue de Paris"))
    run(gcfg, gstore)
    assert geo_sandbox.geocoder.request_log == [] and not point(a, aid)[0]


def test_the_planner_places_from_the_table_it_receives_and_keeps_a_members_pin():
    """The planner stays pure: it consults `place_of` (a look-up table built before planning)."""
    here = GeoPoint(48.7, 2.2, "address", "placed from its address (x)")

    def inp(values, placed=None):
        obs = Observed("E1", values)
        return PlanInput(kind="actor", instances=("w",), fields_by_instance={"w": tuple(values)},
                         records={"r": RecordState("r", "actor", dict(values))},
                         links={("r", "w"): LinkState("r", "w", "E1", dict(values))},
                         listings={"w": Listing("w", {"E1": obs})}, open_conflicts={},
                         place_of=lambda v: here if v.get("street") else None, placed=placed or {},
                         address_fields=("street", "postcode", "commune", "insee"))

    base = {"name": "A", "street": "1 rue X", "commune": "Orsay", "latitude": None, "longitude": None}
    out = plan(inp(base), new_id=lambda: "new")
    assert [type(a).__name__ for a in out.actions] == ["PlaceRecord", "UpdateEntry"]
    assert out.actions[1].changes == {"latitude": 48.7, "longitude": 2.2}
    pinned = plan(inp({**base, "latitude": 48.1, "longitude": 2.1}), new_id=lambda: "new")
    assert pinned.actions == []
    no_street = plan(inp({**base, "street": None}), new_id=lambda: "new")
    assert no_street.actions == []


def test_the_geojson_export_says_which_points_are_only_the_communes_centre(geo_sandbox, gcfg, gstore):
    import json

    from oscartes_sync.publish.exports import build_exports

    a = geo_sandbox.wikis["polesnoe"]
    a.member_create(FORM, entry("Recyclerie", "12 rue de Paris"))
    a.member_create(FORM, entry("Collectif"))
    run(gcfg, gstore)
    features = json.loads(build_exports(gcfg, gstore).files["acteurs.geojson"])["features"]
    assert {f["properties"]["name"]: f["properties"]["position"] for f in features} == \
        {"Recyclerie": "adresse", "Collectif": "commune"}


def test_in_another_territory_an_actor_with_only_a_commune_is_placed_at_that_communes_centre(geo_sandbox, gcfg,
                                                                                            gstore, tmp_path):
    """The configured territory's communes (here the Rhône, territory.py) fill the INSEE code and give the
    commune centre; with Essonne's, a commune of the Rhône would stay unplaced."""
    from oscartes_sync import territory

    (tmp_path / "territory.json").write_text(territory.from_department("69").to_json(), encoding="utf-8")
    gcfg.base_dir, gcfg.territory.params = str(tmp_path), "territory.json"
    a = geo_sandbox.wikis["polesnoe"]
    aid = a.member_create(FORM, {"bf_titre": "Collectif de la Croix-Rousse", "bf_ville": "Villeurbanne",
                                 "bf_codepostal": "69100"})
    run(gcfg, gstore)
    lyon_side = territory.from_department("69").index.commune_by_insee("69266")
    assert a.read(aid).get("bf_insee") == "69266"
    assert (float(point(a, aid)[0]), float(point(a, aid)[1])) == (round(lyon_side.lat, 6), round(lyon_side.lon, 6))
    assert geo_sandbox.geocoder.request_log == []  # no street: the commune's centre, without asking
