import pytest

from oscartes_sync.identity import MatchResult, match
from oscartes_sync.normalise import title as normalise_title


@pytest.mark.parametrize("a, b", [
    ("Association Les Jardins de Massy", "Jardins de Massy (asso)"),
    ("Recyclerie du Val d'Yvette", "RECYCLERIE DU VAL D’YVETTE"),
    ("L'Atelier Vélo Roue Libre", "Atelier velo - Roue Libre"),
    ("Assoc. des Amis de la Terre Essonne", "Amis de la Terre Essonne"),
    ("Épicerie collaborative La Clé des Champs", "Epicerie collaborative la clé des champs"),
    ("Le Repair Café de Palaiseau", "Repair café de Palaiseau"),
    ("SCIC Énergies Citoyennes", "Énergies citoyennes SCIC"),
    ("Café & Compagnie", "Café et Compagnie"),
    ("asso Les Petits Débrouillards", "Les petits débrouillards"),
])
def test_normalise_title_same(a, b):
    assert normalise_title(a) == normalise_title(b)


@pytest.mark.parametrize("a, b", [
    ("Jardins de Massy", "Jardins d'Orsay"),
    ("AMAP des Coteaux", "AMAP du Plateau"),
    ("La Ressourcerie", "La Recyclerie"),
])
def test_normalise_title_different(a, b):
    assert normalise_title(a) != normalise_title(b)


def test_normalise_title_details():
    assert normalise_title("  Les   Jardins  de  Massy!! ") == "jardins de massy"
    assert normalise_title("Association") == "association"  # nothing left: keep the words
    assert normalise_title("") == ""
    assert normalise_title(None) == ""
    assert normalise_title("Collectif Vélo 91") == "collectif velo 91"


def rec(name, commune=None, postcode=None, insee=None, siret=None):
    d = {"name": name}
    for k, v in (("commune", commune), ("postcode", postcode), ("insee", insee), ("siret", siret)):
        if v is not None:
            d[k] = v
    return d


STORE = [
    ("r-jardins", rec("Association Les Jardins de Massy", "Massy", "91300", "91377")),
    ("r-recyclerie", rec("Recyclerie du Val d'Yvette", "Gif-sur-Yvette", "91190", siret="73282932000074")),
    ("r-repair-orsay", rec("Repair Café", "Orsay", "91400")),
    ("r-amap", rec("AMAP des Coteaux", "Saint-Michel-sur-Orge", "91240")),
    ("r-velo", rec("Atelier vélo Roue Libre", "Évry-Courcouronnes", "91000")),
]


def test_same_title_same_commune_is_sure():
    r = match(rec("Jardins de Massy (asso)", "MASSY"), STORE)
    assert r.sure == "r-jardins"
    assert all(rid != "r-jardins" for rid, _ in r.likely)


def test_same_title_same_postcode_is_sure():
    r = match(rec("Les jardins de Massy", postcode="91300"), STORE)
    assert r.sure == "r-jardins"


def test_same_title_same_insee_is_sure():
    r = match(rec("Jardins de Massy", insee="91377"), STORE)
    assert r.sure == "r-jardins"


def test_commune_spelling_does_not_matter():
    r = match(rec("AMAP des coteaux", "st michel sur orge"), STORE)
    assert r.sure == "r-amap"
    r = match(rec("Atelier Velo Roue Libre", "evry courcouronnes"), STORE)
    assert r.sure == "r-velo"


def test_same_siret_is_sure_whatever_the_title():
    r = match(rec("Ressourcerie de la Vallée", "Orsay", siret="732 829 320 00074"), STORE)
    assert r.sure == "r-recyclerie"


def test_invalid_siret_never_matches():
    store = [("a", rec("Alpha", "Orsay", siret="12345678901234")), ("b", rec("Beta", "Massy", siret="12345678901234"))]
    r = match(rec("Gamma", "Igny", siret="12345678901234"), store)
    assert r == MatchResult(None, [])


def test_homonyms_in_different_communes_are_not_sure():
    r = match(rec("Repair Café", "Palaiseau", "91120"), STORE)
    assert r.sure is None
    assert r.likely == [("r-repair-orsay", 100.0)]  # ≥ 95 anywhere: a person decides


def test_homonyms_with_different_sirets_are_not_sure():
    store = [("a", rec("Repair Café", "Orsay", siret="73282932000074"))]
    r = match(rec("Repair Café", "Orsay", siret="35600000000048"), store)
    assert r.sure is None
    assert [rid for rid, _ in r.likely] == ["a"]


