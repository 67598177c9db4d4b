"""Issue 14 through the command a coordinator types: records found by what people know (a deleted one too),
`records`, `match` listing records that may be one actor with their evidence, many conflicts settled at once,
and bad input (a malformed SIRET, two actors claiming one SIRET, a merge with itself or a deleted record, an
ambiguous title): one clear message naming the candidates, nothing changed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS

FORM = DEFAULT_FORM_IDS["actor"]
SIRET = "73282932000074"


def entry(title, commune="Orsay", postcode="91400", **extra):
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


@pytest.fixture
def cli_run(cfg, tmp_path):
    """`oscartes-sync --config FILE ARGS…` on the sandbox's config written as a coordinator would write it."""
    parts = [f'[store]\nurl = "{cfg.store.url}"\n', f'[sync]\nlock_file = "{tmp_path / "cli.lock"}"\n',
             "[publish]\ndashboards = false\n"]
    for w in cfg.wiki:
        parts.append(f'[[wiki]]\nname = "{w.name}"\nurl = "{w.url}"\napi_token_env = "{w.api_token_env}"\n'
                     f'admin_user = "{w.admin_user}"\nadmin_password_env = "{w.admin_password_env}"\n')
    path = tmp_path / "oscartes.toml"
    path.write_text("\n".join(parts), encoding="utf-8")

    def run(*args: str):
        return CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
    return run


def sync(cfg, store):
    return sync_once(cfg, store, build_instances(cfg))


def revisions(store):
    return [(r.id, r.revision, r.deleted) for r in store.records(include_deleted=True)]


# ---- finding a record again ------------------------------------------------------------------------------------


def test_a_deleted_record_is_found_by_its_title_and_former_entry_id_and_restore_brings_it_back_everywhere(
        sandbox, cfg, store, cli_run):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    gone = a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940"))
    a.member_create(FORM, entry("Atelier vélo Roue Libre"))
    sync(cfg, store)
    a.member_delete(gone)
    sync(cfg, store)
    assert [e["bf_titre"] for e in b.list(FORM).values()] == ["Atelier vélo Roue Libre"]
    by_title, by_entry = cli_run("history", "Recyclerie des Ulis"), cli_run("history", gone)
    assert by_title.exit_code == by_entry.exit_code == 0, by_title.output
    assert by_title.output == by_entry.output and "deleted" in by_title.output
    found = cli_run("records", "ulis", "--deleted", "--json")
    [rec] = json.loads(found.output)
    assert rec["deleted"] and rec["name"] == "Recyclerie des Ulis" and ["polesnoe", gone, False] in rec["entries"]
    assert cli_run("records", "ulis").output.strip() == "No record found."  # deleted ones only when asked
    back = cli_run("restore", "Recyclerie des Ulis")
    assert back.exit_code == 0 and "restored" in back.output, back.output
    sync(cfg, store)
    for wiki in (a, b):
        assert sorted(e["bf_titre"] for e in wiki.list(FORM).values()) == [
            "Atelier vélo Roue Libre", "Recyclerie des Ulis"]


def test_records_are_found_by_words_entry_id_and_id_prefix(sandbox, cfg, store, cli_run):
    eid = sandbox.wikis["polesnoe"].member_create(FORM, entry("Épicerie collaborative La Clé des Champs"))
    sync(cfg, store)
    [rec] = store.records()
    for query in ("epicerie champs", eid, rec.id[:6]):
        ran = cli_run("records", query)
        assert ran.exit_code == 0 and rec.id[:8] in ran.output and "La Clé des Champs" in ran.output, query
    assert f"polesnoe:{eid}" in cli_run("records", "clé").output


def test_an_ambiguous_title_names_the_candidates_and_changes_nothing(store, cli_run):
    ids = [store.create_record("actor", {"name": "Jardin partagé", "commune": c}, author="t", origin="t")
           for c in ("Orsay", "Massy")]
    before = revisions(store)
    for args in (["history", "Jardin partagé"], ["restore", "Jardin partagé", "1"],
                 ["match", "merge", "Jardin partagé", ids[0]], ["conflicts", "--record", "Jardin partagé"]):
        ran = cli_run(*args)
        assert ran.exit_code == 2, (args, ran.output)
        assert "names 2 records" in ran.output and all(i[:8] in ran.output for i in ids), ran.output
    assert revisions(store) == before


# ---- records that may be one actor -------------------------------------------------------------------------------


def test_match_lists_records_that_may_be_one_actor_with_the_evidence_until_told_apart(store, cli_run):
    one = store.create_record("actor", {"name": "Recyclerie des Ulis", "commune": "Les Ulis", "postcode": "91940",
                                        "email": "contact@recyclerie-ulis.fr"}, author="t", origin="polesnoe")
    two = store.create_record("actor", {"name": "Association Recyclerie des Ulis", "commune": "LES ULIS",
                                        "email": "Contact@recyclerie-ulis.fr"}, author="t", origin="tel")
    store.create_record("actor", {"name": "Recyclerie d'Orsay", "commune": "Orsay"}, author="t", origin="tel")
    listed = cli_run("match")
    assert listed.exit_code == 1
    [line] = [l for l in listed.output.splitlines() if "~" in l]
    assert one[:8] in line and two[:8] in line and "score 100" in line
    assert "same name" in line and "same commune" in line and "same email" in line
    apart = cli_run("match", "distinct", one, two[:8])
    assert apart.exit_code == 0 and "two actors" in apart.output
    again = cli_run("match")
    assert again.exit_code == 0 and again.output.strip() == "No possible duplicate waiting."


