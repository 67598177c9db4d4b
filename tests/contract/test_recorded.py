"""Replays the exchanges this project recorded on a live YesWiki (tests/contract/recorded/) against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from oscartes_sync.sandbox.server import start_server
from oscartes_sync.sandbox.yeswiki_emulator import YesWikiEmulator

# YesWiki's single entry exchanges (request, response, readback); scenarios of several steps, the kit's imports
# and stock pages, and the Nextcloud recordings have their own replays (test_recorded_files.py,
# test_recorded_kit.py, test_nextcloud_contract.py)
RECORDED = sorted(p for p in (Path(__file__).parent / "recorded").glob("entries_*.json")
                  if "readback" in json.loads(p.read_text(encoding="utf-8")))
SERVER_KEYS = {"date_creation_fiche", "date_maj_fiche", "html_data", "url"}


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_exchange(path):
    fx = json.loads(path.read_text(encoding="utf-8"))
    emu = YesWikiEmulator("recorded")
    emu.add_user("WikiAdmin", "pw", token="tok", admin=True)
    emu.add_form(fx["setup"]["form_id"], "Recorded", fx["setup"]["bn_template"])
    with start_server(emu) as server:
        req = fx["request"]
        headers = {k: v.replace("<TOKEN>", "tok") for k, v in req["headers"].items()}
        r = requests.request(req["method"], server.url.rstrip("/") + req["path"], data=req["body"].encode(),
                             headers=headers)
        assert r.status_code == fx["response"]["status"]
        assert r.json()["success"].split("?", 1)[1] == fx["response"]["body"]["success"].split("?", 1)[1]
        back = fx["readback"]
        g = requests.get(server.url.rstrip("/") + back["request"]["path"], headers={"Authorization": "Bearer tok"})
        assert g.status_code == back["response"]["status"]
        [(eid, got)] = g.json().items()
        [(want_id, want)] = back["response"]["body"].items()
        assert eid == want_id
        assert {k: v for k, v in got.items() if k not in SERVER_KEYS} == \
               {k: v for k, v in want.items() if k not in SERVER_KEYS}
