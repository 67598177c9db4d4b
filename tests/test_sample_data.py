
import pytest

from oscartes_sync import geo, templates
from oscartes_sync.clean import clean
from oscartes_sync.identity import match
from oscartes_sync.normalise import title as normalise_title
from oscartes_sync.records import ACTOR
from oscartes_sync.sandbox.sample_data import (
    NORTH_EAST,
    NORTH_WEST,
    make_siret,
    sample_duplicate_pairs,
    sample_entries,
    sample_records_bad,
)

def canonical(entry: dict) -> dict:
    out = {}
    for f in ACTOR.fields:
        out[f.name] = clean(f.type, entry.get(f.wiki_key), max_length=f.max_length).value
    return out


@pytest.fixture(scope="module")
def entries():
    return sample_entries()


@pytest.fixture(scope="module")
def bad():
    return sample_records_bad()


def test_counts(entries):
    assert set(entries) == {"polesnoe", "tel"}
    total = len(entries["polesnoe"]) + len(entries["tel"])
    assert 140 <= total <= 160
    assert len(entries["polesnoe"]) >= 60 and len(entries["tel"]) >= 60
    pairs = sample_duplicate_pairs()
    assert 15 <= len(pairs) <= 25


def test_deterministic_and_seeded(entries):
    assert sample_entries(7) == entries
    assert sample_entries(8) != entries
    assert sample_duplicate_pairs(7) == sample_duplicate_pairs(7)


def test_returns_copies(entries):
    mine = sample_entries()
    mine["polesnoe"][0]["bf_titre"] = "changed"
    assert sample_entries()["polesnoe"][0]["bf_titre"] != "changed"


def test_only_yeswiki_keys_of_the_actor_form(entries):
    keys = {f.wiki_key for f in ACTOR.fields}
    for wiki, es in entries.items():
        for e in es:
            assert set(e) <= keys, set(e) - keys
            assert all(isinstance(v, str) for v in e.values())  # raw wiki strings
            assert e["bf_titre"]


def test_titles_unique_per_wiki(entries):
    for es in entries.values():
        titles = [e["bf_titre"] for e in es]
        assert len(titles) == len(set(titles))


def test_every_commune_is_real(entries):
    for wiki, es in entries.items():
        for e in es:
            c = geo.commune_by_name(e["bf_ville"], e["bf_codepostal"]) if e["bf_ville"] else None
            found = c or next(iter(geo.communes_by_postcode(e["bf_codepostal"])), None)
            assert found is not None, e["bf_ville"]
            assert e["bf_codepostal"] in found.postcodes
            if e["bf_insee"]:
                assert geo.commune_by_insee(e["bf_insee"]) is not None


def test_communes_match_the_networks(entries):
    nw = {geo.commune_by_name(n).insee for n in NORTH_WEST}
    ne = {geo.commune_by_name(n).insee for n in NORTH_EAST}
    shared_tel = {t for _, t in sample_duplicate_pairs()}
    shared_p = {p for p, _ in sample_duplicate_pairs()}
    for e in entries["polesnoe"]:
        if e["bf_titre"] not in shared_p and e["bf_insee"]:
            assert e["bf_insee"] in nw
    for e in entries["tel"]:
        if e["bf_titre"] not in shared_tel and e["bf_insee"]:
            assert e["bf_insee"] in ne


def test_points_are_near_their_commune(entries, bad):
    spoiled = {(b["wiki"], b["title"]) for b in bad if b["wiki_key"] in ("bf_latitude", "bf_longitude")}
    for wiki, es in entries.items():
        for e in es:
            if (wiki, e["bf_titre"]) in spoiled or not e["bf_latitude"]:
                continue
            c = geo.commune_by_name(e["bf_ville"])
            candidates = [c] if c else geo.communes_by_postcode(e["bf_codepostal"])
            lat, lon = float(e["bf_latitude"]), float(e["bf_longitude"])
            # ~111.3 km per degree of latitude, ~73.5 km per degree of longitude at 48.7°N
            assert any(abs(lat - c.lat) * 111_320 <= 510 and abs(lon - c.lon) * 73_500 <= 510 for c in candidates)


def test_list_keys_exist():
    lists = {list_id: set(data["values"]) for list_id, data in templates.all_lists().items()}
    for wiki, es in sample_entries().items():
        for e in es:
            for f in ACTOR.fields:
                if f.list_id and e.get(f.wiki_key):
                    for k in e[f.wiki_key].split(","):
                        assert k in lists[f.list_id], (f.list_id, k)


