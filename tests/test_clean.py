import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oscartes_sync.clean import (
    FIELD_TYPES, Cleaned, clean, file_hash, image_content, stored_file_name, to_wiki_string,
)
from oscartes_sync.records import KINDS


def ok(field_type, value, **kw):
    r = clean(field_type, value, **kw)
    assert r.problem is None, r.problem
    return r.value


def refused(field_type, value, **kw):
    r = clean(field_type, value, **kw)
    assert r.value is None
    assert r.problem, f"{value!r} should be refused"
    return r.problem


def test_every_records_field_type_is_known():
    used = {f.type for k in KINDS.values() for f in k.fields}
    assert used <= FIELD_TYPES


@pytest.mark.parametrize("field_type", sorted(FIELD_TYPES))
@pytest.mark.parametrize("empty", ["", None, [], "   "])
def test_empty_is_none_without_problem(field_type, empty):
    assert clean(field_type, empty) == Cleaned(None, None)


def test_unknown_type_is_a_programming_error():
    with pytest.raises(ValueError):
        clean("colour", "red")


# --- text -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("  Recyclerie   du Val d'Yvette ", "Recyclerie du Val d'Yvette"),
    ("<b>AMAP</b> des Coteaux", "AMAP des Coteaux"),
    ("Café &amp; Cie", "Café & Cie"),
    ("Jardins&nbsp;partagés", "Jardins partagés"),
    ("Atelier vélo <script>alert(1)</script>Roue Libre", "Atelier vélo Roue Libre"),
    ("Ligne 1\nLigne 2\tfin", "Ligne 1 Ligne 2 fin"),
    ("Épicerie solidaire \x00\x07La Clé", "Épicerie solidaire La Clé"),
    ("Lyon\ufffd\ufffd", "Lyon"),
    ("Ris-Orangis \ud800", "Ris-Orangis"),
    ("Enfants < 12 ans", "Enfants < 12 ans"),
    ("E\u0301vry", "Évry"),  # decomposed accent becomes composed
    ("&lt;b&gt;gras&lt;/b&gt;", "gras"),
    (42, "42"),
])
def test_text(raw, expected):
    assert ok("text", raw) == expected


def test_text_keeps_no_entities():
    v = ok("text", "Tom &amp; Jerry &lt;3 &quot;cité&quot;")
    assert "&" in v and "&amp;" not in v and "&quot;" not in v


def test_text_only_markup_is_empty():
    assert clean("text", "<p> </p><br>") == Cleaned(None, None)


def test_text_length_limits():
    assert ok("text", "a" * 1000) == "a" * 1000
    assert refused("text", "a" * 1001) == "value too long (1001 characters, limit 1000)"
    assert "limit 280" in refused("text", "x" * 300, max_length=280)
    assert ok("text", "x" * 5000, max_length=5000)


def test_text_wrong_type():
    assert "unexpected value type" in refused("text", {"a": 1})
    assert "unexpected value type" in refused("text", True)


def test_text_bytes_with_invalid_utf8():
    assert ok("text", b"Corbeil-Essonnes\xff\xfe") == "Corbeil-Essonnes"


# --- longtext ---------------------------------------------------------------------------------------------

def test_longtext_keeps_allowed_tags_and_drops_script():
    v = ok("longtext", '<p>Nous <b>réparons</b> vos vélos.<script>alert("x")</script></p><ul><li>Lundi</li></ul>')
    assert v == "<p>Nous <b>réparons</b> vos vélos.</p><ul><li>Lundi</li></ul>"


def test_longtext_drops_event_handlers_and_javascript_links():
    v = ok("longtext", '<p onclick="steal()">x</p><a href="javascript:alert(1)">clic</a><img src=x onerror=alert(1)>')
    assert "onclick" not in v and "javascript" not in v and "onerror" not in v and "<img" not in v
    assert "clic" in v


def test_longtext_keeps_safe_links():
    v = ok("longtext", '<a href="https://www.reseau-tel.fr/agenda">Agenda</a>')
    assert 'href="https://www.reseau-tel.fr/agenda"' in v


def test_longtext_neutralises_yeswiki_actions():
    v = ok("longtext", 'Voir {{include page="PagePrivee"}} et {{bazarliste id="https://evil.example|7"}}')
    assert "{{" not in v
    assert 'include page="PagePrivee"' in v  # shown as text, not run


def test_longtext_neutralises_raw_html_blocks():
    v = ok("longtext", 'Avant ""<iframe src="https://evil.example"></iframe>"" après')
    assert '""' not in v and "<iframe" not in v


def test_longtext_neutralises_javascript_wiki_links():
    v = ok("longtext", "[[javascript:alert(1) Cliquez ici]]")
    assert "javascript" not in v.lower()


