"""Every client of an instance is built here, from the config, and nowhere else.

The sync, `doctor`, `provision` and the publishers all ask this module; it reads the secrets through
`config.secret` and tells why a client cannot be built (a missing secret, an unusable URL) in a message that
names the variable, never its value.
"""

from __future__ import annotations

from .config import Config, NextcloudConfig, WikiConfig, secret
from .fields import FormMap, default_form_map
from .targets.base import FormShape
from .targets.geocoder import BanGeocoder
from .targets.nextcloud import NextcloudClient
from .targets.yeswiki import YesWikiClient
from .targets.yeswiki_admin import YesWikiAdmin
from .text import Text

DEFAULT_TIMEOUT_S = 30.0


def form_maps(cfg: Config, w: WikiConfig) -> dict[str, FormMap]:
    """Kind -> how this wiki's forms carry it, as the sync and `doctor` both see it."""
    forms = w.form_ids()
    return {kind: default_form_map(kind, forms, w.fields.get(kind), w.keys, w.restricted.get(kind))
            for kind in cfg.sync.kinds}


def form_shapes(maps: dict[str, FormMap]) -> dict[str, FormShape]:
    """Form id -> what an update of its entries must carry besides the changes (the title, the map field)."""
    return {m.form_id: FormShape(title_key=m.title_key, resend_keys=m.geo_keys() or ()) for m in maps.values()}


def missing_wiki_secrets(w: WikiConfig) -> list[str]:
    """The secret variables of this wiki that are not set (the API token, the admin password)."""
    return [env for env in (w.api_token_env, w.admin_password_env) if not secret(env)]


def wiki_client(cfg: Config, w: WikiConfig, *, timeout: float = DEFAULT_TIMEOUT_S) -> YesWikiClient:
    """The entry client of one wiki, with whatever secrets are set (`doctor` checks a wiki without them).
    Raises ValueError for a URL it cannot use."""
    return YesWikiClient(w.name, w.url, token=secret(w.api_token_env), admin_user=w.admin_user,
                         admin_password=secret(w.admin_password_env), timeout=timeout,
                         forms=form_shapes(form_maps(cfg, w)))


def wiki_admin(w: WikiConfig, *, timeout: float = DEFAULT_TIMEOUT_S) -> YesWikiAdmin | str:
    """The admin client of one wiki (forms, lists, pages), or why it cannot be built."""
    password = secret(w.admin_password_env)
    if not password:
        return Text("secret variable {name} is not set", name=w.admin_password_env)
    return YesWikiAdmin(w.name, w.url, admin_user=w.admin_user, admin_password=password, timeout=timeout)


def nextcloud_client(nc: NextcloudConfig, *, timeout: float = DEFAULT_TIMEOUT_S) -> NextcloudClient | str:
    """The client of one Nextcloud, or why it cannot be built (a message without any secret)."""
    password = secret(nc.app_password_env)
    if not password:
        return Text("secret variable {name} is not set: Nextcloud skipped", name=nc.app_password_env)
    try:
        return NextcloudClient(nc.name, nc.url, user=nc.user, app_password=password, timeout=timeout)
    except ValueError as exc:
        return exc.args[0] if exc.args else str(exc)


def geocoder(cfg: Config) -> BanGeocoder | None:
    """The address geocoder when the config turns it on, else None (nothing is placed from addresses)."""
    g = cfg.geocoding
    return BanGeocoder(g.url, requests_per_second=g.requests_per_second) if g.enabled else None
