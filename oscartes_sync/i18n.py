"""What a person reads, in their language (DECISIONS §21): French by default, English on request.

How to add a message (the one way; copy it):

1. Write it in English, as one `Text` with named placeholders, where it is made (any layer: `text.py` is
   standard library only):  `raise BackupError(Text("{path} is not a file", path=str(path)))`,
   `say(Text("Store saved in {path}.", path=str(done.path)))` in cli.py, `Notice(..., Text("..."), kind=...)`.
   A number that changes the words: `Plural("{n} place", "{n} places", n, n=n)`; a field or record kind shown
   by its label: `Term.field(name)` / `Term.kind(kind)` as a parameter; a list: `join(", ", parts)`; click's
   help texts: `help=N_("...")`. Never an f-string or `+` for a message: the template is the catalogue's key.
   Parameters are data (titles, paths, ids, URLs: shown as they are) or messages themselves (translated too).
2. Show it through `translate()` (cli.py's `say()`; an exception's message through `text.message_of(exc)`).
   Its str value stays the English rendering: JSON outputs, logs and stored reports keep reading English.
3. `python tools/catalogue.py`: the message comes into `locale/fr/LC_MESSAGES/oscartes_sync.po` with an
   empty `msgstr`; write the French there (same placeholders; French typography: « : » with a space before),
   run `python tools/catalogue.py` again to compile the `.mo`, and `--check` must pass (tests/test_i18n.py
   runs it). tests/test_french_flows.py fails on a message shown untranslated in the main flows.

The compiled `.mo` ships in the package, so the wheel needs no Babel to speak French. English needs no
catalogue: the messages are English.

The language is chosen once per command: `--lang`, else a locale variable that starts with `en` (LC_ALL,
LC_MESSAGES, LANG, in the order the C library reads them), else French. Code, log keys and JSON stay English.
"""

from __future__ import annotations

import gettext as _gettext
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from .text import N_, Term, Text  # noqa: F401 (N_ is marked here too)

DOMAIN = "oscartes_sync"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
PARIS = ZoneInfo("Europe/Paris")


class _Recorder(_gettext.NullTranslations):
    """The end of the fallback chain: a message the catalogue lacks is shown in English and noted, so that a
    test can fail on any message left untranslated."""

    def __init__(self) -> None:
        super().__init__()
        self.missing: set[str] = set()

    def gettext(self, message: str) -> str:
        self.missing.add(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.missing.add(singular)
        return singular if n == 1 else plural


_language = DEFAULT
_recorder = _Recorder()
_translations: _gettext.NullTranslations = _gettext.NullTranslations()


def language_from_env(environ: Mapping[str, str] | None = None) -> str:
    """`en` when the first locale variable that is set names English, else the default (French)."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "en" if value.lower().startswith("en") else DEFAULT
    return DEFAULT


def set_language(lang: str | None = None) -> str:
    """Use `lang` (or the environment's) for every message from now on; returns the language chosen."""
    global _language, _translations
    _language = lang if lang in LANGUAGES else language_from_env()
    _recorder.missing.clear()
    if _language == "en":
        _translations = _gettext.NullTranslations()
    else:
        _translations = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[_language])
        _translations.add_fallback(_recorder)
    _translate_click()
    return _language


def language() -> str:
    return _language


def missing() -> set[str]:
    """The messages shown untranslated since the language was set (empty in English)."""
    return set(_recorder.missing)


def _(message: str) -> str:
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


def translate(message: Any, *, lang: str | None = None) -> str:
    """A message as the reader reads it: a `Text` rendered from its translated template (its parameters that
    are messages or terms translated too, the others shown as they are), a plain string looked up in the
    catalogue. A translation whose placeholders do not fit (a catalogue error `tools/catalogue.py
    --check` reports) falls back to the English rendering rather than failing the command. `lang`: that language
    whatever the reader's (a wiki page is written in French)."""
    tr = _translations if lang is None else _catalogue(lang)
    if not isinstance(message, str):
        return "" if message is None else str(message)
    if isinstance(message, Term):
        return term(message, tr)
    if not isinstance(message, Text):
        return tr.gettext(message) if message else message
    if message.literal:
        template = message.template
    elif message.plural is not None:
        template = tr.ngettext(message.template, message.plural, message.count or 0)
    else:
        template = tr.gettext(message.template)
    params = {k: translate(v, lang=lang) if isinstance(v, (Text, Term)) else v for k, v in message.params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return str.__str__(message)


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> _gettext.NullTranslations:
    if lang == "en":
        return _gettext.NullTranslations()
    catalogue = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
    catalogue.add_fallback(_recorder)  # a message it lacks is noted, as in the reader's language
    return catalogue


def reason(exc: BaseException) -> str:
    """An exception's message as the reader reads it (a `Text` given as its message is translated)."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str):
        message = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return translate(message)


def term(name: Term, tr: _gettext.NullTranslations | None = None) -> str:
    """What a person calls a field or a kind of record, in their language (the code's name when unknown)."""
    from .records import FIELD_LABELS, KINDS

    gettext = (tr or _translations).gettext
    shown = str.__str__(name)
    if name.vocabulary == "kind" and name in KINDS and KINDS[name].noun:
        shown = gettext(KINDS[name].noun)
    elif name.vocabulary == "kind_one" and name in KINDS and KINDS[name].one:
        shown = gettext(KINDS[name].one)
    elif name.vocabulary == "field" and FIELD_LABELS.get(name):
        shown = gettext(FIELD_LABELS[name])
    return shown[:1].upper() + shown[1:] if name.heading else shown


def _translate_click() -> None:
    # click's own texts ("Usage:", "Options", its errors) are marked with the standard library's gettext, bound
    # at import as `_`/`ngettext` in each of its modules, which would read the language from the environment
    # only: point them at ours, so that `--lang` decides for click too.
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if getattr(module, "_", None) is not None:
                module._ = _
            if getattr(module, "ngettext", None) is not None:
                module.ngettext = ngettext


# ---- dates and times as a person reads them --------------------------------------------------------------


def local(moment: datetime) -> datetime:
    """A moment in Europe/Paris (a naive one is taken as UTC, as the store keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(PARIS)


def human_date(moment: datetime) -> str:
    """`2 décembre` / `2 December`, with the year when it is not this year's."""
    when, now = local(moment), datetime.now(PARIS)
    pattern = "d MMMM" if when.year == now.year else "d MMMM y"
    return format_date(when.date(), pattern, locale=_language)


def human_datetime(moment: datetime) -> str:
    """`2 décembre à 06:05` / `2 December at 06:05` (Europe/Paris)."""
    when = local(moment)
    return _("{date} at {time}").format(date=human_date(moment), time=format_time(when.time(), "HH:mm",
                                                                                    locale=_language))


set_language(language_from_env())