def test_longtext_keeps_paragraphs():
    v = ok("longtext", "Premier paragraphe.\r\n\r\n\r\n\r\nSecond paragraphe.  \n")
    assert v == "Premier paragraphe.\n\nSecond paragraphe."


def test_longtext_20mb_value_is_refused_cheaply():
    assert refused("longtext", "x" * 20_000_000) == "value too long (20000000 characters, limit 100000)"


def test_longtext_limit():
    assert ok("longtext", "a" * 100_000)
    assert "limit 100000" in refused("longtext", "a" * 100_001)


# --- url --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("https://www.polesnoe.org/", "https://www.polesnoe.org/"),
    ("  http://recyclerie-yvette.fr/horaires?x=1  ", "http://recyclerie-yvette.fr/horaires?x=1"),
    ("example.org/x", "https://example.org/x"),
    ("www.amap-coteaux.fr", "https://www.amap-coteaux.fr"),
    ("HTTPS://WWW.Example.ORG/Page", "https://www.example.org/Page"),
    ("//cdn.example.org/a", "https://cdn.example.org/a"),
    ("mailto:contact@roue-libre.fr", "mailto:contact@roue-libre.fr"),
    ("https://www.facebook.com/RecyclerieDuValdYvette", "https://www.facebook.com/RecyclerieDuValdYvette"),
    ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
    ("example.org:8443/a", "https://example.org:8443/a"),
])
def test_url_accepted(raw, expected):
    assert ok("url", raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("javascript:alert(1)", "javascript: URL refused"),
    ("JavaScript:alert(document.cookie)", "javascript: URL refused"),
    ("data:text/html;base64,PHNjcmlwdD4=", "data: URL refused"),
    ("ftp://files.example.org/a", "ftp: URL refused"),
    ("java\tscript:alert(1)", "URL contains spaces or control characters"),
    ("http://exa mple.org", "URL contains spaces or control characters"),
    ("pas une adresse", "URL contains spaces or control characters"),
    ("localhost", "not a URL"),
    ("http:/example.org", "URL without host"),
    ("https://user:pw@example.org/", "URL with credentials refused"),
    ("mailto:pas-une-adresse", "invalid email address"),
])
def test_url_refused(raw, reason):
    assert refused("url", raw) == reason


# --- email ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (" contact@Recyclerie-Yvette.FR ", "contact@recyclerie-yvette.fr"),
    ("Jean.Dupont+amap@orange.fr", "Jean.Dupont+amap@orange.fr"),
    ("mailto:bureau@tel91.org", "bureau@tel91.org"),
    ("asso@café-associatif.fr", "asso@café-associatif.fr"),
])
def test_email_accepted(raw, expected):
    assert ok("email", raw) == expected


@pytest.mark.parametrize("raw", ["contact", "a@b", "a@@b.fr", "@asso.fr", "a b@asso.fr", "a..b@asso.fr",
                                 "contact@-asso.fr", "x@asso.fr<script>"])
def test_email_refused(raw):
    refused("email", raw)


# --- phone ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("01 69 28 00 00", "+33169280000"),
    ("01.64.97.12.34", "+33164971234"),
    ("06-12-34-56-78", "+33612345678"),
    ("+33 (0)1 60 78 00 00", "+33160780000"),
    ("0033 1 60 78 00 00", "+33160780000"),
    ("+33169280000", "+33169280000"),
])
def test_phone_accepted(raw, expected):
    assert ok("phone", raw) == expected


@pytest.mark.parametrize("raw", ["12", "01 69", "téléphone", "00 00 00 00 00", "+33 1 2"])
def test_phone_refused(raw):
    assert refused("phone", raw) == "invalid phone number"


# --- siret / siren ----------------------------------------------------------------------------------------

def test_siret():
    assert ok("siret", "732 829 320 00074") == "73282932000074"
    assert ok("siret", "73282932000074") == "73282932000074"
    assert refused("siret", "73282932000075") == "invalid SIRET (wrong checksum)"
    assert refused("siret", "1234") == "invalid SIRET (14 digits expected)"
    assert refused("siret", "ABCDEFGHIJKLMN") == "invalid SIRET (14 digits expected)"


# --- postcode / insee -------------------------------------------------------------------------------------

def test_postcode():
    assert ok("postcode", "91400") == "91400"
    assert ok("postcode", " 91 940 ") == "91940"
    assert ok("postcode", 91120) == "91120"
    assert ok("postcode", 1000) == "01000"
    assert refused("postcode", "914") == "postcode must be 5 digits"
    assert refused("postcode", "Orsay") == "postcode must be 5 digits"


def test_insee():
    assert ok("insee", "91692") == "91692"
    assert ok("insee", "2a004") == "2A004"
    assert ok("insee", 1001) == "01001"
    refused("insee", "2C004")
    refused("insee", "9169")


# --- key / keys / links -----------------------------------------------------------------------------------

