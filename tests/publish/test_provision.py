"""`provision` against emulated wikis: create, unchanged, drifted, hand-edited, not ours, disguised failures,
bad templates, and a freshly provisioned wiki that then syncs actors."""

from __future__ import annotations

import shutil

import pytest

from oscartes_sync import templates
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.records import DECISIONS
from oscartes_sync.publish.provision import ProvisionError, render_report, run_provision
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin


@pytest.fixture
def bare(tmp_path):
    with start_sandbox(provisioned=False) as sb:
        cfg = sb.config(store_url=f"sqlite:///{tmp_path / 's.db'}", lock=str(tmp_path / "lock"))
        store = Store(cfg.store_url())
        yield sb, cfg, store
        store.close()


def posts(sb):
    return {n: w.emulator.count("POST") for n, w in sb.wikis.items()}


def reset(sb):
    for w in sb.wikis.values():
        w.emulator.reset_log()


def test_first_run_sets_everything_up_and_a_second_writes_nothing(bare):
    sb, cfg, store = bare
    first = run_provision(cfg, store)
    assert first.exit_code == 0, render_report(first)
    for w in sb.wikis.values():
        forms = w.emulator.forms
        assert sorted(forms) == sorted([*DEFAULT_FORM_IDS.values(), DECISIONS.form_id])
        assert forms[DEFAULT_FORM_IDS["actor"]].as_json()["bn_label_nature"] == "Acteurs"
        assert forms[DECISIONS.form_id].as_json()["bn_label_nature"] == "Décisions OSCARTES"
        assert w.emulator.page("ListeThemes") is not None and w.emulator.page("ListeCommunes91") is not None
        assert "dynamic=\"true\"" in w.emulator.page("CarteActeurs")["body"]
    reset(sb)
    second = run_provision(cfg, store)
    assert second.exit_code == 0 and not second.drift
    assert posts(sb) == {"polesnoe": 0, "tel": 0}


def test_check_writes_nothing_and_shows_the_drift(bare):
    sb, cfg, store = bare
    report = run_provision(cfg, store, check=True)
    assert report.exit_code == 1
    assert posts(sb) == {"polesnoe": 0, "tel": 0}
    text = render_report(report)
    assert "form actor (form 20): to create" in text and "+texte***bf_titre***" in text
    run_provision(cfg, store)
    assert run_provision(cfg, store, check=True).exit_code == 0


