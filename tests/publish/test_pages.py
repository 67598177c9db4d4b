"""Wiki pages of the setup (issue 3, items 4-6): static pages, dashboards, knowledge-base index, glossary."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings, strategies as st

from oscartes_sync import geo, templates
from oscartes_sync.publish import pages
from oscartes_sync.publish.pages import PageSpec
from oscartes_sync.records import ACTOR
from oscartes_sync.targets.wikiname import wiki_name_base

FORMS = {"actor": "31", "project": "32", "event": "33", "offer": "34", "call": "35"}
CONTRACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "yeswiki-contract" / "README.md"
LISTS = templates.all_lists()
THEMES = LISTS["ListeThemes"]["values"]
SERVICES = LISTS["ListeServices"]["values"]

ACTION = re.compile(r"\{\{bazarliste ([^{}]*)\}\}")
PARAM = re.compile(r'(\w+)="([^"]*)"')
LINK = re.compile(r"\[\[([A-Za-z0-9]+)(?: ([^\]]*))?\]\]")
ZWJ = "\u200d"


def static():
    return pages.static_pages(FORMS, LISTS)


def by_tag(specs):
    return {p.tag: p for p in specs}


def actions(body: str) -> list[dict[str, str]]:
    out = []
    for m in ACTION.finditer(body):
        params = dict(PARAM.findall(m.group(1)))
        assert PARAM.sub("", m.group(1)).strip() == "", f"unparsed text in {m.group(0)}"
        out.append(params)
    return out


def contract_params() -> set[str]:
    if not CONTRACT.is_file():
        pytest.skip("../shared is not available")
    text = CONTRACT.read_text(encoding="utf-8")
    section = text[text.index("## 6. Wiki pages"):text.index("## 7.")]
    return set(re.findall(r"`([a-z_]+)`", section))


def splitwords(tag: str) -> str:
    return " ".join(re.findall(r"[A-Z][a-z]*|[a-z]+|[0-9]+", tag))


# ---------------------------------------------------------------------------------------------- a data set

def actor(id_, name, themes=(), services=(), commune="", insee="", structure="association", **extra):
    return {"id": id_, "name": name, "themes": list(themes), "services": list(services), "commune": commune,
            "insee": insee, "structure_type": structure, **extra}


def project(id_, name, carriers=(), themes=(), commune="", status="en-cours"):
    return {"id": id_, "name": name, "carriers": list(carriers), "themes": list(themes), "commune": commune,
            "status": status}


ACTORS = [
    actor("a1", "Recyclerie des Ulis", ["economie-circulaire", "solidarite"], ["recyclerie"], "Les Ulis", "91692"),
    actor("a2", "Repair Café d'Orsay", ["economie-circulaire"], ["repair-cafe"], "Orsay", "91471",
          "collectif-citoyen"),
    actor("a3", "Épicerie La Ruche", ["alimentation", "solidarite"], ["epicerie-collaborative", "produits-bio"],
          "orsay", "", "cooperative", postcode="91400"),  # commune by name, no INSEE code
    actor("a4", "Atelier Roue Libre", ["mobilite"], ["atelier-velo"], "Les Ulis", "91692"),
    actor("a5", "Collectif sans adresse", ["alimentation"], [], "Atlantide", "", ""),
]
PROJECTS = [
    project("p1", "Ressourcerie mobile", ["a1", "a2"], ["economie-circulaire"], "Palaiseau", "en-cours"),
    project("p2", "Cantine solidaire", ["a3"], ["alimentation"], "Orsay", "idee"),
    project("p3", "Vélo-école", [], ["mobilite"], "Massy", "termine"),
]


def dashboards(actors=ACTORS, projects=PROJECTS):
    return by_tag(pages.dashboard_pages(actors, projects, FORMS, lists=LISTS))


def section(body: str, heading: str) -> str:
    m = re.search(r"^=====" + re.escape(heading) + r"=====\n(.*?)(?=^=====|^----|\Z)", body, re.M | re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def rows(body: str, heading: str) -> list[list[str]]:
    """The data rows of the table under `heading`, cells as visible text (links reduced to their label)."""
    text = section(body, heading)
    if "[|" not in text:
        return []
    lines = [ln for ln in text[text.index("[|") + 2:text.index("|]")].strip().split("\n")]
    out = []
    for ln in lines[1:]:  # first line is the header
        cells = [c.strip() for c in ln.strip().strip("|").split(" | ")]
        out.append([LINK.sub(lambda m: m.group(2) or m.group(1), c).replace(ZWJ, "") for c in cells])
    return out


def counts(body: str, heading: str) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in rows(body, heading)}


# ---------------------------------------------------------------------------------------------- static pages

def test_static_pages_render_with_valid_unique_tags():
    specs = static()
    tags = [p.tag for p in specs]
    assert len({t.lower() for t in tags}) == len(tags)
    for p in specs:
        assert p.kind == "static"
        assert pages.is_valid_tag(p.tag) and re.fullmatch(r"[A-Z][A-Za-z0-9]{1,49}", p.tag)
        assert wiki_name_base(splitwords(p.tag)) == p.tag  # the tag YesWiki would derive itself
        assert p.title and p.body.endswith("\n") and not p.body.endswith("\n\n")
        assert p.body.startswith("======"), p.tag
    assert {"CarteActeurs", "AgendaEvenements", "GlossaireTransition", "AccueilOscartes",
            "AideSynchronisation", "AideVisibiliteContacts"} <= set(tags)
    assert {pages.map_tag("theme", k) for k in THEMES} <= set(tags)
    assert {pages.map_tag("service", k) for k in SERVICES} <= set(tags)
    assert "CarteThemeAlimentation" in tags and "CarteServiceRepairCafe" in tags


def test_page_templates_are_strict():
    with pytest.raises(jinja2.UndefinedError):
        pages.render("map.txt.j2", heading="Carte")


def test_every_bazarliste_is_dynamic_uses_known_form_and_contract_parameters():
    allowed = contract_params()
    assert pages.BAZAR_PARAMS <= allowed, pages.BAZAR_PARAMS - allowed
    specs = static() + list(dashboards().values())
    seen = 0
    for p in specs:
        assert p.body.count("{{") == len(actions(p.body)), f"{p.tag}: a {{{{ that is not a bazarliste"
        for params in actions(p.body):
            seen += 1
            assert set(params) <= allowed, (p.tag, set(params) - allowed)
            assert params["id"] in FORMS.values()
            assert params["dynamic"] == "true", p.tag
            assert params["template"] in ("map", "calendar")
            if params["template"] == "map":
                assert params["groups"] and len(params["groups"].split(",")) == len(params["titles"].split(","))
    assert seen > len(THEMES) + len(SERVICES)


def test_all_actors_map_filters_on_themes_services_structure_and_commune():
    params = actions(by_tag(static())["CarteActeurs"].body)
    assert len(params) == 1
    p = params[0]
    assert p["id"] == FORMS["actor"] and p["template"] == "map" and "query" not in p
    expected = [ACTOR.field(n).wiki_key for n in ("themes", "services", "structure_type", "commune")]
    assert p["groups"].split(",") == expected == ["checkboxListeThemes", "checkboxListeServices",
                                                  "listeListeTypesStructure", "bf_ville"]


def test_theme_and_service_maps_query_their_key():
    specs = by_tag(static())
    for key in THEMES:
        (p,) = actions(specs[pages.map_tag("theme", key)].body)
        assert p["query"] == f"checkboxListeThemes={key}" and p["id"] == FORMS["actor"]
        assert "checkboxListeThemes" not in p["groups"].split(",")
    for key in SERVICES:
        (p,) = actions(specs[pages.map_tag("service", key)].body)
        assert p["query"] == f"checkboxListeServices={key}"


def test_agenda_has_a_calendar_and_a_map_of_events():
    params = actions(by_tag(static())["AgendaEvenements"].body)
    assert [p["template"] for p in params] == ["calendar", "map"]
    assert all(p["id"] == FORMS["event"] and p["dynamic"] == "true" for p in params)


def test_forms_change_the_ids_in_actions():
    other = pages.static_pages({**FORMS, "actor": "7"}, LISTS)
    (p,) = actions(by_tag(other)["CarteActeurs"].body)
    assert p["id"] == "7"
    with pytest.raises(ValueError, match="actor"):
        pages.static_pages({**FORMS, "actor": "x"}, LISTS)


def test_internal_links_point_to_pages_of_the_setup():
    specs = static() + list(dashboards().values()) + pages.kb_index_pages([("ArticleTest", "Test", ["energie"])])
    tags = {p.tag for p in specs} | {"ArticleTest"}
    for p in specs:
        for target, _label in LINK.findall(p.body):
            assert target in tags, f"{p.tag} links to {target}, which nothing writes"
    home_links = {t for t, _ in LINK.findall(by_tag(specs)["AccueilOscartes"].body)}
    assert {"CarteActeurs", "AgendaEvenements", "TableauDeBordTerritoire", "BaseDeConnaissances",
            "GlossaireTransition", "AideSynchronisation", "AideVisibiliteContacts"} <= home_links
    assert {pages.map_tag("theme", k) for k in THEMES} <= home_links


def test_static_text_has_no_accidental_wikiname():
    """A CamelCase word in running text becomes a link in YesWiki; page text must not carry one by mistake."""
    camel = re.compile(r"(?<![A-Za-z0-9_])[A-Z][a-z]+[A-Z0-9][A-Za-z0-9]*")
    for p in static():
        text = ACTION.sub("", LINK.sub("", p.body))
        assert not camel.findall(text), (p.tag, camel.findall(text))


def test_page_spec_checks_tag_and_kind():
    with pytest.raises(ValueError):
        PageSpec("Page Invalide", "t", "b", "static")
    with pytest.raises(ValueError):
        PageSpec("carteacteurs", "t", "b", "static")
    with pytest.raises(ValueError):
        PageSpec("CarteActeurs", "t", "b", "dynamic")
    assert not pages.is_valid_tag("A" * 51) and not pages.is_valid_tag("CarteÉté")


def test_bazar_action_refuses_unknown_parameters_and_breaking_values():
    with pytest.raises(ValueError, match="not in the contract"):
        pages.bazar_action(id="1", facettes="x")
    for bad in ('a"b', "a}}", "a\nb"):
        with pytest.raises(ValueError):
            pages.bazar_action(id="1", query=bad)


# ---------------------------------------------------------------------------------------------- glossary

def test_glossary_terms_are_unique_and_cover_the_basics():
    terms = pages.load_glossary()
    keys = [pages.sort_key(t.term) for t in terms]
    assert len(keys) == len(set(keys)) and len(terms) >= 25
    assert keys == sorted(keys)
    names = " ".join(keys)
    for needed in ("sobriete", "economie circulaire", "(ess)", "scic", "tiers-lieu", "recyclerie", "amap",
                   "circuit court"):
        assert needed in names, needed
    body = by_tag(static())["GlossaireTransition"].body
    for t in terms:
        assert f"**{pages.text(t.term)}** : " in body


def test_glossary_with_a_duplicate_is_refused(tmp_path):
    path = tmp_path / "glossary.json"
    path.write_text(json.dumps({"terms": [{"term": "Sobriété", "definition": "a"},
                                          {"term": "sobriete", "definition": "b"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match="glossary.json.*twice"):
        pages.load_glossary(path)


# ---------------------------------------------------------------------------------------------- dashboards

def test_dashboard_tags_kinds_and_commune_maps():
    d = dashboards()
    assert all(p.kind == "derived" and pages.is_valid_tag(p.tag) for p in d.values())
    assert all(wiki_name_base(splitwords(t)) == t for t in d)
    assert {pages.dashboard_tag("theme", k) for k in THEMES} <= set(d)
    # communes with an actor or a project get a dashboard; a map only where there is an actor
    assert {t for t in d if t.startswith("TableauDeBordCommune")} == {
        "TableauDeBordCommune91692", "TableauDeBordCommune91471", "TableauDeBordCommune91477",
        "TableauDeBordCommune91377"}
    assert {t for t in d if t.startswith("CarteCommune")} == {"CarteCommune91692", "CarteCommune91471"}
    (p,) = actions(d["CarteCommune91692"].body)
    ulis = geo.commune_by_insee("91692")
    assert p["query"] == "bf_insee=91692" and p["zoom"] == pages.COMMUNE_ZOOM
    assert (float(p["lat"]), float(p["lon"])) == (ulis.lat, ulis.lon)
    assert "bf_ville" not in p["groups"].split(",")


def test_overview_counts():
    body = dashboards()["TableauDeBordTerritoire"].body
    assert "**5** acteurs, **3** projets, dans **2** communes" in body
    assert counts(body, "Acteurs par thème") == {
        "Économie circulaire & réemploi": 2, "Solidarité": 2, "Alimentation": 2, "Mobilité": 1}
    assert counts(body, "Acteurs par service") == {
        "Recyclerie / ressourcerie / friperie": 1, "Repair café": 1, "Épicerie collaborative": 1,
        "Produits bio / équitables": 1, "Atelier vélo": 1}
    assert counts(body, "Acteurs par type de structure") == {
        "Association": 2, "Collectif citoyen": 1, "Coopérative": 1, "non renseigné": 1}
    communes = rows(body, "Acteurs et projets par commune")
    orsay = geo.commune_by_insee("91471")
    assert ["Orsay", "91471", orsay.epci_name, "2", "1"] in communes
    assert ["Les Ulis", "91692", geo.commune_by_insee("91692").epci_name, "2", "0"] in communes
    assert ["Palaiseau", "91477", geo.commune_by_insee("91477").epci_name, "0", "1"] in communes
    assert ["Massy", "91377", geo.commune_by_insee("91377").epci_name, "0", "1"] in communes
    assert communes[-1] == ["Commune non reconnue ou absente", "—", "—", "1", "0"]
    assert counts(body, "Projets par état d'avancement") == {"En cours": 1, "Idée": 1, "Terminé": 1}
    # most frequent first, then alphabetical without accents
    assert [r[0] for r in rows(body, "Acteurs par thème")] == [
        "Alimentation", "Économie circulaire & réemploi", "Solidarité", "Mobilité"]


def test_theme_dashboard_counts_and_projects():
    body = dashboards()["TableauDeBordThemeEconomieCirculaire"].body
    assert "**2** acteurs et **1** projet." in body
    assert counts(body, "Acteurs par service") == {"Recyclerie / ressourcerie / friperie": 1, "Repair café": 1}
    assert [r[0] for r in rows(body, "Acteurs")] == ["Recyclerie des Ulis", "Repair Café d'Orsay"]
    assert rows(body, "Projets et structures porteuses") == [
        ["Ressourcerie mobile", "En cours", "Recyclerie des Ulis, Repair Café d'Orsay", "Palaiseau"]]
    empty = dashboards()["TableauDeBordThemeCulture"].body
    assert "**0** acteur et **0** projet." in empty and rows(empty, "Acteurs") == []


def test_commune_dashboard_links_actors_and_projects():
    d = dashboards()
    body = d["TableauDeBordCommune91471"].body
    orsay = geo.commune_by_insee("91471")
    assert f"**{orsay.insee}**" in body and pages.text(orsay.epci_name) in body
    assert rows(body, "Acteurs") == [["Épicerie La Ruche", "Orsay", "Coopérative", "1"],
                                     ["Repair Café d'Orsay", "Orsay", "Collectif citoyen", "1"]]
    # projects carried by actors of Orsay (p1 is in Palaiseau) and projects located in Orsay (p2)
    assert [r[0] for r in rows(body, "Projets et structures porteuses")] == ["Cantine solidaire",
                                                                             "Ressourcerie mobile"]
    assert counts(body, "Acteurs par thème") == {"Alimentation": 1, "Économie circulaire & réemploi": 1,
                                                 "Solidarité": 1}
    massy = d["TableauDeBordCommune91377"].body
    assert "**0** acteur et **1** projet." in massy and "CarteCommune91377" not in massy


def shuffled(records, seed):
    rng = random.Random(seed)
    out = []
    for r in records:
        r = dict(r)
        for k in ("themes", "services", "carriers"):
            if isinstance(r.get(k), list):
                values = list(r[k])
                rng.shuffle(values)
                r[k] = ",".join(values) if rng.random() < 0.5 else values
        out.append(r)
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_same_data_in_another_order_gives_identical_pages(seed):
    first = dashboards()
    again = dashboards(shuffled(ACTORS, seed), shuffled(PROJECTS, seed + 100))
    assert list(first) != [] and set(first) == set(again)
    for tag, page in first.items():
        assert again[tag].body == page.body, tag


def test_a_changed_figure_changes_only_the_pages_that_show_it():
    before = dashboards()
    added = ACTORS + [actor("a6", "Jardin des Ulis", ["biodiversite"], ["jardin-partage"], "Les Ulis", "91692")]
    after = dashboards(added, PROJECTS)
    changed = {t for t in before if before[t].body != after[t].body}
    assert changed == {"TableauDeBordTerritoire", "TableauDeBordThemeBiodiversite", "TableauDeBordCommune91692"}
    assert counts(after["TableauDeBordCommune91692"].body, "Acteurs par thème")["Biodiversité & nature"] == 1
    renamed = [dict(p, status="termine") if p["id"] == "p2" else p for p in PROJECTS]
    after = dashboards(ACTORS, renamed)
    changed = {t for t in before if before[t].body != after[t].body}
    # p2 is about food, located in Orsay, and carried by a3, who also works on solidarity
    assert changed == {"TableauDeBordTerritoire", "TableauDeBordThemeAlimentation", "TableauDeBordThemeSolidarite",
                       "TableauDeBordCommune91471"}


def test_record_text_cannot_become_markup():
    nasty = [
        actor("x1", '{{include page="X"}}', ["culture"], [], "Les Ulis", "91692"),
        actor("x2", '""<script>alert(1)</script>"" [[http://evil.example clic]]', ["culture"], [],
              '{{redirect page="Y"}}', ""),
        actor("x3", "BioCoop | **gras** ======titre======\n - liste", ["culture"], [], "Orsay", "91471"),
    ]
    projects = [project("y1", "[[AccueilOscartes]] %%code%%", ["x1", "x3"], ["culture"])]
    specs = pages.dashboard_pages(nasty, projects, FORMS, lists=LISTS)
    known = {p.tag for p in specs}
    for p in specs:
        body = p.body
        assert body.count("{{") == len(actions(body)), p.tag
        assert body.count("[[") == len(LINK.findall(body)), p.tag
        assert all(target in known or target == "CarteActeurs" or target.startswith("Carte")
                   for target, _ in LINK.findall(body)), p.tag
        assert '""' not in body and "%%" not in body and "**gras**" not in body and "BioCoop" not in body
        assert not re.search(r"^(?!=====)[^|\n]*======", body, re.M), p.tag  # no heading made from a name
        assert not re.search(r"^ - liste", body, re.M)
    culture = by_tag(specs)["TableauDeBordThemeCulture"].body
    names = [r[0] for r in rows(culture, "Acteurs")]
    assert '{{include page="X"}}' in names  # the visible text is kept, only made inert
    assert "BioCoop ¦ **gras** ======titre====== - liste" in names


MARKUP = st.text(alphabet=st.sampled_from(list('{}[]"%*/_=|#@~-<>! \nabcAB1')), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(st.one_of(MARKUP, st.text(min_size=1, max_size=40)))
def test_any_actor_name_stays_text(name):
    specs = pages.dashboard_pages([actor("z1", name, ["energie"], ["formation"], "Orsay", "91471")],
                                  [project("z2", name, ["z1"], ["energie"], "Orsay")], FORMS, lists=LISTS)
    known = {p.tag for p in specs} | {p.tag for p in static()}
    for p in specs:
        assert p.body.count("{{") == len(actions(p.body))
        assert p.body.count("[[") == len(LINK.findall(p.body))
        assert all(t in known for t, _ in LINK.findall(p.body))
        assert '""' not in p.body


# ---------------------------------------------------------------------------------------------- knowledge base

def test_kb_index_groups_by_theme():
    page, *per_theme = pages.kb_index_pages([
        ("RecyclerieModeEmploi", "La recyclerie, mode d'emploi", ["economie-circulaire"]),
        ("SobrieteEnergetique", "Sobriété énergétique", "Énergie, economie circulaire & réemploi"),
        ("AtelierVelo", "Monter un atelier vélo", ["mobilite", "Vélo"]),
        ("NotesDiverses", "Notes diverses", []),
        ("ArticleTitre", '{{include page="X"}}', ["energie"]),
    ], lists=LISTS)
    assert page.tag == "BaseDeConnaissances" and page.kind == "derived"
    body = page.body
    headings = re.findall(r"^=====([^=].*[^=])=====$", body, re.M)
    assert headings == ["Mobilité", "Énergie", "Économie circulaire & réemploi", "Vélo", "Autres articles"]
    energy = LINK.findall(section(body, "Énergie"))
    assert [t for t, _ in energy] == ["SobrieteEnergetique", "ArticleTitre"]  # by title: "s" < "{"
    assert [t for t, _ in LINK.findall(section(body, "Économie circulaire & réemploi"))] == [
        "RecyclerieModeEmploi", "SobrieteEnergetique"]
    assert body.count("{{") == 0
    same, *_ = pages.kb_index_pages(list(reversed([
        ("RecyclerieModeEmploi", "La recyclerie, mode d'emploi", ["economie-circulaire"]),
        ("SobrieteEnergetique", "Sobriété énergétique", "Énergie, economie circulaire & réemploi"),
        ("AtelierVelo", "Monter un atelier vélo", ["Vélo", "mobilite"]),
        ("NotesDiverses", "Notes diverses", []),
        ("ArticleTitre", '{{include page="X"}}', ["energie"]),
    ])), lists=LISTS)
    assert same.body == body
    # an index page per theme of the list that has articles, in the list's order
    assert [p.tag for p in per_theme] == [pages.kb_theme_tag(k) for k in ("mobilite", "energie", "economie-circulaire")]
    energie = per_theme[1]
    assert energie.title == "Base de connaissances : Énergie" and energie.kind == "derived"
    assert [t for t, _ in LINK.findall(energie.body)][:2] == ["SobrieteEnergetique", "ArticleTitre"]
    assert "AtelierVelo" not in energie.body


def test_kb_index_refuses_a_bad_tag_and_handles_no_article():
    with pytest.raises(ValueError, match="WikiName"):
        pages.kb_index_pages([("Pas Bon", "x", [])], lists=LISTS)
    [only] = pages.kb_index_pages([], lists=LISTS)
    assert "Aucun article" in only.body
