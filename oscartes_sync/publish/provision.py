"""`provision`: the Bazar forms, lists and static pages of wiki_templates/, in every configured wiki.

Everything is read and compared before anything is written, and all templates are checked first: a bad
template stops the run before any wiki is touched. Then, per wiki and per object: create what is missing,
update what drifted from the templates, leave alone what matches (a second run writes nothing). Two things are
never overwritten silently: a form at our id that is not ours (another form of the wiki), and a page a person
edited by hand since the service last wrote it (reported; `--force` overwrites, the wiki keeps the old revision).
`--check` writes nothing and shows the drift as a diff.

The pages include the "Documentation" section (publish/docs.py) and, on a fresh wiki only, the home page, banner
and menu (publish/fresh_wiki.py). What is set up depends on the territory (its communes, networks and map view;
territory.py) and on the templates: the package's, or those of the replication kit `kit apply` brings (`root`).
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pathlib import Path

from .. import territory as territories
from ..clients import wiki_admin
from ..config import Config, WikiConfig
from ..hashing import content_hash
from ..records import DECISIONS, KINDS
from ..targets.base import TargetError, TerminalError
from ..targets.wikiname import list_id_for
from ..i18n import translate
from ..templates import FORM_KINDS, TemplateError, all_lists, check_form_template
from ..text import Plural, Term, Text, message_of
from .fresh_wiki import fresh_wiki_pages, stock_bodies

CREATE, UPDATE, OK, HAND_EDITED, FOREIGN, MAPPED, FAILED, OWN = (
    "create", "update", "ok", "hand-edited", "foreign", "mapped", "failed", "own")
NEEDS_PERSON = {HAND_EDITED, FOREIGN, FAILED}


class ProvisionError(Exception):
    """The templates cannot be used: nothing was written anywhere."""


@dataclass
class Item:
    wiki: str
    kind: str  # form | list | page
    name: str
    status: str
    diff: str = ""
    message: str = ""


@dataclass
class ProvisionReport:
    check: bool
    items: list[Item] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # wiki -> why it was not provisioned

    @property
    def drift(self) -> list[Item]:
        return [i for i in self.items if i.status in (CREATE, UPDATE, HAND_EDITED, FOREIGN)]

    @property
    def exit_code(self) -> int:
        if self.errors or any(i.status in NEEDS_PERSON for i in self.items):
            return 1
        return 1 if self.check and self.drift else 0


@dataclass(frozen=True)
class Desired:
    forms: dict[str, tuple[str, str, str]]  # kind -> (form id, label, bn_template)
    lists: dict[str, tuple[str, dict[str, str]]]  # list id -> (title, labels)
    pages: dict[str, str]  # tag -> body
    mapped: tuple[str, ...]  # kinds this wiki keeps in its own forms (mapped in the config)
    fresh: dict[str, str] = field(default_factory=dict)  # YesWiki's stock pages -> what a fresh wiki gets


def desired_state(w: WikiConfig, cfg: Config | None = None, territory: territories.Territory | None = None,
                  root: Path | None = None) -> Desired:
    """What the templates (`root`: a kit's; the package's by default) and the territory's parameters (Essonne
    by default) say this wiki must hold under `cfg` (its [publish] choices decide what the static pages link
    to; with [review] enabled, the form of the review page's decisions too). Raises
    ProvisionError naming the file and line."""
    from .docs import DocsError, build_setup, wiki_pages

    cfg = cfg or Config()
    forms = w.form_ids()
    mapped = tuple(k for k in FORM_KINDS if k in w.fields)
    try:
        wanted_forms = {k: (forms[k], KINDS[k].label, check_form_template(k, forms, root))
                        for k in FORM_KINDS if k not in mapped}
        if cfg.review.enabled:
            wanted_forms[DECISIONS.name] = (w.service_form_id(DECISIONS.name), DECISIONS.label,
                                            check_form_template(DECISIONS.name, forms, root,
                                                                review_group=w.review_group))
        lists = {}
        for list_id, data in all_lists(territory, root).items():
            if list_id_for(data["titre"]) != list_id:
                raise TemplateError(f"wiki_templates/lists/{list_id}.json", None,
                                    Text("title \"{title}\" gives the id '{derived}' in YesWiki, not '{list_id}'",
                                         title=data["titre"], derived=list_id_for(data["titre"]), list_id=list_id))
            lists[list_id] = (data["titre"], dict(data["values"]))
        pages = _static_pages(forms, lists, cfg, territory, root)
        docs = wiki_pages(build_setup(territory, root=root, forms=forms, cfg=cfg))
        fresh = {p.tag: p.body for p in fresh_wiki_pages(territory, root, dashboards=cfg.publish.dashboards,
                                                         knowledge_base=cfg.has_knowledge_base())}
    except (TemplateError, DocsError, ValueError) as exc:
        raise ProvisionError(message_of(exc)) from None
    return Desired(wanted_forms, lists, {**pages, **{p.tag: p.body for p in docs}}, mapped, fresh)


def _static_pages(forms: dict[str, str], lists: dict[str, tuple[str, dict[str, str]]], cfg: Config,
                  territory: territories.Territory | None, root: Path | None) -> dict[str, str]:
    from .pages import static_pages

    specs = static_pages(forms, {k: {"titre": t, "values": v} for k, (t, v) in lists.items()},
                         dashboards=cfg.publish.dashboards, knowledge_base=cfg.has_knowledge_base(),
                         territory=territory, root=root)
    return {p.tag: p.body for p in specs}


def _diff(name: str, current: str, wanted: str) -> str:
    lines = difflib.unified_diff(current.splitlines(), wanted.splitlines(), f"{name} (wiki)",
                                 f"{name} (templates)", lineterm="")
    return "\n".join(lines)


def _list_text(title: str, labels: dict[str, str]) -> str:
    return "\n".join([f"titre: {title}"] + [f"{k}: {v}" for k, v in labels.items()])


def run_provision(cfg: Config, store, *, check: bool = False, force: bool = False,
                  admin_factory: Callable[[WikiConfig], Any] | None = None,
                  territory: territories.Territory | None = None, root: Path | None = None,
                  only: str | None = None) -> ProvisionReport:
    """Provision every wiki of the config (or the one named `only`) for `territory` (the config's by default)
    with the templates of `root` (the package's by default)."""
    territory = territory or cfg.local_territory()
    wikis = [w for w in cfg.wiki if only is None or w.name == only]
    # every template checked before any write
    wanted = {w.name: desired_state(w, cfg, territory, root) for w in wikis}
    report = ProvisionReport(check)
    for w in wikis:
        admin = (admin_factory or wiki_admin)(w)
        if isinstance(admin, str):
            report.errors[w.name] = Text("{reason}: wiki skipped", reason=admin)
            continue
        try:
            admin.check_api()
            _provision_wiki(w, admin, wanted[w.name], store, report, check, force)
        except TargetError as exc:  # unreachable, not a YesWiki, login refused: this wiki stops, the others go on
            report.errors[w.name] = exc.message
        finally:
            admin.close()
    return report


def _provision_wiki(w: WikiConfig, admin, want: Desired, store, report: ProvisionReport, check: bool,
                    force: bool) -> None:
    def item(kind: str, name: str, status: str, diff: str = "", message: str = "") -> None:
        report.items.append(Item(w.name, kind, name, status, diff, message))

    def attempt(kind: str, name: str, status: str, diff: str, write: Callable[[], Any]) -> Any:
        if check:
            item(kind, name, status, diff)
            return None
        try:
            result = write()
        except TerminalError:
            raise
        except TargetError as exc:
            item(kind, name, FAILED, diff, exc.message)
            return None
        item(kind, name, status, diff)
        return result

    for kind in want.mapped:
        item("form", kind, MAPPED, message=Text("{wiki} keeps its own form of {kind} (mapped in the config)",
                                                wiki=w.name, kind=Term.kind(kind)))
    for kind, (form_id, label, template) in want.forms.items():
        name = Text("{kind} (form {form})", kind=Term(kind, "kind_one"), form=form_id)
        current = admin.get_form(form_id)
        if current is None:
            attempt("form", name, CREATE, _diff(name, "", template),
                    lambda: admin.create_form(form_id, label, template))
            continue
        if str(current.get("bn_label_nature", "")) != label:
            item("form", name, FOREIGN, message=Text(
                "form {form} is '{label}', not ours: set [wiki.forms] {kind} = <a free id>, or map that form in the "
                "config", form=form_id, label=current.get("bn_label_nature"), kind=kind))
            continue
        now = str(current.get("bn_template", ""))
        if _same_text(now, template):
            item("form", name, OK)
        else:
            attempt("form", name, UPDATE, _diff(name, now, template),
                    lambda: admin.update_form(form_id, label, template))
    for list_id, (title, labels) in want.lists.items():
        current = admin.get_list(list_id)
        if current is None:
            attempt("list", list_id, CREATE, _diff(list_id, "", _list_text(title, labels)),
                    lambda: admin.create_list(title, labels))
            continue
        # HTMLPurifier stores "&" as "&amp;": compare what a reader sees
        now = {str(k): html.unescape(str(v)) for k, v in (current.get("label") or {}).items()}
        if current.get("titre_liste") == title and now == labels and list(now) == list(labels):
            item("list", list_id, OK)
        else:
            attempt("list", list_id, UPDATE,
                    _diff(list_id, _list_text(str(current.get("titre_liste", "")), now), _list_text(title, labels)),
                    lambda: admin.update_list(list_id, title, labels))
    for tag, body in want.pages.items():
        _provision_page(w, admin, tag, body, store, item, attempt, force)
    if want.fresh:
        _provision_fresh(w, admin, want.fresh, store, item, attempt)


def _provision_fresh(w: WikiConfig, admin, fresh: dict[str, str], store, item, attempt) -> None:
    """The home page, banner and menu: replaced only while none of them is the wiki's own (fresh_wiki.py)."""
    stock = stock_bodies()
    current = {tag: admin.get_page(tag) for tag in fresh}

    def ours(tag: str) -> bool:
        state = store.get_state(f"provision/{w.name}/page/{tag}") if store is not None else None
        return bool(state) and state.get("revision") == current[tag].revision

    own = [tag for tag, page in current.items()
           if page is not None and not _same_text(page.body, fresh[tag]) and not ours(tag)
           and not _same_text(page.body, stock.get(tag, ""))]
    if own:
        for tag in fresh:
            item("page", tag, OWN, message=Text("the wiki has its own home page, banner or menu ({pages} "
                                                "edited): none of the three is replaced", pages=", ".join(own)))
        return
    for tag, body in fresh.items():
        page = current[tag]
        if page is not None and _same_text(page.body, body):
            _provision_page(w, admin, tag, body, store, item, attempt, False, page)
            continue
        status = CREATE if page is None else UPDATE
        attempt("page", tag, status, _diff(tag, page.body if page else "", body),
                lambda tag=tag, body=body, page=page: _save_page(w, admin, tag, body, store, page))

def _save_page(w: WikiConfig, admin, tag: str, body: str, store, current) -> None:
    page = admin.save_page(tag, body, previous=current.revision if current is not None else None)
    if store is not None:
        store.set_state(f"provision/{w.name}/page/{tag}", {"revision": page.revision, "hash": content_hash(body)})


def _provision_page(w: WikiConfig, admin, tag: str, body: str, store, item, attempt, force: bool,
                    known=None) -> None:
    key = f"provision/{w.name}/page/{tag}"
    current = known or admin.get_page(tag)
    ours = store.get_state(key) if store is not None else None

    def save(previous: str | None) -> None:
        _save_page(w, admin, tag, body, store, current if previous is not None else None)

    if current is None:
        attempt("page", tag, CREATE, _diff(tag, "", body), lambda: save(None))
        return
    if _same_text(current.body, body):
        item("page", tag, OK)
        if store is not None and not (ours and ours.get("revision") == current.revision):
            store.set_state(key, {"revision": current.revision, "hash": content_hash(body)})
        return
    diff = _diff(tag, current.body, body)
    written_by_us = bool(ours) and ours.get("revision") == current.revision
    if written_by_us or force:
        attempt("page", tag, UPDATE, diff, lambda: save(current.revision))
    else:
        item("page", tag, HAND_EDITED, diff, Text("edited in the wiki since the service wrote it (or written by "
                                                  "someone else first): not overwritten; `oscartes-sync provision "
                                                  "--force` replaces it (the wiki keeps the old revision)"))


def _same_text(a: str, b: str) -> bool:
    # the wiki stores bodies right-trimmed and may change line endings
    return a.replace("\r\n", "\n").rstrip() == b.replace("\r\n", "\n").rstrip()


def render_report(report: ProvisionReport, show_diff: bool = True) -> str:
    """The report in the reader's language (the diffs are the templates' own text)."""
    lines: list[str] = []
    verb = {CREATE: Text("to create") if report.check else Text("created"),
            UPDATE: Text("to update") if report.check else Text("updated"),
            OK: Text("up to date"), HAND_EDITED: Text("edited by hand: left alone"),
            FOREIGN: Text("not ours: left alone"), MAPPED: Text("mapped (the wiki's own form)"),
            FAILED: Text("FAILED"), OWN: Text("the wiki's own: left alone")}
    what = {"form": Text("form"), "list": Text("list"), "page": Text("page")}
    for wiki in sorted({i.wiki for i in report.items} | set(report.errors)):
        lines.append(f"== {wiki}")
        if wiki in report.errors:
            lines.append(translate(Text("  ERROR: {reason}", reason=report.errors[wiki])))
        items = [i for i in report.items if i.wiki == wiki]
        quiet = [i for i in items if i.status == OK]
        for i in items:
            if i.status == OK:
                continue
            line = Text("  {what} {name}: {status}", what=what.get(i.kind, i.kind), name=i.name,
                        status=verb[i.status])
            if i.message:
                line = Text("{line} ({message})", line=line, message=i.message)
            lines.append(translate(line))
            if show_diff and i.diff and i.status in (UPDATE, HAND_EDITED) or (report.check and i.diff):
                lines.extend("    " + d for d in i.diff.splitlines())
        if quiet:
            lines.append(translate(Plural("  {n} object up to date", "  {n} objects up to date", len(quiet),
                                          n=len(quiet))))
    drift = len(report.drift)
    failed = sorted(report.errors)
    if report.check:
        if drift:
            lines.append(translate(Plural("{n} object differs from the templates.",
                                          "{n} objects differ from the templates.", drift, n=drift)))
        elif not failed:
            lines.append(translate(Text("No drift: every wiki matches the templates.")))
        if failed:
            lines.append(translate(Text("Not checked: {wikis} (see above); the drift there is unknown.",
                                        wikis=", ".join(failed))))
    elif failed:
        lines.append(translate(Text("Not provisioned: {wikis} (see above).", wikis=", ".join(failed))))
    return "\n".join(lines)
