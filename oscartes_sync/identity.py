"""Which record an entry is: the duplicate gate (DECISIONS §1), with a score and the evidence behind it.

An entry no link names is compared with the records of its kind. Deterministic keys first: the same valid
SIRET; the same SIREN in the same commune. Then a score out of 100: how alike the names are (rapidfuzz on the
normalised names; in the same commune its own name is left out, so "Repair Café de Massy" and "Repair Café"
in Massy are one name), raised by a pin on the same place and by a shared email, phone or website, lowered by
another commune, an unknown place, pins far apart or another SIRET. Then, with the thresholds of the config:

- at or above `auto_link`, in the same place and with nothing against it: linked automatically (`sure`);
- at or above `review`: a person decides (`likely`, the review queue of `match`), copied nowhere meanwhile;
- below: another actor.

Never linked automatically: a homonym in another commune, a branch of a chain in its own commune (another
commune), two names that differ by a number ("Jardin partagé 1" / "2"), two different SIRETs of two
organisations, two events on other dates, and an entry that two records fit equally well.

Scales with blocking: an entry is scored only against the records of its commune (names compared in C by
rapidfuzz first), those sharing a key (SIRET, SIREN, email, phone, website, name), and those elsewhere that
share an uncommon word of its name. Pure: no I/O; `geo` is read-only reference data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, NamedTuple

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from . import geo, normalise
from .config import IdentityConfig as Settings
from .records import KINDS
from .text import Text


class Candidate(NamedTuple):
    record_id: str
    score: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    sure: str | None = None  # the record this entry surely is
    likely: list[Candidate] = field(default_factory=list)  # the records it may be, best first
    evidence: tuple[str, ...] = ()  # why it is surely `sure`
    score: float = 0.0  # the score of `sure`


# Score adjustments, out of 100 (chosen with `python -m benchmarks.identity_eval`, see benchmarks/README.md).
NEAR_BONUS = 10  # pins closer than same_place_m
CONTACT_BONUS = 10  # each contact both hold (email, phone, website) that no other record holds
CONTACT_BONUS_MAX = 20
OTHER_COMMUNE = 25  # the places are known and differ
UNKNOWN_PLACE = 10  # one side says nothing of its place
FAR_APART = 10  # pins more than FAR_M apart
FAR_M = 2000.0
OTHER_SIRET = 30  # two organisations (different SIRENs)
OTHER_ESTABLISHMENT = 10  # two establishments of one organisation (same SIREN)
SUBSET = 25  # one name is the other's with words added: "Jardin partagé" / "Jardin partagé des Tilleuls"
OTHER_WORD = 30  # each name has a word the other lacks: "AMAP des Coteaux" / "AMAP du Plateau"
ONE_WORD = 85  # the most a name of one word scores alone ("La Ruche"): a pin or a contact must back it
TOKEN_BLOCK_MAX = 50  # a word of more names than this does not make candidates elsewhere
SLACK = 5  # how far rapidfuzz's quick scores may fall below `similarity` (a name found by them is rescored)
MAX_CANDIDATES = 5

SAME, OTHER, UNKNOWN = "same", "other", "unknown"


@dataclass(frozen=True)
class Facts:
    """What the matcher reads of one record or entry, normalised once."""

    title: str  # normalise.title
    here: str  # the name's telling words, its commune's words left out (for a comparison in that commune)
    words: str  # the name's telling words, commune words kept (for a comparison across communes)
    numbers: tuple[str, ...]
    siret: str | None
    siren: str | None
    insee: str | None
    commune: str | None
    postcode: str | None
    point: tuple[float, float] | None
    email: str | None
    phone: str | None
    site: str | None
    dates: tuple[tuple[str, str], ...]  # (field, value) of the kind's date fields (events, offers…)


def _s(v: Any) -> str:
    return "" if v is None else str(v)


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _place_words(insee: str | None, commune_key: str, postcode: str) -> frozenset[str]:
    """The words of the actor's commune (or of every commune of its postcode, when that is all it says)."""
    if insee:
        communes = [geo.commune_by_insee(insee)]
    elif not commune_key:
        communes = geo.communes_by_postcode(postcode)
    else:
        communes = []
    names = {commune_key} | {normalise.commune(c.name) for c in communes if c}
    return frozenset(w for n in names for w in n.split())


