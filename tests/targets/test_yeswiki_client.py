"""YesWiki client: request shapes and error mapping against recorded contract answers (pytest-httpserver),
and whole cycles against the sandbox emulator."""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from werkzeug import Response

from oscartes_sync.targets.base import (
    AuthError,
    EntryError,
    ListingFailed,
    Revision,
    TerminalError,
    TransientError,
)
from oscartes_sync.targets.yeswiki import YesWikiClient, short_exception

TOKEN = "tok-SECRET-4242-zz"
PASSWORD = "pw-SECRET-4242-zz"
ADMIN = "WikiAdmin"

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "yeswiki-contract" / "fixtures"

# Small form like the contract's forms_11 request body.
FORM_TEMPLATE = "\n".join([
    "texte***bf_titre***Nom du lieu***60***255*** *** ***text***1*** *** *** * *** * *** *** *** ***",
    "textelong***bf_description***Description***5***5*** *** ***wiki***0*** *** *** * *** * *** *** *** ***",
    "lien_internet***bf_site_internet***Site web*** *** *** *** *** ***0*** *** *** * *** * *** *** *** ***",
    "champs_mail***bf_mail***Email*** *** *** ***form*** ***0***0*** *** * *** * *** *** *** ***",
    "checkbox***ListeThemes***Thèmes*** *** *** *** *** ***0*** *** *** * *** * *** *** *** ***",
    "map***bf_latitude***bf_longitude*** *** *** *** *** ***0***",
])


def contract_fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip("the YesWiki contract fixtures (../shared) are not available")
    return json.loads(path.read_text(encoding="utf-8"))


def fixture_response(name: str, **override: Any) -> Response:
    """The recorded response of a contract fixture as a werkzeug Response (headers that matter only)."""
    rec = contract_fixture(name)["response"]
    status = override.get("status", rec["status"])
    ctype = rec["headers"].get("Content-Type", "text/html; charset=UTF-8")
    body = override.get("body", rec["body"])
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    headers = {k: v for k, v in rec["headers"].items() if k == "Location"}
    return Response(body, status=status, headers=headers, content_type=ctype)


def listing_response() -> Response:
    """entries_50 (a recorded listing) without the "..." marker that stands for the entries left out."""
    body = contract_fixture("entries_50_list_form_anonymous")["response"]["body"]
    return json_response({k: v for k, v in body.items() if k != "..."})


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


