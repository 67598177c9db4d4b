"""YesWiki's access lists as the service reads them (AclService::check), and the ACL and group calls of the
clients against the emulator (whose behaviour the recordings of tests/contract/recorded/review/ back)."""

from __future__ import annotations

import pytest

from oscartes_sync.sandbox.sandbox import new_wiki
from oscartes_sync.targets.base import EntryError
from oscartes_sync.targets.yeswiki import YesWikiClient
from oscartes_sync.targets.yeswiki_acl import acl_lines, allows, in_group, may_decide, saved_acl
from oscartes_sync.targets.yeswiki_admin import YesWikiAdmin

GROUPS = {"admins": "Alice", "Coordination": "Bob\n@Bureau", "Bureau": "Chloe", "Boucle": "@Boucle\nDan",
          "Tous": "*", "Inscrits": "+", "SaufEve": "!Eve"}


def group_acl(name):
    return GROUPS.get(name)


@pytest.mark.parametrize("acl, user, expected", [
    ("*", None, True), ("+", None, False), ("+", "Bob", True), ("Bob", "Bob", True), ("Bob", "Eve", False),
    ("!Eve", "Bob", True), ("!Eve", "Eve", False), ("!*", "Bob", False), ("%", "Bob", False), ("!%", "Bob", False),
    ("# Bob", "Bob", False), ("@Coordination", "Bob", True), ("@Coordination", "Chloe", True),
    ("@Coordination", "Alice", False),  # no administrators' shortcut inside a group
    ("@Inconnu", "Bob", False), ("Eve\nBob", "Bob", True), ("@Boucle", "Dan", True), ("@Boucle", "Bob", False),
])
def test_acl_lines_read_as_aclservice_check(acl, user, expected):
    assert allows(acl, user, group_acl) is expected


def test_who_may_decide():
    assert may_decide("Alice", group_acl) and not may_decide("Bob", group_acl)
    assert may_decide("Bob", group_acl, "Coordination") and may_decide("Chloe", group_acl, "Coordination")
    assert not may_decide("Eve", group_acl, "Coordination") and not may_decide("", group_acl, "Tous")
    assert not may_decide(None, group_acl, "Tous") and may_decide("Eve", group_acl, "Tous")
    assert in_group("SaufEve", "Bob", group_acl) and not in_group("SaufEve", "Eve", group_acl)


def test_a_saved_acl_is_one_entry_a_line():
    assert saved_acl("@admins, @Coordination") == "@admins\n@Coordination"
    assert acl_lines(" @admins\r\n\n@Coordination ") == ["@admins", "@Coordination"]


@pytest.fixture
def wiki():
    w = new_wiki("acl")
    yield w
    w.server.stop()


def test_set_acls_restricts_a_page_and_takes_it_over(wiki):
    wiki.emulator.add_page("RevueTest", "texte", owner=wiki.member_user)
    admin = YesWikiAdmin("acl", wiki.url, admin_user=wiki.admin_user, admin_password=wiki.admin_password)
    assert admin.get_acls("RevueTest") == {"read": "*", "write": "*", "comment": "comments-closed"}
    admin.set_acls("RevueTest", read="@admins,@Coordination", write="@admins", owner=wiki.admin_user)
    assert admin.get_acls("RevueTest") == {"read": "@admins\n@Coordination", "write": "@admins",
                                           "comment": "comments-closed"}
    assert admin.get_page("RevueTest").owner == wiki.admin_user
    assert admin.get_acls("PasDePage") is None
    admin.close()


def test_set_acls_by_someone_who_may_not_is_an_error(wiki):
    wiki.emulator.add_page("RevueTest", "texte", owner=wiki.admin_user)
    member = YesWikiAdmin("acl", wiki.url, admin_user=wiki.member_user, admin_password=wiki.member_password)
    with pytest.raises(EntryError, match="not saved"):
        member.set_acls("RevueTest", read="*", write="*")
    assert "RevueTest" not in wiki.emulator.acls
    member.close()


def test_group_acl_reads_the_group_triple(wiki):
    wiki.emulator.add_group("Coordination", "MembreActif")
    client = YesWikiClient("acl", wiki.url, token=wiki.token, admin_user=None, admin_password=None)
    assert client.group_acl("admins") == wiki.admin_user
    assert client.group_acl("Coordination") == "MembreActif"
    assert client.group_acl("Inconnu") is None
    client.close()
