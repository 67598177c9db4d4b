"""The address book's share with a group, on a real Nextcloud (OSCARTES_LIVE_NEXTCLOUD_URL, _USER, _APP_PASSWORD,
and the admin's login password OSCARTES_LIVE_NEXTCLOUD_PASSWORD, which provisioning writes need: contract §1;
skipped when unset).

Each test creates what it needs through the OCS provisioning API, tagged "oscartes-test-<random>": a group whose
name has spaces and accents like the default "OSCARTES PôleS NOE", a member of it, and (for the rate limit) an
account of its own, so that the service account's hourly share quota is not used up. Everything is removed
afterwards, even when a test fails. No wrong password is ever sent (contract §1)."""

from __future__ import annotations

import os
import secrets
import time
from urllib.parse import quote

import pytest
import requests

from oscartes_sync.config import Config, NextcloudConfig, StoreConfig, SyncConfig
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds
from oscartes_sync.store import Store
from oscartes_sync.targets.nextcloud import DavInvite, NextcloudClient, group_principal

pytestmark = pytest.mark.live
LIVE_VARS = ("OSCARTES_LIVE_NEXTCLOUD_URL", "OSCARTES_LIVE_NEXTCLOUD_USER", "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD",
             "OSCARTES_LIVE_NEXTCLOUD_PASSWORD")
OCS = {"OCS-APIRequest": "true", "Accept": "application/json"}


class Hidden(str):
    def __repr__(self) -> str:
        return "'***'"


class Admin:
    """OCS provisioning as the admin, with the login password and no cookies (contract §1)."""

    def __init__(self, env: dict[str, str]):
        self.base = env["OSCARTES_LIVE_NEXTCLOUD_URL"].rstrip("/") + "/"
        self.auth = (env["OSCARTES_LIVE_NEXTCLOUD_USER"], env["OSCARTES_LIVE_NEXTCLOUD_PASSWORD"])
        self.users: list[str] = []
        self.groups: list[str] = []

    def ocs(self, method: str, route: str, data: dict | None = None) -> dict:
        r = requests.request(method, f"{self.base}ocs/v2.php/{route}", headers=OCS, data=data, auth=self.auth,
                             timeout=60)
        meta = r.json()["ocs"]["meta"]
        assert meta["statuscode"] == 200, f"{method} {route}: {meta}"
        return r.json()["ocs"]

    def group(self, gid: str) -> str:
        self.ocs("POST", "cloud/groups", {"groupid": gid})
        self.groups.append(gid)
        return gid

    def user(self, uid: str, groups: tuple[str, ...] = ()) -> Hidden:
        password = Hidden(secrets.token_urlsafe(18) + "Aa1!")
        self.ocs("POST", "cloud/users", {"userid": uid, "password": password, "displayName": uid})
        self.users.append(uid)
        for gid in groups:
            self.ocs("POST", f"cloud/users/{uid}/groups", {"groupid": gid})
        return password

    def cleanup(self) -> None:
        for uid in self.users:  # deleting an account deletes its address books
            self.ocs("DELETE", f"cloud/users/{uid}")
        for gid in self.groups:
            self.ocs("DELETE", f"cloud/groups/{quote(gid, safe='')}")
        listed = self.ocs("GET", "cloud/groups")["data"]["groups"]
        assert not set(self.groups) & set(listed)


@pytest.fixture
def live():
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live Nextcloud not configured ({', '.join(missing)} unset)")
    env = {v: Hidden(os.environ[v]) for v in LIVE_VARS}
    tag = f"oscartes-test-{int(time.time())}-{secrets.token_hex(3)}"
    admin = Admin(env)
    try:
        yield env, tag, admin
    finally:
        admin.cleanup()


def config(env, tag: str, group: str, tmp_path, *, user: str | None = None, secret_env: str | None = None):
    nc = NextcloudConfig(name="live", url=env["OSCARTES_LIVE_NEXTCLOUD_URL"],
                         user=user or env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                         app_password_env=secret_env or "OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD", group=group,
                         addressbook=tag, exports_folder=f"{tag}/Donnees-ouvertes",
                         articles_folder=f"{tag}/Base-de-connaissances")
    return Config(store=StoreConfig(url=f"sqlite:///{tmp_path / f'{secrets.token_hex(4)}.db'}"),
                  sync=SyncConfig(lock_file=str(tmp_path / "lock")), nextcloud=[nc])


def recording_client(env, order: list[str], *, user: str | None = None, password: str | None = None):
    """A client of the service account that notes each CardDAV request: its verb and, for a PROPFIND or a
    POST on the book, whether it reads oc:invite or sends oc:share."""
    c = NextcloudClient("live", env["OSCARTES_LIVE_NEXTCLOUD_URL"], user=user or env["OSCARTES_LIVE_NEXTCLOUD_USER"],
                        app_password=password or env["OSCARTES_LIVE_NEXTCLOUD_APP_PASSWORD"])

    def note(resp, *args, **kwargs):
        body = resp.request.body or b""
        body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        what = "invite" if "<oc:invite/>" in body else "share" if "<oc:share" in body else ""
        order.append(f"{resp.request.method} {what}".strip() + f" {resp.status_code}")
    c._session.hooks["response"].append(note)
    return c


