"""The home page, banner and menu of a fresh YesWiki, replaced by OSCARTES's own (issue 17).

A freshly installed YesWiki 4.4 greets its readers with "Félicitations, votre wiki est installé !", a banner
"Description de mon wiki" and a menu "Bac à sable / Menu exemple". `provision` replaces these three pages, and
only while the wiki is fresh: each of them is still YesWiki's stock page (data/yeswiki-stock-pages.json, as
recorded on a real 4.4.2 install), or the page the service itself wrote, or absent. As soon as a person has
edited any of the three, none of them is touched again, even with `--force`: they are the wiki's own.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .. import territory as territories
from .pages import (TAG_DASHBOARD, TAG_EVENTS, TAG_GLOSSARY, TAG_HELP_SYNC, TAG_HELP_VISIBILITY, TAG_HOME,
                    TAG_KB_INDEX, TAG_MAP_ACTORS, PageSpec, Raw, link, page_context, render)

STOCK_FILE = Path(__file__).resolve().parents[1] / "data" / "yeswiki-stock-pages.json"
TAG_ROOT, TAG_BANNER, TAG_MENU = "PagePrincipale", "PageHeader", "PageMenuHaut"
TAG_DOCS = "DocumentationOscartes"  # docs.DOC_PAGES[0]; docs imports pages, so the tag is repeated here


@lru_cache(maxsize=1)
def stock_bodies() -> dict[str, str]:
    """tag -> body of YesWiki's stock home page, banner and menu."""
    return dict(json.loads(STOCK_FILE.read_text(encoding="utf-8"))["pages"])


def fresh_wiki_pages(territory: territories.Territory | None = None, root: Path | None = None, *,
                     dashboards: bool = True, knowledge_base: bool = False) -> list[PageSpec]:
    """What the three stock pages become. `dashboards`, `knowledge_base`: whether `sync` publishes those pages
    under the config (the menu links to them only then)."""
    with page_context(territory, root):
        return [
            PageSpec(TAG_ROOT, "Accueil", render("root_page.txt.j2",
                                                 home=Raw(f'{{{{include page="{TAG_HOME}"}}}}')), "static"),
            PageSpec(TAG_BANNER, "Bandeau", render(
                "banner.txt.j2",
                section_start=Raw('{{section bgcolor="var(--neutral-color)" class="white text-center cover"}}'),
                section_end=Raw('{{end elem="section"}}')), "static"),
            PageSpec(TAG_MENU, "Menu", render(
                "menu.txt.j2", map=link(TAG_MAP_ACTORS, "Carte des acteurs"), events=link(TAG_EVENTS, "Agenda"),
                dashboard=link(TAG_DASHBOARD, "Tableau de bord") if dashboards else None,
                kb=link(TAG_KB_INDEX, "Base de connaissances") if knowledge_base else None,
                glossary=link(TAG_GLOSSARY, "Glossaire"),
                help_sync=link(TAG_HELP_SYNC, "Comment fonctionne la synchronisation"),
                help_visibility=link(TAG_HELP_VISIBILITY, "Visibilité de vos coordonnées"),
                docs=link(TAG_DOCS, "Documentation")), "static"),
        ]