def test_most_sirets_valid_and_unique(entries, bad):
    spoiled = {b["title"] for b in bad if b["wiki_key"] == "bf_siret"}
    sirets = []
    for wiki, es in entries.items():
        for e in es:
            if e["bf_siret"] and e["bf_titre"] not in spoiled:
                r = clean("siret", e["bf_siret"])
                assert r.problem is None, e["bf_siret"]
                sirets.append((wiki, r.value))
    assert len(sirets) >= 80
    per_wiki = {}
    for wiki, s in sirets:
        per_wiki.setdefault(wiki, []).append(s)
    for lst in per_wiki.values():
        assert len(lst) == len(set(lst))


def test_make_siret_is_valid():
    import random

    rng = random.Random(1)
    for _ in range(200):
        s = make_siret(rng)
        assert clean("siret", s).value == s


def test_good_values_are_clean(entries, bad):
    spoiled = {(b["wiki"], b["title"], b["wiki_key"]) for b in bad}
    for wiki, es in entries.items():
        for e in es:
            for f in ACTOR.fields:
                if (wiki, e["bf_titre"], f.wiki_key) in spoiled:
                    continue
                r = clean(f.type, e.get(f.wiki_key), max_length=f.max_length)
                assert r.problem is None, (wiki, e["bf_titre"], f.wiki_key, e.get(f.wiki_key), r.problem)


def test_some_contacts_present(entries):
    all_e = entries["polesnoe"] + entries["tel"]
    assert sum(1 for e in all_e if e["bf_mail"]) >= 50
    assert sum(1 for e in all_e if e["bf_telephone"]) >= 40
    assert sum(1 for e in all_e if e["bf_site_internet"]) >= 40


def test_bad_values_are_where_they_say_and_are_caught(entries, bad):
    assert len(bad) >= 5
    fields = {f.wiki_key: f for f in ACTOR.fields}
    kinds = {b["wiki_key"] for b in bad}
    assert {"bf_site_internet", "bf_latitude", "bf_telephone", "bf_longitude", "bf_description"} <= kinds
    for b in bad:
        e = next(e for e in entries[b["wiki"]] if e["bf_titre"] == b["title"])
        assert e[b["wiki_key"]] == b["value"]
        f = fields[b["wiki_key"]]
        r = clean(f.type, b["value"], max_length=f.max_length)
        if f.type in ("url", "lat", "phone", "siret", "hours"):
            assert r.value is None and r.problem == b["why"]
        elif f.type == "lon":
            assert r == clean("lon", None)  # 0 is "no point", not an error
        elif f.type == "longtext":
            assert r.problem is None and "<script" not in r.value and "{{" not in r.value
        else:
            assert r.problem is None and "\ufffd" not in r.value


def test_bad_values_not_in_duplicates(bad):
    shared = {t for pair in sample_duplicate_pairs() for t in pair}
    assert not any(b["title"] in shared for b in bad)


def _records(es):
    return [(f"{i}", canonical(e)) for i, e in enumerate(es)]


def test_intended_duplicates_are_sure_matches(entries):
    pol = entries["polesnoe"]
    store = _records(pol)
    index = {e["bf_titre"]: str(i) for i, e in enumerate(pol)}
    tel_by_title = {e["bf_titre"]: e for e in entries["tel"]}
    by_siret_only = 0
    for p_title, t_title in sample_duplicate_pairs():
        cand = canonical(tel_by_title[t_title])
        r = match(cand, store)
        assert r.sure == index[p_title], (p_title, t_title, r)
        if normalise_title(p_title) != normalise_title(t_title):
            by_siret_only += 1
            assert cand["siret"]
    assert by_siret_only >= 2  # some are found by SIRET alone


def test_duplicates_use_varied_spellings():
    pairs = sample_duplicate_pairs()
    assert sum(1 for p, t in pairs if p != t) >= len(pairs) - 3


def test_distinct_actors_are_not_sure_matches(entries):
    store = _records(entries["polesnoe"])
    shared_tel = {t for _, t in sample_duplicate_pairs()}
    checked = 0
    for e in entries["tel"]:
        if e["bf_titre"] in shared_tel:
            continue
        r = match(canonical(e), store)
        assert r.sure is None, (e["bf_titre"], r)
        checked += 1
    assert checked >= 40


def test_no_sure_duplicates_inside_one_wiki(entries):
    for es in entries.values():
        recs = _records(es)
        for i, (rid, rec) in enumerate(recs):
            others = recs[:i] + recs[i + 1:]
            assert match(rec, others).sure is None, rec["name"]
