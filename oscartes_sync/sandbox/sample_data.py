"""Sample actors for the two demo wikis of the sandbox (`oscartes-sync demo`).

Invented organisations in real communes of Essonne: "polesnoe" (North-West) and "tel" (North-East). The values
are raw YesWiki entries keyed by the provisioned form's keys (records.ACTOR), as a member would have typed them:
spellings vary, some values are bad on purpose. About twenty actors are listed by both networks under another
spelling, so the duplicate gate has something to find. Everything is derived from the seed.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass

from .. import geo
from ..clean import clean
from ..normalise import title as normalise_title

WIKIS = ("polesnoe", "tel")

NORTH_WEST = (
    "Les Ulis", "Orsay", "Palaiseau", "Massy", "Igny", "Bièvres", "Saclay", "Gif-sur-Yvette",
    "Villebon-sur-Yvette", "Marcoussis", "Chilly-Mazarin", "Verrières-le-Buisson", "Bures-sur-Yvette",
    "Longjumeau", "Champlan", "Villejust", "Nozay", "Saulx-les-Chartreux", "Wissous", "Vauhallan",
    "Gometz-le-Châtel", "Linas", "Montlhéry", "Ballainvilliers", "Épinay-sur-Orge",
)
NORTH_EAST = (
    "Évry-Courcouronnes", "Corbeil-Essonnes", "Ris-Orangis", "Grigny", "Viry-Châtillon", "Juvisy-sur-Orge",
    "Draveil", "Vigneux-sur-Seine", "Savigny-sur-Orge", "Athis-Mons", "Montgeron", "Yerres", "Brunoy",
    "Morsang-sur-Orge", "Fleury-Mérogis", "Bondoufle", "Lisses", "Saint-Germain-lès-Corbeil", "Soisy-sur-Seine",
    "Étiolles", "Crosne", "Épinay-sous-Sénart", "Quincy-sous-Sénart", "Saint-Michel-sur-Orge",
)

ONLY_POLESNOE = 60
ONLY_TEL = 50
SHARED = 20

# Local place names used in titles ("Recyclerie du Val d'Yvette").
LOCAL_PLACES = (
    "du Val d'Yvette", "des Coteaux", "du Plateau de Saclay", "de la Vallée de l'Orge", "des Bords de Seine",
    "du Hurepoix", "de la Bièvre", "du Val d'Yerres", "des Trois Vallées", "de la Forêt de Sénart",
    "du Plateau", "des Deux Rives", "de l'Étang", "des Tilleuls", "du Moulin",
)
SHORT_NAMES = (
    "Roue Libre", "La Chaîne", "Dérailleur", "Le Hangar", "La Clé des Champs", "Les Colibris", "La Fabrique",
    "Le Grain de Sel", "L'Arbre à Palabres", "La Ruche", "Le Chaudron", "La Passerelle", "Les Semeurs",
    "La Bricole", "Le Petit Pont", "L'Atelier du Coin", "La Boussole", "Le Fil d'Ariane", "La Luciole",
    "Le Potager Volant", "Les Écureuils", "La Cabane", "Le Bocal", "La Main Verte", "Les Glaneurs",
    "Le Sextant", "La Rustine", "Le Relais", "La Graine", "Le Cercle",
)

# (title pattern, structure type, themes, services, publics). {place} is "de Massy", "du Val d'Yvette"...;
# {short} one of SHORT_NAMES.
ACTIVITIES = (
    ("Recyclerie {place}", "association", ("economie-circulaire", "solidarite"), ("recyclerie",), ("tous-publics",)),
    ("Ressourcerie {short}", "association", ("economie-circulaire", "emploi-insertion"), ("recyclerie",),
     ("tous-publics", "demandeurs-emploi")),
    ("Repair Café {place}", "collectif-citoyen", ("economie-circulaire",), ("repair-cafe",), ("tous-publics",)),
    ("Atelier vélo {short}", "association", ("mobilite", "economie-circulaire"), ("atelier-velo", "formation"),
     ("tous-publics", "jeunes")),
    ("AMAP {place}", "association", ("alimentation", "biodiversite"), ("produits-bio",), ("familles",)),
    ("Épicerie collaborative {short}", "cooperative", ("alimentation", "solidarite"),
     ("epicerie-collaborative", "produits-bio"), ("tous-publics",)),
    ("Jardins partagés {place}", "association", ("biodiversite", "alimentation"), ("jardin-partage",),
     ("familles", "seniors")),
    ("Tiers-lieu {short}", "scic", ("culture", "numerique-responsable"), ("coworking", "lieu-a-partager"),
     ("professionnels", "associations")),
    ("Énergies citoyennes {place}", "scic", ("energie",), ("accompagnement",), ("tous-publics", "collectivites")),
    ("Collectif {place} en transition", "collectif-citoyen", ("education-populaire", "biodiversite"), (),
     ("tous-publics",)),
    ("Café associatif {short}", "association", ("culture", "solidarite"), ("lieu-a-partager",), ("tous-publics",)),
    ("Friperie solidaire {short}", "association", ("economie-circulaire", "solidarite"), ("recyclerie",),
     ("personnes-precaires",)),
    ("Chantier d'insertion {short}", "entreprise-esus", ("emploi-insertion", "habitat"), ("formation",),
     ("demandeurs-emploi", "jeunes")),
    ("Université populaire {place}", "association", ("education-populaire", "culture"), ("formation",),
     ("tous-publics", "seniors")),
    ("Fab lab {short}", "association", ("numerique-responsable", "education-populaire"),
     ("formation", "lieu-a-partager"), ("jeunes", "etudiants")),
    ("Club Cigales {place}", "collectif-citoyen", ("finance-solidaire",), ("accompagnement",),
     ("professionnels",)),
    ("Covoiturage {place}", "collectif-citoyen", ("mobilite",), ("covoiturage",), ("tous-publics",)),
    ("Ferme pédagogique {short}", "association", ("alimentation", "biodiversite", "education-populaire"),
     ("produits-bio",), ("enfants", "familles")),
    ("Coopérative d'habitants {short}", "cooperative", ("habitat", "solidarite"), (), ("familles",)),
    ("Compagnie {short}", "association", ("culture",), (), ("tous-publics", "enfants")),
    ("Mutuelle solidaire {place}", "mutuelle", ("sante", "solidarite"), ("accompagnement",), ("tous-publics",)),
    ("Rénovation solidaire {place}", "scop", ("habitat", "energie"), ("accompagnement",), ("familles",)),
    ("Maison de la nature {place}", "collectivite", ("biodiversite", "education-populaire"), ("formation",),
     ("enfants", "familles")),
    ("Lycée {short}", "etablissement-enseignement", ("education-populaire",), ("formation",),
     ("jeunes", "etudiants")),
    ("Fondation {short}", "fondation", ("solidarite", "finance-solidaire"), ("accompagnement",),
     ("associations",)),
    ("Numérique pour tous {place}", "association", ("numerique-responsable", "solidarite"), ("formation",),
     ("seniors", "personnes-precaires")),
    ("Couveuse {short}", "entreprise-esus", ("emploi-insertion", "finance-solidaire"), ("accompagnement", "coworking"),
     ("demandeurs-emploi", "professionnels")),
    ("Centre de santé {place}", "association", ("sante",), (), ("tous-publics", "personnes-handicap")),
)

STREETS = (
    "rue de la République", "avenue du Général de Gaulle", "rue Jean Jaurès", "place de la Mairie",
    "rue Victor Hugo", "allée des Tilleuls", "chemin du Moulin", "rue de Paris", "boulevard de la Gare",
    "rue Pasteur", "rue des Écoles", "impasse des Lilas", "route de Chartres", "rue Gambetta", "rue du Lavoir",
    "avenue de la Résistance", "rue Louise Michel", "place du Marché",
)
HOURS = (
    "Mo-Fr 09:00-17:00", "We,Sa 14:00-18:00", "Sa 10:00-12:00", "Tu-Sa 10:00-12:30,14:00-19:00; PH off",
    "We 14:00-18:00; Sa[1] 09:00-12:00", "Mo-Fr 08:30-12:00,13:30-17:30", "Th 18:00-20:00", "24/7",
)
PITCHES = (
    "Nous collectons, réparons et revendons à petit prix des objets du quotidien.",
    "Un lieu convivial où chacun peut apprendre à réparer plutôt que jeter.",
    "Des paniers de légumes bio livrés chaque semaine par des producteurs du Hurepoix.",
    "Nous accompagnons les habitants vers une alimentation saine et locale.",
    "Un espace de travail partagé et d'expérimentation ouvert à tous.",
    "Nous développons des projets d'énergie renouvelable portés par les citoyens.",
    "Des ateliers pour apprendre à entretenir son vélo en autonomie.",
    "Un jardin cultivé ensemble, sans pesticides, au cœur du quartier.",
    "Nous favorisons le retour à l'emploi par des activités utiles au territoire.",
    "Conférences, débats et ateliers pour comprendre la transition écologique.",
    "Nous aidons les habitants à rénover leur logement et à réduire leur facture d'énergie.",
    "Un accompagnement au numérique pour celles et ceux qui en sont éloignés.",
)
DETAILS = (
    "Nos bénévoles vous accueillent dans une ambiance chaleureuse.",
    "Les adhésions sont à prix libre.",
    "Nous travaillons en lien avec les associations du territoire et la commune.",
    "Venez nous rencontrer lors de nos permanences.",
    "Nos activités sont ouvertes aux personnes à mobilité réduite.",
    "Nous recherchons des bénévoles pour développer nos actions.",
    "Les dons de matériel sont les bienvenus.",
    "Un programme détaillé est disponible sur notre site.",
)


@dataclass(frozen=True)
class _Actor:
    title: str
    commune: geo.Commune
    structure: str
    themes: tuple[str, ...]
    services: tuple[str, ...]
    publics: tuple[str, ...]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _luhn_complete(prefix: str) -> str:
    """`prefix` followed by the one digit that makes the whole number pass the Luhn check."""
    for d in "0123456789":
        if _luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


def make_siret(rng: random.Random) -> str:
    """A SIRET with valid checksums (SIREN and SIRET), for invented organisations."""
    siren = _luhn_complete(rng.choice("4578") + "".join(rng.choice("0123456789") for _ in range(7)))
    return _luhn_complete(siren + "000" + rng.choice("12"))


def de_place(name: str) -> str:
    """French "de" before a place name: de Massy, des Ulis, du Plessis, de l'Hay."""
    for art, rep in (("Les ", "des "), ("Le ", "du "), ("La ", "de la "), ("L'", "de l'")):
        if name.startswith(art):
            return rep + name[len(art):]
    if unicodedata.normalize("NFKD", name[:1])[:1].lower() in "aeiouy":
        return "d'" + name
    return "de " + name


