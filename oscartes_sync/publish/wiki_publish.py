"""What `sync` publishes in each wiki besides entries (DECISIONS §16): dashboards computed from the store and
knowledge-base articles, each page rewritten only when its content changed (DECISIONS §13).

What was last published is remembered per wiki and page (content hash and revision), so a quiet run sends no
request at all for pages. A page edited by hand since the service wrote it is not overwritten (reported), and
a page nothing produces any more is removed. When its records were deleted (tombstones: accepted within the
limits or by a person, DECISIONS §24) it simply goes; other pages (an article's file removed, dashboards
turned off) go only within the same limits as entries, or as far as a person accepted (`--allow-deletes N`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..clients import wiki_admin
from ..config import Config, WikiConfig
from ..hashing import content_hash
from ..sync.model import REFUSED_DELETION, Notice, SyncPolicy
from ..text import Text
from ..targets.base import TargetError, TerminalError
from .markdown import ArticleError, parse_article, to_yeswiki
from .pages import PageSpec, dashboard_pages, kb_index_pages, wiki_tag

STATE = "publish/{wiki}/pages"  # state key: {tag: {"hash": ..., "revision": ...}}


@dataclass
class WikiPublishResult:
    notices: list[Notice] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)  # wiki -> pages written or removed
    written: dict[str, list[str]] = field(default_factory=dict)  # wiki -> tags of the pages written
    removed: dict[str, list[str]] = field(default_factory=dict)  # wiki -> tags of the pages removed
    instance_errors: dict[str, str] = field(default_factory=dict)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)


def article_pages(files: dict[str, str], notices: list[Notice], *, index: bool = False,
                  territory=None) -> list[PageSpec]:
    """One page per Markdown file (name -> text), plus the index pages (`index`: even with no article, as
    the pages link to it where articles have a source). A refused article is named (file:line) and left out:
    nothing of it is published. `territory`: the configured one (its networks are named in the index)."""
    pages: list[PageSpec] = []
    listed: list[tuple[str, str, tuple[str, ...]]] = []
    for name in sorted(files):
        try:
            article = parse_article(files[name], name)
            body = to_yeswiki(article)
        except ArticleError as exc:
            notices.append(Notice("attention", "articles", None, Text("{problem}: not published",
                                                                      problem=exc.args[0])))
            continue
        tag = wiki_tag("Article", Path(name).stem)  # from the file name: a retitled article keeps its page
        pages.append(PageSpec(tag, article.title, body, "derived"))
        listed.append((tag, article.title, article.themes))
    if listed or index:
        pages += kb_index_pages(listed, territory=territory)
    return pages


def local_articles(cfg: Config, notices: list[Notice]) -> dict[str, str]:
    if not cfg.publish.articles_dir:
        return {}
    folder = cfg.path(cfg.publish.articles_dir)
    if not folder.is_dir():
        notices.append(Notice("attention", "articles", None, Text("articles folder {folder} does not exist",
                                                                  folder=str(folder))))
        return {}
    files: dict[str, str] = {}
    for path in sorted(folder.glob("*.md")):
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            notices.append(Notice("attention", "articles", None, Text("{name}: not UTF-8 text: not published",
                                                                      name=path.name)))
    return files


def desired_pages(cfg: Config, store, w: WikiConfig, articles: dict[str, str], notices: list[Notice], *,
                  include_deleted: bool = False) -> dict[str, str]:
    """Tag -> body of every derived page of this wiki. `include_deleted`: as if the deleted records were
    still there (the pages their deletion accounts for)."""
    pages: list[PageSpec] = []
    if cfg.publish.dashboards:
        actors = [{**r.fields, "id": r.id} for r in store.records("actor", include_deleted=include_deleted)]
        projects = [{**r.fields, "id": r.id} for r in store.records("project", include_deleted=include_deleted)]
        entry_ids = {l.record_id: l.remote_id for l in store.links(instance=w.name) if l.remote_id}
        pages += dashboard_pages(actors, projects, w.form_ids(), entry_ids=entry_ids,
                                 territory=cfg.local_territory())
    if articles or cfg.has_knowledge_base():
        pages += article_pages(articles, notices, index=cfg.has_knowledge_base(), territory=cfg.local_territory())
    return {p.tag: p.body for p in pages}


def publish_wikis(cfg: Config, store, *, dry_run: bool = False,
                  admin_factory: Callable[[WikiConfig], Any] | None = None,
                  skip: set[str] = frozenset(), articles: dict[str, str] | None = None,
                  policy: SyncPolicy | None = None) -> WikiPublishResult:
    """`skip`: wikis already known to be unusable this run (their sync failed). `articles`: Markdown files
    from the Nextclouds' knowledge-base folders (name -> text), besides the local folder of the config.
    `policy`: the deletion limits and what a person accepted for this run (DECISIONS §11, §24)."""
    policy = policy or SyncPolicy.of(cfg.sync)
    result = WikiPublishResult()
    article_notices: list[Notice] = []
    files = local_articles(cfg, article_notices)
    for name, text in (articles or {}).items():
        if name in files and files[name] != text:
            article_notices.append(Notice("attention", "articles", None, Text("{name} is both in the local folder "
                                                                              "and in Nextcloud: the local one is "
                                                                              "published", name=name)))
            continue
        files.setdefault(name, text)
    for w in cfg.wiki:
        if w.name in skip:
            continue
        wanted = desired_pages(cfg, store, w, files, article_notices if w is cfg.wiki[0] else [])
        state: dict[str, dict] = dict(store.get_state(STATE.format(wiki=w.name)) or {})
        todo = {tag: body for tag, body in wanted.items() if state.get(tag, {}).get("hash") != content_hash(body)}
        gone = sorted(tag for tag in state if tag not in wanted)
        if not todo and not gone:
            continue  # the quiet case: no request at all
        gone = _removable(cfg, store, w, files, wanted, gone, len(state), policy, result)
        if not todo and not gone:
            continue  # only refused removals: nothing to send
        if dry_run:
            for tag in sorted(todo):
                result.notices.append(Notice("info", w.name, None, Text("page {tag} would be written", tag=tag)))
            for tag in gone:
                result.notices.append(Notice("info", w.name, None, Text("page {tag} would be removed", tag=tag)))
            continue
        admin = (admin_factory or wiki_admin)(w)
        if isinstance(admin, str):
            result.instance_errors[w.name] = Text("{reason}: pages not published", reason=admin)
            continue
        try:
            _publish(cfg, w, admin, todo, gone, state, result)
        except TerminalError as exc:
            result.instance_errors[w.name] = exc.message
        finally:
            store.set_state(STATE.format(wiki=w.name), state)
            result.requests[w.name] = dict(admin.stats.counts)
            admin.close()
    result.notices[:0] = article_notices
    return result


def _removable(cfg: Config, store, w: WikiConfig, files: dict[str, str], wanted: dict[str, str], gone: list[str],
               published: int, policy: SyncPolicy, result: WikiPublishResult) -> list[str]:
    """The pages no longer produced that may be removed this run. Those that deleted records account for
    (they would still be produced with the deleted records) go: that deletion was accepted already. The others
    count against the limit, unless a person accepted that many."""
    if not policy.refuses(len(gone), published):
        return gone  # within the limits: no need to look further
    explained = set(desired_pages(cfg, store, w, files, [], include_deleted=True)) - set(wanted)
    gone, refused = policy.split(gone, explained, published)
    if refused:
        n = len(refused)
        shown = (Text("{pages} and {n} more", pages=", ".join(refused[:5]), n=n - 5) if n > 5
                 else ", ".join(refused))
        result.notices.append(Notice(
            "attention", w.name, None,
            Text("page deletions refused: {n} pages are no longer produced and no deleted record accounts for them "
                 "(limit {limit} of {count}): {pages}; none of them removed; if that is expected (an article "
                 "removed, dashboards turned off), accept them once with `oscartes-sync sync --allow-deletes {n}`",
                 n=n, limit=policy.limit(published), count=published, pages=shown), kind=REFUSED_DELETION))
    return gone


def _publish(cfg: Config, w: WikiConfig, admin, todo: dict[str, str], gone: list[str], state: dict[str, dict],
             result: WikiPublishResult) -> None:
    def note(level: str, message: str) -> None:
        result.notices.append(Notice(level, w.name, None, message))

    for tag, body in sorted(todo.items()):
        ours = state.get(tag)
        try:
            current = admin.get_page(tag)
            if current is not None and ours and current.revision != ours.get("revision"):
                note("attention", Text("page {tag} was edited in the wiki since the service wrote it: not "
                                       "overwritten (copy the edit into the source, or delete the page to let the "
                                       "service write it again)", tag=tag))
                continue
            if current is not None and not ours and current.body.rstrip() != body.rstrip():
                note("attention", Text("page {tag} already exists and was not written by the service: left alone",
                                       tag=tag))
                continue
            page = admin.save_page(tag, body, previous=current.revision if current else None)
        except TerminalError:
            raise
        except TargetError as exc:
            note("attention", Text("page {tag}: {message}", tag=tag, message=exc.message))
            continue
        state[tag] = {"hash": content_hash(body), "revision": page.revision}
        result.writes[w.name] = result.writes.get(w.name, 0) + 1
        result.written.setdefault(w.name, []).append(tag)

    for tag in gone:
        try:
            current = admin.get_page(tag)
            if current is not None and current.revision != state[tag].get("revision"):
                note("attention", Text("page {tag} is no longer produced but was edited by hand: left in place",
                                       tag=tag))
            elif current is not None:
                admin.delete_page(tag)
                result.writes[w.name] = result.writes.get(w.name, 0) + 1
                result.removed.setdefault(w.name, []).append(tag)
        except TerminalError:
            raise
        except TargetError as exc:
            note("attention", Text("page {tag}: {message}", tag=tag, message=exc.message))
            continue
        del state[tag]
