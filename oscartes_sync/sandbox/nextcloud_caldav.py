"""CalDAV of the Nextcloud emulator (`/remote.php/dav/calendars/<user>/...`), as the contract (§5 and the caldav_*
fixtures) and this project's recordings (tests/contract/recorded/caldav_x*) show Nextcloud 34:

* every user has `personal` and `contact_birthdays` (sync token 2), then `inbox`, `outbox`, `trashbin`;
* MKCALENDAR (201, 405 when it exists), PUT of `.ics` objects (201/204, ETag = md5 of the stored text, stale
  `If-Match` 412, `If-None-Match: *` 412 when it exists, a VEVENT-only calendar refuses other components with 403,
  no DTSTART 415, a UID already under another href 400), GET (`text/calendar; charset=utf-8; component=vevent`),
  DELETE, REPORT sync-collection (deleted objects as bare 404 entries);
* POST `oc:share` on a calendar is the address book's (the emulator's `_share_book`: the share stored under the
  principal as written, reaching members only when written as Nextcloud encodes group principals, contract §8;
  the same per-account rate limit); `oc:invite` lists the shares; members see `<cal>_shared_by_<owner>`,
  read-only: their writes answer 404 as recorded.

Not emulated: calendar-query, free-busy, scheduling, the trash bin's content.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from .nextcloud_emulator import (
    CS, D, HTML_CT, OC, SYNC_PREFIX, Book, BookView, Card, Ctx, DavError, Raw, _parse_xml, _requested_props,
    _split_props, _unfold, encode_path, http_date, multistatus, not_found, precondition,
)

CAL = "urn:ietf:params:xml:ns:caldav"
ICAL_CT = "text/calendar; charset=utf-8; component=vevent"
DEFAULTS = (("personal", "Personal"), ("contact_birthdays", "Contact birthdays"))
SPECIAL = (("inbox", "<d:collection/><cal:schedule-inbox/>"), ("outbox", "<d:collection/><cal:schedule-outbox/>"),
           ("trashbin", '<d:collection/><x1:trash-bin xmlns:x1="http://nextcloud.com/ns"/>'))


@dataclass
class Calendar(Book):
    components: tuple[str, ...] = ("VEVENT",)


def _ical_prop(text: str, component: str, name: str) -> list[str]:
    """Values of property `name` inside the first `component` block (unfolded lines)."""
    inside, out = False, []
    for line in _unfold(text):
        upper = line.upper()
        if upper == f"BEGIN:{component}":
            inside = True
        elif upper == f"END:{component}":
            break
        elif inside and re.match(rf"{name}[;:]", line, re.I):
            out.append(line.split(":", 1)[1] if ":" in line else "")
    return out


class CalDav:
    def __init__(self, emu) -> None:
        self.emu = emu
        self.calendars: dict[tuple[str, str], Calendar] = {}

    # ---- views
    def _ensure_defaults(self, user: str) -> None:
        for uri, name in DEFAULTS:
            self.calendars.setdefault((user, uri), Calendar(user, uri, name, synctoken=2))

    def views(self, user: str) -> dict[str, BookView]:
        self._ensure_defaults(user)
        views = {uri: BookView(cal, uri, False, f"principals/users/{owner}")
                 for (owner, uri), cal in self.calendars.items() if owner == user}
        mine = [self.emu._group_principal(g) for g in self.emu.users[user].groups]
        for (owner, uri), cal in self.calendars.items():
            shared = [p for p in mine if p in cal.shared_with]
            if owner != user and shared:
                views[f"{uri}_shared_by_{owner}"] = BookView(cal, f"{uri}_shared_by_{owner}",
                                                             not any(cal.shared_with[p] for p in shared),
                                                             f"principals/users/{owner}")
        return views

    def delivered_to(self, owner: str, uri: str) -> list[str]:
        """The groups whose members receive the calendar (shares written the way that reaches them)."""
        cal = self.calendars.get((owner, uri))
        return sorted(g for g in self.emu.groups if cal and self.emu._group_principal(g) in cal.shared_with)

    def events(self, owner: str, uri: str) -> dict[str, str]:
        """Object name -> stored text (tests)."""
        cal = self.calendars.get((owner, uri))
        return {n: c.data for n, c in cal.cards.items()} if cal else {}

    # ---- routing
    def handle(self, ctx: Ctx, owner: str, rest: list[str]) -> Response:
        method = ctx.method
        if owner != ctx.user:
            raise not_found(f"Principal with name {owner} not found")
        if not rest:
            if method == "PROPFIND":
                return self._propfind_home(ctx, owner)
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed here")
        name, views = rest[0], self.views(owner)
        view = views.get(name)
        if len(rest) == 1:
            if method == "MKCALENDAR":
                if view is not None or name in dict(SPECIAL):
                    raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed",
                                   "The resource you tried to create already exists")
                return self._mkcalendar(ctx, owner, name)
            if view is None:
                raise not_found(f"Calendar with name '{name}' could not be found")
            if method == "PROPFIND":
                return self._propfind_calendar(ctx, owner, view)
            if method == "REPORT":
                root = _parse_xml(ctx.request.get_data())
                if root is None or root.tag != f"{{{D}}}sync-collection":
                    raise DavError(501, "Sabre\\DAV\\Exception\\ReportNotSupported", "This report is not emulated")
                base = f"/remote.php/dav/calendars/{owner}/{view.name}/"
                wanted = _requested_props(root) or [f"{{{D}}}getetag"]
                return self.emu._sync_collection(root, view, base,
                                                 lambda obj: _split_props(wanted, self._object_props(obj), ()))
            if method == "POST":
                return self.emu._share_book(ctx, owner, view)
            if method == "DELETE" and not view.read_only:
                del self.calendars[(owner, name)]
                return Response(status=204)
            raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed here")
        if view is None:
            raise not_found(f"Calendar with name '{name}' could not be found")
        obj_name, cal = rest[1], view.book
        if view.read_only and method in ("PUT", "DELETE"):
            # recorded (caldav_x6-x8): a member's write to a read-only shared calendar is a 404
            if method == "PUT" and obj_name in cal.cards:
                raise not_found(f"Node with name '{obj_name}' could not be found")
            raise not_found(f"Calendar with name '{name}' could not be found")
        if method in ("GET", "HEAD"):
            obj = cal.cards.get(obj_name)
            if obj is None:
                raise not_found("Calendar object not found")
            resp = Response(obj.data.encode("utf-8") if method == "GET" else b"", status=200, content_type=ICAL_CT)
            resp.headers.update({"ETag": f'"{obj.etag}"', "OC-ETag": f'"{obj.etag}"',
                                 "Last-Modified": http_date(obj.mtime),
                                 "Content-Disposition": f"attachment; filename*=UTF-8''{encode_path(obj_name)}; "
                                                        f'filename="{obj_name}"'})
            return resp
        if method == "PUT":
            return self._put(ctx, cal, obj_name)
        if method == "DELETE":
            obj = cal.cards.get(obj_name)
            if obj is None:
                raise not_found("Calendar object not found")
            self.emu._card_preconditions(ctx, obj)
            del cal.cards[obj_name]
            self.emu._log_change(cal, obj_name)
            return Response(status=204)
        raise DavError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", f"{method} is not allowed on an object")

    # ---- collections
    def _calendar_props(self, view: BookView) -> dict[str, Any]:
        cal = view.book
        comps = "".join(f'<cal:comp name="{c}"/>' for c in cal.components)
        props: dict[str, Any] = {
            f"{{{D}}}displayname": cal.displayname if view.name == cal.uri else f"{cal.displayname} ({cal.owner})",
            f"{{{D}}}resourcetype": Raw("<d:collection/><cal:calendar/>"),
            f"{{{CS}}}getctag": f"{SYNC_PREFIX}{cal.synctoken}",
            f"{{{D}}}sync-token": f"{SYNC_PREFIX}{cal.synctoken}",
            f"{{{CAL}}}supported-calendar-component-set": Raw(comps),
            f"{{{OC}}}owner-principal": view.owner_principal,
            f"{{{OC}}}invite": Raw("".join(self.emu._invite_xml(p, rw) for p, rw in cal.shared_with.items()))
            if view.name == cal.uri else None,
        }
        if view.read_only or view.name != cal.uri:
            props[f"{{{OC}}}read-only"] = "1" if view.read_only else "0"
        return props

    @staticmethod
    def _object_props(obj: Card) -> dict[str, Any]:
        return {f"{{{D}}}getetag": f'"{obj.etag}"', f"{{{D}}}getcontenttype": ICAL_CT,
                f"{{{D}}}getcontentlength": str(len(obj.data.encode("utf-8"))),
                f"{{{D}}}getlastmodified": http_date(obj.mtime), f"{{{D}}}resourcetype": Raw("")}

    def _propfind_home(self, ctx: Ctx, owner: str) -> Response:
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        home = {f"{{{D}}}resourcetype": Raw("<d:collection/>")}
        responses = [(f"/remote.php/dav/calendars/{owner}/", _split_props(wanted, home, tuple(home)))]
        if ctx.request.headers.get("Depth", "1").strip() != "0":
            for name, view in self.views(owner).items():
                responses.append((encode_path(f"/remote.php/dav/calendars/{owner}/{name}/"),
                                  _split_props(wanted, self._calendar_props(view),
                                               (f"{{{D}}}resourcetype", f"{{{D}}}displayname"))))
            for name, rtype in SPECIAL:
                props = {f"{{{D}}}resourcetype": Raw(rtype)}
                responses.append((f"/remote.php/dav/calendars/{owner}/{name}/", _split_props(wanted, props,
                                                                                            tuple(props))))
        return multistatus(responses)

    def _propfind_calendar(self, ctx: Ctx, owner: str, view: BookView) -> Response:
        wanted = _requested_props(_parse_xml(ctx.request.get_data()))
        base = f"/remote.php/dav/calendars/{owner}/{view.name}/"
        responses = [(encode_path(base), _split_props(wanted, self._calendar_props(view), (f"{{{D}}}resourcetype",)))]
        if ctx.request.headers.get("Depth", "1").strip() != "0":
            for obj in sorted(view.book.cards.values(), key=lambda c: c.id):
                responses.append((encode_path(base + obj.uri),
                                  _split_props(wanted, self._object_props(obj), (f"{{{D}}}getetag",))))
        return multistatus(responses)

    def _mkcalendar(self, ctx: Ctx, owner: str, name: str) -> Response:
        root = _parse_xml(ctx.request.get_data())
        displayname, comps = name, ("VEVENT", "VTODO")
        if root is not None:
            dn = root.find(f".//{{{D}}}displayname")
            if dn is not None and dn.text:
                displayname = dn.text
            found = tuple(c.get("name", "").upper() for c in root.iter(f"{{{CAL}}}comp"))
            comps = found or comps
        self.calendars[(owner, name)] = Calendar(owner, name, displayname, components=comps)
        return Response("", status=201, content_type=HTML_CT)

    # ---- objects
    def _put(self, ctx: Ctx, cal: Calendar, name: str) -> Response:
        data = ctx.request.get_data().decode("utf-8", "replace")
        existing = cal.cards.get(name)
        self.emu._card_preconditions(ctx, existing)
        if not data.lstrip().upper().startswith("BEGIN:VCALENDAR"):
            raise DavError(415, "Sabre\\DAV\\Exception\\UnsupportedMediaType",
                           "This resource only supports valid iCalendar 2.0 data. Parse error: This parser only "
                           "supports VCARD and VCALENDAR files")
        present = [c for c in ("VEVENT", "VTODO", "VJOURNAL") if re.search(rf"^BEGIN:{c}\r?$", data, re.M | re.I)]
        if not set(present) & set(cal.components):
            comp = cal.components[0]
            raise DavError(403, "Sabre\\CalDAV\\Exception\\InvalidComponentType",
                           f"iCalendar objects must at least have a component of type {comp}",
                           extra='<cal:supported-calendar-component xmlns:cal="urn:ietf:params:xml:ns:caldav"/>')
        if "VEVENT" in present and len(_ical_prop(data, "VEVENT", "DTSTART")) != 1:
            raise DavError(415, "Sabre\\DAV\\Exception\\UnsupportedMediaType",
                           "Validation error in iCalendar: DTSTART MUST appear exactly once in a VEVENT component")
        uid = next(iter(_ical_prop(data, present[0], "UID")), None)
        for other in cal.cards.values():
            if other.uri != name and uid and other.uid == uid:
                raise DavError(400, "Sabre\\DAV\\Exception\\BadRequest",
                               "Calendar object with uid already exists in this calendar collection.")
        etag = hashlib.md5(data.encode("utf-8")).hexdigest()
        if existing is None:
            obj = Card(self.emu._next_card_id, name, data, etag, uid, self.emu._ts())
            self.emu._next_card_id += 1
            cal.cards[name] = obj
        else:
            existing.data, existing.etag, existing.uid, existing.mtime = data, etag, uid, self.emu._ts()
        self.emu._log_change(cal, name)
        resp = Response("", status=201 if existing is None else 204,
                        content_type=HTML_CT if existing is None else None)
        if existing is not None:
            resp.headers.pop("Content-Type", None)
        resp.headers["ETag"] = f'"{etag}"'
        resp.headers["OC-ETag"] = f'"{etag}"'
        return resp
