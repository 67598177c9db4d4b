"""YesWikiAdmin against the real wiki named by OSCARTES_LIVE_YESWIKI_* (skipped when unset).

Every object is a throw-away labelled "Oscartes test <random>" and is removed afterwards, even on failure,
through routes independent of the step under test where possible.
"""

from __future__ import annotations

import secrets

import pytest
import requests

from oscartes_sync.targets.base import EntryError, TerminalError
from oscartes_sync.targets.yeswiki_admin import StalePage, YesWikiAdmin

TEMPLATE = "texte***bf_titre***Nom***60***255*** *** ***text***1***"


@pytest.fixture
def admin(live_env) -> YesWikiAdmin:
    client = YesWikiAdmin("live", live_env["OSCARTES_LIVE_YESWIKI_URL"],
                          admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                          admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    yield client
    client.close()


@pytest.fixture
def label() -> str:
    return f"Oscartes test {secrets.token_hex(4)}"


def _free_form_id(admin: YesWikiAdmin) -> str:
    used = set(admin.list_forms())
    while True:
        candidate = str(80000 + secrets.randbelow(19999))
        if candidate not in used:
            return candidate


def test_live_form_lifecycle(admin: YesWikiAdmin, label: str) -> None:
    form_id = _free_form_id(admin)
    try:
        assert admin.create_form(form_id, label, TEMPLATE + "\n", "créé par le test") == form_id
        form = admin.get_form(form_id)
        assert (form["bn_label_nature"], form["bn_description"]) == (label, "créé par le test")
        new_template = TEMPLATE + "\ntexte***bf_ville***Ville***50***80*** *** ***text***0***"
        admin.update_form(form_id, label + " v2", new_template)
        assert admin.get_form(form_id)["bn_template"] == new_template
        admin.update_form(form_id, label + " v2", new_template)  # unchanged
        with pytest.raises(EntryError, match="already used"):
            admin.create_form(form_id, label + " bis", TEMPLATE)
        with pytest.raises(EntryError, match="doit contenir un titre"):
            admin.update_form(form_id, label, "texte***bf_nom***Nom***60***255*** *** ***text***1***")
    finally:
        admin.delete_form(form_id)
        leftovers = [i for i, f in admin.list_forms().items() if str(f.get("bn_label_nature", "")).startswith(label)]
        for other in leftovers:
            admin.delete_form(other)
    assert admin.get_form(form_id) is None and leftovers == []


def test_live_list_lifecycle(admin: YesWikiAdmin, label: str) -> None:
    list_id = None
    try:
        list_id = admin.create_list(label, {"a": "Écologie", "b": "Social"})
        assert admin.get_list(list_id) == {"titre_liste": label, "label": {"a": "Écologie", "b": "Social"}}
        admin.update_list(list_id, label, {"a": "Écologie", "b": "Social et solidaire", "c": "Culture"})
        admin.update_list(list_id, label, {"a": "Écologie", "b": "Social et solidaire", "c": "Culture"})
        with pytest.raises(EntryError, match="already exists"):
            admin.create_list(label, {"x": "X"})
        with pytest.raises(EntryError, match="labels of a"):
            admin.update_list(list_id, label, {"a": "A <script>alert(1)</script>"})
    finally:
        if list_id:
            admin.delete_list(list_id)
    assert admin.get_list(list_id) is None


def test_live_page_lifecycle(admin: YesWikiAdmin, label: str, live_env) -> None:
    tag = "OscartesTest" + label.rsplit(" ", 1)[1].capitalize()
    try:
        page = admin.save_page(tag, f"======{label}======\nv1\n", previous=None)
        assert page.body == f"======{label}======\nv1"
        second = admin.save_page(tag, "v2", previous=page.revision)
        assert second.revision != page.revision
        same = admin.save_page(tag, "v2", previous=second.revision)
        assert same.revision == second.revision
        assert [r.id for r in admin.page_revisions(tag)][:2] == [second.revision, page.revision]
        # a hand edit meanwhile (another client, anonymous like a visitor): the next save is refused
        other = YesWikiAdmin("live-other", live_env["OSCARTES_LIVE_YESWIKI_URL"],
                             admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                             admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
        hand = other.save_page(tag, "édité à la main", previous=second.revision)
        with pytest.raises(StalePage) as err:
            admin.save_page(tag, "v3", previous=second.revision)
        assert err.value.current == hand.revision
        assert admin.get_page(tag).body == "édité à la main"
        # a wrong hashcash: 200 with the editor again, nothing saved
        resp = requests.post(f"{admin.base}?{tag}/edit", data={"previous": hand.revision, "body": "x",
                                                               "submit": "Sauver", "hashcash_value": "1"},
                             allow_redirects=False, timeout=30)
        assert resp.status_code == 200 and admin.get_page(tag).revision == hand.revision
        with pytest.raises(EntryError):
            admin.save_page("Oscartes Invalide", "x", previous=None)
    finally:
        admin.delete_page(tag)
    assert admin.get_page(tag) is None


def test_live_hashcash_shape(admin: YesWikiAdmin) -> None:
    values = {admin._hashcash() for _ in range(5)}
    assert len(values) == 1  # the same secret behind differently obfuscated scripts


def test_live_refused_login(live_env) -> None:
    client = YesWikiAdmin("live", live_env["OSCARTES_LIVE_YESWIKI_URL"],
                          admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"], admin_password="not-the-password")
    with pytest.raises(TerminalError) as err:
        client.login()
    assert "not-the-password" not in str(err.value)
