"""Decisions taken on the review page of a wiki (DECISIONS §25).

A decision is an entry of the "Décisions OSCARTES" form (`wiki_templates/forms/decisions.txt.j2`), created by
following a link of the review page (`publish/review_page.py`), which fills it in. At the start of `sync`,
before anything is planned, the service lists that form in each wiki (one request), and takes each entry it has
not answered yet, oldest first:

  1. the author is checked: the entry's creator (`owner`) and its last editor (`user`) must both be
     administrators of that wiki, or members of its `review_group`. Anyone can create an entry through the
     Bazar form, visitors included, and a member's token can overwrite an entry through the API (keeping its
     owner, recorded/review/review_04): both fail this check and the entry is ignored;
  2. the decision is checked: the conflict or possible duplicate exists, is still open, concerns an entry of
     that wiki; the choice is one of its candidates, with the value the page showed (a fingerprint), or a value
     of one's own that cleans as a member's would;
  3. it is applied through the coordinator's functions, exactly as `conflicts resolve` / `match link` /
     `match distinct` would, with `user@wiki` as the author in the record's history; the same run then writes
     the chosen value everywhere;
  4. the entry is answered: its `bf_reponse` field says "Appliquée…", "Refusée : …", "Sans effet : …" or
     "Ignorée : …", and the review page lists it among the decisions processed. The entry stays (the wiki keeps
     who decided what; it is readable by administrators only). What was answered is remembered in the store, so
     an entry is never applied twice, even if someone edits its answer.

Every refused or ignored decision is one line of the run report. Decision entries are never synced, exported
or copied anywhere: their form is not a record kind.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from . import coordinator
from .config import Config, WikiConfig
from .hashing import content_hash
from .i18n import human_datetime, translate
from .records import DECISIONS
from .store import Store
from .sync.model import Notice
from .targets.base import ListingFailed, TargetError
from .targets.yeswiki_acl import may_decide
from .text import N_, Term, Text, message_of

STATE = "review/{wiki}/decisions"  # {entry id: {"status", "answer", "subject", "title", "by", "at", "answered"}}
PARIS = ZoneInfo("Europe/Paris")
CONFLICT, DUPLICATE = "conflit", "doublon"
OTHER, LINK, DISTINCT = "autre", "lier", "distinct"
APPLIED, REFUSED, STALE, IGNORED = "applied", "refused", "stale", "ignored"
# how the report names each outcome (the English is also the status word of `sync --json`)
OUTCOME = {APPLIED: N_("applied"), REFUSED: N_("refused"), STALE: N_("stale"), IGNORED: N_("ignored")}
WOULD_BE = {APPLIED: N_("would be applied"), REFUSED: N_("would be refused"), STALE: N_("would be stale"),
            IGNORED: N_("would be ignored")}
_SUBJECT = re.compile(r"^\s*(conflit|doublon)\s*[-#n°º:]*\s*(\d+)\s*$", re.IGNORECASE)


def subject(kind: str, number: int) -> str:
    """The `bf_sujet` of a decision: `conflit-12`, `doublon-7`."""
    return f"{kind}-{number}"


def fingerprint(value: Any) -> str:
    """A short digest of a candidate value: the page's link carries it, so a decision applies the value the
    person saw, not one a member typed since."""
    return content_hash(value)[:10]


@dataclass(frozen=True)
class Decision:
    """One entry of the decisions form, as read."""

    wiki: str
    entry_id: str
    title: str
    subject: str
    record: str
    field: str
    choice: str
    fingerprint: str
    value: str
    owner: str
    user: str
    created: str

    @classmethod
    def from_entry(cls, wiki: str, entry_id: str, e: dict[str, Any]) -> Decision:
        def text(key: str) -> str:
            v = e.get(key)
            return html.unescape(str(v)).strip() if isinstance(v, (str, int, float)) else ""
        return cls(wiki, entry_id, text("bf_titre"), text("bf_sujet"), text("bf_fiche"), text("bf_champ"),
                   text("bf_choix"), text("bf_empreinte"), text("bf_valeur"), str(e.get("owner") or ""),
                   str(e.get("user") or ""), str(e.get("date_creation_fiche") or ""))

    @property
    def author(self) -> str:
        """How the record's history names the person: the wiki user @ the wiki."""
        return f"{self.user}@{self.wiki}"


@dataclass(frozen=True)
class Verdict:
    status: str  # applied | refused | stale | ignored
    report: Text  # for the run report (translated where shown)
    answer: str  # French, written in the entry and shown on the review page (a wiki speaks French)


