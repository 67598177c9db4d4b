"""Record kinds and their canonical fields (PRODUCT.md §2): the one registry of kinds.

A canonical field has a name (English, stable, used in the store), a type that decides how values are
cleaned and compared (fields.py), and the YesWiki key it takes in the forms this project provisions
(`wiki_templates/forms/`). A wiki with its own forms maps canonical names to its keys in the config.

Everything that lists kinds derives from `KINDS`: the default form ids of the config, the form templates that
provisioning renders (`forms/<name>.txt.j2`), the open-data exports and their file names. A new kind is one
`Kind(...)` here and its form template. `SERVICE_FORMS` are the other forms provisioning sets up (the
decisions of the review page): not kinds, so nothing syncs, exports or counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .text import N_


@dataclass(frozen=True)
class FieldDef:
    name: str
    # text, longtext, url, email, phone, siret, key, keys, lat, lon, date, postcode, insee, hours, links, image
    type: str
    wiki_key: str  # key in the provisioned Bazar form; `{form:actor}` is replaced by that wiki's actor form id
    list_id: str | None = None  # Bazar list of the allowed keys (key/keys types)
    contact: bool = False  # members-only unless the record marks its contact details public (DECISIONS §6)
    max_length: int | None = None
    label: str = ""  # what a person calls it, in English (translated where shown: `i18n.translate(Term)`)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # French: the Bazar form's label, and the wiki pages' headings
    fields: tuple[FieldDef, ...]
    form_id: str  # the Bazar form id the provisioned form asks for (bn_id_nature), away from a fresh wiki's ids
    export_stem: str | None = None  # file name of its open-data exports (`acteurs.csv`...); None: not exported
    # fields that say where it is, for the geocoder (street first); () = never placed from an address
    address_fields: tuple[str, ...] = ()
    noun: str = ""  # what a person calls its records, plural, in English ("actors"; translated where shown)
    one: str = ""  # ... and one of them ("actor")

    @property
    def form_template(self) -> str:
        """The form template provisioning renders for this kind, in `wiki_templates/`."""
        return f"forms/{self.name}.txt.j2"

    @property
    def title_field(self) -> str:
        return self.fields[0].name

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


F = FieldDef

ACTOR = Kind("actor", "Acteurs", (
    F("name", "text", "bf_titre", max_length=200, label=N_("name")),
    F("short_description", "text", "bf_chapeau", max_length=280, label=N_("short description")),
    F("description", "longtext", "bf_description", label=N_("description")),
    F("siret", "siret", "bf_siret", label=N_("SIRET")),
    F("structure_type", "key", "listeListeTypesStructure", list_id="ListeTypesStructure",
      label=N_("type of structure")),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes", label=N_("themes")),
    F("services", "keys", "checkboxListeServices", list_id="ListeServices", label=N_("services")),
    F("publics", "keys", "checkboxListePublics", list_id="ListePublics", label=N_("publics")),
    F("street", "text", "bf_adresse", label=N_("street")),
    F("postcode", "postcode", "bf_codepostal", label=N_("postcode")),
    F("commune", "text", "bf_ville", label=N_("commune")),
    F("insee", "insee", "bf_insee", label=N_("INSEE code")),
    F("latitude", "lat", "bf_latitude", label=N_("latitude")),
    F("longitude", "lon", "bf_longitude", label=N_("longitude")),
    F("email", "email", "bf_mail", contact=True, label=N_("email")),
    F("phone", "phone", "bf_telephone", contact=True, label=N_("phone")),
    F("website", "url", "bf_site_internet", label=N_("website")),
    F("social", "url", "bf_reseaux_sociaux", label=N_("social networks")),
    F("opening_hours", "hours", "bf_horaires", label=N_("opening hours")),
    F("networks", "keys", "checkboxListeReseaux", list_id="ListeReseaux", label=N_("networks")),
    F("contact_visibility", "key", "listeListeVisibilite", list_id="ListeVisibilite",
      label=N_("visibility of the contact details")),
    F("logo", "image", "imagebf_logo", label=N_("logo")),
), form_id="20", export_stem="acteurs",
     address_fields=("street", "postcode", "commune", "insee"), noun=N_("actors"), one=N_("actor"))

PROJECT = Kind("project", "Projets", (
    F("name", "text", "bf_titre", max_length=200, label=N_("name")),
    F("description", "longtext", "bf_description", label=N_("description")),
    F("carriers", "links", "checkboxfiche{form:actor}bf_porteurs", label=N_("carrying actors")),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes", label=N_("themes")),
    F("status", "key", "listeListeStatutsProjet", list_id="ListeStatutsProjet", label=N_("status")),
    F("commune", "text", "bf_ville", label=N_("commune")),
    F("needs", "keys", "checkboxListeBesoins", list_id="ListeBesoins", label=N_("needs")),
    F("start_date", "date", "bf_date_debut", label=N_("start date")),
    F("end_date", "date", "bf_date_fin", label=N_("end date")),
), form_id="21", export_stem="projets", noun=N_("projects"), one=N_("project"))

EVENT = Kind("event", "Événements", (
    F("name", "text", "bf_titre", max_length=200, label=N_("name")),
    F("description", "longtext", "bf_description", label=N_("description")),
    F("start", "date", "bf_date_debut_evenement", label=N_("start")),
    F("end", "date", "bf_date_fin_evenement", label=N_("end")),
    F("place", "text", "bf_lieu", label=N_("place")),
    F("commune", "text", "bf_ville", label=N_("commune")),
    F("latitude", "lat", "bf_latitude", label=N_("latitude")),
    F("longitude", "lon", "bf_longitude", label=N_("longitude")),
    F("organisers", "links", "checkboxfiche{form:actor}bf_organisateurs", label=N_("organisers")),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes", label=N_("themes")),
    F("link", "url", "bf_site_internet", label=N_("link")),
    F("image", "image", "imagebf_image", label=N_("image")),
), form_id="22", export_stem="evenements", address_fields=("place", "commune"),
     noun=N_("events"), one=N_("event"))

OFFER = Kind("offer", "Offres", (
    F("name", "text", "bf_titre", max_length=200, label=N_("name")),
    F("offer_kind", "key", "listeListeTypesOffre", list_id="ListeTypesOffre", label=N_("kind of offer")),
    F("description", "longtext", "bf_description", label=N_("description")),
    F("actor", "links", "listefiche{form:actor}bf_acteur", label=N_("actor")),
    F("commune", "text", "bf_ville", label=N_("commune")),
    F("start_date", "date", "bf_date_debut", label=N_("start date")),
    F("end_date", "date", "bf_date_fin", label=N_("end date")),
    F("contact", "email", "bf_mail", contact=True, label=N_("contact")),
), form_id="23", export_stem="offres", noun=N_("offers"), one=N_("offer"))

CALL = Kind("call", "Appels à projets", (
    F("name", "text", "bf_titre", max_length=200, label=N_("name")),
    F("funder", "text", "bf_financeur", label=N_("funder")),
    F("deadline", "date", "bf_date_limite", label=N_("deadline")),
    F("amount", "text", "bf_montant", label=N_("amount")),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes", label=N_("themes")),
    F("eligible", "longtext", "bf_eligibilite", label=N_("who is eligible")),
    F("link", "url", "bf_site_internet", label=N_("link")),
), form_id="24", noun=N_("calls for projects"), one=N_("call for projects"))

KINDS: dict[str, Kind] = {k.name: k for k in (ACTOR, PROJECT, EVENT, OFFER, CALL)}
# canonical field -> what a person calls it (one name per field whatever the kind)
FIELD_LABELS: dict[str, str] = {f.name: f.label for k in KINDS.values() for f in k.fields}


@dataclass(frozen=True)
class ServiceForm:
    """A Bazar form the service provisions for its own use, beside the record kinds: its entries are read by
    the service, never synced to another wiki, exported or published (`wiki_templates/forms/<name>.txt.j2`)."""

    name: str
    label: str
    form_id: str  # default bn_id_nature; `[wiki.forms] <name> = "..."` moves it

    @property
    def form_template(self) -> str:
        return f"forms/{self.name}.txt.j2"


# Decisions taken on the review page of a wiki (DECISIONS §25): read and answered by `sync` (review.py).
DECISIONS = ServiceForm("decisions", "Décisions OSCARTES", "25")
SERVICE_FORMS: dict[str, ServiceForm] = {f.name: f for f in (DECISIONS,)}