def test_key():
    assert ok("key", " association ") == "association"
    assert ok("key", ["scic"]) == "scic"
    assert refused("key", "association,scop") == "several values for a single-choice field"
    refused("key", ["association", "scop"])


@pytest.mark.parametrize("raw, expected", [
    ("alimentation,mobilite", ["alimentation", "mobilite"]),
    ("mobilite, alimentation ,mobilite,", ["alimentation", "mobilite"]),
    (["solidarite", "culture", "culture"], ["culture", "solidarite"]),
    ({"energie": 1, "culture": "true", "sante": 0}, ["culture", "energie"]),
    ("economie-circulaire", ["economie-circulaire"]),
])
def test_keys(raw, expected):
    assert ok("keys", raw) == expected


def test_keys_only_commas_is_empty():
    assert clean("keys", ",, ,") == Cleaned(None, None)


def test_links():
    assert ok("links", "RecyclerieDuValDYvette,AmapDesCoteaux") == ["AmapDesCoteaux", "RecyclerieDuValDYvette"]
    assert ok("links", ["B", "A", "B"]) == ["A", "B"]


# --- lat / lon --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field_type, raw, expected", [
    ("lat", "48.68168", 48.68168),
    ("lat", "45,7", 45.7),
    ("lat", 48.7, 48.7),
    ("lat", " -33.5 ", -33.5),
    ("lon", "2.18643", 2.18643),
    ("lon", -0.79711, -0.79711),
    ("lon", 180, 180.0),
    ("lat", "48.123456789", 48.1234568),
])
def test_coordinates_accepted(field_type, raw, expected):
    assert ok(field_type, raw) == expected


@pytest.mark.parametrize("field_type, raw, reason", [
    ("lat", "abc", "latitude is not a number"),
    ("lat", "500", "latitude out of range"),
    ("lat", -90.5, "latitude out of range"),
    ("lon", "181", "longitude out of range"),
    ("lon", "nan", "longitude is not a finite number"),
    ("lat", float("inf"), "latitude is not a finite number"),
    ("lat", "48.6°", "latitude is not a number"),
    ("lon", "2,1,3", "longitude is not a number"),
    ("lat", True, "latitude is not a number"),
])
def test_coordinates_refused(field_type, raw, reason):
    assert refused(field_type, raw) == reason


@pytest.mark.parametrize("zero", ["0", 0, 0.0, "0.0", "0,0", "-0"])
@pytest.mark.parametrize("field_type", ["lat", "lon"])
def test_zero_coordinate_means_missing(field_type, zero):
    assert clean(field_type, zero) == Cleaned(None, None)


# --- date -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("2025-03-15", "2025-03-15"),
    (" 2025-03-15 ", "2025-03-15"),
    ("2025-03-15 14:30:00", "2025-03-15T14:30:00"),
    ("2025-03-15T14:30", "2025-03-15T14:30:00"),
    ("2025-03-15T14:30:00+01:00", "2025-03-15T14:30:00+01:00"),
    ("2025-03-15T13:30:00Z", "2025-03-15T13:30:00+00:00"),
    ("15/03/2025", "2025-03-15"),
    (dt.date(2025, 3, 15), "2025-03-15"),
    (dt.datetime(2025, 3, 15, 9, 0), "2025-03-15T09:00:00"),
])
def test_date_accepted(raw, expected):
    assert ok("date", raw) == expected


@pytest.mark.parametrize("raw", ["demain", "2025-13-01", "2025-02-30", "31/02/2025", "15 mars 2025", "2025"])
def test_date_refused(raw):
    refused("date", raw)


# --- hours ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "Mo-Fr 09:00-18:00",
    "Tu-Sa 10:00-12:30,14:00-19:00; PH off",
    "24/7",
    "We 14:00-18:00; Sa[1] 09:00-12:00",
    'Sa 10:00-13:00 "repair café le premier samedi"',
    "Mo-Fr 08:00-12:00; Jul-Aug off",
])
def test_hours_accepted(raw):
    assert ok("hours", raw) == raw


def test_hours_whitespace_collapsed():
    assert ok("hours", "  Mo-Fr   09:00-18:00 ") == "Mo-Fr 09:00-18:00"


@pytest.mark.parametrize("raw", ["Lundi 9h-12h", "du mardi au samedi", "<script>x</script>", "{{include}}", "---"])
def test_hours_refused(raw):
    assert refused("hours", raw) == "opening hours not in OSM opening_hours syntax"


# --- to_wiki_string ---------------------------------------------------------------------------------------

def test_to_wiki_string():
    assert to_wiki_string("keys", ["alimentation", "mobilite"]) == "alimentation,mobilite"
    assert to_wiki_string("links", ["A"]) == "A"
    assert to_wiki_string("lat", 48.68168) == "48.68168"
    assert to_wiki_string("lon", 2.0) == "2"
    assert to_wiki_string("lat", 1e-05) == "0.00001"
    assert to_wiki_string("text", None) == ""
    assert to_wiki_string("phone", "+33169280000") == "01 69 28 00 00"  # shown national (DECISIONS §23)


