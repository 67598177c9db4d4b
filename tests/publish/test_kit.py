"""The replication kit: what it holds (and never holds), a byte-stable archive, `kit export` and `kit apply` as a
coordinator runs them against emulated wikis, the round trip to another department, and bad input refused
before anything is written."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from oscartes_sync import templates, territory
from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS, load_config
from oscartes_sync.publish import docs, kit
from oscartes_sync.publish.fresh_wiki import TAG_BANNER, TAG_MENU, TAG_ROOT, stock_bodies
from oscartes_sync.publish.pages import TerritoryText
from oscartes_sync.publish.provision import render_report, run_provision
from oscartes_sync.sandbox.sample_data import sample_entries
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store


# ---------------------------------------------------------------------------------------------- set-up

class Installed:
    """A coordinator's installation: a config file naming the sandbox wikis, their secrets, a store."""

    def __init__(self, sb, root: Path, extra: str = ""):
        self.sb, self.root = sb, root
        self.path = root / "oscartes.toml"
        self.env: dict[str, str] = {}
        parts = [f'[store]\nurl = "sqlite:///{root / "oscartes.db"}"\n[sync]\nlock_file = "{root / "lock"}"\n'
                 f"{extra}\n"]
        for name, w in sb.wikis.items():
            token, password = f"KITTEST_{name.upper()}_TOKEN", f"KITTEST_{name.upper()}_PASSWORD"
            self.env.update({token: w.token, password: w.admin_password})
            parts.append(f'[[wiki]]\nname = "{name}"\nurl = "{w.url}"\napi_token_env = "{token}"\n'
                         f'admin_user = "{w.admin_user}"\nadmin_password_env = "{password}"\n')
        self.path.write_text("\n".join(parts), encoding="utf-8")

    def run(self, *args: str):
        unset = {k: None for k in os.environ if k.startswith("OSCARTES_")}
        result = CliRunner().invoke(cli, ["--config", str(self.path), *args], env={**unset, **self.env})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    def config(self):
        for k, v in self.env.items():
            os.environ[k] = v
        return load_config(self.path)

    def emu(self, name: str):
        return self.sb.wikis[name].emulator


