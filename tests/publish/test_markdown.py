"""Markdown articles -> YesWiki markup: a corpus of real-looking articles, and the refusals of issue 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from oscartes_sync.publish.markdown import (
    ArticleError, escape_text, markdown_to_yeswiki, parse_article, to_yeswiki,
)

ARTICLES = Path(__file__).parent / "articles"


def convert(name: str) -> str:
    return to_yeswiki(parse_article((ARTICLES / name).read_text(encoding="utf-8"), name))


def visible(s: str) -> str:
    return s.replace("\u200d", "")


def test_recyclerie_article_converts_every_construct():
    out = convert("recyclerie.md")
    assert out.startswith("======La recyclerie, mode d'emploi======\n")
    assert "=====Ce qu'on peut déposer=====" in out
    assert "**recyclerie**" in out and "//répare//" in out
    assert "[[https://www.ademe.fr/]]" in out
    assert "[[https://www.recycleries-ressourceries.org le réseau]]" in out
    assert "\n - meubles en bon état\n - vélos, même abîmés\n  - pièces détachées\n - livres" in out
    assert "\n 1) Appelez avant de venir\n 2) Triez vos objets" in out
    assert "[|\n| **Type** | **Accepté ?** |\n| Électroménager | oui, s'il fonctionne |\n| Matelas | non |\n|]" in out
    assert "%%\nhoraires: Mo-Fr 09:00-18:00\n%%" in out
    assert '![Atelier](https://example.org/atelier.jpg "L\'atelier")' in out
    assert out.rstrip().endswith("//Auteur : Collectif OSCARTES. Licence : CC BY-SA 4.0.//")


def test_member_text_cannot_start_an_action_raw_html_or_link():
    out = convert("recyclerie.md")
    assert "{{" not in out and '""' not in out
    # the text is still there for a reader, only made inert
    assert '{{include page="Secret"}}' in visible(out) and '""brut""' in visible(out)


def test_glossary_article_links_code_and_metadata():
    article = parse_article((ARTICLES / "glossaire-sobriete.md").read_text(encoding="utf-8"), "glossaire-sobriete.md")
    assert article.title == "Sobriété énergétique" and article.themes == ("energie",)
    assert article.updated == "2026-10-02" and article.author == "PôleS NOE"
    out = to_yeswiki(article)
    assert "====Trois niveaux====" in out
    assert "[[mailto:contact@example.org l'équipe]]" in out
    assert "`chauffage = 19`" in out
    assert " 3) Sobriété collective" in out
    # a wiki link written the YesWiki way is text, not a link the author did not mean to make
    assert "[[Mobilité douce]]" not in out and "[[Mobilité douce]]" in visible(out)


def test_atelier_article_title_from_heading_rule_strike_and_quote():
    article = parse_article((ARTICLES / "atelier-velo.md").read_text(encoding="utf-8"), "atelier-velo.md")
    assert article.title == "Monter un atelier vélo participatif"
    out = to_yeswiki(article)
    assert "\n----\n" in out
    assert "@@Ancienne adresse@@" in out
    assert "//« Les ateliers vélo sont aussi des lieux de lien social. »//" in out
    assert "| Outillage de base | 1 500 € |" in out


@pytest.mark.parametrize("text, line, words", [
    ("Intro\n\n<script>alert(1)</script>\n", 3, "a script"),
    ("Intro\n\nUn mot <b>gras</b>.\n", 3, "raw HTML"),
    ("Titre\n\n<div class='x'>bloc</div>\n", 3, "raw HTML"),
    ("Voir [ici](javascript:alert(1)).\n", 1, "link URL refused"),
    ("![x](data:image/png;base64,AAA)\n", 1, "image URL refused"),
    ("![x](images/local.png)\n", 1, "image URL refused"),
])
def test_refused_articles_name_the_file_and_line(text, line, words):
    with pytest.raises(ArticleError) as err:
        markdown_to_yeswiki(text, "article.md")
    assert err.value.source == "article.md" and err.value.line == line
    assert words in str(err.value) and str(err.value).startswith(f"article.md:{line}: ")


def test_line_numbers_count_the_front_matter():
    text = "---\ntitle: Essai\n---\nPremier paragraphe.\n\n<iframe src='x'></iframe>\n"
    with pytest.raises(ArticleError) as err:
        to_yeswiki(parse_article(text, "essai.md"))
    assert err.value.line == 6


@pytest.mark.parametrize("text, words", [
    ("---\ntitle: x\n", "never closed"),
    ("---\ntitre sans deux-points\n---\nTexte", "not 'key: value'"),
    ("Pas de titre ici.", "no title"),
    ("---\ntitle: x\ndate: 2 octobre\n---\nTexte", "date is not YYYY-MM-DD"),
])
def test_bad_front_matter_is_named(text, words):
    with pytest.raises(ArticleError) as err:
        parse_article(text, "x.md")
    assert words in str(err.value)


@given(st.text(alphabet=st.sampled_from(list('ab *_/{}[]"#@%~=|-\n')), max_size=60))
def test_escaped_text_never_carries_yeswiki_markup(s):
    out = escape_text(s)
    for pair in ("{{", '""', "[[", "**", "//", "%%", "@@", "##", "==", "---", "[|"):
        assert pair not in out
    assert visible(out) == s.replace("\r", "")
