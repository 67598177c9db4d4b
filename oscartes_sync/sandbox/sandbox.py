"""The local sandbox: two emulated YesWikis with the provisioned actor form, as `demo`, the tests and the
benchmarks use it, and (opt-in) emulated Nextclouds with a service account and the network's group.
Everything a member does here goes through HTTP, as it would on a real wiki."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import requests
from bs4 import BeautifulSoup

from ..config import DEFAULT_FORM_IDS, Config, GeocodingConfig, NextcloudConfig, StoreConfig, SyncConfig, WikiConfig
from ..records import DECISIONS, KINDS
from ..templates import render_form_template
from ..text import Text
from .geocoder_emulator import GeocoderEmulator
from .nextcloud_emulator import NextcloudEmulator
from .server import RunningServer, start_server
from .yeswiki_emulator import YesWikiEmulator

WIKI_NAMES = ("polesnoe", "tel")
NEXTCLOUD_NAMES = ("polesnoe-cloud", "tel-cloud")
# Each network's group as coordinators name them (spaces and accents, PRODUCT.md §5): a group name that survives
# only when encoded the way Nextcloud encodes principals.
NETWORK_GROUPS = {"polesnoe-cloud": "OSCARTES PôleS NOE", "tel-cloud": "OSCARTES Territoires en Liens – adhérents"}


@dataclass
class SandboxWiki:
    name: str
    emulator: YesWikiEmulator
    server: RunningServer
    admin_user: str
    admin_password: str
    token: str
    member_user: str
    member_password: str
    member_token: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env_prefix(self) -> str:
        return "OSCARTES_SANDBOX_" + self.name.upper()

    def member_session(self) -> requests.Session:
        return self._session(self.member_user, self.member_password)

    def admin_session(self) -> requests.Session:
        return self._session(self.admin_user, self.admin_password)

    def _session(self, user: str, password: str) -> requests.Session:
        s = requests.Session()
        r = s.post(self.url + "?PagePrincipale", data={"name": user, "password": password, "action": "login"},
                   allow_redirects=False)
        if r.status_code != 302:
            raise RuntimeError(f"sandbox login of {user} failed on {self.name}: {r.status_code}")
        return s

    def member_create(self, form_id: str, values: dict[str, str], session: requests.Session | None = None) -> str:
        """A member adds an entry (the API create, as the Bazar form would)."""
        s = session or requests
        r = s.post(f"{self.url}?api/entries/{form_id}", data=values,
                   headers={"Authorization": f"Bearer {self.member_token}"})
        if r.status_code != 201:
            raise RuntimeError(f"sandbox create failed on {self.name}: {r.status_code} {r.text[:200]}")
        return r.json()["success"].split("?", 1)[1]

    def member_edit(self, entry_id: str, changes: dict[str, str], session: requests.Session | None = None,
                    files: dict[str, tuple[str, bytes, str]] | None = None) -> None:
        """A member edits an entry through the wiki's web form: title + fields shown, as a browser posts them
        (the form re-sends every field it shows, the map included); `files` are the files picked in it."""
        current = self.read(entry_id)
        form = {k: v for k, v in current.items() if isinstance(v, str) and (k.startswith(("bf_", "checkbox", "liste")))}
        form.update(changes)
        form["antispam"] = "1"
        s = session or self.member_session()
        r = s.post(f"{self.url}?{entry_id}/edit", data=form, files=files or None, allow_redirects=False)
        if r.status_code != 302:
            raise RuntimeError(f"sandbox edit failed on {self.name}: {r.status_code}")

    def member_upload(self, entry_id: str, key: str, filename: str, data: bytes, content_type: str = "image/png",
                      session: requests.Session | None = None) -> str:
        """A member picks a file for an image field in the entry's web form (multipart, the other fields as
        they are); returns the name the wiki stored it under."""
        self.member_edit(entry_id, {}, session, files={key: (filename, data, content_type)})
        return self.read(entry_id).get(key, "")

    def member_delete(self, entry_id: str) -> None:
        r = requests.delete(f"{self.url}?api/pages/{entry_id}", headers={"Authorization": f"Bearer {self.token}"})
        if r.status_code != 200:
            raise RuntimeError(f"sandbox delete failed on {self.name}: {r.status_code}")

    def read(self, entry_id: str) -> dict:
        r = requests.get(f"{self.url}?api/entries/json/{entry_id}", headers={"Authorization": f"Bearer {self.token}"})
        return r.json().get(entry_id, {})

    def list(self, form_id: str) -> dict[str, dict]:
        r = requests.get(f"{self.url}?api/forms/{form_id}/entries", headers={"Authorization": f"Bearer {self.token}"})
        body = r.json()
        return body if isinstance(body, dict) else {}


@dataclass
class SandboxNextcloud:
    name: str
    emulator: NextcloudEmulator
    server: RunningServer
    user: str            # the service account
    password: str        # its login password (never used by the service: it has an app password)
    app_password: str
    group: str           # the network's group, which the address book is shared with
    member: str          # a member of that group
    member_password: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env_var(self) -> str:
        return "OSCARTES_SANDBOX_" + self.name.upper().replace("-", "_") + "_APP_PASSWORD"


@dataclass
class Sandbox:
    wikis: dict[str, SandboxWiki] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("actor",)
    nextclouds: dict[str, SandboxNextcloud] = field(default_factory=dict)
    geocoder: GeocoderEmulator | None = None  # the fake national address geocoder, when asked for
    geocoder_server: RunningServer | None = None

    def config(self, *, store_url: str, lock: str, **sync_options) -> Config:
        """A config for these wikis; their secrets go into this process's environment, as a coordinator's
        secrets file would put them."""
        wikis = []
        for w in self.wikis.values():
            os.environ[w.env_prefix + "_TOKEN"] = w.token
            os.environ[w.env_prefix + "_PASSWORD"] = w.admin_password
            wikis.append(WikiConfig(name=w.name, url=w.url, api_token_env=w.env_prefix + "_TOKEN",
                                    admin_user=w.admin_user, admin_password_env=w.env_prefix + "_PASSWORD"))
        clouds = []
        for n in self.nextclouds.values():
            os.environ[n.env_var] = n.app_password
            clouds.append(NextcloudConfig(name=n.name, url=n.url, user=n.user, app_password_env=n.env_var,
                                          group=n.group))
        geocoding = GeocodingConfig()
        if self.geocoder_server is not None:
            geocoding = GeocodingConfig(enabled=True, url=self.geocoder_server.url + "search/", requests_per_second=50)
        return Config(store=StoreConfig(url=store_url),
                      sync=SyncConfig(kinds=list(self.kinds), lock_file=lock, **sync_options), wiki=wikis,
                      nextcloud=clouds, geocoding=geocoding)

    def seed_sample(self, entries: dict[str, list[dict[str, str]]]) -> dict[str, int]:
        counts = {}
        for name, rows in entries.items():
            wiki = self.wikis[name]
            for values in rows:
                wiki.member_create(DEFAULT_FORM_IDS["actor"], values)
            counts[name] = len(rows)
        return counts

    def seed_articles(self, cloud_name: str, folder: str, source: Path) -> list[str]:
        """Markdown articles put into the knowledge-base folder over WebDAV. The sandbox writes them with the
        service account's credentials, standing in for members who edit that folder from their own client."""
        cloud = self.nextclouds[cloud_name]
        base = f"{cloud.url}remote.php/dav/files/{cloud.user}/"
        names = []
        for path in sorted(source.glob("*.md")):
            r = requests.put(base + folder.strip("/") + "/" + path.name, data=path.read_bytes(),
                             auth=(cloud.user, cloud.app_password))
            if r.status_code == 404:  # the folder appears on the service's first run; make it as a member would
                parts = folder.strip("/").split("/")
                for i in range(1, len(parts) + 1):
                    requests.request("MKCOL", base + "/".join(parts[:i]), auth=(cloud.user, cloud.app_password))
                r = requests.put(base + folder.strip("/") + "/" + path.name, data=path.read_bytes(),
                                 auth=(cloud.user, cloud.app_password))
            if r.status_code not in (201, 204):
                raise RuntimeError(f"sandbox article upload failed on {cloud_name}: {r.status_code}")
            names.append(path.name)
        return names

    def member_edit_one(self, name: str) -> str:
        """The demo's member edit: new opening hours for the first entry of the wiki."""
        wiki = self.wikis[name]
        entries = wiki.list(DEFAULT_FORM_IDS["actor"])
        entry_id = sorted(entries)[0]
        wiki.member_edit(entry_id, {"bf_horaires": "Mo-Fr 09:00-18:00; Sa 10:00-12:00"})
        return Text("{wiki}: {title} ({entry}) now opens Mo-Fr 09:00-18:00; Sa 10:00-12:00", wiki=name,
                    title=entries[entry_id].get("bf_titre"), entry=entry_id)

    def stop(self) -> None:
        for w in self.wikis.values():
            w.server.stop()
        for n in self.nextclouds.values():
            n.server.stop()
        if self.geocoder_server is not None:
            self.geocoder_server.stop()