def _slug(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def _communes(names: tuple[str, ...]) -> list[geo.Commune]:
    out = []
    for n in names:
        c = geo.commune_by_name(n)
        if c is None:
            raise LookupError(f"unknown commune in sample data: {n}")
        out.append(c)
    return out


def _make_actors(rng: random.Random, communes: list[geo.Commune], n: int, taken: set[str]) -> list[_Actor]:
    actors: list[_Actor] = []
    while len(actors) < n:
        pattern, structure, themes, services, publics = rng.choice(ACTIVITIES)
        commune = rng.choice(communes)
        place = rng.choice(LOCAL_PLACES) if rng.random() < 0.25 else de_place(commune.name)
        title = pattern.format(place=place, short=rng.choice(SHORT_NAMES))
        key = normalise_title(title)
        if key in taken:
            continue
        taken.add(key)
        extra_theme = rng.choice(("solidarite", "education-populaire", "biodiversite", "culture"))
        all_themes = tuple(sorted(set(themes) | ({extra_theme} if rng.random() < 0.3 else set())))
        actors.append(_Actor(title, commune, structure, all_themes, services, publics))
    return actors


def _jitter(rng: random.Random, c: geo.Commune, metres: float = 500.0) -> tuple[str, str]:
    if c.lat is None or c.lon is None:
        return "", ""
    return point_near(rng, str(c.lat), str(c.lon), metres)


def point_near(rng: random.Random, lat: str, lon: str, metres: float) -> tuple[str, str]:
    """A pin placed at random within `metres` of a point, as text with 6 decimals."""
    r = metres * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    la = float(lat) + r * math.cos(a) / 111_320.0
    lo = float(lon) + r * math.sin(a) / (111_320.0 * math.cos(math.radians(float(lat))))
    return f"{la:.6f}", f"{lo:.6f}"


_STREET_ABBREVIATIONS = (("rue ", "r. "), ("avenue ", "av. "), ("boulevard ", "bd "), ("place ", "pl. "),
                         ("chemin ", "ch. "), ("allée ", "all. "), ("route ", "rte "), ("impasse ", "imp. "))


def street_variant(street: str, style: int) -> str:
    """The same address as another member types it: a comma after the number, an abbreviation, capitals."""
    number, _, rest = street.partition(" ")
    if style % 3 == 0:
        return f"{number}, {rest}"
    if style % 3 == 1:
        for full, short in _STREET_ABBREVIATIONS:
            if rest.startswith(full):
                return f"{number} {short}{rest[len(full):]}"
        return street
    return street.upper()


def random_phone(rng: random.Random) -> str:
    while True:
        p = _phone_candidate(rng)
        if clean("phone", p).ok:  # some ranges are not allocated
            return p


def _phone_candidate(rng: random.Random) -> str:
    if rng.random() < 0.25:
        digits = "06" + "".join(rng.choice("0123456789") for _ in range(8))
    else:
        digits = "01" + rng.choice("6") + rng.choice("0123456789") + "".join(
            rng.choice("0123456789") for _ in range(6))
    style = rng.random()
    if style < 0.6:
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    if style < 0.8:
        return ".".join(digits[i:i + 2] for i in range(0, 10, 2))
    return "+33 " + digits[1] + " " + " ".join(digits[i:i + 2] for i in range(2, 10, 2))


def _description(rng: random.Random, a: _Actor) -> tuple[str, str]:
    pitch = rng.choice(PITCHES)
    details = rng.sample(DETAILS, 2)
    chapeau = f"{a.title}, à {a.commune.name} : {pitch[0].lower()}{pitch[1:]}"
    if len(chapeau) > 280:
        chapeau = chapeau[:279] + "…"
    body = f"<p>{pitch}</p>\n<p>{details[0]} {details[1]}</p>"
    return chapeau, body


def _entry(rng: random.Random, a: _Actor, siret: str | None, networks: str) -> dict[str, str]:
    lat, lon = _jitter(rng, a.commune)
    chapeau, body = _description(rng, a)
    slug = _slug(a.title)[:40].strip("-")
    e: dict[str, str] = {
        "bf_titre": a.title,
        "bf_chapeau": chapeau,
        "bf_description": body,
        "bf_siret": siret or "",
        "listeListeTypesStructure": a.structure,
        "checkboxListeThemes": ",".join(a.themes),
        "checkboxListeServices": ",".join(a.services),
        "checkboxListePublics": ",".join(a.publics),
        "bf_adresse": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
        "bf_codepostal": a.commune.postcode,
        "bf_ville": a.commune.name,
        "bf_insee": a.commune.insee if rng.random() < 0.8 else "",
        "bf_latitude": lat,
        "bf_longitude": lon,
        "bf_mail": f"contact@{slug}.fr" if rng.random() < 0.7 else "",
        "bf_telephone": random_phone(rng) if rng.random() < 0.6 else "",
        "bf_site_internet": "",
        "bf_reseaux_sociaux": "",
        "bf_horaires": rng.choice(HOURS) if rng.random() < 0.5 else "",
        "checkboxListeReseaux": networks,
        "listeListeVisibilite": "public" if rng.random() < 0.6 else "membres",
    }
    r = rng.random()
    if r < 0.45:
        e["bf_site_internet"] = f"https://www.{slug}.fr"
    elif r < 0.6:
        e["bf_site_internet"] = f"{slug}.org"  # a bare domain, as members often type it
    if rng.random() < 0.3:
        e["bf_reseaux_sociaux"] = f"https://www.facebook.com/{slug.replace('-', '')}"
    return e


def _variant_title(title: str, style: int) -> str:
    """Another spelling of the same organisation's name (same normalised title)."""
    if style == 0:
        return f"Association {title}"
    if style == 1:
        return f"{title} (asso)"
    if style == 2:
        return title.upper()
    if style == 3:
        s = unicodedata.normalize("NFKD", title)
        return "".join(c for c in s if not unicodedata.combining(c)).lower()
    if style == 4:
        return title.replace("-", " ").replace("é", "e")
    return "Asso. " + title.replace("'", "’")


# Second names of shared actors that the other network lists under another name: found by SIRET only.
_RENAMES = {
    "Recyclerie": "Ressourcerie",
    "Repair Café": "Café réparation",
    "AMAP": "Paniers bio",
    "Jardins partagés": "Jardin collectif",
    "Tiers-lieu": "Espace partagé",
    "Atelier vélo": "Vélo-école",
    "Université populaire": "UP",
    "Fondation": "Fonds de dotation",
    "Compagnie": "Théâtre",
    "Fab lab": "Atelier numérique",
    "Couveuse": "Pépinière",
    "Lycée": "Lycée professionnel",
}


def _renamed(a: _Actor) -> str:
    for old, new in _RENAMES.items():
        if a.title.startswith(old + " "):
            return new + a.title[len(old):]
    return f"{a.title} – antenne {de_place(a.commune.name)}"


@dataclass(frozen=True)
class _Sample:
    entries: dict[str, list[dict[str, str]]]
    duplicates: list[tuple[str, str]]
    bad: list[dict[str, str]]


def _build(seed: int) -> _Sample:
    rng = random.Random(seed)
    nw = _communes(NORTH_WEST)
    ne = _communes(NORTH_EAST)
    taken: set[str] = set()
    only_p = _make_actors(rng, nw, ONLY_POLESNOE, taken)
    only_t = _make_actors(rng, ne, ONLY_TEL, taken)
    shared = _make_actors(rng, nw + ne, SHARED, taken)
    used_sirets: set[str] = set()

    def new_siret() -> str:
        while True:
            s = make_siret(rng)
            if s not in used_sirets:
                used_sirets.add(s)
                return s

    def maybe_siret(p: float = 0.75) -> str | None:
        return new_siret() if rng.random() < p else None

    def spaced(siret: str) -> str:
        return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}" if rng.random() < 0.3 else siret

    polesnoe: list[dict[str, str]] = []
    tel: list[dict[str, str]] = []
    for a in only_p:
        s = maybe_siret()
        polesnoe.append(_entry(rng, a, s and spaced(s), "polesnoe" if rng.random() < 0.85
                               else "polesnoe,autre"))
    for a in only_t:
        s = maybe_siret()
        tel.append(_entry(rng, a, s and spaced(s), "tel" if rng.random() < 0.85 else "tel,autre"))

    duplicates: list[tuple[str, str]] = []
    for i, a in enumerate(shared):
        renamed = _renamed(a)
        by_siret_only = i % 5 == 0 and normalise_title(renamed) not in taken
        if by_siret_only:
            taken.add(normalise_title(renamed))
        siret = new_siret() if by_siret_only or rng.random() < 0.6 else None
        p = _entry(rng, a, siret, "polesnoe,tel")
        t = _entry(rng, a, siret if siret and (by_siret_only or rng.random() < 0.7) else None,
                   "polesnoe,tel")
        if by_siret_only:
            t["bf_titre"] = renamed  # another name altogether: only the SIRET tells it is the same actor
        else:
            style = i % 6
            if a.structure != "association" and style in (0, 1, 5):
                style = 2 + style % 3  # "(asso)" only for associations
            t["bf_titre"] = _variant_title(a.title, style)
            # The place is written differently but is the same: commune spelling, or only the postcode.
            how = i % 4
            if how == 1:
                t["bf_ville"] = a.commune.name.upper().replace("-", " ")
            elif how == 2:
                t["bf_ville"] = ""
                t["bf_insee"] = ""
            elif how == 3:
                t["bf_ville"] = geo.name_key(a.commune.name).replace("saint ", "st ")
        # What the second member typed of the same actor: the same address written their way, a pin placed on
        # the same building (tens of metres off), the description often pasted from the same leaflet.
        t["bf_adresse"] = street_variant(p["bf_adresse"], i)
        if p["bf_latitude"] and rng.random() < 0.8:
            t["bf_latitude"], t["bf_longitude"] = point_near(rng, p["bf_latitude"], p["bf_longitude"], 100.0)
        if rng.random() < 0.6:
            t["bf_description"] = p["bf_description"]
        if rng.random() < 0.5:
            t["bf_chapeau"] = p["bf_chapeau"]
        # Fields that differ between the two listings.
        t["bf_telephone"] = random_phone(rng) if rng.random() < 0.5 else p["bf_telephone"]
        if rng.random() < 0.5:
            t["checkboxListeThemes"] = ",".join(sorted(set(a.themes) | {"solidarite"}))
        if p["bf_site_internet"].startswith("https://") and rng.random() < 0.5:
            t["bf_site_internet"] = p["bf_site_internet"][len("https://"):]
        polesnoe.append(p)
        tel.append(t)
        duplicates.append((p["bf_titre"], t["bf_titre"]))

    bad = _spoil(rng, polesnoe, tel, {t for pair in duplicates for t in pair})
    order = random.Random(seed + 1)
    order.shuffle(polesnoe)
    order.shuffle(tel)
    return _Sample({"polesnoe": polesnoe, "tel": tel}, duplicates, bad)


