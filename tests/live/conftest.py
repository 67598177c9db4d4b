"""Live YesWiki fixtures: a throw-away form on a real wiki named by OSCARTES_LIVE_YESWIKI_* (skipped when unset).

The form is created and deleted through the admin web UI (contract §4) with a session of its own, so the
client under test is not used to set up or clean up what it is tested on. `live_web` hands the web helpers
(admin session, member login, browser-like entry edit) to test modules.
"""

from __future__ import annotations

import os
import secrets
import time
from types import SimpleNamespace
from urllib.parse import quote

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


class Hidden(str):
    """A secret from the environment: a plain str to requests, `***` in reprs (pytest prints the arguments
    of failing frames)."""

    def __repr__(self) -> str:
        return "'***'"


def hidden_env(prefix: str) -> dict[str, str]:
    """The variables whose names start with `prefix`, values wrapped in Hidden."""
    return {k: Hidden(v) for k, v in os.environ.items() if k.startswith(prefix)}


@pytest.fixture(scope="session")
def live_env() -> dict[str, str]:
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live YesWiki not configured ({', '.join(missing)} unset)")
    return {v: Hidden(os.environ[v]) for v in LIVE_VARS}


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def web_login(base: str, user: str, password: str) -> requests.Session:
    """A browser-like session logged in as `user` (contract §1: POST any page with action=login)."""
    s = requests.Session()
    r = s.post(_base(base) + "?PagePrincipale", allow_redirects=False, timeout=30,
               data={"name": user, "password": password, "action": "login"})
    assert r.status_code == 302 and "name" in r.cookies, f"web login of {user} failed"
    return s


def form_controls(form) -> list[tuple[str, str]]:
    """What a browser posts of a form as it is shown: every enabled control with its current value."""
    fields: list[tuple[str, str]] = []
    for el in form.find_all(["input", "textarea", "select"]):
        name = el.get("name")
        if not name or el.has_attr("disabled"):
            continue
        if el.name == "textarea":
            fields.append((name, el.text))
        elif el.name == "select":
            options = el.find_all("option")
            chosen = [o for o in options if o.has_attr("selected")] or options[:1]
            fields.extend((name, o.get("value", o.text)) for o in chosen)
        elif el.get("type") in ("checkbox", "radio"):
            if el.has_attr("checked"):
                fields.append((name, el.get("value", "on")))
        elif el.get("type") not in ("submit", "button", "file", "image", "reset"):
            fields.append((name, el.get("value", "")))
    return fields


def browser_edit(session: requests.Session, base: str, entry_id: str, changes: dict[str, str],
                 files: dict[str, tuple[str, bytes, str]] | None = None) -> None:
    """Edit an entry the way a browser does: open its Bazar edit form, re-send every control it shows with
    `changes` applied (the map's hidden inputs included), antispam=1 as the page's script sets it, multipart;
    `files` are the files picked in its file inputs ({field: (file name, bytes, type)})."""
    base = _base(base)
    page = session.get(f"{base}?{entry_id}/edit", timeout=30)
    assert page.status_code == 200, f"edit form of {entry_id}: HTTP {page.status_code}"
    form = BeautifulSoup(page.text, "html.parser").find("form", id="formulaire")
    assert form is not None, f"no Bazar edit form for {entry_id}"
    fields = form_controls(form)
    missing = set(changes) - {n for n, _ in fields}
    assert not missing, f"the edit form of {entry_id} has no field {sorted(missing)}"
    posted = [(n, changes.get(n, v)) for n, v in fields if n != "antispam"] + [("antispam", "1")]
    action = form.get("action") or f"{base}?{entry_id}/edit"
    parts = [(n, (None, v)) for n, v in posted] + [(n, f) for n, f in (files or {}).items()]
    r = session.post(action, files=parts, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "message=modif_ok" in r.headers.get("Location", ""), \
        f"web edit of {entry_id} not saved: HTTP {r.status_code}"


class WebAdmin:
    """Minimal admin web session for fixtures (forms through the Bazar UI). `prefix` names the wiki's
    variables: OSCARTES_LIVE_YESWIKI (wiki A) or OSCARTES_LIVE_YESWIKI_B."""

    def __init__(self, env: dict[str, str], prefix: str = "OSCARTES_LIVE_YESWIKI"):
        self.base = _base(env[f"{prefix}_URL"])
        self.s = web_login(self.base, env[f"{prefix}_ADMIN_USER"], env[f"{prefix}_ADMIN_PASSWORD"])

    def forms(self) -> dict:
        r = self.s.get(self.base + "?api/forms", timeout=30)
        r.raise_for_status()
        data = r.json()
        return data if isinstance(data, dict) else {}

    def free_form_id(self) -> str:
        """A random form id in 9000-9999 that no form uses (far from the ids a wiki or `provision` uses)."""
        taken = set(self.forms())
        free = [i for i in range(9000, 10000) if str(i) not in taken]
        assert free, "no free form id in 9000-9999"
        return str(secrets.choice(free))

    def create_form(self, label: str, template: str, form_id: str | None = None) -> str:
        data = {"bn_label_nature": label, "bn_description": "Formulaire de test oscartes (à supprimer)",
                "bn_template": template, "bn_condition": "", "bn_sem_context": "", "bn_sem_type": "",
                "valider": "Valider"}
        if form_id is not None:
            data["bn_id_nature"] = form_id  # honoured if free, else another id is silently used (contract §4)
        r = self.s.post(self.base + "?BazaR&vue=formulaire&action=new", allow_redirects=False, timeout=30,
                        data=data)
        assert r.status_code == 302 and "BAZ_NOUVEAU_FORMULAIRE_ENREGISTRE" in r.headers.get("Location", "")
        ids = [fid for fid, f in self.forms().items() if f.get("bn_label_nature") == label]
        assert len(ids) == 1
        if form_id is not None:
            assert ids[0] == form_id, f"form created as {ids[0]}, not {form_id} (taken meanwhile?)"
        return ids[0]

    def delete_entries(self, form_id: str, token: str) -> list[str]:
        """Delete every entry of a form with DELETE ?api/pages/{id} (admin token); returns the ids."""
        auth = {"Authorization": f"Bearer {token}"}
        r = requests.get(self.base + f"?api/forms/{form_id}/entries", headers=auth, timeout=30)
        r.raise_for_status()
        listing = r.json()
        ids = sorted(listing) if isinstance(listing, dict) else []
        for entry_id in ids:
            d = requests.delete(self.base + f"?api/pages/{quote(entry_id, safe='')}", headers=auth, timeout=30)
            assert d.status_code in (200, 404), f"DELETE {entry_id}: HTTP {d.status_code}"
        return ids

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


@pytest.fixture(scope="session")
def live_web() -> SimpleNamespace:
    """This module's web helpers for the test modules (a conftest is not importable by name: tests/ and
    tests/live/ both have one and neither is a package)."""
    return SimpleNamespace(WebAdmin=WebAdmin, web_login=web_login, browser_edit=browser_edit, Hidden=Hidden,
                           hidden_env=hidden_env, form_controls=form_controls)
