"""The service's store: the source of truth (records, history, links, conflicts, review queue, runs)."""

from oscartes_sync.store.api import (
    ConflictRow,
    LinkRow,
    NotFoundError,
    RecordRow,
    ReviewRow,
    RevisionRow,
    RunRow,
    Store,
    StoreError,
    redact_url,
)

__all__ = [
    "ConflictRow", "LinkRow", "NotFoundError", "RecordRow", "ReviewRow", "RevisionRow", "RunRow", "Store",
    "StoreError", "redact_url",
]
