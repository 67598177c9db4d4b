"""Wiki setup templates (`wiki_templates/`): Bazar form templates and Bazar lists.

Forms are Jinja2 templates rendering a form's `bn_template` (contract §4); lists are JSON files
{"id", "titre", "values": {key: label}}. The lists of networks and of communes come from the territory's
parameters (territory.py).

The templates live inside the package (`oscartes_sync/wiki_templates/`, package data) so that an installed
wheel carries them; the top-level `wiki_templates` of the source tree is a symlink to that folder, the one
place people edit. Everything that reads them goes through TEMPLATES_DIR, or through the `root` a replication
kit brings (`kit apply` provisions with the templates of the kit it applies).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2

from . import territory as territories
from .records import KINDS, SERVICE_FORMS
from .text import Text

TEMPLATES_DIR = Path(__file__).resolve().parent / "wiki_templates"
FORM_KINDS = tuple(KINDS)  # every kind has a provisioned form
COMMUNES_LIST_ID = "ListeCommunes91"  # the default territory's (Essonne); a territory names its own
COMMUNES_LIST_TITLE = "Communes 91"  # YesWiki derives the list id from the title: "Liste Communes 91"

# Field types whose entry key is type + name (+ suffix in column 6): contract §3.5.
_PREFIXED_TYPES = frozenset({"checkbox", "liste", "radio", "checkboxfiche", "listefiche", "image", "fichier"})
_LIST_TYPES = frozenset({"checkbox", "liste", "radio"})
# Field types that store no value of their own (column 1 is not a key: `acls` holds the entry's read ACL).
_NO_KEY_TYPES = frozenset({"acls", "labelhtml"})


def _root(root: Path | None) -> Path:
    return TEMPLATES_DIR if root is None else Path(root)


@lru_cache(maxsize=8)
def _env(root: Path | None = None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_root(root))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # bn_template is plain text, not HTML
        keep_trailing_newline=False,
    )


def render_form_template(kind: str, forms: dict[str, str | int], root: Path | None = None, *,
                         review_group: str | None = None) -> str:
    """The `bn_template` of the Bazar form of `kind` (a record kind or a service form); `forms` maps kinds to
    this wiki's form ids; `review_group`: the wiki's review group, if any (decisions form)."""
    if kind not in FORM_KINDS and kind not in SERVICE_FORMS:
        raise ValueError(f"unknown form kind: {kind!r}")
    path = KINDS[kind].form_template if kind in KINDS else SERVICE_FORMS[kind].form_template
    text = _env(_root(root)).get_template(path).render(forms=forms, review_group=review_group or "")
    return "\n".join(line for line in text.splitlines() if line.strip())


def parse_template(bn_template: str) -> list[list[str]]:
    """Lines of a `bn_template` split into columns (stripped)."""
    return [[c.strip() for c in line.split("***")] for line in bn_template.splitlines() if line.strip()]


def field_keys(columns: list[str]) -> list[str]:
    """Entry JSON keys written by one template line (contract §3.5)."""
    ftype = columns[0]
    name = columns[1] if len(columns) > 1 else ""
    if ftype in _NO_KEY_TYPES:
        return []
    if ftype == "map":
        return [c for c in columns[1:3] if c]
    if ftype in _PREFIXED_TYPES:
        # enum fields add column 6 to their key; image and file fields use column 6 for a size
        suffix = columns[6] if len(columns) > 6 and ftype not in ("image", "fichier") else ""
        return [f"{ftype}{name}{suffix}"]
    return [name] if name else []


def template_field_keys(bn_template: str) -> list[str]:
    """Every entry key of a form template, in order."""
    return [k for cols in parse_template(bn_template) for k in field_keys(cols)]


def template_list_ids(bn_template: str) -> list[str]:
    """Bazar lists a form template refers to."""
    return [cols[1] for cols in parse_template(bn_template) if cols[0] in _LIST_TYPES]


# Field types YesWiki 4.4 knows (the @Field names of tools/bazar/fields/*.php).
FIELD_TYPES = frozenset("""
acls bookmarklet calc checkboxfiche checkbox conditionschecking jour listedatedeb listedatefin champs_mail
externalcheckboxentryfield externalcheckboxlistfield externalfilefield externalimagefield externalradioentryfield
externalradiolistfield externalselectentryfield externalselectlistfield externaltagsfield fichier champs_cache
image labelhtml lien_internet listefichesliees listefiches map carte_google metadatas old mot_de_passe radiofiche
radio reactions listefiche liste inscriptionliste tabchange tabs tags texte textelong titre yeswiki_user
utilisateur_wikini
""".split())


class TemplateError(Exception):
    """A template of wiki_templates/ that cannot be used; names the file and the line."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(Text("{where}: {problem}", where=where, problem=message))
        self.path, self.line, self.message = str(path), line, message


