"""The service's store: the source of truth (records, history, links, conflicts, review queue, runs)."""

from oscartes_sync.store.api import (
    ConflictRow,
    LinkKey,
    LinkRow,
    NotFoundError,
    RecordKey,
    RecordRow,
    ReviewRow,
    RevisionRow,
    RunRow,
    Store,
    StoreError,
    redact_url,
)

__all__ = [
    "ConflictRow", "LinkKey", "LinkRow", "NotFoundError", "RecordKey", "RecordRow", "ReviewRow", "RevisionRow",
    "RunRow", "Store", "StoreError", "redact_url",
]
