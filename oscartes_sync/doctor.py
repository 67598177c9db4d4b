"""`oscartes-sync doctor`: is each configured instance usable, and if not, what to fix (PRODUCT.md §5).

The checks return plain results (`Check`); the CLI prints them. Nothing here writes: the probes are reads and
one admin login, and the store is read as it is (never created or migrated: `store.probe`).
A secret's value never reaches a message: the variable is named, and every text is scrubbed of the configured
secrets before it leaves this module (belt and braces: no message is built from them).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import app
from .clients import form_maps, nextcloud_client, wiki_client
from .config import Config, NextcloudConfig, WikiConfig, secret
from .fields import FormMap
from .targets.base import TargetError

OK, WARN, PROBLEM, SKIP = "ok", "warn", "problem", "skip"
# The YesWiki release the HTTP contract was recorded on (yeswiki-contract/README.md).
CONTRACT_VERSION = "4.4.2"
_CONTRACT_SERIES = (4, 4)
# Shorter than a sync's: doctor is run by a person waiting for the answer.
_TIMEOUT_S = 15.0


@dataclass
class Check:
    instance: str  # the wiki's name, or "store"
    kind: str  # "wiki", "nextcloud", "store"
    name: str  # what is checked: "secrets", "reachable", "version", "token", "admin login", "form actor", ...
    status: str  # ok, warn (works, but look), problem (needs a fix), skip (could not be checked)
    message: str
    hint: str = ""


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(c.status == PROBLEM for c in self.checks)

    @property
    def warnings(self) -> int:
        return sum(c.status == WARN for c in self.checks)

    @property
    def exit_code(self) -> int:
        return app.EXIT_ATTENTION if self.problems else app.EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"checks": [asdict(c) for c in self.checks], "problems": self.problems,
                "warnings": self.warnings, "exit_code": self.exit_code}


def run_doctor(cfg: Config, *, timeout: float = _TIMEOUT_S) -> DoctorReport:
    report = DoctorReport()
    secrets = [v for w in cfg.wiki for v in (secret(w.api_token_env), secret(w.admin_password_env)) if v]
    secrets += [v for n in cfg.nextcloud if (v := secret(n.app_password_env))]
    for w in cfg.wiki:
        report.checks += check_wiki(cfg, w, timeout=timeout)
    for n in cfg.nextcloud:
        report.checks += check_nextcloud(n, timeout=timeout)
    report.checks.append(check_store(cfg))
    for c in report.checks:
        c.message, c.hint = _scrub(c.message, secrets), _scrub(c.hint, secrets)
    return report


# ---------------------------------------------------------------------------------------------------- wikis


def check_nextcloud(n: NextcloudConfig, *, timeout: float = _TIMEOUT_S) -> list[Check]:
    """Secret set, reachable, version, app password accepted (one try: failed logins lock the host out),
    and the network's group exists (the address book is shared with it, DECISIONS §18)."""
    def check(name: str, status: str, message: str, hint: str = "") -> Check:
        return Check(n.name, "nextcloud", name, status, message, hint)

    password = secret(n.app_password_env)
    if not password:
        return [check("secrets", PROBLEM, f"{n.app_password_env} is not set",
                      f"export {n.app_password_env} with an app password of {n.user!r}")]
    out = [check("secrets", OK, f"{n.app_password_env} is set")]
    client = nextcloud_client(n, timeout=timeout)
    if isinstance(client, str):  # the config already checks the url; this is its last word
        return out + [check("reachable", PROBLEM, client, "fix url in this [[nextcloud]]")]
    try:
        got = client.check(group=n.group)
    finally:
        client.close()
    if not got.reachable:
        return out + [check("reachable", PROBLEM, "; ".join(got.problems) or "no answer",
                            f"is {n.url} right and the server up?")]
    out.append(check("reachable", OK, f"answers at {n.url}"))
    out.append(check("version", OK if got.version else WARN, f"Nextcloud {got.version or 'version not shown'}"))
    if got.auth != "ok":
        hint = ("wait until the host lifts its lock-out, then fix the app password" if got.auth == "locked-out"
                else f"create an app password for {n.user!r} (Settings > Security) and put it in "
                     f"{n.app_password_env}")
        return out + [check("app password", PROBLEM, "; ".join(got.problems) or "refused", hint)]
    out.append(check("app password", OK, f"accepted for {got.user}"))
    if got.group_exists is False:
        out.append(check("group", PROBLEM, f"the group {n.group!r} does not exist",
                         "the coordinator creates it once (Users > Add group); the address book is shared with it"))
    elif got.group_exists is None:
        out.append(check("group", WARN, f"could not check that the group {n.group!r} exists",
                         "the service account cannot list groups: check it by hand"))
    else:
        out.append(check("group", OK, f"{n.group!r} exists"))
    return out


