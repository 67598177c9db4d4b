"""Synthetic actor entries for the benchmarks: N actors spread over two wikis, derived from a seed.

Each wiki gets N/2 entries; 10 % of each wiki's entries are the same actor as one of the other wiki's,
spelled differently (legal-form word, capitals, accents dropped) and sometimes with the same SIRET, so the
duplicate gate has real work. Titles carry two invented words so that distinct actors stay distinct for the
fuzzy matcher (a benchmark full of look-alikes would measure the review queue, not the sync); with
`lookalikes=True` they carry one, and "Recyclerie Valomir de Massy" / "Recyclerie Tesuka de Massy" then reach
the review queue as they would in a real directory.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from oscartes_sync import geo
from oscartes_sync.normalise import title as normalise_title
from oscartes_sync.sandbox.sample_data import ACTIVITIES, DETAILS, HOURS, PITCHES, STREETS, de_place, make_siret

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
ENDINGS = ("", "", "n", "r", "l", "s")


@dataclass(frozen=True)
class Dataset:
    wiki_a: list[dict[str, str]]
    wiki_b: list[dict[str, str]]
    shared: int  # entries of each wiki that are the same actor as one entry of the other
    shared_a: frozenset[int]  # their indexes in wiki_a


def _invented(rng: random.Random) -> str:
    n = rng.choice((3, 3, 4))
    word = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(n)) + rng.choice(ENDINGS)
    return word.capitalize()


def _variant(title: str, style: int) -> str:
    """Another spelling with the same normalised title."""
    if style == 0:
        return f"Association {title}"
    if style == 1:
        return title.upper()
    s = unicodedata.normalize("NFKD", title)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def _entry(rng: random.Random, title: str, activity: tuple, commune: geo.Commune, siret: str,
           network: str) -> dict[str, str]:
    _, structure, themes, services, publics = activity
    slug = "".join(c for c in unicodedata.normalize("NFKD", title.lower()) if c.isalnum())[:30]
    lat = f"{commune.lat + rng.uniform(-0.004, 0.004):.6f}" if commune.lat is not None else ""
    lon = f"{commune.lon + rng.uniform(-0.006, 0.006):.6f}" if commune.lon is not None else ""
    pitch = rng.choice(PITCHES)
    return {
        "bf_titre": title,
        "bf_chapeau": f"{title}, à {commune.name} : {pitch[0].lower()}{pitch[1:]}"[:280],
        "bf_description": f"<p>{pitch}</p>\n<p>{' '.join(rng.sample(DETAILS, 2))}</p>",
        "bf_siret": siret,
        "listeListeTypesStructure": structure,
        "checkboxListeThemes": ",".join(themes),
        "checkboxListeServices": ",".join(services),
        "checkboxListePublics": ",".join(publics),
        "bf_adresse": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
        "bf_codepostal": commune.postcode,
        "bf_ville": commune.name,
        "bf_insee": commune.insee,
        "bf_latitude": lat,
        "bf_longitude": lon,
        "bf_mail": f"contact@{slug}.fr",
        "bf_telephone": f"01 6{rng.randint(0, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        "bf_site_internet": f"https://www.{slug}.fr" if rng.random() < 0.5 else "",
        "bf_reseaux_sociaux": "",
        "bf_horaires": rng.choice(HOURS) if rng.random() < 0.5 else "",
        "checkboxListeReseaux": network,
        "listeListeVisibilite": "public",
    }


def make_dataset(actors: int, seed: int = 2024, shared_ratio: float = 0.10, lookalikes: bool = False) -> Dataset:
    per_wiki = actors // 2
    shared = int(per_wiki * shared_ratio)
    unique = 2 * per_wiki - shared
    rng = random.Random(seed)
    communes = [c for c in geo.all_communes() if c.has_point and c.postcodes]
    taken: set[str] = set()
    sirets: set[str] = set()
    people: list[tuple[str, tuple, geo.Commune, str]] = []
    while len(people) < unique:
        activity = rng.choice(ACTIVITIES)
        commune = rng.choice(communes)
        head = activity[0].split("{")[0].strip()
        name = _invented(rng) if lookalikes else f"{_invented(rng)} {_invented(rng)}"
        title = f"{head} {name} {de_place(commune.name)}"
        key = normalise_title(title)
        if key in taken:
            continue
        taken.add(key)
        siret = ""
        if rng.random() < 0.6:
            siret = make_siret(rng)
            while siret in sirets:
                siret = make_siret(rng)
            sirets.add(siret)
        people.append((title, activity, commune, siret))
    only_a = people[:per_wiki - shared]
    only_b = people[per_wiki - shared:2 * (per_wiki - shared)]
    both = people[2 * (per_wiki - shared):]
    wiki_a = [_entry(rng, t, act, c, s, "polesnoe") for t, act, c, s in only_a]
    wiki_b = [_entry(rng, t, act, c, s, "tel") for t, act, c, s in only_b]
    for i, (t, act, c, s) in enumerate(both):
        mine = _entry(rng, t, act, c, s, "polesnoe,tel")
        mine["_shared"] = "1"
        wiki_a.append(mine)
        # the same values, the title spelled another way; half of them without the SIRET (a missing value
        # the sync fills in, not a conflict)
        wiki_b.append({**mine, "bf_titre": _variant(t, i % 3), "bf_siret": s if i % 2 else ""})
        del wiki_b[-1]["_shared"]
    random.Random(seed + 1).shuffle(wiki_a)
    random.Random(seed + 2).shuffle(wiki_b)
    shared_a = frozenset(i for i, e in enumerate(wiki_a) if e.pop("_shared", None))
    return Dataset(wiki_a, wiki_b, shared, shared_a)


EVENT_KINDS = ("Repair café", "Atelier compost", "Balade vélo", "Forum des associations", "Marché paysan",
               "Conférence", "Chantier participatif", "Projection-débat", "Fête du jardin", "Troc de graines")
THEMES = ("alimentation", "mobilite", "energie", "economie-circulaire", "biodiversite", "solidarite", "culture")


def make_events(n: int, actor_ids: dict[str, list[str]], seed: int = 2024) -> dict[str, list[dict[str, str]]]:
    """`n` events spread over the wikis of `actor_ids` (wiki -> its actors' entry ids, in order), each organised by
    one or two actors of its own wiki; every other one has times, the others are whole days."""
    rng = random.Random(seed + 3)
    communes = [c for c in geo.all_communes() if c.has_point and c.postcodes]
    wikis = sorted(actor_ids)
    out: dict[str, list[dict[str, str]]] = {w: [] for w in wikis}
    taken: set[str] = set()
    while sum(map(len, out.values())) < n:
        wiki = wikis[sum(map(len, out.values())) % len(wikis)]
        commune = rng.choice(communes)
        title = f"{rng.choice(EVENT_KINDS)} {_invented(rng)} {de_place(commune.name)}"
        if title in taken:
            continue
        taken.add(title)
        day = 1 + rng.randrange(360)
        start = f"2027-{1 + day // 31 % 12:02d}-{1 + day % 28:02d}"
        timed = len(taken) % 2 == 0
        organisers = rng.sample(actor_ids[wiki], min(len(actor_ids[wiki]), rng.choice((1, 1, 2))))
        out[wiki].append({
            "bf_titre": title,
            "bf_description": f"<p>{title} : {rng.choice(PITCHES)}</p>",
            "bf_date_debut_evenement": f"{start}T{rng.choice(('09', '14', '18'))}:00:00" if timed else start,
            "bf_date_fin_evenement": f"{start}T20:00:00" if timed else start,
            "bf_lieu": f"{rng.randint(1, 60)} {rng.choice(STREETS)}",
            "bf_ville": commune.name,
            "bf_latitude": f"{commune.lat:.6f}", "bf_longitude": f"{commune.lon:.6f}",
            "checkboxfiche20bf_organisateurs": ",".join(organisers),
            "checkboxListeThemes": rng.choice(THEMES),
            "bf_site_internet": "",
        })
    return out
