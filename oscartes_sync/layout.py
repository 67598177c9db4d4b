"""Text for a person, fitted to the terminal: each line translated, then wrapped to the width with its
continuation lines indented, never breaking inside a command or before French high punctuation."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from .i18n import translate
from .text import Term, Text

DEFAULT_WIDTH = 100  # also the widest: a longer line is harder to read, whatever the terminal
MIN_WIDTH = 40


@dataclass(frozen=True)
class Line:
    """One line of text before it is translated and fitted to the width: continuation lines are indented `hang`
    columns deeper than the first."""

    text: Any  # a Text (translated), or a plain string of data
    indent: int = 0
    hang: int = 4


def terminal_width() -> int:
    """The width of the terminal the report is printed on (COLUMNS first), at most DEFAULT_WIDTH: what is read
    in a minute stays narrow. DEFAULT_WIDTH when the output is no terminal (a file, a pipe, the journal)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        width = int(columns)
    else:
        try:
            width = os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else DEFAULT_WIDTH
        except (AttributeError, OSError, ValueError):
            width = DEFAULT_WIDTH
    return max(MIN_WIDTH, min(DEFAULT_WIDTH, width))


# A space before French high punctuation, inside quotes or inside a command must not become a line break.
_HIGH = {" :": "\u00a0:", " ;": "\u00a0;", " ?": "\u00a0?", " !": "\u00a0!", "« ": "«\u00a0", " »": "\u00a0»"}
_CODE = re.compile(r"`[^`]+`")


def fit(line: Line, width: int) -> str:
    """The line in the reader's language (a plain string is data, shown as it is), wrapped to `width`; a text of
    several lines keeps them, each wrapped."""
    text = translate(line.text) if isinstance(line.text, (Text, Term)) else str(line.text)
    return "\n".join(_wrap(part, line, width) for part in text.split("\n"))


def _wrap(text: str, line: Line, width: int) -> str:
    if not text:
        return ""
    text = _CODE.sub(lambda m: m.group(0).replace(" ", "\u00a0"), text)
    for plain, kept in _HIGH.items():
        text = text.replace(plain, kept)
    out = textwrap.fill(text, width=width, initial_indent=" " * line.indent,
                        subsequent_indent=" " * (line.indent + line.hang), break_long_words=False,
                        break_on_hyphens=False)
    return out.replace("\u00a0", " ").rstrip()