def _insee(commune: str, postcode: str, insee: str) -> str | None:
    if insee.strip():
        return insee.strip().upper()
    if commune.strip():
        return geo.insee_of(commune, postcode or None)
    found = geo.communes_by_postcode(postcode)
    return found[0].insee if len(found) == 1 else None


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        return (float(lat), float(lon)) if lat not in (None, "") and lon not in (None, "") else None
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=65536)
def _facts_of(name: str, siret: str, commune: str, postcode: str, insee: str, lat: str, lon: str, email: str,
              phone: str, website: str, dates: tuple[tuple[str, str], ...]) -> Facts:
    code = _insee(commune, postcode, insee)
    commune_key = normalise.commune(commune)
    place = _place_words(code, commune_key, postcode.strip())
    valid_siret = normalise.siret(siret) if siret else None
    return Facts(
        title=normalise.title(name),
        here=" ".join(normalise.title_words(name, place)),
        words=" ".join(normalise.title_words(name)),
        numbers=normalise.numbers(name),
        siret=valid_siret,
        siren=normalise.siren(valid_siret),
        insee=code,
        commune=commune_key or None,
        postcode=postcode.strip() or None,
        point=_point(lat or None, lon or None),
        email=normalise.email(email) or None,
        phone=(phone if _E164.match(phone) else normalise.phone(phone)) if phone else None,
        site=normalise.website(website),
        dates=dates,
    )


def facts(values: dict, date_fields: tuple[str, ...] = ()) -> Facts:
    """The facts of canonical values (cached on them: a first import matches thousands of entries)."""
    g = values.get
    return _facts_of(_s(g("name")), _s(g("siret")), _s(g("commune")), _s(g("postcode")), _s(g("insee")),
                     _s(g("latitude")), _s(g("longitude")), _s(g("email")), _s(g("phone")), _s(g("website")),
                     tuple((f, _s(g(f))) for f in date_fields if g(f) not in (None, "")))


def place(a: Facts, b: Facts) -> str:
    """Whether two places are the same commune, other communes, or not known on one side."""
    if a.insee and b.insee:
        return SAME if a.insee == b.insee else OTHER
    if a.commune and b.commune:
        return SAME if a.commune == b.commune else OTHER
    if a.postcode and b.postcode:
        return SAME if a.postcode == b.postcode else OTHER
    return UNKNOWN


def name_score(a: Facts, b: Facts, where: str) -> float:
    """How alike two names are, out of 100: in one commune without its own name, else in full. The same name
    once normalised scores 100 (DECISIONS §1)."""
    if a.title and a.title == b.title:
        return 100.0
    return similarity(a.here, b.here) if where == SAME else similarity(a.words, b.words)


@lru_cache(maxsize=65536)
def similarity(x: str, y: str) -> float:
    """How alike two names are (normalised words), out of 100, as a person reads them: the words are paired
    whatever their order and a typo inside a word is forgiven; a name that is the other with words added is
    close ("Jardin partagé" / "Jardin partagé des Tilleuls"); two names that each have a word the other lacks
    differ by that word ("Jardin partagé des Coteaux" / "Jardin partagé du Hurepoix", "La Brouette" /
    "La Girouette"); a name of one word says little, alone, of who it is."""
    xs, ys = x.split(), y.split()
    if not xs or not ys:
        return 0.0
    if x == y:
        return 100.0
    whole = fuzz.token_sort_ratio(x, y)
    left_x, left_y, paired = _pair_words(xs, ys)
    if left_x and left_y:
        if _one_word("".join(left_x), "".join(left_y)):  # "fablab" / "fab lab"
            return whole
        return max(0.0, whole - OTHER_WORD)
    alike = sum(paired) / len(paired)
    if left_x or left_y:
        return max(0.0, alike - SUBSET)
    score = max(whole, alike)
    return min(score, ONE_WORD) if min(len(xs), len(ys)) == 1 else score


def _one_word(a: str, b: str) -> bool:
    """Whether two words are one word, typed with a slip: one letter left out, added, wrong or swapped (two in
    a long word, not the first one)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    slips = DamerauLevenshtein.distance(a, b, score_cutoff=2)
    return slips <= 1 or (slips == 2 and min(len(a), len(b)) >= 7 and a[0] == b[0])


def _pair_words(xs: list[str], ys: list[str]) -> tuple[list[str], list[str], list[float]]:
    """The words of each name that pair with none of the other's, and the likeness of each pair."""
    ys_left = list(ys)
    x_left: list[str] = []
    paired: list[float] = []
    for w in sorted(xs, key=lambda w: w not in ys):  # equal words first
        if w in ys_left:
            ys_left.remove(w)
            paired.append(100.0)
            continue
        twin = next((v for v in ys_left if _one_word(w, v)), None)
        if twin is None:
            x_left.append(w)
        else:
            ys_left.remove(twin)
            paired.append(fuzz.ratio(w, twin))
    return x_left, ys_left, paired


@dataclass(frozen=True)
class Verdict:
    score: float
    evidence: tuple[str, ...]
    auto: bool  # may be linked without asking (score at or above the threshold still needed)
    deterministic: bool = False  # a key settles it (same SIRET; same SIREN in the same commune)


