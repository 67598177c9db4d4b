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
from .coordinator import RUN_OUTCOMES
from .config import Config, NextcloudConfig, WikiConfig, secret
from .fields import FormMap
from .i18n import _, translate
from .layout import Line, fit, terminal_width
from .targets.base import TargetError
from .text import N_, SEMICOLON, Plural, Term, Text, join, scrub

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
        return [check("secrets", PROBLEM, Text("{variable} is not set", variable=n.app_password_env),
                      Text("export {variable} with an app password of '{user}'", variable=n.app_password_env,
                           user=n.user))]
    out = [check("secrets", OK, Text("{variable} is set", variable=n.app_password_env))]
    client = nextcloud_client(n, timeout=timeout)
    if isinstance(client, str):  # the config already checks the url; this is its last word
        return out + [check("reachable", PROBLEM, client, Text("fix url in this [[nextcloud]]"))]
    try:
        got = client.check(group=n.group)
    finally:
        client.close()
    if not got.reachable:
        return out + [check("reachable", PROBLEM,
                            join(SEMICOLON, got.problems) if got.problems else Text("no answer"),
                            Text("is {url} right and the server up?", url=n.url))]
    out.append(check("reachable", OK, Text("answers at {url}", url=n.url)))
    out.append(check("version", OK if got.version else WARN,
                     Text("Nextcloud {version}", version=got.version) if got.version
                     else Text("Nextcloud, version not shown")))
    if got.auth != "ok":
        hint = (Text("wait until the host lifts its lock-out, then fix the app password") if got.auth == "locked-out"
                else Text("create an app password for '{user}' (Settings > Security) and put it in {variable}",
                          user=n.user, variable=n.app_password_env))
        return out + [check("app password", PROBLEM,
                            join(SEMICOLON, got.problems) if got.problems else Text("refused"),
                            hint)]
    out.append(check("app password", OK, Text("accepted for {user}", user=got.user)))
    if got.group_exists is False:
        out.append(check("group", PROBLEM, Text("the group '{group}' does not exist", group=n.group),
                         Text("the coordinator creates it once (Users > Add group); the address book is shared "
                              "with it")))
    elif got.group_exists is None:
        out.append(check("group", WARN, Text("could not check that the group '{group}' exists", group=n.group),
                         Text("the service account cannot list groups: check it by hand")))
    else:
        out.append(check("group", OK, Text("'{group}' exists", group=n.group)))
    return out


def check_wiki(cfg: Config, w: WikiConfig, *, timeout: float = _TIMEOUT_S) -> list[Check]:
    out: list[Check] = []

    def add(name: str, status: str, message: str, hint: str = "") -> None:
        out.append(Check(w.name, "wiki", name, status, message, hint))

    token, password = secret(w.api_token_env), secret(w.admin_password_env)
    missing = [env for env, value in ((w.api_token_env, token), (w.admin_password_env, password)) if not value]
    if missing:
        add("secrets", PROBLEM, Plural("{variables} is not set", "{variables} are not set", len(missing),
                                       variables=" and ".join(missing)),
            Text("set it in the service's environment (secrets file), never in the config: {meaning}",
                 meaning=join(", ", [_secret_meaning(w, env) for env in missing])))
    else:
        add("secrets", OK, Text("{token} and {password} are set", token=w.api_token_env,
                                password=w.admin_password_env))

    kinds = [f"form {kind}" for kind in cfg.sync.kinds]
    try:
        client = wiki_client(cfg, w, timeout=timeout)
    except ValueError as exc:  # the config already checks the url; this is its last word
        add("reachable", PROBLEM, exc.args[0] if exc.args else str(exc), Text("fix url in this [[wiki]]"))
        for name in ("version", "token", "admin login", *kinds):
            add(name, SKIP, Text("not checked: the wiki url is unusable"))
        return out
    try:
        wc = client.check()
        if not (wc.reachable and wc.api_json):
            reason = wc.problems[0] if wc.problems else Text("no answer")
            if not wc.reachable:
                add("reachable", PROBLEM, Text("{site}: {reason}", site=_site(w.url), reason=reason),
                    Text("check url in this [[wiki]] and that the wiki is up and reachable from this machine"))
            else:
                add("reachable", PROBLEM, Text("{site} answers, but not the YesWiki API: {reason}", site=_site(w.url),
                                               reason=reason),
                    Text("url must be the wiki's root, the address whose ?api/forms lists the forms "
                         "(no login wall or proxy in front)"))
            for name in ("version", "token", "admin login", *kinds):
                add(name, SKIP, Text("not checked: the wiki is not reachable"))
            return out
        add("reachable", OK, Text("{site} answers the API with JSON", site=_site(w.url)))
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
        add("wiki", PROBLEM, exc.message, Text("run doctor again; if it persists, look at the wiki's server logs"))
    except Exception as exc:  # never a traceback: a bug here must not hide the other instances' results
        add("wiki", PROBLEM, Text("unexpected error while checking ({type})", type=type(exc).__name__),
            Text("run with -v for details and report it"))
    finally:
        client.close()
    return out


