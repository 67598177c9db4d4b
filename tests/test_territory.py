"""A territory's parameters: built from a department or an intercommunality code out of the packaged reference
data of every French commune, read from a parameters file, and refused with a clear message when they cannot
be used."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from oscartes_sync import geo, territory
from oscartes_sync.config import ConfigError, load_config

SHARED_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "communes-france.csv"


def test_a_department_gives_its_communes_list_its_map_view_and_its_name():
    rhone = territory.from_department("69", networks=["Réseau Alpha", "Beta"])
    assert rhone.name == "Rhône" and rhone.scope == {"department": "69"}
    assert len(rhone.communes) == 266 and all(c.department == "69" for c in rhone.communes)
    assert rhone.communes_list_id == "ListeCommunes69"
    assert rhone.communes_list()["values"]["69123"] == "Lyon"
    assert [n.key for n in rhone.networks] == ["reseau-alpha", "beta"]
    assert rhone.networks_list()["values"] == {"reseau-alpha": "Réseau Alpha", "beta": "Beta", "autre": "Autre réseau"}
    # the view shows every commune that has a point
    points = [c for c in rhone.communes if c.has_point]
    lat, lon, zoom = rhone.map.lat, rhone.map.lon, rhone.map.zoom
    assert min(c.lat for c in points) < lat < max(c.lat for c in points)
    assert min(c.lon for c in points) < lon < max(c.lon for c in points)
    assert zoom == 9  # 0.85° of latitude on a 600 px map: zoom 10 would cut it
    assert rhone.insee_of("Villeurbanne") == "69266" and rhone.insee_of("Orsay") is None


def test_codes_are_read_as_people_type_them():
    assert territory.from_department("1").name == "Ain"
    assert territory.from_department(" 2a ").communes_list_id == "ListeCommunes2a"
    assert territory.from_department("974").map.lat < 0
    paris = territory.from_department("75")
    assert len(paris.communes) == 1 and paris.map.zoom == territory.MAX_ZOOM  # one point: a town's scale


def test_an_intercommunality_by_its_siren():
    lyon = territory.from_epci("200046977")
    assert lyon.name == "Métropole de Lyon" and len(lyon.communes) == 58 and lyon.scope == {"epci": "200046977"}
    saclay = territory.from_epci("200056232")
    assert {c.department for c in saclay.communes} <= {"91", "78"} and "91471" in {c.insee for c in saclay.communes}


@pytest.mark.parametrize("call, message", [
    (lambda: territory.from_department("99"), "unknown department code '99'"),
    (lambda: territory.from_department("XX"), "unknown department code 'XX'"),
    (lambda: territory.from_epci("123"), "not an intercommunality code"),
    (lambda: territory.from_epci("999999999"), "unknown intercommunality 999999999"),
])
def test_an_unknown_code_is_named(call, message):
    with pytest.raises(territory.TerritoryError, match=message):
        call()


def test_a_commune_without_coordinates_stays_in_the_lists_with_a_note():
    rhone = territory.from_department("69")
    [missing] = rhone.without_point()
    assert (missing.insee, missing.name) == ("69114", "Porte des Pierres Dorées")
    assert "69114" in rhone.communes_list()["values"] and rhone.insee_of("Porte des Pierres Dorées") == "69114"
    [note] = rhone.notes
    assert "Porte des Pierres Dorées (69114) has no coordinates" in note and "map extent" in note


def test_a_territory_where_no_commune_has_coordinates_cannot_centre_its_map():
    with pytest.raises(territory.TerritoryError, match="no commune of department 987 has coordinates.*--params"):
        territory.from_department("987")


def test_the_origin_is_essonne_as_the_two_networks_set_it_up():
    essonne = territory.origin()
    assert essonne.name == "Essonne" and len(essonne.communes) == 194
    assert [n.label for n in essonne.networks] == ["PôleS NOE", "Territoires en Liens"]
    assert essonne.communes_list_id == "ListeCommunes91" and essonne.map.params() == ("48.52", "2.24", "10")
    assert essonne.networks_list()["values"] == {"polesnoe": "PôleS NOE", "tel": "Territoires en Liens",
                                                 "autre": "Autre réseau"}


def test_the_parameters_file_round_trips(tmp_path):
    rhone = territory.from_department("69", networks=["Réseau Alpha"])
    path = tmp_path / "territory.json"
    path.write_text(rhone.to_json(), encoding="utf-8")
    back = territory.load(path)
    assert back.to_json() == rhone.to_json()
    assert back.communes_list() == rhone.communes_list() and back.map == rhone.map
    assert back.notes  # the commune without coordinates is noted again


def _params(**changes):
    data = json.loads(territory.from_department("91").to_json())
    data.update(changes)
    return data


def _write(tmp_path, data) -> Path:
    path = tmp_path / "territory.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("data, message", [
    ("{not json", "not JSON (line 1"),
    ({"name": "x"}, 'not a territory parameters file'),
    (_params(format_version=99), "format version 99, newer than this oscartes-sync reads"),
    (_params(communes=[]), "communes: List should have at least 1 item"),
    (_params(networks=[{"key": "autre", "label": "Autre"}]), "kept for \"Autre réseau\""),
    (_params(map={"lat": 95, "lon": 2, "zoom": 10}), "map.lat"),
    (_params(communes=[{"insee": "91001", "name": "A", "lat": 48.3}]), "give both lat and lon"),
    (_params(communes=[{"insee": "9100", "name": "A"}]), "communes[1].insee"),
    (_params(communes=[{"insee": "91001", "name": "A"}, {"insee": "91001", "name": "B"}]), "appears twice"),
    (_params(colour="blue"), "colour: Extra inputs are not permitted"),
])
def test_a_malformed_parameters_file_is_named_with_the_place(tmp_path, data, message):
    with pytest.raises(territory.TerritoryError) as exc:
        territory.load(_write(tmp_path, data))
    assert message in str(exc.value) and "territory.json" in str(exc.value)


def test_a_missing_parameters_file(tmp_path):
    with pytest.raises(territory.TerritoryError, match="parameters file not found"):
        territory.load(tmp_path / "nope.json")


def test_a_hand_written_file_may_leave_the_map_out_but_then_needs_a_point(tmp_path):
    data = _params()
    del data["map"]
    assert territory.load(_write(tmp_path, data)).map.zoom == 10
    data["communes"] = [{"insee": "91001", "name": "Nouvelle commune"}]
    with pytest.raises(territory.TerritoryError, match="no commune of .*territory.json has coordinates"):
        territory.load(_write(tmp_path, data))


def test_the_config_reads_its_territory_and_refuses_a_bad_one(tmp_path):
    (tmp_path / "territory.json").write_text(territory.from_department("69").to_json(), encoding="utf-8")
    cfg_file = tmp_path / "oscartes.toml"
    cfg_file.write_text('[territory]\nparams = "territory.json"\n', encoding="utf-8")
    assert load_config(cfg_file).local_territory().name == "Rhône"
    (tmp_path / "territory.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[territory\] params: .*territory.json: not JSON"):
        load_config(cfg_file)
    cfg_file.write_text("", encoding="utf-8")
    assert load_config(cfg_file).local_territory().name == "Essonne"  # the default


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="../shared not available")
def test_the_packaged_reference_data_is_the_national_file():
    with SHARED_CSV.open(newline="", encoding="utf-8") as f:
        rows = {r["insee"]: r for r in csv.DictReader(f)}
    packaged = {c.insee: c for d in geo.departments() for c in geo.communes_where(department=d)}
    assert packaged.keys() == rows.keys()
    for code, r in rows.items():
        c = packaged[code]
        assert (c.name, c.department, c.department_name, c.epci_siren, c.epci_name, " ".join(c.postcodes)) == \
               (r["name"], r["department"], r["department_name"], r["epci_siren"], r["epci_name"], r["postcodes"])
        assert c.lat == (float(r["latitude"]) if r["latitude"] else None)
        assert c.population == (int(r["population"]) if r["population"] else None)
    assert sum(1 for c in packaged.values() if not c.has_point) == 106
