"""Review inside the wiki (issue 15 item 3, DECISIONS §25), against two emulated wikis over HTTP.

Each wiki's review page lists what is open for its entries and is readable by its administrators only; a
person takes a decision by following a link of the page and submitting the prefilled "Décisions OSCARTES" form,
as in a browser; the next sync checks it, applies it as the CLI would, writes the chosen value to both wikis,
names the person in the record's history and answers the entry. Bad decisions change nothing and are one line
of the report each.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from oscartes_sync import coordinator
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.publish.review_page import review_body
from oscartes_sync.records import DECISIONS
from oscartes_sync.review import fingerprint
from oscartes_sync.sandbox.sandbox import follow_link, submit_bazar_form as submit

FORM = DEFAULT_FORM_IDS["actor"]
TAG = "RevueOscartes"
HOURS_A, HOURS_B = "Mo 09:00-12:00", "Tu 14:00-18:00"


@pytest.fixture
def rcfg(cfg):
    cfg.review.enabled = True
    return cfg


def run(cfg, store, **kw):
    return sync_once(cfg, store, build_instances(cfg), **kw)


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


def login(w, user, password) -> requests.Session:
    s = requests.Session()
    r = s.post(w.url + "?PagePrincipale", data={"name": user, "password": password, "action": "login"},
               allow_redirects=False)
    assert r.status_code == 302
    return s


def admin(w) -> requests.Session:
    return login(w, w.admin_user, w.admin_password)


def make_conflict(sandbox, cfg, store):
    """The same field edited differently in both wikis: one open conflict. (entry id in A, in B, conflict)"""
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Épicerie solidaire La Fourmi"))
    run(cfg, store)
    bid = next(i for i, e in b.list(FORM).items() if e["bf_titre"] == "Épicerie solidaire La Fourmi")
    a.member_edit(aid, {"bf_horaires": HOURS_A})
    b.member_edit(bid, {"bf_horaires": HOURS_B})
    assert run(cfg, store).exit_code == 1
    [c] = store.conflicts("open")
    return aid, bid, c


def page(w, session=None) -> str:
    """The review page's body as an administrator reads it through the API."""
    r = (session or admin(w)).get(f"{w.url}?api/pages/{TAG}")
    assert r.status_code == 200, r.status_code
    return r.json()["body"].replace("\u200d", "")  # the joiners that keep CamelCase words from linking


def links(body: str) -> dict[str, str]:
    """Label -> URL of the page's external links (`[[url label]]`)."""
    return {label: url for url, label in re.findall(r"\[\[(https?://\S+) ([^\]]+)\]\]", body)}


def decisions(w) -> dict[str, dict]:
    return w.list(DECISIONS.form_id)


def notices(result, level=None) -> list[str]:
    return [n["message"] for n in result.report["notices"] if level is None or n["level"] == level]


# ---------------------------------------------------------------------------------------------- the page


