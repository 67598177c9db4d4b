"""A labelled set for the duplicate matcher: a store of actors, and entries from another wiki that either are one
of them (written another way) or are another actor that looks like one. Derived from a seed.

Every place is a real commune of Essonne from the packaged reference data (name, postcodes, INSEE code, point);
the names, addresses and contacts are invented the way members of the two networks type them:

twins (the same actor; the label is its record)
  accents dropped, capitals, a legal-form word added (Association, asso, SCIC, SAS, loi 1901), an article added
  or dropped, abbreviations (St, Cie, Asso., &), a typo, words in another order, the commune added to the name
  or dropped from it, other punctuation; the SIRET on both sides, on one or on none; the commune spelled
  another way, or only the postcode; the same address written another way, or another street in the same
  commune (a move, the pin far off); the pin on the same building, or missing; the same email, phone or
  website written another way, or another one; now and then another name altogether with the same SIRET;
look-alikes (another actor; no label)
  the same name in another commune (homonyms), another branch of a chain in its own commune (same website,
  often the same national phone, the same SIREN), another association in the same building (same address, a
  shared phone), a name that differs by one word or a number in the same commune; and ordinary new actors.

Two parts: "dev", on which the score and thresholds were chosen, and "heldout", used only for the final figure.
They share no commune and no invented word, so the held-out figure is not one the matcher was fitted to.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass, field

from oscartes_sync import geo
from oscartes_sync.clean import clean
from oscartes_sync.records import ACTOR
from oscartes_sync.sandbox.sample_data import (
    ACTIVITIES, LOCAL_PLACES, STREETS, de_place, make_siret, point_near, random_phone, street_variant,
)

PARTS = ("dev", "heldout")
DEFAULT_SEEDS = {"dev": 1, "heldout": 20261203}

NOUNS = (
    "Ruche", "Graine", "Cabane", "Passerelle", "Fabrique", "Boussole", "Luciole", "Chaudron", "Rustine",
    "Grange", "Forge", "Source", "Marmite", "Bobine", "Pelote", "Brouette", "Arrosoir", "Semeuse", "Escargot",
    "Fourmi", "Abeille", "Mésange", "Hirondelle", "Libellule", "Coccinelle", "Tortue", "Chouette", "Salamandre",
    "Noisette", "Châtaigne", "Pomme", "Courge", "Tomate", "Citrouille", "Lanterne", "Boîte", "Malle", "Caravane",
    "Péniche", "Roulotte", "Cordée", "Bricole", "Rencontre", "Étincelle", "Boussole", "Ardoise", "Palette",
    "Manivelle", "Navette", "Pirogue", "Girouette", "Fontaine", "Clairière", "Prairie", "Bruyère", "Ronce",
    "Tilleul", "Chêne", "Saule", "Érable", "Noyer", "Peuplier", "Sureau", "Houblon", "Colibri", "Hérisson",
    "Moineau", "Castor", "Renard", "Blaireau", "Écureuil", "Lutin", "Grain", "Sillon", "Verger", "Potager",
    "Atelier", "Comptoir", "Relais", "Cercle", "Bocal", "Sextant", "Moulin", "Lavoir", "Fournil", "Préau",
)
MASCULINE_IN_E = frozenset({"Chêne", "Saule", "Sureau", "Grain", "Comptoir", "Cercle", "Lavoir", "Préau", "Houblon"})
ADJECTIVES = (
    "Verte", "Solidaire", "Joyeuse", "Vagabonde", "Partagée", "Buissonnière", "Libre", "Curieuse", "Voyageuse",
    "Débrouillarde", "Gourmande", "Têtue", "Rieuse", "Bleue", "Rouge", "Sauvage", "Enchantée", "Lointaine",
)
PERSONS = (
    "Louise Michel", "Jean Moulin", "Simone Veil", "Victor Hugo", "Jean Jaurès", "Marie Curie", "Pablo Neruda",
    "Nelson Mandela", "Olympe de Gouges", "Aimé Césaire", "Rosa Parks", "Gisèle Halimi", "Lucie Aubrac",
    "Germaine Tillion", "Missak Manouchian", "Joséphine Baker", "George Sand", "Jules Verne", "Paul Éluard",
    "Angela Davis", "Frida Kahlo", "Albert Camus", "Colette", "Jacques Prévert", "Boris Vian", "Rachel Carson",
    "Théodore Monod", "Pierre Rabhi", "Françoise Dolto", "Hubert Reeves",
)
PERSON_PATTERNS = ("Centre social {person}", "Maison de quartier {person}", "Les Amis de {person}",
                   "Ludothèque {person}", "Espace {person}", "Club {person}")
# Networks with one branch per commune: (name, website host, one SIREN for all branches, national phone).
CHAINS = (
    ("Emmaüs", "emmaus-france.org", True, "01 41 58 25 00"),
    ("Secours populaire", "secourspopulaire.fr", False, None),
    ("Restos du Cœur", "restosducoeur.org", False, "01 53 32 23 23"),
    ("Croix-Rouge française", "croix-rouge.fr", True, "01 44 43 11 00"),
    ("Secours catholique", "secours-catholique.org", True, None),
    ("Habitat et Humanisme", "habitat-humanisme.org", False, None),
    ("Les Petits Débrouillards", "lespetitsdebrouillards.org", False, None),
    ("Familles rurales", "famillesrurales.org", False, None),
    ("UFC-Que Choisir", "quechoisir.org", False, None),
    ("Incroyables Comestibles", "lesincroyablescomestibles.fr", False, None),
    ("La Ruche qui dit Oui", "laruchequiditoui.fr", True, None),
    ("Biocoop", "biocoop.fr", False, None),
    ("Repair Café", "repaircafe.org", False, None),
    ("Alternatiba", "alternatiba.eu", False, None),
    ("ATD Quart Monde", "atd-quartmonde.fr", True, "01 42 46 81 95"),
    ("Colibris", "colibris-lemouvement.org", False, None),
)
LEGAL_FORMS = ("Association {}", "{} (asso)", "Asso {}", "Assoc. {}", "{} - association loi 1901",
               "SCIC {}", "{} SAS", "{} SCOP")
EMAIL_BOXES = ("contact", "bonjour", "info", "accueil", "asso")
FREE_MAIL = ("gmail.com", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "yahoo.fr")


@dataclass
class Actor:
    """One actor as its member typed it in one wiki: raw YesWiki values."""

    name: str
    commune: geo.Commune
    street: str
    siret: str | None
    lat: str
    lon: str
    email: str
    phone: str
    website: str
    # the place as typed, when it is not the commune's official name, main postcode and INSEE code
    commune_typed: str | None = None
    postcode_typed: str | None = None
    insee_typed: str | None = None

    def raw(self) -> dict[str, str]:
        c = self.commune
        return {"bf_titre": self.name, "bf_ville": c.name if self.commune_typed is None else self.commune_typed,
                "bf_codepostal": c.postcode if self.postcode_typed is None else self.postcode_typed,
                "bf_insee": c.insee if self.insee_typed is None else self.insee_typed,
                "bf_adresse": self.street, "bf_siret": self.siret or "",
                "bf_latitude": self.lat, "bf_longitude": self.lon, "bf_mail": self.email,
                "bf_telephone": self.phone, "bf_site_internet": self.website}


@dataclass(frozen=True)
class Case:
    entry: dict  # canonical values, as the matcher receives them
    truth: str | None  # the record it is, or None: another actor
    kind: str  # "twin", or the kind of look-alike: homonym, chain, building, near-name, number, new
    variations: tuple[str, ...] = ()  # what differs, for a twin


@dataclass(frozen=True)
class EvalSet:
    part: str
    seed: int
    records: list[tuple[str, dict]]  # the store: (record id, canonical values)
    cases: list[Case] = field(default_factory=list)

    @property
    def twins(self) -> list[Case]:
        return [c for c in self.cases if c.truth is not None]


def canonical(raw: dict[str, str]) -> dict:
    """Raw entry values as the sync stores them: cleaned field by field (refused values left out)."""
    out = {}
    for f in ACTOR.fields:
        if f.wiki_key in raw:
            out[f.name] = clean(f.type, raw[f.wiki_key], max_length=f.max_length).value
    return out


def _half(key: str, part: str) -> bool:
    """Whether `key` (a commune, a word) belongs to `part`: a stable split, the same on every machine ("all":
    both halves, for the timing benchmark)."""
    if part == "all":
        return True
    digit = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2
    return digit == PARTS.index(part)


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


_SMALL_WORDS = frozenset("a au aux d de des du en et l la le les sur sous".split())
_LEGAL = frozenset("association asso assoc scic scop sas sarl loi 1901".split())


def _reading(name: str, commune: geo.Commune) -> str:
    """A name as a person reads it in its commune (independent of the matcher's own normalisation)."""
    def words(s: str) -> list[str]:
        return "".join(c if c.isalnum() else " " for c in _strip_accents(s).lower()).split()

    place = set(words(commune.name))
    kept = [w for w in words(name) if w not in _SMALL_WORDS and w not in _LEGAL and w not in place]
    return " ".join(w[:-1] if len(w) > 3 and w[-1] in "sx" else w for w in kept)


def _slug(s: str) -> str:
    return "-".join(_strip_accents(s).lower().replace("'", " ").replace("’", " ").split())[:30].strip("-")


class Generator:
    def __init__(self, part: str, seed: int):
        if part not in (*PARTS, "all"):
            raise ValueError(f"part must be one of {PARTS} or 'all'")
        self.rng = random.Random(f"{part}:{seed}")
        self.communes = [c for c in geo.all_communes() if _half(c.insee, part)]
        # bigger communes have more actors, as in the real directories
        self.weights = [max(c.population or 0, 500) ** 0.5 for c in self.communes]
        self.nouns = sorted({n for n in NOUNS if _half(n, part)})
        self.persons = [p for p in PERSONS if _half(p, part)]
        self.chains = list(CHAINS)
        self.sirets: set[str] = set()
        self.names: set[tuple[str, str]] = set()  # (normalised name, insee): one actor each

    # ---- one actor ---------------------------------------------------------------------------------------------

    def commune(self) -> geo.Commune:
        return self.rng.choices(self.communes, self.weights)[0]

    def neighbour(self, c: geo.Commune) -> geo.Commune:
        """The nearest other commune."""
        return min((o for o in geo.all_communes() if o.insee != c.insee),
                   key=lambda o: geo.distance_m((c.lat, c.lon), (o.lat, o.lon)))

    def siret(self, siren: str | None = None) -> str:
        while True:
            s = make_siret(self.rng) if siren is None else _siret_of(self.rng, siren)
            if s not in self.sirets:
                self.sirets.add(s)
                return s

    def short_name(self) -> str:
        noun = self.rng.choice(self.nouns)
        adjective = f" {self.rng.choice(ADJECTIVES)}" if self.rng.random() < 0.3 else ""
        if self.rng.random() < 0.25:
            return f"Les {noun}s{adjective}{'s' if adjective else ''}"
        if _strip_accents(noun[0]).lower() in "aeiouh":
            return f"L'{noun}"
        if noun.endswith("e") and noun not in MASCULINE_IN_E:
            return f"La {noun}{adjective}"
        return f"Le {noun}"  # the adjectives are feminine

    def name(self, commune: geo.Commune) -> str:
        r = self.rng.random()
        if r < 0.12 and self.persons:
            return self.rng.choice(PERSON_PATTERNS).format(person=self.rng.choice(self.persons))
        pattern = self.rng.choice(ACTIVITIES)[0]
        place = self.rng.choice(LOCAL_PLACES) if self.rng.random() < 0.3 else de_place(commune.name)
        return pattern.format(place=place, short=self.short_name())

    def actor(self, commune: geo.Commune | None = None, name: str | None = None) -> Actor:
        """A new actor. Its name is drawn (and claimed) unless given: who gives one claimed it, in `commune`."""
        rng = self.rng
        while name is None:
            c = commune or self.commune()
            drawn = self.name(c)
            if self.claim(drawn, c):
                commune, name = c, drawn
        c = commune
        lat, lon = point_near(rng, str(c.lat), str(c.lon), 1200.0) if c.has_point and rng.random() < 0.85 else ("", "")
        # two actors of one name in two communes do not share a domain or a mailbox
        slug = _slug(name) if de_place(c.name) in name else f"{_slug(name)}-{_slug(c.name)[:12]}".strip("-")
        email = (f"{rng.choice(EMAIL_BOXES)}@{slug}.fr" if rng.random() < 0.6
                 else f"{slug.replace('-', '.')}@{rng.choice(FREE_MAIL)}") if rng.random() < 0.7 else ""
        site = rng.choice((f"https://www.{slug}.fr", f"https://{slug}.org/", f"http://{slug}.asso.fr",
                           f"https://www.facebook.com/{slug.replace('-', '')}")) if rng.random() < 0.55 else ""
        return Actor(name, c, f"{rng.randint(1, 150)} {rng.choice(STREETS)}" if rng.random() < 0.9 else "",
                     self.siret() if rng.random() < 0.6 else None, lat, lon, email,
                     random_phone(rng) if rng.random() < 0.6 else "", site)

    def claim(self, name: str, commune: geo.Commune) -> bool:
        """One actor per name and commune, the name read as a person reads it (case, accents, punctuation,
        legal-form words and the commune's own name aside): two actors nothing tells apart would be a label
        nobody could meet."""
        key = (_reading(name, commune), commune.insee)
        if key in self.names:
            return False
        self.names.add(key)
        return True

    def branch(self, chain: tuple, commune: geo.Commune, siren: str | None) -> Actor | None:
        """A branch of a chain in `commune`; None when the chain has one there already."""
        name, host, _, phone = chain
        form = self.rng.choice(("{n} {c}", "{n} - {c}", "{n} {de}", "{n} ({c})", "{n} – antenne {de}"))
        full = form.format(n=name, c=commune.name, de=de_place(commune.name))
        if not self.claim(name, commune):
            return None
        self.claim(full, commune)
        a = self.actor(commune, full)
        a.website = f"https://www.{host}/" + (_slug(commune.name) if self.rng.random() < 0.5 else "")
        a.email = f"{_slug(commune.name)}@{host}" if self.rng.random() < 0.5 else a.email
        if phone and self.rng.random() < 0.5:
            a.phone = phone
        if siren and self.rng.random() < 0.8:
            a.siret = self.siret(siren)
        return a


def _siret_of(rng: random.Random, siren: str) -> str:
    """Another establishment (NIC) of the organisation `siren`, with a valid checksum."""
    from oscartes_sync.normalise import siret as valid

    while True:
        nic = f"{rng.randint(1, 9998):04d}"
        for last in "0123456789":
            s = f"{siren}{nic}{last}"
            if valid(s):
                return s


# ---- how another member writes the same actor ------------------------------------------------------------------

_ABBREVIATIONS = (("Saint-", "St-"), ("Saint ", "St "), ("Sainte-", "Ste-"), ("Compagnie", "Cie"),
                  ("Association", "Asso."), (" et ", " & "), ("Coopérative", "Coop"), (" & ", " et "))


def _typo(rng: random.Random, s: str) -> str:
    words = s.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return s
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    how = rng.randrange(4)
    if how == 0:
        w = w[:j] + w[j + 1:]  # a letter left out
    elif how == 1:
        w = w[:j] + w[j] + w[j:]  # a letter twice
    elif how == 2:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]  # two letters swapped
    else:
        w = w[:j] + rng.choice("aeioulnrst") + w[j + 1:]  # a wrong letter
    words[i] = w
    return " ".join(words)