def _spoil(rng: random.Random, polesnoe: list[dict], tel: list[dict], keep: set[str]) -> list[dict[str, str]]:
    """Put a handful of bad values in actors that are not duplicates, and say which."""
    spoils = (
        ("polesnoe", "bf_site_internet", "javascript:alert(document.cookie)", "javascript: URL refused"),
        ("tel", "bf_site_internet", "javascript:void(0)", "javascript: URL refused"),
        ("polesnoe", "bf_latitude", "abc", "latitude is not a number"),
        ("tel", "bf_latitude", "500", "latitude out of range"),
        ("polesnoe", "bf_telephone", "12", "invalid phone number"),
        ("tel", "bf_longitude", "0", "longitude 0 means no point (YesWiki drops it)"),
        ("polesnoe", "bf_description", '<p>Bienvenue !</p><script>alert("xss")</script>', "script removed"),
        ("tel", "bf_description", 'Voir aussi {{include page="PagePrivee"}}', "YesWiki action neutralised"),
        ("polesnoe", "bf_siret", "", "invalid SIRET (wrong checksum)"),
        ("tel", "bf_horaires", "Lundi 9h-12h et 14h-18h", "opening hours not in OSM opening_hours syntax"),
        ("polesnoe", "bf_titre", "", "U+FFFD left by invalid UTF-8 removed"),
    )
    bad: list[dict[str, str]] = []
    used: set[int] = set()
    for wiki, key, value, why in spoils:
        entries = polesnoe if wiki == "polesnoe" else tel
        candidates = [i for i, e in enumerate(entries) if e["bf_titre"] not in keep and id(e) not in used]
        e = entries[rng.choice(candidates)]
        used.add(id(e))
        if key == "bf_siret":
            good = make_siret(rng)
            value = good[:-1] + str((int(good[-1]) + 1) % 10)  # checksum broken
        if key == "bf_titre":
            value = e["bf_titre"] + "\ufffd\ufffd"  # what a lossy decoding of invalid UTF-8 leaves behind
        e[key] = value
        bad.append({"wiki": wiki, "title": e["bf_titre"], "wiki_key": key, "value": value, "why": why})
    return bad