@dataclass
class ReviewRun:
    notices: list[Notice] = field(default_factory=list)
    form_ok: dict[str, bool] = field(default_factory=dict)  # wiki -> its decisions form could be read


def _now_text(now: datetime) -> str:
    return now.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


# ---------------------------------------------------------------------------------------------- reading


def take_decisions(cfg: Config, store: Store, instances: dict[str, Any], *, dry_run: bool = False,
                   now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> ReviewRun:
    """Read, check, apply and answer the new decisions of every usable wiki (`instances`: the engine's, by
    name; a wiki in error is left for a later run)."""
    run = ReviewRun()
    if not cfg.review.enabled:
        return run
    for w in cfg.wiki:
        inst = instances.get(w.name)
        if inst is None or inst.target is None or inst.error:
            continue
        _take_in_wiki(cfg, store, w, inst.target, run, dry_run, now)
    return run


def _take_in_wiki(cfg: Config, store: Store, w: WikiConfig, target, run: ReviewRun, dry_run: bool,
                  now: Callable[[], datetime]) -> None:
    form_id = w.service_form_id(DECISIONS.name)

    def note(level: str, message: Text, record: str | None = None) -> None:
        run.notices.append(Notice(level, w.name, record, message))

    seen = f"review/{w.name}/form"  # the form id found to exist: an empty listing is believed without a check
    try:
        entries = target.list_entries(form_id, form_known=store.get_state(seen) == form_id)
    except ListingFailed as exc:
        run.form_ok[w.name] = False
        missing = "does not exist" in exc.message
        note("attention", Text("decisions form {form} does not exist: run `oscartes-sync provision` (the review "
                               "page shows no decision links until then)", form=form_id) if missing
             else Text("decisions not read ({reason}); they wait for the next run", reason=exc.message))
        return
    except TargetError as exc:
        run.form_ok[w.name] = False
        note("attention", Text("decisions not read ({reason}); they wait for the next run", reason=exc.message))
        return
    run.form_ok[w.name] = True
    if not dry_run and store.get_state(seen) != form_id:
        store.set_state(seen, form_id)
    key = STATE.format(wiki=w.name)
    state: dict[str, dict] = dict(store.get_state(key) or {})
    known = {eid: row for eid, row in state.items() if eid in entries}  # a deleted entry leaves the page
    decisions = sorted((Decision.from_entry(w.name, eid, e) for eid, e in entries.items() if eid not in known),
                       key=lambda d: (d.created, d.entry_id))
    groups: dict[str, str | None] = {}

    def group_acl(name: str) -> str | None:
        if name not in groups:
            groups[name] = target.group_acl(name)
        return groups[name]

    for d in decisions:
        try:
            verdict, apply = _judge(cfg, store, w, d, group_acl)
        except TargetError as exc:  # the groups could not be read: nothing decided, retried next run
            note("attention", Text("decision {entry}: the wiki's groups could not be read ({reason}); it waits for "
                                   "the next run", entry=d.entry_id, reason=exc.message))
            break
        if dry_run:
            note("info" if verdict.status == APPLIED else "attention",
                 Text("decision {entry} by {author}: {outcome}: {why}", entry=d.entry_id, author=d.author,
                      outcome=Text(WOULD_BE[verdict.status]), why=verdict.report))
            continue
        if apply is not None:
            try:
                apply()
            except coordinator.Refused as exc:  # a value the cleaning refuses, a record deleted meanwhile...
                why = message_of(exc)
                verdict = Verdict(REFUSED, Text("{reason}: nothing changed", reason=why),
                                  f"Refusée : {translate(why, lang='fr')}.")
        level = "info" if verdict.status in (APPLIED, STALE) else "attention"
        note(level, Text("decision {entry} by {author}: {outcome}: {why}", entry=d.entry_id, author=d.author,
                         outcome=Text(OUTCOME[verdict.status]), why=verdict.report))
        when = now()
        known[d.entry_id] = {"status": verdict.status, "answer": f"{verdict.answer} ({_now_text(when)})",
                             "subject": d.subject, "title": d.title, "by": d.author, "at": when.isoformat(),
                             "answered": False}
        store.set_state(key, known)  # at once: a run cut short here never takes this entry again
    if dry_run:
        return
    for eid, row in sorted(known.items()):
        if row["answered"]:
            continue
        # the edit handler needs the title (stored HTML-escaped, contract §12: sent back as a person reads it)
        title = html.unescape(str(entries[eid].get("bf_titre") or "")) or eid
        try:
            target.update_entry(form_id, eid, title, {"bf_reponse": row["answer"]}, {})
            row["answered"] = True
        except TargetError as exc:
            note("attention", Text("decision {entry}: the answer could not be written ({reason}); retried next run",
                                   entry=eid, reason=exc.message))
    if known != (store.get_state(key) or {}):
        store.set_state(key, known)


def processed(store: Store, wiki: str) -> dict[str, dict]:
    """The decisions of a wiki that were answered, by entry id (for the review page)."""
    return dict(store.get_state(STATE.format(wiki=wiki)) or {})


# ---------------------------------------------------------------------------------------------- checking


def _judge(cfg: Config, store: Store, w: WikiConfig, d: Decision, group_acl) -> tuple[Verdict, Callable | None]:
    """The verdict on one decision, and what applies it when it is to be applied."""
    for who, role in ((d.owner, WRITTEN), (d.user, CHANGED)):
        if not may_decide(who, group_acl, w.review_group):
            return Verdict(IGNORED, _not_allowed(role, who, w),
                           f"Ignorée : {who or 'un visiteur anonyme'} n'est pas administrateur de ce wiki"
                           + (f" ni membre du groupe {w.review_group}." if w.review_group else ".")), None
    m = _SUBJECT.match(d.subject)
    if m is None:
        return _refused(Text("subject '{subject}' is neither conflit-N nor doublon-N", subject=d.subject),
                        f"l'objet « {d.subject} » n'est ni « conflit-N » ni « doublon-N »"), None
    number = int(m.group(2))
    if m.group(1).lower() == CONFLICT:
        return _judge_conflict(store, w, d, number)
    return _judge_duplicate(cfg, store, w, d, number)


def _refused(report: Text, answer: str) -> Verdict:
    return Verdict(REFUSED, Text("{reason}: nothing changed", reason=report), f"Refusée : {answer}.")


WRITTEN, CHANGED = "written", "last changed"


def _not_allowed(role: str, who: str, w: WikiConfig) -> Text:
    """Why an entry's author may not decide, for the report (`role`: WRITTEN by its creator, or CHANGED last)."""
    if role == WRITTEN:
        if not who:
            return Text("written by an anonymous visitor: ignored")
        if w.review_group:
            return Text("written by {user}, who is not an administrator of {wiki} nor in its group {group}: ignored",
                        user=who, wiki=w.name, group=w.review_group)
        return Text("written by {user}, who is not an administrator of {wiki}: ignored", user=who, wiki=w.name)
    if not who:
        return Text("last changed by an anonymous visitor: ignored")
    if w.review_group:
        return Text("last changed by {user}, who is not an administrator of {wiki} nor in its group {group}: "
                    "ignored", user=who, wiki=w.name, group=w.review_group)
    return Text("last changed by {user}, who is not an administrator of {wiki}: ignored", user=who, wiki=w.name)


def _when(at: datetime | None) -> str:
    return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if at else "?"


def _concerns(store: Store, wiki: str, record_id: str) -> bool:
    link = store.link(record_id, wiki)
    return link is not None and link.remote_id is not None


def _matches(ref: str, record_id: str) -> bool:
    return bool(ref) and len(ref) >= 4 and record_id.lower().startswith(ref.lower())


def _judge_conflict(store: Store, w: WikiConfig, d: Decision, number: int) -> tuple[Verdict, Callable | None]:
    c = store.conflict(number)
    if c is None:
        return _refused(Text("there is no conflict #{n}", n=number), f"il n'y a pas de conflit n°{number}"), None
    if d.record and not _matches(d.record, c.record_id):
        return _refused(Text("conflict #{n} is about record {record}, not {given}", n=number,
                             record=coordinator.short_id(c.record_id), given=d.record),
                        f"le conflit n°{number} porte sur la fiche {coordinator.short_id(c.record_id)}, "
                        f"pas {d.record}"), None
    if d.field and d.field != c.field:
        return _refused(Text("conflict #{n} is on field {field}, not {given}", n=number, field=Term.field(c.field),
                             given=d.field),
                        f"le conflit n°{number} porte sur le champ {c.field}, pas {d.field}"), None
    if not _concerns(store, w.name, c.record_id):
        return _refused(Text("conflict #{n} concerns no entry of {wiki}", n=number, wiki=w.name),
                        f"le conflit n°{number} ne concerne aucune fiche de ce wiki"), None
    if c.status != "open":
        return Verdict(STALE, Text("conflict #{n} was already settled by {by} ({when}): not applied again",
                                   n=number, by=c.resolved_by,
                                   when=human_datetime(c.resolved_at) if c.resolved_at else "?"),
                       f"Sans effet : le conflit n°{number} avait déjà été tranché par {c.resolved_by} le "
                       f"{_when(c.resolved_at)}."), None
    by, origin = d.author, w.name
    if d.choice == OTHER:
        if not d.value:
            return _refused(Text("choice '{other}' needs a value (bf_valeur)", other=OTHER),
                            f"le choix « {OTHER} » demande une valeur"), None
        return (Verdict(APPLIED, Text("conflict #{n} ({field}) settled with a value of {user}'s", n=number,
                                      field=Term.field(c.field), user=d.user),
                        "Appliquée : la valeur saisie est gardée et recopiée dans les wikis."),
                lambda: coordinator.resolve_conflict(store, number, value=d.value, by=by, origin=origin))
    if d.choice not in c.candidates:
        names = ", ".join(sorted(c.candidates))
        return _refused(Text("'{choice}' is not a candidate of conflict #{n} ({names}, or '{other}' with a value)",
                             choice=d.choice, n=number, names=names, other=OTHER),
                        f"« {d.choice} » n'est pas un des choix possibles ({names}, ou « {OTHER} » avec une "
                        "valeur)"), None
    if d.fingerprint and d.fingerprint != fingerprint(c.candidates[d.choice]):
        return _refused(Text("the value of {choice} changed since the page showed it", choice=d.choice),
                        f"la valeur de {d.choice} a changé depuis l'affichage de la page ; la page montre la "
                        "nouvelle valeur"), None
    take = d.choice
    return (Verdict(APPLIED, Text("conflict #{n} ({field}) settled with {take}'s value", n=number, field=Term.field(c.field),
                                  take=take),
                    f"Appliquée : la valeur de {take} est gardée et recopiée dans les wikis."),
            lambda: coordinator.resolve_conflict(store, number, take=take, by=by, origin=origin))


def _judge_duplicate(cfg: Config, store: Store, w: WikiConfig, d: Decision,
                     number: int) -> tuple[Verdict, Callable | None]:
    item = store.review_item(number)
    if item is None:
        return _refused(Text("there is no possible duplicate #{n}", n=number),
                        f"il n'y a pas de doublon possible n°{number}"), None
    candidates = [c[0] for c in item.candidates]
    if item.instance != w.name and not any(_concerns(store, w.name, r) for r in candidates):
        return _refused(Text("possible duplicate #{n} concerns no entry of {wiki}", n=number, wiki=w.name),
                        f"le doublon possible n°{number} ne concerne aucune fiche de ce wiki"), None
    if item.status != "open":
        what = {"merged": Text("linked to a record"), "distinct": Text("marked as another actor")}.get(
            item.status, item.status)
        quoi = {"merged": "relié à une fiche", "distinct": "déclaré comme un autre acteur"}.get(item.status,
                                                                                               item.status)
        return Verdict(STALE, Text("possible duplicate #{n} was already decided ({what}): not applied again",
                                   n=number, what=what),
                       f"Sans effet : le doublon possible n°{number} a déjà été tranché ({quoi})."), None
    by, origin = d.author, w.name
    if d.choice == DISTINCT:
        return (Verdict(APPLIED, Text("possible duplicate #{n}: another actor", n=number),
                        "Appliquée : la fiche est un autre acteur ; elle est recopiée dans les wikis."),
                lambda: coordinator.mark_distinct(store, number, by=by, origin=origin))
    if d.choice != LINK:
        return _refused(Text("choice '{choice}' for possible duplicate #{n}: give '{link}' or '{distinct}'",
                             choice=d.choice, n=number, link=LINK, distinct=DISTINCT),
                        f"pour un doublon, le choix est « {LINK} » ou « {DISTINCT} », pas « {d.choice} »"), None
    chosen = [r for r in candidates if _matches(d.record, r)]
    if len(chosen) != 1:
        names = ", ".join(coordinator.short_id(r) for r in candidates)
        return _refused(Text("record {record} is not a candidate of possible duplicate #{n} ({names})",
                             record=d.record or "-", n=number, names=names),
                        f"la fiche « {d.record} » n'est pas une des fiches proposées ({names})"), None
    record_id = chosen[0]
    return (Verdict(APPLIED, Text("possible duplicate #{n} linked to record {record}", n=number,
                                  record=coordinator.short_id(record_id)),
                    "Appliquée : les deux fiches sont reliées ; leurs valeurs sont réunies au même passage."),
            lambda: coordinator.link_duplicate(cfg, store, number, record_id, by=by, origin=origin))


