"""The documentation of the set-up, in French, generated from the real set-up so that it never drifts (issue 17).

One source, three places: the Markdown of `wiki_templates/docs/*.md.j2`, filled with what the service really
installs (the rendered form templates, the lists, the pages, the territory's parameters, the sync settings, the
deploy files), is written as Markdown to the repository's `docs/` and to the replication kit, and converted to
YesWiki markup (publish/markdown.py) for the "Documentation" section of each wiki. Every page ends with the
licence line. The same set-up gives the same bytes: no date anywhere.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from .. import templates
from .. import territory as territories
from ..config import DEFAULT_FORM_IDS, Config, IdentityConfig, SyncConfig
from ..records import KINDS
from ..text import Text
from .markdown import markdown_to_yeswiki
from .pages import (TAG_DASHBOARD, TAG_EVENTS, TAG_GLOSSARY, TAG_HELP_SYNC, TAG_HELP_VISIBILITY, TAG_HOME,
                    TAG_KB_INDEX, TAG_MAP_ACTORS, PageSpec, static_pages)

LICENCE = "CC BY-SA 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by-sa/4.0/deed.fr"
ATTRIBUTION = "PôleS NOE, Territoires en Liens et les contributeurs"
LICENCE_LINE = (f"Documentation d'OSCARTES, publiée sous licence {LICENCE} ({LICENCE_URL}) : {ATTRIBUTION}. "
                "Vous pouvez la reprendre et l'adapter en citant ses auteurs, sous la même licence.")
DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy"
DEPLOY_FILES = ("oscartes.toml.example", "secrets.env.example", "oscartes-sync.sysusers.conf", "oscartes-sync.service",
                "oscartes-sync.timer", "oscartes-sync-serve.service", "nginx-oscartes-hooks.conf")


@dataclass(frozen=True)
class DocPage:
    slug: str  # template name (`<slug>.md.j2`)
    tag: str  # page of the wiki
    title: str

    @property
    def file(self) -> str:
        """Its file in docs/: the index is the folder's README, which code forges show first."""
        return "README.md" if self.slug == "index" else f"{self.slug}.md"


DOC_PAGES = (
    DocPage("index", "DocumentationOscartes", "Documentation d'OSCARTES"),
    DocPage("formulaires", "DocumentationFormulaires", "Les formulaires Bazar"),
    DocPage("listes", "DocumentationListes", "Les listes Bazar"),
    DocPage("communes", "DocumentationCommunes", "Les communes du territoire"),
    DocPage("pages", "DocumentationPages", "Les pages du wiki"),
    DocPage("synchronisation", "DocumentationSynchronisation", "Comment fonctionne la synchronisation"),
    DocPage("installation", "DocumentationInstallation", "Installer, configurer et planifier le service"),
    DocPage("nouveau-territoire", "DocumentationNouveauTerritoire", "Adapter le kit à un nouveau territoire"),
    DocPage("import-manuel", "DocumentationImportManuel", "Importer les formulaires à la main dans un YesWiki"),
)
TAG_DOCS = DOC_PAGES[0].tag