@pytest.fixture
def bare(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with start_sandbox(provisioned=False) as sb:
        yield Installed(sb, tmp_path)


def wiki_state(emu) -> dict:
    """What a wiki holds: forms, lists and pages (entries left out)."""
    forms = {fid: (f.as_json()["bn_label_nature"], f.as_json()["bn_template"]) for fid, f in emu.forms.items()}
    lists, pages = {}, {}
    for tag in emu.revisions:
        kind = emu.types.get(tag)
        page = emu.page(tag)
        if page is None or kind == "fiche_bazar":
            continue
        if kind == "liste":
            lists[tag] = json.loads(page["body"])
        else:
            pages[tag] = page["body"]
    return {"forms": forms, "lists": lists, "pages": pages}


# ---------------------------------------------------------------------------------------------- the kit

def test_the_kit_holds_templates_parameters_yeswiki_files_deploy_files_and_docs():
    made = kit.build_kit()
    files = made.files
    manifest = json.loads(files["KIT.json"])
    assert manifest["format"] == kit.KIT_FORMAT and manifest["oscartes_sync"] == docs.package_version()
    assert manifest["licence"] == "CC BY-SA 4.0"
    assert manifest["attribution"] == "PôleS NOE, Territoires en Liens et les contributeurs"
    licence = files["LICENSE"].decode()
    assert "Attribution : PôleS NOE, Territoires en Liens et les contributeurs." in licence
    assert "Sources : INSEE, La Poste, Etalab — Licence Ouverte 2.0" in licence
    assert "Attribution-ShareAlike 4.0 International" in licence and "Section 3 -- License Conditions." in licence
    assert territory.from_params(json.loads(files["territory.json"]), "kit").to_json() == \
        territory.origin().to_json()
    # the templates, as they are
    for path in templates.TEMPLATES_DIR.rglob("*"):
        if path.is_file():
            assert files[f"wiki_templates/{path.relative_to(templates.TEMPLATES_DIR).as_posix()}"] == path.read_bytes()
    # the forms and lists as YesWiki's own import takes them
    for k in templates.FORM_KINDS:
        fid = DEFAULT_FORM_IDS[k]
        assert json.loads(files[f"yeswiki/forms/{fid}-{k}.json"])["bn_template"] == \
            templates.render_form_template(k, DEFAULT_FORM_IDS)
    for list_id, data in templates.all_lists().items():
        assert json.loads(files[f"yeswiki/lists/{list_id}.json"]) == {"titre_liste": data["titre"],
                                                                      "label": data["values"]}
    assert "yeswiki/pages/CarteActeurs.txt" in files and "yeswiki/pages/DocumentationFormulaires.txt" in files
    assert {f"deploy/{n}" for n in docs.DEPLOY_FILES} <= files.keys()
    assert files["docs/README.md"] == (Path(__file__).parents[2] / "docs" / "README.md").read_bytes()


def test_the_archive_is_byte_stable_with_fixed_dates_in_a_fixed_order():
    a, b = kit.build_kit().zip_bytes(), kit.build_kit().zip_bytes()
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and all(n.startswith(kit.kit_name() + "/") for n in names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert kit.build_kit(territory.from_department("69")).zip_bytes() != a  # other parameters, other bytes


def test_export_writes_a_folder_and_its_zip_and_replaces_a_previous_export(tmp_path):
    made, folder, archive = kit.export(tmp_path / "out")
    assert folder.name == kit.kit_name() and archive.name == f"{kit.kit_name()}.zip"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(made.files)
    (folder / "stray.txt").write_text("from before", encoding="utf-8")
    kit.export(tmp_path / "out")
    assert not (folder / "stray.txt").exists()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []  # no staging left
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(kit.KitError, match="is a file"):
        kit.export(tmp_path / "file")


def test_no_personal_data_in_a_kit_exported_from_a_store_full_of_records(bare):
    """The sandbox's sample entries go through a real sync into the store; nothing of them reaches the kit."""
    cfg = bare.config()
    store = Store(cfg.store_url())
    try:
        assert run_provision(cfg, store).exit_code == 0
        bare.sb.seed_sample(sample_entries())
        sync_once(cfg, store, build_instances(cfg))
        records = store.records()
        assert len(records) > 100
        needles = set()
        for r in records:
            for name in ("name", "email", "phone", "siret", "street", "website", "social"):
                value = r.fields.get(name)
                if isinstance(value, str) and len(value) >= 6:
                    needles.add(value)
                    if name == "phone":
                        needles.add(value.replace("+33", "0"))
        for w in bare.sb.wikis.values():
            needles |= {w.member_user, w.token, w.member_token, w.admin_password, w.member_password}
    finally:
        store.close()
    assert any("@" in n for n in needles) and any(n.startswith("+33") for n in needles)
    result = bare.run("kit", "export", str(bare.root / "kit"))
    assert result.exit_code == 0, result.output
    (archive,) = (bare.root / "kit").glob("*.zip")
    blobs = [archive.read_bytes()]
    with zipfile.ZipFile(archive) as z:
        blobs += [z.read(n) for n in z.namelist()]
    blobs += [p.read_bytes() for p in (bare.root / "kit").rglob("*") if p.is_file()]
    text = "\n".join(b.decode("utf-8", "replace") for b in blobs)
    found = sorted(n for n in needles if n in text)
    assert found == [], found[:10]


# ---------------------------------------------------------------------------------------------- applying

def _parameter_tokens(*ts: territory.Territory) -> list[str]:
    tokens = []
    for t in ts:
        text = TerritoryText.of(t)
        lat, lon, zoom = t.map.params()
        tokens += [t.name, t.title, t.presentation, text.of_networks, text.of_each_network, text.all_structures,
                   f'lat="{lat}"', f"{lat}, {lon}", t.communes_list_id, t.communes_list_title,
                   f"**{len(t.communes)}**", f"{len(t.communes)} communes", f"{len(t.communes)} valeurs",
                   f"« Réseaux » ({len(t.networks) + 1} valeurs)", *[n.label for n in t.networks],
                   *[f"`{k}`" for k in t.scope.values()]]
        tokens += [f"`{c.insee}`" for c in t.communes]
    return [tok for tok in tokens if tok]


def test_round_trip_export_from_a_provisioned_wiki_then_apply_to_another_department(bare):
    cfg = bare.config()
    store = Store(cfg.store_url())
    assert run_provision(cfg, store, only="polesnoe").exit_code == 0
    store.close()
    assert bare.run("kit", "export", str(bare.root / "kit")).exit_code == 0
    archive = bare.root / "kit" / f"{kit.kit_name()}.zip"
    exported = json.loads((bare.root / "kit" / kit.kit_name() / "yeswiki" / "forms" / "20-actor.json").read_text())
    assert exported["bn_template"] == bare.emu("polesnoe").forms["20"].as_json()["bn_template"]

    applied = bare.run("kit", "apply", str(archive), "--wiki", "tel", "--department", "69",
                       "--network", "Réseau Alpha")
    assert applied.exit_code == 1, applied.output  # a person must add [territory] to the config
    assert 'params = "territory.json"' in applied.output and "Porte des Pierres Dorées (69114)" in applied.output

    a, b = wiki_state(bare.emu("polesnoe")), wiki_state(bare.emu("tel"))
    essonne, rhone = territory.origin(), territory.from_department("69", networks=["Réseau Alpha"])
    # the record kinds' forms, and the review page's decisions form that provision adds (DECISIONS §25)
    assert a["forms"] == b["forms"] and len(a["forms"]) == len(templates.FORM_KINDS) + 1
    # lists: equal, but for the two the parameters make
    made_a, made_b = set(essonne.lists()), set(rhone.lists())
    assert {k: v for k, v in a["lists"].items() if k not in made_a} == \
           {k: v for k, v in b["lists"].items() if k not in made_b}
    for list_id, data in rhone.lists().items():
        assert b["lists"][list_id] == {"titre_liste": data["titre"], "label": data["values"]}
    assert "ListeCommunes91" not in b["lists"]
    # pages: the same pages, and where a line differs, it says a parameter
    assert a["pages"].keys() == b["pages"].keys()
    tokens = _parameter_tokens(essonne, rhone)
    for tag in a["pages"]:
        la, lb = a["pages"][tag].splitlines(), b["pages"][tag].splitlines()
        for line in set(la) ^ set(lb):
            assert any(tok in line for tok in tokens), (tag, line[:200])
    for tag in ("GlossaireTransition", "AideVisibiliteContacts", "DocumentationFormulaires",
                "DocumentationSynchronisation", "DocumentationInstallation", TAG_ROOT, TAG_MENU):
        assert a["pages"][tag] == b["pages"][tag], tag  # nothing of the territory in them
    # the maps are centred on the Rhône
    lat, lon, zoom = rhone.map.params()
    assert f'lat="{lat}" lon="{lon}" zoom="{zoom}"' in b["pages"]["CarteActeurs"]
    assert b["pages"][TAG_ROOT].strip() == '{{include page="AccueilOscartes"}}'  # a fresh wiki: its home replaced
    assert "Les acteurs de la transition : Rhône" in b["pages"][TAG_BANNER]

    # the parameters are saved where the config will read them; with the line added, sync serves the Rhône
    saved = bare.root / "territory.json"
    assert territory.load(saved).to_json() == rhone.to_json()
    text = bare.path.read_text(encoding="utf-8")
    bare.path.write_text(text.replace("[sync]", '[territory]\nparams = "territory.json"\n\n[sync]', 1), "utf-8")
    bare.sb.wikis["tel"].member_create("20", {"bf_titre": "Atelier vélo de Villeurbanne", "bf_ville": "Villeurbanne",
                                              "bf_codepostal": "69100"})
    synced = bare.run("sync")
    assert synced.exit_code in (0, 1), synced.output
    tel = bare.emu("tel")
    [entry] = [e for e in bare.sb.wikis["tel"].list("20").values() if e["bf_titre"] == "Atelier vélo de Villeurbanne"]
    assert entry.get("bf_insee") == "69266"  # the commune look-up of the configured territory
    dashboard = tel.page("TableauDeBordCommune69266")
    assert dashboard is not None and "Métropole de Lyon" in dashboard["body"]
    assert "Atelier vélo de Villeurbanne" in dashboard["body"]
    assert "TableauDeBordCommune69266 Villeurbanne" in tel.page("TableauDeBordTerritoire")["body"]


def test_applying_a_kit_with_its_own_parameters_gives_the_same_wiki(bare):
    cfg = bare.config()
    store = Store(cfg.store_url())
    assert run_provision(cfg, store, only="polesnoe").exit_code == 0
    store.close()
    kit.export(bare.root / "kit")
    folder = bare.root / "kit" / kit.kit_name()
    applied = bare.run("kit", "apply", str(folder), "--wiki", "tel", "--params", str(folder / "territory.json"))
    assert applied.exit_code == 1, applied.output
    assert wiki_state(bare.emu("polesnoe")) == wiki_state(bare.emu("tel"))


def test_apply_uses_the_templates_of_the_kit(bare):
    kit.export(bare.root / "kit")
    folder = bare.root / "kit" / kit.kit_name()
    themes = folder / "wiki_templates" / "lists" / "ListeThemes.json"
    data = json.loads(themes.read_text(encoding="utf-8"))
    data["values"]["montagne"] = "Montagne"
    themes.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    bare.path.write_text(bare.path.read_text().replace("[sync]", '[territory]\nparams = "t.json"\n[sync]', 1))
    result = bare.run("kit", "apply", str(folder), "--wiki", "tel", "--department", "73", "--json")
    assert result.exit_code == 0, result.output  # the config reads the parameters already: nothing to add
    out = json.loads(result.stdout)  # stderr: the warning about a config readable by others
    assert (out["territory"], out["config_line"], out["errors"]) == ("Savoie", None, {})
    assert out["params"] == str(bare.root / "t.json") and {i["status"] for i in out["items"]} == {"create", "update"}
    tel = wiki_state(bare.emu("tel"))
    assert tel["lists"]["ListeThemes"]["label"]["montagne"] == "Montagne"
    assert "CarteThemeMontagne" in tel["pages"]  # a map per theme of the kit's list
    assert territory.load(bare.root / "t.json").name == "Savoie"
    assert wiki_state(bare.emu("polesnoe"))["forms"] == {}  # only the wiki named


def _posts(bare) -> int:
    return sum(w.emulator.count("POST") for w in bare.sb.wikis.values())


def _newer(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "KIT.json").read_text(encoding="utf-8"))
    manifest.update(changes)
    (folder / "KIT.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("case, args, message", [
    ("newer version", ["--department", "69"], "made by oscartes-sync 9.0.0 (kit format 1), newer than this one"),
    ("newer format", ["--department", "69"], "kit format 2), newer than this one"),
    ("not a kit", ["--department", "69"], "not a kit: neither a folder nor a zip archive"),
    ("bad template", ["--department", "69"], ("forms/actor.txt.j2:", ": unknown field type 'textecourt'")),
    ("missing params", ["--params", "nope.json"], "nope.json: parameters file not found"),
    ("malformed params", ["--params", "bad.json"], "bad.json: not JSON (line 1"),
    ("invalid params", ["--params", "invalid.json"], "communes[1]: give both lat and lon"),
    ("unknown department", ["--department", "99"], "unknown department code '99'"),
    ("unknown epci", ["--epci", "999999999"], "unknown intercommunality 999999999"),
    ("no coordinates", ["--department", "987"], "no commune of department 987 has coordinates"),
    ("no coordinates in params", ["--params", "nopoint.json"], "has coordinates in the reference data, so its map"),
    ("two territories", ["--department", "69", "--epci", "200046977"], "exactly one of --department"),
    ("no territory", [], "exactly one of --department"),
    ("unknown wiki", ["--department", "69"], "no [[wiki]] named 'autre'"),
])
def test_bad_input_is_a_clear_message_and_nothing_is_written(bare, case, args, message):
    kit.export(bare.root / "kit")
    folder = bare.root / "kit" / kit.kit_name()
    target = folder
    if case == "newer version":
        _newer(folder, oscartes_sync="9.0.0")
    elif case == "newer format":
        _newer(folder, format=2)
    elif case == "not a kit":
        target = bare.root / "kit.zip"
        target.write_bytes(b"not a zip")
    elif case == "bad template":
        actor = folder / "wiki_templates" / "forms" / "actor.txt.j2"
        actor.write_text(actor.read_text(encoding="utf-8").replace("texte***bf_titre", "textecourt***bf_titre"),
                         encoding="utf-8")
    data = json.loads((folder / "territory.json").read_text(encoding="utf-8"))
    (bare.root / "bad.json").write_text("{oops", encoding="utf-8")
    (bare.root / "invalid.json").write_text(json.dumps({**data, "communes": [{"insee": "91001", "name": "A",
                                                                              "lat": 48.3}]}), encoding="utf-8")
    del data["map"]
    data["communes"] = [{"insee": "98711", "name": "Anaa"}]
    (bare.root / "nopoint.json").write_text(json.dumps(data), encoding="utf-8")
    for w in bare.sb.wikis.values():
        w.emulator.reset_log()
    wiki = "autre" if case == "unknown wiki" else "tel"
    result = bare.run("kit", "apply", str(target), "--wiki", wiki, *args)
    assert result.exit_code == 2, result.output
    for part in message if isinstance(message, tuple) else (message,):
        assert part in result.output, result.output
    assert _posts(bare) == 0 and not (bare.root / "territory.json").exists()


