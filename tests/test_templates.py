import re
import unicodedata

import jinja2
import pytest

from oscartes_sync import templates
from oscartes_sync.records import KINDS

FORMS = {"actor": "12", "project": "13", "event": "14", "offer": "15", "call": "16"}
FIELD_TYPES = {"texte", "textelong", "lien_internet", "champs_mail", "checkbox", "liste", "radio", "image",
               "fichier", "map", "listedatedeb", "listedatefin", "jour", "checkboxfiche", "listefiche"}


def genere_nom_wiki(s: str) -> str:
    """YesWiki's id derivation as described in the contract (§3.2), for the list titles."""
    s = re.sub(r"[^\w\s]", " ", s)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))[:47]
    s = "".join(w[:1].upper() + w[1:].lower() for w in s.split())
    s = re.sub(r"[^A-Za-z0-9]", "", s)
    if sum(1 for c in s if c.isupper()) < 2:
        s = s[:-1] + s[-1:].upper()
    return s


def test_genere_nom_wiki_examples_from_the_contract():
    assert genere_nom_wiki("Café de la Gare") == "CafeDeLaGare"
    assert genere_nom_wiki("test") == "TesT"
    assert genere_nom_wiki("Liste Thèmes") == "ListeThemes"


@pytest.mark.parametrize("kind", templates.FORM_KINDS)
def test_form_renders_with_records_keys(kind):
    text = templates.render_form_template(kind, FORMS)
    keys = templates.template_field_keys(text)
    assert len(keys) == len(set(keys)), "a key appears twice"
    expected = {f.wiki_key.replace("{form:actor}", FORMS["actor"]) for f in KINDS[kind].fields}
    assert set(keys) == expected
    assert "{{" not in text and "{#" not in text


@pytest.mark.parametrize("kind", templates.FORM_KINDS)
def test_form_lines_are_well_formed(kind):
    text = templates.render_form_template(kind, FORMS)
    rows = templates.parse_template(text)
    assert rows[0][:2] == ["texte", "bf_titre"] and rows[0][8] == "1"  # title first and required
    for cols in rows:
        assert cols[0] in FIELD_TYPES, cols
        assert len(cols) >= 9, cols
        assert cols[8] in ("0", "1"), cols
        if cols[0] != "map":
            assert cols[2], f"{cols[1]} has no label"
        assert "\n" not in "".join(cols)


@pytest.mark.parametrize("kind", templates.FORM_KINDS)
def test_list_keys_referenced_exist(kind):
    text = templates.render_form_template(kind, FORMS)
    lists = templates.all_lists()
    for list_id in templates.template_list_ids(text):
        assert list_id in lists, list_id
    for f in KINDS[kind].fields:
        if f.list_id:
            assert f.list_id in lists
            assert f.list_id in templates.template_list_ids(text)


def test_contact_fields_are_members_only():
    for kind in templates.FORM_KINDS:
        rows = templates.parse_template(templates.render_form_template(kind, FORMS))
        by_key = {k: cols for cols in rows for k in templates.field_keys(cols)}
        for f in KINDS[kind].fields:
            cols = by_key[f.wiki_key.replace("{form:actor}", FORMS["actor"])]
            read_acl = cols[11] if len(cols) > 11 else ""
            if f.contact:
                assert read_acl == "+", f.wiki_key
            else:
                assert read_acl in ("", "*"), f.wiki_key


def test_link_fields_point_to_the_actor_form():
    text = templates.render_form_template("project", {**FORMS, "actor": "7"})
    assert "checkboxfiche7bf_porteurs" in templates.template_field_keys(text)


def test_missing_form_id_is_an_error():
    with pytest.raises(jinja2.UndefinedError):
        templates.render_form_template("project", {"project": "13"})


def test_unknown_kind():
    with pytest.raises(ValueError):
        templates.render_form_template("recipe", FORMS)


def test_field_keys():
    assert templates.field_keys(["checkbox", "ListeThemes", "Thèmes", "", "", "", "2"]) == ["checkboxListeThemes2"]
    assert templates.field_keys(["map", "bf_latitude", "bf_longitude"]) == ["bf_latitude", "bf_longitude"]
    assert templates.field_keys(["image", "bf_logo", "Logo"]) == ["imagebf_logo"]
    assert templates.field_keys(["texte", "bf_ville", "Ville"]) == ["bf_ville"]


EXPECTED_LISTS = {"ListeThemes", "ListeServices", "ListeTypesStructure", "ListePublics", "ListeReseaux",
                  "ListeVisibilite", "ListeTypesOffre", "ListeStatutsProjet", "ListeBesoins"}


def test_lists():
    lists = {k: v for k, v in templates.all_lists().items() if k != templates.COMMUNES_LIST_ID}
    assert set(lists) == EXPECTED_LISTS
    for list_id, lst in lists.items():
        # YesWiki names a new list from its title: the title must give back the id (contract §5).
        assert genere_nom_wiki("Liste " + lst["titre"]) == list_id
        assert lst["values"]
        for key, label in lst["values"].items():
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key), key
            assert label.strip() and "<" not in label
    assert set(lists["ListeReseaux"]["values"]) == {"polesnoe", "tel", "autre"}
    assert set(lists["ListeVisibilite"]["values"]) == {"public", "membres"}
    assert len(lists["ListeThemes"]["values"]) == 13
    assert len(lists["ListeServices"]["values"]) == 11
    assert len(lists["ListeTypesStructure"]["values"]) == 10
    assert "economie-circulaire" in lists["ListeThemes"]["values"]


def test_load_lists_returns_copies():
    templates.load_lists()["ListeThemes"]["values"]["x"] = "X"
    assert "x" not in templates.load_lists()["ListeThemes"]["values"]


def test_communes_list():
    lst = templates.communes_list()
    assert genere_nom_wiki("Liste " + lst["titre"]) == templates.COMMUNES_LIST_ID
    assert len(lst["values"]) == 194
    assert lst["values"]["91692"] == "Les Ulis"
    assert lst["values"]["91228"] == "Évry-Courcouronnes"
    assert templates.COMMUNES_LIST_ID in templates.all_lists()


def test_the_networks_and_communes_lists_come_from_the_territory():
    from oscartes_sync import territory

    assert "ListeReseaux" not in templates.load_lists()  # no file: the territory's parameters make it
    rhone = territory.from_department("69", networks=["Réseau Alpha"])
    lists = templates.all_lists(rhone)
    assert lists["ListeReseaux"]["values"] == {"reseau-alpha": "Réseau Alpha", "autre": "Autre réseau"}
    assert "ListeCommunes91" not in lists and len(lists["ListeCommunes69"]["values"]) == 266
    assert lists["ListeCommunes69"]["values"]["69123"] == "Lyon"
