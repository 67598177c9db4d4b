"""The documentation is generated from the real set-up: every field of every form and every value of every list
is in it, the repository's docs/ is exactly what `oscartes-sync kit docs` writes, and every wiki page of the
"Documentation" section carries the licence line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscartes_sync import templates, territory
from oscartes_sync.cli import cli
from oscartes_sync.config import DEFAULT_FORM_IDS
from oscartes_sync.publish import docs
from oscartes_sync.records import KINDS

REPO_DOCS = Path(__file__).resolve().parents[2] / "docs"
OTHER_WRITERS = {"faults.md": "tests/fault_suite.py --full",  # docs/ pages another command writes
                 "benchmarks.md": "python -m benchmarks.publish"}


def _rows(markdown: str) -> list[list[str]]:
    """The cells of every table row of a Markdown page (header and separator rows included)."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("|")]


def _unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell).replace("¦", "|").strip("`")


@pytest.fixture(scope="module")
def setup():
    return docs.build_setup()


def test_every_field_of_every_form_is_documented_with_its_label_type_required_help_and_list(setup):
    page = docs.markdown_pages(setup, wiki=False)["formulaires"]
    lists = templates.all_lists()
    for kind in templates.FORM_KINDS:
        bn_template = templates.render_form_template(kind, DEFAULT_FORM_IDS)
        heading = f"## {KINDS[kind].label} (formulaire {DEFAULT_FORM_IDS[kind]})"
        section = page.split(heading)[1].split("\n## ")[0]
        rows = {tuple(_unescape(k) for k in r[1].split(", ")): r for r in _rows(section)[2:]}
        assert len(rows) == len(templates.parse_template(bn_template))
        for cols in templates.parse_template(bn_template):
            cols = cols + [""] * (13 - len(cols))
            keys = tuple(templates.field_keys(cols))
            row = rows[keys]
            label, _, ftype, required, help_text, list_cell = row[:6]
            if cols[0] != "map":
                assert _unescape(label) == cols[2]
            assert f"(`{cols[0]}`)" in ftype
            assert required == ("oui" if cols[8] == "1" else "non")
            assert _unescape(help_text) == (cols[10].strip() or "")
            if cols[0] in ("liste", "checkbox", "radio"):
                assert f"(`{cols[1]}`)" in list_cell and lists[cols[1]]["titre"] in _unescape(list_cell)
    # and every canonical field of the source record appears next to its key
    for kind in KINDS.values():
        section = page.split(f"## {kind.label} (formulaire")[1].split("\n## ")[0]
        for f in kind.fields:
            assert f"`{f.name}`" in section, (kind.name, f.name)


def test_every_value_of_every_list_is_documented(setup):
    pages = docs.markdown_pages(setup, wiki=False)
    for list_id, data in templates.all_lists().items():
        if list_id == templates.COMMUNES_LIST_ID:
            rows = {_unescape(r[0]): _unescape(r[1]) for r in _rows(pages["communes"])[2:]}
        else:
            section = pages["listes"].split(f"(`{list_id}`)")[1].split("\n## ")[0]
            rows = {_unescape(r[0]): _unescape(r[1]) for r in _rows(section)[2:]}
        assert rows == data["values"], list_id


def test_every_page_provision_writes_is_described(setup):
    page = docs.markdown_pages(setup, wiki=False)["pages"]
    for spec in setup.static:
        assert f"`{spec.tag}`" in page
    for p in docs.DOC_PAGES:
        assert p.tag in page
    assert "PagePrincipale" in page and "PageMenuHaut" in page


def test_a_page_without_a_description_stops_the_generation(setup, monkeypatch):
    monkeypatch.setattr(docs, "STATIC_PAGE_WHAT", docs.STATIC_PAGE_WHAT[1:])
    with pytest.raises(docs.DocsError, match="CarteActeurs has no description"):
        docs.markdown_pages(setup, wiki=False)