@pytest.mark.parametrize("case", ["itself", "deleted"])
def test_a_merge_with_itself_or_a_deleted_record_is_refused_and_changes_nothing(store, cli_run, case):
    keep = store.create_record("actor", {"name": "Repair Café", "commune": "Orsay"}, author="t", origin="t")
    other = store.create_record("actor", {"name": "Repair café d'Orsay", "commune": "Orsay"}, author="t", origin="t")
    store.tombstone_record(other, author="t", origin="t")
    before = revisions(store)
    ran = cli_run("match", "merge", keep[:8], keep if case == "itself" else "Repair café d'Orsay")
    assert ran.exit_code == 2
    if case == "itself":
        assert "Repair Café (" in ran.output and "cannot be merged with itself" in ran.output
    else:
        assert f"Repair café d'Orsay ({other[:8]}, actor, deleted) is deleted: `restore` it first" in ran.output
    assert revisions(store) == before


# ---- many conflicts at once ----------------------------------------------------------------------------------------


def test_all_conflicts_settled_with_one_wikis_values_after_a_dry_run(sandbox, cfg, store, cli_run):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Tiers-lieu Le Hangar", bf_horaires="Mo 09:00-12:00", bf_chapeau="Version a"))
    b.member_create(FORM, entry("Tiers-lieu Le Hangar", bf_horaires="Sa 10:00-18:00", bf_chapeau="Version b"))
    sync(cfg, store)
    assert len(store.conflicts("open")) == 2
    dry = cli_run("conflicts", "resolve", "--all", "--take", "tel", "--dry-run")
    assert dry.exit_code == 0 and "2 of 2 conflicts would be resolved" in dry.output
    assert "Sa 10:00-18:00" in dry.output and len(store.conflicts("open")) == 2
    done = cli_run("conflicts", "resolve", "--all", "--take", "tel")
    assert done.exit_code == 0 and not store.conflicts("open")
    sync(cfg, store)
    assert [e["bf_chapeau"] for e in a.list(FORM).values()] == ["Version b"]


# ---- bad input ---------------------------------------------------------------------------------------------------


def test_a_malformed_siret_is_named_and_never_copied(sandbox, cfg, store, cli_run):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    eid = a.member_create(FORM, entry("Ressourcerie du Hurepoix", bf_siret="732 829 320 00075"))
    ran = cli_run("sync")
    assert ran.exit_code == 1
    assert f"entry {eid}: SIRET refused (invalid SIRET (wrong checksum))" in " ".join(ran.output.split())
    [copy] = b.list(FORM).values()
    assert copy["bf_titre"] == "Ressourcerie du Hurepoix" and not copy.get("bf_siret")
    assert a.read(eid)["bf_siret"] == "732 829 320 00075"  # the member's value stays, for a person to fix


def test_a_malformed_siret_given_to_settle_a_conflict_is_refused(sandbox, cfg, store, cli_run):
    # one organisation (one SIREN) in one commune, two establishment numbers: one actor, the SIRET in conflict
    sandbox.wikis["polesnoe"].member_create(FORM, entry("Emmaüs Orsay", bf_siret=SIRET))
    sandbox.wikis["tel"].member_create(FORM, entry("Emmaus - Orsay", bf_siret="73282932001007"))
    sync(cfg, store)
    [conflict] = [c for c in store.conflicts("open") if c.field == "siret"]
    [rec] = store.records()
    ran = cli_run("conflicts", "resolve", str(conflict.id), "--value", '"732 829 320 00075"')
    assert ran.exit_code == 2 and "--value for SIRET refused: invalid SIRET (wrong checksum)" in ran.output
    assert store.conflict(conflict.id).status == "open" and store.record(rec.id).revision == rec.revision


def test_an_entry_claiming_the_siret_of_another_actor_waits_with_that_actor_named(sandbox, cfg, store, cli_run):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940", bf_siret=SIRET))
    sync(cfg, store)
    [holder] = store.records()
    b.member_create(FORM, entry("Théâtre du Hangar", "Orsay", "91400", bf_siret=SIRET))
    ran = cli_run("sync")
    assert ran.exit_code == 1
    assert f"may be Recyclerie des Ulis ({holder.id[:8]}, score 100)" in " ".join(ran.output.split()), ran.output
    assert "Théâtre du Hangar" not in [e["bf_titre"] for e in a.list(FORM).values()]  # copied nowhere
    assert [r.fields["name"] for r in store.records()] == ["Recyclerie des Ulis"]  # one record, unchanged
    listed = cli_run("match")
    assert "Théâtre du Hangar" in listed.output and "same SIRET" in listed.output and holder.id in listed.output


def test_two_records_holding_one_siret_leave_an_entry_with_it_to_a_person(sandbox, cfg, store, cli_run):
    ids = [store.create_record("actor", {"name": n, "commune": "Orsay", "postcode": "91400", "siret": SIRET},
                               author="t", origin="t") for n in ("Recyclerie d'Orsay", "Ressourcerie La Fabrique")]
    sandbox.wikis["tel"].member_create(FORM, entry("Recyclerie d'Orsay", bf_siret=SIRET))
    ran = cli_run("sync")
    assert ran.exit_code == 1
    [item] = [x for x in " ".join(ran.output.split()).split(" - ")[1:] if "`oscartes-sync match link" in x]
    assert all(i[:8] in item for i in ids) and "Ressourcerie La Fabrique" in item, ran.output
    assert not store.links(instance="tel")  # linked to neither
