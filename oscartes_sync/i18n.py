"""What a person reads, in their language (DECISIONS §21): French by default, English on request.

Messages are written in English in the code and marked for extraction: `_()` where the text is shown, `N_()`
where it is defined before the language is known (click's help texts, tables of labels) and translated where it
is shown. The catalogue lives in `locale/` (Babel extracts and compiles it: `python tools/catalogue.py`); the
compiled `.mo` ships in the package, so the wheel needs no Babel to speak French. English needs no catalogue:
the messages are English.

The language is chosen once per command: `--lang`, else a locale variable that starts with `en` (LC_ALL,
LC_MESSAGES, LANG, in the order the C library reads them), else French. Code, log keys and JSON stay English.
"""

from __future__ import annotations

import gettext as _gettext
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

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


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated with `_()` where it is shown."""
    return message


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
