"""The contract every entry target passes: the interface the sync engine relies on (targets/base.EntryTarget).

The same tests run on the YesWiki target over the emulator and, when the rig's variables are set
(OSCARTES_LIVE_YESWIKI_*), over a real YesWiki, on a throw-away form made and removed by the admin client. A
behaviour the engine needs that one of them lacks fails here, not in a sync test that happens to cover it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from oscartes_sync.sandbox.sandbox import new_wiki
from oscartes_sync.sync.execute import source_url
import requests

from oscartes_sync.targets.base import EntryTarget, EntryVersion, FileUpload, FormShape, ListedEntry, ListingFailed
from oscartes_sync.targets.yeswiki import YesWikiClient
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin

# A small form of the same shape as ours: a title, a text, a map field.
TEMPLATE = "\n".join([
    "texte***bf_titre***Nom***60***255*** *** ***text***1*** *** *** * *** * *** *** *** ***",
    "texte***bf_ville***Commune***60***255*** *** ***text***0*** *** *** * *** * *** *** *** ***",
    "textelong***bf_description***Description***5***5*** *** ***wiki***0*** *** *** * *** * *** *** *** ***",
    "map***bf_latitude***bf_longitude*** *** *** *** *** ***0***",
    "image***bf_logo***Logo***140***140***600***600***right***0***",
])
SHAPE = FormShape(title_key="bf_titre", resend_keys=("bf_latitude", "bf_longitude"))
LIVE = ("OSCARTES_LIVE_YESWIKI_URL", "OSCARTES_LIVE_YESWIKI_TOKEN", "OSCARTES_LIVE_YESWIKI_ADMIN_USER",
        "OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD")


@dataclass
class Backend:
    target: EntryTarget
    form_id: str
    tag: str  # unique per test run: titles carry it, so that a real wiki's other entries never interfere


def _emulated() -> Iterator[Backend]:
    wiki = new_wiki("contract", kinds=())
    wiki.emulator.add_form("7001", "Contrat", TEMPLATE)
    client = YesWikiClient("contract", wiki.url, token=wiki.token, admin_user=wiki.admin_user,
                           admin_password=wiki.admin_password, forms={"7001": SHAPE})
    try:
        yield Backend(client, "7001", secrets.token_hex(3))
    finally:
        client.close()
        wiki.server.stop()


def _live() -> Iterator[Backend]:
    missing = [v for v in LIVE if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live YesWiki not configured ({', '.join(missing)} unset)")
    url, token = os.environ[LIVE[0]], os.environ[LIVE[1]]
    user, password = os.environ[LIVE[2]], os.environ[LIVE[3]]
    admin = YesWikiAdmin("live", url, admin_user=user, admin_password=password)
    taken = set(admin.list_forms())
    form_id = next(str(i) for i in range(9100, 9999) if str(i) not in taken)
    tag = f"{int(time.time())}-{secrets.token_hex(3)}"
    form_id = admin.create_form(form_id, f"Oscartes contrat {tag}", TEMPLATE)
    client = YesWikiClient("live", url, token=token, admin_user=user, admin_password=password,
                           forms={form_id: SHAPE})
    try:
        yield Backend(client, form_id, tag)
    finally:
        try:
            for rid in client.list_entries(form_id):
                client.delete_entry(rid)
        finally:
            client.close()
            admin.delete_form(form_id)
            admin.close()


@pytest.fixture(params=["emulator", "live"])
def backend(request) -> Iterator[Backend]:
    yield from (_emulated() if request.param == "emulator" else _live())


def _create(b: Backend, title: str, **values: str) -> str:
    raw = {"bf_titre": f"{title} {b.tag}", "bf_ville": "", "bf_description": "", "bf_latitude": "",
           "bf_longitude": "", **values}
    return b.target.create_entry(b.form_id, raw, source_url(f"{b.tag}-{secrets.token_hex(4)}"))


# ---- listing -----------------------------------------------------------------------------------------------


def test_a_new_form_lists_empty_and_an_unknown_form_fails(backend):
    assert backend.target.listing(backend.form_id) == {}
    with pytest.raises(ListingFailed):
        backend.target.listing("9998")


def test_a_created_entry_is_listed_with_its_values_and_bookkeeping(backend):
    rid = _create(backend, "Recyclerie", bf_ville="Orsay")
    listed = backend.target.listing(backend.form_id)
    assert set(listed) == {rid}
    entry = listed[rid]
    assert isinstance(entry, ListedEntry)
    assert entry.values["bf_titre"] == f"Recyclerie {backend.tag}" and entry.values["bf_ville"] == "Orsay"
    assert entry.validated is True  # created by an admin: not waiting for moderation
    assert entry.updated and entry.user  # the engine records who edited last, and when


# ---- the source anchor ---------------------------------------------------------------------------------------


def test_an_entry_is_found_again_by_its_source_anchor(backend):
    anchor = source_url(f"{backend.tag}-anchor")
    rid = backend.target.create_entry(backend.form_id, {"bf_titre": f"Ancre {backend.tag}"}, anchor)
    assert backend.target.find_by_source(anchor) == [rid]
    assert backend.target.source_of(rid) == anchor
    assert backend.target.find_by_source(source_url(f"{backend.tag}-nobody")) == []


def test_a_create_never_carries_an_entry_id(backend):
    with pytest.raises(ValueError):
        backend.target.create_entry(backend.form_id, {"bf_titre": "x", "id_fiche": "Other"}, source_url("x"))


# ---- reading and writing -------------------------------------------------------------------------------------


def test_read_entry_gives_the_values_and_a_revision_token_that_changes_on_save(backend):
    rid = _create(backend, "Atelier", bf_ville="Massy")
    first = backend.target.read_entry(rid)
    assert isinstance(first, EntryVersion) and first.values["bf_ville"] == "Massy" and first.revision
    backend.target.write_changes(backend.form_id, rid, {"bf_ville": "Igny"}, first)
    second = backend.target.read_entry(rid)
    assert second.values["bf_ville"] == "Igny" and second.revision != first.revision
    assert backend.target.read_entry(f"Personne{backend.tag.replace('-', '')}") is None


def test_write_changes_keeps_the_title_the_map_field_and_the_fields_it_does_not_name(backend):
    rid = _create(backend, "Jardin", bf_ville="Orsay", bf_description="Un jardin partagé",
                  bf_latitude="48.7", bf_longitude="2.18")
    before = backend.target.read_entry(rid)
    backend.target.write_changes(backend.form_id, rid, {"bf_ville": "Palaiseau"}, before)
    after = backend.target.read_entry(rid).values
    assert after["bf_ville"] == "Palaiseau"
    assert after["bf_titre"] == before.values["bf_titre"]
    assert after["bf_description"] == "Un jardin partagé"
    assert (float(after["bf_latitude"]), float(after["bf_longitude"])) == (48.7, 2.18)


def test_write_changes_can_change_the_title_and_the_point(backend):
    rid = _create(backend, "Café", bf_latitude="48.7", bf_longitude="2.18")
    before = backend.target.read_entry(rid)
    new_title = f"Café vélo {backend.tag}"
    backend.target.write_changes(backend.form_id, rid, {"bf_titre": new_title, "bf_latitude": "48.71"}, before)
    after = backend.target.read_entry(rid).values
    assert after["bf_titre"] == new_title
    assert (float(after["bf_latitude"]), float(after["bf_longitude"])) == (48.71, 2.18)


def test_revisions_are_newest_first_and_each_can_be_read_back(backend):
    rid = _create(backend, "Épicerie", bf_ville="Orsay")
    time.sleep(1.1)  # a revision is read back by its time, to the second (contract §7)
    backend.target.write_changes(backend.form_id, rid, {"bf_ville": "Bures"}, backend.target.read_entry(rid))
    revs = backend.target.revisions(rid)
    assert len(revs) >= 2 and revs[0].id == backend.target.read_entry(rid).revision
    assert backend.target.read_revision(rid, revs[0])["bf_ville"] == "Bures"
    assert backend.target.read_revision(rid, revs[1])["bf_ville"] == "Orsay"


def test_a_revision_that_shares_its_second_with_another_cannot_be_read_back(backend):
    rid = _create(backend, "Friperie", bf_ville="Orsay")
    backend.target.write_changes(backend.form_id, rid, {"bf_ville": "Bures"}, backend.target.read_entry(rid))
    revs = backend.target.revisions(rid)
    if revs[0].time != revs[1].time:
        pytest.skip("the two saves fell in different seconds")
    # `&time=` answers the first row of that second (`SELECT ... WHERE time = ... LIMIT 1`, by primary key):
    # the older save; the newer one is not taken for it
    assert backend.target.read_revision(rid, revs[0]) is None
    assert backend.target.read_revision(rid, revs[1])["bf_ville"] == "Orsay"


# ---- files of image fields (DECISIONS §7) --------------------------------------------------------------------


def test_a_file_sent_on_create_is_stored_downloadable_and_labelled(backend, make_png):
    png = make_png("red")
    rid = _create(backend, "Logo", imagebf_logo=FileUpload("logo vélo.png", png, "image/png"))
    name = backend.target.read_entry(rid).values["imagebf_logo"]
    assert name and name != "logo vélo.png"  # the wiki's own name for it
    assert backend.target.download_file(name, 1_000_000) == png
    assert backend.target.file_label(name, "imagebf_logo") == "logo_vlo.png"  # what a member sees there
    r = requests.get(backend.target.file_url(name), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png" and r.content == png


def test_a_download_stops_one_byte_past_the_limit_and_a_missing_file_is_none(backend, make_png):
    png = make_png("blue", (300, 300))
    rid = _create(backend, "Grand", imagebf_logo=FileUpload("grand.png", png, "image/png"))
    name = backend.target.read_entry(rid).values["imagebf_logo"]
    assert backend.target.download_file(name, 100) == png[:101]
    assert backend.target.download_file("Personne_imagebf_logo_x_20260101000000_20260101000000.png", 100) is None


def test_write_changes_replaces_a_file_keeps_it_when_not_named_and_erases_it_with_empty(backend, make_png):
    rid = _create(backend, "Affiche", imagebf_logo=FileUpload("a.png", make_png("red"), "image/png"))
    first = backend.target.read_entry(rid)
    time.sleep(1.1)  # a new upload in the same second could get the same name (contract §3.5)
    backend.target.write_changes(backend.form_id, rid, {"imagebf_logo": FileUpload("b.png", make_png("green"),
                                                                                      "image/png")}, first)
    second = backend.target.read_entry(rid)
    assert second.values["imagebf_logo"] != first.values["imagebf_logo"]
    assert backend.target.download_file(second.values["imagebf_logo"], 1_000_000) == make_png("green")
    backend.target.write_changes(backend.form_id, rid, {"bf_ville": "Orsay"}, second)
    third = backend.target.read_entry(rid)
    assert third.values["imagebf_logo"] == second.values["imagebf_logo"]
    backend.target.write_changes(backend.form_id, rid, {"imagebf_logo": ""}, third)
    assert backend.target.read_entry(rid).values["imagebf_logo"] == ""


# ---- deleting ------------------------------------------------------------------------------------------------


def test_a_deleted_entry_is_gone_and_deleting_it_again_is_no_error(backend):
    rid = _create(backend, "Ressourcerie")
    backend.target.delete_entry(rid)
    assert backend.target.read_entry(rid) is None
    assert rid not in backend.target.listing(backend.form_id)
    backend.target.delete_entry(rid)


# ---- bookkeeping ---------------------------------------------------------------------------------------------


def test_every_request_is_counted(backend):
    _create(backend, "Compteur")
    backend.target.stats.counts.clear()
    backend.target.listing(backend.form_id)
    assert backend.target.stats.total == 1  # a quiet run costs one listing per form (DECISIONS §14)