def test_export_bad_input_is_a_usage_error(bare):
    result = bare.run("kit", "export", str(bare.root / "k"), "--department", "987")
    assert result.exit_code == 2 and "no commune of department 987 has coordinates" in result.output
    assert not (bare.root / "k").exists()
    result = bare.run("kit", "export", str(bare.root / "k"), "--network", "Alpha")
    assert result.exit_code == 2 and "--network goes with --department or --epci" in result.output


def test_export_without_a_config_is_the_package_set_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OSCARTES_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["kit", "export", "out"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / kit.kit_name() / "KIT.json").read_text())["territory"] == "Essonne"


# ---------------------------------------------------------------------------------------------- a fresh wiki

def test_provision_replaces_the_stock_home_banner_and_menu_of_a_fresh_wiki_only(bare):
    cfg = bare.config()
    store = Store(cfg.store_url())
    try:
        emu = bare.emu("polesnoe")
        assert emu.page(TAG_MENU)["body"] == stock_bodies()[TAG_MENU]  # the emulator starts as a real 4.4.2
        first = run_provision(cfg, store)
        assert first.exit_code == 0
        assert "Bac à sable" not in emu.page(TAG_MENU)["body"] and "[[CarteActeurs" in emu.page(TAG_MENU)["body"]
        assert "Description de mon wiki" not in emu.page(TAG_BANNER)["body"]
        assert emu.page(TAG_ROOT)["body"].strip() == '{{include page="AccueilOscartes"}}'
        for w in bare.sb.wikis.values():
            w.emulator.reset_log()
        again = run_provision(cfg, store)
        assert again.exit_code == 0 and not again.drift and _posts(bare) == 0
        # a coordinator makes the menu the wiki's own: none of the three is touched any more, even forced
        page = emu.page(TAG_MENU)
        emu.add_page(TAG_MENU, page["body"] + "\n - [[MaPage Ma page]]", owner="WikiAdmin")
        banner = emu.page(TAG_BANNER)["body"]
        forced = run_provision(cfg, store, force=True)
        own = [i for i in forced.items if i.wiki == "polesnoe" and i.status == "own"]
        assert {i.name for i in own} == {TAG_ROOT, TAG_BANNER, TAG_MENU}
        assert forced.exit_code == 0  # the wiki's own pages need no person
        assert "MaPage" in emu.page(TAG_MENU)["body"] and emu.page(TAG_BANNER)["body"] == banner
    finally:
        store.close()


