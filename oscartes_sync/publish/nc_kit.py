"""The replication kit's archive in each Nextcloud, with a public link (issue 17, item 4).

The archive is derived from the set-up (templates, parameters, settings), so it is written once per run when,
and only when, its bytes changed (DECISIONS §13): the zip is byte-stable (publish/kit.py), and what was last
written is remembered per instance (the digest of its sources, its content hash, ETag and public link). A quiet
run neither builds the archive (its sources are unchanged) nor sends any request. The folder gets one
read-only public link, created once and remembered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..config import NextcloudConfig
from ..store import Store
from ..sync.model import Notice
from ..text import Text
from ..targets.base import EntryError
from ..targets.nextcloud import NextcloudClient
from .kit import KitArchive

KIT_FILE = "oscartes-kit.zip"


def state_key(instance: str) -> str:
    return f"nextcloud:{instance}:kit"


@dataclass
class KitOutcome:
    writes: int = 0
    planned: int = 0
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None
    link: str | None = None


def sync_kit(client: NextcloudClient, nc: NextcloudConfig, store: Store, archive: KitArchive, *,
             dry_run: bool = False) -> KitOutcome:
    """Write the kit archive into the instance's kit folder when its sources changed; share the folder once."""
    out = KitOutcome()
    source = archive.source
    state = store.get_state(state_key(nc.name))
    state = dict(state) if isinstance(state, dict) and state.get("folder") == nc.kit_folder else {}
    out.link = state.get("link")
    if state.get("source") == source and state.get("link"):
        return out  # the quiet case: nothing built, nothing sent
    data = archive.data()
    digest = hashlib.sha256(data).hexdigest()
    if dry_run:
        if state.get("hash") != digest or not state.get("link"):
            out.planned = 1
            out.notices.append(Notice("info", nc.name, None,
                                      Text("dry run: would write the kit archive to '{folder}'",
                                           folder=nc.kit_folder)))
        return out
    path = f"{nc.kit_folder}/{KIT_FILE}"
    try:
        if state.get("hash") != digest:
            client.makedirs(nc.kit_folder)
            state.update(folder=nc.kit_folder, hash=digest,
                         etag=client.put(path, data, content_type="application/zip"))
            out.writes = 1
        state["source"] = source
        if not state.get("link"):
            state["link"] = client.share_public_link(nc.kit_folder)
            out.notices.append(Notice("info", nc.name, None, Text("replication kit published at {link}",
                                                                  link=state["link"])))
    except EntryError as exc:
        out.error = Text("kit archive not published in '{folder}': {reason}", folder=nc.kit_folder,
                         reason=exc.message)
    store.set_state(state_key(nc.name), state)
    out.link = state.get("link")
    return out
