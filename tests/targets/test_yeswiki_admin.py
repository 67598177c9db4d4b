"""YesWikiAdmin against the emulator over HTTP: forms, lists and pages, each created, updated, left unchanged,
changed by hand meanwhile, and refused in a disguised way (200 page or same redirect)."""

from __future__ import annotations

import pytest
import requests
from werkzeug.wrappers import Response

from oscartes_sync.sandbox.server import start_server
from oscartes_sync.sandbox.yeswiki_admin_routes import hashcash_script
from oscartes_sync.sandbox.yeswiki_emulator import YesWikiEmulator
from oscartes_sync.targets.base import AuthError, EntryError, TerminalError
from oscartes_sync.targets.wikiname import list_id_for
from oscartes_sync.targets.yeswiki_admin import Page, StalePage, YesWikiAdmin, decode_hashcash, evaluate_hashcash_js

PASSWORD = "admin-secret-pw"
TEMPLATE = "texte***bf_titre***Nom***60***255*** *** ***text***1***\ntexte***bf_ville***Ville***50***80*** *** ***text***0***"


@pytest.fixture
def emu() -> YesWikiEmulator:
    emu = YesWikiEmulator("wiki-a")
    emu.add_user("WikiAdmin", PASSWORD, token="tok", admin=True)
    emu.add_user("Membre", "member-pw")
    return emu


@pytest.fixture
def server(emu: YesWikiEmulator):
    with start_server(emu) as srv:
        yield srv


@pytest.fixture
def admin(server) -> YesWikiAdmin:
    client = YesWikiAdmin("wiki-a", server.url, admin_user="WikiAdmin", admin_password=PASSWORD)
    yield client
    client.close()


def posts(emu: YesWikiEmulator) -> int:
    return emu.count("POST") - emu.count("POST", "PagePrincipale")  # writes, logins aside


# ------------------------------------------------------------------------------------------ login


def test_refused_login_is_an_auth_error_without_the_password(server, emu) -> None:
    client = YesWikiAdmin("wiki-a", server.url, admin_user="WikiAdmin", admin_password="wrong-password-x")
    with pytest.raises(AuthError) as err:
        client.login()
    assert "wrong-password-x" not in str(err.value)
    with pytest.raises(AuthError):
        client.create_form("50", "X", TEMPLATE)  # sticky: no second login attempt
    assert emu.count("POST", "PagePrincipale") == 1 and "50" not in emu.forms


def test_non_admin_cannot_create_forms(server, emu) -> None:
    client = YesWikiAdmin("wiki-a", server.url, admin_user="Membre", admin_password="member-pw")
    with pytest.raises(AuthError, match="not a wiki administrator"):
        client.create_form("50", "X", TEMPLATE)
    assert "50" not in emu.forms


# ------------------------------------------------------------------------------------------ forms


def test_form_create_update_unchanged_delete(admin, emu) -> None:
    assert admin.create_form("60", "Acteurs", TEMPLATE, "Les acteurs") == "60"
    form = admin.get_form("60")
    assert (form["bn_label_nature"], form["bn_template"], form["bn_description"]) == ("Acteurs", TEMPLATE,
                                                                                      "Les acteurs")
    admin.update_form("60", "Acteurs du territoire", TEMPLATE + "\ntexte***bf_cp***CP***8***8*** *** ***text***0***")
    assert emu.forms["60"].label == "Acteurs du territoire" and "bf_cp" in emu.forms["60"].template_text
    admin.update_form("60", "Acteurs du territoire", emu.forms["60"].template_text)  # unchanged: still fine
    created = requests.post(f"{admin.base}?api/entries/60", data={"bf_titre": "Fiche"},
                            headers={"Authorization": "Bearer tok"})
    assert created.status_code == 201 and list(emu.entries("60")) == ["FichE"]
    admin.delete_form("60")
    assert "60" not in emu.forms and admin.get_form("60") is None
    assert emu.entries("60") == {}  # the form's entries go with it (forms_21)
    admin.delete_form("60")  # already gone: nothing to do


def test_form_id_taken_is_refused_before_any_write(admin, emu) -> None:
    emu.add_form("61", "Autre", TEMPLATE)
    before = posts(emu)
    with pytest.raises(EntryError, match="61 is already used by form 'Autre'"):
        admin.create_form("61", "Acteurs", TEMPLATE)
    assert posts(emu) == before and len(emu.forms) == 1


