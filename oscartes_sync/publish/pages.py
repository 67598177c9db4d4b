"""Wiki pages of the OSCARTES setup (issue 3, items 4-6): page bodies only, no I/O with any instance.

Static pages (maps, agenda, glossary, home, documentation) are written by `provision`; derived pages
(dashboards, per-commune maps, the knowledge-base index) by `sync`, each only when its body changed
(DECISIONS §13, §16). A body therefore depends on its inputs only: no date, everything sorted, so the same
data in any order gives a byte-identical page and a changed figure a different one.

Escaping: every `{{ value }}` of a page template goes through `markdown.escape_text` (whitespace collapsed)
unless the value is `Raw`, markup this module built itself. Text from records (actor names, communes) can
therefore never start an action, a link, a heading or raw HTML.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

import jinja2

from .. import geo, templates
from .. import territory as territories
from ..records import ACTOR, PROJECT
from ..targets.wikiname import wiki_name_base
from .markdown import escape_text

PAGES_DIR = templates.TEMPLATES_DIR / "pages"
GLOSSARY_FILE = templates.TEMPLATES_DIR / "glossary.json"

STATIC = "static"
DERIVED = "derived"
PAGE_KINDS = (STATIC, DERIVED)

# Parameters of {{bazarliste}} that the contract (§6) lists as read by YesWiki 4.4; nothing else is emitted.
# Facets use `groups`: the contract names `facettes`/`groups`, and BazarListeAction only reads `groups`.
BAZAR_PARAMS = frozenset({
    "id", "template", "dynamic", "provider", "providers", "layers", "width", "height", "lat", "lon", "zoom",
    "cluster", "spider", "fullscreen", "navigation", "zoommolette", "markersize", "smallmarker", "iconfield",
    "icon", "colorfield", "color", "iconprefix", "entrydisplay", "popuptemplate", "popupselectedfields",
    "necessary_fields", "displayfields", "query", "groups", "titles", "groupicons", "champ", "ordre", "nb",
    "random", "user", "correspondance", "showmapinlistview", "class", "search", "searchfields",
    "filterposition", "filtercolsize", "groupsexpanded",
})
COMMUNE_ZOOM = "13"
MAP_STYLE = {"height": "600px", "provider": "OpenStreetMap.France", "cluster": "true", "markersize": "small",
             "entrydisplay": "modal", "fullscreen": "true"}

TAG_HOME = "AccueilOscartes"
TAG_MAP_ACTORS = "CarteActeurs"
TAG_EVENTS = "AgendaEvenements"
TAG_GLOSSARY = "GlossaireTransition"
TAG_KB_INDEX = "BaseDeConnaissances"
TAG_DASHBOARD = "TableauDeBordTerritoire"
TAG_HELP_SYNC = "AideSynchronisation"
TAG_HELP_VISIBILITY = "AideVisibiliteContacts"

_TAG_RE = re.compile(r"^[A-Za-z0-9]+$")
_MAX_TAG = 50  # YesWiki's pages.tag column is varchar(50)
_PARAM_FORBIDDEN = re.compile(r'["\n\r{}]')


class Raw(str):
    """Markup built by this module (links, actions, tables): written as it is."""


@dataclass(frozen=True)
class PageSpec:
    tag: str
    title: str
    body: str
    kind: str  # "static" | "derived"

    def __post_init__(self) -> None:
        if self.kind not in PAGE_KINDS:
            raise ValueError(f"page kind must be one of {PAGE_KINDS}: {self.kind!r}")
        if not is_valid_tag(self.tag):
            raise ValueError(f"not a valid YesWiki page tag: {self.tag!r}")


def is_valid_tag(tag: str) -> bool:
    """A WikiName YesWiki accepts and links: ASCII letters and digits, an uppercase first letter, at least
    two uppercase letters (genere_nom_wiki's rule), at most 50 characters."""
    return (bool(tag) and len(tag) <= _MAX_TAG and bool(_TAG_RE.match(tag)) and tag[0].isupper()
            and sum(1 for c in tag if "A" <= c <= "Z") >= 2)


def wiki_tag(*words: str) -> str:
    """The WikiName of a page made of `words` (keys like "economie-circulaire" become EconomieCirculaire)."""
    tag = wiki_name_base(" ".join(words))
    if not is_valid_tag(tag):
        raise ValueError(f"cannot make a page tag from {words!r}: {tag!r}")
    return tag


# ---------------------------------------------------------------------------------------------- rendering

def _collapse(s: str) -> str:
    return " ".join(s.split())


# YesWiki's WN_WIKI_LINK (`\b[A-Z][a-z]+[A-Z0-9]...`, ASCII word boundaries as PCRE's \b without UCP)
_CAMEL_CASE = re.compile(r"(?<![A-Za-z0-9_])([A-Z][a-z]+)(?=[A-Z0-9])")


def text(value: object) -> str:
    """Literal text on one line. Besides escape_text, a CamelCase word ("BioCoop") gets a zero-width joiner,
    or YesWiki would turn it into a link to a page of that name."""
    return _CAMEL_CASE.sub(lambda m: m.group(1) + "\u200d", escape_text(_collapse(str(value))))


def _finalize(value: object) -> object:
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool) or value is None:
        raise TypeError(f"a page template printed {value!r}")
    return text(value)


