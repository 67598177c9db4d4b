"""Helpers to replay the recorded YesWiki contract fixtures against the emulator over real HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import requests

from oscartes_sync.sandbox.server import start_server
from oscartes_sync.sandbox.yeswiki_emulator import ManualClock, YesWikiEmulator

CONTRACT_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "yeswiki-contract"
FIXTURES_DIR = CONTRACT_DIR / "fixtures"
RECORDED_BASE = "http://127.0.0.1:8081/"
ADMIN_TOKEN = "contract-admin-token"
SYNCBOT_TOKEN = "contract-syncbot-token"
DATE_RE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def load_fixture(name: str) -> dict[str, Any]:
    path = FIXTURES_DIR / f"{name}.json"
    if not path.exists():
        pytest.skip(f"contract fixture {name} not available")
    return json.loads(path.read_text(encoding="utf-8"))


def form_template(fixture: str, *, from_request: bool = False) -> str:
    fx = load_fixture(fixture)
    if from_request:
        return parse_qs(fx["request"]["body"])["bn_template"][0]
    return fx["response"]["body"]["bn_template"]


class _Switch:
    """One server per module; each test plugs a fresh emulator into it."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)


class Wiki:
    def __init__(self, emu: YesWikiEmulator, url: str, clock: ManualClock):
        self.emu = emu
        self.url = url
        self.clock = clock
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.admin_token = ADMIN_TOKEN
        self.syncbot_token = SYNCBOT_TOKEN

    # ---- requests built from a recorded fixture
    def request_of(self, fixture: dict[str, Any], cookie: str | None = None) -> dict[str, Any]:
        req = fixture["request"]
        headers = {}
        for key, value in req["headers"].items():
            value = value.replace("<TOKEN_SYNCBOT>", SYNCBOT_TOKEN).replace("<TOKEN>", ADMIN_TOKEN)
            if key == "Cookie":
                value = cookie or self.login_cookie()
            headers[key] = value
        body = req.get("body")
        kwargs: dict[str, Any] = {}
        ctype = headers.get("Content-Type", "")
        if body is None:
            pass
        elif isinstance(body, str):
            kwargs["data"] = body.encode("utf-8")
        elif ctype.startswith("application/json"):
            kwargs["data"] = json.dumps(body).encode("utf-8")
        elif ctype.startswith("multipart/form-data"):
            headers.pop("Content-Type")
            data, files = {}, {}
            for key, value in body.items():
                m = re.fullmatch(r"<file (.+), (.+)>", str(value))
                if m:
                    files[key] = (m.group(1), b"\x89PNG fake content", m.group(2))
                else:
                    data[key] = value
            kwargs.update(data=data, files=files)
        else:  # summarised form body: "<1048576 x 'x'>"
            expanded = {}
            for key, value in body.items():
                m = re.fullmatch(r"<(\d+) x '(.)'>", str(value))
                expanded[key] = m.group(2) * int(m.group(1)) if m else value
            kwargs["data"] = urlencode(expanded).encode("ascii")
        return {"method": req["method"], "url": self.url + req["path"].lstrip("/"), "headers": headers, **kwargs}

    def replay(self, name: str, session: requests.Session | None = None, cookie: str | None = None,
               **changes: Any) -> tuple[requests.Response, dict[str, Any]]:
        fixture = load_fixture(name)
        spec = self.request_of(fixture, cookie)
        spec.update(changes)
        resp = (session or requests).request(allow_redirects=False, timeout=30, **spec)
        return resp, fixture

    # ---- direct HTTP helpers
    def login_cookie(self, name: str = "WikiAdmin", password: str = "admin-password") -> str:
        resp = requests.post(self.url + "?PagePrincipale", data={"name": name, "password": password,
                                                                 "action": "login"}, allow_redirects=False)
        assert resp.status_code == 302
        return "; ".join(f"{c.name}={c.value}" for c in resp.cookies)

    def create(self, data: dict[str, Any], form: str = "5", token: str = ADMIN_TOKEN, as_json: bool = False,
               headers: dict[str, str] | None = None) -> str:
        hdrs = {"Authorization": f"Bearer {token}", **(headers or {})}
        if as_json:
            resp = requests.post(f"{self.url}?api/entries/{form}", json=data, headers=hdrs)
        else:
            resp = requests.post(f"{self.url}?api/entries/{form}", data=data, headers=hdrs)
        assert resp.status_code == 201, resp.text
        return resp.json()["success"].split("?", 1)[1]

    def get_entry(self, entry_id: str, token: str | None = ADMIN_TOKEN) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = requests.get(f"{self.url}?api/entries/json/{entry_id}", headers=headers).json()
        return body[entry_id]

    def page_row(self, tag: str, **params: str) -> dict[str, Any]:
        extra = "".join(f"&{k}={requests.utils.quote(v)}" for k, v in params.items())
        return requests.get(f"{self.url}?api/pages/{tag}{extra}").json()

    def recorded(self, value: Any) -> Any:
        """A recorded value with the recorded base URL replaced by ours."""
        return json.loads(json.dumps(value).replace(RECORDED_BASE, self.url))


def build_recorded_wiki(clock: ManualClock) -> YesWikiEmulator:
    """The wiki state the fixtures were recorded in: fresh install + admin + the 'Lieux' form 5."""
    emu = YesWikiEmulator("contract", now=clock)
    emu.add_user("WikiAdmin", "admin-password", token=ADMIN_TOKEN, admin=True, email="wikiadmin@example.org")
    emu.add_api_key("SyncBot", SYNCBOT_TOKEN)  # configured before the user exists (users_01)
    forms_12 = load_fixture("forms_12_get_created")["response"]["body"]
    themes = next(p for p in forms_12["prepared"] if p.get("propertyname") == "checkboxListeThemes")
    emu.add_list("ListeThemes", "Thèmes", themes["options"])
    forms = load_fixture("forms_01_list")["response"]["body"]
    types = next(p for p in forms["4"]["prepared"] if p.get("propertyname") == "checkboxListeType")
    emu.add_list("ListeType", "Type de ressource", types["options"])
    for form in forms.values():
        extra = {k: form[k] for k in ("bn_condition", "bn_sem_context", "bn_sem_type", "bn_sem_use_template",
                                      "bn_only_one_entry", "bn_only_one_entry_message")}
        emu.add_form(form["bn_id_nature"], form["bn_label_nature"], form["bn_template"], form["bn_description"],
                     **extra)
    # form 5 as updated by forms_18 (bf_horaires added), the state of the entries fixtures
    emu.add_form("5", forms_12["bn_label_nature"], form_template("forms_18_update_web", from_request=True),
                 forms_12["bn_description"])
    return emu


@pytest.fixture(scope="module")
def _contract_server():
    if not FIXTURES_DIR.is_dir():
        pytest.skip("shared/yeswiki-contract is not available")
    switch = _Switch()
    server = start_server(switch)
    yield switch, server
    server.stop()


@pytest.fixture
def wiki(_contract_server) -> Wiki:
    switch, server = _contract_server
    clock = ManualClock()
    switch.app = build_recorded_wiki(clock)
    return Wiki(switch.app, server.url, clock)