@pytest.fixture
def make_client():
    made: list[YesWikiClient] = []

    def make(url: str, **kw: Any) -> YesWikiClient:
        kw.setdefault("token", TOKEN)
        kw.setdefault("admin_user", ADMIN)
        kw.setdefault("admin_password", PASSWORD)
        kw.setdefault("timeout", 5.0)
        c = YesWikiClient(kw.pop("name", "testwiki"), url, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def assert_no_secret(exc: BaseException) -> None:
    text = str(exc) + repr(exc) + str(getattr(exc, "message", ""))
    assert TOKEN not in text and PASSWORD not in text, text


@pytest.fixture
def emulator():
    """A running YesWiki emulator with an admin (token + password), a member and form 5."""
    emu_mod = pytest.importorskip("oscartes_sync.sandbox.yeswiki_emulator")
    from oscartes_sync.sandbox.server import start_server

    emu = emu_mod.YesWikiEmulator("emu")
    emu.add_user(ADMIN, PASSWORD, token=TOKEN, admin=True)
    emu.add_user("Membre", "member-pass-1", token="member-token-1", admin=False)
    emu.add_form("5", "Lieux (test)", FORM_TEMPLATE)
    server = start_server(emu)
    try:
        yield emu, server.url
    finally:
        server.stop()


FORM5 = {"bn_id_nature": "5", "bn_label_nature": "Lieux", "prepared": []}
SOURCE = "https://source.example/items/42"
SOURCE_QUERY = r"api/entry/url/https%253A%252F%252Fsource\.example%252Fitems%252F42"


def login_ok(fake, user=ADMIN):
    resp = Response("", status=302, headers={"Location": fake.url + "?PagePrincipale"})
    resp.set_cookie("YesWiki-main", "sess-admin")
    resp.set_cookie("name", user)
    resp.set_cookie("token", "cookie-token-admin")
    fake.on("POST", "PagePrincipale", resp)


# ---------------------------------------------------------------- URL building


@pytest.mark.parametrize("configured, expected_path", [
    ("{root}", "/"), ("{root}wiki", "/wiki/"), ("{root}wiki/", "/wiki/"), ("{root}wiki/index.php", "/wiki/index.php"),
])
def test_base_url_forms(fake, make_client, configured, expected_path, httpserver):
    fake.on("GET", "api/forms", json_response({"5": FORM5}))
    client = make_client(configured.format(root=fake.url))
    assert client.list_forms() == {"5": FORM5}
    assert client.base.endswith(expected_path)
    log = httpserver.log[-1][0]
    assert log.path == expected_path and log.query_string == b"api/forms"


def test_base_url_must_be_http():
    with pytest.raises(ValueError):
        YesWikiClient("w", "ftp://user:pw@host/", token=None, admin_user=None, admin_password=None)


# ---------------------------------------------------------------- create


def test_create_sends_contract_request_and_confirms(fake, make_client):
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", fixture_response("entries_40_create_with_source_url_header"))
    fake.on("GET", SOURCE_QUERY, fixture_response("entries_41_lookup_by_source_url"))
    client = make_client(fake.url)
    values = {"bf_titre": "Lieu source 42", "checkboxListeThemes": "eco,cul", "bf_latitude": 45.764}
    assert client.create_entry("5", values, SOURCE) == "LieuSource42"

    post = next(s for s in fake.seen if s.method == "POST")
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["Source-Url"] == SOURCE
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.form == {"bf_titre": "Lieu source 42", "checkboxListeThemes": "eco,cul", "bf_latitude": "45.764"}
    assert "id_fiche" not in post.form
    assert client.stats.counts == {"GET form": 1, "POST create": 1, "GET source": 1}

    # The form check is done once per client.
    client.create_entry("5", values, SOURCE)
    assert fake.count("GET", "api/forms/5") == 1


def test_create_into_unknown_form_is_refused_before_posting(fake, make_client):
    fake.on("GET", "api/forms/999", fixture_response("forms_03_get_unknown"))
    client = make_client(fake.url)
    with pytest.raises(TerminalError, match="form 999 does not exist on testwiki"):
        client.create_entry("999", {"bf_titre": "x"}, SOURCE)
    assert fake.count("POST", ".*") == 0


def test_create_refuses_id_fiche_and_lists_without_sending(fake, make_client):
    fake.on("GET", "api/forms/5", json_response(FORM5))
    client = make_client(fake.url)
    with pytest.raises(ValueError):
        client.create_entry("5", {"bf_titre": "x", "id_fiche": "Existing"}, SOURCE)
    with pytest.raises(EntryError, match="checkboxListeThemes") as exc:
        client.create_entry("5", {"bf_titre": "x", "checkboxListeThemes": ["eco", "cul"]}, SOURCE)
    assert_no_secret(exc.value)
    assert fake.count("POST", ".*") == 0


def test_create_500_is_a_short_entry_error(fake, make_client):
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", fixture_response("entries_09_create_missing_title"))
    client = make_client(fake.url)
    with pytest.raises(EntryError) as exc:
        client.create_entry("5", {"bf_description": "pas de titre"}, SOURCE)
    assert exc.value.message.endswith("La fiche n'a pas pu être sauvée car elle ne possède pas de titre.")
    for leak in ("Stack trace", "<webroot>", ".php", "#0", "EntryManager"):
        assert leak not in str(exc.value)
    assert_no_secret(exc.value)
    assert exc.value.instance == "testwiki"


def test_create_201_without_success_is_terminal(fake, make_client):
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", json_response({"created": True}, status=201))
    client = make_client(fake.url)
    with pytest.raises(TerminalError, match="201"):
        client.create_entry("5", {"bf_titre": "x"}, SOURCE)


def test_create_not_listed_by_source_is_a_disguised_failure(fake, make_client):
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", fixture_response("entries_40_create_with_source_url_header"))
    fake.on("GET", SOURCE_QUERY, json_response([], status=404))
    client = make_client(fake.url)
    with pytest.raises(TerminalError, match="LieuSource42.*cannot be trusted"):
        client.create_entry("5", {"bf_titre": "Lieu source 42"}, SOURCE)


def test_create_never_retried_but_recovered_by_source(fake, make_client):
    """A 503 on the create may hide a saved entry: not retried, the source lookup tells."""
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", Response("", status=503))
    fake.on("GET", SOURCE_QUERY, json_response([], status=404))
    client = make_client(fake.url)
    with pytest.raises(TransientError) as exc:
        client.create_entry("5", {"bf_titre": "Lieu source 42"}, SOURCE)
    assert_no_secret(exc.value)
    assert fake.count("POST", "api/entries/5") == 1

    # Now the lookup finds a live entry: that one is ours, no second POST.
    fake.routes.clear()
    fake.on("POST", "api/entries/5", Response("", status=503))
    fake.on("GET", SOURCE_QUERY, fixture_response("entries_41_lookup_by_source_url"))
    fake.on("GET", "api/pages/LieuSource42", fixture_response("entries_04_get_as_page", body=_page_body()))
    assert client.create_entry("5", {"bf_titre": "Lieu source 42"}, SOURCE) == "LieuSource42"
    assert fake.count("POST", "api/entries/5") == 2


def test_non_ascii_source_url_is_encoded_the_same_way_for_header_and_lookup(fake, make_client):
    source = "https://source.example/acteurs/café 1"
    fake.on("GET", "api/forms/5", json_response(FORM5))
    fake.on("POST", "api/entries/5", json_response({"success": "http://h/?CafE1"}, status=201))
    fake.on("GET", r"api/entry/url/.*", json_response(["http://h/?CafE1"]))
    client = make_client(fake.url)
    assert client.create_entry("5", {"bf_titre": "Café 1"}, source) == "CafE1"
    header = next(s for s in fake.seen if s.method == "POST").headers["Source-Url"]
    assert header == "https://source.example/acteurs/caf%C3%A9%201"
    lookup = next(s for s in fake.seen if s.query.startswith("api/entry/url/"))
    assert unquote(unquote(lookup.query[len("api/entry/url/"):])) == header


# ---------------------------------------------------------------- listing and reading


def _page_body(values=None):
    rec = contract_fixture("entries_04_get_as_page")["response"]["body"]
    values = values or {"bf_titre": "Lieu source 42", "id_fiche": "LieuSource42", "id_typeannonce": "5"}
    return dict(rec, body=json.dumps(values))


def test_list_entries_uses_token_and_returns_objects(fake, make_client):
    fake.on("GET", "api/forms/5/entries", listing_response())
    client = make_client(fake.url)
    listing = client.list_entries("5")
    assert "CafeJson" in listing and listing["CafeJson"]["bf_titre"] == "Café JSON"
    assert fake.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert client.stats.counts == {"GET list": 1}


@pytest.mark.parametrize("empty", [{}, []])
def test_empty_listing_is_believed_only_for_an_existing_form(fake, make_client, empty):
    fake.on("GET", "api/forms/5/entries", json_response(empty))
    fake.on("GET", "api/forms/9/entries", json_response(empty))
    fake.on("GET", "api/forms/5", json_response(FORM5))
    client = make_client(fake.url)
    assert client.list_entries("5") == {}
    assert client.list_entries("5") == {}
    assert fake.count("GET", "api/forms/5") == 1
    with pytest.raises(ListingFailed, match="form 9 does not exist"):
        client.list_entries("9")


@pytest.mark.parametrize("body", [["a", "b"], {"X": "not an entry"}, "string", 42])
def test_listing_that_is_not_objects_fails(fake, make_client, body):
    fake.on("GET", "api/forms/5/entries", json_response(body))
    client = make_client(fake.url)
    with pytest.raises(ListingFailed) as exc:
        client.list_entries("5")
    assert_no_secret(exc.value)


def test_html_where_json_is_due_is_terminal(fake, make_client):
    fake.on("GET", "api/forms/5/entries", Response("<html><body>Maintenance</body></html>",
                                                   content_type="text/html; charset=UTF-8"))
    client = make_client(fake.url)
    with pytest.raises(TerminalError) as exc:
        client.list_entries("5")
    assert "testwiki" in str(exc.value) and "api/forms/5/entries" in str(exc.value)
    assert_no_secret(exc.value)


@pytest.mark.parametrize("raw", [b"{not json", b'{"a": "caf\xe9"}'])
def test_bad_json_or_bad_utf8_is_terminal(fake, make_client, raw):
    fake.on("GET", "api/forms/5/entries", Response(raw, content_type="application/json"))
    client = make_client(fake.url)
    with pytest.raises(TerminalError, match="not JSON"):
        client.list_entries("5")


def test_listing_server_error_is_a_failed_listing(fake, make_client):
    fake.on("GET", "api/forms/5/entries", json_response({"exceptionMessage": "Error: boom in /srv/x.php:1"},
                                                        status=500))
    client = make_client(fake.url)
    with pytest.raises(ListingFailed) as exc:
        client.list_entries("5")
    assert "/srv" not in str(exc.value)


def test_get_retried_on_gateway_error(fake, make_client):
    fake.on("GET", "api/forms/5/entries", Response("", status=502), times=1)
    fake.on("GET", "api/forms/5/entries", listing_response())
    client = make_client(fake.url)
    assert "CafeJson" in client.list_entries("5")
    assert fake.count("GET", "api/forms/5/entries") == 2


def test_read_entry(fake, make_client):
    fake.on("GET", "api/pages/CafeDeLaGare", fixture_response("entries_04_get_as_page", body=_page_body(
        {"bf_titre": "Café de la Gare", "id_fiche": "CafeDeLaGare", "id_typeannonce": "5"})))
    fake.on("GET", "api/pages/Nope", fixture_response("pages_03_get_unknown"))
    fake.on("GET", "api/pages/PagePrincipale", json_response(_page_body() | {"body": "Bienvenue sur le wiki"}))
    client = make_client(fake.url)
    got = client.read_entry("CafeDeLaGare")
    assert got.values["bf_titre"] == "Café de la Gare"
    assert (got.revision, got.time) == ("66", "2026-11-22 21:17:21")
    assert client.read_entry("Nope") is None
    # An ordinary page is not "gone": that would let the engine propagate a deletion.
    with pytest.raises(EntryError, match="not a Bazar entry"):
        client.read_entry("PagePrincipale")


def test_read_revision_uses_time_query(fake, make_client):
    fake.on("GET", r"api/pages/CafeDeLaGare&time=2026-11-22%2021%3A17%3A21",
            json_response(_page_body({"bf_titre": "old", "id_typeannonce": "5"})))
    client = make_client(fake.url)
    vals = client.read_revision("CafeDeLaGare", Revision("66", "2026-11-22 21:17:21", "WikiAdmin"))
    assert vals["bf_titre"] == "old"
    assert client.stats.counts == {"GET revision": 1}


def test_find_by_source(fake, make_client):
    fake.on("GET", SOURCE_QUERY, fixture_response("entries_41_lookup_by_source_url"))
    fake.on("GET", r"api/entry/url/other", json_response([], status=404))
    client = make_client(fake.url)
    assert client.find_by_source(SOURCE) == ["LieuSource42"]
    assert client.find_by_source("other") == []


# ---------------------------------------------------------------- delete


def test_delete(fake, make_client):
    fake.on("DELETE", "api/pages/ChampsServeurForces", fixture_response("entries_91_delete_via_pages_api"), times=1)
    fake.on("DELETE", "api/pages/ChampsServeurForces", fixture_response("entries_92_delete_again"))
    client = make_client(fake.url)
    client.delete_entry("ChampsServeurForces")
    client.delete_entry("ChampsServeurForces")  # 404: already gone
    assert client.stats.counts == {"DELETE page": 2}


def test_delete_refused_is_auth_error(fake, make_client):
    fake.on("DELETE", "api/pages/Other", json_response([], status=401))
    client = make_client(fake.url)
    with pytest.raises(AuthError) as exc:
        client.delete_entry("Other")
    assert_no_secret(exc.value)


# ---------------------------------------------------------------- auth


def test_token_refused_stops_all_token_calls(fake, make_client):
    fake.on("GET", "api/forms/5/entries", fixture_response("auth_01_create_entry_no_token"))
    client = make_client(fake.url)
    with pytest.raises(AuthError) as exc:
        client.list_entries("5")
    assert_no_secret(exc.value)
    with pytest.raises(AuthError):
        client.find_by_source(SOURCE)
    with pytest.raises(AuthError):
        client.read_entry("X")
    assert len(fake.seen) == 1


def test_token_answered_anonymously_is_auth_error(fake, make_client):
    """A refused token on a public route gets a 200 anonymous answer (members-only fields blanked), not a
    401: without the `name` cookie of a bearer login, the answer is not used."""
    fake.bearer_accepted = False
    fake.on("GET", "api/forms/5/entries", listing_response())
    fake.on("GET", "api/pages/CafeJson", json_response(_page_body()))
    client = make_client(fake.url)
    with pytest.raises(AuthError, match="anonymously") as exc:
        client.list_entries("5")
    assert_no_secret(exc.value)
    with pytest.raises(AuthError):
        client.read_entry("CafeJson")
    assert len(fake.seen) == 1


def test_login_refused_is_not_retried(fake, make_client):
    fake.on("POST", "PagePrincipale", Response("", status=302, headers={"Location": "/?PagePrincipale"}))
    client = make_client(fake.url)
    for _ in range(3):
        with pytest.raises(AuthError, match="admin login refused") as exc:
            client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "Lyon"}, {})
        assert_no_secret(exc.value)
    with pytest.raises(AuthError):
        client.revisions("CafeJson")
    assert fake.count("POST", "PagePrincipale") == 1
    assert fake.count("POST", ".*edit") == 0
    login = fake.seen[0]
    assert login.form == {"name": ADMIN, "password": PASSWORD, "action": "login"}


