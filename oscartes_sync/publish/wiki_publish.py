"""What `sync` publishes in each wiki besides entries (DECISIONS §16): dashboards computed from the store and
knowledge-base articles, each page rewritten only when its content changed (DECISIONS §13).

What was last published is remembered per wiki and page (content hash and revision), so a quiet run sends no
request at all for pages. It costs no rendering either: each page also remembers the hash of its inputs (the
records and entry ids its body is made from, `pages.PagePlan`), and is rendered again only when they moved; a
wiki whose records, entry ids and articles did not move at all since its last complete publication is not even
looked at (`publish/{wiki}/inputs`, from the store's keys: `store.view.StoreView.signature`). A page edited by
hand since the service wrote it is not overwritten (reported), and a page nothing produces any more is removed. When its records were deleted (tombstones: accepted within the
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
from ..store.view import StoreView
from ..sync.model import REFUSED_DELETION, Notice, SyncPolicy
from ..sync.quiet import code_version
from ..text import Text, decode_note, encode_note
from ..targets.base import TargetError, TerminalError
from .markdown import ArticleError, parse_article, to_yeswiki
from .pages import PagePlan, PageSpec, dashboard_plans, kb_index_pages, wiki_tag

STATE = "publish/{wiki}/pages"  # state key: {tag: {"hash": ..., "revision": ..., "inputs": ...}}
INPUTS = "publish/{wiki}/inputs"  # state key: the signature of everything the wiki's pages were made from
ARTICLES = "publish/articles"  # state key: the knowledge-base pages last made, and from what
FORMAT = 1  # moves when what a page is made from changes shape: every page is rendered again once


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


class Articles:
    """The knowledge-base pages of one run: the same in every wiki, so made at most once, and not at all when
    the articles did not move since they were last made (`publish/articles`: their hash, the pages they gave
    and the articles refused, which are named again on every run until fixed)."""

    def __init__(self, cfg: Config, files: dict[str, str], store=None):
        self.cfg, self.files, self.store = cfg, files, store
        self.wanted = bool(files) or cfg.has_knowledge_base()
        territory = cfg.local_territory()
        self.inputs = content_hash([FORMAT, code_version(), files, cfg.has_knowledge_base(), territory.name,
                                    territory.source])
        known = store.get_state(ARTICLES) if store is not None else None
        self.known = known if isinstance(known, dict) and known.get("inputs") == self.inputs else None
        self._pages: dict[str, PageSpec] | None = None
        self._notices: list[Notice] = []

    def _make(self) -> dict[str, PageSpec]:
        if self._pages is None:
            made = article_pages(self.files, self._notices, index=self.cfg.has_knowledge_base(),
                                 territory=self.cfg.local_territory())
            self._pages = {p.tag: p for p in made}
        return self._pages

    def notices(self) -> list[Notice]:
        if not self.wanted:
            return []
        if self.known is not None and self._pages is None:
            return [Notice("attention", "articles", None, decode_note(m)) for m in self.known.get("refused", [])]
        self._make()
        return list(self._notices)

    def plans(self) -> list[PagePlan]:
        if not self.wanted:
            return []
        tags = self.known["tags"] if self.known is not None and self._pages is None else list(self._make())
        return [PagePlan(tag, "", self.inputs, lambda tag=tag: self._make()[tag].body) for tag in tags]

    def save(self) -> None:
        if self.store is not None and self._pages is not None:
            self.store.set_state(ARTICLES, {"inputs": self.inputs, "tags": list(self._pages),
                                            "refused": [encode_note(n.message) for n in self._notices]})


def desired_pages(cfg: Config, store, w: WikiConfig, articles: dict[str, str], notices: list[Notice], *,
                  include_deleted: bool = False, view: StoreView | None = None) -> dict[str, str]:
    """Tag -> body of every derived page of this wiki. `include_deleted`: as if the deleted records were
    still there (the pages their deletion accounts for)."""
    made = Articles(cfg, articles)
    out = {tag: p.render() for tag, p in page_plans(cfg, view or StoreView(store), w, made,
                                                     include_deleted=include_deleted).items()}
    notices += made.notices()
    return out


def page_plans(cfg: Config, view: StoreView, w: WikiConfig, articles: Articles, *,
               include_deleted: bool = False) -> dict[str, PagePlan]:
    """Tag -> every derived page of this wiki, not rendered yet."""
    plans: list[PagePlan] = []
    if cfg.publish.dashboards:
        actors = [{**r.fields, "id": r.id} for r in view.records_of_kind("actor", include_deleted=include_deleted)]
        projects = [{**r.fields, "id": r.id}
                    for r in view.records_of_kind("project", include_deleted=include_deleted)]
        entry_ids = {rid: ids[w.name] for rid, ids in view.remote_ids([w.name]).items()}
        plans += dashboard_plans(actors, projects, w.form_ids(), entry_ids=entry_ids,
                                 territory=cfg.local_territory())
    plans += articles.plans()
    return {p.tag: p for p in plans}


def _signature(cfg: Config, view: StoreView, w: WikiConfig, articles: dict[str, str]) -> str:
    """Everything the wiki's derived pages are made from, as one hash, without reading a record's fields."""
    territory = cfg.local_territory()
    return content_hash([FORMAT, code_version(), view.signature(["actor", "project"], [w.name]), w.form_ids(),
                         cfg.publish.dashboards, cfg.has_knowledge_base(), articles,
                         [territory.name, territory.map.params(), territory.source]])


def publish_wikis(cfg: Config, store, *, dry_run: bool = False,
                  admin_factory: Callable[[WikiConfig], Any] | None = None,
                  skip: set[str] = frozenset(), articles: dict[str, str] | None = None,
                  policy: SyncPolicy | None = None, view: StoreView | None = None) -> WikiPublishResult:
    """`skip`: wikis already known to be unusable this run (their sync failed). `articles`: Markdown files
    from the Nextclouds' knowledge-base folders (name -> text), besides the local folder of the config.
    `policy`: the deletion limits and what a person accepted for this run (DECISIONS §11, §24). `view`: what
    this run read of records and links (the sync's, when it has one)."""
    policy = policy or SyncPolicy.of(cfg.sync)
    view = view or StoreView(store)
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
    made = Articles(cfg, files, store)
    for w in cfg.wiki:
        if w.name in skip:
            continue
        signature = _signature(cfg, view, w, files)
        if store.get_state(INPUTS.format(wiki=w.name)) == signature:
            continue  # the quiet case: nothing any page is made from moved since every page was published
        wanted = page_plans(cfg, view, w, made)
        state: dict[str, dict] = dict(store.get_state(STATE.format(wiki=w.name)) or {})
        todo: dict[str, tuple[str, str]] = {}  # tag -> (body, inputs)
        known_again = False
        for tag, plan in wanted.items():
            mine = state.get(tag)
            if mine is not None and mine.get("inputs") == plan.inputs:
                continue  # made from what it was published from: the same body
            body = plan.render()
            if mine is not None and mine.get("hash") == content_hash(body):
                state[tag] = {**mine, "inputs": plan.inputs}  # same body from other inputs: nothing to send
                known_again = True
                continue
            todo[tag] = (body, plan.inputs)
        gone = every_gone = sorted(tag for tag in state if tag not in wanted)
        if not todo and not gone:
            if not dry_run:
                if known_again:
                    store.set_state(STATE.format(wiki=w.name), state)
                store.set_state(INPUTS.format(wiki=w.name), signature)
            continue  # no request at all
        gone = _removable(cfg, store, view, w, files, wanted, gone, len(state), policy, result)
        if not todo and not gone:
            if not dry_run and known_again:
                store.set_state(STATE.format(wiki=w.name), state)
            continue  # only refused removals: nothing to send (and looked at again next run)
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
        complete = False
        try:
            complete = _publish(cfg, w, admin, todo, gone, state, result) and gone == every_gone
        except TerminalError as exc:
            result.instance_errors[w.name] = exc.message
        finally:
            store.set_state(STATE.format(wiki=w.name), state)
            # every page as it should be: the next run need not look at this wiki until something moves
            store.set_state(INPUTS.format(wiki=w.name), signature if complete else None)
            result.requests[w.name] = dict(admin.stats.counts)
            admin.close()
    article_notices += made.notices()  # once, whichever wikis were looked at
    if not dry_run:
        made.save()
    result.notices[:0] = article_notices
    return result


def _removable(cfg: Config, store, view: StoreView, w: WikiConfig, files: dict[str, str], wanted: dict[str, Any],
               gone: list[str], published: int, policy: SyncPolicy, result: WikiPublishResult) -> list[str]:
    """The pages no longer produced that may be removed this run. Those that deleted records account for
    (they would still be produced with the deleted records) go: that deletion was accepted already. The others
    count against the limit, unless a person accepted that many."""
    if not policy.refuses(len(gone), published):
        return gone  # within the limits: no need to look further
    explained = set(page_plans(cfg, view, w, Articles(cfg, files), include_deleted=True)) - set(wanted)
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


def _publish(cfg: Config, w: WikiConfig, admin, todo: dict[str, tuple[str, str]], gone: list[str],
             state: dict[str, dict], result: WikiPublishResult) -> bool:
    """Write and remove; whether every page ended as it should be (nothing left for a person or a later run)."""
    complete = True

    def note(level: str, message: str) -> None:
        nonlocal complete
        complete = False
        result.notices.append(Notice(level, w.name, None, message))

    for tag, (body, inputs) in sorted(todo.items()):
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
        state[tag] = {"hash": content_hash(body), "revision": page.revision, "inputs": inputs}
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
    return complete
