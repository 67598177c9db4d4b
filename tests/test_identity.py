"""The duplicate matcher (issue 14 item 2): each rule, its evidence, and blocking that loses nothing."""

import random

import pytest

from oscartes_sync.config import IdentityConfig
from oscartes_sync.identity import MatchIndex, MatchResult, compare, facts, match


def rec(name, commune=None, postcode=None, insee=None, siret=None, **more):
    d = {"name": name, **more}
    for k, v in (("commune", commune), ("postcode", postcode), ("insee", insee), ("siret", siret)):
        if v is not None:
            d[k] = v
    return d


def ids(result):
    return [c.record_id for c in result.likely]


STORE = [
    ("r-jardins", rec("Association Les Jardins de Massy", "Massy", "91300", "91377")),
    ("r-recyclerie", rec("Recyclerie du Val d'Yvette", "Gif-sur-Yvette", "91190", siret="73282932000074")),
    ("r-repair-orsay", rec("Repair Café", "Orsay", "91400")),
    ("r-amap", rec("AMAP des Coteaux", "Saint-Michel-sur-Orge", "91240")),
    ("r-velo", rec("Atelier vélo Roue Libre", "Évry-Courcouronnes", "91000")),
]

# ---- deterministic keys ------------------------------------------------------------------------------------------


def test_the_real_wikis_pair_is_linked_automatically():
    """Seen on the real wikis: same postcode and town, pins 40 m apart; it waited for a person before."""
    a = rec("Les Jardins Partagés de l'Yvette", "Gif-sur-Yvette", "91190", latitude=48.70130, longitude=2.13140)
    b = rec("Association les jardins partages de l Yvette", "Gif-sur-Yvette", "91190", latitude=48.70160,
            longitude=2.13180)
    r = match(b, [("a", a)])
    assert r.sure == "a" and r.likely == []
    assert r.evidence == ("same name", "same commune", "pins 44 m apart")


@pytest.mark.parametrize("candidate", [
    rec("Jardins de Massy (asso)", "MASSY"),  # same name, same commune
    rec("Les jardins de Massy", postcode="91300"),  # same postcode
    rec("Jardins de Massy", insee="91377"),  # same INSEE code
])
def test_same_name_in_the_same_place_is_sure(candidate):
    r = match(candidate, STORE)
    assert r.sure == "r-jardins" and "r-jardins" not in ids(r)


def test_the_commune_as_typed_does_not_matter():
    assert match(rec("AMAP des coteaux", "st michel sur orge"), STORE).sure == "r-amap"
    assert match(rec("Atelier Velo Roue Libre", "evry courcouronnes"), STORE).sure == "r-velo"


def test_same_siret_is_sure_whatever_the_name_in_the_same_place():
    r = match(rec("Ressourcerie de la Vallée", "Gif-sur-Yvette", siret="732 829 320 00074"), STORE)
    assert r.sure == "r-recyclerie" and r.evidence[0] == "same SIRET"


def test_same_siret_with_another_name_in_another_commune_waits_for_a_person():
    """A SIRET copied from another organisation's entry: the record that holds it is named, nothing linked."""
    r = match(rec("Théâtre du Hangar", "Orsay", siret="73282932000074"), STORE)
    assert r.sure is None and ids(r) == ["r-recyclerie"]
    assert r.likely[0].evidence[0] == "same SIRET" and "another commune" in r.likely[0].evidence


def test_two_records_with_one_siret_leave_the_choice_to_a_person():
    store = [("a", rec("Alpha", "Orsay", siret="73282932000074")), ("b", rec("Beta", "Orsay", siret="73282932000074"))]
    r = match(rec("Alpha", "Orsay", siret="73282932000074"), store)
    assert r.sure is None and sorted(ids(r)) == ["a", "b"]


def test_an_invalid_siret_never_matches():
    store = [("a", rec("Alpha", "Orsay", siret="12345678901234")), ("b", rec("Beta", "Massy", siret="12345678901234"))]
    assert match(rec("Gamma", "Igny", siret="12345678901234"), store) == MatchResult(None, [])


def test_same_siren_in_the_same_commune_is_sure_and_elsewhere_is_another_establishment():
    store = [("hq", rec("Emmaüs Massy", "Massy", siret="73282932000074"))]
    same_commune = match(rec("Emmaus - Massy", "Massy", siret="73282932000165"), store)
    assert same_commune.sure == "hq" and same_commune.evidence[0] == "same SIREN, another SIRET"
    elsewhere = match(rec("Emmaüs Orsay", "Orsay", siret="73282932000165"), store)
    assert elsewhere.sure is None