def follow_link(session: requests.Session, page_url: str, label: str) -> str:
    """A person reads the wiki page at `page_url` and picks its link `label`: the link's URL, as the wiki shows
    it (review_06). Raises when the page does not show that link to this person."""
    r = session.get(page_url)
    link = BeautifulSoup(r.text, "html.parser").find("a", string=label)
    if r.status_code != 200 or link is None:
        raise RuntimeError(f"sandbox: {page_url} shows no link {label!r} to this person")
    return str(link["href"])


def submit_bazar_form(session: requests.Session, url: str, **changes: str) -> str:
    """A person opens a Bazar create form (`url`, prefilled from its query), changes `changes` and submits it, as
    a browser does (the page's script sets the antispam field, review_04); the new entry's id."""
    r = session.get(url)
    form = BeautifulSoup(r.text, "html.parser").find("form", id="formulaire")
    if form is None:
        raise RuntimeError(f"sandbox: {url} shows no entry form (HTTP {r.status_code})")
    fields = {el.get("name"): (el.text if el.name == "textarea" else el.get("value", ""))
              for el in form.find_all(["input", "textarea"]) if el.get("name")}
    fields.update(changes, antispam="1")
    r = session.post(url, files=[(k, (None, v)) for k, v in fields.items()], allow_redirects=False)
    if r.status_code != 302 or "message=ajout_ok" not in r.headers.get("Location", ""):
        raise RuntimeError(f"sandbox: the form {url} was not saved (HTTP {r.status_code})")
    return parse_qs(urlsplit(r.headers["Location"]).query)["id_fiche"][0]


