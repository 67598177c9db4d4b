"""Each normalisation rule (issue 14 item 1), one place for each: names, SIRET and SIREN, phones, emails, web
addresses, streets, communes and their INSEE codes."""

import pytest

from oscartes_sync import geo, normalise
from oscartes_sync.clean import clean
from oscartes_sync.records import ACTOR

# ---- names -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [
    ("Association Les Jardins de Massy", "Jardins de Massy (asso)"),
    ("Recyclerie du Val d'Yvette", "RECYCLERIE DU VAL D’YVETTE"),  # case, typographic apostrophe
    ("L'Atelier Vélo Roue Libre", "Atelier velo - Roue Libre"),  # accents, punctuation, article
    ("Assoc. des Amis de la Terre Essonne", "Amis de la Terre Essonne"),
    ("Épicerie collaborative La Clé des Champs", "Epicerie collaborative la clé des champs"),
    ("Le Repair Café de Palaiseau", "Repair café de Palaiseau"),
    ("SCIC Énergies Citoyennes", "Énergies citoyennes SCIC"),
    ("Café & Compagnie", "Café et Compagnie"),
    ("asso Les Petits Débrouillards", "Les petits débrouillards"),
    ("Cie Le Chaudron", "Compagnie Le Chaudron"),  # abbreviations
    ("Maison St-Exupéry", "Maison Saint Exupéry"),
    ("Les Glaneurs, association loi 1901", "Les Glaneurs"),  # the law's year is not part of the name
    ("Cœur de Village SAS", "COEUR DE VILLAGE"),
    ("Les Jardins Partagés de l'Yvette", "Association les jardins partages de l Yvette"),  # the real wikis' pair
])
def test_the_same_name_written_two_ways(a, b):
    assert normalise.title(a) == normalise.title(b)


@pytest.mark.parametrize("a, b", [
    ("Jardins de Massy", "Jardins d'Orsay"),
    ("AMAP des Coteaux", "AMAP du Plateau"),
    ("La Ressourcerie", "La Recyclerie"),
    ("Jardin partagé 1", "Jardin partagé 2"),
])
def test_two_names(a, b):
    assert normalise.title(a) != normalise.title(b)


def test_name_details():
    assert normalise.title("  Les   Jardins  de  Massy!! ") == "jardins de massy"
    assert normalise.title("Association") == "association"  # nothing left: keep the words
    assert normalise.title("") == normalise.title(None) == ""
    assert normalise.title("Collectif Vélo 91") == "collectif velo 91"
    assert normalise.title("Café &amp; Co") == normalise.title("Café & Co")  # an entity left by a wiki


def test_the_telling_words_of_a_name():
    # legal-form words, articles and fillers go anywhere; the words of a place can be left out on request
    assert normalise.title_words("Association Les Amis de la Terre (asso) SCIC") == ["ami", "terre"]
    assert normalise.title_words("Jardins partagés") == normalise.title_words("Jardin partagé")  # singular
    assert normalise.title_words("Repair Café de Massy", frozenset({"massy"})) == ["repair", "cafe"]
    assert normalise.title_words("Les Ulis", frozenset({"ulis"})) == ["uli"]  # never empty
    assert normalise.numbers("Jardin partagé n°2 (91)") == ("2", "91")


# ---- SIRET and SIREN -----------------------------------------------------------------------------------------------


def test_siret_checksums_and_the_siren_of_a_siret():
    assert normalise.siret("732 829 320 00074") == normalise.siret("732.829.320.00074") == "73282932000074"
    assert normalise.siret("73282932000075") is None  # wrong checksum
    assert normalise.siret("7328293200007") is None  # 13 digits
    assert normalise.siret(None) is None and normalise.siret("") is None
    assert normalise.siren("73282932000074") == "732829320"
    assert normalise.siren("73282932000075") is None


def test_cleaning_refuses_a_malformed_siret_with_its_reason():
    assert clean("siret", "732 829 320 00075").problem == "invalid SIRET (wrong checksum)"
    assert clean("siret", "732-829-320-00074").problem == "invalid SIRET (14 digits expected)"
    assert clean("siret", "732 829 320 00074").value == "73282932000074"