def test_two_organisations_are_never_linked_automatically():
    store = [("a", rec("Repair Café", "Orsay", siret="73282932000074"))]
    r = match(rec("Repair Café", "Orsay", siret="35600000000048"), store)
    assert r.sure is None and ids(r) == ["a"] and r.likely[0].evidence[0] == "another SIRET"

# ---- the score ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "Atelier velo Roue Libbre",  # a typo
    "Roue Libre - atelier vélo",  # words in another order
    "ATELIER VELO ROUE LIBRE d'Évry-Courcouronnes",  # capitals, accents, the commune in the name
    "Ateliers vélo Roue Libre",  # a plural
])
def test_a_name_written_otherwise_in_the_same_commune_is_sure(name):
    assert match(rec(name, "Évry-Courcouronnes"), STORE).sure == "r-velo"


def test_names_that_differ_by_a_word_are_two_actors():
    # in the same commune, the same activity, another place or short name
    assert match(rec("AMAP du Plateau", "Saint-Michel-sur-Orge"), STORE) == MatchResult(None, [])
    store = [("b", rec("Chantier d'insertion La Brouette", "Orsay"))]
    assert match(rec("Chantier d'insertion La Girouette", "Orsay"), store).sure is None


def test_a_name_with_words_added_is_worth_a_look_and_a_pin_and_a_contact_make_it_sure():
    base = rec("Repair Café", "Orsay", latitude=48.6985, longitude=2.1871, email="repair@orsay.example")
    store = [("r", base)]
    longer = rec("Repair Café du Moulin", "Orsay")
    assert match(longer, store).sure is None and ids(match(longer, store)) == ["r"]
    backed = {**longer, "latitude": 48.6987, "longitude": 2.1873, "email": "Repair@Orsay.example"}
    assert match(backed, store).sure == "r"


def test_a_one_word_name_needs_a_pin_or_a_contact():
    store = [("r", rec("La Ruche", "Orsay", latitude=48.6985, longitude=2.1871))]
    assert match(rec("La Ruchhe", "Orsay"), store).sure is None
    assert match(rec("La Ruchhe", "Orsay", latitude=48.6986, longitude=2.1872), store).sure == "r"


def test_names_that_differ_by_a_number_are_two_actors():
    store = [("j1", rec("Jardin partagé 1", "Orsay")), ("t1", rec("Association Test 1", "Orsay"))]
    assert match(rec("Jardin partagé 2", "Orsay"), store) == MatchResult(None, [])
    assert match(rec("Association Test 10", "Orsay"), store) == MatchResult(None, [])
    assert match(rec("Jardin partage 1", "Orsay"), store).sure == "j1"


def test_names_alike_only_by_their_commune_are_two_actors():
    store = [("amap", rec("AMAP d'Évry-Courcouronnes", "Évry-Courcouronnes", "91000"))]
    assert match(rec("Énergies citoyennes d'Évry-Courcouronnes", "Évry-Courcouronnes", "91000"), store) == \
        MatchResult(None, [])
    assert match(rec("AMAP d'Evry Courcouronne", "Évry-Courcouronnes", "91000"), store).sure == "amap"

# ---- homonyms and chains -----------------------------------------------------------------------------------------


def test_a_homonym_in_another_commune_is_never_linked():
    r = match(rec("Repair Café", "Palaiseau", "91120"), STORE)
    assert r.sure is None and ids(r) == ["r-repair-orsay"]  # nothing says where each is: a person looks
    assert "another commune" in r.likely[0].evidence
    far = match(rec("Repair Café", "Palaiseau", "91120", latitude=48.714, longitude=2.245),
                [("o", rec("Repair Café", "Orsay", "91400", latitude=48.698, longitude=2.187))])
    assert far == MatchResult(None, [])  # pins kilometres apart: another actor


def test_branches_of_a_chain_in_their_own_communes_are_never_linked():
    site, phone = "https://www.emmaus-france.org/", "+33141582500"
    store = [(f"e{i}", rec(f"Emmaüs {c}", c, website=site, phone=phone)) for i, c in
             enumerate(("Massy", "Orsay", "Palaiseau"))]
    r = match(rec("Emmaüs - Évry", "Évry-Courcouronnes", website=site, phone=phone), store)
    assert r == MatchResult(None, [])
    # their website and phone name several records: no evidence of who this one is
    v = compare(facts(store[0][1]), facts(store[1][1]), IdentityConfig(), lambda what, value: True)
    assert "same website (shared by other records)" in v.evidence and not v.auto