def check_wiki(cfg: Config, w: WikiConfig, *, timeout: float = _TIMEOUT_S) -> list[Check]:
    out: list[Check] = []

    def add(name: str, status: str, message: str, hint: str = "") -> None:
        out.append(Check(w.name, "wiki", name, status, message, hint))

    token, password = secret(w.api_token_env), secret(w.admin_password_env)
    missing = [env for env, value in ((w.api_token_env, token), (w.admin_password_env, password)) if not value]
    if missing:
        add("secrets", PROBLEM, f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            "set it in the service's environment (secrets file), never in the config: "
            + ", ".join(_secret_meaning(w, env) for env in missing))
    else:
        add("secrets", OK, f"{w.api_token_env} and {w.admin_password_env} are set")

    kinds = [f"form {kind}" for kind in cfg.sync.kinds]
    try:
        client = wiki_client(cfg, w, timeout=timeout)
    except ValueError as exc:  # the config already checks the url; this is its last word
        add("reachable", PROBLEM, str(exc), "fix url in this [[wiki]]")
        for name in ("version", "token", "admin login", *kinds):
            add(name, SKIP, "not checked: the wiki url is unusable")
        return out
    try:
        wc = client.check()
        if not (wc.reachable and wc.api_json):
            reason = wc.problems[0] if wc.problems else "no answer"
            if not wc.reachable:
                add("reachable", PROBLEM, f"{_site(w.url)}: {reason}",
                    "check url in this [[wiki]] and that the wiki is up and reachable from this machine")
            else:
                add("reachable", PROBLEM, f"{_site(w.url)} answers, but not the YesWiki API: {reason}",
                    "url must be the wiki's root, the address whose ?api/forms lists the forms "
                    "(no login wall or proxy in front)")
            for name in ("version", "token", "admin login", *kinds):
                add(name, SKIP, "not checked: the wiki is not reachable")
            return out
        add("reachable", OK, f"{_site(w.url)} answers the API with JSON")
        out.append(_version_check(w, wc.version))
        # check() appends at most one problem for the token, then at most one for the login, in that order
        login_msg = wc.problems[-1] if wc.admin_login is not True and wc.problems else ""
        token_msgs = wc.problems[:-1] if login_msg else wc.problems
        token_msg = token_msgs[0] if token_msgs else ""
        out.append(_token_check(w, wc.token, token_msg))
        out.append(_login_check(w, wc.admin_login, password, login_msg))
        forms_on_wiki = _form_ids(client)
        for kind, fmap in form_maps(cfg, w).items():
            out.append(_form_check(w, client, kind, fmap, forms_on_wiki))
    except TargetError as exc:  # check() catches its own; a form read can still fail (server error)
        add("wiki", PROBLEM, exc.message, "run doctor again; if it persists, look at the wiki's server logs")
    except Exception as exc:  # never a traceback: a bug here must not hide the other instances' results
        add("wiki", PROBLEM, f"unexpected error while checking ({type(exc).__name__})",
            "run with -v for details and report it")
    finally:
        client.close()
    return out