def cell(value: object) -> Raw:
    """A table cell: literal text, and no `|` that would split it."""
    s = value if isinstance(value, Raw) else text(value)
    return Raw(s.replace("|", "¦") or " ")


def link(tag: str, label: object) -> Raw:
    """`[[Tag label]]`: a link to a page of the same wiki."""
    if not _TAG_RE.match(tag):
        raise ValueError(f"not a page tag: {tag!r}")
    label_text = text(label).replace("|", "¦").strip()
    return Raw(f"[[{tag} {label_text}]]" if label_text else f"[[{tag}]]")


def count(n: int, singular: str, plural: str) -> Raw:
    """"**1** acteur", "**0** projet", "**3** projets" (French: 0 and 1 take the singular)."""
    return Raw(f"**{int(n)}** {text(singular if abs(int(n)) < 2 else plural)}")


def table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "Aucun pour l'instant.") -> Raw:
    """A YesWiki table (`[| ... |]`, tools/tableau): a bold header row, then one line per row."""
    if not rows:
        return Raw(f"//{text(empty)}//")
    lines = ["[|", "| " + " | ".join(f"**{text(h)}**" for h in header) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return Raw("\n".join(lines + ["|]"]))


def bazar_action(**params: str) -> Raw:
    """`{{bazarliste ...}}` with parameters named in contract §6, values checked so none can end the action."""
    parts = []
    for name, value in params.items():
        if name not in BAZAR_PARAMS:
            raise ValueError(f"bazarliste parameter not in the contract: {name}")
        value = str(value)
        if _PARAM_FORBIDDEN.search(value):
            raise ValueError(f"bazarliste parameter {name} has a character it cannot carry: {value!r}")
        parts.append(f'{name}="{value}"')
    return Raw("{{bazarliste " + " ".join(parts) + "}}")


@dataclass(frozen=True)
class TerritoryText:
    """What the page templates say of the territory (`{{ territory.name }}`...), French phrasing included."""

    name: str
    title: str
    presentation: str
    networks: tuple[str, ...]

    @classmethod
    def of(cls, t: territories.Territory) -> "TerritoryText":
        return cls(t.name, t.title, t.presentation, tuple(n.label for n in t.networks))

    @property
    def networks_text(self) -> str:
        """"PôleS NOE et Territoires en Liens"."""
        return _join_fr(list(self.networks))

    @property
    def of_networks(self) -> str:
        """"des deux réseaux", "du réseau Alpha", "du territoire"."""
        n = len(self.networks)
        if n == 0:
            return "du territoire"
        if n == 1:  # "du réseau Alpha", "du Réseau Alpha" (a name that already says it)
            label = self.networks[0]
            return f"du {label}" if sort_key(label).startswith("reseau ") else f"du réseau {label}"
        return f"des {_NUMBERS.get(n, str(n))} réseaux"

    @property
    def of_each_network(self) -> str:
        """"de PôleS NOE et de Territoires en Liens", "d'Alpha", "du territoire"."""
        if not self.networks:
            return "du territoire"
        return _join_fr([("d'" if sort_key(label[:1]) in "aeiouyh" else "de ") + label for label in self.networks])

    @property
    def all_structures(self) -> str:
        """The first sentence of the map of every actor."""
        if len(self.networks) < 2:
            return f"Toutes les structures {self.of_networks}."
        return f"Toutes les structures {self.of_networks}, {self.networks_text}."


_NUMBERS = {2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six", 7: "sept", 8: "huit", 9: "neuf", 10: "dix"}


def _join_fr(items: list[str]) -> str:
    """"a", "a et b", "a, b et c"."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


@dataclass(frozen=True)
class _PageContext:
    territory: territories.Territory
    root: Path | None  # the wiki_templates/ folder (None: the package's)

    @property
    def pages_dir(self) -> Path:
        return PAGES_DIR if self.root is None else Path(self.root) / "pages"

    @property
    def glossary_file(self) -> Path:
        return GLOSSARY_FILE if self.root is None else Path(self.root) / "glossary.json"


# The territory and the templates the pages of one call are made for: set by static_pages, dashboard_pages and
# kb_index_pages from their arguments, read by render() and the commune look-ups below.
_CONTEXT: ContextVar[_PageContext | None] = ContextVar("oscartes_pages_context", default=None)


def _context() -> _PageContext:
    return _CONTEXT.get() or _PageContext(territories.origin(), None)


@contextmanager
def page_context(territory: territories.Territory | None, root: Path | None) -> Iterator[_PageContext]:
    ctx = _PageContext(territory or territories.origin(), root)
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


@lru_cache(maxsize=8)
def _env(pages_dir: Path = PAGES_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(pages_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # YesWiki markup, not HTML; escaping is done by _finalize
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = cell
    env.globals["link"] = link
    env.globals["table"] = table
    env.globals["count"] = count
    env.globals["tags"] = {"home": TAG_HOME, "help_sync": TAG_HELP_SYNC, "help_visibility": TAG_HELP_VISIBILITY}
    return env


def render(template: str, **context: object) -> str:
    ctx = _context()
    context.setdefault("territory", TerritoryText.of(ctx.territory))
    body = _env(ctx.pages_dir).get_template(template).render(**context)
    lines = [line.rstrip() for line in body.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


# ---------------------------------------------------------------------------------------------- helpers

def sort_key(s: str) -> str:
    """French-friendly order: no case, no accents."""
    s = unicodedata.normalize("NFKD", s or "")
    return "".join(c for c in s if not unicodedata.combining(c)).casefold()


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", sort_key(s)).strip("-")


def _keys(value: object) -> list[str]:
    """List keys / record ids of a field: a list, or YesWiki's comma-separated string."""
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    out: list[str] = []
    for item in items:  # type: ignore[union-attr]
        s = str(item).strip()
        if s and s not in out:
            out.append(s)
    return out


def _list_values(lists: Mapping[str, Mapping], list_id: str | None) -> dict[str, str]:
    if list_id is None or list_id not in lists:
        raise ValueError(f"list {list_id!r} is needed for the pages and is missing")
    return dict(lists[list_id]["values"])


def _form_id(forms: Mapping[str, object], kind: str) -> str:
    value = str(forms.get(kind, "")).strip()
    if not value.isdigit():
        raise ValueError(f"no numeric form id for {kind!r} (got {value!r})")
    return value


def _actor_keys(overrides: Mapping[str, str] | None) -> dict[str, str]:
    keys = {f.name: f.wiki_key for f in ACTOR.fields}
    keys.update(overrides or {})
    return keys


def _facets(keys: Mapping[str, str], skip: str | None = None) -> tuple[str, str]:
    facets = [("themes", "Thèmes"), ("services", "Services"), ("structure_type", "Type de structure"),
              ("commune", "Commune")]
    chosen = [(keys[name], title) for name, title in facets if name != skip and keys.get(name)]
    return ",".join(k for k, _ in chosen), ",".join(t for _, t in chosen)


def _actor_map(form_id: str, keys: Mapping[str, str], *, query: str | None = None, skip: str | None = None,
               view: tuple[str, str, str] | None = None) -> Raw:
    groups, titles = _facets(keys, skip)
    params: dict[str, str] = {"id": form_id, "template": "map", "dynamic": "true"}
    if query:
        params["query"] = query
    lat, lon, zoom = view or _context().territory.map.params()
    params.update(lat=lat, lon=lon, zoom=zoom, **MAP_STYLE, groups=groups, titles=titles, search="true")
    return bazar_action(**params)


def _commune_view(c: geo.Commune) -> tuple[str, str, str]:
    if c.has_point:
        return f"{c.lat:.5f}", f"{c.lon:.5f}", COMMUNE_ZOOM
    return _context().territory.map.params()


def map_tag(kind: str, key: str) -> str:
    return wiki_tag("Carte", kind, key)


def dashboard_tag(kind: str, key: str) -> str:
    return wiki_tag("Tableau de bord", kind, key)


# ---------------------------------------------------------------------------------------------- glossary

@dataclass(frozen=True)
class Term:
    term: str
    definition: str


def load_glossary(path: Path | None = None) -> list[Term]:
    """The glossary terms, sorted; a duplicate or empty term is an error naming the file."""
    path = path or _context().glossary_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    terms: list[Term] = []
    seen: dict[str, str] = {}
    for n, item in enumerate(data.get("terms", []), start=1):
        term = str(item.get("term", "")).strip()
        definition = str(item.get("definition", "")).strip()
        if not term or not definition:
            raise ValueError(f"{path.name}: term #{n} has no term or no definition")
        key = sort_key(term)
        if key in seen:
            raise ValueError(f"{path.name}: term {term!r} appears twice (also {seen[key]!r})")
        seen[key] = term
        terms.append(Term(term, definition))
    if not terms:
        raise ValueError(f"{path.name}: no term")
    return sorted(terms, key=lambda t: (sort_key(t.term), t.term))


# ---------------------------------------------------------------------------------------------- static pages

def static_pages(forms: Mapping[str, object], lists: Mapping[str, Mapping], *,
                 actor_keys: Mapping[str, str] | None = None, dashboards: bool = True,
                 knowledge_base: bool = True, territory: territories.Territory | None = None,
                 root: Path | None = None) -> list[PageSpec]:
    """Pages `provision` writes once: maps, agenda, glossary, home and documentation.

    `forms` maps kinds to this wiki's form ids; `lists` is templates.all_lists() (themes, services...);
    `actor_keys` overrides the actor form's field names for a wiki with its own form. `dashboards` and
    `knowledge_base`: whether `sync` publishes those pages under this config; a page links to them only
    then, so that every generated link leads to a page that exists. `territory` (Essonne by default) centres
    the maps and names the place; `root` is the wiki_templates/ folder (a kit's).
    """
    with page_context(territory, root):
        return _static_pages(forms, lists, actor_keys, dashboards, knowledge_base)


def _static_pages(forms: Mapping[str, object], lists: Mapping[str, Mapping], actor_keys: Mapping[str, str] | None,
                  dashboards: bool, knowledge_base: bool) -> list[PageSpec]:
    actor_form = _form_id(forms, "actor")
    event_form = _form_id(forms, "event")
    keys = _actor_keys(actor_keys)
    themes = _list_values(lists, ACTOR.field("themes").list_id)
    services = _list_values(lists, ACTOR.field("services").list_id)

    theme_links = [link(map_tag("theme", k), label) for k, label in themes.items()]
    service_links = [link(map_tag("service", k), label) for k, label in services.items()]
    pages: list[PageSpec] = []

    def add(tag: str, title: str, body: str) -> None:
        pages.append(PageSpec(tag, title, body, STATIC))

    add(TAG_MAP_ACTORS, "Carte des acteurs de la transition",
        render("map.txt.j2", heading="Carte des acteurs de la transition",
               intro=f"{TerritoryText.of(_context().territory).all_structures} Filtrez par thème, service, type "
                     "de structure ou commune dans la colonne de droite.",
               action=_actor_map(actor_form, keys), see_also=[link(TAG_HOME, "Accueil OSCARTES")]))
    for key, label in themes.items():
        if not keys.get("themes"):
            break
        add(map_tag("theme", key), f"Carte : {label}",
            render("map.txt.j2", heading=f"Carte des acteurs : {label}",
                   intro=f"Les structures qui agissent pour le thème « {label} ».",
                   action=_actor_map(actor_form, keys, query=f"{keys['themes']}={key}", skip="themes"),
                   see_also=[link(TAG_MAP_ACTORS, "Tous les acteurs")]
                   + ([link(dashboard_tag("theme", key), f"Tableau de bord : {label}")] if dashboards else [])))
    for key, label in services.items():
        if not keys.get("services"):
            break
        add(map_tag("service", key), f"Carte : {label}",
            render("map.txt.j2", heading=f"Où trouver : {label}",
                   intro=f"Les structures qui proposent « {label} ».",
                   action=_actor_map(actor_form, keys, query=f"{keys['services']}={key}", skip="services"),
                   see_also=[link(TAG_MAP_ACTORS, "Tous les acteurs")]))

    lat, lon, zoom = _context().territory.map.params()
    add(TAG_EVENTS, "Agenda des événements",
        render("events.txt.j2",
               calendar=bazar_action(id=event_form, template="calendar", dynamic="true"),
               map=bazar_action(id=event_form, template="map", dynamic="true", lat=lat, lon=lon, zoom=zoom,
                                **MAP_STYLE, groups="checkboxListeThemes,bf_ville", titles="Thèmes,Commune")))
    add(TAG_GLOSSARY, "Glossaire de la transition", render("glossary.txt.j2", terms=load_glossary()))
    add(TAG_HELP_SYNC, "Comment fonctionne la synchronisation", render("help_sync.txt.j2"))
    add(TAG_HELP_VISIBILITY, "Visibilité de vos coordonnées", render("help_visibility.txt.j2"))
    made = {p.tag for p in pages}  # the maps of the themes and services that were made above
    add(TAG_HOME, "OSCARTES",
        render("home.txt.j2", map_all=link(TAG_MAP_ACTORS, "la carte de tous les acteurs"),
               theme_links=[l for l, k in zip(theme_links, themes) if map_tag("theme", k) in made],
               service_links=[l for l, k in zip(service_links, services) if map_tag("service", k) in made],
               events=link(TAG_EVENTS, "Agenda des événements"),
               dashboard=link(TAG_DASHBOARD, "Tableau de bord du territoire") if dashboards else None,
               kb=link(TAG_KB_INDEX, "Base de connaissances") if knowledge_base else None,
               glossary=link(TAG_GLOSSARY, "Glossaire de la transition"),
               help_sync=link(TAG_HELP_SYNC, "Comment fonctionne la synchronisation"),
               help_visibility=link(TAG_HELP_VISIBILITY, "Visibilité de vos coordonnées")))
    _check_unique(pages)
    return pages


def _check_unique(pages: Sequence[PageSpec | PagePlan]) -> None:
    seen: set[str] = set()
    for p in pages:
        if p.tag.lower() in seen:  # YesWiki tags compare without case in MySQL
            raise ValueError(f"two pages share the tag {p.tag!r}")
        seen.add(p.tag.lower())


# ---------------------------------------------------------------------------------------------- dashboards

@dataclass(frozen=True)
class _Actor:
    id: str
    name: str
    themes: tuple[str, ...]
    services: tuple[str, ...]
    structure_type: str
    commune: geo.Commune | None
    commune_text: str


@dataclass(frozen=True)
class _Project:
    id: str
    name: str
    themes: tuple[str, ...]
    status: str
    commune: geo.Commune | None
    commune_text: str
    carriers: tuple[str, ...]


def _resolve_commune(record: Mapping) -> geo.Commune | None:
    return _context().territory.index.resolve(record.get("insee"), record.get("commune"), record.get("postcode"))


def _actor(record: Mapping) -> _Actor:
    name = _collapse(str(record.get("name") or "")) or "(sans nom)"
    structure = _keys(record.get("structure_type"))
    return _Actor(str(record.get("id") or name), name, tuple(_keys(record.get("themes"))),
                  tuple(_keys(record.get("services"))), structure[0] if structure else "",
                  _resolve_commune(record), _collapse(str(record.get("commune") or "")))


def _project(record: Mapping) -> _Project:
    name = _collapse(str(record.get("name") or "")) or "(sans nom)"
    status = _keys(record.get("status"))
    return _Project(str(record.get("id") or name), name, tuple(_keys(record.get("themes"))),
                    status[0] if status else "", _resolve_commune(record),
                    _collapse(str(record.get("commune") or "")), tuple(_keys(record.get("carriers"))))


def _by_name(items: Iterable, name=lambda x: x.name):
    return sorted(items, key=lambda x: (sort_key(name(x)), name(x), x.id))


def _count_rows(counter: Counter, labels: Mapping[str, str], target=None) -> list[list[Raw]]:
    """Rows (label, count), most frequent first; `target(key)` gives the page a label links to, if any."""
    rows = []
    for key, n in counter.items():
        label = labels.get(key, key)
        tag = target(key) if target else None
        rows.append((-n, sort_key(label), key, link(tag, label) if tag else label, n))
    return [[cell(lbl), cell(n)] for _, _, _, lbl, n in sorted(rows)]


def _commune_label(c: geo.Commune | None, fallback: str) -> str:
    return c.name if c else (fallback or "non renseignée")


class _Data:
    def __init__(self, actors: Iterable[Mapping], projects: Iterable[Mapping], lists: Mapping[str, Mapping],
                 entry_ids: Mapping[str, str] | None = None):
        self.entry_ids = entry_ids or {}
        self.actors = _by_name(_actor(a) for a in actors)
        self.projects = _by_name(_project(p) for p in projects)
        self.by_id = {a.id: a for a in self.actors}
        self.themes = _list_values(lists, ACTOR.field("themes").list_id)
        self.services = _list_values(lists, ACTOR.field("services").list_id)
        self.structures = _list_values(lists, ACTOR.field("structure_type").list_id)
        self.statuses = _list_values(lists, PROJECT.field("status").list_id)
        self.carried: dict[str, int] = Counter(c for p in self.projects for c in set(p.carriers))
        self.communes = {a.commune.insee: a.commune for a in self.actors if a.commune}
        self.project_communes = {p.commune.insee: p.commune for p in self.projects if p.commune}

    def actor_link(self, a: _Actor) -> Raw | str:
        """The actor's name, linked to its Bazar entry in this wiki (a page named by the entry id) when it has
        one there; plain text otherwise, so that no link leads to nothing."""
        entry = self.entry_ids.get(a.id)
        return link(entry, a.name) if entry and _TAG_RE.match(entry) else a.name

    def commune_link(self, c: geo.Commune | None, fallback: str) -> Raw | str:
        if c and (c.insee in self.communes or c.insee in self.project_communes):  # it has a dashboard
            return link(dashboard_tag("commune", c.insee), c.name)
        return _commune_label(c, fallback)

    def theme_rows(self, actors: Sequence[_Actor]) -> list[list[Raw]]:
        return _count_rows(Counter(t for a in actors for t in a.themes), self.themes,
                           lambda k: dashboard_tag("theme", k) if k in self.themes else None)

    def service_rows(self, actors: Sequence[_Actor]) -> list[list[Raw]]:
        return _count_rows(Counter(s for a in actors for s in a.services), self.services,
                           lambda k: map_tag("service", k) if k in self.services else None)

    def structure_rows(self, actors: Sequence[_Actor]) -> list[list[Raw]]:
        return _count_rows(Counter(a.structure_type or "non renseigné" for a in actors), self.structures)

    def commune_rows(self, actors: Sequence[_Actor], projects: Sequence[_Project]) -> list[list[Raw]]:
        """Commune, INSEE code, intercommunality, actors, projects; communes not recognised on one line."""
        n_actors = Counter(a.commune.insee for a in actors if a.commune)
        n_projects = Counter(p.commune.insee for p in projects if p.commune)
        known = {**{p.commune.insee: p.commune for p in projects if p.commune},
                 **{a.commune.insee: a.commune for a in actors if a.commune}}
        order = sorted(known.values(), key=lambda c: (-n_actors[c.insee], sort_key(c.name), c.insee))
        rows = [[cell(self.commune_link(c, "")), cell(c.insee), cell(c.epci_name or "—"),
                 cell(n_actors[c.insee]), cell(n_projects[c.insee])] for c in order]
        unknown_a = sum(1 for a in actors if not a.commune)
        unknown_p = sum(1 for p in projects if not p.commune)
        if unknown_a or unknown_p:
            rows.append([cell("Commune non reconnue ou absente"), cell("—"), cell("—"), cell(unknown_a),
                         cell(unknown_p)])
        return rows

    def actor_rows(self, actors: Sequence[_Actor]) -> list[list[Raw]]:
        return [[cell(self.actor_link(a)), cell(self.commune_link(a.commune, a.commune_text)),
                 cell(self.structures.get(a.structure_type, a.structure_type) or "—"),
                 cell(self.carried.get(a.id, 0))] for a in actors]

    def project_rows(self, projects: Sequence[_Project]) -> list[list[Raw]]:
        rows = []
        for p in projects:
            carriers = _by_name(self.by_id[c] for c in set(p.carriers) if c in self.by_id)
            names = [self.actor_link(a) for a in carriers]
            rows.append([cell(p.name), cell(self.statuses.get(p.status, p.status) or "—"),
                         cell(Raw(", ".join(n if isinstance(n, Raw) else text(n) for n in names)) if names else "—"),
                         cell(self.commune_link(p.commune, p.commune_text))])
        return rows

    def actor_key(self, a: _Actor) -> tuple:
        """What an actor's rows and counts are made from on any page (the commune as its code: the reference
        data comes with the package)."""
        return (a.id, a.name, a.themes, a.services, a.structure_type, a.commune.insee if a.commune else None,
                a.commune_text, self.entry_ids.get(a.id), self.carried.get(a.id, 0))

    def project_key(self, p: _Project) -> tuple:
        carriers = [(self.by_id[c].name, self.entry_ids.get(c)) for c in sorted(set(p.carriers)) if c in self.by_id]
        return (p.id, p.name, p.themes, p.status, p.commune.insee if p.commune else None, p.commune_text, carriers)

    def scope_projects(self, actors: Sequence[_Actor], also) -> list[_Project]:
        ids = {a.id for a in actors}
        return [p for p in self.projects if also(p) or ids.intersection(p.carriers)]


@dataclass(frozen=True)
class PagePlan:
    """A derived page before its body is rendered: `inputs` is a hash of everything its body is made from, so
    that a page whose inputs did not move since it was published is not rendered again (DECISIONS §13)."""

    tag: str
    title: str
    inputs: str
    render: Callable[[], str]

    def spec(self) -> PageSpec:
        return PageSpec(self.tag, self.title, self.render(), DERIVED)


def _inputs(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def dashboard_pages(actors: Iterable[Mapping], projects: Iterable[Mapping], forms: Mapping[str, object], *,
                    lists: Mapping[str, Mapping] | None = None,
                    actor_keys: Mapping[str, str] | None = None,
                    entry_ids: Mapping[str, str] | None = None, territory: territories.Territory | None = None,
                    root: Path | None = None) -> list[PageSpec]:
    """Pages `sync` rewrites when their content changed: the territory overview, one dashboard per theme
    and per commune of the territory that has an actor or a project, one map per commune that has an actor.

    `actors` and `projects` are record dicts: the canonical fields of records.py plus `id` (the record id,
    which project `carriers` refer to). `entry_ids`: record id -> its entry id in this wiki, so that each
    actor's name links to its entry there.
    """
    return [p.spec() for p in dashboard_plans(actors, projects, forms, lists=lists, actor_keys=actor_keys,
                                              entry_ids=entry_ids, territory=territory, root=root)]


def dashboard_plans(actors: Iterable[Mapping], projects: Iterable[Mapping], forms: Mapping[str, object], *,
                    lists: Mapping[str, Mapping] | None = None,
                    actor_keys: Mapping[str, str] | None = None,
                    entry_ids: Mapping[str, str] | None = None, territory: territories.Territory | None = None,
                    root: Path | None = None) -> list[PagePlan]:
    """The pages of `dashboard_pages`, each with the hash of its inputs and rendered only when asked (in the
    territory and templates they were planned for)."""
    with page_context(territory, root) as ctx:
        plans = _dashboard_plans(actors, projects, forms,
                                 templates.all_lists(ctx.territory, root) if lists is None else lists, actor_keys,
                                 entry_ids, (ctx.territory.name, ctx.territory.map.params(), ctx.territory.source,
                                             str(root)))
    return [replace(p, render=partial(_rendered_in, ctx, p.render)) for p in plans]


def _rendered_in(ctx: _PageContext, render_page: Callable[[], str]) -> str:
    with page_context(ctx.territory, ctx.root):
        return render_page()


def _dashboard_plans(actors: Iterable[Mapping], projects: Iterable[Mapping], forms: Mapping[str, object],
                     lists: Mapping[str, Mapping], actor_keys: Mapping[str, str] | None,
                     entry_ids: Mapping[str, str] | None, place: tuple) -> list[PagePlan]:
    actor_form = _form_id(forms, "actor")
    keys = _actor_keys(actor_keys)
    d = _Data(actors, projects, lists, entry_ids)
    plans: list[PagePlan] = []
    attribution = geo.ATTRIBUTION
    # what every page's rows depend on besides its own actors and projects: the lists' labels, the form, which
    # communes have a dashboard (a commune's name is a link to it only then)
    shared = _inputs(sorted((k, sorted(v.items()) if isinstance(v, Mapping) else v) for k, v in lists.items()),
                     place, actor_form, sorted(keys.items()), sorted(d.communes), sorted(d.project_communes),
                     attribution)
    actor_key = {a.id: d.actor_key(a) for a in d.actors}

    def scope_inputs(kind: str, key: str, scoped: Sequence[_Actor], scoped_projects: Sequence[_Project]) -> str:
        return _inputs(shared, kind, key, [actor_key[a.id] for a in scoped],
                       [d.project_key(p) for p in scoped_projects])

    def overview() -> str:
        return render(
            "dashboard_overview.txt.j2",
            n_actors=len(d.actors), n_projects=len(d.projects), n_communes=len(d.communes),
            theme_rows=d.theme_rows(d.actors), service_rows=d.service_rows(d.actors),
            structure_rows=d.structure_rows(d.actors), commune_rows=d.commune_rows(d.actors, d.projects),
            status_rows=_count_rows(Counter(p.status or "non renseigné" for p in d.projects), d.statuses),
            map=link(TAG_MAP_ACTORS, "Carte de tous les acteurs"), attribution=attribution)

    plans.append(PagePlan(TAG_DASHBOARD, "Tableau de bord du territoire",
                          scope_inputs("overview", "", d.actors, d.projects), overview))

    def theme_page(key: str, label: str, scoped: list[_Actor], scoped_projects: list[_Project]) -> str:
        return render(
            "dashboard_scope.txt.j2", heading=f"Tableau de bord : {label}", scope=f"Thème « {label} »",
            n_actors=len(scoped), n_projects=len(scoped_projects),
            links=[link(map_tag("theme", key), f"Carte : {label}"), link(TAG_DASHBOARD, "Tout le territoire")],
            commune_info=None, sections=[
                ("Acteurs par commune", ["Commune", "Code INSEE", "Intercommunalité", "Acteurs", "Projets"],
                 d.commune_rows(scoped, scoped_projects)),
                ("Acteurs par service", ["Service", "Acteurs"], d.service_rows(scoped)),
                ("Acteurs par type de structure", ["Type", "Acteurs"], d.structure_rows(scoped)),
            ], actor_rows=d.actor_rows(scoped), project_rows=d.project_rows(scoped_projects),
            attribution=attribution)

    for key, label in d.themes.items():
        scoped = [a for a in d.actors if key in a.themes]
        scoped_projects = d.scope_projects(scoped, lambda p, k=key: k in p.themes)
        plans.append(PagePlan(dashboard_tag("theme", key), f"Tableau de bord : {label}",
                              scope_inputs("theme", key + "\x1f" + label, scoped, scoped_projects),
                              partial(theme_page, key, label, scoped, scoped_projects)))

    def commune_page(c: geo.Commune, scoped: list[_Actor], scoped_projects: list[_Project]) -> str:
        see_also = [link(TAG_DASHBOARD, "Tout le territoire")]
        if scoped:
            see_also.insert(0, link(map_tag("commune", c.insee), f"Carte : {c.name}"))
        return render(
            "dashboard_scope.txt.j2", heading=f"Tableau de bord : {c.name}", scope=f"Commune : {c.name}",
            n_actors=len(scoped), n_projects=len(scoped_projects), links=see_also,
            commune_info={"insee": c.insee, "epci": c.epci_name or "—",
                          "population": c.population if c.population is not None else "—"},
            sections=[
                ("Acteurs par thème", ["Thème", "Acteurs"], d.theme_rows(scoped)),
                ("Acteurs par service", ["Service", "Acteurs"], d.service_rows(scoped)),
                ("Acteurs par type de structure", ["Type", "Acteurs"], d.structure_rows(scoped)),
            ], actor_rows=d.actor_rows(scoped), project_rows=d.project_rows(scoped_projects),
            attribution=attribution)

    def commune_map(c: geo.Commune, query: str) -> str:
        return render(
            "map.txt.j2", heading=f"Carte des acteurs : {c.name}",
            intro=f"Commune : {c.name} (code INSEE {c.insee}). Les structures qui y sont installées.",
            action=_actor_map(actor_form, keys, query=query, skip="commune", view=_commune_view(c)),
            see_also=[link(TAG_MAP_ACTORS, "Tous les acteurs"),
                      link(dashboard_tag("commune", c.insee), f"Tableau de bord : {c.name}")])

    communes = {**d.project_communes, **d.communes}
    by_commune: dict[str, list[_Actor]] = {}
    for a in d.actors:
        if a.commune:
            by_commune.setdefault(a.commune.insee, []).append(a)
    for c in sorted(communes.values(), key=lambda c: c.insee):
        scoped = by_commune.get(c.insee, [])
        scoped_projects = d.scope_projects(scoped, lambda p, i=c.insee: bool(p.commune and p.commune.insee == i))
        plans.append(PagePlan(dashboard_tag("commune", c.insee), f"Tableau de bord : {c.name}",
                              scope_inputs("commune", c.insee, scoped, scoped_projects),
                              partial(commune_page, c, scoped, scoped_projects)))
        if scoped:
            query = (f"{keys['insee']}={c.insee}" if keys.get("insee") else f"{keys['commune']}={c.name}")
            plans.append(PagePlan(map_tag("commune", c.insee), f"Carte : {c.name}",
                                  _inputs(shared, "map", c.insee, c.name, query), partial(commune_map, c, query)))
    _check_unique(plans)
    return plans


# ---------------------------------------------------------------------------------------------- knowledge base

def kb_index_pages(articles: Iterable[Sequence], *, lists: Mapping[str, Mapping] | None = None,
                   territory: territories.Territory | None = None, root: Path | None = None) -> list[PageSpec]:
    """The knowledge-base index (articles grouped by theme), then one index page per theme of the theme
    list that has articles. `articles` are (page tag, title, themes).

    Themes are keys or labels of the theme list (any case or accents); other themes get their own section,
    after the list's themes; articles without a theme come last.
    """
    with page_context(territory, root) as ctx:
        return _kb_index_pages(articles, templates.all_lists(ctx.territory, root) if lists is None else lists)


def _kb_index_pages(articles: Iterable[Sequence], lists: Mapping[str, Mapping]) -> list[PageSpec]:
    themes = _list_values(lists, ACTOR.field("themes").list_id)
    by_norm = {_norm(k): k for k in themes} | {_norm(v): k for k, v in themes.items()}
    sections: dict[tuple, dict] = {}
    for tag, title, article_themes in articles:
        if not _TAG_RE.match(str(tag)):
            raise ValueError(f"article page tag is not a WikiName: {tag!r}")
        names = [t for t in (_collapse(str(x)) for x in _keys(article_themes)) if t] or [""]
        for name in names:
            key = by_norm.get(_norm(name)) if name else None
            if key is not None:
                order = (0, list(themes).index(key), key)
                heading = themes[key]
            elif name:
                order = (1, sort_key(name), name)
                heading = name
            else:
                order = (2, "", "")
                heading = "Autres articles"
            entry = sections.setdefault(order, {"heading": heading, "articles": {}})
            entry["articles"][str(tag)] = _collapse(str(title)) or str(tag)
    rendered = [
        {"heading": s["heading"],
         "links": [link(tag, title) for tag, title in sorted(s["articles"].items(),
                                                                key=lambda kv: (sort_key(kv[1]), kv[1], kv[0]))]}
        for _, s in sorted(sections.items(), key=lambda kv: kv[0])
    ]
    pages = [PageSpec(TAG_KB_INDEX, "Base de connaissances",
                      render("kb_index.txt.j2", title="Base de connaissances", sections=rendered,
                             glossary=link(TAG_GLOSSARY, "Glossaire"), home=link(TAG_HOME, "Accueil OSCARTES")),
                      DERIVED)]
    # and an index page per theme of the theme list that has articles
    for (group, _, key), section in sorted(sections.items(), key=lambda kv: kv[0]):
        if group != 0:
            continue
        one = [s for s in rendered if s["heading"] == section["heading"]]
        title = f"Base de connaissances : {section['heading']}"
        pages.append(PageSpec(kb_theme_tag(key), title,
                              render("kb_index.txt.j2", title=title, sections=one,
                                     glossary=link(TAG_KB_INDEX, "tous les articles"),
                                     home=link(TAG_HOME, "Accueil OSCARTES")), DERIVED))
    return pages


def kb_theme_tag(theme_key: str) -> str:
    return wiki_tag("Base de connaissances", "theme", theme_key)


__all__ = ["PageSpec", "PagePlan", "Raw", "static_pages", "dashboard_pages", "dashboard_plans", "kb_index_pages",
           "kb_theme_tag", "load_glossary", "bazar_action", "is_valid_tag", "wiki_tag", "map_tag", "dashboard_tag", "BAZAR_PARAMS"]
