"""Knowledge-base articles that members edit in a Nextcloud folder (issue 4, item 4).

One PROPFIND (Depth 1) of the folder per run; a file is downloaded only when its ETag or size changed, or
when it was modified less than 2 s before our previous look (DECISIONS §14: ETags can stay the same within
one second). What was read is kept in the store with its text, so a run whose listing fails still knows the
articles (nothing is unpublished on a failed listing) and a quiet run downloads nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..config import NextcloudConfig
from ..hashing import content_hash
from ..sync.model import Notice
from ..text import Text
from ..targets.base import TargetError, TerminalError

SAME_SECOND = timedelta(seconds=2)


@dataclass
class ArticlesRead:
    files: dict[str, str] = field(default_factory=dict)  # file name (NFC) -> Markdown text
    notices: list[Notice] = field(default_factory=list)
    downloads: int = 0
    error: str | None = None


def state_key(nc: NextcloudConfig) -> str:
    return f"nextcloud:{nc.name}:articles"


def known_articles(store, nc: NextcloudConfig) -> dict[str, str]:
    """The articles of the last successful read (used when this run could not list the folder)."""
    state = store.get_state(state_key(nc)) or {}
    return {name: f["text"] for name, f in state.get("files", {}).items()}


def read_articles(client, nc: NextcloudConfig, store, *, dry_run: bool = False,
                  clock: Callable[[], datetime] | None = None) -> ArticlesRead:
    out = ArticlesRead()
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    state = store.get_state(state_key(nc)) or {}
    cached: dict[str, dict] = state.get("files", {})
    last_look = _parse(state.get("looked_at"))
    folder = nc.articles_folder.strip("/")
    try:
        items = client.propfind(folder, 1)
        if not items:
            if not dry_run:
                client.makedirs(folder)  # where members put their articles: there from the first run on
            items = []
    except TerminalError:
        raise
    except TargetError as exc:
        out.error = f"articles folder not read: {exc.message}"
        out.files = known_articles(store, nc)
        return out
    files: dict[str, dict] = {}
    for item in items:
        name = unicodedata.normalize("NFC", item.path.rsplit("/", 1)[-1])
        if item.is_dir or item.path.strip("/") == folder or not name.lower().endswith(".md"):
            continue
        old = cached.get(name)
        modified = item.modified.isoformat() if item.modified else None
        fresh_enough = (old is not None and old.get("etag") == item.etag and old.get("size") == item.size
                        and last_look is not None and item.modified is not None
                        and item.modified < last_look - SAME_SECOND)
        if fresh_enough:
            files[name] = old
            continue
        try:
            data, etag = client.get(f"{folder}/{name}")
        except TerminalError:
            raise
        except TargetError as exc:
            out.notices.append(Notice("attention", nc.name, None, Text("article {name} not read: {message}",
                                                                       name=name, message=exc.message)))
            if old is not None:
                files[name] = old
            continue
        out.downloads += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            out.notices.append(Notice("attention", nc.name, None,
                                      Text("article {name}: not UTF-8 text: not published", name=name)))
            continue
        files[name] = {"etag": etag or item.etag, "size": item.size, "modified": modified,
                       "hash": content_hash(text), "text": text}
    out.files = {name: f["text"] for name, f in files.items()}
    shared = bool(state.get("shared"))
    if not dry_run and not shared:
        # members edit the folder from their own accounts: share it with the network's group, once
        try:
            client.share_with_group(folder, nc.group, read_only=False)
            shared = True
        except TerminalError:
            raise
        except TargetError as exc:
            out.notices.append(Notice("attention", nc.name, None, Text("articles folder not shared with group "
                                                                       "'{group}': {message}",
                                                                       group=nc.group, message=exc.message)))
    if not dry_run:
        store.set_state(state_key(nc), {"looked_at": now.isoformat(), "files": files, "shared": shared})
    return out


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
