"""Record kinds and their canonical fields (PRODUCT.md §2): the one registry of kinds.

A canonical field has a name (English, stable, used in the store), a type that decides how values are
cleaned and compared (fields.py), and the YesWiki key it takes in the forms this project provisions
(`wiki_templates/forms/`). A wiki with its own forms maps canonical names to its keys in the config.

Everything that lists kinds derives from `KINDS`: the default form ids of the config, the form templates that
provisioning renders (`forms/<name>.txt.j2`), the open-data exports and their file names. A new kind is one
`Kind(...)` here and its form template.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldDef:
    name: str
    # text, longtext, url, email, phone, siret, key, keys, lat, lon, date, postcode, insee, hours, links, image
    type: str
    wiki_key: str  # key in the provisioned Bazar form; `{form:actor}` is replaced by that wiki's actor form id
    list_id: str | None = None  # Bazar list of the allowed keys (key/keys types)
    contact: bool = False  # members-only unless the record marks its contact details public (DECISIONS §6)
    max_length: int | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # French, for reports shown to coordinators and wiki pages
    fields: tuple[FieldDef, ...]
    form_id: str  # the Bazar form id the provisioned form asks for (bn_id_nature), away from a fresh wiki's ids
    export_stem: str | None = None  # file name of its open-data exports (`acteurs.csv`...); None: not exported
    # fields that say where it is, for the geocoder (street first); () = never placed from an address
    address_fields: tuple[str, ...] = ()

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
    F("name", "text", "bf_titre", max_length=200),
    F("short_description", "text", "bf_chapeau", max_length=280),
    F("description", "longtext", "bf_description"),
    F("siret", "siret", "bf_siret"),
    F("structure_type", "key", "listeListeTypesStructure", list_id="ListeTypesStructure"),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes"),
    F("services", "keys", "checkboxListeServices", list_id="ListeServices"),
    F("publics", "keys", "checkboxListePublics", list_id="ListePublics"),
    F("street", "text", "bf_adresse"),
    F("postcode", "postcode", "bf_codepostal"),
    F("commune", "text", "bf_ville"),
    F("insee", "insee", "bf_insee"),
    F("latitude", "lat", "bf_latitude"),
    F("longitude", "lon", "bf_longitude"),
    F("email", "email", "bf_mail", contact=True),
    F("phone", "phone", "bf_telephone", contact=True),
    F("website", "url", "bf_site_internet"),
    F("social", "url", "bf_reseaux_sociaux"),
    F("opening_hours", "hours", "bf_horaires"),
    F("networks", "keys", "checkboxListeReseaux", list_id="ListeReseaux"),
    F("contact_visibility", "key", "listeListeVisibilite", list_id="ListeVisibilite"),
    F("logo", "image", "imagebf_logo"),
), form_id="20", export_stem="acteurs", address_fields=("street", "postcode", "commune", "insee"))

PROJECT = Kind("project", "Projets", (
    F("name", "text", "bf_titre", max_length=200),
    F("description", "longtext", "bf_description"),
    F("carriers", "links", "checkboxfiche{form:actor}bf_porteurs"),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes"),
    F("status", "key", "listeListeStatutsProjet", list_id="ListeStatutsProjet"),
    F("commune", "text", "bf_ville"),
    F("needs", "keys", "checkboxListeBesoins", list_id="ListeBesoins"),
    F("start_date", "date", "bf_date_debut"),
    F("end_date", "date", "bf_date_fin"),
), form_id="21", export_stem="projets")

EVENT = Kind("event", "Événements", (
    F("name", "text", "bf_titre", max_length=200),
    F("description", "longtext", "bf_description"),
    F("start", "date", "bf_date_debut_evenement"),
    F("end", "date", "bf_date_fin_evenement"),
    F("place", "text", "bf_lieu"),
    F("commune", "text", "bf_ville"),
    F("latitude", "lat", "bf_latitude"),
    F("longitude", "lon", "bf_longitude"),
    F("organisers", "links", "checkboxfiche{form:actor}bf_organisateurs"),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes"),
    F("link", "url", "bf_site_internet"),
    F("image", "image", "imagebf_image"),
), form_id="22", export_stem="evenements", address_fields=("place", "commune"))

OFFER = Kind("offer", "Offres", (
    F("name", "text", "bf_titre", max_length=200),
    F("offer_kind", "key", "listeListeTypesOffre", list_id="ListeTypesOffre"),
    F("description", "longtext", "bf_description"),
    F("actor", "links", "listefiche{form:actor}bf_acteur"),
    F("commune", "text", "bf_ville"),
    F("start_date", "date", "bf_date_debut"),
    F("end_date", "date", "bf_date_fin"),
    F("contact", "email", "bf_mail", contact=True),
), form_id="23", export_stem="offres")

CALL = Kind("call", "Appels à projets", (
    F("name", "text", "bf_titre", max_length=200),
    F("funder", "text", "bf_financeur"),
    F("deadline", "date", "bf_date_limite"),
    F("amount", "text", "bf_montant"),
    F("themes", "keys", "checkboxListeThemes", list_id="ListeThemes"),
    F("eligible", "longtext", "bf_eligibilite"),
    F("link", "url", "bf_site_internet"),
), form_id="24")

KINDS: dict[str, Kind] = {k.name: k for k in (ACTOR, PROJECT, EVENT, OFFER, CALL)}