def _reorder(s: str, rng: random.Random) -> str:
    """"Atelier vélo La Ruche" → "La Ruche - atelier vélo"; "Emmaüs - Massy" → "Massy - Emmaüs";
    "Repair Café de Massy" → "Massy Repair Café"."""
    for sep in (" - ", " – ", " ("):
        if sep in s:
            head, tail = s.split(sep, 1)
            return f"{tail.rstrip(')')} - {head}"
    for art in (" La ", " Le ", " Les ", " L'"):
        i = s.find(art)
        if i > 0:
            head, tail = s[:i], s[i + 1:]
            return f"{tail}{rng.choice((' - ', ', ', ' : '))}{head[0].lower()}{head[1:]}"
    for de in (" de ", " du ", " des ", " d'"):
        i = s.rfind(de)
        if i > 0:
            return f"{s[i + len(de):]} {s[:i]}"
    words = s.split()
    return " ".join(words[1:] + words[:1]) if len(words) > 1 else s


def name_variant(rng: random.Random, name: str, commune: geo.Commune) -> tuple[str, list[str]]:
    """Another member's spelling of the same name, and what was changed."""
    ops = rng.sample(("accents", "capitals", "legal-form", "article", "abbreviation", "typo", "word-order",
                      "commune-in-name", "punctuation", "plural", "two-typos", "activity-dropped"),
                     rng.choice((1, 1, 2, 2, 3)))
    done: list[str] = []
    for op in ops:
        before = name
        if op == "accents":
            name = _strip_accents(name)
        elif op == "capitals":
            name = name.upper() if rng.random() < 0.5 else name.lower()
        elif op == "legal-form":
            name = rng.choice(LEGAL_FORMS).format(name)
        elif op == "article":
            for art in ("La ", "Le ", "Les ", "L'"):
                if name.startswith(art):
                    name = name[len(art):]
                    break
            else:
                name = rng.choice(("La ", "Les ", "L'")) + name if rng.random() < 0.6 else name
        elif op == "abbreviation":
            for full, short in _ABBREVIATIONS:
                if full in name:
                    name = name.replace(full, short, 1)
                    break
        elif op == "typo":
            name = _typo(rng, name)
        elif op == "two-typos":
            name = _typo(rng, _typo(rng, name))
        elif op == "plural":  # "Jardins partagés" / "Jardin partagé", "Atelier vélo" / "Ateliers vélo"
            first, _, rest = name.partition(" ")
            name = f"{first[:-1] if first.endswith('s') else first + 's'} {rest}".strip()
        elif op == "activity-dropped":  # "Atelier vélo La Ruche" → "La Ruche": what the members call it
            for art in (" La ", " Le ", " Les ", " L'"):
                i = name.find(art)
                if i > 0:
                    name = name[i + 1:]
                    break
        elif op == "word-order":
            name = _reorder(name, rng)
        elif op == "commune-in-name":
            de = de_place(commune.name)
            name = name.replace(f" {de}", "") if name.endswith(de) else f"{name} {rng.choice((de, commune.name))}"
        elif op == "punctuation":
            name = name.replace("'", "’").replace("-", " ") if rng.random() < 0.5 else \
                name.replace("'", " ").replace(" - ", " ").replace(",", "")
        if name != before:
            done.append(op)
    return name, done


