"""The review page of each wiki (DECISIONS §25): the open conflicts and possible duplicates concerning that wiki's
entries, each with the values, where and when each was entered, and links that take the decision (the
"Décisions OSCARTES" form, prefilled; `review.py` reads it on the next run), then the decisions processed lately.

The page is readable by the wiki's administrators only (and the `review_group` of the config): its ACLs are
set through the page's `acls` handler and made the service's own (owner) before any content is written, and
checked again at each rewrite (recorded/review/review_01, _02). It is a derived page (DECISIONS §13): written
once per run when its content changed, never otherwise (no request at all on a quiet run). It belongs to the
service: an edit by hand is replaced at the next change (the wiki keeps it in the page's history) and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from .. import review
from ..clean import to_wiki_string
from ..clients import wiki_admin
from ..config import Config, WikiConfig
from ..coordinator import short_id
from ..hashing import content_hash
from ..i18n import translate
from ..records import DECISIONS, KINDS
from ..sync.model import Notice
from ..targets.base import TargetError
from ..targets.yeswiki_acl import acl_lines, saved_acl
from ..templates import field_keys, parse_template, render_form_template
from ..text import Text, restored
from .pages import Raw, render, sort_key, text

STATE = "review/{wiki}/page"  # {"hash": ..., "revision": ...}
PLACEHOLDER = "Page réservée aux administrateurs du wiki : OSCARTES la remplit à son prochain passage."
MAX_VALUE = 300  # characters of a value shown on the page
RECENT = 15  # decisions processed lately, newest first


@dataclass
class ReviewPageResult:
    notices: list[Notice] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)


def page_acls(w: WikiConfig) -> dict[str, str]:
    """Who reads and writes the review page: the administrators, and the review group when there is one."""
    read = "@admins" + (f"\n@{w.review_group}" if w.review_group else "")
    return {"read": read, "write": "@admins", "comment": "comments-closed"}


# ---------------------------------------------------------------------------------------------- the body


@lru_cache(maxsize=32)
def _labels(kind: str, forms_key: tuple) -> dict[str, str]:
    """Canonical field -> its French label in our form of `kind` (what members see in the wiki)."""
    by_key: dict[str, str] = {}
    for cols in parse_template(render_form_template(kind, dict(forms_key))):
        if cols[0] == "map":
            continue
        for k in field_keys(cols):
            by_key[k] = cols[2] if len(cols) > 2 else k
    forms = dict(forms_key)
    out = {"latitude": "Latitude", "longitude": "Longitude"}
    for f in KINDS[kind].fields:
        key = f.wiki_key.replace("{form:actor}", str(forms.get("actor", "")))
        if key in by_key:
            out[f.name] = by_key[key]
    return out


def _shown(kind: str, name: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(vide)"
    try:
        s = to_wiki_string(KINDS[kind].field(name).type, value)
    except (KeyError, ValueError, TypeError):
        s = str(value)
    return s if len(s) <= MAX_VALUE else s[:MAX_VALUE] + f"… ({len(s)} caractères en tout)"


def _when(stamp: str | None) -> str:
    """A wiki's `date_maj_fiche` ("2026-12-06 10:15:00", that wiki's clock) as a person reads it."""
    s = str(stamp or "")
    if len(s) >= 16 and s[4] == "-" and s[10] == " ":
        return f"{s[8:10]}/{s[5:7]}/{s[0:4]} à {s[11:16]}"
    return ""


def _link(url: str, label: str) -> Raw:
    """`[[url label]]`, an external link; the URL is percent-encoded, so it holds no space or bracket."""
    label_text = text(label).replace("|", "¦").replace("]]", "] ]").strip()
    return Raw(f"[[{url} {label_text}]]")


def _entry(tag: str, label: str) -> Raw:
    """An internal link to an entry of this wiki."""
    return Raw(f"[[{tag} {text(label).replace('|', '¦').replace(']]', '] ]').strip()}]]")


def decision_url(w: WikiConfig, fields: Mapping[str, str]) -> str:
    """The decisions form's create page with its fields filled in (the Bazar form reads them from the query,
    recorded/review/review_04)."""
    query = urlencode({"vue": "saisir", "action": "saisir_fiche", "id": w.service_form_id(DECISIONS.name)},
                      quote_via=quote)
    return f"{w.url}?BazaR&{query}&" + urlencode(dict(fields), quote_via=quote)


def _readers(w: WikiConfig) -> str:
    return "aux administrateurs de ce wiki" + (f" et au groupe {w.review_group}" if w.review_group else "")


def review_body(cfg: Config, store, w: WikiConfig, *, form_ok: bool = True) -> str:
    """The page of wiki `w`, from the store alone: same state, same bytes."""
    open_conflicts, open_items = store.conflicts("open"), store.review_items("open")
    # only the records these name (a quiet run reads this much, not the whole directory)
    wanted = {c.record_id for c in open_conflicts} | {c[0] for i in open_items for c in i.candidates}
    records = {rid: r for rid in sorted(wanted) if (r := store.record(rid)) is not None}
    here = {rid: link.remote_id for rid in records
            if (link := store.link(rid, w.name)) is not None and link.remote_id}
    forms_key = tuple(sorted(w.form_ids().items()))
    conflicts = []
    for c in open_conflicts:
        rec = records.get(c.record_id)
        if rec is None or c.record_id not in here:
            continue  # no entry of this wiki is concerned
        title = rec.fields.get(KINDS[rec.kind].title_field) or c.record_id
        label = _labels(rec.kind, forms_key).get(c.field, c.field) if rec.kind in KINDS else c.field
        head = f"Conflit {c.id} : {title} · {label}"
        base = {"bf_sujet": review.subject(review.CONFLICT, c.id), "bf_fiche": short_id(c.record_id),
                "bf_champ": c.field}
        values = []
        for inst in sorted(c.candidates):
            value = c.candidates[inst]
            values.append({
                "where": inst, "text": _shown(rec.kind, c.field, value),
                "when": _when((c.candidate_times or {}).get(inst)),
                "link": _link(decision_url(w, {"bf_titre": f"{head} : valeur de {inst}", **base, "bf_choix": inst,
                                               "bf_empreinte": review.fingerprint(value)}),
                              f"Garder la valeur de {inst}") if form_ok else "",
            })
        conflicts.append({
            "id": c.id, "title": title, "label": label, "short": short_id(c.record_id),
            "entry_link": _entry(here[c.record_id], "voir la fiche dans ce wiki"),
            "base": f"« {_shown(rec.kind, c.field, c.base)} »", "choices": values,
            "other_link": _link(decision_url(w, {"bf_titre": f"{head} : autre valeur", **base,
                                                 "bf_choix": review.OTHER}), "Autre valeur") if form_ok else "",
            "_key": (sort_key(str(title)), c.field, c.id),
        })
    conflicts.sort(key=lambda c: c.pop("_key"))
    duplicates = []
    for item in open_items:
        cands = [c[0] for c in item.candidates if c[0] in records]
        if item.instance != w.name and not any(r in here for r in cands):
            continue
        name = item.values.get(KINDS[item.kind].title_field) if item.kind in KINDS else None
        name = name or item.remote_id
        other = next((x for x in cfg.wiki if x.name == item.instance), None)
        if item.instance == w.name:
            entry_link = _entry(item.remote_id, str(name))
        elif other is not None:
            entry_link = _link(f"{other.url}?{quote(item.remote_id, safe='')}", str(name))
        else:
            entry_link = text(name)
        details = ", ".join(text(f"{label} {item.values[k]}") for k, label in
                            (("commune", "commune"), ("postcode", "code postal"), ("siret", "SIRET"))
                            if item.values.get(k)) or "sans commune ni SIRET"
        head = f"Doublon {item.id} : {name}"
        rows = []
        for c in item.candidates:
            rec = records.get(c[0])
            if rec is None:
                continue
            rtitle = rec.fields.get(KINDS[rec.kind].title_field) or rec.id
            where = ", ".join(str(rec.fields[k]) for k in ("commune", "postcode") if rec.fields.get(k))
            why = f" : {', '.join(translate(restored(e), lang='fr') for e in c[2])}" if len(c) > 2 and c[2] else ""
            description = text(f"la fiche « {rtitle} » ({short_id(rec.id)}{', ' + where if where else ''}; "
                               f"ressemblance {float(c[1]):.0f}{why})")
            if rec.id in here:
                description = Raw(description + " · " + _entry(here[rec.id], "voir la fiche dans ce wiki"))
            rows.append({"description": description, "link": _link(
                decision_url(w, {"bf_titre": f"{head} : relier à {rtitle}",
                                 "bf_sujet": review.subject(review.DUPLICATE, item.id),
                                 "bf_fiche": short_id(rec.id), "bf_choix": review.LINK}),
                f"Relier : c'est la même structure que {rtitle}") if form_ok else ""})
        duplicates.append({
            "id": item.id, "title": name, "wiki": item.instance, "entry_link": entry_link, "details": Raw(details),
            "records": rows,
            "distinct_link": _link(decision_url(w, {"bf_titre": f"{head} : deux acteurs différents",
                                                    "bf_sujet": review.subject(review.DUPLICATE, item.id),
                                                    "bf_choix": review.DISTINCT}),
                                   "Deux acteurs différents : la recopier comme une nouvelle fiche") if form_ok else "",
        })
    done = sorted(review.processed(store, w.name).items(), key=lambda kv: (kv[1].get("at", ""), kv[0]), reverse=True)
    recent = [{"title": row.get("title") or row.get("subject") or eid, "by": row.get("by", "?"),
               "answer": row.get("answer", "")} for eid, row in done[:RECENT]]
    return render("review.txt.j2", readers=_readers(w), form_ok=form_ok, conflicts=conflicts,
                  duplicates=duplicates, recent=recent)


# ---------------------------------------------------------------------------------------------- publishing


def publish_review_pages(cfg: Config, store, *, dry_run: bool = False, skip: set[str] = frozenset(),
                         form_ok: Mapping[str, bool] | None = None,
                         admin_factory: Callable[[WikiConfig], Any] | None = None) -> ReviewPageResult:
    """Write each wiki's review page when its content changed. `skip`: wikis unusable this run; `form_ok`: per
    wiki, whether its decisions form was read (no decision links otherwise)."""
    result = ReviewPageResult()
    if not cfg.review.enabled:
        return result
    tag = cfg.review.page
    for w in cfg.wiki:
        if w.name in skip:
            continue
        body = review_body(cfg, store, w, form_ok=(form_ok or {}).get(w.name, True))
        key = STATE.format(wiki=w.name)
        state = dict(store.get_state(key) or {})
        if state.get("hash") == content_hash(body):
            continue  # the quiet case: no request at all
        if dry_run:
            result.notices.append(Notice("info", w.name, None, Text("review page {tag} would be written", tag=tag)))
            continue
        admin = (admin_factory or wiki_admin)(w)
        if isinstance(admin, str):
            result.notices.append(Notice("attention", w.name, None,
                                         Text("review page {tag} not written: {reason}", tag=tag, reason=admin)))
            continue
        try:
            revision = _write(w, admin, tag, body, state, result)
            store.set_state(key, {"hash": content_hash(body), "revision": revision})
            result.writes[w.name] = result.writes.get(w.name, 0) + 1
        except TargetError as exc:
            result.notices.append(Notice("attention", w.name, None,
                                         Text("review page {tag} not written: {reason}", tag=tag, reason=exc.message)))
        finally:
            result.requests[w.name] = dict(admin.stats.counts)
            admin.close()
    return result


def _write(w: WikiConfig, admin, tag: str, body: str, state: dict, result: ReviewPageResult) -> str:
    """Restrict the page, then write the body; the page's revision that holds it."""
    acls = page_acls(w)
    admin.login()  # the page is not readable anonymously once restricted
    current = admin.get_page(tag)
    if current is None:
        # the handler sets ACLs on an existing page only: a placeholder without data first
        current = admin.save_page(tag, PLACEHOLDER, previous=None)
        admin.set_acls(tag, **acls)
    else:
        stored = admin.get_acls(tag)
        owner = None if current.owner == w.admin_user else w.admin_user
        if owner or stored is None or any(acl_lines(saved_acl(stored.get(k) or "")) != acl_lines(saved_acl(v))
                                          for k, v in acls.items()):
            admin.set_acls(tag, **acls, owner=owner)
        if current.body.replace("\r\n", "\n").rstrip() == body.rstrip():
            return current.revision  # already there (a store rebuilt, a run cut short): nothing to send
        if state.get("revision") and current.revision != state["revision"]:
            result.notices.append(Notice("info", w.name, None, Text(
                "review page {tag} was edited in the wiki since the service wrote it: replaced (the wiki keeps that "
                "version in the page's history)", tag=tag)))
    return admin.save_page(tag, body, previous=current.revision).revision

