"""The shared address book against two emulated Nextclouds, over HTTP: create, change, unchanged, edited in
Nextcloud, deleted; one REPORT per book on a no-op; a refused app password; a 412; members-only contacts."""

from __future__ import annotations


import pytest
import requests
import vobject

from oscartes_sync.publish.addressbook import CardContext, build_card, parse_card, state_key
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds

from ncsample import CLOUDS, commune_fields

ULIS = commune_fields("Les Ulis")

BOOK = "oscartes"


def actor(name, **extra):
    fields = {"name": name, "short_description": f"{name}, une structure de l'Essonne.", "street": "1 rue Haute",
              **ULIS,
              "email": f"contact@{name.split()[0].lower()}.fr", "phone": "+33169000001",
              "website": f"https://{name.split()[0].lower()}.example.org", "themes": ["economie-circulaire"],
              "services": ["recyclerie", "repair-cafe"], "contact_visibility": "membres"}
    fields.update(extra)
    return fields


@pytest.fixture
def ids(store):
    out = {}
    out["ulis"] = store.create_record("actor", actor("Recyclerie des Ulis"), author="t", origin="polesnoe")
    out["velo"] = store.create_record("actor", actor("Atelier Roue Libre", contact_visibility="public",
                                                     email="velo@rouelibre.fr", phone="+33169000002"),
                                      author="t", origin="tel")
    out["amap"] = store.create_record("actor", actor("AMAP des Coteaux", themes=["alimentation"], services=[]),
                                      author="t", origin="tel")
    return out


def publish(cfg, store, clock, **kw):
    clock.advance(5)  # runs are minutes apart in real life; past the same-second window of DECISIONS §14
    return publish_nextclouds(cfg, store, clock=clock, **kw)


def cards(sandbox, name="polesnoe-cloud"):
    nc = sandbox.nextclouds[name]
    return nc.emulator.cards(nc.user, BOOK)


def dav(sandbox, name="polesnoe-cloud"):
    """The coordinator, logged in as the service account, using CardDAV directly (DECISIONS §18)."""
    nc = sandbox.nextclouds[name]
    s = requests.Session()
    s.auth = (nc.user, nc.password)
    return s, f"{nc.url}remote.php/dav/addressbooks/users/{nc.user}/{BOOK}/"


def test_first_run_writes_one_card_per_actor_shared_with_the_group(sandbox, cfg, store, clock, ids):
    store.create_record("project", {"name": "Pas un acteur"}, author="t", origin="tel")
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    for name in CLOUDS:
        got = cards(sandbox, name)
        assert sorted(got) == sorted(f"{rid}.vcf" for rid in ids.values())
        nc = sandbox.nextclouds[name]
        assert nc.emulator.delivered_to(nc.user, BOOK) == [nc.group]  # a name with spaces and accents
        assert list(nc.emulator.book(nc.user, BOOK).shared_with.values()) == [False]  # read-only
        # the member sees the shared book and cannot write into it (contract §4)
        member = requests.Session()
        member.auth = (nc.member, nc.member_password)
        shared = f"{nc.url}remote.php/dav/addressbooks/users/{nc.member}/{BOOK}_shared_by_{nc.user}/"
        r = member.request("PROPFIND", shared, headers={"Depth": "0"})
        assert r.status_code == 207
        put = member.put(shared + "x.vcf", data="BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:x\r\nEND:VCARD\r\n")
        assert put.status_code == 404
    card = parse_card(cards(sandbox)[f"{ids['ulis']}.vcf"])
    assert card["name"] == "Recyclerie des Ulis" and card["commune"] == "Les Ulis" and card["postcode"] == ULIS["postcode"]
    text = cards(sandbox)[f"{ids['ulis']}.vcf"]
    assert f"UID:{ids['ulis']}" in text
    assert vobject.readOne(text).categories.value == ["Économie circulaire & réemploi",
                                                      "Recyclerie / ressourcerie / friperie", "Repair café"]
    assert f"GEO:{ULIS['latitude']:.6f};{ULIS['longitude']:.6f}" in text