def test_missing_admin_credentials_is_terminal(fake, make_client):
    client = make_client(fake.url, admin_user=None, admin_password=None)
    with pytest.raises(TerminalError, match="no admin"):
        client.update_entry("5", "CafeJson", "Café JSON", {}, {})
    assert fake.seen == []


# ---------------------------------------------------------------- web edit


def test_update_sends_merge_edit_with_admin_session_only(fake, make_client):
    # A bearer answer sets cookies of the token's user (contract §1): they must not reach the web edit.
    bearer_answer = fixture_response("entries_41_lookup_by_source_url")
    bearer_answer.set_cookie("name", "TokenUser")
    bearer_answer.set_cookie("YesWiki-main", "sess-token-user")
    fake.on("GET", SOURCE_QUERY, bearer_answer)
    login_ok(fake)
    fake.on("POST", "CafeJson/edit", fixture_response("entries_71_update_web_partial"))
    client = make_client(fake.url)
    client.find_by_source(SOURCE)
    client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "Villeurbanne"},
                        {"bf_latitude": "45.75", "bf_longitude": "4.85"})

    edit = next(s for s in fake.seen if s.query == "CafeJson/edit")
    assert edit.form == {"bf_titre": "Café JSON", "bf_ville": "Villeurbanne", "bf_latitude": "45.75",
                         "bf_longitude": "4.85", "antispam": "1"}
    assert edit.cookies == {"YesWiki-main": "sess-admin", "name": ADMIN, "token": "cookie-token-admin"}
    assert "Authorization" not in edit.headers
    assert fake.seen[0].cookies == {}  # nor do API calls carry the admin cookies

    # Logged in once for several edits.
    client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "Lyon"}, {})
    assert fake.count("POST", "PagePrincipale") == 1
    assert client.stats.counts == {"GET source": 1, "POST login": 1, "POST edit": 2}


