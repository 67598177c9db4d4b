"""The YesWiki client against a real YesWiki (OSCARTES_LIVE_YESWIKI_*; skipped when unset).

Everything created carries the tag of the throw-away form ("Oscartes test <tag>") and is deleted afterwards.
"""

from __future__ import annotations

import pytest

from oscartes_sync.targets.base import AuthError, EntryError, TerminalError
from oscartes_sync.targets.yeswiki import YesWikiClient

pytestmark = pytest.mark.live


@pytest.fixture
def client(live_env):
    c = YesWikiClient("live", live_env["OSCARTES_LIVE_YESWIKI_URL"],
                      token=live_env["OSCARTES_LIVE_YESWIKI_TOKEN"],
                      admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                      admin_password=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_PASSWORD"])
    yield c
    c.close()


@pytest.fixture
def created(client):
    """Ids to delete after the test, whatever happens."""
    ids: list[str] = []
    yield ids
    for i in ids:
        client.delete_entry(i)


def test_full_cycle(client, live_form, created):
    form_id, tag = live_form
    source = f"https://oscartes.test/{tag}/actor/1"
    values = {
        "bf_titre": f"Oscartes test {tag} Café de la Gare",
        "bf_description": "Un lieu **convivial**.\nDeuxième ligne.",
        "bf_site_internet": "https://example.org/cafe",
        "bf_mail": "contact@example.org",
        "checkboxListeType": "1,3",
        "bf_latitude": "45.764",
        "bf_longitude": "4.8357",
    }
    rid = client.create_entry(form_id, values, source)
    created.append(rid)
    assert rid.startswith("OscartesTest")

    assert client.find_by_source(source) == [rid]

    listing = client.list_entries(form_id)
    assert set(listing) == {rid}
    listed = listing[rid]
    for k, v in values.items():
        assert listed[k] == v, k
    assert listed["id_typeannonce"] == form_id

    v1 = client.read_entry(rid)
    assert v1 is not None and v1.revision and v1.time
    assert v1.values["bf_description"] == values["bf_description"]
    assert v1.values["bf_mail"] == "contact@example.org"

    # Merge update: one field changed, map re-sent; the others must survive.
    client.update_entry(form_id, rid, values["bf_titre"], {"bf_description": "Nouvelle description"},
                        {"bf_latitude": "45.764", "bf_longitude": "4.8357"})
    v2 = client.read_entry(rid)
    assert v2 is not None and v2.revision != v1.revision
    assert v2.values["bf_description"] == "Nouvelle description"
    assert v2.values["bf_site_internet"] == values["bf_site_internet"]
    assert v2.values["checkboxListeType"] == "1,3"
    assert v2.values["bf_mail"] == "contact@example.org"
    assert (v2.values["bf_latitude"], v2.values["bf_longitude"]) == ("45.764", "4.8357")

    revs = client.revisions(rid)
    assert [r.id for r in revs] == [v2.revision, v1.revision]
    old = client.read_revision(rid, revs[-1])
    assert old is not None and old["bf_description"] == values["bf_description"]

    client.delete_entry(rid)
    assert client.read_entry(rid) is None
    client.delete_entry(rid)  # idempotent
    assert rid not in client.list_entries(form_id)

    for family in ("POST create", "GET source", "GET list", "GET page", "POST login", "POST edit",
                   "GET revisions", "GET revision", "DELETE page"):
        assert client.stats.counts.get(family), family


def test_update_without_map_fields_drops_geolocation(client, live_form, created):
    """Why `always` exists: the edit handler drops the map field when it is not re-sent (contract §3.4)."""
    form_id, tag = live_form
    rid = client.create_entry(form_id, {"bf_titre": f"Oscartes test {tag} Carte", "bf_latitude": "45.1",
                                        "bf_longitude": "4.2"}, f"https://oscartes.test/{tag}/actor/2")
    created.append(rid)
    client.update_entry(form_id, rid, f"Oscartes test {tag} Carte", {"bf_description": "x"}, {})
    after = client.read_entry(rid)
    assert after is not None
    assert after.values.get("bf_latitude", "") in ("", None)


def test_unknown_form_refused_before_any_create(client, live_form):
    _, tag = live_form
    forms = client.list_forms()
    missing = str(max(int(f) for f in forms) + 1000)
    with pytest.raises(TerminalError, match=f"form {missing} does not exist"):
        client.create_entry(missing, {"bf_titre": f"Oscartes test {tag} orphan"}, f"https://oscartes.test/{tag}/x")
    assert "POST create" not in client.stats.counts


def test_missing_title_is_a_short_entry_error(client, live_form):
    form_id, _ = live_form
    with pytest.raises(EntryError) as exc:
        client.create_entry(form_id, {"bf_description": "pas de titre"}, "https://oscartes.test/no-title")
    msg = str(exc.value)
    assert "titre" in msg
    assert "Stack trace" not in msg and ".php" not in msg and "/var/" not in msg


def test_wrong_credentials(live_env, live_form):
    form_id, _ = live_form
    bad = YesWikiClient("live", live_env["OSCARTES_LIVE_YESWIKI_URL"], token="not-the-token-0123456789",
                        admin_user=live_env["OSCARTES_LIVE_YESWIKI_ADMIN_USER"],
                        admin_password="not-the-password-0123456789")
    with pytest.raises(AuthError) as exc:
        bad.find_by_source("https://oscartes.test/nothing")
    assert "not-the-token" not in str(exc.value)
    # A public route answers a refused token anonymously (200): detected by the missing login cookie.
    bad_list = YesWikiClient("live", live_env["OSCARTES_LIVE_YESWIKI_URL"], token="not-the-token-0123456789",
                             admin_user=None, admin_password=None)
    with pytest.raises(AuthError, match="anonymously"):
        bad_list.list_entries(form_id)
    with pytest.raises(AuthError) as exc:
        bad.revisions("PagePrincipale")
    assert "not-the-password" not in str(exc.value)
    logins = bad.stats.counts.get("POST login", 0)
    with pytest.raises(AuthError):
        bad.update_entry(form_id, "PagePrincipale", "x", {}, {})
    assert bad.stats.counts.get("POST login", 0) == logins == 1


def test_check(client):
    result = client.check()
    assert result.reachable and result.api_json
    assert result.token == "admin"
    assert result.admin_login is True
    assert result.version and "4.4" in result.version
    assert result.ok, result.problems