def actors(store: Store) -> dict[str, str]:
    return {"velo": store.create_record("actor", {"name": "Atelier Roue Libre (test)", "commune": "Orsay",
                                                  "email": "velo@example.org", "contact_visibility": "public"},
                                        author="test", origin="live"),
            "ulis": store.create_record("actor", {"name": "Recyclerie des Ulis (test)", "commune": "Les Ulis",
                                                  "email": "prive@example.org", "contact_visibility": "membres"},
                                        author="test", origin="live")}


def test_a_member_of_a_group_named_with_spaces_and_accents_reads_the_shared_book(live, tmp_path):
    env, tag, admin = live
    group = admin.group(f"OSCARTES PôleS NOE {tag}")
    member = f"{tag}-membre"
    member_pw = admin.user(member, (group,))
    cfg = config(env, tag, group, tmp_path)
    order: list[str] = []
    client = recording_client(env, order)
    try:
        with Store(cfg.store_url()) as store:
            ids = actors(store)
            first = publish_nextclouds(cfg, store, clients={"live": client})
            assert first.instance_errors == {}, first.instance_errors
            # oc:invite read before the one share request, then read back
            dav = [o for o in order if o.split()[0] in ("PROPFIND", "POST")]
            assert dav[:3] == ["PROPFIND invite 207", "POST share 200", "PROPFIND invite 207"], order
            assert client.invites(client.book_url(tag)) == [DavInvite(group_principal(group), group, True)]

            # the member reads the book and its cards, and cannot change them (404, contract §8)
            m = requests.Session()
            m.auth = (member, member_pw)
            shared = (f"{env['OSCARTES_LIVE_NEXTCLOUD_URL'].rstrip('/')}/remote.php/dav/addressbooks/users/"
                      f"{member}/{tag}_shared_by_{env['OSCARTES_LIVE_NEXTCLOUD_USER']}/")
            assert m.request("PROPFIND", shared, headers={"Depth": "0"}, timeout=60).status_code == 207
            card = m.get(shared + f"{ids['velo']}.vcf", timeout=60)
            assert card.status_code == 200 and "Atelier Roue Libre (test)" in card.text
            assert "prive@example.org" not in m.get(shared + f"{ids['ulis']}.vcf", timeout=60).text
            changed = card.text.replace("Atelier Roue Libre", "Atelier changé")
            assert m.put(shared + f"{ids['velo']}.vcf", data=changed.encode(), timeout=60,
                         headers={"Content-Type": "text/vcard; charset=utf-8"}).status_code == 404
            new = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:m-1\r\nFN:Ajout\r\nEND:VCARD\r\n"
            assert m.put(shared + "m-1.vcf", data=new, timeout=60,
                         headers={"Content-Type": "text/vcard; charset=utf-8"}).status_code == 404
            assert m.delete(shared + f"{ids['velo']}.vcf", timeout=60).status_code == 404
            assert "Atelier Roue Libre (test)" in client.get_card(tag, ids["velo"])[0]

        # a store that lost everything: the share is read from oc:invite, not sent again
        cfg2 = config(env, tag, group, tmp_path)
        order.clear()
        with Store(cfg2.store_url()) as fresh:
            actors(fresh)
            again = publish_nextclouds(cfg2, fresh, clients={"live": client})
            assert again.instance_errors == {}, again.instance_errors
            assert "PROPFIND invite 207" in order and not [o for o in order if o.startswith("POST")], order
    finally:
        client.delete_addressbook(tag)
        client.delete(tag)
        assert tag not in client.list_addressbooks()
        client.close()


def test_the_share_rate_limit_is_told_from_a_lockout_and_the_run_goes_on(live, tmp_path, monkeypatch):
    """An account of its own uses up its hourly share quota (20 requests), then publishes: the share is noted
    as rate-limited, the cards and the exports are written, and nothing is locked out."""
    env, tag, admin = live
    group = admin.group(f"OSCARTES réseau {tag}")
    owner = f"{tag}-compte"
    owner_pw = admin.user(owner)
    monkeypatch.setenv("OSCARTES_LIVE_TEST_OWNER_PASSWORD", owner_pw)
    order: list[str] = []
    client = recording_client(env, order, user=owner, password=owner_pw)
    client.ensure_addressbook("quota", "quota")
    href = group_principal(group)
    for i in range(20):
        if i % 2 == 0:
            client.share(client.book_url("quota"), set_hrefs=[href])
        else:
            client.share(client.book_url("quota"), remove_hrefs=[href])
    cfg = config(env, tag, group, tmp_path, user=owner, secret_env="OSCARTES_LIVE_TEST_OWNER_PASSWORD")
    with Store(cfg.store_url()) as store:
        ids = actors(store)
        res = publish_nextclouds(cfg, store, clients={"live": client})
        assert res.instance_errors == {}, res.instance_errors
        (note,) = [n for n in res.notices if "Nextcloud limits share requests" in n.message]
        assert note.level == "info" and "the share will be retried on the next run" in note.message
        assert not res.needs_person
        assert "POST share 429" in order
        assert set(client.multiget(tag, [client.card_href(tag, rid) for rid in ids.values()])) == \
            {client.card_href(tag, rid) for rid in ids.values()}
        assert {"acteurs.csv", "acteurs.geojson"} <= {i.path.rsplit("/", 1)[-1]
                                                      for i in client.propfind(f"{tag}/Donnees-ouvertes", 1)}
        assert client.invites(client.book_url(tag)) == []  # not shared yet; the next run tries again
    client.close()
