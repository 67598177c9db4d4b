"""Title normalisation and the duplicate gate (DECISIONS §1).

`match` tells, for an entry with no link to a record, which record is surely the same actor (same valid SIRET;
or same normalised title in the same place) and which ones only look alike (fuzzy title score). Only a sure
match is linked automatically; likely ones go to the review queue. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from rapidfuzz import fuzz, process

from .clean import clean
from .geo import name_key
from .normalise import title as normalise_title

LIKELY_THRESHOLD_PLACE = 85.0  # likely when the titles are this close in the same place
LIKELY_THRESHOLD_ANYWHERE = 95.0


@dataclass(frozen=True)
class MatchResult:
    sure: str | None = None
    likely: list[tuple[str, float]] = field(default_factory=list)


@lru_cache(maxsize=65536)
def _facts_of(name: str, siret: str, commune: str, postcode: str, insee: str) -> "_Facts":
    title = normalise_title(name)
    return _Facts(
        title=title,
        core=_core(title, name_key(commune)),
        siret=clean("siret", siret).value,
        commune=name_key(commune) or None,
        postcode=clean("postcode", postcode).value,
        insee=clean("insee", insee).value,
    )


# Words that say nothing of who an actor is; with the commune's own words they are left out of the fuzzy
# comparison, so that "Énergies citoyennes d'Évry" and "AMAP d'Évry" are not look-alikes for their place.
CORE_VETO = 60
FILLER_WORDS = frozenset("a au aux d de des du en et l la le les sur sous".split())


def _core(title: str, commune_key: str) -> str:
    place = set(commune_key.replace("-", " ").split()) if commune_key else set()
    words = [w for w in title.split() if w not in FILLER_WORDS and w not in place]
    return " ".join(words) or title


def _numbers(title: str) -> list[str]:
    return sorted(w for w in title.split() if w.isdigit())


@dataclass(frozen=True)
class _Facts:
    title: str
    core: str
    siret: str | None
    commune: str | None
    postcode: str | None
    insee: str | None


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _facts(d: dict) -> _Facts:
    # Cached on the values: a store of 10,000 actors is matched against every new entry of a first import.
    return _facts_of(_s(d.get("name")), _s(d.get("siret")), _s(d.get("commune")), _s(d.get("postcode")),
                     _s(d.get("insee")))


def _same_place(a: _Facts, b: _Facts) -> bool:
    return bool(
        (a.commune and a.commune == b.commune)
        or (a.postcode and a.postcode == b.postcode)
        or (a.insee and a.insee == b.insee)
    )


class MatchIndex:
    """`match` against the same records many times (a first import): indexes SIRETs and titles once."""

    def __init__(self, records: Iterable[tuple[str, dict]]):
        self._ids: list[str] = []
        self._facts: list[_Facts] = []
        self._by_siret: dict[str, list[int]] = {}
        self._by_title: dict[str, list[int]] = {}
        self._titles: list[str] = []
        for rid, rec in records:
            self.add(rid, rec)

    def add(self, rid: str, rec: dict) -> None:
        """One more record to match against (a record made earlier in the same run)."""
        f = _facts(rec)
        i = len(self._ids)
        self._ids.append(rid)
        self._facts.append(f)
        self._titles.append(f.title)
        if f.siret:
            self._by_siret.setdefault(f.siret, []).append(i)
        if f.title:
            self._by_title.setdefault(f.title, []).append(i)

    def match(self, candidate: dict) -> MatchResult:
        c = _facts(candidate)
        scores: dict[str, float] = {}
        same_siret = self._by_siret.get(c.siret, []) if c.siret else []
        by_siret = self._ids[same_siret[0]] if same_siret else None
        for i in same_siret[1:]:
            scores[self._ids[i]] = 100.0  # a second record with the same SIRET: already a duplicate in the store
        by_title: str | None = None
        by_title_index: int | None = None
        for i in self._by_title.get(c.title, []) if c.title else []:
            r = self._facts[i]
            if c.siret and r.siret == c.siret:
                continue
            if _same_place(c, r) and not (c.siret and r.siret and c.siret != r.siret):
                by_title, by_title_index = self._ids[i], i
                break
        if c.title:
            found = process.extract(c.title, self._titles, scorer=fuzz.token_set_ratio,
                                    score_cutoff=LIKELY_THRESHOLD_PLACE, limit=None)
            for _, score, i in found:
                r = self._facts[i]
                rid = self._ids[i]
                if i == by_title_index or (c.siret and r.siret == c.siret):
                    continue
                if fuzz.token_set_ratio(c.core, r.core) < CORE_VETO:
                    continue  # alike only by their place name and filler words
                if _numbers(c.title) != _numbers(r.title):
                    continue  # "Jardin partagé 1" and "Jardin partagé 2" are two gardens
                if score >= LIKELY_THRESHOLD_ANYWHERE or _same_place(c, r):
                    scores[rid] = max(float(score), scores.get(rid, 0.0))
        sure = by_siret or by_title
        if by_siret and by_title and by_title != by_siret:
            # The title match points elsewhere than the SIRET: a person should look at it.
            scores[by_title] = 100.0
        if sure:
            scores.pop(sure, None)
        likely = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return MatchResult(sure=sure, likely=likely)


def match(candidate: dict, records: Iterable[tuple[str, dict]]) -> MatchResult:
    """Sure and likely duplicates of `candidate` among `records` (canonical field names).

    Sure: the same valid SIRET; or the same normalised title and the same commune, postcode or INSEE code —
    unless both carry valid SIRETs that differ (two establishments), which is only likely.
    Likely: token-set ratio of the normalised titles ≥ 85 in the same place, or ≥ 95 anywhere.
    """
    return MatchIndex(records).match(candidate)
