"""Three-way merge of one field: the last agreed value, and what each instance changed since."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldOutcome:
    value: Any  # the record's value after the merge (the last agreed one while in conflict)
    conflict: dict[str, Any] | None = None  # instance -> candidate value
    origins: tuple[str, ...] = ()  # instances whose change the value comes from


def merge_field(base: Any, changes: dict[str, Any], updated: dict[str, str] | None = None) -> FieldOutcome:
    """`changes` maps each instance that changed the field since the last sync to its new value.

    One distinct new value wins. Several distinct values are a conflict: the base stays and both candidates
    are kept, unless `updated` (newest-wins, asked for in the config) names a single newest instance.
    """
    if not changes:
        return FieldOutcome(base)
    distinct = {_key(v) for v in changes.values()}
    if len(distinct) == 1:
        return FieldOutcome(next(iter(changes.values())), None, tuple(sorted(changes)))
    if updated:
        stamps = {inst: updated.get(inst, "") for inst in changes}
        newest = max(stamps.values())
        winners = [inst for inst, stamp in stamps.items() if stamp == newest]
        if newest and len({_key(changes[w]) for w in winners}) == 1:
            return FieldOutcome(changes[winners[0]], None, tuple(sorted(winners)))
    return FieldOutcome(base, dict(sorted(changes.items())), ())


def _key(value: Any) -> str:
    # Values are JSON-like (str, float, list of str, None); repr distinguishes 1.0 from "1.0".
    return repr(value)