def twin(g: Generator, a: Actor) -> tuple[Actor, list[str]]:
    """The same actor as a member of the other network enters it."""
    rng = g.rng
    t = Actor(**{**a.__dict__})
    variations: list[str] = []
    if rng.random() < 0.03 and a.siret:
        t.name = g.name(a.commune)  # another name altogether: only the SIRET tells (when both give it)
        variations.append("renamed")
        t.siret = a.siret
    else:
        t.name, ops = name_variant(rng, a.name, a.commune)
        variations += ops
    # the SIRET: on both sides, or on one only, or on neither
    if variations[:1] != ["renamed"]:
        r = rng.random()
        if a.siret and r < 0.35:
            variations.append("siret-both")
            if rng.random() < 0.3:
                t.siret = f"{a.siret[:3]} {a.siret[3:6]} {a.siret[6:9]} {a.siret[9:]}"
        elif a.siret and r < 0.7:
            t.siret = None
            variations.append("siret-one-side")
        elif not a.siret and r < 0.3:
            t.siret = g.siret()
            variations.append("siret-one-side")
        else:
            t.siret = None
            variations.append("no-siret")
    # the place
    r = rng.random()
    if r < 0.2:
        t.commune_typed = rng.choice((a.commune.name.upper().replace("-", " "), _strip_accents(a.commune.name).lower(),
                                      a.commune.name.replace("Saint-", "St-").replace("Sainte-", "Ste-")))
        variations.append("commune-spelling")
    elif r < 0.3:
        t.commune_typed = ""
        variations.append("postcode-only")
    elif r < 0.38:
        t.postcode_typed = ""
        variations.append("commune-only")
    elif r < 0.42:
        t.commune = g.neighbour(a.commune)  # the head office's commune, not the place of activity
        variations.append("neighbour-commune")
    if rng.random() < 0.5:
        t.insee_typed = ""
    # the address and the pin
    r = rng.random()
    if r < 0.15 and a.commune.has_point:
        t.street = f"{rng.randint(1, 150)} {rng.choice(STREETS)}"
        t.lat, t.lon = point_near(rng, str(a.commune.lat), str(a.commune.lon), 1500.0)
        variations.append("moved-within-commune")
    else:
        if a.street and rng.random() < 0.6:
            t.street = street_variant(a.street, rng.randrange(3))
            variations.append("street-written-otherwise")
        elif rng.random() < 0.3:
            t.street = ""
        if a.lat and rng.random() < 0.65:
            t.lat, t.lon = point_near(rng, a.lat, a.lon, 100.0)
            variations.append("pin-same-building")
        elif rng.random() < 0.5:
            t.lat, t.lon = "", ""
            variations.append("pin-missing")
        elif a.commune.has_point:
            t.lat, t.lon = point_near(rng, str(a.commune.lat), str(a.commune.lon), 1200.0)
            variations.append("pin-elsewhere-in-commune")
    # the contacts: the same written otherwise, another one, or none
    t.email = _contact(rng, a.email, lambda v: v.upper() if rng.random() < 0.3 else v,
                       lambda: f"{rng.choice(EMAIL_BOXES)}@{_slug(t.name)}.fr", variations, "email")
    t.phone = _contact(rng, a.phone, lambda v: v.replace(" ", ".") if " " in v else v,
                       lambda: random_phone(rng), variations, "phone")
    t.website = _contact(rng, a.website, lambda v: v.replace("https://www.", "").rstrip("/") if rng.random() < 0.5
                         else v.replace("https://", "http://"), lambda: "", variations, "website")
    return t, variations