def test_update_without_antispam_confirmation_is_entry_error(fake, make_client):
    login_ok(fake)
    page = "<html><div class='alert alert-danger'>Erreur : Protection antispam in /var/www/x.php on line 474</div>"
    fake.on("POST", "CafeJson/edit", Response(page, content_type="text/html; charset=UTF-8"))
    client = make_client(fake.url)
    with pytest.raises(EntryError, match="antispam") as exc:
        client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "x"}, {})
    assert "/var/www" not in str(exc.value)
    assert_no_secret(exc.value)


@pytest.mark.parametrize("location", [
    "/?CafeJson&vue=consulter&action=voir_fiche&id_fiche=CafeJson",          # no modif_ok
    "/?Autre&vue=consulter&action=voir_fiche&id_fiche=Autre&message=modif_ok",  # another entry
    "/?PagePrincipale",
])
def test_update_redirect_without_confirmation_is_entry_error(fake, make_client, location):
    login_ok(fake)
    fake.on("POST", "CafeJson/edit", Response("", status=302, headers={"Location": location}))
    client = make_client(fake.url)
    with pytest.raises(EntryError, match="not confirmed"):
        client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "x"}, {})
    # The session may have expired server-side: the next edit logs in again (once per edit).
    with pytest.raises(EntryError):
        client.update_entry("5", "CafeJson", "Café JSON", {"bf_ville": "x"}, {})
    assert fake.count("POST", "PagePrincipale") == 2