def test_a_changed_template_is_an_update_with_its_diff(bare, tmp_path, monkeypatch):
    sb, cfg, store = bare
    run_provision(cfg, store)
    copy = tmp_path / "wiki_templates"
    shutil.copytree(templates.TEMPLATES_DIR, copy)
    actor = copy / "forms" / "actor.txt.j2"
    actor.write_text(actor.read_text(encoding="utf-8").replace("Horaires d'ouverture", "Heures d'ouverture"),
                     encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATES_DIR", copy)
    templates._env.cache_clear()
    try:
        check = run_provision(cfg, store, check=True)
        assert check.exit_code == 1
        # the form, and the documentation that lists its fields (generated from the real set-up)
        drift = {(i.kind, i.name) for i in check.drift}
        assert drift == {("form", "actor (form 20)"), ("page", "DocumentationFormulaires")}
        assert "-texte***bf_horaires***Horaires d'ouverture" in check.drift[0].diff
        assert "+texte***bf_horaires***Heures d'ouverture" in check.drift[0].diff
        applied = run_provision(cfg, store)
        assert applied.exit_code == 0
        template = sb.wikis["tel"].emulator.forms["20"].as_json()["bn_template"]
        assert "Heures d'ouverture" in template
    finally:
        templates._env.cache_clear()


def test_a_page_edited_by_hand_is_reported_and_only_forced_over(bare):
    sb, cfg, store = bare
    run_provision(cfg, store)
    wiki = sb.wikis["polesnoe"]
    person = YesWikiAdmin("polesnoe", wiki.url, admin_user=wiki.admin_user, admin_password=wiki.admin_password)
    page = person.get_page("GlossaireTransition")
    person.save_page("GlossaireTransition", page.body + "\n\nAjout d'une coordinatrice.", previous=page.revision)
    person.close()
    report = run_provision(cfg, store)
    assert report.exit_code == 1
    [hand] = [i for i in report.items if i.status == "hand-edited"]
    assert (hand.wiki, hand.name) == ("polesnoe", "GlossaireTransition") and "Ajout" in hand.diff
    assert "Ajout d'une coordinatrice" in wiki.emulator.page("GlossaireTransition")["body"]
    revisions = len(wiki.emulator.page_revisions("GlossaireTransition"))
    forced = run_provision(cfg, store, force=True)
    assert forced.exit_code == 0
    assert "Ajout" not in wiki.emulator.page("GlossaireTransition")["body"]
    assert len(wiki.emulator.page_revisions("GlossaireTransition")) == revisions + 1  # the hand edit stays in history
    assert run_provision(cfg, store).exit_code == 0


def test_a_form_of_the_wiki_at_our_id_is_left_alone(bare):
    sb, cfg, store = bare
    tel = sb.wikis["tel"].emulator
    tel.add_form("20", "Annuaire maison", "texte***bf_titre***Nom*** *** *** *** ***text***1***")
    report = run_provision(cfg, store)
    assert report.exit_code == 1
    [foreign] = [i for i in report.items if i.status == "foreign"]
    assert foreign.wiki == "tel" and "Annuaire maison" in foreign.message
    assert tel.forms["20"].as_json()["bn_label_nature"] == "Annuaire maison"


def test_a_wiki_with_its_own_actor_form_is_mapped_not_provisioned(bare):
    sb, cfg, store = bare
    cfg.wiki[1].forms = {"actor": "3"}
    cfg.wiki[1].fields = {"actor": {"postcode": "bf_code_postal"}}
    report = run_provision(cfg, store)
    assert report.exit_code == 0
    assert "3" not in sb.wikis["tel"].emulator.forms and "20" not in sb.wikis["tel"].emulator.forms
    assert [i.name for i in report.items if i.status == "mapped"] == ["actor"]


def test_a_refusal_disguised_as_200_is_a_failure(bare):
    sb, cfg, store = bare
    sb.wikis["tel"].emulator.inject("POST", r"vue=listes", "html200", times=1)
    report = run_provision(cfg, store)
    assert report.exit_code == 1
    failed = [i for i in report.items if i.status == "failed"]
    assert len(failed) == 1 and failed[0].wiki == "tel" and failed[0].kind == "list"
    assert run_provision(cfg, store).exit_code == 0  # the next run finishes the job


@pytest.mark.parametrize("breakage, where", [
    (("forms/actor.txt.j2", "texte***bf_horaires***", "texte_riche***bf_horaires***"), "actor.txt.j2:"),
    (("forms/event.txt.j2", "texte***bf_titre***", "texte***bf_nom***"), "event.txt.j2"),
    (("lists/ListeThemes.json", '"culture": "Culture",', '"culture": "Culture",\n    "culture": "Arts",'),
     "ListeThemes.json:"),
])
def test_a_bad_template_stops_everything_before_any_write(bare, tmp_path, monkeypatch, breakage, where):
    sb, cfg, store = bare
    copy = tmp_path / "wiki_templates"
    shutil.copytree(templates.TEMPLATES_DIR, copy)
    name, old, new = breakage
    path = copy / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATES_DIR", copy)
    templates._env.cache_clear()
    templates._load_lists.cache_clear()
    try:
        with pytest.raises(ProvisionError) as err:
            run_provision(cfg, store)
        assert where in str(err.value)
        assert posts(sb) == {"polesnoe": 0, "tel": 0} and sum(w.emulator.count() for w in sb.wikis.values()) == 0
    finally:
        templates._env.cache_clear()
        templates._load_lists.cache_clear()


def test_a_freshly_provisioned_wiki_syncs_actors_into_its_new_forms(bare):
    sb, cfg, store = bare
    assert run_provision(cfg, store).exit_code == 0
    a, b = sb.wikis["polesnoe"], sb.wikis["tel"]
    a.member_create(DEFAULT_FORM_IDS["actor"], {"bf_titre": "Recyclerie des Ulis", "bf_ville": "Les Ulis",
                                                "bf_codepostal": "91940", "checkboxListeThemes": "economie-circulaire"})
    result = sync_once(cfg, store, build_instances(cfg))
    assert result.exit_code == 0
    [copy] = b.list(DEFAULT_FORM_IDS["actor"]).values()
    assert copy["bf_titre"] == "Recyclerie des Ulis" and copy["checkboxListeThemes"] == "economie-circulaire"