def test_shared_contacts_across_communes_are_worth_a_look_never_a_link():
    store = [("r", rec("Ferme pédagogique Les Sextants", "Évry-Courcouronnes", email="sextants@ferme.example",
                       phone="+33169102030"))]
    r = match(rec("Ferme pédagogique Les Sextants", "Ris-Orangis", email="sextants@ferme.example",
                  phone="+33169102030"), store)
    assert r.sure is None and ids(r) == ["r"]
    assert {"same email", "same phone", "another commune"} <= set(r.likely[0].evidence)


def test_an_entry_with_no_place_is_never_sure():
    r = match(rec("Recyclerie du Val d'Yvette"), STORE)
    assert r.sure is None and ids(r) == ["r-recyclerie"] and "place unknown" in r.likely[0].evidence


def test_an_entry_two_records_fit_waits_for_a_person():
    store = [("a", rec("AMAP des Coteaux", "Orsay")), ("b", rec("AMAP des coteaux", "Orsay"))]
    r = match(rec("Amap des Coteaux", "Orsay"), store)
    assert r.sure is None and ids(r) == ["a", "b"]


def test_a_siret_settles_what_a_name_alone_leaves_open():
    store = [("s", rec("Autre nom", "Massy", siret="73282932000074")), ("t", rec("Jardins de Massy", "Massy"))]
    r = match(rec("Jardins de Massy", "Massy", siret="73282932000074"), store)
    assert r.sure == "s" and ids(r) == ["t"]


def test_likely_sorted_by_score_then_id():
    store = [("z", rec("Jardins de Massy", "Orsay")), ("b", rec("Les Jardins de Massy", "Igny")),
             ("c", rec("Jardin de Massy du Centre", "Massy")), ("a", rec("Jardins de Massy", "Igny",
                                                                         email="jardins@massy.example"))]
    r = match(rec("Jardins de Massy", "Massy", email="jardins@massy.example"), store)
    assert r.sure is None
    assert [(c.record_id, c.score) for c in r.likely] == [("a", 85.0), ("b", 75.0), ("c", 75.0), ("z", 75.0)]


def test_events_on_other_dates_are_two_events():
    store = [("e1", {"name": "Repair Café", "commune": "Orsay", "start": "2026-12-05"})]
    index = MatchIndex(store, kind="event")
    assert index.match({"name": "Repair Café", "commune": "Orsay", "start": "2027-01-09"}) == MatchResult(None, [])
    assert index.match({"name": "Repair café", "commune": "Orsay", "start": "2026-12-05"}).sure == "e1"


def test_the_thresholds_come_from_the_config():
    near = rec("Repair Café du Moulin", "Orsay")
    store = [("r", rec("Repair Café", "Orsay"))]
    assert match(near, store).likely and match(near, store).sure is None
    assert match(near, store, IdentityConfig(auto_link=70, review=60)).sure == "r"
    assert match(near, store, IdentityConfig(auto_link=99, review=99)) == MatchResult(None, [])


def test_empty_and_missing_values():
    assert match(rec("Jardins de Massy", "Massy"), []) == MatchResult(None, [])
    store = [("a", {"name": None, "commune": None}), ("b", {})]
    assert match({"name": "Jardins de Massy", "commune": "Massy"}, store) == MatchResult(None, [])
    assert match({}, store) == MatchResult(None, [])

# ---- blocking ----------------------------------------------------------------------------------------------------


def test_blocking_loses_no_pair_that_a_comparison_with_every_record_would_keep():
    """The index scores an entry only against its commune, shared keys and uncommon words elsewhere; on the
    evaluation set that gives what comparing it with every record gives."""
    from benchmarks.identity_dataset import make_set

    data = make_set("dev", seed=7, size=300)
    s = IdentityConfig()
    index = MatchIndex(data.records, s)
    record_facts = [(rid, facts(values)) for rid, values in data.records]
    for case in random.Random(3).sample(data.cases, 120):
        c = facts(case.entry)
        every = {rid for rid, f in record_facts if (v := compare(c, f, s, index._common)) and
                 (v.score >= s.review or (v.auto and v.deterministic))}
        found = index.match(case.entry)
        assert {found.sure} - {None} | set(ids(found)) == every, case.entry.get("name")