def test_update_rejects_lists_and_id_fiche(fake, make_client):
    client = make_client(fake.url)
    with pytest.raises(ValueError):
        client.update_entry("5", "CafeJson", "Café JSON", {"id_fiche": "Other"}, {})
    with pytest.raises(EntryError):
        client.update_entry("5", "CafeJson", "Café JSON", {"checkboxListeThemes": ["a"]}, {})
    assert fake.seen == []


def test_revisions_parsed_newest_first(fake, make_client):
    login_ok(fake)
    revs = [{"id": "66", "time": "2026-11-22 21:17:21", "user": "WikiAdmin"},
            {"id": "84", "time": "2026-11-22 21:17:24", "user": "Membre"},
            {"id": "102", "time": "2026-11-22 21:17:24", "user": "WikiAdmin"}]
    page = (f"<html><body><div class=\"revisions-container\" data-revisions=\"{escape(json.dumps(revs))}\" "
            f"data-revisions-count=\"3\"></div></body></html>")
    fake.on("GET", "CafeJson/revisions", Response(page, content_type="text/html; charset=UTF-8"))
    fake.on("GET", "Gone/revisions", Response('<div data-revisions="[]"></div>', content_type="text/html"))
    fake.on("GET", "Odd/revisions", Response("<html>Vous n'avez pas accès</html>", content_type="text/html"))
    client = make_client(fake.url)
    assert [r.id for r in client.revisions("CafeJson")] == ["102", "84", "66"]
    assert client.revisions("CafeJson")[1] == Revision("84", "2026-11-22 21:17:24", "Membre")
    assert client.revisions("Gone") == []
    with pytest.raises(TerminalError, match="data-revisions"):
        client.revisions("Odd")