def test_form_silently_created_under_another_id_is_detected(admin, emu) -> None:
    routes = emu.admin_routes
    original = routes.form_new

    def ignoring_the_id(ctx, p):  # what a concurrent create of that id would cause (forms_14)
        ctx.posted.data.pop("bn_id_nature", None)
        return original(ctx, p)

    emu.register_bazar_view("formulaire", "new", ignoring_the_id)
    with pytest.raises(EntryError) as err:
        admin.create_form("70", "Projets", TEMPLATE)
    assert "form 70 was not created" in str(err.value) and "has id 1" in str(err.value)


def test_form_without_title_field_is_refused_with_the_wiki_reason(admin, emu) -> None:
    with pytest.raises(EntryError, match="doit contenir un titre"):
        admin.create_form("62", "Sans titre", "texte***bf_nom***Nom***60***255*** *** ***text***1***")
    assert "62" not in emu.forms


def test_form_update_disguised_as_200_is_an_error(admin, emu) -> None:
    emu.add_form("63", "Acteurs", TEMPLATE)
    emu.inject("POST", r"action=modif", "html200")
    with pytest.raises(EntryError, match="re-displayed"):
        admin.update_form("63", "Changé", TEMPLATE)
    assert emu.forms["63"].label == "Acteurs"


def test_form_update_lost_by_the_wiki_is_caught_by_the_read_back(admin, emu) -> None:
    emu.add_form("64", "Acteurs", TEMPLATE)
    original = emu.admin_routes.form_modif

    def losing(ctx, p):  # the UPDATE uses the posted bn_id_nature (forms_18): without it nothing changes
        ctx.posted.data.pop("bn_id_nature", None)
        return original(ctx, p)

    emu.register_bazar_view("formulaire", "modif", losing)
    with pytest.raises(EntryError, match="not updated .label differ"):
        admin.update_form("64", "Changé", TEMPLATE)


def test_expired_session_logs_in_again_once(admin, emu) -> None:
    admin.login()
    emu.sessions.clear()  # the server forgot the session
    assert admin.create_form("65", "Acteurs", TEMPLATE) == "65"
    assert emu.count("POST", "PagePrincipale") == 2


# ------------------------------------------------------------------------------------------ lists


def test_list_create_update_unchanged_delete(admin, emu) -> None:
    labels = {"eco": "Écologie", "soc": "Social"}
    assert admin.create_list("Thèmes", labels) == "ListeThemes" == list_id_for("Thèmes")
    assert admin.get_list("ListeThemes") == {"titre_liste": "Thèmes", "label": labels}
    assert emu.page("ListeThemes")["owner"] == "WikiAdmin"
    admin.update_list("ListeThemes", "Thèmes", {**labels, "cul": "Culture"})
    revisions = len(emu.page_revisions("ListeThemes"))
    admin.update_list("ListeThemes", "Thèmes", {**labels, "cul": "Culture"})  # unchanged
    assert len(emu.page_revisions("ListeThemes")) == revisions
    admin.delete_list("ListeThemes")
    assert admin.get_list("ListeThemes") is None
    admin.delete_list("ListeThemes")


def test_list_id_already_taken_is_refused_before_any_write(admin, emu) -> None:
    emu.add_page("ListeThemes", "Une page ordinaire")
    before = posts(emu)
    with pytest.raises(EntryError, match="page ListeThemes already exists"):
        admin.create_list("Thèmes", {"a": "A"})
    assert posts(emu) == before and emu.page("ListeThemes2") is None


def test_list_created_under_another_id_is_reported(admin, emu) -> None:
    original = emu.admin_routes.list_new

    def racing(ctx, p):  # someone creates the same list between our check and our write
        emu.add_list("ListeThemes", "Thèmes", {"x": "X"})
        return original(ctx, p)

    emu.register_bazar_view("listes", "saisir_liste", racing)
    with pytest.raises(EntryError, match="created as ListeThemes2, not ListeThemes"):
        admin.create_list("Thèmes", {"a": "A"})


def test_list_label_purified_by_the_wiki_is_reported(admin, emu) -> None:
    admin.create_list("Publics", {"a": "A"})
    with pytest.raises(EntryError, match="labels of a"):
        admin.update_list("ListePublics", "Publics", {"a": "A <script>x</script>"})


