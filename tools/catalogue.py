"""Extract, update and compile the messages catalogue (Babel), or check that the committed one is current.

    python tools/catalogue.py            extract every marked message (ours and click's), update the French
                                         catalogue (new messages come in untranslated), compile the .mo files
    python tools/catalogue.py --check    exit 1 and say why if the committed catalogue is not what the code
                                         marks, a message lacks its French translation, or a .mo is stale

The product itself never needs Babel's tools: the compiled catalogue ships in the package.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from datetime import datetime, timezone
from gettext import GNUTranslations
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "oscartes_sync"
LOCALE = PACKAGE / "locale"
DOMAIN = "oscartes_sync"
LANGUAGES = ("fr",)
# a fixed date keeps the files byte-stable: they change only when the messages do
STAMP = datetime(2026, 12, 1, tzinfo=timezone.utc)
# `Text(...)` and `Plural(...)` (oscartes_sync/text.py) carry a message until it is shown: their templates are msgids;
# `N_plural(...)` marks a plural message of a table
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "Text": None, "Plural": (1, 2), "N_plural": (1, 2)}


def extract_ast(fileobj, keywords, comment_tags, options):
    """Babel extraction from the syntax tree: every call of a keyword whose message arguments are string literals,
    however deeply it is nested in other calls or comprehensions (Babel's token extractor loses some of those)."""
    tree = ast.parse(fileobj.read().decode("utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in keywords:
            continue
        spec = KEYWORDS[name] or (1,)
        positions = [i for i in spec if isinstance(i, int)]
        args = [node.args[i - 1] if i - 1 < len(node.args) else None for i in positions]
        if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            continue  # a message given as a variable: marked where it is defined
        values = tuple(a.value for a in args)
        yield node.lineno, name, values if len(values) > 1 else values[0], []


# our package through its syntax tree (ast), click's through Babel's own extractor
METHODS = {"oscartes_sync": [("**.py", extract_ast)], "click": [("**.py", "python")]}


def extract() -> Catalog:
    cat = Catalog(domain=DOMAIN, charset="utf-8")
    describe(cat)
    sources = [(PACKAGE, "oscartes_sync"), (Path(click.__file__).parent, "click")]
    for folder, label in sources:
        for filename, _lineno, message, comments, context in extract_from_dir(
                str(folder), METHODS[label], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
                strip_comment_tags=True):
            cat.add(message, locations=[(f"{label}/{filename}", None)], auto_comments=comments, context=context)
    return cat


def po_bytes(cat: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, cat, width=100, sort_output=True, include_lineno=False)
    return out.getvalue()


def mo_bytes(cat: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, cat, use_fuzzy=False)
    return out.getvalue()


def compiled(mo: bytes) -> dict:
    """What a compiled catalogue translates (its header aside, which names the Babel that wrote it)."""
    catalog = GNUTranslations(io.BytesIO(mo))._catalog
    return {k: v for k, v in catalog.items() if k != ""}


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


# French as gettext writes it (CLDR's third form, for millions, would ask translators for a text nobody reads)
PLURALS = {"fr": (2, "(n > 1)")}


def updated(lang: str, template: Catalog) -> Catalog:
    path = po_path(lang)
    cat = read(path, lang) if path.exists() else Catalog(locale=lang, domain=DOMAIN)
    cat.update(template, no_fuzzy_matching=True)
    cat.obsolete.clear()
    describe(cat)
    cat._num_plurals, cat._plural_expr = PLURALS[lang]
    for m in cat:
        if m.id and isinstance(m.id, (list, tuple)) and isinstance(m.string, (list, tuple)):
            m.string = tuple(m.string[: PLURALS[lang][0]])
    return cat


def describe(cat: Catalog) -> None:
    cat.project, cat.version = "oscartes-sync", ""
    cat.copyright_holder = "PôleS NOE, Territoires en Liens and the contributors"
    cat.msgid_bugs_address = ""
    cat.last_translator = "oscartes-sync contributors"
    cat.language_team = "French"
    cat.creation_date = cat.revision_date = STAMP
    cat.fuzzy = False


def untranslated(cat: Catalog) -> list[str]:
    return [str(m.id) for m in cat if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string))
                                                  or m.fuzzy)]


def write() -> int:
    template = extract()
    (LOCALE / f"{DOMAIN}.pot").parent.mkdir(parents=True, exist_ok=True)
    (LOCALE / f"{DOMAIN}.pot").write_bytes(po_bytes(template))
    for lang in LANGUAGES:
        cat = updated(lang, template)
        po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        po_path(lang).write_bytes(po_bytes(cat))
        po_path(lang).with_suffix(".mo").write_bytes(mo_bytes(cat))
        missing = untranslated(cat)
        print(f"{lang}: {len(cat) - len(missing)} of {len(cat)} messages translated")
        for m in missing:
            print(f"  untranslated: {m!r}")
    return 0


_PLACEHOLDER = re.compile(r"(?<!{){([A-Za-z_]\w*)(?:[!:][^{}]*)?}")


def placeholders(text: str) -> set[str]:
    """The named fields of a format string (`{field}`, `{n:5d}`; `{{` is a brace, no field)."""
    return set(_PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "")))


def placeholder_mismatches(cat: Catalog) -> list[str]:
    """Translations whose named placeholders differ from their message's: they would fail when shown."""
    out = []
    for m in cat:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, (list, tuple)) else (m.id,)
        strings = m.string if isinstance(m.string, (list, tuple)) else (m.string,)
        wanted = set().union(*(placeholders(i) for i in ids))
        for s in strings:
            if s and placeholders(s) - wanted:
                out.append(f"the translation of {ids[0]!r} names {sorted(placeholders(s) - wanted)}, "
                           "which the message does not give")
            elif s and len(ids) == 1 and placeholders(s) != wanted:
                out.append(f"the translation of {ids[0]!r} leaves out {sorted(wanted - placeholders(s))}")
    return out


def check() -> list[str]:
    problems = []
    template = extract()
    marked = {str(m.id) for m in template if m.id}
    committed_pot = LOCALE / f"{DOMAIN}.pot"
    if not committed_pot.exists() or {str(m.id) for m in read(committed_pot) if m.id} != marked:
        problems.append(f"{committed_pot.relative_to(ROOT)} is not what the code marks: run tools/catalogue.py")
    for lang in LANGUAGES:
        path = po_path(lang)
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        cat = read(path, lang)
        ids = {str(m.id) for m in cat if m.id}
        if ids != marked:
            problems.append(f"{path.relative_to(ROOT)}: {len(marked - ids)} marked messages missing, "
                            f"{len(ids - marked)} no longer marked: run tools/catalogue.py")
        for m in untranslated(cat):
            problems.append(f"{path.relative_to(ROOT)}: no translation for {m!r}")
        problems += [f"{path.relative_to(ROOT)}: {p}" for p in placeholder_mismatches(cat)]
        mo = path.with_suffix(".mo")
        if not mo.exists() or compiled(mo.read_bytes()) != compiled(mo_bytes(cat)):
            problems.append(f"{mo.relative_to(ROOT)} is stale: run tools/catalogue.py")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        problems = check()
        for p in problems:
            print(p)
        return 1 if problems else 0
    return write()


if __name__ == "__main__":
    sys.exit(main())