def test_a_wiki_with_its_own_home_page_keeps_all_three(bare):
    emu = bare.emu("tel")
    emu.add_page(TAG_ROOT, "======Bienvenue chez nous======", owner="WikiAdmin")
    cfg = bare.config()
    store = Store(cfg.store_url())
    try:
        report = run_provision(cfg, store, only="tel")
    finally:
        store.close()
    assert report.exit_code == 0
    assert emu.page(TAG_ROOT)["body"] == "======Bienvenue chez nous======"
    assert emu.page(TAG_MENU)["body"] == stock_bodies()[TAG_MENU]  # left as YesWiki made it
    assert "the wiki's own: left alone" in render_report(report)


# ---------------------------------------------------------------------------------------------- YesWiki's import

def test_the_manual_import_of_the_documentation_sets_up_the_same_forms_and_lists(bare):
    """docs/import-manuel.md: log in, POST each list (imported-list, lists_x1) then each form (imported-form,
    forms_19/22, forms_x1) of the kit; the wiki then holds exactly the forms and lists provision would write."""
    files = kit.build_kit().files
    wiki = bare.sb.wikis["tel"]
    session = requests.Session()
    session.post(wiki.url + "?PagePrincipale", data={"name": wiki.admin_user, "password": wiki.admin_password,
                                                     "action": "login"}, allow_redirects=False)
    for path in sorted(p for p in files if p.startswith("yeswiki/lists/")):
        list_id = Path(path).stem
        r = session.post(wiki.url + "?BazaR&vue=listes", data={f"imported-list[{list_id}]": files[path].decode()})
        assert r.status_code == 200 and "importée(s) avec succès" in r.text
    for path in sorted(p for p in files if p.startswith("yeswiki/forms/")):
        fid = Path(path).stem.split("-")[0]
        r = session.post(wiki.url + "?BazaR&vue=formulaire", data={f"imported-form[{fid}]": files[path].decode()},
                         allow_redirects=False)
        assert r.status_code == 302 and "BAZ_FORM_IMPORT_SUCCESSFULL" in r.headers["Location"]
    cfg = bare.config()
    cfg.review.enabled = False  # the kit's manual import holds the record kinds' forms, not the decisions form
    store = Store(cfg.store_url())
    try:
        report = run_provision(cfg, store, only="tel", check=True)
    finally:
        store.close()
    statuses = {(i.kind, i.name): i.status for i in report.items if i.kind in ("form", "list")}
    assert statuses and set(statuses.values()) == {"ok"}, statuses


def test_the_yeswiki_pages_of_the_kit_are_the_pages_provision_writes(bare):
    cfg = bare.config()
    store = Store(cfg.store_url())
    try:
        run_provision(cfg, store, only="tel")
    finally:
        store.close()
    pages = wiki_state(bare.emu("tel"))["pages"]
    for path, data in kit.build_kit().files.items():
        m = re.fullmatch(r"yeswiki/pages/(\w+)\.txt", path)
        if m:
            assert pages[m.group(1)].rstrip() == data.decode().rstrip(), m.group(1)