def test_list_update_disguised_as_200_is_caught_by_the_read_back(admin, emu) -> None:
    admin.create_list("Publics", {"a": "A"})
    emu.inject("POST", r"modif_liste", "html200")
    with pytest.raises(EntryError, match="differs on read-back"):
        admin.update_list("ListePublics", "Publics", {"a": "A", "b": "B"})


def test_page_that_is_not_a_list(admin, emu) -> None:
    with pytest.raises(EntryError, match="not a Bazar list"):
        admin.get_list("PagePrincipale")


# ------------------------------------------------------------------------------------------ pages


def test_page_create_update_unchanged(admin, emu) -> None:
    page = admin.save_page("CarteDesActeurs", "{{bazarliste id=\"60\" template=\"map\"}}\n", previous=None)
    assert isinstance(page, Page) and page.body == "{{bazarliste id=\"60\" template=\"map\"}}"
    assert page.revision == emu.page("CarteDesActeurs")["id"] and page.owner == "WikiAdmin"
    updated = admin.save_page("CarteDesActeurs", "Nouveau texte", previous=page.revision)
    assert updated.revision != page.revision and admin.get_page("CarteDesActeurs") == updated
    same = admin.save_page("CarteDesActeurs", "Nouveau texte\n", previous=updated.revision)
    assert same.revision == updated.revision and len(emu.page_revisions("CarteDesActeurs")) == 2
    revs = admin.page_revisions("CarteDesActeurs")
    assert [r.id for r in revs] == [updated.revision, page.revision]


def test_hand_edited_page_is_stale_and_not_overwritten(admin, emu) -> None:
    page = admin.save_page("TableauDeBord", "v1", previous=None)
    emu.add_page("TableauDeBord", "édité à la main", user="Quelquun")
    with pytest.raises(StalePage) as err:
        admin.save_page("TableauDeBord", "v2", previous=page.revision)
    assert err.value.expected == page.revision and err.value.current == emu.page("TableauDeBord")["id"]
    assert emu.page("TableauDeBord")["body"] == "édité à la main"


def test_new_page_that_appeared_meanwhile_is_stale(admin, emu) -> None:
    emu.add_page("Glossaire", "déjà là")
    with pytest.raises(StalePage):
        admin.save_page("Glossaire", "mon texte", previous=None)
    assert emu.page("Glossaire")["body"] == "déjà là"


def test_refused_hashcash_is_a_terminal_error(admin, emu) -> None:
    wrong = emu.admin_routes.hashcash_value + 1  # e.g. a key decoded wrongly, or rotated meanwhile
    emu.register_path_handler("/tools/security/wp-hashcash-getkey.php",
                              lambda ctx, p: Response(hashcash_script(wrong), content_type="text/html"))
    with pytest.raises(TerminalError, match="hashcash refused"):
        admin.save_page("PageX", "texte", previous=None)
    assert emu.page("PageX") is None


def test_page_save_disguised_as_200_is_an_error(admin, emu) -> None:
    page = admin.save_page("PageY", "v1", previous=None)
    emu.inject("POST", r"PageY/edit", "html200")
    with pytest.raises(TerminalError):
        admin.save_page("PageY", "v2", previous=page.revision)
    assert emu.page("PageY")["body"] == "v1"


def test_invalid_page_name_is_refused_locally(admin, emu) -> None:
    with pytest.raises(EntryError, match="not a valid YesWiki page name"):
        admin.save_page("Page Invalide", "x", previous=None)
    assert emu.count("POST") == 0


def test_delete_page(admin, emu) -> None:
    admin.save_page("PageZ", "x", previous=None)
    admin.delete_page("PageZ")
    assert admin.get_page("PageZ") is None


# ------------------------------------------------------------------------------------------ hashcash


def test_hashcash_decoding_matches_the_recorded_note() -> None:
    js = ("function esuGjZH (){var xTvpsPBKp = 107914181; xTvpsPBKp += 107914181; xTvpsPBKp += 107914181; "
          "xTvpsPBKp += 81247782; return xTvpsPBKp; } esuGjZH ();")
    assert evaluate_hashcash_js(js) == 404990325


@pytest.mark.parametrize("script", ["", "function f(){return 1;}", "a[0] = 1 ^ 2; a[2] = 3 ^ 4;"])
def test_hashcash_decoding_refuses_unknown_shapes(script: str) -> None:
    with pytest.raises(ValueError):
        decode_hashcash(script)