def _contact(rng, value: str, restyle, other, variations: list[str], what: str) -> str:
    if not value:
        return other() if rng.random() < 0.2 else ""
    r = rng.random()
    if r < 0.4:
        variations.append(f"same-{what}")
        return restyle(value)
    if r < 0.6:
        return other()
    return ""


# ---- look-alikes -------------------------------------------------------------------------------------------------


def homonym(g: Generator, a: Actor) -> Actor | None:
    """The same name in another commune (now and then written another way): another actor."""
    for _ in range(20):
        c = g.commune()
        name = a.name if g.rng.random() < 0.6 else name_variant(g.rng, a.name, c)[0]
        if c.insee != a.commune.insee and de_place(a.commune.name) not in name and g.claim(name, c):
            return g.actor(c, name)
    return None


def building_neighbour(g: Generator, a: Actor) -> Actor:
    """Another association at the same address (a Maison des associations): same street, a pin on the
    building, sometimes the house's shared phone."""
    n = g.actor(a.commune)
    n.street = a.street or n.street
    if a.lat:
        n.lat, n.lon = point_near(g.rng, a.lat, a.lon, 30.0)
    if a.phone and g.rng.random() < 0.3:
        n.phone = a.phone
    return n


def near_name(g: Generator, a: Actor) -> Actor | None:
    """Another actor of the same commune whose name differs by a word: another place or short name after the
    same activity ("AMAP des Coteaux" / "AMAP du Plateau")."""
    for pattern, *_ in ACTIVITIES:
        head = pattern.split(" {")[0]
        if a.name.startswith(head + " "):
            for _ in range(20):
                name = pattern.format(place=g.rng.choice(LOCAL_PLACES), short=g.short_name())
                if g.claim(name, a.commune):
                    return g.actor(a.commune, name)
    return None


