"""Files of image fields (DECISIONS §7): from a file name a wiki stores to the content hash the sync compares,
and from a hash back to bytes to upload elsewhere.

An image field's canonical value is `sha256:<hex>` of its file, so one picture is one value in every wiki,
whatever the file is called there. The store keeps, per wiki and kind, what each stored file name holds
(state `files/<wiki>/<kind>`: name -> hash, size, type and the member's file name, or the reason it was
refused); it does not keep the bytes. Why: the wikis already hold every file and serve it to anyone, so a copy
in the store would double the storage of a directory's logos (and of every backup) to save one download per
changed picture; and a name, once a wiki has stored a file under it, keeps that content (a new upload gets a new
timestamped name), so a name seen before is never downloaded again. A quiet run therefore downloads nothing:
only a name never seen (a member's new upload) is fetched once, checked (a real PNG, JPEG, GIF or WebP by its
bytes, within the configured size) and hashed; a refused one is remembered with its reason and not fetched
again. Sending a picture to another wiki downloads it from a wiki that has it, checks that it still has that
hash, and hands it to the target as a `FileUpload`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import clean
from ..targets.base import EntryTarget, FileUpload, TargetError
from ..text import Text, restored, stored

DEFAULT_MAX_BYTES = 2_000_000


def state_key(instance: str, kind: str) -> str:
    return f"files/{instance}/{kind}"


@dataclass
class FileResolver:
    """Stored file names of one wiki's form of one kind -> hashes, for one run (fields.FileResolver)."""

    instance: str
    kind: str
    target: EntryTarget
    max_bytes: int = DEFAULT_MAX_BYTES
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry key -> what was just uploaded
    fresh: dict[str, bytes] = field(default_factory=dict)  # hash -> bytes downloaded this run (sent without a
    # second download)

    @classmethod
    def load(cls, store, instance: str, kind: str, target: EntryTarget, max_bytes: int) -> "FileResolver":
        known = store.get_state(state_key(instance, kind))
        known = known if isinstance(known, dict) else {}
        return cls(instance, kind, target, max_bytes, {k: dict(v) for k, v in known.items()}, known)

    def resolve(self, key: str, name: str) -> clean.Cleaned:
        self.seen.add(name)
        info = self.cache.get(name)
        if info is None and key in self.expected:
            # the name the wiki gave the file we just uploaded in that field: it holds what we sent
            info = self.cache[name] = {**self.expected.pop(key), "label": self.target.file_label(name, key)}
        if info is None:
            try:
                data = self.target.download_file(name, self.max_bytes)
            except TargetError as exc:  # not remembered: tried again next run
                return clean.Cleaned(None, Text("file {file} could not be downloaded ({reason}); read again on "
                                                "the next run", file=name, reason=exc.message))
            info = self.cache[name] = _check(data, name, key, self.target, self.max_bytes)
            if data is not None and "sha256" in info:
                self.fresh[info["sha256"]] = data
        if info.get("problem"):
            return clean.Cleaned(None, restored(info["problem"]))
        return clean.Cleaned(info["sha256"])

    def keep(self, entries, fmap) -> None:
        """The files named by entries not read this run (their raw values did not move, sync/quiet.py): still
        there, so not forgotten by `save`."""
        keys = [fmap.keys[f] for f in fmap.file_fields]
        for values in entries:
            for key in keys:
                if values.get(key):
                    name = clean.stored_file_name(values[key])
                    if name.ok and name.value is not None:
                        self.seen.add(name.value)

    def expect(self, key: str, digest: str, upload: FileUpload) -> None:
        """The next unknown name read in field `key` is the file just uploaded there."""
        self.expected[key] = {"sha256": digest, "size": len(upload.data), "type": upload.content_type,
                              "ext": upload.name.rsplit(".", 1)[-1]}

    def names_of(self, digest: str) -> list[str]:
        return sorted(n for n, i in self.cache.items() if i.get("sha256") == digest)

    def save(self, store) -> None:
        """Remember what the names read this run hold (a name no longer listed is forgotten)."""
        keep = {n: i for n, i in self.cache.items() if n in self.seen}
        if keep != self.loaded:
            store.set_state(state_key(self.instance, self.kind), keep)
            self.loaded = keep


    def save_read(self, store) -> None:
        """Remember what the names read hold, keeping every other name: a run that read one entry (the webhook
        trigger) knows nothing of the names it did not list."""
        keep = {**self.loaded, **{n: i for n, i in self.cache.items() if n in self.seen}}
        if keep != self.loaded:
            store.set_state(state_key(self.instance, self.kind), keep)
            self.loaded = keep


def _check(data: bytes | None, name: str, key: str, target: EntryTarget, max_bytes: int) -> dict[str, Any]:
    if data is None:
        return {"problem": stored(Text("file {file} is missing on the wiki", file=name))}
    checked = clean.image_content(data, max_bytes)
    if not checked.ok:
        return {"problem": stored(checked.problem)}
    info: clean.ImageInfo = checked.value
    return {"sha256": clean.file_hash(data), "size": len(data), "type": info.mime, "ext": info.extension,
            "label": target.file_label(name, key)}


class FileSource:
    """Bytes of a picture to send, fetched from a wiki that holds it (each at most once per run)."""

    def __init__(self, resolvers: dict[str, FileResolver]):
        self.resolvers = resolvers  # usable wikis of the kind being executed
        self._fetched: dict[str, FileUpload] = {}

    def upload(self, digest: str) -> FileUpload | str:
        """The file to upload for `digest`, or why it cannot be had this run."""
        if digest in self._fetched:
            return self._fetched[digest]
        why = Text("no wiki read this run holds it")
        for res in self.resolvers.values():
            for name in res.names_of(digest):
                info = res.cache[name]
                try:
                    data = res.fresh.get(digest) or res.target.download_file(name, res.max_bytes)
                except TargetError as exc:
                    why = Text("{wiki}: {reason}", wiki=res.instance, reason=exc.message)
                    continue
                if data is None or clean.file_hash(data) != digest:
                    # gone, or replaced under the same name: forget it, the next listing reads it again
                    del res.cache[name]
                    why = Text("file {file} of {wiki} is missing or changed", file=name, wiki=res.instance)
                    continue
                label = str(info.get("label") or name)
                stem = label.rsplit(".", 1)[0] if "." in label else label
                upload = FileUpload(f"{stem}.{info.get('ext') or 'png'}", data, str(info.get("type")))
                self._fetched[digest] = upload
                return upload
        return why