# The evidence of a score, as phrases a person reads (translated where shown). Made once: the matcher compares
# many pairs, and a first import of thousands must stay fast.
SAME_NAME, SAME_COMMUNE, ANOTHER_COMMUNE, PLACE_UNKNOWN = (
    Text("same name"), Text("same commune"), Text("another commune"), Text("place unknown"))
SAME_SIRET, SAME_SIREN, ANOTHER_SIRET = Text("same SIRET"), Text("same SIREN, another SIRET"), Text("another SIRET")
SAME_CONTACT = {
    ("email", False): Text("same email"), ("email", True): Text("same email (shared by other records)"),
    ("phone", False): Text("same phone"), ("phone", True): Text("same phone (shared by other records)"),
    ("website", False): Text("same website"), ("website", True): Text("same website (shared by other records)"),
}


@lru_cache(maxsize=None)
def _alike(percent: int) -> Text:
    return Text("names {percent}% alike", percent=percent)


@lru_cache(maxsize=None)
def _metres_apart(metres: int) -> Text:
    return Text("pins {metres} m apart", metres=metres)


@lru_cache(maxsize=None)
def _km_apart(km: float) -> Text:
    return Text("pins {km:.1f} km apart", km=km)


def compare(c: Facts, r: Facts, s: Settings, common: Callable[[str, str], bool] = lambda what, v: False
            ) -> Verdict | None:
    """The score and evidence of one pair; None when they cannot be one actor (numbers or dates differ).
    `common(what, value)`: whether a contact names several records already (a chain's website or national
    phone, a house of associations' line): then it tells nothing of who this one is."""
    same_siret = bool(c.siret and c.siret == r.siret)
    if not same_siret and (c.numbers != r.numbers or _dates_differ(c, r)):
        return None
    where = place(c, r)
    name = name_score(c, r, where)
    ev: list[str] = [SAME_NAME if c.title and c.title == r.title else _alike(round(name))]
    score = name
    dist = _distance(c, r)
    near = dist is not None and dist < s.same_place_m
    if where == SAME:
        ev.append(SAME_COMMUNE)
    elif where == OTHER:
        ev.append(ANOTHER_COMMUNE)
        score -= OTHER_COMMUNE
    else:
        ev.append(PLACE_UNKNOWN)
        score -= UNKNOWN_PLACE
    if dist is not None:
        ev.append(_metres_apart(round(dist)) if dist < 1000 else _km_apart(round(dist / 1000, 1)))
        if near:
            score += NEAR_BONUS
        elif dist > FAR_M:
            score -= FAR_APART
    shared = 0
    for what, x, y in (("email", c.email, r.email), ("phone", c.phone, r.phone), ("website", c.site, r.site)):
        if x and x == y:
            many = common(what, x)
            ev.append(SAME_CONTACT[what, many])
            shared += not many
    score += min(CONTACT_BONUS * shared, CONTACT_BONUS_MAX)
    one_place = where == SAME or near
    if same_siret:
        # an establishment's number: the same actor, unless neither its name nor its place agree
        ev.insert(0, SAME_SIRET)
        return Verdict(100.0, tuple(ev), one_place or name >= s.review, deterministic=True)
    clash = bool(c.siret and r.siret)
    if clash and c.siren == r.siren:
        ev.insert(0, SAME_SIREN)
        if where == SAME and name >= s.review:  # one organisation, in one commune
            return Verdict(100.0, tuple(ev), True, deterministic=True)
        score -= OTHER_ESTABLISHMENT
    elif clash:
        ev.insert(0, ANOTHER_SIRET)
        score -= OTHER_SIRET
    score = max(0.0, min(100.0, score))
    return Verdict(score, tuple(ev), one_place and not clash)


def _distance(a: Facts, b: Facts) -> float | None:
    return geo.distance_m(a.point, b.point) if a.point and b.point else None


def _dates_differ(a: Facts, b: Facts) -> bool:
    other = dict(b.dates)
    return any(f in other and other[f] != v for f, v in a.dates)


class _Block:
    """The records of one commune (or postcode): ids and their names as compared there."""

    __slots__ = ("ids", "names")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.names: list[str] = []