def test_members_only_contact_details_never_reach_a_card(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    for name in CLOUDS:
        raw = "".join(cards(sandbox, name).values()).encode()
        assert b"contact@recyclerie.fr" not in raw and b"contact@amap.fr" not in raw
        assert b"+33169000001" not in raw and b"01 69 00 00 01" not in raw
        # the actor that made its contact details public shows them, the phone as members read it (§23)
        assert b"velo@rouelibre.fr" in raw and b"01 69 00 00 02" in raw


def test_no_op_sends_one_report_per_book_one_propfind_per_folder_and_no_write(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    publish(cfg, store, clock)  # reads back once the files written less than 2 s before the last look
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    for name, nc in sandbox.nextclouds.items():
        assert res.requests[name] == {"REPORT addressbook": 1, "PROPFIND files": 2}  # exports and articles folders
        assert nc.emulator.count("REPORT") == 1 and nc.emulator.count("PROPFIND") == 2
        assert sum(nc.emulator.count(m) for m in ("PUT", "DELETE", "MKCOL", "POST", "MOVE")) == 0
        assert res.writes[name] == 0


def test_a_changed_record_rewrites_exactly_its_card(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    rec = store.record(ids["velo"])
    store.update_record(ids["velo"], {**rec.fields, "phone": "+33169009999"}, author="t", origin="tel")
    for nc in sandbox.nextclouds.values():
        nc.emulator.reset_log()
    res = publish(cfg, store, clock)
    for name, nc in sandbox.nextclouds.items():
        assert res.requests[name].get("PUT addressbook") == 1
        assert nc.emulator.count("PUT", f"/{ids['velo']}.vcf") == 1
        assert parse_card(cards(sandbox, name)[f"{ids['velo']}.vcf"])["phone"] == "01 69 00 99 99"


def test_a_card_edited_in_nextcloud_becomes_suggestions_and_is_restored(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    before = cards(sandbox)[f"{ids['velo']}.vcf"]
    edited = before.replace("velo@rouelibre.fr", "atelier@rouelibre.fr").replace(
        "https://atelier.example.org", "https://rouelibre.example.org")
    assert edited != before
    s, url = dav(sandbox)
    r = s.put(url + f"{ids['velo']}.vcf", data=edited.encode(), headers={"Content-Type": "text/vcard"})
    assert r.status_code == 204
    res = publish(cfg, store, clock)
    got = {(x.field, x.value, x.instance) for x in store.suggestions("open", record_id=ids["velo"])}
    assert got == {("email", "atelier@rouelibre.fr", "polesnoe-cloud"),
                   ("website", "https://rouelibre.example.org", "polesnoe-cloud")}
    assert cards(sandbox)[f"{ids['velo']}.vcf"] == before  # restored
    assert store.record(ids["velo"]).fields["email"] == "velo@rouelibre.fr"  # the record waits for a person
    assert [n for n in res.notices if n.level == "attention" and n.record_id == ids["velo"]]
    # the same edit again: the open suggestions are not repeated
    r = s.put(url + f"{ids['velo']}.vcf", data=edited.encode(), headers={"Content-Type": "text/vcard"})
    assert r.status_code == 204
    res = publish(cfg, store, clock)
    assert len(store.suggestions("open")) == 2
    assert not [n for n in res.notices if n.level == "attention"]
    assert cards(sandbox)[f"{ids['velo']}.vcf"] == before


def test_a_phone_rewritten_in_another_form_in_a_card_is_no_suggestion(sandbox, cfg, store, clock, ids):
    """A value that differs only by its display form is not a change (DECISIONS §23)."""
    publish(cfg, store, clock)
    before = cards(sandbox)[f"{ids['velo']}.vcf"]
    assert "TEL;TYPE=WORK:01 69 00 00 02" in before
    s, url = dav(sandbox)
    r = s.put(url + f"{ids['velo']}.vcf", data=before.replace("01 69 00 00 02", "+33 1 69 00 00 02").encode(),
              headers={"Content-Type": "text/vcard"})
    assert r.status_code == 204
    publish(cfg, store, clock)
    assert store.suggestions("open") == []
    assert cards(sandbox)[f"{ids['velo']}.vcf"] == before  # restored all the same


def test_an_unreadable_card_on_the_server_is_named_and_restored(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    before = cards(sandbox)[f"{ids['amap']}.vcf"]
    nc = sandbox.nextclouds["polesnoe-cloud"]
    nc.emulator.edit_card(nc.user, BOOK, f"{ids['amap']}.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:AMAP\r\n")
    res = publish(cfg, store, clock)
    assert [n for n in res.notices if n.record_id == ids["amap"] and "cannot be read" in n.message]
    assert cards(sandbox)[f"{ids['amap']}.vcf"] == before
    assert store.suggestions("open") == []


def test_a_card_deleted_in_nextcloud_is_restored(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    before = cards(sandbox)[f"{ids['ulis']}.vcf"]
    s, url = dav(sandbox)
    assert s.delete(url + f"{ids['ulis']}.vcf").status_code == 204
    publish(cfg, store, clock)
    assert cards(sandbox)[f"{ids['ulis']}.vcf"] == before
    assert cards(sandbox, "tel-cloud")[f"{ids['ulis']}.vcf"] == before


def test_a_deleted_record_deletes_its_card_even_many_at_once(sandbox, cfg, store, clock, ids):
    """A tombstone is a deletion already accepted (within the limits, or by a person: DECISIONS §24): its card
    goes, however many go in one run. Cards of records the store does not hold at all stay behind the limit
    (test_accepted_deletions.py covers that case and its advice)."""
    extra = [store.create_record("actor", actor(f"Structure {i}"), author="t", origin="tel") for i in range(6)]
    publish(cfg, store, clock)
    store.tombstone_record(ids["amap"], author="t", origin="tel")
    publish(cfg, store, clock)
    assert f"{ids['amap']}.vcf" not in cards(sandbox)
    assert len(cards(sandbox)) == 8
    for rid in extra[:5]:  # 5 of 8 > max(0.2 × 8, 3), but deleted in the store: accepted already
        store.tombstone_record(rid, author="t", origin="tel")
    res = publish(cfg, store, clock)
    assert len(cards(sandbox)) == 3
    assert not [n for n in res.notices if n.level == "attention"]
    assert sorted(res.cards_deleted["polesnoe-cloud"]) == sorted(extra[:5])


def test_a_card_with_no_record_is_left_alone_and_reported_once(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    s, url = dav(sandbox)
    foreign = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:perso-1\r\nFN:Camille\r\nEND:VCARD\r\n"
    assert s.put(url + "perso-1.vcf", data=foreign, headers={"Content-Type": "text/vcard"}).status_code == 201
    res = publish(cfg, store, clock)
    assert len([n for n in res.notices if "perso-1.vcf" in n.message]) == 1
    res = publish(cfg, store, clock)
    assert not [n for n in res.notices if "perso-1.vcf" in n.message]
    assert cards(sandbox)["perso-1.vcf"] == foreign


def test_a_412_on_our_write_is_read_again_as_an_edit_next_run(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    nc = sandbox.nextclouds["polesnoe-cloud"]
    card_uri = f"{ids['velo']}.vcf"
    edited = cards(sandbox)[card_uri].replace("FN:Atelier Roue Libre\r\n", "FN:Atelier Roue Libre (Les Ulis)\r\n")
    assert edited != cards(sandbox)[card_uri]

    def race(app):
        fired = []

        def wrapped(environ, start_response):
            if environ["REQUEST_METHOD"] == "PUT" and card_uri in environ.get("PATH_INFO", "") and not fired:
                fired.append(1)  # someone saves the card between our read and our write
                nc.emulator.edit_card(nc.user, BOOK, card_uri, edited)
            return app(environ, start_response)
        return wrapped

    nc.server.wrap(race)
    rec = store.record(ids["velo"])
    store.update_record(ids["velo"], {**rec.fields, "website": "https://rouelibre.org"}, author="t", origin="tel")
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    assert [n for n in res.notices if n.record_id == ids["velo"] and "412" in n.message]
    assert "Les Ulis)" in cards(sandbox)[card_uri]
    publish(cfg, store, clock)
    assert [(x.field, x.value) for x in store.suggestions("open")] == [("name", "Atelier Roue Libre (Les Ulis)")]
    final = parse_card(cards(sandbox)[card_uri])
    assert final["name"] == "Atelier Roue Libre" and final["website"] == "https://rouelibre.org"


def test_wrong_app_password_stops_that_instance_once_and_the_other_goes_on(sandbox, cfg, store, clock, ids,
                                                                         monkeypatch):
    bad = sandbox.nextclouds["polesnoe-cloud"]
    wrong = "wrong-" + bad.app_password[:20]
    monkeypatch.setenv(bad.env_var, wrong)
    bad.emulator.reset_log()
    res = publish(cfg, store, clock)
    msg = res.instance_errors["polesnoe-cloud"]
    assert "401" in msg and "app password was refused" in msg
    assert wrong not in repr(res) and bad.app_password not in repr(res)
    assert len(bad.emulator.request_log) == 1  # one failed login, then nothing (contract §1)
    assert "tel-cloud" not in res.instance_errors
    assert len(cards(sandbox, "tel-cloud")) == 3


def test_missing_secret_is_an_instance_error_and_the_other_goes_on(sandbox, cfg, store, clock, ids, monkeypatch):
    monkeypatch.delenv(sandbox.nextclouds["tel-cloud"].env_var)
    res = publish(cfg, store, clock)
    assert res.instance_errors == {"tel-cloud": f"secret variable {sandbox.nextclouds['tel-cloud'].env_var} is not "
                                                "set: Nextcloud skipped"}
    assert len(cards(sandbox)) == 3


def test_a_missing_group_is_named_and_the_book_is_shared_once_it_exists(sandbox, cfg, store, clock, ids):
    nc_cfg = cfg.nextcloud[0].model_copy(update={"group": "reseau-absent"})
    cfg = cfg.model_copy(update={"nextcloud": [nc_cfg, cfg.nextcloud[1]]})
    res = publish(cfg, store, clock)
    msg = res.instance_errors["polesnoe-cloud"]
    assert "'reseau-absent'" in msg and "coordinator creates the group once" in msg
    assert len(cards(sandbox)) == 3  # nothing lost meanwhile
    emu = sandbox.nextclouds["polesnoe-cloud"]
    emu.emulator.add_group("reseau-absent")
    res = publish(cfg, store, clock)
    assert "polesnoe-cloud" not in res.instance_errors
    assert emu.emulator.delivered_to(emu.user, BOOK) == ["reseau-absent"]


def test_an_invalid_sync_token_means_a_full_resync_without_rewrites(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    key = state_key("polesnoe-cloud")
    state = store.get_state(key)
    store.set_state(key, {**state, "token": "not-a-sabre-token"})
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    assert res.requests["polesnoe-cloud"]["REPORT addressbook"] == 2
    assert "PUT addressbook" not in res.requests["polesnoe-cloud"]
    assert any("full resync" in n.message for n in res.notices)


def test_a_book_deleted_on_the_server_is_recreated_and_refilled(sandbox, cfg, store, clock, ids):
    publish(cfg, store, clock)
    s, url = dav(sandbox)
    assert s.delete(url).status_code == 204
    res = publish(cfg, store, clock)
    assert res.instance_errors == {}
    assert len(cards(sandbox)) == 3
    nc = sandbox.nextclouds["polesnoe-cloud"]
    assert nc.emulator.delivered_to(nc.user, BOOK) == [nc.group]


def test_dry_run_writes_nothing(sandbox, cfg, store, clock, ids):
    res = publish(cfg, store, clock, dry_run=True)
    assert res.instance_errors == {}
    assert cards(sandbox) == {} and sandbox.nextclouds["polesnoe-cloud"].emulator.count("PUT") == 0
    assert store.get_state(state_key("polesnoe-cloud")) is None


def test_card_links_to_each_wiki_entry():
    ctx = CardContext({"polesnoe": "https://noe.example.org/", "tel": "https://tel.example.org/"},
                      {"r1": {"tel": "RecyclerieDesUlis", "polesnoe": "RecyclerieUlis"}}, {})
    text, values = build_card("r1", actor("Recyclerie des Ulis"), ctx)
    assert "URL;TYPE=wiki:https://noe.example.org/?RecyclerieUlis" in text
    assert "URL;TYPE=wiki:https://tel.example.org/?RecyclerieDesUlis" in text
    assert "email" not in values and "phone" not in values
    assert parse_card(text) == values  # the wiki links are not the website
    assert build_card("r1", actor("Recyclerie des Ulis"), ctx)[0] == text  # deterministic
