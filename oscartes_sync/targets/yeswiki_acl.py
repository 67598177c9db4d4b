"""YesWiki 4.4 access lists (`AclService::check`, includes/services/AclService.php), read by the service to
tell whether a wiki user may take a decision: an administrator, or a member of a named group.

An ACL is text, one entry per line: `*` everyone, `+` any registered user, `%` the page's owner, `@group` the
members of a group, a user name; `!` before an entry negates it; `#` starts a comment. The first line that
grants access wins (a big OR); a negated line grants access to everyone it does not name. A group is itself an
ACL (the value of the triple `ThisWikiGroup:<name>`, contract recorded/review/review_03), so groups nest.
"""

from __future__ import annotations

from collections.abc import Callable

ADMIN_GROUP = "admins"
GROUP_PREFIX = "ThisWikiGroup:"
ACLS_PROPERTY = "http://www.wikini.net/_vocabulary/acls"

GroupAcl = Callable[[str], "str | None"]  # group name -> its ACL text, None for an unknown group


def acl_lines(acl: str | None) -> list[str]:
    """The entries of an ACL, one a line, as `AclService::check` reads them."""
    text = (acl or "").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()]


def saved_acl(acl: str) -> str:
    """An ACL as `AclService::save` stores it: a comma list becomes one entry a line (review_05)."""
    return "\n".join(acl_lines(acl.replace(",", "\n")))


def allows(acl: str | None, user: str | None, group_acl: GroupAcl, *, registered: bool = True,
           _seen: frozenset[str] = frozenset()) -> bool:
    """Whether `user` (None: an anonymous visitor) satisfies `acl`, without the administrators' shortcut and
    without `%` (no page is in question). `registered`: the user has an account (`+`)."""
    for line in acl_lines(acl):
        granted = not line.startswith("!")
        entry = line if granted else line[1:].strip()
        if not entry or entry.startswith(("#", "%")):
            continue  # a comment; `%` (the owner) names nobody here, negated or not
        if entry == "*":
            hit = True
        elif entry == "+":
            hit = bool(user) and registered
        elif entry.startswith("@"):
            hit = bool(user) and in_group(entry[1:], user, group_acl, _seen=_seen)
        else:
            hit = bool(user) and entry == user
        if hit == granted:
            return True
    return False


def in_group(group: str, user: str | None, group_acl: GroupAcl, *, _seen: frozenset[str] = frozenset()) -> bool:
    """`UserManager::isInGroup(group, user, admincheck=false)`: the group's ACL read for this user. A group
    that refers back to itself grants nothing through that loop (YesWiki refuses to save one)."""
    if not user or not group or group.casefold() in _seen:
        return False
    return allows(group_acl(group), user, group_acl, _seen=_seen | {group.casefold()})


def may_decide(user: str | None, group_acl: GroupAcl, review_group: str | None = None) -> bool:
    """An administrator of the wiki, or a member of the group named in the config."""
    if not user:
        return False
    return in_group(ADMIN_GROUP, user, group_acl) or bool(review_group and in_group(review_group, user, group_acl))
