"""YesWiki's `genere_nom_wiki` (contract §3.2): the WikiName a title becomes, as the wiki computes it.

Used to predict ids the wiki chooses itself (lists: `genere_nom_wiki('Liste ' + title)`, contract §5) so a
write that landed under another id is noticed. The sandbox emulator imports it from here.
"""

from __future__ import annotations

import re
from html.entities import codepoint2name
from typing import Callable

_ACCENT_ENTITY = re.compile(r"([A-za-z])(?:acute|cedil|caron|circ|grave|orn|ring|slash|th|tilde|uml)")
_LIGATURE_ENTITY = re.compile(r"([A-za-z]{2})(?:lig)")
_ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_UCWORDS_DELIMS = " \t\r\n\f\v"


def _remove_accents(text: str) -> str:
    """PHP removeAccents(): htmlentities (HTML 4.01 table), keep the base letter, drop other entities."""
    out = []
    for ch in text:
        name = codepoint2name.get(ord(ch))
        if name is None or ch in "\"'":  # ENT_NOQUOTES; other ASCII chars with entities are punctuation
            out.append(ch)
            continue
        m = _ACCENT_ENTITY.fullmatch(name) or _LIGATURE_ENTITY.fullmatch(name)
        out.append(m.group(1) if m else "")
    return "".join(out)


def _ucwords(text: str) -> str:
    out, upper_next = [], True
    for ch in text:
        out.append(ch.upper() if upper_next and "a" <= ch <= "z" else ch)
        upper_next = ch in _UCWORDS_DELIMS
    return "".join(out)


def wiki_name_base(title: str) -> str:
    """First step of genere_nom_wiki: the WikiName for a title, before collision suffixes."""
    spaced = "".join(" " if ch in _ASCII_PUNCT else ch for ch in title)
    temp = _remove_accents(spaced[:47])
    lowered = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in temp)  # strtolower is ASCII-only
    name = "".join(re.sub(r"[^a-zA-Z0-9]", "", word.strip(" \t\n\r\0\x0b"))
                   for word in _ucwords(lowered).split(" "))
    if len(re.sub(r"[^A-Z]", "", name)) < 2 and name:
        name = name[:-1] + name[-1].upper()
    return name


def genere_nom_wiki(title: str, exists: Callable[[str], bool]) -> str:
    """Full genere_nom_wiki: base name, then X2, X3... while a page with that tag exists."""
    name = wiki_name_base(title)
    occurrence = 1
    while name and exists(name):
        occurrence += 1
        if occurrence == 2:
            name = f"{name}2"
        else:
            name = name[: -len(str(occurrence - 1))] + str(occurrence)
    return name


def list_id_for(title: str) -> str:
    """The id a new list titled `title` gets on a wiki where no page has that id yet (contract §5)."""
    return wiki_name_base("Liste " + title)


__all__ = ["wiki_name_base", "genere_nom_wiki", "list_id_for"]
