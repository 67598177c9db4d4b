"""The replication kit against a real YesWiki 4.4.2 (wiki B of the rig: OSCARTES_LIVE_YESWIKI_B_*; skipped when
unset): YesWiki's own form import takes a form JSON of the kit, `kit apply --department 69` sets the wiki up for
the Rhône, its map page renders a Rhône entry (headless Chromium when installed), and `sync` fills the INSEE code
and publishes that commune's dashboard.

Runs on a throw-away wiki only: it refuses to start unless the wiki's home page, banner and menu are YesWiki's
stock pages and none of the kit's lists exists. Afterwards it deletes the forms it used (random free ids
9000-9999), every page and list that was not there before (entries, lists, pages, dashboards) and puts the stock
home page, banner and menu back, whatever the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from oscartes_sync import territory
from oscartes_sync.cli import cli
from oscartes_sync.publish import kit
from oscartes_sync.publish.fresh_wiki import stock_bodies
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin

pytestmark = pytest.mark.live

B = "OSCARTES_LIVE_YESWIKI_B"
NEEDED = ("URL", "TOKEN", "ADMIN_USER", "ADMIN_PASSWORD")
KINDS = ("actor", "project", "event", "offer", "call")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def _pages(base: str, token: str) -> set[str]:
    r = requests.get(base + "?api/pages", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    r.raise_for_status()
    data = r.json()
    return set(data) if isinstance(data, dict) else {p["tag"] for p in data}


def _lists(base: str) -> set[str]:
    """The lists of the wiki (a list whose page was deleted through the pages API leaves its type triple
    behind, listed with no content: not a list)."""
    r = requests.get(base + "?BazaR/json&demand=lists", timeout=60)
    r.raise_for_status()
    return {k for k, v in r.json().items() if v}


@pytest.fixture
def wiki_b(live_web, tmp_path, monkeypatch):
    env = {k: os.environ.get(f"{B}_{k}") for k in NEEDED}
    if not all(env.values()):
        pytest.skip(f"live wiki B not configured ({B}_* unset)")
    secret = live_web.hidden_env(B)
    base = env["URL"] if env["URL"].endswith("/") else env["URL"] + "/"
    admin = YesWikiAdmin("b", base, admin_user=env["ADMIN_USER"], admin_password=secret[f"{B}_ADMIN_PASSWORD"])
    web = live_web.WebAdmin(secret, B)
    stock = stock_bodies()
    changed = [t for t, body in stock.items() if (admin.get_page(t) or None) is None
               or admin.get_page(t).body.rstrip() != body.rstrip()]
    if changed or "ListeThemes" in _lists(base):
        admin.close()
        pytest.skip(f"not a fresh throw-away wiki: {', '.join(changed) or 'ListeThemes'} already changed")
    pages_before, lists_before = _pages(base, secret[f"{B}_TOKEN"]), _lists(base)
    taken = set(web.forms())
    ids = dict(zip(KINDS, (str(i) for i in secrets.SystemRandom().sample(
        [i for i in range(9000, 10000) if str(i) not in taken], len(KINDS)))))
    monkeypatch.setenv("KITLIVE_TOKEN", secret[f"{B}_TOKEN"])
    monkeypatch.setenv("KITLIVE_PASSWORD", secret[f"{B}_ADMIN_PASSWORD"])
    config = tmp_path / "oscartes.toml"
    config.write_text("\n".join([
        f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n[sync]\nlock_file = "{tmp_path / "lock"}"',
        '[territory]\nparams = "territory.json"',
        f'[[wiki]]\nname = "rhone"\nurl = "{base}"\napi_token_env = "KITLIVE_TOKEN"\n'
        f'admin_user = "{env["ADMIN_USER"]}"\nadmin_password_env = "KITLIVE_PASSWORD"',
        "[wiki.forms]", *[f'{k} = "{v}"' for k, v in ids.items()]]) + "\n", encoding="utf-8")
    try:
        yield base, secret, admin, web, ids, config
    finally:
        token = secret[f"{B}_TOKEN"]
        for form_id in ids.values():
            try:
                if form_id in web.forms():
                    web.delete_entries(form_id, token)
                    web.delete_form(form_id)
            except Exception:  # cleanup goes on; a leftover shows in the next run's skip
                pass
        for tag in sorted(_lists(base) - lists_before):
            try:
                admin.delete_list(tag)
            except Exception:
                pass
        for tag in sorted(_pages(base, token) - pages_before):
            try:
                admin.delete_page(tag)
            except Exception:
                pass
        for tag, body in stock.items():
            try:
                page = admin.get_page(tag)
                if page is None or page.body.rstrip() != body.rstrip():
                    admin.save_page(tag, body, previous=page.revision if page else None)
            except Exception:
                pass
        admin.close()


def _cli(config: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_kit_apply_sets_up_a_real_wiki_for_the_rhone(wiki_b, tmp_path):
    base, secret, admin, web, ids, config = wiki_b
    made, folder, archive = kit.export(tmp_path / "kit")

    # YesWiki's own form import takes the kit's form JSON (contract §4, forms_x1): at a free id, as it is
    actor_json = (folder / "yeswiki" / "forms" / "20-actor.json").read_text(encoding="utf-8")
    r = web.s.post(base + "?BazaR&vue=formulaire", data={f"imported-form[{ids['actor']}]": actor_json},
                   allow_redirects=False, timeout=60)
    assert r.status_code == 302 and "BAZ_FORM_IMPORT_SUCCESSFULL" in r.headers["Location"]
    imported = admin.get_form(ids["actor"])
    assert imported["bn_template"] == json.loads(actor_json)["bn_template"]

    applied = _cli(config, "kit", "apply", str(archive), "--wiki", "rhone", "--department", "69",
                   "--network", "Réseau Alpha")
    assert applied.exit_code == 0, applied.output
    rhone = territory.from_department("69", networks=["Réseau Alpha"])
    assert territory.load(tmp_path / "territory.json").to_json() == rhone.to_json()
    # the imported form is the one the kit provisions: left as it is
    assert f"form actor (form {ids['actor']})" not in applied.output
    for kind, form_id in ids.items():
        assert admin.get_form(form_id) is not None, kind
    communes = admin.get_list("ListeCommunes69")
    assert communes["titre_liste"] == "Communes 69" and len(communes["label"]) == 266
    assert admin.get_list("ListeCommunes91") is None
    lat, lon, zoom = rhone.map.params()
    assert f'lat="{lat}" lon="{lon}" zoom="{zoom}"' in admin.get_page("CarteActeurs").body
    assert "Les acteurs de la transition : Rhône" in admin.get_page("PageHeader").body
    assert "[[CarteActeurs" in admin.get_page("PageMenuHaut").body
    assert "Porte des Pierres Dorées" in admin.get_page("DocumentationCommunes").body
    again = _cli(config, "provision", "--check")
    assert again.exit_code == 0 and "No drift" in again.output, again.output

    # an entry in the Rhône: the real map page renders it, and sync files it under its commune
    r = requests.post(base + f"?api/entries/{ids['actor']}", timeout=60,
                      headers={"Authorization": f"Bearer {secret[f'{B}_TOKEN']}"},
                      data={"bf_titre": "Oscartes kit test Atelier Lyon", "bf_ville": "Lyon",
                            "bf_codepostal": "69001", "bf_latitude": "45.7640", "bf_longitude": "4.8357"})
    assert r.status_code == 201
    html = requests.get(base + "?CarteActeurs", timeout=60).text
    assert "bazar-list-dynamic-container" in html and "&quot;lat&quot;:&quot;45.88&quot;" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        dom = subprocess.run([chromium, *CHROMIUM_FLAGS, "--virtual-time-budget=20000", "--dump-dom",
                              base + "?CarteActeurs"], capture_output=True, text=True, timeout=120).stdout
        marker = dom.find("bazar-marker")
        assert marker > 0, "no marker rendered on the map"
        assert "Oscartes kit test Atelier Lyon" in dom[marker:marker + 2000]
    synced = _cli(config, "sync")
    assert synced.exit_code in (0, 1), synced.output
    entries = requests.get(base + f"?api/forms/{ids['actor']}/entries", timeout=60,
                           headers={"Authorization": f"Bearer {secret[f'{B}_TOKEN']}"}).json()
    [entry] = [e for e in entries.values() if e["bf_titre"] == "Oscartes kit test Atelier Lyon"]
    assert entry.get("bf_insee") == "69123"
    dashboard = admin.get_page("TableauDeBordCommune69123")
    assert dashboard is not None and "Métropole de Lyon" in dashboard.body
    assert f'lat="45.76' in admin.get_page("CarteCommune69123").body or "CarteCommune69123" in dashboard.body
