"""Knowledge-base articles: Markdown source -> YesWiki markup (issue 3, item 6).

Members write articles in Markdown (a folder, or the Nextcloud folder). What reaches a wiki is YesWiki's own
markup, built from mistune's syntax tree, never copied through: text is escaped so that it cannot start an
action (`{{...}}`), raw HTML (`""...""`), a link or any formatting, and links and images keep http, https and
mailto only. An article with raw HTML, a script or a refused URL is an error naming the file and the line:
nothing of it is published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import mistune

from ..text import Text

DEFAULT_LICENCE = "CC BY-SA 4.0"
_MARKDOWN = mistune.create_markdown(renderer=None, plugins=["table", "strikethrough", "url"])
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_WIKINAME = re.compile(r"^[A-Za-z0-9]+$")
# Doubled characters that YesWiki reads as formatting, and the openers of actions, raw HTML, links,
# comments and code: a zero-width joiner between the two characters keeps them literal.
_MARKUP_PAIRS = ("**", "//", "__", "##", "@@", "~~", "££", "%%", '""', "{{", "}}", "[[", "]]", "{#", "#}", "==",
                 "[|", "|]")
_ZWJ = "\u200d"
_HEADING = {1: "======", 2: "=====", 3: "====", 4: "===", 5: "==", 6: "=="}


class ArticleError(Exception):
    """An article that cannot be published as it is; names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str):
        where = f"{source}:{line}" if line else source
        super().__init__(Text("{where}: {problem}", where=where, problem=message))
        self.source, self.line, self.message = source, line, message


@dataclass(frozen=True)
class Article:
    source: str  # file name, for messages
    title: str
    body: str  # Markdown, front matter removed
    themes: tuple[str, ...] = ()
    author: str = ""
    licence: str = DEFAULT_LICENCE
    updated: str = ""
    body_line: int = 1  # line of the file where the body starts, so that errors point at the file's lines


