"""Share a DAV collection of the service account (the address book; the agenda's calendar the same way) read-only
with the network's group: once, and only when the share is missing.

Nextcloud answers 200 to shares that reach no one (a group named otherwise than Nextcloud encodes it, a group that
does not exist) and limits share requests to 20 per account per hour (contract §8). So a share the caller's state
remembers costs no request; otherwise the collection's `oc:invite` is read first (a lost or rebuilt store learns
the share back from it), the share is sent only when missing, and read back. A share refused by the rate limit is
retried on later runs: a note while the refusal is recent, something for a person once it persists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..sync.model import Notice
from ..targets.base import AuthError, EntryError, TargetError
from ..targets.nextcloud import NextcloudClient, RateLimited, group_principal, names_group
from ..text import Text

# The default limit is 20 share requests per hour, and this service sends at most one per collection and run. A
# share still refused after several periods means another client of the account keeps using the quota.
RATE_LIMIT_GRACE = timedelta(hours=6)


@dataclass
class ShareOutcome:
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None      # the collection is not shared and a person must act (missing group...)


def ensure_group_share(client: NextcloudClient, url: str, memo: dict, *, what: str, group: str, now: datetime,
                       family: str = "addressbook", dry_run: bool = False) -> ShareOutcome:
    """Make sure the collection at `url` is shared read-only with `group`. `memo` is the caller's remembered
    state of that share ({"href", "limited_since"}), updated in place; `what` names the collection in messages
    ("address book 'oscartes'"); `family` labels the requests in the run's counts."""
    out = ShareOutcome()
    want = group_principal(group)
    if memo.get("href") == want:
        return out

    def note(level: str, message: str) -> None:
        out.notices.append(Notice(level, client.name, None, message))

    if dry_run:
        note("info", Text("dry run: would check that {what} is shared with group '{group}', and share it if not",
                          what=what, group=group))
        return out
    invites = client.invites(url, family=family)
    if any(i.href == want and i.read_only for i in invites):
        _remember(memo, want)  # shared already (a lost store, or an earlier run that crashed after sharing)
        return out
    if _group_missing(client, group):
        out.error = Text("group '{group}' does not exist on this Nextcloud: {what} is not shared yet. The "
                         "coordinator creates the group once (Nextcloud administration, Accounts), then the next "
                         "sync shares it", group=group, what=what)
        return out
    misnamed = [i.href for i in invites if i.href != want and names_group(i.href, group)]
    try:
        client.share(url, set_hrefs=[want], remove_hrefs=misnamed, read_only=True, family=family)
    except RateLimited:
        note(*_rate_limited(memo, now, what, group, client.user))
        return out
    except EntryError as exc:
        out.error = Text("{what} not shared with group '{group}': {reason}", what=what, group=group,
                         reason=exc.message)
        return out
    if not any(i.href == want and i.read_only for i in client.invites(url, family=family)):
        out.error = Text("Nextcloud accepted the share of {what} with group '{group}' but does not list it: check "
                         "that the group exists and that sharing with groups is allowed (Administration settings, "
                         "Sharing)", what=what, group=group)
        return out
    _remember(memo, want)
    note("info", Text("{what} shared read-only with group '{group}' (it named the group in a form that reaches no "
                      "member: replaced)", what=what, group=group) if misnamed
         else Text("{what} shared read-only with group '{group}'", what=what, group=group))
    return out


def _group_missing(client: NextcloudClient, group: str) -> bool:
    try:
        return client.group_exists(group) is False
    except AuthError:
        raise
    except TargetError:
        return False  # cannot tell now: the read-back after the share does


def _rate_limited(memo: dict, now: datetime, what: str, group: str, user: str) -> tuple[str, str]:
    """(level, message) of a share refused by the rate limit: a note while recent, a person's attention once
    it has lasted RATE_LIMIT_GRACE (remembered in `memo`)."""
    now = now.astimezone(timezone.utc)
    since = datetime.fromisoformat(memo.setdefault("limited_since", now.isoformat()))
    if now - since < RATE_LIMIT_GRACE:
        return "info", Text("{what} is not shared with group '{group}' yet: Nextcloud limits share requests (HTTP "
                            "429, 20 per account per hour by default); the share will be retried on the next run",
                            what=what, group=group)
    return "attention", Text("{what} is still not shared with group '{group}': Nextcloud has refused the share with "
                             "its share rate limit since {since} UTC, so another client of account '{user}' keeps "
                             "sending address-book or calendar share requests; stop it, or raise the dav app "
                             "setting rateLimitShareAddressbookOrCalendar", what=what, group=group,
                             since=since.strftime("%Y-%m-%d %H:%M"), user=user)


def _remember(memo: dict, href: str) -> None:
    memo.clear()
    memo["href"] = href
