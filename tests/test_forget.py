"""`forget QUERY`: a person's data erased from every place of the store, shown first, the wiki entries that
still hold it named, and the sync never bringing it back from them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_cli import (  # noqa: F401 - the CLI tests' set-up: a config file, its secrets, two sandbox wikis
    CYCLAMEN_A, FORM, _no_outside_config, entry, entry_writes, reset_logs, setup, wiki,
)

from oscartes_sync.forgotten import ForgetList, erase_text, needle, words
from oscartes_sync.sandbox.sandbox import start_sandbox

EMAIL = "jean.dupont@asso-ulis.fr"
PHONE = "01 69 10 20 30"
NAME = "Jean Dupont"
# every way the person's data could sit in a file: the email, the name, the phone in its stored and shown forms
TRACES = [b"jean.dupont", b"asso-ulis", b"dupont", b"0169102030", b"+33169102030", b"69 10 20 30", b"33169102030"]


def ids_by_title(setup, name):
    return {e["bf_titre"]: i for i, e in wiki(setup, name).list(FORM).items()}


def traces_in_files(*paths: Path) -> list[str]:
    found = []
    for p in paths:
        if p.exists():
            data = p.read_bytes().lower()
            found += [f"{p.name}: {t.decode()}" for t in TRACES if t in data]
    return found


def store_files(setup) -> list[Path]:
    return [setup.db, Path(f"{setup.db}-wal"), Path(f"{setup.db}-shm")]


def person_everywhere(setup):
    """The person's data in a record, its history, both wikis' snapshots, a conflict, a possible duplicate, a
    suggestion and a run report."""
    a, b = wiki(setup, "polesnoe"), wiki(setup, "tel")
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940", bf_mail=EMAIL, bf_telephone=PHONE,
                                bf_description=f"Accueil par {NAME} le samedi."))
    assert setup.run("sync").code == 0  # copied to tel
    a.member_edit(ids_by_title(setup, "polesnoe")["Recyclerie des Ulis"],
                  {"bf_description": f"Accueil par {NAME} le samedi matin."})
    b.member_edit(ids_by_title(setup, "tel")["Recyclerie des Ulis"],
                  {"bf_description": f"{NAME} vous accueille le samedi."})
    a.member_create(FORM, CYCLAMEN_A)
    assert setup.run("sync").code == 1  # a conflict on the description
    b.member_create(FORM, entry("Ressourcerie du Cyclamen", bf_siret="55208131766522", bf_mail=EMAIL))
    assert setup.run("sync").code == 1  # and a possible duplicate holding the email
    with setup.store() as s:
        assert s.conflicts("open") and s.review_items("open")
        rid = next(r.id for r in s.records("actor") if r.fields["name"] == "Recyclerie des Ulis")
        s.add_suggestion(rid, "polesnoe-cloud", "email", EMAIL.upper())
        run = s.start_run()
        s.finish_run(run, status="attention", exit_code=1,
                     report={"notices": [{"message": f"entry x: email refused ({EMAIL} bounced)"}]})
    assert traces_in_files(*store_files(setup))  # the test would see them


def test_dry_run_lists_every_place_and_erases_nothing(setup):
    person_everywhere(setup)
    before = setup.db.read_bytes()
    ran = setup.run("forget", EMAIL, "--dry-run")
    assert ran.code == 1, ran
    out = ran.stdout
    for place in ("current values (email)", "revision r1: values", "what was last seen in polesnoe",
                  "what was last seen in tel", "possible duplicate #", "suggestion #", "report of run #"):
        assert place in out, (place, out)
    # the name the email suggests is proposed, with where it is, and not erased unconfirmed
    assert f"'{NAME}' in " in out and f"--text '{NAME}'" in out
    assert "polesnoe entry" in out and "tel entry" in out and "Still in the wikis" in out
    assert "Nothing erased" in out and "--yes" in out
    assert "_written" not in out  # the service's own bookkeeping is no field a person knows
    assert setup.db.read_bytes() == before
    assert setup.run("forget", EMAIL).stdout == out  # without --yes: the same listing, nothing erased


def test_forget_leaves_nothing_of_the_person_in_the_store_file(setup):
    person_everywhere(setup)
    ran = setup.run("forget", EMAIL, "--text", NAME, "--text", PHONE, "--yes")
    assert ran.code == 1, ran  # wiki entries still hold it: a person has to edit them
    assert "Erased" in ran.stdout and "compacted" in ran.stdout
    assert "polesnoe entry" in ran.stdout and "tel entry" in ran.stdout
    assert traces_in_files(*store_files(setup)) == []
    with setup.store() as s:
        rec = next(r for r in s.records("actor") if r.fields["name"] == "Recyclerie des Ulis")
        assert rec.fields["email"] is None and rec.fields["phone"] is None
        assert rec.fields["description"].startswith("Accueil par […]")
        assert s.history(rec.id)[-1].origin == "forget"

    # the next runs read the wikis that still hold it: refused there, named, never back in the store
    reset_logs(setup)
    ran = setup.run("sync")
    assert ran.code == 1
    assert "erased with `forget`" in ran.stdout
    assert entry_writes(setup) == {"polesnoe": 0, "tel": 0}  # and nothing written over the members' entries
    assert traces_in_files(*store_files(setup)) == []
    for name in ("polesnoe", "tel"):  # the wikis are the members' own: untouched
        held = wiki(setup, name).read(ids_by_title(setup, name)["Recyclerie des Ulis"])
        assert held["bf_mail"] == EMAIL

    # a member edits polesnoe's entry: the new values come in, tel keeps its own until someone edits it
    a = wiki(setup, "polesnoe")
    a.member_edit(ids_by_title(setup, "polesnoe")["Recyclerie des Ulis"],
                  {"bf_mail": "contact@asso-recyclerie.fr", "bf_telephone": "",
                   "bf_description": "Accueil le samedi matin."})
    ran = setup.run("sync")
    assert traces_in_files(*store_files(setup)) == []
    with setup.store() as s:
        rec = next(r for r in s.records("actor") if r.fields["name"] == "Recyclerie des Ulis")
        assert rec.fields["email"] == "contact@asso-recyclerie.fr"
    assert wiki(setup, "tel").read(ids_by_title(setup, "tel")["Recyclerie des Ulis"])["bf_mail"] == EMAIL
    # tel still holds it: still refused there, summarised as still waiting rather than repeated word for word
    # (issue 15), and named in the run's report (`sync --json`, `status`)
    assert "still waiting since" in ran.stdout and "refused value" in ran.stdout
    with setup.store() as s:
        notices = s.runs(1)[0].report["notices"]
    assert {n["instance"] for n in notices if "erased with `forget`" in n["message"]} == {"tel"}


def test_a_new_entry_holding_a_forgotten_value_is_not_copied_with_it(setup):
    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Recyclerie des Ulis", "Les Ulis", "91940", bf_mail=EMAIL))
    assert setup.run("sync").code == 0
    assert setup.run("forget", EMAIL, "--yes").code == 1
    a.member_create(FORM, entry("Atelier vélo Roue Libre", "Massy", "91300", bf_mail=EMAIL.upper()))
    ran = setup.run("sync")
    assert "erased with `forget`" in ran.stdout
    copy = {e["bf_titre"]: e for e in wiki(setup, "tel").list(FORM).values()}["Atelier vélo Roue Libre"]
    assert not copy.get("bf_mail")
    assert traces_in_files(*store_files(setup)) == []


def test_forget_is_refused_while_a_run_holds_the_lock(setup):
    from filelock import FileLock

    a = wiki(setup, "polesnoe")
    a.member_create(FORM, entry("Recyclerie des Ulis", bf_mail=EMAIL))
    assert setup.run("sync").code == 0
    with FileLock(str(setup.lock)):
        ran = setup.subprocess("forget", EMAIL, "--yes")
    assert ran.code == 1 and "another oscartes-sync run" in ran.stderr
    assert traces_in_files(setup.db)


@pytest.mark.parametrize("args, message", [
    (["x", "--yes", "--dry-run"], "give one of them"),
    (["--", "!!!"], "no word to look for"),
    (["Li"], "too short"),
])
def test_forget_mistakes_are_usage_errors(setup, args, message):
    ran = setup.run("forget", *args)
    assert ran.code == 2 and message in ran.stderr


def test_nothing_found_says_so_and_exits_0(setup):
    wiki(setup, "polesnoe").member_create(FORM, entry("Recyclerie des Ulis"))
    assert setup.run("sync").code == 0
    ran = setup.run("forget", "personne@nulle-part.fr", "--yes")
    assert ran.code == 0 and "Found nowhere" in ran.stdout


# ---- the matching itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, erased", [
    (f"Contact : {NAME}", "Contact : […]"),
    ("Contact : jean  DUPONT, le samedi", "Contact : […], le samedi"),
    ("Jéan Dupont", None),
    ("Jean Dupontel", "Jean Dupontel"),  # another word
    (EMAIL.upper(), None),
    (f"écrire à {EMAIL}.", "écrire à […]."),
    ("Tél. 01.69.10.20.30 ou +33 1 69 10 20 30", "Tél. […] ou […]"),
    ("+33169102030", None),
    ("0169102030/0612345678", "[…]/0612345678"),
    ("01 69 10 20 31", "01 69 10 20 31"),
])
def test_erase_text_finds_the_forms_people_type(text, erased):
    needles = [needle(EMAIL), needle(PHONE), needle(NAME)]
    assert erase_text(text, needles)[0] == erased


def test_the_forget_list_finds_them_without_holding_them():
    fl = ForgetList()
    for v in (EMAIL, PHONE, NAME):
        fl.add(needle(v))
    kept = json.dumps(fl.as_state()).lower()
    assert not any(t.decode() in kept for t in TRACES)
    assert fl.holds("Accueil par jean dupont") and fl.holds(["x", EMAIL.upper()]) and fl.holds("+33 1 69 10 20 30")
    assert not fl.holds("Jean Dupontel") and not fl.holds("01 69 10 20 31") and not fl.holds(None)
    again = ForgetList.from_state(json.loads(json.dumps(fl.as_state())))
    assert again.holds(NAME.upper())


def test_words_fold_case_accents_and_numbers_written_in_groups():
    assert [w.text for w in words("Élodie  D'ARC, 01 69-10.20 30!")] == ["elodie", "d", "arc", "0169102030"]


# ---- PostgreSQL: nothing in a dump either ----------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_dump_holds_nothing_of_the_person_after_forget(tmp_path, pg_schema_url):
    from sqlalchemy.engine import make_url

    from oscartes_sync.app import build_instances, sync_once
    from oscartes_sync.forget import forget
    from oscartes_sync.store import Store

    url, schema = pg_schema_url
    with start_sandbox() as sb:
        cfg = sb.config(store_url=url, lock=str(tmp_path / "lock"))
        cfg.publish.dashboards = False
        sb.wikis["polesnoe"].member_create(FORM, entry("Recyclerie des Ulis", bf_mail=EMAIL, bf_telephone=PHONE,
                                                       bf_description=f"Accueil par {NAME}."))
        with Store(url) as s:
            sync_once(cfg, s, build_instances(cfg))
            forget(s, EMAIL, [NAME, PHONE], erase=True)
            sync_once(cfg, s, build_instances(cfg))
    u = make_url(url)
    dump = subprocess.run(["pg_dump", "--schema", schema, "--host", u.host, "--port", str(u.port or 5432),
                           "--username", u.username, "--dbname", u.database],
                          env={**os.environ, "PGPASSWORD": u.password or ""}, capture_output=True, check=True)
    data = dump.stdout.lower()
    assert b"recyclerie des ulis" in data  # the dump is the store's
    assert [t for t in TRACES if t in data] == []
