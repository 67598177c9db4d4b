"""A quiet publication builds no card, no event and no export file (issue 16): each card and event remembers the
hash of what it was built from, the exports the signature of what they were made from, and only what moved is
built again. Counted through the builders, not timed."""

from __future__ import annotations

import pytest

from oscartes_sync.publish import addressbook, calendar, exports
from oscartes_sync.publish.nextcloud_publish import publish_nextclouds

from ncsample import CLOUDS, commune_fields


class Builds:
    """The record ids of the cards and events built, and the export sets made, during one publication."""

    def __init__(self, monkeypatch):
        self.cards: list[str] = []
        self.events: list[str] = []
        self.exports = 0
        card, event, files = addressbook.build_card, calendar.build_event, exports.build_exports

        def counting_card(rid, *a, **kw):
            self.cards.append(rid)
            return card(rid, *a, **kw)

        def counting_event(rid, *a, **kw):
            self.events.append(rid)
            return event(rid, *a, **kw)

        def counting_exports(*a, **kw):
            self.exports += 1
            return files(*a, **kw)

        monkeypatch.setattr(addressbook, "build_card", counting_card)
        monkeypatch.setattr(calendar, "build_event", counting_event)
        monkeypatch.setattr(exports, "build_exports", counting_exports)

    def reset(self):
        self.cards.clear()
        self.events.clear()
        self.exports = 0


@pytest.fixture
def builds(monkeypatch):
    return Builds(monkeypatch)


@pytest.fixture
def ids(cfg, store):
    cfg.sync.kinds = ["actor", "event"]
    place = commune_fields("Orsay")
    out = {name: store.create_record("actor", {"name": name, **place, "themes": ["alimentation"]},
                                     author="t", origin="tel")
           for name in ("AMAP des Coteaux", "Recyclerie des Ulis", "Atelier Roue Libre")}
    out["fete"] = store.create_record("event", {"name": "Fête des AMAP", "start": "2026-06-20T14:00:00",
                                                "end": "2026-06-20T19:00:00", **place,
                                                "organisers": [out["AMAP des Coteaux"]]}, author="t", origin="tel")
    out["forum"] = store.create_record("event", {"name": "Forum", "start": "2026-09-05", **place},
                                       author="t", origin="tel")
    return out


def publish(cfg, store, clock):
    clock.advance(5)  # runs are minutes apart in real life; past the same-second window of DECISIONS §14
    result = publish_nextclouds(cfg, store, clock=clock)
    assert result.instance_errors == {}
    return result


@pytest.fixture
def settled(cfg, store, clock, ids):
    publish(cfg, store, clock)
    publish(cfg, store, clock)  # reads back the files written within the same second as its last look
    return ids


def test_a_quiet_publication_builds_no_card_no_event_and_no_export(cfg, store, clock, settled, builds):
    result = publish(cfg, store, clock)
    assert (builds.cards, builds.events, builds.exports) == ([], [], 0)
    assert all(result.writes[name] == 0 for name in CLOUDS)


def test_a_changed_actor_builds_its_card_and_the_events_it_organises_only(cfg, store, clock, settled, builds):
    amap = settled["AMAP des Coteaux"]
    rec = store.record(amap)
    store.update_record(amap, {**rec.fields, "name": "AMAP des Coteaux de l'Yvette"}, author="t", origin="tel")
    result = publish(cfg, store, clock)
    assert builds.cards == [amap] * len(CLOUDS)  # one card per Nextcloud, no other actor's
    assert builds.exports == 1  # the files show every record: made once, for every Nextcloud
    # the feed among them shows every event: each is built once, for the feed and every calendar
    assert sorted(builds.events) == sorted([settled["fete"], settled["forum"]])
    assert all(result.cards_written[name] == [amap] for name in CLOUDS)
    assert all(result.events_written[name] == [settled["fete"]] for name in CLOUDS)  # it organises this one