# What each page `provision` writes shows, by family of tags (the first pattern that matches). A page without a
# description stops the generation: a new page cannot go undocumented.
STATIC_PAGE_WHAT = (
    (rf"^{TAG_MAP_ACTORS}$", "la carte de tous les acteurs, avec des filtres par thème, service, type de structure "
                             "et commune"),
    (r"^CarteTheme", "la carte des acteurs d'un thème (une page par thème de la liste des thèmes)"),
    (r"^CarteService", "la carte des structures qui proposent un service (une page par service)"),
    (rf"^{TAG_EVENTS}$", "l'agenda des événements (calendrier) et leur carte"),
    (rf"^{TAG_GLOSSARY}$", "le glossaire de la transition"),
    (rf"^{TAG_HELP_SYNC}$", "l'aide aux membres : comment leur fiche passe d'un wiki à l'autre"),
    (rf"^{TAG_HELP_VISIBILITY}$", "l'aide aux membres : qui voit leur courriel et leur téléphone, les données "
                                  "ouvertes"),
    (rf"^{TAG_HOME}$", "l'accueil : le territoire, les cartes par thème et par service, l'agenda, les tableaux de "
                       "bord, la base de connaissances, l'aide"),
)
DERIVED_PAGE_WHAT = (
    (TAG_DASHBOARD, "le tableau de bord du territoire : nombre d'acteurs par thème, par service, par type de "
                    "structure et par commune, projets par état d'avancement"),
    ("TableauDeBordTheme…", "le tableau de bord d'un thème : ses acteurs par commune, par service, par type, et les "
                            "projets qu'ils portent (une page par thème)"),
    ("TableauDeBordCommune…", "le tableau de bord d'une commune (code INSEE) : intercommunalité, population, ses "
                              "acteurs et ses projets (une page par commune qui en a)"),
    ("CarteCommune…", "la carte des acteurs d'une commune, centrée sur elle (une page par commune qui a des "
                      "acteurs)"),
    (TAG_KB_INDEX, "la base de connaissances : les articles classés par thème"),
    ("BaseDeConnaissancesTheme…", "les articles d'un thème"),
    ("Article…", "un article de la base de connaissances, écrit en Markdown par les membres (dossier Nextcloud ou "
                 "dossier local), avec son auteur et sa licence"),
)
STOCK_PAGE_WHAT = (
    ("PagePrincipale", f"l'accueil du wiki, qui reprend la page {TAG_HOME}"),
    ("PageHeader", "le bandeau : le titre du territoire"),
    ("PageMenuHaut", "le menu du haut : cartes, agenda, tableau de bord, glossaire, aide, documentation"),
)
# The commands a coordinator runs (installation page).
COMMANDS = (
    ("oscartes-sync demo", "bac à sable local, données d'exemple, quatre synchronisations commentées"),
    ("oscartes-sync doctor", "vérifie chaque wiki et chaque Nextcloud, sans rien écrire"),
    ("oscartes-sync provision [--check] [--force]", "installe ou met à jour formulaires, listes et pages ; --check "
                                                    "montre les écarts sans rien écrire"),
    ("oscartes-sync sync [--dry-run] [--allow-deletes N]", "un passage complet ; --dry-run montre le plan"),
    ("oscartes-sync status [--json]", "dernier passage, conflits et doublons en attente (supervision)"),
    ("oscartes-sync conflicts", "les conflits ; conflicts show, conflicts resolve"),
    ("oscartes-sync match", "les doublons possibles ; match link, distinct, merge, split"),
    ("oscartes-sync records [TEXTE]", "retrouver une fiche source"),
    ("oscartes-sync history FICHE", "l'historique d'une fiche source"),
    ("oscartes-sync restore FICHE [VERSION]", "rétablit une version d'une fiche source, ou une fiche supprimée"),
    ("oscartes-sync suggestions", "modifications faites dans le carnet d'adresses Nextcloud, à accepter ou refuser"),
    ("oscartes-sync serve", "le déclencheur par webhooks : une fiche enregistrée dans un wiki est synchronisée "
                            "dans les secondes qui suivent"),
    ("oscartes-sync forget REQUÊTE [--text TEXTE] [--yes]", "efface les données d'une personne de la base et de "
                                                           "tout son historique ; sans --yes, montre seulement où "
                                                           "elles sont"),
    ("oscartes-sync backup CHEMIN", "sauvegarde la base dans un fichier neuf"),
    ("oscartes-sync restore-backup CHEMIN", "remplace la base par une sauvegarde vérifiée, en gardant l'ancienne"),
    ("oscartes-sync kit export DOSSIER", "le kit de réplication (dossier et archive .zip)"),
    ("oscartes-sync kit apply KIT --wiki NOM --department CODE", "installe le kit dans un wiki, pour un territoire"),
    ("oscartes-sync kit docs DOSSIER", "écrit cette documentation en Markdown"),
)
TYPE_LABELS = {
    "texte": "Texte court", "textelong": "Texte long", "liste": "Liste déroulante", "checkbox": "Cases à cocher",
    "radio": "Boutons radio", "map": "Position sur la carte", "champs_mail": "Courriel",
    "lien_internet": "Adresse web", "jour": "Date", "listedatedeb": "Date de début", "listedatefin": "Date de fin",
    "checkboxfiche": "Fiches liées (cases à cocher)", "listefiche": "Fiche liée (liste)", "image": "Image",
    "fichier": "Fichier", "titre": "Titre calculé", "labelhtml": "Texte affiché", "tags": "Mots-clés",
    "champs_cache": "Champ caché",
}
_LIST_TYPES = {"checkbox", "liste", "radio"}
_ENTRY_TYPES = {"checkboxfiche", "listefiche"}


class DocsError(Exception):
    """The documentation cannot be generated from this set-up (names what is missing)."""


# ---------------------------------------------------------------------------------------------- the set-up

@dataclass(frozen=True)
class FieldDoc:
    keys: tuple[str, ...]
    label: str
    type: str
    type_label: str
    required: bool
    help: str
    list_id: str
    list_title: str
    read: str
    canonical: tuple[str, ...]


@dataclass(frozen=True)
class FormDoc:
    kind: str
    form_id: str
    label: str
    bn_template: str
    fields: tuple[FieldDoc, ...]

    @property
    def count(self) -> int:
        return len(self.fields)