def parse_article(text: str, source: str) -> Article:
    """An article file: optional front matter between `---` lines (title, themes, author, licence, date),
    then Markdown. Without a title in the front matter, the first level-1 heading is the title."""
    if "\x00" in text:
        raise ArticleError(source, None, Text("not a text file"))
    meta: dict[str, str] = {}
    body, body_line = text, 1
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            raise ArticleError(source, 1, Text("front matter opened with '---' is never closed")) from None
        for n, line in enumerate(lines[1:end], start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if ":" not in line:
                raise ArticleError(source, n, Text("front matter line is not 'key: value': '{line}'",
                                                   line=line.strip()[:60]))
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip().strip('"').strip("'")
        body, body_line = "\n".join(lines[end + 1:]), end + 2
    title = meta.get("title") or meta.get("titre") or ""
    if not title:
        m = re.search(r"^# +(.+?)\s*#*\s*$", body, re.M)
        if m:
            title = m.group(1).strip()
    if not title:
        raise ArticleError(source, 1, Text("no title: add 'title:' in the front matter or a '# Title' line"))
    themes = meta.get("themes") or meta.get("thèmes") or ""
    theme_list = tuple(t.strip() for t in themes.strip("[]").split(",") if t.strip())
    updated = meta.get("date", "")
    if updated:
        try:
            date.fromisoformat(updated)
        except ValueError:
            raise ArticleError(source, None, Text("date is not YYYY-MM-DD: '{date}'", date=updated)) from None
    return Article(source, title, body, theme_list, meta.get("author") or meta.get("auteur") or "",
                   meta.get("licence") or meta.get("license") or DEFAULT_LICENCE, updated, body_line)


def to_yeswiki(article: Article) -> str:
    """The article's body in YesWiki markup, ending with its licence line."""
    markup = markdown_to_yeswiki(article.body, article.source, article.body_line)
    credit = f"Auteur : {escape_text(article.author)}. " if article.author else ""
    return f"{markup}\n\n----\n//{credit}Licence : {escape_text(article.licence)}.//\n"


def markdown_to_yeswiki(text: str, source: str = "<article>", first_line: int = 1) -> str:
    tokens = _MARKDOWN(text)
    ctx = _Context(text, source, first_line)
    blocks = [b for b in (_block(t, ctx) for t in tokens) if b is not None]
    return "\n\n".join(b.rstrip("\n") for b in blocks if b.strip()).strip() + "\n"


@dataclass
class _Context:
    text: str
    source: str
    first_line: int
    searched_from: int = 0
    notes: list[str] = field(default_factory=list)

    def line_of(self, raw: str) -> int:
        """The file line where `raw` appears (next occurrence), for error messages."""
        pos = self.text.find(raw.strip()[:40], self.searched_from) if raw.strip() else -1
        if pos < 0:
            pos = self.text.find(raw.strip()[:40])
        if pos < 0:
            return self.first_line
        self.searched_from = pos + 1
        return self.first_line + self.text.count("\n", 0, pos)

    def fail(self, raw: str, message: str) -> ArticleError:
        return ArticleError(self.source, self.line_of(raw), message)


def escape_text(s: str) -> str:
    """Literal text: no formatting, action, link or raw HTML can start from it."""
    s = s.replace("\r", "")
    for pair in _MARKUP_PAIRS:
        if pair in s:
            if pair[0] == pair[1]:  # "===" holds two pairs: separate every neighbour
                s = re.sub(re.escape(pair[0]) + "(?=" + re.escape(pair[0]) + ")", pair[0] + _ZWJ, s)
            else:
                s = s.replace(pair, pair[0] + _ZWJ + pair[1])
    # YesWiki also reads single `*x*` and `_x_` as italics (Markdown compatibility) and `---` as a line break
    s = re.sub(r"(?<!\w)([*_])(?=\S)", lambda m: m.group(1) + _ZWJ, s)
    s = s.replace("---", "-" + _ZWJ + "-" + _ZWJ + "-")
    return s


def _safe_url(url: str, ctx: _Context, what: str) -> str:
    url = url.strip()
    low = url.lower()
    if low.startswith(_SAFE_SCHEMES):
        if any(c in url for c in ' "<>[]{}|\\^`'):
            raise ctx.fail(url, Text("{what} URL has characters a wiki link cannot carry: '{url}'", what=what,
                                     url=url[:80]))
        return url
    raise ctx.fail(url, Text("{what} URL refused (only http, https and mailto): '{url}'", what=what, url=url[:80]))


def _inline(children: list[dict], ctx: _Context) -> str:
    out: list[str] = []
    for t in children:
        kind = t["type"]
        if kind == "text":
            out.append(escape_text(t["raw"]))
        elif kind == "strong":
            out.append(f"**{_inline(t['children'], ctx)}**")
        elif kind == "emphasis":
            out.append(f"//{_inline(t['children'], ctx)}//")
        elif kind == "strikethrough":
            out.append(f"@@{_inline(t['children'], ctx)}@@")
        elif kind == "codespan":
            code = t["raw"]
            out.append(f"`{code}`" if "`" not in code else f"##{escape_text(code)}##")
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "linebreak":
            out.append("\n")
        elif kind == "link":
            url = t["attrs"]["url"]
            label = _plain(t["children"]).replace("]]", "] ]").strip()
            if _WIKINAME.match(url):
                target = url  # a page of the same wiki
            else:
                target = _safe_url(url, ctx, Text("link"))
            out.append(f"[[{target} {escape_text(label)}]]" if label and label != url else f"[[{target}]]")
        elif kind == "image":
            url = _safe_url(t["attrs"]["url"], ctx, Text("image"))
            alt = _plain(t["children"]).replace("]", " ").replace('"', "'")
            title = (t["attrs"].get("title") or "").replace('"', "'")
            out.append(f'![{alt}]({url} "{title}")' if title else f"![{alt}]({url})")
        elif kind == "inline_html":
            raise ctx.fail(t["raw"], Text("raw HTML is not published ('{html}'): write it in Markdown",
                                          html=t["raw"][:40]))
        else:
            out.append(escape_text(_plain(t.get("children", [])) or t.get("raw", "")))
    return "".join(out)


def _plain(children: list[dict]) -> str:
    return "".join(t.get("raw", "") if t["type"] == "text" else _plain(t.get("children", [])) for t in children)


def _block(t: dict, ctx: _Context, depth: int = 0) -> str | None:
    kind = t["type"]
    if kind == "blank_line":
        return None
    if kind == "heading":
        mark = _HEADING[t["attrs"]["level"]]
        return f"{mark}{_inline(t['children'], ctx).strip()}{mark}"
    if kind in ("paragraph", "block_text"):
        text = _inline(t["children"], ctx)
        # a line that starts with spaces is a list item in YesWiki, one with '# ' a heading
        return "\n".join(re.sub(r"^#(?= )", "#" + _ZWJ, line.lstrip()) for line in text.split("\n"))
    if kind == "thematic_break":
        return "----"
    if kind == "block_code":
        code = t["raw"].rstrip("\n").replace("%%", "%" + _ZWJ + "%")
        return f"%%\n{code}\n%%"
    if kind == "block_quote":
        inner = [b for b in (_block(c, ctx) for c in t["children"]) if b]
        return "\n".join(f"//« {b.strip()} »//" for b in inner)
    if kind == "list":
        return _list(t, ctx, 1)
    if kind == "table":
        return _table(t, ctx)
    if kind == "block_html":
        raw = t["raw"]
        if "<script" in raw.lower():
            raise ctx.fail(raw, Text("a script is not published ('{html}'): write it in Markdown",
                                     html=raw.strip()[:40]))
        raise ctx.fail(raw, Text("raw HTML is not published ('{html}'): write it in Markdown", html=raw.strip()[:40]))
    raise ctx.fail(t.get("raw", ""), Text("unsupported Markdown element: {element}", element=kind))


def _list(t: dict, ctx: _Context, level: int) -> str:
    ordered = t["attrs"].get("ordered")
    lines: list[str] = []
    for n, item in enumerate(t["children"], start=1):
        marker = f"{n})" if ordered else "-"
        texts: list[str] = []
        nested: list[str] = []
        for child in item["children"]:
            if child["type"] == "list":
                nested.append(_list(child, ctx, level + 1))
            else:
                block = _block(child, ctx)
                if block:
                    texts.append(block.replace("\n", " "))
        lines.append(" " * level + f"{marker} " + " --- ".join(texts))
        lines.extend(nested)
    return "\n".join(lines)


def _table(t: dict, ctx: _Context) -> str:
    rows: list[list[str]] = []
    for part in t["children"]:
        if part["type"] == "table_head":
            rows.append([f"**{_cell(c, ctx)}**" for c in part["children"]])
        else:
            rows.extend([_cell(c, ctx) for c in row["children"]] for row in part["children"])
    body = "\n".join("| " + " | ".join(cells) + " |" for cells in rows)
    return f"[|\n{body}\n|]"


def _cell(cell: dict, ctx: _Context) -> str:
    return _inline(cell["children"], ctx).replace("|", "¦").replace("\n", " ").strip() or " "