def test_close_title_in_same_place_is_likely():
    r = match(rec("Les Jardins de Massi", "Massy"), STORE)  # a typo
    assert r.sure is None
    assert [rid for rid, _ in r.likely] == ["r-jardins"]
    assert 85 <= r.likely[0][1] < 95


def test_close_title_elsewhere_is_not_likely():
    r = match(rec("Les Jardins de Massi", "Bièvres", "91570"), STORE)
    assert r == MatchResult(None, [])


def test_title_contained_in_another_is_likely_anywhere():
    # token_set_ratio scores a title whose words are all in the other at 100: worth a look, never sure.
    r = match(rec("Jardins partagés de Massy", "Bièvres"), STORE)
    assert r.sure is None
    assert r.likely == [("r-jardins", 100.0)]


def test_distinct_actor_matches_nothing():
    r = match(rec("Coworking Le Hangar", "Corbeil-Essonnes", "91100"), STORE)
    assert r == MatchResult(None, [])


def test_no_place_and_no_siret_is_never_sure():
    r = match(rec("Recyclerie du Val d'Yvette"), STORE)
    assert r.sure is None
    assert r.likely == [("r-recyclerie", 100.0)]


def test_likely_sorted_by_score_then_id():
    store = [
        ("z", rec("Jardins de Massy", "Orsay")),
        ("b", rec("Les Jardins de Massy", "Igny")),
        ("c", rec("Jardin de Massi", "Massy")),
    ]
    r = match(rec("Jardins de Massy", "Massy"), store)
    assert r.sure is None
    ids = [rid for rid, _ in r.likely]
    assert ids[:2] == ["b", "z"]  # both 100, by id
    assert ids[2] == "c"
    assert r.likely[0][1] >= r.likely[2][1]


def test_second_sure_candidate_is_reported_as_likely():
    store = [("a", rec("AMAP des Coteaux", "Orsay")), ("b", rec("AMAP des coteaux", "Orsay"))]
    r = match(rec("Amap des Coteaux", "Orsay"), store)
    assert r.sure == "a"
    assert [rid for rid, _ in r.likely] == ["b"]


def test_siret_and_title_pointing_to_different_records():
    store = [("s", rec("Autre nom", "Igny", siret="73282932000074")), ("t", rec("Jardins de Massy", "Massy"))]
    r = match(rec("Jardins de Massy", "Massy", siret="73282932000074"), store)
    assert r.sure == "s"
    assert ("t", 100.0) in r.likely


def test_empty_store():
    assert match(rec("Jardins de Massy", "Massy"), []) == MatchResult(None, [])


def test_match_index_gives_the_same_answers_as_match():
    from oscartes_sync.identity import MatchIndex

    index = MatchIndex(STORE)
    candidates = [
        rec("Jardins de Massy (asso)", "MASSY"), rec("Repair Café", "Palaiseau", "91120"),
        rec("Ressourcerie", "Orsay", siret="73282932000074"), rec("Les Jardins de Massi", "Massy"),
        rec("Coworking Le Hangar", "Corbeil-Essonnes"), rec(""), {},
    ]
    for c in candidates:
        assert index.match(c) == match(c, STORE)
    assert index.match(candidates[0]).sure == "r-jardins"


def test_records_with_missing_fields():
    store = [("a", {"name": None, "commune": None}), ("b", {})]
    assert match({"name": "Jardins de Massy", "commune": "Massy"}, store) == MatchResult(None, [])
    assert match({}, store) == MatchResult(None, [])


def test_titles_alike_only_by_their_commune_are_not_likely():
    store = [("amap", {"name": "AMAP d'Évry-Courcouronnes", "commune": "Évry-Courcouronnes", "postcode": "91000"})]
    r = match({"name": "Énergies citoyennes d'Évry-Courcouronnes", "commune": "Évry-Courcouronnes",
               "postcode": "91000"}, store)
    assert r == MatchResult(None, [])
    typo = match({"name": "AMAP d'Evry Courcouronne", "commune": "Évry-Courcouronnes", "postcode": "91000"}, store)
    assert typo.sure is None and [rid for rid, _ in typo.likely] == ["amap"]


def test_titles_that_differ_by_their_number_are_not_likely():
    store = [("j1", {"name": "Jardin partagé 1", "commune": "Orsay"}), ("t1", {"name": "Association Test 1", "commune": "Orsay"})]
    assert match({"name": "Jardin partagé 2", "commune": "Orsay"}, store) == MatchResult(None, [])
    assert match({"name": "Association Test 10", "commune": "Orsay"}, store) == MatchResult(None, [])
    assert match({"name": "Jardin partage 1", "commune": "Orsay"}, store).sure == "j1"