@dataclass(frozen=True)
class ListDoc:
    id: str
    title: str
    values: dict[str, str]


@dataclass
class Setup:
    """The real set-up the documentation describes."""

    territory: territories.Territory
    forms: list[FormDoc]
    lists: list[ListDoc]
    static: list[PageSpec]
    sync: SyncConfig
    identity: IdentityConfig
    version: str
    root: Path | None = None
    deploy: dict[str, str] = field(default_factory=dict)


def package_version() -> str:
    try:
        return importlib.metadata.version("oscartes-sync")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _read_acl(acl: str) -> str:
    acl = (acl or "").strip()
    if not acl or acl == "*":
        return "tout le monde"
    if acl == "+":
        return "membres connectés"
    if acl == "%":
        return "propriétaire de la fiche"
    return acl


def _canonical(kind: str, forms: Mapping[str, str]) -> dict[str, str]:
    """Entry key -> canonical field name, as the sync maps them."""
    out: dict[str, str] = {}
    for f in KINDS[kind].fields:
        out[f.wiki_key.replace("{form:actor}", str(forms["actor"]))] = f.name
    return out


def form_doc(kind: str, forms: Mapping[str, str], lists: Mapping[str, Mapping], root: Path | None = None) -> FormDoc:
    bn_template = templates.check_form_template(kind, dict(forms), root)
    canonical = _canonical(kind, forms)
    labels = {str(v): k for k, v in forms.items()}
    fields = []
    for cols in templates.parse_template(bn_template):
        cols = cols + [""] * (13 - len(cols))
        ftype = cols[0]
        keys = tuple(templates.field_keys(cols))
        if ftype == "map":
            label = "Position sur la carte (latitude, longitude)"
        else:
            label = cols[2].strip()
        list_id = list_title = ""
        if ftype in _LIST_TYPES:
            list_id = cols[1]
            if list_id not in lists:
                raise DocsError(Text("form {kind}: field '{label}' uses the list '{list_id}', which is not set up",
                                     kind=kind, label=label, list_id=list_id))
            list_title = str(lists[list_id]["titre"])
        elif ftype in _ENTRY_TYPES:
            other = labels.get(cols[1], "")
            list_title = (f"fiches « {KINDS[other].label} » (formulaire {cols[1]})" if other
                          else f"fiches du formulaire {cols[1]}")
        fields.append(FieldDoc(keys, label, ftype, TYPE_LABELS.get(ftype, ftype), cols[8].strip() == "1",
                               cols[10].strip(), list_id, list_title, _read_acl(cols[11]),
                               tuple(canonical[k] for k in keys if k in canonical)))
    return FormDoc(kind, str(forms[kind]), KINDS[kind].label, bn_template, tuple(fields))


def build_setup(territory: territories.Territory | None = None, *, root: Path | None = None,
                forms: Mapping[str, str] | None = None, cfg: Config | None = None) -> Setup:
    """The set-up of a wiki with these parameters, templates (`root`: a kit's), form ids and settings (`cfg`:
    the sync's and the duplicate check's; the defaults without it). Raises
    templates.TemplateError for a template that cannot be used and DocsError for what the docs cannot say."""
    territory = territory or territories.origin()
    forms = dict(forms or DEFAULT_FORM_IDS)
    lists = templates.all_lists(territory, root)
    form_docs = [form_doc(kind, forms, lists, root) for kind in templates.FORM_KINDS]
    list_docs = [ListDoc(k, str(v["titre"]), dict(v["values"])) for k, v in lists.items()]
    cfg = cfg or Config()
    static = static_pages(forms, lists, dashboards=cfg.publish.dashboards, knowledge_base=cfg.has_knowledge_base(),
                          territory=territory, root=root)
    deploy = {name: (DEPLOY_DIR / name).read_text(encoding="utf-8").rstrip("\n") for name in DEPLOY_FILES}
    return Setup(territory, form_docs, list_docs, static, cfg.sync, cfg.identity, package_version(), root, deploy)