@pytest.mark.parametrize("field_type, raw", [
    ("keys", "mobilite,alimentation"), ("lat", "48,7"), ("lon", 2.18643), ("date", "2025-03-15 14:30:00"),
    ("phone", "01 69 28 00 00"), ("url", "example.org"), ("links", ["B", "A"]), ("lat", "0.0000123"),
])
def test_wiki_string_round_trips(field_type, raw):
    canonical = ok(field_type, raw)
    assert ok(field_type, to_wiki_string(field_type, canonical)) == canonical


# --- idempotence (hypothesis) -----------------------------------------------------------------------------

_markupish = st.lists(
    st.sampled_from(list("ab é<>/&;#\"'{}[]:=\n\t\x00\ufffd") + [
        "<b>", "</b>", "&lt;", "&amp;", "<script>", "{{", '""', "javascript:", "http://", "<p>", "&", "lt;"]),
    max_size=25,
).map("".join)
_any_value = st.one_of(
    st.none(),
    st.text(max_size=60),
    _markupish,
    st.integers(min_value=-10**6, max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=10), max_size=4),
    st.sampled_from(["48,7", "2.1", "0", "01 69 28 00 00", "73282932000074", "91400", "2A004", "2025-03-15",
                     "Mo-Fr 09:00-18:00", "example.org/x", "a@B.FR", "k1, k2", "javascript:x"]),
)


@settings(max_examples=150, deadline=None)
@given(field_type=st.sampled_from(sorted(FIELD_TYPES)), value=_any_value)
def test_clean_is_idempotent(field_type, value):
    first = clean(field_type, value)
    if first.value is None:
        return
    second = clean(field_type, first.value)
    assert second.problem is None
    assert second.value == first.value


@settings(max_examples=150, deadline=None)
@given(field_type=st.sampled_from(sorted(FIELD_TYPES)), value=_any_value)
def test_wiki_string_is_cleaned_back_to_the_same_value(field_type, value):
    first = clean(field_type, value)
    if first.value is None:
        return
    assert clean(field_type, to_wiki_string(field_type, first.value)).value == first.value


@pytest.mark.parametrize("stored, shown", [
    ("+33169102030", "01 69 10 20 30"), ("+33612345678", "06 12 34 56 78"), ("+41221234567", "+41 22 123 45 67"),
])
def test_a_stored_phone_is_shown_in_the_national_format_and_reads_back_the_same(stored, shown):
    from oscartes_sync.clean import to_wiki_string

    assert to_wiki_string("phone", stored) == shown
    assert clean("phone", shown).value == stored  # a value that differs only by its display form is no change


# ---- images (DECISIONS §7): the type is told by the bytes, never by the name ---------------------------------


def test_image_content_accepts_the_four_web_formats_by_their_bytes(make_png):
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        got = image_content(make_png("red", (40, 30), fmt), 1_000_000)
        assert got.ok and got.value.mime == mime and (got.value.width, got.value.height) == (40, 30)


@pytest.mark.parametrize("data, reason", [
    (b"%PDF-1.4 a document", "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
    (b"", "empty file"),
])
def test_image_content_refuses_what_is_not_a_picture(data, reason):
    got = image_content(data, 1_000_000)
    assert not got.ok and got.problem.startswith(reason)


def test_image_content_refuses_other_types_damage_and_size(make_png):
    assert image_content(make_png(fmt="BMP"), 1_000_000).problem.startswith("image type BMP not accepted")
    png = make_png("red", (200, 200))
    assert image_content(png[: len(png) // 2], 1_000_000).problem.startswith("damaged image")
    assert image_content(png, len(png) - 1).problem == \
        f"image too large (more than {max(1, round((len(png) - 1) / 1000))} kB, the configured limit)"
    assert image_content(png, len(png)).ok


def test_an_image_value_is_a_content_hash_and_cleaning_it_is_idempotent(make_png):
    digest = file_hash(make_png())
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert clean("image", digest).value == digest
    assert clean("image", digest.upper().replace("SHA256", "sha256")).value == digest
    assert not clean("image", "Logo_imagebf_logo_x_20260101000000_20260101000000.png").ok
    assert clean("image", "").value is None


@pytest.mark.parametrize("name, ok", [
    ("Asso_imagebf_logo_logo_20260101000000_20260101000000.png", True),
    ("../etc/passwd.png", False), ("a\\b.png", False), ("logo", False), ("x\n.png", False), ("a" * 300 + ".png", False),
])
def test_stored_file_names_are_single_names_with_an_extension(name, ok):
    assert stored_file_name(name).ok is ok
