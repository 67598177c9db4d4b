"""Live YesWiki fixtures: a throw-away form on a real wiki named by OSCARTES_LIVE_YESWIKI_* (skipped when unset).

The form is created and deleted through the admin web UI (contract §4) with a session of its own, so the
client under test is not used to set up or clean up what it is tested on.
"""

from __future__ import annotations

import os
import secrets
import time

import pytest
import requests
from bs4 import BeautifulSoup

LIVE_VARS = ("OSCARTES_LIVE_YESWIKI_URL", "OSCARTES_LIVE_YESWIKI_TOKEN",
             "OSCARTES_LIVE_YESWIKI_ADMIN_USER", "OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD")

# Same shape as the contract's forms_11 request body, smaller.
TEST_TEMPLATE = "\n".join([
    "texte***bf_titre***Nom du lieu***60***255*** *** ***text***1*** *** *** * *** * *** *** *** ***",
    "textelong***bf_description***Description***5***5*** *** ***wiki***0*** *** *** * *** * *** *** *** ***",
    "lien_internet***bf_site_internet***Site web*** *** *** *** *** ***0*** *** *** * *** * *** *** *** ***",
    "champs_mail***bf_mail***Email*** *** *** ***form*** ***0***0*** *** * *** * *** *** *** ***",
    "checkbox***ListeType***Type*** *** *** *** *** ***0*** *** *** * *** * *** *** *** ***",
    "map***bf_latitude***bf_longitude*** *** *** *** *** ***0***",
])


@pytest.fixture(scope="session")
def live_env() -> dict[str, str]:
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live YesWiki not configured ({', '.join(missing)} unset)")
    return {v: os.environ[v] for v in LIVE_VARS}


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class WebAdmin:
    """Minimal admin web session for fixtures (forms through the Bazar UI)."""

    def __init__(self, env: dict[str, str]):
        self.base = _base(env["OSCARTES_LIVE_YESWIKI_URL"])
        self.s = requests.Session()
        r = self.s.post(self.base + "?PagePrincipale", allow_redirects=False, timeout=30, data={
            "name": env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
            "password": env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"], "action": "login"})
        assert r.status_code == 302 and "name" in r.cookies, "admin login failed"

    def forms(self) -> dict:
        r = self.s.get(self.base + "?api/forms", timeout=30)
        r.raise_for_status()
        data = r.json()
        return data if isinstance(data, dict) else {}

    def create_form(self, label: str, template: str) -> str:
        r = self.s.post(self.base + "?BazaR&vue=formulaire&action=new", allow_redirects=False, timeout=30, data={
            "bn_label_nature": label, "bn_description": "Formulaire de test oscartes (à supprimer)",
            "bn_template": template, "bn_condition": "", "bn_sem_context": "", "bn_sem_type": "",
            "valider": "Valider"})
        assert r.status_code == 302 and "BAZ_NOUVEAU_FORMULAIRE_ENREGISTRE" in r.headers.get("Location", "")
        ids = [fid for fid, f in self.forms().items() if f.get("bn_label_nature") == label]
        assert len(ids) == 1
        return ids[0]

    def delete_form(self, form_id: str) -> None:
        page = self.s.get(self.base + f"?BazaR&vue=formulaire&action=confirm_delete&idformulaire={form_id}",
                          timeout=30)
        token = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "confirmDeleteToken"})
        assert token is not None, "confirm_delete page has no confirmDeleteToken"
        r = self.s.post(self.base + f"?BazaR&vue=formulaire&action=delete&idformulaire={form_id}",
                        data={"confirmDeleteToken": token["value"]}, allow_redirects=False, timeout=30)
        assert r.status_code == 302


@pytest.fixture(scope="session")
def web_admin(live_env) -> WebAdmin:
    return WebAdmin(live_env)


@pytest.fixture(scope="module")
def live_form(web_admin):
    """(form id, tag) of a throw-away form; deleted with all its entries afterwards."""
    tag = f"{int(time.time())}-{secrets.token_hex(3)}"
    form_id = web_admin.create_form(f"Oscartes test {tag}", TEST_TEMPLATE)
    try:
        yield form_id, tag
    finally:
        web_admin.delete_form(form_id)
        assert form_id not in web_admin.forms()