# ---------------------------------------------------------------- unreachable


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_host(make_client):
    client = make_client(f"http://127.0.0.1:{_closed_port()}/", timeout=2.0)
    with pytest.raises(TransientError) as exc:
        client.read_entry("X")
    assert_no_secret(exc.value)
    with pytest.raises(ListingFailed):
        client.list_entries("5")
    with pytest.raises(TransientError):
        client.create_entry("5", {"bf_titre": "x"}, SOURCE)
    with pytest.raises(TransientError):
        client.update_entry("5", "X", "x", {}, {})
    check = client.check()
    assert not check.reachable and check.problems


# ---------------------------------------------------------------- check


def test_check_reports_token_and_login(fake, make_client):
    fake.on("GET", "api/forms", json_response({"5": FORM5}))
    fake.on("GET", "api/entry/url/oscartes-doctor-probe", json_response([], status=404))
    fake.on("GET", "api/users", fixture_response("users_11_admin_route_non_admin_token"))
    login_ok(fake)
    fake.on("GET", "", Response('<a title="doryphore 4.4.2" href="https://www.yeswiki.net">YesWiki</a>',
                                content_type="text/html"))
    result = make_client(fake.url).check()
    assert (result.reachable, result.api_json, result.token, result.admin_login) == (True, True, "user", True)
    assert result.version == "doryphore 4.4.2"
    assert result.problems == ["the API token's user is not in @admins"]


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize("name", ["entries_09_create_missing_title", "entries_07_create_title_only_punctuation",
                                  "entries_12_create_invalid_json", "entries_34_invalid_utf8"])
def test_short_exception_on_recorded_500s(name):
    text = contract_fixture(name)["response"]["body"]["exceptionMessage"]
    short = short_exception(text)
    assert short and len(short) <= 200
    for leak in ("Stack trace", "<webroot>", ".php", "#0", "\n"):
        assert leak not in short, (name, short)