# ---- contacts ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["01 69 10 20 30", "01.69.10.20.30", "+33 1 69 10 20 30", "0169102030",
                                   "+33 (0)1 69 10 20 30", "0033 1 69 10 20 30"])
def test_a_phone_is_read_in_e164_whatever_its_form(typed):
    assert normalise.phone(typed) == "+33169102030"


def test_a_phone_that_is_no_number():
    assert normalise.phone("12") is None and normalise.phone("") is None and normalise.phone("abc") is None
    assert normalise.phone("+32 2 511 11 11") == "+3225111111"  # a Belgian number stays Belgian


def test_emails_and_web_addresses():
    assert normalise.email("mailto:Contact@Jardins.Example ") == normalise.email("contact@jardins.example")
    for typed in ("https://www.jardins.example/", "http://jardins.example", "jardins.example/", "WWW.Jardins.example"):
        assert normalise.url(typed) == "jardins.example", typed
    assert normalise.url("https://jardins.example/agenda/") == "jardins.example/agenda"


def test_the_website_that_names_an_actor():
    assert normalise.website("https://www.emmaus-france.org/massy") == "emmaus-france.org"
    # on a host many organisations share, the page names the actor, not the host
    assert normalise.website("https://www.facebook.com/jardins.yvette/?ref=x") == "facebook.com/jardins.yvette"
    assert normalise.website("https://www.facebook.com/") is None
    assert normalise.website("") is None


# ---- places --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [
    ("12, r. de la République", "12 RUE DE LA REPUBLIQUE"),
    ("3 av. du Gal de Gaulle", "3 avenue du Général de Gaulle"),
    ("5 bis bd Pasteur", "5 b boulevard Pasteur"),
])
def test_one_street_written_two_ways(a, b):
    assert normalise.street(a) == normalise.street(b)


def test_another_street_is_another_street():
    assert normalise.street("12 rue de la République") != normalise.street("14 rue de la République")


@pytest.mark.parametrize("typed", ["St-Michel-sur-Orge", "saint michel sur orge", "SAINT-MICHEL-SUR-ORGE",
                                   "St Michel s/ Orge"])
def test_a_commune_written_many_ways_has_one_key_and_one_insee_code(typed):
    assert normalise.commune(typed) == "saint michel sur orge"
    assert geo.insee_of(typed) == "91570"


def test_the_insee_code_of_a_commune_comes_from_the_packaged_reference_data():
    assert geo.insee_of("Les Ulis") == geo.insee_of("ulis") == "91692"
    assert geo.insee_of("Gif sur Yvette", "91190") == "91272"
    assert geo.insee_of("Nowhere") is None and geo.insee_of(None) is None


# ---- one field of a record -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, a, b", [
    ("name", "Les Jardins Partagés de l'Yvette", "Association les jardins partages de l Yvette"),
    ("commune", "Gif-sur-Yvette", "GIF SUR YVETTE"),
    ("street", "12, r. de la République", "12 rue de la République"),
    ("phone", "+33169102030", "01 69 10 20 30"),
    ("email", "Contact@Asso.fr", "contact@asso.fr"),
    ("website", "https://www.asso.fr/", "http://asso.fr"),
    ("short_description", "Un  jardin &amp; un verger", "un jardin & un verger"),
    ("description", "<p>Un jardin</p>", "Un jardin"),
])
def test_field_key_says_when_two_values_are_one(field, a, b):
    ftype = ACTOR.field(field).type
    assert normalise.field_key(field, ftype, a) == normalise.field_key(field, ftype, b)


@pytest.mark.parametrize("field, a, b", [
    ("name", "Recyclerie de Massy", "Ressourcerie de Massy"),
    ("phone", "+33169102030", "+33169102031"),
    ("siret", "73282932000075", "12345678901234"),  # two invalid numbers are not "the same" by being invalid
    ("postcode", "91400", "91300"),
])
def test_field_key_keeps_two_values_apart(field, a, b):
    ftype = ACTOR.field(field).type
    assert normalise.field_key(field, ftype, a) != normalise.field_key(field, ftype, b)