_CACHE: dict[int, _Sample] = {}


def _sample(seed: int) -> _Sample:
    if seed not in _CACHE:
        _CACHE[seed] = _build(seed)
    return _CACHE[seed]


def sample_entries(seed: int = 7) -> dict[str, list[dict[str, str]]]:
    """Raw actor entries per demo wiki: {"polesnoe": [...], "tel": [...]} (fresh copies)."""
    s = _sample(seed)
    return {w: [dict(e) for e in entries] for w, entries in s.entries.items()}


def sample_duplicate_pairs(seed: int = 7) -> list[tuple[str, str]]:
    """(title in polesnoe, title in tel) of the actors that both networks list."""
    return list(_sample(seed).duplicates)


def sample_records_bad(seed: int = 7) -> list[dict[str, str]]:
    """The bad values planted in the sample: wiki, entry title, YesWiki key, value, and why it is bad."""
    return [dict(b) for b in _sample(seed).bad]


# ---- events, for the agenda and the shared calendar (issue 19) -----------------------------------------------

_EVENTS = {
    "polesnoe": [
        ("Repair café de printemps", "2027-03-20T14:00:00", "2027-03-20T18:00:00", "Salle polyvalente, 2 place de la "
         "Mairie", "Les Ulis", "economie-circulaire", "Apportez vos objets en panne : des bénévoles les réparent avec "
         "vous."),
        ("Fête des AMAP", "2027-06-19", "2027-06-19", "Parc de la Mairie, 10 rue de Paris", "Palaiseau",
         "alimentation", "Marché des producteurs, ateliers cuisine et concert en fin de journée."),
        ("Balade vélo des tiers-lieux", "2027-05-08T09:30:00", "2027-05-08T16:00:00", "Départ : 1 place du Marché",
         "Orsay", "mobilite", "Une boucle de 25 km pour découvrir trois tiers-lieux du plateau."),
    ],
    "tel": [
        ("Forum des solidarités", "2027-09-11", "2027-09-12", "Gymnase, 4 avenue de la Résistance", "Évry-Courcouronnes",
         "solidarite", "Deux jours pour rencontrer les associations solidaires du territoire."),
        ("Atelier compost", "2027-04-03T10:00:00+02:00", "2027-04-03T12:00:00+02:00", "Jardin partagé, chemin du "
         "Moulin", "Ris-Orangis", "biodiversite", "Apprendre à composter en pied d'immeuble."),
        # typed backwards by a member: left out of the calendar, named in the report
        ("Réunion du collectif énergie", "2027-02-10T20:00:00", "2027-02-10T18:00:00", "Maison des associations, 12 rue "
         "Jean Jaurès", "Grigny", "energie", "Point d'étape du projet de centrale solaire citoyenne."),
    ],
}


def sample_events() -> dict[str, list[dict[str, str]]]:
    """Raw event entries per demo wiki, with no pin on the map (the geocoder places them from their place)."""
    out: dict[str, list[dict[str, str]]] = {}
    for wiki, rows in _EVENTS.items():
        out[wiki] = [{"bf_titre": title, "bf_description": f"<p>{text}</p>", "bf_date_debut_evenement": start,
                      "bf_date_fin_evenement": end, "bf_lieu": place, "bf_ville": commune,
                      "checkboxListeThemes": theme, "bf_site_internet": ""}
                     for title, start, end, place, commune, theme, text in rows]
    return out