def _secret_meaning(w: WikiConfig, env: str) -> str:
    if env == w.api_token_env:
        return Text("{variable} holds the API token of an admin user (api_allowed_keys in the wiki's "
                    "wakka.config.php)", variable=env)
    return Text("{variable} holds the password of {user}", variable=env, user=w.admin_user)


def _site(url: str) -> str:
    """The url without any user:password@ it might carry."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _version_check(w: WikiConfig, version: str | None) -> Check:
    if version is None:
        return Check(w.name, "wiki", "version", WARN,
                     Text("the home page does not show the YesWiki version (its theme hides the footer)"),
                     Text("oscartes-sync was checked against YesWiki {version}; make sure the wiki runs 4.4.x",
                          version=CONTRACT_VERSION))
    m = re.search(r"(\d+)\.(\d+)", version)
    if m and (int(m.group(1)), int(m.group(2))) == _CONTRACT_SERIES:
        return Check(w.name, "wiki", "version", OK, Text("YesWiki {version}", version=version))
    return Check(w.name, "wiki", "version", WARN,
                 Text("YesWiki {version}: oscartes-sync was checked against {checked} (4.4.x)",
                      version=version, checked=CONTRACT_VERSION),
                 Text("it may work; try `oscartes-sync sync --dry-run` and read the result before a real run"))


def _token_check(w: WikiConfig, state: str, message: str) -> Check:
    def check(status: str, msg: str, hint: str = "") -> Check:
        return Check(w.name, "wiki", "token", status, msg, hint)

    if state == "admin":
        return check(OK, Text("accepted, and its user is an admin (GET ?api/users answers)"))
    if state == "missing":
        return check(SKIP, Text("not checked: {variable} is not set", variable=w.api_token_env))
    keys_hint = Text("{variable} must hold a token listed in api_allowed_keys of the wiki's wakka.config.php "
                     "('UserName' => 'token', the user must exist)", variable=w.api_token_env)
    if state == "refused":
        if message and "the API token was refused" not in message:
            return check(PROBLEM, Text("the API token was refused ({reason})", reason=message), keys_hint)
        return check(PROBLEM, Text("the API token was refused"), keys_hint)
    if state == "user":
        return check(PROBLEM, Text("the API token is accepted, but its user is not in @admins "
                                   "(members-only fields would read as blank)"),
                     Text("add that user to the admins group, or use the token of an admin user"))
    return check(PROBLEM, message or Text("the API token could not be checked"),
                 Text("run doctor again; if it persists, look at the wiki's server logs"))


def _login_check(w: WikiConfig, ok: bool | None, password: str | None, message: str) -> Check:
    def check(status: str, msg: str, hint: str = "") -> Check:
        return Check(w.name, "wiki", "admin login", status, msg, hint)

    if ok:
        return check(OK, Text("{user} can log in (needed to edit entries)", user=w.admin_user))
    if not password:
        return check(SKIP, Text("not checked: {variable} is not set", variable=w.admin_password_env))
    if "refused" in message:
        return check(PROBLEM, Text("the wiki refused the login of {user}", user=w.admin_user),
                     Text("check admin_user in this [[wiki]] and the password in {variable}",
                          variable=w.admin_password_env))
    return check(PROBLEM, message or Text("the login of {user} could not be checked", user=w.admin_user),
                 Text("run doctor again; if it persists, look at the wiki's server logs"))


def _form_ids(client) -> list[str]:
    try:
        return sorted(client.list_forms(), key=lambda i: (len(i), i))
    except TargetError:
        return []


def _form_check(w: WikiConfig, client, kind: str, fmap: FormMap, forms_on_wiki: list[str]) -> Check:
    name = f"form {kind}"
    form = client.get_form(fmap.form_id)
    if form is None:
        missing_form = (Text("form {form} does not exist (forms on this wiki: {forms})", form=fmap.form_id,
                             forms=", ".join(forms_on_wiki)) if forms_on_wiki
                        else Text("form {form} does not exist", form=fmap.form_id))
        return Check(w.name, "wiki", name, PROBLEM, missing_form,
                     Text("create the {kind} form on the wiki, or set forms = {{ {kind} = \"ID\" }} in this "
                          "[[wiki]] to the form that holds them", kind=kind))
    prepared = form.get("prepared")
    if not isinstance(prepared, list):
        return Check(w.name, "wiki", name, PROBLEM, Text("form {form} was returned without its fields",
                                                         form=fmap.form_id),
                     Text("look at the form in the wiki's Bazar admin page"))
    present = form_keys(prepared)
    missing = [canon for canon, key in fmap.keys.items() if key not in present]
    if missing:
        listed = ", ".join(f"{canon} ({fmap.keys[canon]})" for canon in missing)
        return Check(w.name, "wiki", name, PROBLEM,
                     Text("form {form} has no field for {listed}: a sync would read them as blank",
                          form=fmap.form_id, listed=listed),
                     Text("add the fields to the form, or map them to this wiki's keys with fields.{kind} = "
                          "{{ {field} = \"KEY\" }} in this [[wiki]] (\"\" for a field this wiki does not have)",
                          kind=kind, field=missing[0]))
    return Check(w.name, "wiki", name, OK, Text("form {form} has the {n} fields synced",
                                                form=fmap.form_id, n=len(fmap.keys)))


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
        return check(PROBLEM, exc.args[0] if exc.args else str(exc), Text("fix url under [store]"))
    if found.problem:
        return check(PROBLEM, found.problem, Text("fix url under [store], or the folder's permissions"))
    if not found.exists:
        missing = (Text("{where} does not exist yet: the first sync creates it, and its folder {folder}",
                        where=found.where, folder=found.missing_folder) if found.missing_folder
                   else Text("{where} does not exist yet: the first sync creates it", where=found.where))
        return check(WARN, missing,
                     Text("expected before the first sync; otherwise check url under [store]"))
    if found.schema == NEWER:
        return check(PROBLEM, Text("{where} has the schema {version}, which this version of oscartes-sync "
                                   "does not know: was it written by a newer version?",
                                   where=found.where, version=found.version),
                     Text("upgrade oscartes-sync, or point url under [store] at this version's database"))
    if found.schema == EMPTY:
        return check(WARN, Text("{where} exists but holds no oscartes-sync schema yet: the first sync creates it",
                                where=found.where),
                     Text("expected before the first sync; otherwise check url under [store]"))
    state = (Text("schema up to date") if found.schema == CURRENT
             else Text("its schema is brought up to date by the next run"))
    if found.last_run:
        outcome = RUN_OUTCOMES.get(found.last_run[1])
        return check(OK, Text("{where} opens, {state}; last run #{id}: {outcome}", where=found.where, state=state,
                              id=found.last_run[0], outcome=Text(outcome) if outcome else found.last_run[1]))
    return check(OK, Text("{where} opens, {state}; no run yet", where=found.where, state=state))


def _scrub(text: str, secrets: list[str]) -> str:
    return scrub(text, secrets)


# ---------------------------------------------------------------------------------------------------- text


_LABEL = {OK: N_("OK"), WARN: N_("WARN"), PROBLEM: N_("PROBLEM"), SKIP: N_("SKIP")}
# what each check is called where it is shown (its `name` stays the stable key of the JSON)
_NAMES = {"secrets": N_("secrets"), "reachable": N_("reachable"), "version": N_("version"), "token": N_("token"),
          "admin login": N_("admin login"), "app password": N_("app password"), "group": N_("group"),
          "store": N_("store"), "wiki": N_("wiki")}


def _check_name(name: str) -> str:
    if name.startswith("form "):
        return translate(Text("form {kind}", kind=Term(name[len("form "):], "kind_one")))
    return _(_NAMES[name]) if name in _NAMES else name


def render_text(report: DoctorReport) -> str:
    """One line per check, under its instance, in the reader's language; a problem says the fix."""
    lines: list[str] = []
    current = None
    width = max(len(_(label)) for label in _LABEL.values())
    columns = terminal_width()
    for c in report.checks:
        head = f"{c.kind} {c.instance}" if c.kind != "store" else _("store")
        if head != current:
            lines.append(head)
            current = head
        line = translate(Text("{check}: {message}", check=_check_name(c.name), message=c.message))
        if c.hint and c.status == PROBLEM:
            line += translate(Text(" -> fix: {hint}", hint=c.hint))
        elif c.hint and c.status == WARN:
            line += " -> " + translate(c.hint)
        lines.append(fit(Line(f"  {_(_LABEL[c.status]):<{width}} {line}", 0, width + 7), columns))
    if report.problems:
        lines.append(translate(Text("{problems}, {warnings}.",
                                    problems=Plural("{n} problem", "{n} problems", report.problems,
                                                    n=report.problems),
                                    warnings=Plural("{n} warning", "{n} warnings", report.warnings,
                                                    n=report.warnings))))
    elif report.warnings:
        lines.append(translate(Plural("All checks passed, {n} warning.", "All checks passed, {n} warnings.",
                                      report.warnings, n=report.warnings)))
    else:
        lines.append(translate(Text("All checks passed.")))
    return "\n".join(lines)