def sibling(g: Generator, a: Actor) -> Actor | None:
    """Another activity under the same short name in the same commune ("Café associatif La Ruche" /
    "Épicerie collaborative La Ruche"), often on the same website."""
    for art in (" La ", " Le ", " Les ", " L'"):
        i = a.name.find(art)
        if i > 0:
            short = a.name[i + 1:]
            for _ in range(20):
                pattern = g.rng.choice([p for p, *_ in ACTIVITIES if "{short}" in p])
                name = pattern.format(short=short, place="")
                if not a.name.startswith(pattern.split(" {")[0]) and g.claim(name, a.commune):
                    n = g.actor(a.commune, name)
                    if a.website and g.rng.random() < 0.3:
                        n.website = a.website
                    return n
    return None


def numbered(g: Generator) -> tuple[Actor, Actor] | None:
    """"Jardin partagé 1" and "Jardin partagé n°2" in one commune: two gardens."""
    c = g.commune()
    head = g.rng.choice(("Jardin partagé", "Jardin familial", "Composteur collectif", "Boîte à livres"))
    head += g.rng.choice((" des Tilleuls", " du Centre", f" {de_place(c.name)}", ""))
    first, second = f"{head} 1", f"{head} n°2"
    if not (g.claim(first, c) and g.claim(second, c)):
        return None
    return g.actor(c, first), g.actor(c, second)