def _secret_meaning(w: WikiConfig, env: str) -> str:
    if env == w.api_token_env:
        return f"{env} holds the API token of an admin user (api_allowed_keys in the wiki's wakka.config.php)"
    return f"{env} holds the password of {w.admin_user}"


def _site(url: str) -> str:
    """The url without any user:password@ it might carry."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _version_check(w: WikiConfig, version: str | None) -> Check:
    if version is None:
        return Check(w.name, "wiki", "version", WARN,
                     "the home page does not show the YesWiki version (its theme hides the footer)",
                     f"oscartes-sync was checked against YesWiki {CONTRACT_VERSION}; make sure the wiki runs 4.4.x")
    m = re.search(r"(\d+)\.(\d+)", version)
    if m and (int(m.group(1)), int(m.group(2))) == _CONTRACT_SERIES:
        return Check(w.name, "wiki", "version", OK, f"YesWiki {version}")
    return Check(w.name, "wiki", "version", WARN,
                 f"YesWiki {version}: oscartes-sync was checked against {CONTRACT_VERSION} (4.4.x)",
                 "it may work; try `oscartes-sync sync --dry-run` and read the result before a real run")


def _token_check(w: WikiConfig, state: str, message: str) -> Check:
    def check(status: str, msg: str, hint: str = "") -> Check:
        return Check(w.name, "wiki", "token", status, msg, hint)

    if state == "admin":
        return check(OK, "accepted, and its user is an admin (GET ?api/users answers)")
    if state == "missing":
        return check(SKIP, f"not checked: {w.api_token_env} is not set")
    keys_hint = (f"{w.api_token_env} must hold a token listed in api_allowed_keys of the wiki's wakka.config.php "
                 "('UserName' => 'token', the user must exist)")
    if state == "refused":
        detail = f" ({message})" if message and "the API token was refused" not in message else ""
        return check(PROBLEM, "the API token was refused" + detail, keys_hint)
    if state == "user":
        return check(PROBLEM, "the API token is accepted, but its user is not in @admins "
                              "(members-only fields would read as blank)",
                     "add that user to the admins group, or use the token of an admin user")
    return check(PROBLEM, message or "the API token could not be checked",
                 "run doctor again; if it persists, look at the wiki's server logs")


def _login_check(w: WikiConfig, ok: bool | None, password: str | None, message: str) -> Check:
    def check(status: str, msg: str, hint: str = "") -> Check:
        return Check(w.name, "wiki", "admin login", status, msg, hint)

    if ok:
        return check(OK, f"{w.admin_user} can log in (needed to edit entries)")
    if not password:
        return check(SKIP, f"not checked: {w.admin_password_env} is not set")
    if "refused" in message:
        return check(PROBLEM, f"the wiki refused the login of {w.admin_user}",
                     f"check admin_user in this [[wiki]] and the password in {w.admin_password_env}")
    return check(PROBLEM, message or f"the login of {w.admin_user} could not be checked",
                 "run doctor again; if it persists, look at the wiki's server logs")


def _form_ids(client) -> list[str]:
    try:
        return sorted(client.list_forms(), key=lambda i: (len(i), i))
    except TargetError:
        return []


def _form_check(w: WikiConfig, client, kind: str, fmap: FormMap, forms_on_wiki: list[str]) -> Check:
    name = f"form {kind}"
    form = client.get_form(fmap.form_id)
    if form is None:
        there = f" (forms on this wiki: {', '.join(forms_on_wiki)})" if forms_on_wiki else ""
        return Check(w.name, "wiki", name, PROBLEM, f"form {fmap.form_id} does not exist{there}",
                     f"create the {kind} form on the wiki, or set forms = {{ {kind} = \"ID\" }} in this "
                     f"[[wiki]] to the form that holds them")
    prepared = form.get("prepared")
    if not isinstance(prepared, list):
        return Check(w.name, "wiki", name, PROBLEM, f"form {fmap.form_id} was returned without its fields",
                     "look at the form in the wiki's Bazar admin page")
    present = form_keys(prepared)
    missing = [canon for canon, key in fmap.keys.items() if key not in present]
    if missing:
        listed = ", ".join(f"{canon} ({fmap.keys[canon]})" for canon in missing)
        return Check(w.name, "wiki", name, PROBLEM,
                     f"form {fmap.form_id} has no field for {listed}: a sync would read them as blank",
                     f"add the fields to the form, or map them to this wiki's keys with fields.{kind} = "
                     f"{{ {missing[0]} = \"KEY\" }} in this [[wiki]] (\"\" for a field this wiki does not have)")
    return Check(w.name, "wiki", name, OK, f"form {fmap.form_id} has the {len(fmap.keys)} fields synced")


def form_keys(prepared: list[Any]) -> set[str]:
    """The entry keys a form's fields write: their property names, and for a map field the latitude and
    longitude keys it fills (its own property name is `geolocation`)."""
    keys: set[str] = set()
    for p in prepared:
        if not isinstance(p, dict):
            continue
        for k in ("propertyname", "latitudeField", "longitudeField") if p.get("type") == "map" else ("propertyname",):
            if isinstance(p.get(k), str) and p[k]:
                keys.add(p[k])
    return keys


# ---------------------------------------------------------------------------------------------------- store


def check_store(cfg: Config) -> Check:
    """The store read as it is, never created, migrated or written (a check writes nothing): a missing one
    is reported with what the first sync creates, an unusable one with the reason."""
    from .store import StoreError
    from .store.probe import CURRENT, EMPTY, NEWER, OLDER, probe

    def check(status: str, message: str, hint: str = "") -> Check:
        return Check("store", "store", "store", status, message, hint)

    try:
        found = probe(cfg.store_url())
    except StoreError as exc:  # readable and password-free by construction
        return check(PROBLEM, str(exc), "fix url under [store]")
    if found.problem:
        return check(PROBLEM, found.problem, "fix url under [store], or the folder's permissions")
    if not found.exists:
        folder = f", and its folder {found.missing_folder}" if found.missing_folder else ""
        return check(WARN, f"{found.where} does not exist yet: the first sync creates it{folder}",
                     "expected before the first sync; otherwise check url under [store]")
    if found.schema == NEWER:
        return check(PROBLEM, f"{found.where} has the schema {found.version}, which this version of oscartes-sync "
                              "does not know: was it written by a newer version?",
                     "upgrade oscartes-sync, or point url under [store] at this version's database")
    if found.schema == EMPTY:
        return check(WARN, f"{found.where} exists but holds no oscartes-sync schema yet: the first sync creates it",
                     "expected before the first sync; otherwise check url under [store]")
    last = f"; last run #{found.last_run[0]} {found.last_run[1]}" if found.last_run else "; no run yet"
    state = "schema up to date" if found.schema == CURRENT else "its schema is brought up to date by the next run"
    return check(OK, f"{found.where} opens, {state}{last}")


def _scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


# ---------------------------------------------------------------------------------------------------- text


_LABEL = {OK: "OK", WARN: "WARN", PROBLEM: "PROBLEM", SKIP: "SKIP"}


def render_text(report: DoctorReport) -> str:
    lines: list[str] = []
    current = None
    for c in report.checks:
        head = f"{c.kind} {c.instance}" if c.kind != "store" else "store"
        if head != current:
            lines.append(head)
            current = head
        line = f"  {_LABEL[c.status]:<8} {c.name}: {c.message}"
        if c.hint and c.status in (PROBLEM, WARN):
            line += f" -> fix: {c.hint}" if c.status == PROBLEM else f" -> {c.hint}"
        lines.append(line)
    if report.problems:
        lines.append(f"{report.problems} problem(s), {report.warnings} warning(s).")
    else:
        lines.append("All checks passed" + (f", {report.warnings} warning(s)." if report.warnings else "."))
    return "\n".join(lines)