def test_short_exception_real_paths():
    text = ("Exception: La fiche n'a pas pu &ecirc;tre sauv&eacute;e car elle ne poss&egrave;de pas de titre. "
            "in /var/www/yeswiki/tools/bazar/services/EntryManager.php:479\nStack trace:\n#0 /var/www/...")
    assert short_exception(text) == "La fiche n'a pas pu être sauvée car elle ne possède pas de titre."
    assert short_exception("PDOException: SQLSTATE[23000]: Duplicate entry 'X' for key 'PRIMARY' in "
                           "/srv/y/includes/Db.php:12") == \
        "SQLSTATE[23000]: Duplicate entry 'X' for key 'PRIMARY'"
    assert short_exception("") == "the wiki raised an internal error"



# ---------------------------------------------------------------- against the emulator


@pytest.fixture
def emu_client(emulator, make_client):
    emu, url = emulator
    return emu, make_client(url, name="emu")


VALUES = {
    "bf_titre": "Café de la Gare",
    "bf_description": "Un lieu **convivial**.\nDeuxième ligne.",
    "bf_site_internet": "https://example.org/cafe",
    "bf_mail": "contact@example.org",
    "checkboxListeThemes": "eco,cul",
    "bf_latitude": "45.764",
    "bf_longitude": "4.8357",
}


def test_emulator_full_cycle(emu_client):
    emu, client = emu_client
    source = "https://oscartes.example/actors/1"
    rid = client.create_entry("5", VALUES, source)
    assert rid == "CafeDeLaGare"
    assert emu.entries("5")[rid]["bf_titre"] == "Café de la Gare"
    assert client.find_by_source(source) == [rid]

    listing = client.list_entries("5")
    assert set(listing) == {rid}
    assert {k: listing[rid][k] for k in VALUES} == VALUES  # members-only mail not blanked: token sent

    v1 = client.read_entry(rid)
    assert v1.values["bf_description"] == VALUES["bf_description"] and v1.revision

    client.update_entry("5", rid, VALUES["bf_titre"], {"bf_description": "Nouvelle description"},
                        {"bf_latitude": "45.764", "bf_longitude": "4.8357"})
    v2 = client.read_entry(rid)
    assert v2.revision != v1.revision
    assert v2.values["bf_description"] == "Nouvelle description"
    for kept in ("bf_site_internet", "bf_mail", "checkboxListeThemes", "bf_latitude", "bf_longitude"):
        assert v2.values[kept] == VALUES[kept], kept  # merged, map re-sent

    revs = client.revisions(rid)
    assert [r.id for r in revs] == [v2.revision, v1.revision]
    assert client.read_revision(rid, revs[1])["bf_description"] == VALUES["bf_description"]

    client.delete_entry(rid)
    assert client.read_entry(rid) is None
    assert client.list_entries("5") == {}
    client.delete_entry(rid)

    # Client-side counts agree with what the wiki saw, request for request.
    assert client.stats.total == len(emu.request_log)
    assert client.stats.counts["POST create"] == emu.count("POST", "api/entries/5") == 1
    assert client.stats.counts["POST edit"] == emu.count("POST", "/edit") == 1
    assert client.stats.counts["POST login"] == 1
    assert client.stats.counts["GET list"] == emu.count("GET", "api/forms/5/entries") == 2


def test_emulator_map_dropped_without_always(emu_client):
    """What `always` guards against: the edit handler drops the map field unless re-sent."""
    emu, client = emu_client
    rid = client.create_entry("5", VALUES, "https://oscartes.example/actors/2")
    client.update_entry("5", rid, VALUES["bf_titre"], {"bf_description": "x"}, {})
    assert client.read_entry(rid).values.get("bf_latitude", "") in ("", None)


def test_emulator_unknown_form(emu_client):
    emu, client = emu_client
    with pytest.raises(TerminalError, match="form 999 does not exist on emu"):
        client.create_entry("999", {"bf_titre": "Orphelin"}, "https://oscartes.example/x")
    assert emu.count("POST") == 0 and emu.entries() == {}


def test_emulator_500_on_create(emu_client):
    emu, client = emu_client
    emu.inject("POST", r"api/entries/5", "500")
    with pytest.raises(EntryError) as exc:
        client.create_entry("5", VALUES, "https://oscartes.example/actors/3")
    assert "<webroot>" not in str(exc.value) and "Stack trace" not in str(exc.value)
    assert_no_secret(exc.value)
    with pytest.raises(EntryError, match="titre") as exc:
        client.create_entry("5", {"bf_description": "sans titre"}, "https://oscartes.example/actors/4")
    assert ".php" not in str(exc.value)


