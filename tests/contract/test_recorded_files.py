"""Replays the image-field scenario recorded on a live YesWiki 4.4.2 (recorded/files_x1_image_field.json)
against the emulator: how uploads are named, served, shown on the entry page, kept, refused and erased."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import requests
from PIL import Image

from oscartes_sync.sandbox.server import start_server
from oscartes_sync.sandbox.yeswiki_emulator import YesWikiEmulator

FIXTURE = Path(__file__).parent / "recorded" / "files_x1_image_field.json"
SERVER_KEYS = {"date_creation_fiche", "date_maj_fiche", "html_data", "url"}
FORM = "77"


def _png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return buf.getvalue()


BYTES = {"png:red": _png("red"), "png:blue": _png("blue"), "text:hello": b"hello", "text:fake": b"not an image"}


def _form(value):
    """A recorded value compared by form: timestamps of file names and the server's address vary."""
    if isinstance(value, dict):
        return {k: _form(v) for k, v in value.items() if k not in SERVER_KEYS}
    if isinstance(value, str):
        value = re.sub(r"http://127\.0\.0\.1:\d+", "<BASE_URL>", value.replace("<FORM>", FORM))
        return re.sub(r"\d{14}", "<TS>", value)
    return value


def test_image_field_scenario():
    fx = json.loads(FIXTURE.read_text(encoding="utf-8"))
    emu = YesWikiEmulator("recorded")
    emu.add_user("WikiAdmin", "pw", token="tok", admin=True)
    emu.add_form(FORM, "Recorded", fx["setup"]["bn_template"])
    with start_server(emu) as server:
        base = server.url.rstrip("/")
        session = requests.Session()
        assert session.post(base + "/?PagePrincipale", data={"name": "WikiAdmin", "password": "pw",
                                                            "action": "login"}, allow_redirects=False).status_code == 302
        names: dict[str, str] = {}  # recorded file name -> the emulator's (their timestamps differ)
        for step in fx["steps"]:
            req, want = step["request"], step["response"]
            for old, new in names.items():
                req = json.loads(json.dumps(req).replace(old, new))
            headers = {"Authorization": "Bearer tok"} if "Authorization" in req["headers"] else {}
            data, files = {}, {}
            for key, value in (req["body"] or {}).items():
                if isinstance(value, dict):
                    files[key] = (value["file"], BYTES[value["bytes"]], value["content_type"])
                else:
                    data[key] = value
            client = session if "Cookie" in req["headers"] else requests
            r = client.request(req["method"], base + req["path"].replace("<FORM>", FORM), headers=headers,
                               data=data or None, files=files or None, allow_redirects=False)
            note = step["note"]
            assert r.status_code == want["status"], note
            ctype = want["headers"].get("Content-Type", "")
            assert r.headers.get("Content-Type", "").split(";")[0] == ctype.split(";")[0], note
            if "Location" in want["headers"]:
                assert r.headers["Location"] == want["headers"]["Location"].replace("<BASE_URL>", base), note
            body = want["body"]
            if ctype.startswith("image/"):
                if body["bytes_sha256_of"] != "other":
                    assert r.content == BYTES[body["bytes_sha256_of"]], note
            elif "json" in ctype:
                assert _form(r.json()) == _form(body), note
                for (_, theirs), (_, ours) in zip(sorted(body.items()), sorted(r.json().items())):
                    if isinstance(theirs, dict) and theirs.get("imagebf_logo"):
                        stamps = [re.search(r"\d{14}_\d{14}", v).group(0)
                                  for v in (theirs["imagebf_logo"], ours["imagebf_logo"])]
                        names[stamps[0]] = stamps[1]  # file names and their thumbnails alike
            if "img_src" in want:
                src = re.search(r'<img loading="lazy" src="([^"]*)"', r.text).group(1)
                assert _form(src) == _form(want["img_src"].replace("<BASE_URL>", base)), note


@pytest.mark.parametrize("name", ["nouveau-logo.png", "logo été.png"])
def test_upload_names_are_sanitised_as_recorded(name):
    """attach::sanitizeFilename: spaces to "_", then everything but [A-Za-z0-9_.] dropped (accents too)."""
    emu = YesWikiEmulator("names")
    emu.add_user("WikiAdmin", "pw", token="tok", admin=True)
    emu.add_form(FORM, "Recorded", json.loads(FIXTURE.read_text(encoding="utf-8"))["setup"]["bn_template"])
    with start_server(emu) as server:
        r = requests.post(server.url + f"?api/entries/{FORM}", headers={"Authorization": "Bearer tok"},
                          data={"bf_titre": "Noms Test"}, files={"imagebf_logo": (name, BYTES["png:red"], "image/png")})
        stored = emu.entries(FORM)[r.json()["success"].split("?", 1)[1]]["imagebf_logo"]
    expected = {"nouveau-logo.png": "nouveaulogo.png", "logo été.png": "logo_t.png"}[name]
    stem, ext = expected.rsplit(".", 1)
    assert re.fullmatch(rf"NomsTest_imagebf_logo_{re.escape(stem)}_\d{{14}}_\d{{14}}\.{ext}", stored)
