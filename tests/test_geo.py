import csv
import gzip
from pathlib import Path

import pytest

from oscartes_sync import geo

SHARED_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "communes-france.csv"


def test_counts_and_attribution():
    communes = geo.all_communes()
    assert len(communes) == 194
    assert all(c.insee.startswith("91") for c in communes)
    sources = (Path(geo.__file__).parent / "data" / "SOURCES.md").read_text(encoding="utf-8")
    assert geo.ATTRIBUTION in sources


def test_by_insee():
    c = geo.commune_by_insee("91692")
    assert c.name == "Les Ulis"
    assert c.postcodes == ("91940",)
    assert c.epci_name == "CA Communauté Paris-Saclay"
    assert c.population and c.population > 20000
    assert c.lat == pytest.approx(48.68168) and c.lon == pytest.approx(2.18643)
    assert geo.commune_by_insee(" 91692 ") is c
    assert geo.commune_by_insee("75056") is None  # outside Essonne
    assert geo.commune_by_insee("") is None
    assert geo.commune_by_insee(None) is None


def test_by_postcode():
    names = sorted(c.name for c in geo.communes_by_postcode("91400"))
    assert names == ["Gometz-la-Ville", "Orsay", "Saclay"]  # one postcode, several communes
    evry = geo.communes_by_postcode("91080")
    assert [c.name for c in evry] == ["Évry-Courcouronnes"]
    assert geo.communes_by_postcode("91000")[0].postcodes == ("91000", "91080")
    assert geo.communes_by_postcode("75001") == []
    assert geo.communes_by_postcode(None) == []


@pytest.mark.parametrize("typed, official", [
    ("st michel sur orge", "Saint-Michel-sur-Orge"),
    ("SAINT-MICHEL-SUR-ORGE", "Saint-Michel-sur-Orge"),
    ("Ulis", "Les Ulis"),
    ("les ulis", "Les Ulis"),
    ("evry courcouronnes", "Évry-Courcouronnes"),
    ("Gif sur Yvette", "Gif-sur-Yvette"),
    ("Saint Germain les Corbeil", "Saint-Germain-lès-Corbeil"),
    ("viry-chatillon", "Viry-Châtillon"),
    ("  Bièvres ", "Bièvres"),
])
def test_by_name(typed, official):
    c = geo.commune_by_name(typed)
    assert c is not None and c.name == official


def test_by_name_with_postcode_and_unknown():
    assert geo.commune_by_name("Orsay", "91400").insee == "91471"
    assert geo.commune_by_name("Orsay", "99999").insee == "91471"  # a wrong postcode does not hide the name
    assert geo.commune_by_name("Lyon") is None
    assert geo.commune_by_name("") is None


def test_name_key():
    assert geo.name_key("St-Michel-sur-Orge") == geo.name_key("Saint Michel sur Orge") == "saint michel sur orge"
    assert geo.name_key("L'Haÿ") == "hay"


def test_commune_without_coordinates(monkeypatch, tmp_path):
    f = tmp_path / "c.csv.gz"
    f.write_bytes(gzip.compress(
        "insee,name,department,department_name,epci_siren,epci_name,postcodes,latitude,longitude,population\n"
        "91999,Nouvelle-Commune,91,Essonne,,,91999,,,\n".encode("utf-8")))
    monkeypatch.setattr(geo, "DATA_FILE", f)
    geo._lines.cache_clear()
    geo._essonne.cache_clear()
    try:
        c = geo.commune_by_insee("91999")
        assert c.lat is None and c.lon is None and c.population is None and not c.has_point
        assert geo.commune_by_name("nouvelle commune") is c
    finally:
        geo._lines.cache_clear()
        geo._essonne.cache_clear()


def test_names_are_looked_up_inside_one_territory_only():
    """"Saint-Germain" names several communes of France, one of Essonne is not ambiguous there."""
    rhone = geo.CommuneIndex(geo.communes_where(department="69"))
    assert geo.commune_by_name("Lyon") is None and rhone.commune_by_name("Lyon").insee == "69123"
    assert rhone.commune_by_name("Orsay") is None and rhone.commune_by_insee("91471") is None
    assert rhone.insee_of("Villeurbanne") == "69266"
    assert rhone.resolve(None, "Villeurbanne").insee == rhone.resolve("69266", None).insee == "69266"


def test_every_commune_of_france_is_packaged_compressed():
    assert geo.DATA_FILE.name.endswith(".csv.gz")
    assert len(geo.departments()) == 109 and {"2A", "2B", "974"} <= set(geo.departments())
    lyon = geo.CommuneIndex(geo.communes_where(epci_siren="200046977"))
    assert len(lyon) == 58 and all(c.epci_name == "Métropole de Lyon" for c in lyon.all_communes())


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="../shared not available")
def test_same_rows_as_the_national_file():
    with SHARED_CSV.open(newline="", encoding="utf-8") as f:
        rows = {r["insee"]: r for r in csv.DictReader(f) if r["department"] == "91"}
    assert {c.insee for c in geo.all_communes()} == set(rows)
    for c in geo.all_communes():
        r = rows[c.insee]
        assert (c.epci_siren, c.department_name) == (r["epci_siren"], r["department_name"])
        assert c.name == r["name"] and " ".join(c.postcodes) == r["postcodes"]
