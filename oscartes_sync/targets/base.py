"""The one small interface every kind of instance speaks, and its error types.

A target knows nothing of records or the store: it speaks the remote system's language (entry ids, raw
field dicts). Errors are split the dlt way: a TransientError may succeed on a later run and stops nothing
but the one call; a TerminalError means this instance is not usable for the rest of the run (bad token,
HTML where JSON is due, unreachable host); an EntryError refuses one entry and lets the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class TargetError(Exception):
    """Base of every error raised by a target. `instance` names the instance, never a secret."""

    def __init__(self, instance: str, message: str):
        super().__init__(f"{instance}: {message}")
        self.instance = instance
        self.message = message


class TransientError(TargetError):
    """May work on a later try: timeout, connection reset, 5xx that is not a disguised refusal."""


class TerminalError(TargetError):
    """The instance cannot be used this run: authentication refused, wrong kind of answer, misconfiguration."""


class AuthError(TerminalError):
    """Credentials refused (401/403). Stop at once: repeated failures lock hosts out."""


class EntryError(TargetError):
    """One entry was refused (e.g. a title the wiki cannot derive an id from). Other entries go on."""


class ListingFailed(TargetError):
    """A listing could not be trusted (error, or an answer that is not a listing). Never act on it."""


@dataclass(frozen=True)
class EntryVersion:
    """One entry as read back from an instance just before or after a write.

    `revision` is an opaque token that changes on every save (YesWiki: the pages.id revision id);
    None where the instance has none.
    """

    remote_id: str
    values: dict[str, Any]
    revision: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class Revision:
    id: str
    time: str
    user: str


@dataclass(frozen=True)
class ListedEntry:
    """One entry of a listing as the engine reads it: the form's values, and what the instance says of the
    entry in its own way (YesWiki: `statut_fiche`, `date_maj_fiche`, `user`), told in plain words."""

    values: dict[str, Any]
    validated: bool = True  # moderation: False while the entry awaits validation (DECISIONS §6)
    updated: str = ""  # last modification, as the instance's clock writes it (for newest-wins only)
    user: str = ""  # last editor, for the record's history


@dataclass(frozen=True)
class FileUpload:
    """A file to send in a field of an entry (an image field's value on create or update): the target sends
    it the way its instance takes files (YesWiki: a multipart part named after the field)."""

    name: str  # the file name shown to members, with the extension of its real type
    data: bytes
    content_type: str

    def __repr__(self) -> str:  # never dump the bytes into a log or a test failure
        return f"FileUpload({self.name!r}, {len(self.data)} bytes, {self.content_type})"


@dataclass(frozen=True)
class FormShape:
    """What a target must know of one form to write an entry of it: the key of its title and the keys the
    instance drops unless they are re-sent with every update (YesWiki's map field, contract §3.4)."""

    title_key: str = "bf_titre"
    resend_keys: tuple[str, ...] = ()


class EntryTarget(Protocol):
    """What the sync engine needs from a wiki-like instance; every target passes the contract suite
    (tests/targets/test_target_contract.py). Values are the instance's own keys and strings."""

    name: str
    stats: "RequestStats"

    def listing(self, form_id: str) -> dict[str, ListedEntry]:
        """All entries of a form keyed by remote id. Raises ListingFailed or TerminalError."""

    def read_entry(self, remote_id: str) -> EntryVersion | None:
        """The current version of one entry, with its revision token; None if it does not exist."""

    def listed_entry(self, remote_id: str) -> ListedEntry | None:
        """One entry read alone, as a listing would show it; None if it does not exist (webhook re-read)."""

    def create_entry(self, form_id: str, values: dict[str, Any], source_url: str) -> str:
        """Create an entry carrying the source anchor; return its remote id. Never sends an id."""

    def find_by_source(self, source_url: str) -> list[str]:
        """Remote ids of the entries created with this source anchor (crash recovery, lost store)."""

    def source_of(self, remote_id: str) -> str | None:
        """The source anchor an entry was created with, or None (a member's own entry)."""

    def write_changes(self, form_id: str, remote_id: str, changes: dict[str, Any], current: EntryVersion) -> None:
        """Merge `changes` into the entry whose version `current` was just read; whatever else the instance
        needs to keep the other values (the title, the map field) the target adds itself."""

    def delete_entry(self, remote_id: str) -> None:
        """Remove one entry."""

    def download_file(self, name: str, max_bytes: int) -> bytes | None:
        """The bytes of a file an entry field names (at most `max_bytes` + 1 of them: the caller tells a file
        above the limit by its length); None when the instance does not have it."""

    def file_label(self, name: str, key: str) -> str:
        """The name a member gave the file stored as `name` in field `key` (what an upload elsewhere reuses)."""

    def file_url(self, name: str) -> str:
        """Where anyone downloads the file stored as `name`."""

    def revisions(self, remote_id: str) -> list[Revision]:
        """Revisions of one entry, newest first."""

    def read_revision(self, remote_id: str, revision: Revision) -> dict[str, Any] | None:
        """The values an entry had at one revision."""

    def close(self) -> None:
        """Release the connections."""


@dataclass
class RequestStats:
    """Requests sent to one instance during a run, by verb, for the run report and the cost tests."""

    counts: dict[str, int] = field(default_factory=dict)

    def count(self, verb: str) -> None:
        self.counts[verb] = self.counts.get(verb, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())
