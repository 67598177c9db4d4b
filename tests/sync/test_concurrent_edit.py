"""DECISIONS §4: a member's save that lands between our re-read and our write is not lost."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from oscartes_sync.app import build_instances, sync_once
from oscartes_sync.config import DEFAULT_FORM_IDS

FORM = DEFAULT_FORM_IDS["actor"]


class SteppingClock:
    """Each save of the member and ours falls in its own second, as on a real server most of the time."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now

    def step(self):
        self.now += timedelta(seconds=2)


def member_saves_during_our_edit(wiki, entry_id, changes, clock=None):
    fired = threading.Event()

    def middleware(app):
        def wrapped(environ, start_response):
            if (environ["REQUEST_METHOD"] == "POST" and environ.get("QUERY_STRING") == f"{entry_id}/edit"
                    and not fired.is_set()):
                fired.set()  # a member saves while our edit request is on its way
                if clock:
                    clock.step()
                wiki.member_edit(entry_id, changes)
                if clock:
                    clock.step()
            return app(environ, start_response)
        return wrapped

    wiki.server.wrap(middleware)
    return fired


def test_member_save_during_our_write_is_merged_on_the_next_run(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    clock = SteppingClock()
    b.emulator.now = clock
    aid = a.member_create(FORM, {"bf_titre": "Recyclerie des Ulis", "bf_ville": "Les Ulis", "bf_codepostal": "91940"})
    sync_once(cfg, store, build_instances(cfg))
    bid = next(iter(b.list(FORM)))
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})

    fired = member_saves_during_our_edit(b, bid, {"bf_horaires": "Sa 10:00-18:00",
                                                  "bf_chapeau": "Objets de seconde main"}, clock)
    first = sync_once(cfg, store, build_instances(cfg))
    assert fired.is_set()
    # our write overwrote the member's hours in tel (last write wins there), but kept their other field
    assert b.read(bid)["bf_horaires"] == "Mo 09:00-12:00"
    assert b.read(bid)["bf_chapeau"] == "Objets de seconde main"
    [link] = [l for l in store.links(instance="tel")]
    assert link.pending and link.pending["opening_hours"] == "Sa 10:00-18:00"
    assert first.exit_code == 0

    sync_once(cfg, store, build_instances(cfg))
    for wiki, eid in ((a, aid), (b, bid)):
        entry = wiki.read(eid)
        assert entry["bf_horaires"] == "Sa 10:00-18:00"
        assert entry["bf_chapeau"] == "Objets de seconde main"
    rec = store.records("actor")[0]
    assert "Mo 09:00-12:00" in [r.fields.get("opening_hours") for r in store.history(rec.id)]
    assert store.links(instance="tel")[0].pending is None


def test_a_save_in_the_same_second_that_cannot_be_read_back_is_reported(sandbox, cfg, store):
    a, b = sandbox.wikis["polesnoe"], sandbox.wikis["tel"]
    frozen = datetime.now(timezone.utc)
    b.emulator.now = lambda: frozen  # every save in one second: `&time=` cannot single the member's out
    aid = a.member_create(FORM, {"bf_titre": "Atelier vélo du Plateau", "bf_ville": "Orsay", "bf_codepostal": "91400"})
    sync_once(cfg, store, build_instances(cfg))
    bid = next(iter(b.list(FORM)))
    a.member_edit(aid, {"bf_horaires": "Mo 09:00-12:00"})
    fired = member_saves_during_our_edit(b, bid, {"bf_horaires": "Sa 10:00-18:00"})
    run = sync_once(cfg, store, build_instances(cfg))
    assert fired.is_set()
    assert run.exit_code == 1
    assert any("during our write" in n["message"] and n["instance"] == "tel" for n in run.report["notices"])
