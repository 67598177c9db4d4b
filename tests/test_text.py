"""Messages carried as values until they are shown (DECISIONS §21): English where a machine reads them (JSON, the
store, logs), the reader's language where a person does."""

from __future__ import annotations

import copy
import json
import pickle

from oscartes_sync import i18n
from oscartes_sync.text import (
    SEMICOLON, Plural, Term, Text, decode_note, encode_note, join, restored, scrub, stored,
)


def test_a_message_is_its_english_rendering_wherever_a_string_is_read():
    t = Text("conflict on {field}", field=Term.field("opening_hours"))
    assert t == "conflict on opening_hours" and isinstance(t, str)
    assert "conflict on" in t
    assert json.dumps({"message": t}) == '{"message": "conflict on opening_hours"}'
    assert t.template == "conflict on {field}" and t.params == {"field": "opening_hours"}


def test_it_is_translated_where_shown_with_its_parameters_that_are_messages_or_terms():
    reason = Text("invalid phone number")
    t = Text("entry {entry}: {field} refused ({reason})", entry="FicheX", field=Term.field("phone"), reason=reason)
    i18n.set_language("fr")
    assert i18n.translate(t) == "fiche FicheX : valeur refusée pour téléphone (numéro de téléphone invalide)"
    assert i18n.missing() == set()
    i18n.set_language("en")
    assert i18n.translate(t) == "entry FicheX: phone refused (invalid phone number)"


def test_plain_parameters_are_data_shown_as_they_are():
    i18n.set_language("fr")
    # a title that happens to be an English sentence is not looked up
    assert i18n.translate(Text("{title} ({id}, {kind})", title="the records", id="1a2b3c4d",
                               kind=Term("actor", "kind_one"))) == "the records (1a2b3c4d, acteur)"
    assert i18n.missing() == set()


def test_plurals_follow_the_number_in_each_language():
    one, many = (Plural("{n} conflict", "{n} conflicts", n, n=n) for n in (1, 4))
    assert (one, many) == ("1 conflict", "4 conflicts")
    i18n.set_language("fr")
    assert [i18n.translate(x) for x in (one, many)] == ["1 conflit", "4 conflits"]
    zero = Plural("{n} conflict", "{n} conflicts", 0, n=0)
    assert zero == "0 conflicts" and i18n.translate(zero) == "0 conflit"  # French: 0 is singular


def test_a_joined_list_keeps_each_part_translated_and_french_spaces_before_a_semicolon():
    parts = join(SEMICOLON, [Plural("{n} conflict", "{n} conflicts", 2, n=2), "AMAP des Coteaux"])
    assert parts == "2 conflicts; AMAP des Coteaux"
    i18n.set_language("fr")
    assert i18n.translate(parts) == "2 conflits ; AMAP des Coteaux"
    assert join(", ", ["a{b}", "c"]) == "a{b}, c"  # braces in data are data


def test_a_secret_is_scrubbed_from_a_message_that_stays_a_message():
    t = Text("{route}: server error HTTP {status} ({detail})", route="GET ?api/forms", status=500,
             detail="token s3cr3tT0ken refused")
    clean = scrub(t, ["s3cr3tT0ken"])
    assert "s3cr3tT0ken" not in clean and "***" in clean and isinstance(clean, Text)
    i18n.set_language("fr")
    assert "s3cr3tT0ken" not in i18n.translate(clean) and "erreur du serveur" in i18n.translate(clean)
    assert scrub("plain s3cr3tT0ken", ["s3cr3tT0ken"]) == "plain ***"


def test_copies_pickles_and_the_store_keep_the_message_not_only_its_english():
    t = Text("merged with {record}; not kept from it: {values}",
             record=Text("{title} ({id}, {kind})", title="AMAP", id="1a2b3c4d", kind=Term("actor", "kind_one")),
             values='{"phone": "+33169000001"}')
    for again in (copy.deepcopy(t), pickle.loads(pickle.dumps(t)), decode_note(encode_note(t)), restored(stored(t))):
        assert again == t and isinstance(again, Text) and again.template == t.template
        i18n.set_language("fr")
        assert i18n.translate(again).startswith("fusionnée avec AMAP (1a2b3c4d, acteur)")
        i18n.set_language("en")
    # what the store held before messages were kept: plain text, read as it is
    assert decode_note("merged edits from tel") == "merged edits from tel"
    assert encode_note("plain note") == "plain note"
    # a note whose message part was damaged (a person's data erased by hand) still reads in English
    assert decode_note(encode_note(t)[:-5]) == str(t)


def test_a_translation_that_does_not_fit_falls_back_to_english_instead_of_failing(monkeypatch):
    i18n.set_language("fr")
    monkeypatch.setattr(i18n, "_", lambda message: "{unknown} : {n}")  # a catalogue error --check reports
    assert i18n.translate(Text("{n} conflicts", n=2)) == "2 conflicts"