def new_wiki(name: str, kinds: tuple[str, ...] = ("actor",), latency: float = 0.0,
             provisioned: bool = True) -> SandboxWiki:
    """A fresh emulated wiki with an admin and a member. `provisioned`: its forms are set up directly, as
    tests want them; otherwise it is bare, as a new real wiki, and `provision` has to set it up."""
    emulator = YesWikiEmulator(name)
    admin, member = "WikiAdmin", "MembreActif"
    admin_pw, member_pw = secrets.token_hex(8), secrets.token_hex(8)
    token, member_token = secrets.token_hex(16), secrets.token_hex(16)
    emulator.add_user(admin, admin_pw, token=token, admin=True)
    emulator.add_user(member, member_pw, token=member_token, admin=False)
    forms = dict(DEFAULT_FORM_IDS)
    for kind in kinds if provisioned else ():
        emulator.add_form(forms[kind], KINDS[kind].label, render_form_template(kind, forms))
    if provisioned:  # the review page's decisions form, as `provision` sets it up
        emulator.add_form(DECISIONS.form_id, DECISIONS.label, render_form_template(DECISIONS.name, forms))
    server = start_server(emulator, latency=latency)
    return SandboxWiki(name, emulator, server, admin, admin_pw, token, member, member_pw, member_token)


def new_nextcloud(name: str, latency: float = 0.0, now=None) -> SandboxNextcloud:
    """A fresh emulated Nextcloud: the service account (an admin, with an app password, as a coordinator sets
    it up), the network's group (NETWORK_GROUPS) and one member in it. `now`: the emulator's clock (tests)."""
    emulator = NextcloudEmulator(name, now=now)
    user, member = "oscartes", "membre"
    password, app_password, member_password = secrets.token_hex(8), secrets.token_hex(36), secrets.token_hex(8)
    emulator.add_user(user, password, app_password=app_password, admin=True)
    emulator.add_user(member, member_password)
    group = NETWORK_GROUPS.get(name, f"OSCARTES {name}")
    emulator.add_group(group, members=[member])
    server = start_server(emulator, latency=latency)
    return SandboxNextcloud(name, emulator, server, user, password, app_password, group, member, member_password)


@contextmanager
def start_sandbox(names: tuple[str, ...] = WIKI_NAMES, kinds: tuple[str, ...] = ("actor",),
                  latency: float = 0.0, provisioned: bool = True,
                  nextclouds: tuple[str, ...] = (), nextcloud_clock=None, geocoder: bool = False) -> Iterator[Sandbox]:
    """Wikis `names`, and the Nextclouds `nextclouds` (none by default; NEXTCLOUD_NAMES for both networks');
    `geocoder`: a fake national address geocoder, which the sandbox's config turns on."""
    sandbox = Sandbox(kinds=kinds)
    try:
        if geocoder:
            sandbox.geocoder = GeocoderEmulator()
            sandbox.geocoder_server = start_server(sandbox.geocoder, latency=latency)
        for name in names:
            sandbox.wikis[name] = new_wiki(name, kinds, latency, provisioned)
        for name in nextclouds:
            sandbox.nextclouds[name] = new_nextcloud(name, latency, nextcloud_clock)
        yield sandbox
    finally:
        sandbox.stop()