class MatchIndex:
    """The records of one kind, indexed once; `match` an entry against them, `add` a record made meanwhile."""

    def __init__(self, records: Iterable[tuple[str, dict]], settings: Settings | None = None,
                 kind: str = "actor"):
        self.settings = settings or Settings()
        self._dates = tuple(f.name for f in KINDS[kind].fields if f.type == "date") if kind in KINDS else ()
        self._ids: list[str] = []
        self._facts: list[Facts] = []
        self._keys: dict[tuple[str, str], list[int]] = {}  # ("siret", value) ... -> records
        self._blocks: dict[tuple[str, str], _Block] = {}  # ("insee"|"commune"|"postcode", value) -> records
        self._tokens: dict[str, list[int]] = {}  # a word of a name -> records
        self._grid: dict[tuple[int, int], list[int]] = {}  # a square about same_place_m wide -> records pinned in it
        self._cell_lat = self.settings.same_place_m / 111_320.0  # degrees
        self._cell_lon = self._cell_lat / 0.5  # wide enough up to 60° of latitude (cos 60° = 0.5)
        for rid, rec in records:
            self.add(rid, rec)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, rid: str, rec: dict) -> None:
        f = facts(rec, self._dates)
        i = len(self._ids)
        self._ids.append(rid)
        self._facts.append(f)
        for key in _keys(f):
            self._keys.setdefault(key, []).append(i)
        for key in _place_keys(f):
            block = self._blocks.setdefault(key, _Block())
            block.ids.append(i)
            block.names.append(f.here)
        for w in set(f.words.split()):
            self._tokens.setdefault(w, []).append(i)
        if f.point:
            self._grid.setdefault(self._cell(f.point), []).append(i)

    def _cell(self, point: tuple[float, float]) -> tuple[int, int]:
        return int(point[0] // self._cell_lat), int(point[1] // self._cell_lon)

    def match(self, candidate: dict) -> MatchResult:
        s = self.settings
        c = facts(candidate, self._dates)
        found: dict[int, Verdict] = {}
        for i in sorted(self._candidates(c)):
            v = compare(c, self._facts[i], s, self._common)
            if v is not None:
                found[i] = v
        sure = [i for i, v in found.items() if v.auto and (v.deterministic or v.score >= s.auto_link)]
        keyed = [i for i in sure if found[i].deterministic]
        chosen = keyed[0] if len(keyed) == 1 else (sure[0] if len(sure) == 1 and not keyed else None)
        likely = sorted((Candidate(self._ids[i], round(v.score, 1), v.evidence) for i, v in found.items()
                         if i != chosen and (v.score >= s.review or i in sure)),
                        key=lambda cand: (-cand.score, cand.record_id))
        if chosen is None:
            return MatchResult(None, likely[:MAX_CANDIDATES])
        return MatchResult(self._ids[chosen], likely[:MAX_CANDIDATES], found[chosen].evidence,
                           round(found[chosen].score, 1))

    def _common(self, what: str, value: str) -> bool:
        return len(self._keys.get((_CONTACT_KEYS[what], value), ())) > 1

    def _candidates(self, c: Facts) -> set[int]:
        """Records worth scoring: those sharing a key (SIRET, SIREN, contact, name) or pinned near it; those of
        its commune whose names could reach the review threshold alone (compared in C first); those elsewhere
        that share an uncommon word of its name and have a name about as close as it gets."""
        out: set[int] = set()
        for key in _keys(c):
            out.update(self._keys.get(key, ()))
        if c.point:
            y, x = self._cell(c.point)
            for cell in ((y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
                out.update(self._grid.get(cell, ()))
        if not c.here:
            return out
        cutoff = self.settings.review - SLACK
        for key in _place_keys(c):
            block = self._blocks.get(key)
            if block is not None:
                for _, _, j in process.extract(c.here, block.names, scorer=fuzz.token_set_ratio,
                                               score_cutoff=cutoff, limit=None):
                    out.add(block.ids[j])
        elsewhere: set[int] = set()
        for w in c.words.split():
            posting = self._tokens.get(w, ())
            if len(posting) <= TOKEN_BLOCK_MAX:
                elsewhere.update(posting)
        elsewhere.difference_update(out)
        if elsewhere:
            pool = sorted(elsewhere)
            for _, _, j in process.extract(c.words, [self._facts[i].words for i in pool],
                                           scorer=fuzz.token_sort_ratio, score_cutoff=cutoff + UNKNOWN_PLACE,
                                           limit=None):
                out.add(pool[j])
        return out


_CONTACT_KEYS = {"email": "email", "phone": "phone", "website": "site"}


def _keys(f: Facts) -> list[tuple[str, str]]:
    pairs = (("siret", f.siret), ("siren", f.siren), ("email", f.email), ("phone", f.phone), ("site", f.site),
             ("title", f.title))
    return [(k, v) for k, v in pairs if v]


def _place_keys(f: Facts) -> list[tuple[str, str]]:
    pairs = (("insee", f.insee), ("commune", f.commune), ("postcode", f.postcode))
    return [(k, v) for k, v in pairs if v]


def match(candidate: dict, records: Iterable[tuple[str, dict]], settings: Settings | None = None) -> MatchResult:
    """Sure and likely duplicates of `candidate` among `records` (canonical field names)."""
    return MatchIndex(records, settings).match(candidate)