# ---------------------------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def md(value: Any) -> str:
    """Literal text in Markdown: nothing in it starts emphasis, a link, code or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def cell(value: Any) -> str:
    """A table cell: literal text on one line, no `|` that would split it."""
    return md(value).replace("|", "¦") or " "


def code(value: Any) -> str:
    text = str(value)
    return f"`{text}`" if "`" not in text else md(text)


@lru_cache(maxsize=8)
def _env(docs_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(docs_dir)), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(md=md, cell=cell, code=code)
    return env


def _what(tag: str) -> str:
    for pattern, what in STATIC_PAGE_WHAT:
        if re.search(pattern, tag):
            return what
    raise DocsError(Text("page {tag} has no description in publish/docs.py STATIC_PAGE_WHAT: say what it shows",
                         tag=tag))


def markdown_pages(setup: Setup, *, wiki: bool) -> dict[str, str]:
    """slug -> Markdown of each documentation page (DOC_PAGES order). `wiki`: links point to wiki pages (WikiNames), else to the
    Markdown files next to each other (docs/)."""
    docs_dir = (templates.TEMPLATES_DIR if setup.root is None else Path(setup.root)) / "docs"
    by_slug = {p.slug: p for p in DOC_PAGES}

    def link(slug: str, label: str) -> str:
        target = by_slug[slug].tag if wiki else by_slug[slug].file
        return f"[{md(label)}]({target})"

    def page(tag: str) -> str:
        doc = next((p for p in DOC_PAGES if p.tag == tag), None)
        if doc is not None:
            return link(doc.slug, tag)
        return f"[{tag}]({tag})" if wiki else f"`{tag}`"

    t = setup.territory
    scope = ", ".join(f"département {v}" if k == "department" else f"intercommunalité {v}" if k == "epci"
                      else f"{k} {v}" for k, v in sorted(t.scope.items()))
    context = {
        "territory": t, "scope": scope, "version": setup.version, "doc_pages": DOC_PAGES, "link": link,
        "page": page, "forms": setup.forms, "lists": setup.lists, "synced": setup.sync.kinds,
        "networks_list_id": territories.NETWORKS_LIST_ID,
        "networks": ", ".join(n.label + (f" ({n.area})" if n.area else "") for n in t.networks),
        "communes": sorted(t.communes, key=lambda c: c.insee), "no_point": t.without_point(),
        "no_point_text": ", ".join(f"{md(c.name)} (`{c.insee}`)" for c in t.without_point()),
        "static": [{"tag": p.tag, "title": p.title, "what": _what(p.tag)} for p in setup.static],
        "derived": DERIVED_PAGE_WHAT, "stock": STOCK_PAGE_WHAT,
        "kinds": [f"{KINDS[k].label.lower()} (`{k}`)" for k in setup.sync.kinds],
        "newest_wins": setup.sync.newest_wins, "ratio": f"{setup.sync.max_delete_ratio * 100:g}",
        "min_count": setup.sync.min_delete_count, "deploy": setup.deploy, "commands": COMMANDS,
        "source": t.source, "same_place_m": f"{setup.identity.same_place_m:g}",
        "auto_link": f"{setup.identity.auto_link:g}", "review": f"{setup.identity.review:g}",
    }
    out: dict[str, str] = {}
    for p in DOC_PAGES:
        try:
            body = _env(docs_dir).get_template(f"{p.slug}.md.j2").render(**context)
        except jinja2.TemplateNotFound:
            raise templates.TemplateError(docs_dir / f"{p.slug}.md.j2", None, Text("missing documentation template")) \
                from None
        except jinja2.TemplateError as exc:
            raise templates.TemplateError(docs_dir / f"{p.slug}.md.j2", getattr(exc, "lineno", None),
                                          Text("template error: {reason}", reason=str(exc))) from None
        body = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in body.split("\n"))).strip("\n")
        footer = "" if p.slug == "index" else f"{link('index', 'Sommaire de la documentation')}\n\n"
        out[p.slug] = f"{body}\n\n---\n\n{footer}*{md(LICENCE_LINE)}*\n"
    return out


def write_markdown(folder: Path, setup: Setup) -> list[Path]:
    """The documentation as Markdown files in `folder` (created); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    texts = markdown_pages(setup, wiki=False)
    for p in DOC_PAGES:
        path, text = folder / p.file, texts[p.slug]
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_docs(folder: Path, territory: territories.Territory | None = None) -> list[Path]:
    """`kit docs`: the documentation of the package's set-up for `territory` (Essonne by default), as the
    repository's docs/ holds it."""
    return write_markdown(folder, build_setup(territory))


def wiki_pages(setup: Setup) -> list[PageSpec]:
    """The "Documentation" section of a wiki, in YesWiki markup."""
    pages = markdown_pages(setup, wiki=True)
    return [PageSpec(p.tag, p.title, markdown_to_yeswiki(pages[p.slug], f"docs/{p.slug}.md"), "static")
            for p in DOC_PAGES]


__all__ = ["Setup", "DocPage", "DOC_PAGES", "TAG_DOCS", "LICENCE", "LICENCE_LINE", "ATTRIBUTION", "build_setup",
           "markdown_pages", "write_markdown", "write_docs", "wiki_pages", "DocsError", "package_version"]