# ---- the set -----------------------------------------------------------------------------------------------------


def make_set(part: str = "dev", seed: int | None = None, size: int = 1000) -> EvalSet:
    """A store of `size` actors and `size` entries from the other wiki: 40 % twins, about 35 % look-alikes,
    the rest new actors."""
    seed = DEFAULT_SEEDS[part] if seed is None else seed
    g = Generator(part, seed)
    rng = g.rng
    store: list[Actor] = []
    chains = rng.sample(g.chains, k=min(len(g.chains), 10))
    sirens = {ch[0]: (make_siret(rng)[:9] if ch[2] else None) for ch in chains}
    while len(store) < size // 7:
        ch = rng.choice(chains)
        branch = g.branch(ch, g.commune(), sirens[ch[0]])
        if branch is not None:
            store.append(branch)
    numbers = [p for p in (numbered(g) for _ in range(size // 100)) if p is not None]
    store += [p[0] for p in numbers]
    while len(store) < size:
        store.append(g.actor())
    ids = {id(a): f"r{i:05d}" for i, a in enumerate(store)}
    cases: list[Case] = []
    for a in rng.sample(store, k=int(size * 0.4)):
        t, variations = twin(g, a)
        cases.append(Case(canonical(t.raw()), ids[id(a)], "twin", tuple(variations)))
    for _ in range(int(size * 0.08)):
        h = homonym(g, rng.choice(store))
        if h is not None:
            cases.append(Case(canonical(h.raw()), None, "homonym"))
    for _ in range(int(size * 0.08)):
        ch = rng.choice(chains)
        branch = g.branch(ch, g.commune(), sirens[ch[0]])  # None where the chain has a branch already
        if branch is not None:
            cases.append(Case(canonical(branch.raw()), None, "chain"))
    for a in rng.sample(store, k=int(size * 0.05)):
        cases.append(Case(canonical(building_neighbour(g, a).raw()), None, "building"))
    for a in rng.sample(store, k=int(size * 0.08)):
        n = near_name(g, a)
        if n is not None:
            cases.append(Case(canonical(n.raw()), None, "near-name"))
    for a in rng.sample(store, k=int(size * 0.05)):
        n = sibling(g, a)
        if n is not None:
            cases.append(Case(canonical(n.raw()), None, "sibling"))
    cases += [Case(canonical(p[1].raw()), None, "number") for p in numbers]
    while len(cases) < size:
        cases.append(Case(canonical(g.actor().raw()), None, "new"))
    rng.shuffle(cases)
    return EvalSet(part, seed, [(ids[id(a)], canonical(a.raw())) for a in store], cases)