def test_emulator_html200_listing(emu_client):
    emu, client = emu_client
    emu.inject("GET", r"api/forms/5/entries", "html200")
    with pytest.raises(TerminalError) as exc:
        client.list_entries("5")
    assert "api/forms/5/entries" in str(exc.value)
    assert_no_secret(exc.value)


def test_emulator_drop_on_create_is_not_retried(emu_client):
    emu, client = emu_client
    source = "https://oscartes.example/actors/5"
    emu.inject("POST", r"api/entries/5", "drop")
    with pytest.raises(TransientError):
        client.create_entry("5", VALUES, source)
    assert emu.count("POST", "api/entries/5") == 1
    assert emu.entries("5") == {}
    # The next try creates it once.
    assert client.create_entry("5", VALUES, source) == "CafeDeLaGare"
    assert list(emu.entries("5")) == ["CafeDeLaGare"]


def test_emulator_drop_on_get_is_retried(emu_client):
    emu, client = emu_client
    emu.inject("GET", r"api/forms/5/entries", "drop")
    assert client.list_entries("5") == {}
    assert emu.count("GET", "api/forms/5/entries") == 2


def test_emulator_wrong_token(emulator, make_client):
    emu, url = emulator
    client = make_client(url, token="wrong-token-SECRET")
    with pytest.raises(AuthError) as exc:
        client.list_entries("5")
    assert "wrong-token-SECRET" not in str(exc.value)
    with pytest.raises(AuthError):
        client.create_entry("5", VALUES, "https://oscartes.example/actors/6")
    assert emu.count("POST") == 0


def test_emulator_wrong_admin_password(emulator, make_client):
    emu, url = emulator
    client = make_client(url, admin_password="wrong-password-SECRET")
    rid = client.create_entry("5", VALUES, "https://oscartes.example/actors/7")
    for _ in range(2):
        with pytest.raises(AuthError, match="admin login refused") as exc:
            client.update_entry("5", rid, VALUES["bf_titre"], {"bf_ville": "Lyon"}, {})
        assert "wrong-password-SECRET" not in str(exc.value)
    assert emu.count("POST", "PagePrincipale") == 1
    assert emu.count("POST", "/edit") == 0


def test_emulator_member_token_is_not_admin(emulator, make_client):
    emu, url = emulator
    result = make_client(url, token="member-token-1").check()
    assert result.token == "user" and result.admin_login is True and not result.ok
    result = make_client(url).check()
    assert (result.token, result.admin_login, result.ok) == ("admin", True, True), result.problems


def test_emulator_creates_are_serialised(make_client):
    """Same-title creates in parallel overwrite each other on YesWiki (contract §3.2): one at a time."""
    emu_mod = pytest.importorskip("oscartes_sync.sandbox.yeswiki_emulator")
    from oscartes_sync.sandbox.server import start_server

    emu = emu_mod.YesWikiEmulator("emu")
    emu.add_user(ADMIN, PASSWORD, token=TOKEN, admin=True)
    emu.add_form("5", "Lieux (test)", FORM_TEMPLATE)
    guard = threading.Lock()
    state = {"in_flight": 0, "peak": 0}

    def app(environ, start_response):
        creating = environ["REQUEST_METHOD"] == "POST" and "api/entries" in environ.get("QUERY_STRING", "")
        if creating:
            with guard:
                state["in_flight"] += 1
                state["peak"] = max(state["peak"], state["in_flight"])
            threading.Event().wait(0.05)  # widen the window in which an unserialised create would overlap
        try:
            return emu(environ, start_response)
        finally:
            if creating:
                with guard:
                    state["in_flight"] -= 1

    server = start_server(app)
    try:
        client = make_client(server.url)
        with ThreadPoolExecutor(max_workers=6) as pool:
            ids = list(pool.map(lambda i: client.create_entry("5", {"bf_titre": "Doublon"},
                                                               f"https://oscartes.example/d/{i}"), range(6)))
    finally:
        server.stop()
    assert state["peak"] == 1
    assert sorted(ids) == sorted(["DoubloN"] + [f"DoubloN{i}" for i in range(2, 7)])
    assert len(emu.entries("5")) == 6