def test_the_committed_docs_are_what_the_command_writes(tmp_path):
    result = CliRunner().invoke(cli, ["kit", "docs", str(tmp_path / "docs")])
    assert result.exit_code == 0, result.output
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "docs").iterdir()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in REPO_DOCS.glob("*.md") if p.name not in OTHER_WRITERS}
    assert written.keys() == committed.keys(), "run `oscartes-sync kit docs docs` and commit docs/"
    for name in written:
        assert committed[name] == written[name], f"docs/{name} is stale: run `oscartes-sync kit docs docs`"


def test_every_wiki_page_of_the_documentation_carries_the_licence_line(setup):
    pages = docs.wiki_pages(setup)
    assert [p.tag for p in pages] == [p.tag for p in docs.DOC_PAGES]
    for p in pages:
        assert "licence CC BY-SA 4.0" in p.body and "PôleS NOE, Territoires en Liens et les contributeurs" in p.body
        assert p.body.startswith("======")  # a YesWiki heading, not Markdown
        assert "](" not in p.body  # every Markdown link became a wiki link
    index = next(p for p in pages if p.tag == docs.TAG_DOCS).body
    assert all(f"[[{p.tag} " in index for p in docs.DOC_PAGES[1:])


def test_the_documentation_of_another_territory_names_it_and_its_communes():
    rhone = territory.from_department("69", networks=["Réseau Alpha"])
    pages = docs.markdown_pages(docs.build_setup(rhone), wiki=False)
    assert "**Rhône** (département 69)" in pages["index"] and "Réseau Alpha" in pages["index"]
    assert "`ListeCommunes69`" in pages["communes"] and "| `69123` | Lyon |" in pages["communes"]
    assert "Porte des Pierres Dorées (`69114`)" in pages["communes"]  # the commune without coordinates, named
    assert "ListeCommunes91" not in "".join(pages.values())


def test_the_same_set_up_gives_the_same_bytes():
    a = docs.markdown_pages(docs.build_setup(), wiki=False)
    b = docs.markdown_pages(docs.build_setup(), wiki=False)
    assert a == b


def test_the_documentation_states_the_settings_of_the_config():
    from oscartes_sync.config import Config

    cfg = Config.model_validate({"sync": {"max_delete_ratio": 0.1, "min_delete_count": 5, "kinds": ["actor", "event"]},
                                 "identity": {"auto_link": 85, "review": 60, "same_place_m": 200}})
    page = docs.markdown_pages(docs.build_setup(cfg=cfg), wiki=False)["synchronisation"]
    assert "plus de 10 % des fiches d'un type (au moins 5)" in page
    assert "d'au moins 85 sur 100" in page and "Entre 60 et 85" in page and "à moins de 200 mètres" in page
    assert "acteurs (`actor`), événements (`event`)" in page


def test_every_command_of_the_cli_is_in_the_documentation(setup):
    """The commands table is written by hand (publish/ cannot read the CLI): a command added without its line
    there fails here."""
    documented = {name.split()[1] for name, _what in docs.COMMANDS}
    assert documented == set(cli.commands), "add the command to docs.COMMANDS and run `oscartes-sync kit docs docs`"
    installation = docs.markdown_pages(setup, wiki=False)["installation"]
    for name in cli.commands:
        assert f"| `oscartes-sync {name}" in installation, name


def test_the_installation_shows_every_deploy_file_verbatim(setup):
    """The service user, both units, the timer and the reverse proxy's lines: a territory installs from this page
    (or the kit's deploy/ folder) without the repository's README."""
    installation = docs.markdown_pages(setup, wiki=False)["installation"]
    deploy = docs.DEPLOY_DIR
    shipped = {p.name for p in deploy.iterdir() if p.is_file()}
    assert set(docs.DEPLOY_FILES) == shipped
    for name in docs.DEPLOY_FILES:
        assert (deploy / name).read_text(encoding="utf-8").rstrip("\n") in installation, name
    assert "useradd" not in installation  # the sysusers file creates the service's user