def _source_line(path: Path, needle: str) -> int | None:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle and needle in line:
            return n
    return None


def check_form_template(kind: str, forms: dict[str, str | int], root: Path | None = None, *,
                        review_group: str | None = None) -> str:
    """The rendered template of `kind`, or TemplateError for an unknown field type or a missing title."""
    path = _root(root) / "forms" / f"{kind}.txt.j2"
    if not path.is_file():
        raise TemplateError(path, None, Text("missing: every kind ({kinds}) needs its form template",
                                             kinds=", ".join(FORM_KINDS)))
    try:
        text = render_form_template(kind, forms, root, review_group=review_group)
    except jinja2.TemplateError as exc:
        raise TemplateError(path, getattr(exc, "lineno", None),
                            Text("template error: {reason}", reason=str(exc))) from None
    has_title = False
    for cols in parse_template(text):
        if cols[0] not in FIELD_TYPES:
            raw = "***".join(cols[:2])
            raise TemplateError(path, _source_line(path, raw) or _source_line(path, cols[0]),
                                Text("unknown field type '{type}' (YesWiki 4.4 knows: texte, textelong, liste, ...)",
                                     type=cols[0]))
        has_title = has_title or cols[0] == "titre" or (len(cols) > 1 and cols[1] == "bf_titre")
    if not has_title:
        raise TemplateError(path, None, Text("no title field: a Bazar form needs a 'texte***bf_titre***...' line "
                                             "(or a 'titre' field); YesWiki refuses the form otherwise"))
    return text


def _no_duplicate_keys(path: Path):
    def hook(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                         if f'"{key}"' in line]
                raise TemplateError(path, lines[1] if len(lines) > 1 else None,
                                    Text("duplicate key '{key}'", key=key))
            seen.add(key)
        return dict(pairs)
    return hook


@lru_cache(maxsize=8)
def _load_lists(root: Path | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in sorted((_root(root) / "lists").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys(path))
        except json.JSONDecodeError as exc:
            raise TemplateError(path, exc.lineno, Text("not JSON: {reason}", reason=exc.msg)) from None
        if not isinstance(data, dict) or not {"id", "titre", "values"} <= data.keys():
            raise TemplateError(path, None, Text('a list file needs "id", "titre" and "values"'))
        if data["id"] in out:
            raise TemplateError(path, _source_line(path, '"id"'), Text("list id '{id}' is used by another file",
                                                                              id=data["id"]))
        out[data["id"]] = {"titre": data["titre"], "values": dict(data["values"])}
    return out


def load_lists(root: Path | None = None) -> dict[str, dict]:
    """{list_id: {"titre": ..., "values": {key: label}}} for the lists of wiki_templates/lists/."""
    return {k: {"titre": v["titre"], "values": dict(v["values"])} for k, v in _load_lists(_root(root)).items()}


def communes_list(territory: territories.Territory | None = None) -> dict:
    """The list of the territory's communes (Essonne by default): key = INSEE code, label = official name
    (sorted by name)."""
    return (territory or territories.origin()).communes_list()


def all_lists(territory: territories.Territory | None = None, root: Path | None = None) -> dict[str, dict]:
    """Every Bazar list `provision` sets up: the JSON lists, then the territory's networks and communes."""
    lists = load_lists(root)
    for list_id, data in (territory or territories.origin()).lists().items():
        if list_id in lists:
            raise TemplateError(_root(root) / "lists" / f"{list_id}.json", None,
                                Text("list '{id}' is made from the territory's parameters: remove this file",
                                     id=list_id))
        lists[list_id] = data
    return lists