def test_each_wiki_page_lists_its_open_conflict_with_values_places_times_and_links(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    rec = store.record(c.record_id)
    for name, own in (("polesnoe", aid), ("tel", bid)):
        body = page(sandbox.wikis[name])
        assert "Épicerie solidaire La Fourmi" in body and "Horaires d'ouverture" in body
        assert f"Conflit n°{c.id}" in body and f"fiche {rec.id[:8]}" in body
        assert f"[[{own} voir la fiche dans ce wiki]]" in body  # the entry of this wiki
        assert f"**polesnoe** : « {HOURS_A} », saisie le " in body and f"**tel** : « {HOURS_B} », saisie le " in body
        found = links(body)
        assert {"Garder la valeur de polesnoe", "Garder la valeur de tel", "Autre valeur"} <= set(found)
        query = parse_qs(urlsplit(found["Garder la valeur de tel"]).query)
        assert query["bf_sujet"] == [f"conflit-{c.id}"] and query["bf_choix"] == ["tel"]
        assert query["bf_champ"] == ["opening_hours"] and query["bf_empreinte"] == [fingerprint(HOURS_B)]
        assert query["id"] == [DECISIONS.form_id]


def test_the_page_is_refused_to_visitors_and_plain_members(sandbox, rcfg, store):
    make_conflict(sandbox, rcfg, store)
    w = sandbox.wikis["polesnoe"]
    anonymous, member = requests.Session(), w.member_session()
    for who in (anonymous, member):
        assert who.get(f"{w.url}?api/pages/{TAG}").status_code == 403
        for handler in ("", "/raw", "/revisions", "/iframe"):
            r = who.get(f"{w.url}?{TAG}{handler}")
            assert r.status_code == 200 and "Fourmi" not in r.text and HOURS_A not in r.text, handler
        assert TAG not in (who.get(f"{w.url}?api/pages").json() or {})
        with pytest.raises(RuntimeError, match="shows no link"):  # none of its links either (review_06)
            follow_link(who, f"{w.url}?{TAG}", "Garder la valeur de tel")
    # and a member cannot loosen it
    r = member.post(f"{w.url}?{TAG}/acls", data={"read_acl": "*", "write_acl": "*", "comment_acl": "", "newowner": ""})
    assert "Vous ne pouvez pas gérer les permissions" in r.text
    assert anonymous.get(f"{w.url}?api/pages/{TAG}").status_code == 403
    assert w.emulator.acls[TAG] == {"read": "@admins", "write": "@admins", "comment": "comments-closed"}
    assert w.emulator.page(TAG)["owner"] == w.admin_user


def test_a_conflict_is_listed_only_where_its_record_has_an_entry(sandbox, rcfg, store):
    rid = store.create_record("actor", {"name": "Seulement à PôleS NOE"}, author="test", origin="polesnoe")
    store.set_link(rid, "polesnoe", form_id=FORM, remote_id="SeulementAPolesNoe", snapshot={})
    store.open_conflict(rid, "phone", None, {"polesnoe": "+33169102030", "tel": "+33169102031"})
    wikis = {w.name: w for w in rcfg.wiki}
    assert "Seulement à PôleS NOE" in review_body(rcfg, store, wikis["polesnoe"])
    assert "Seulement à PôleS NOE" not in review_body(rcfg, store, wikis["tel"])
    assert "01 69 10 20 30" in review_body(rcfg, store, wikis["polesnoe"])  # shown as members type it


def test_the_page_is_rewritten_only_when_its_content_changed(sandbox, rcfg, store):
    sandbox.wikis["polesnoe"].member_create(FORM, entry("Atelier vélo Roue Libre"))
    first = run(rcfg, store)
    assert first.result.page_writes == {"polesnoe": 1, "tel": 1}
    for w in sandbox.wikis.values():
        w.emulator.reset_log()
    quiet = run(rcfg, store)
    assert quiet.result.page_writes == {}
    for w in sandbox.wikis.values():  # a quiet run: one listing per synced form, the decisions form's included
        assert w.emulator.request_log == [("GET", f"/?api/forms/{DECISIONS.form_id}/entries"),
                                          ("GET", f"/?api/forms/{FORM}/entries")]
    make_conflict(sandbox, rcfg, store)  # something new to show: written again
    assert "Épicerie solidaire" in page(sandbox.wikis["tel"])


def test_a_page_a_member_created_first_is_taken_over_before_anything_is_written(sandbox, rcfg, store):
    w = sandbox.wikis["polesnoe"]
    w.emulator.add_page(TAG, "Ma page", owner=w.member_user)
    make_conflict(sandbox, rcfg, store)
    assert w.emulator.page(TAG)["owner"] == w.admin_user
    assert w.member_session().get(f"{w.url}?api/pages/{TAG}").status_code == 403
    assert "Épicerie solidaire" in page(w)


def test_a_hand_edit_of_the_page_is_replaced_at_the_next_change_and_reported(sandbox, rcfg, store):
    _, _, c = make_conflict(sandbox, rcfg, store)
    w = sandbox.wikis["polesnoe"]
    w.emulator.add_page(TAG, "Une note à la main", owner=w.admin_user)  # a new revision, by an admin
    assert run(rcfg, store).result.page_writes == {}  # nothing new to show: left as it is
    coordinator.resolve_conflict(store, c.id, take="tel")
    result = run(rcfg, store)
    assert any("edited in the wiki since the service wrote it: replaced" in m for m in notices(result, "info"))
    assert "Conflits (0)" in page(w)
    assert any(r["body"] == "Une note à la main" for r in w.emulator.page_revisions(TAG))  # kept in the history


# ---------------------------------------------------------------------------------------------- decisions


def test_a_decision_taken_on_the_page_settles_the_conflict_in_both_wikis_and_names_the_person(sandbox, rcfg,
                                                                                              store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    session = admin(a)  # reads the page as the wiki shows it, follows the link, submits the prefilled form
    decision = submit(session, follow_link(session, f"{a.url}?{TAG}", "Garder la valeur de tel"))
    assert store.conflict(c.id).status == "open"  # nothing happens before the next run

    result = run(rcfg, store)
    assert a.read(aid)["bf_horaires"] == HOURS_B and b.read(bid)["bf_horaires"] == HOURS_B
    settled = store.conflict(c.id)
    assert settled.status == "resolved" and settled.resolution == HOURS_B
    assert settled.resolved_by == f"{a.admin_user}@polesnoe"
    last = store.history(c.record_id)[-1]
    assert last.fields["opening_hours"] == HOURS_B
    who = [r for r in store.history(c.record_id) if r.author == f"{a.admin_user}@polesnoe"]
    assert who and who[0].origin == "polesnoe" and f"conflict #{c.id}" in who[0].note
    assert any(f"decision {decision} by {a.admin_user}@polesnoe: applied" in m for m in notices(result, "info"))
    # answered in the entry and on the page, and gone from the conflicts
    assert decisions(a)[decision]["bf_reponse"].startswith("Appliquée : la valeur de tel est gardée")
    body = page(a)
    assert "Garder la valeur" not in body and "Conflits (0)" in body
    assert f"{a.admin_user}@polesnoe : Appliquée" in body
    assert result.exit_code == 0
    # never applied twice, never copied to the other wiki
    before = len(store.history(c.record_id))
    again = run(rcfg, store)
    assert len(store.history(c.record_id)) == before and again.result.page_writes == {}
    # a decision is no record: never copied to the other wiki, never in an export or an address book
    assert decisions(b) == {} and [r.fields["name"] for r in store.records()] == ["Épicerie solidaire La Fourmi"]


def test_another_value_typed_in_the_form_is_written_everywhere(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    session = admin(b)
    submit(session, links(page(b, session))["Autre valeur"], bf_valeur="Mo 09:00-12:00; Tu 14:00-18:00")
    run(rcfg, store)
    assert a.read(aid)["bf_horaires"] == b.read(bid)["bf_horaires"] == "Mo 09:00-12:00; Tu 14:00-18:00"
    assert store.conflict(c.id).resolved_by == f"{b.admin_user}@tel"


def test_a_member_of_the_configured_group_reads_the_page_and_decides(sandbox, rcfg, store):
    a = sandbox.wikis["polesnoe"]
    a.emulator.add_group("Coordination", a.member_user)
    rcfg.wiki[0].review_group = "Coordination"
    aid, _, c = make_conflict(sandbox, rcfg, store)
    member = a.member_session()
    body = page(a, member)  # readable by the group
    submit(member, links(body)["Garder la valeur de polesnoe"])
    run(rcfg, store)
    assert store.conflict(c.id).resolved_by == f"{a.member_user}@polesnoe"
    assert a.read(aid)["bf_horaires"] == HOURS_A
    # the other wiki has no such group: its members stay out
    assert sandbox.wikis["tel"].member_session().get(f"{sandbox.wikis['tel'].url}?api/pages/{TAG}").status_code == 403


def test_a_possible_duplicate_is_linked_from_the_page(sandbox, rcfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Ressourcerie Cyclamen", bf_siret="73282932000074"))
    b.member_create(FORM, entry("Ressourcerie du Cyclamen", bf_siret="55208131766522"))
    run(rcfg, store)
    [item] = store.review_items("open")
    [rec] = store.records("actor")
    body = page(b)
    assert f"Doublon possible n°{item.id}" in body and "Ressourcerie du Cyclamen" in body
    assert "même commune" in body and "same commune" not in body  # why, in French whatever the reader's language
    assert f"Doublon possible n°{item.id}" in page(a)  # the candidate record has its entry there
    session = admin(b)
    submit(session, links(page(b, session))["Relier : c'est la même structure que Ressourcerie Cyclamen"])
    result = run(rcfg, store)
    assert store.review_item(item.id).status == "merged"
    assert store.link(rec.id, "tel").remote_id == item.remote_id and len(store.records("actor")) == 1
    assert any(r.author == f"{b.admin_user}@tel" and "linked" in r.note for r in store.history(rec.id))
    assert len(a.list(FORM)) == 1 and len(b.list(FORM)) == 1  # one actor, nothing copied
    assert result.exit_code == 1  # the two SIRETs now disagree: a conflict for a person


def test_a_possible_duplicate_marked_distinct_from_the_page_is_copied(sandbox, rcfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Ressourcerie Cyclamen", bf_siret="73282932000074"))
    b.member_create(FORM, entry("Ressourcerie du Cyclamen", bf_siret="55208131766522"))
    run(rcfg, store)
    [item] = store.review_items("open")
    session = admin(a)
    submit(session, links(page(a, session))["Deux acteurs différents : la recopier comme une nouvelle fiche"])
    run(rcfg, store)
    assert store.review_item(item.id).status == "distinct"
    assert len(store.records("actor")) == 2 and len(a.list(FORM)) == 2


# ---------------------------------------------------------------------------------------------- bad input


def _decision(w, session, cid, **fields) -> str:
    """A decision entry created through the form, as a person who edited the prefilled fields would."""
    url = (f"{w.url}?BazaR&vue=saisir&action=saisir_fiche&id={DECISIONS.form_id}")
    values = {"bf_titre": "Décision", "bf_sujet": f"conflit-{cid}", "bf_choix": "tel", **fields}
    return submit(session, url, **values)


BAD = {
    "unknown conflict": (dict(bf_sujet="conflit-999"), "there is no conflict #999"),
    "unknown subject": (dict(bf_sujet="trancher vite"), "is neither conflit-N nor doublon-N"),
    "unknown field": (dict(bf_champ="couleur"), "not couleur"),
    "another record": (dict(bf_fiche="deadbeef"), "not deadbeef"),
    "not a candidate": (dict(bf_choix="wikiz"), "'wikiz' is not a candidate"),
    "value changed since": (dict(bf_empreinte="0000000000"), "changed since the page showed it"),
    "empty merged value": (dict(bf_choix="autre", bf_valeur=""), "needs a value"),
    "refused merged value": (dict(bf_choix="autre", bf_valeur="<script>x</script>tous les jours"),
                             "opening_hours"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_decision_changes_nothing_and_is_one_line_of_the_report(sandbox, rcfg, store, case):
    fields, reason = BAD[case]
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    before = (len(store.history(c.record_id)), a.read(aid)["bf_horaires"], b.read(bid)["bf_horaires"])
    decision = _decision(a, admin(a), c.id, **fields)
    result = run(rcfg, store)
    assert store.conflict(c.id).status == "open"
    assert (len(store.history(c.record_id)), a.read(aid)["bf_horaires"], b.read(bid)["bf_horaires"]) == before
    lines = [m for m in notices(result, "attention") if m.startswith(f"decision {decision} ")]
    assert len(lines) == 1 and ": refused: " in lines[0] and reason in lines[0], notices(result)
    assert decisions(a)[decision]["bf_reponse"].startswith("Refusée : ")
    assert result.exit_code == 1
    again = run(rcfg, store)  # said once
    assert not [m for m in notices(again) if decision in m]


def test_a_decision_forged_by_a_member_or_a_visitor_is_ignored(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a = sandbox.wikis["polesnoe"]
    body = page(a)
    url = links(body)["Garder la valeur de tel"]
    by_member = submit(a.member_session(), url)
    by_visitor = submit(requests.Session(), url)
    # and an administrator's decision that a member overwrote through the API (owner kept, review_04)
    genuine = submit(admin(a), links(body)["Garder la valeur de polesnoe"])
    r = requests.post(f"{a.url}?api/entries/{DECISIONS.form_id}", headers={"Authorization": f"Bearer {a.member_token}"},
                      data={"id_fiche": genuine, "bf_titre": "Décision", "bf_sujet": f"conflit-{c.id}",
                            "bf_choix": "tel"})
    assert r.status_code == 201 and decisions(a)[genuine]["owner"] == a.admin_user
    result = run(rcfg, store)
    assert store.conflict(c.id).status == "open" and a.read(aid)["bf_horaires"] == HOURS_A
    lines = notices(result, "attention")
    for entry_id, why in ((by_member, f"written by {a.member_user}, who is not an administrator of polesnoe"),
                          (by_visitor, "written by an anonymous visitor"),
                          (genuine, f"last changed by {a.member_user}, who is not an administrator")):
        assert [m for m in lines if m.startswith(f"decision {entry_id} ") and why in m and "ignored" in m], lines
        assert decisions(a)[entry_id]["bf_reponse"].startswith("Ignorée : ")


def test_a_decision_on_a_conflict_settled_meanwhile_is_answered_not_applied_twice(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a = sandbox.wikis["polesnoe"]
    decision = submit(admin(a), links(page(a))["Garder la valeur de polesnoe"])
    coordinator.resolve_conflict(store, c.id, take="tel", by="coordinator")  # settled by the CLI meanwhile
    before = len(store.history(c.record_id))
    result = run(rcfg, store)
    assert len(store.history(c.record_id)) == before
    assert a.read(aid)["bf_horaires"] == HOURS_B  # the CLI's choice, not the page's
    [line] = [m for m in notices(result) if m.startswith(f"decision {decision} ")]
    assert "already settled by coordinator" in line and "not applied again" in line
    answer = decisions(a)[decision]["bf_reponse"]
    assert answer.startswith(f"Sans effet : le conflit n°{c.id} avait déjà été tranché par coordinator")
    assert answer.split(" (")[0] in page(a)  # answered on the page


def test_two_decisions_on_one_conflict_first_come_first_served(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    first = submit(admin(a), links(page(a))["Garder la valeur de polesnoe"])
    second = submit(admin(b), links(page(b))["Garder la valeur de tel"])
    run(rcfg, store)
    assert b.read(bid)["bf_horaires"] == HOURS_A
    assert decisions(a)[first]["bf_reponse"].startswith("Appliquée")
    assert decisions(b)[second]["bf_reponse"].startswith("Sans effet")


def test_decisions_that_cannot_be_read_wait_for_the_next_run_and_the_sync_goes_on(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    decision = submit(admin(a), links(page(a))["Garder la valeur de tel"])
    a.member_edit(aid, {"bf_ville": "Massy", "bf_codepostal": "91300"})
    a.emulator.inject("GET", rf"api/forms/{DECISIONS.form_id}/entries", "500", times=1)
    result = run(rcfg, store)
    assert any("decisions not read" in m and "they wait for the next run" in m for m in notices(result, "attention"))
    assert store.conflict(c.id).status == "open" and decisions(a)[decision]["bf_reponse"] == ""
    assert b.read(bid)["bf_ville"] == "Massy"  # the entries were synced all the same
    run(rcfg, store)
    assert store.conflict(c.id).status == "resolved" and b.read(bid)["bf_horaires"] == HOURS_B


def test_a_dry_run_says_what_a_decision_would_do_and_writes_nothing(sandbox, rcfg, store):
    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a = sandbox.wikis["polesnoe"]
    decision = submit(admin(a), links(page(a))["Garder la valeur de tel"])
    result = run(rcfg, store, dry_run=True)
    assert any(f"decision {decision} by {a.admin_user}@polesnoe: would be applied" in m for m in notices(result))
    assert store.conflict(c.id).status == "open" and decisions(a)[decision]["bf_reponse"] == ""
    run(rcfg, store)
    assert store.conflict(c.id).status == "resolved"


def test_without_the_decisions_form_the_page_says_so_and_the_run_reports_it(sandbox, rcfg, store):
    a = sandbox.wikis["polesnoe"]
    del a.emulator.forms[DECISIONS.form_id]
    make_conflict(sandbox, rcfg, store)
    result = run(rcfg, store)
    assert any("decisions form 25 does not exist: run `oscartes-sync provision`" in m
               for m in notices(result, "attention"))
    body = page(a)
    assert "n'est pas encore installé" in body and "Garder la valeur" not in body
    assert "Garder la valeur" in page(sandbox.wikis["tel"])


def test_what_the_report_says_of_decisions_is_french_by_default_and_english_on_request(sandbox, rcfg, store):
    from oscartes_sync import i18n
    from oscartes_sync.report import render_run

    aid, bid, c = make_conflict(sandbox, rcfg, store)
    a = sandbox.wikis["polesnoe"]
    url = links(page(a))["Garder la valeur de tel"]
    submit(a.member_session(), url)  # forged: ignored
    submit(admin(a), url, bf_choix="wikiz")  # no candidate: refused
    submit(admin(a), url)  # applied
    result = run(rcfg, store)
    before = i18n.language()
    try:
        i18n.set_language("fr")
        shown = " ".join(render_run(result, width=100).split())  # lines fitted to 100 columns, joined
        assert not i18n.missing(), i18n.missing()
        assert f"qui n’est pas administrateur de polesnoe : ignorée" in shown
        assert "« wikiz » n’est pas une valeur proposée du conflit" in shown and "rien n’a changé" in shown
        assert "not an administrator" not in shown and "nothing changed" not in shown
        i18n.set_language("en")
        shown = " ".join(render_run(result, width=100).split())  # lines fitted to 100 columns, joined
        assert "who is not an administrator of polesnoe: ignored" in shown and "nothing changed" in shown
    finally:
        i18n.set_language(before)


def test_the_run_report_points_to_the_review_pages_where_there_is_something_new_to_decide(sandbox, rcfg, store):
    from oscartes_sync.report import render_run

    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    aid = a.member_create(FORM, entry("Épicerie solidaire La Fourmi"))
    run(rcfg, store)
    bid = next(i for i, e in b.list(FORM).items() if e["bf_titre"] == "Épicerie solidaire La Fourmi")
    a.member_edit(aid, {"bf_horaires": HOURS_A})
    b.member_edit(bid, {"bf_horaires": HOURS_B})
    shown = " ".join(render_run(run(rcfg, store), width=100).split())
    assert f"or in the wikis, on their review page: {a.url}?{TAG}, {b.url}?{TAG}" in shown, shown
    again = " ".join(render_run(run(rcfg, store), width=100).split())  # summarised: nothing new to point to
    assert "review page" not in again and "still waiting since" in again
    rcfg.review.enabled = False
    a.member_edit(aid, {"bf_telephone": "01 69 00 00 01"})
    b.member_edit(bid, {"bf_telephone": "01 69 00 00 02"})
    assert "review page" not in " ".join(render_run(run(rcfg, store), width=100).split())
