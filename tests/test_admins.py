"""Only root and the admin group change the directory; everyone else has their own access and credentials."""

from __future__ import annotations

import pytest

from store.audit import Actor
from store.demo import DEMO_USER_PASSWORD
from store.directory import Directory
from store.errors import Refused
from tests.console_factory import make_app, settle
from tests.test_store_audit import last_event
from tui.screens.my_access import MyAccessScreen
from tui.widgets.key_footer import KeyFooter


@pytest.fixture
def seeded(directory):
    from store.demo import seed_demo

    seed_demo(directory)
    directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
    return directory


def act_as(directory, name):
    user = directory.users.get_by_name(name)
    directory.act_as(user.id, Actor(name, "console"), mfa=True)
    return user


def test_a_member_of_the_admin_group_administers(seeded):
    act_as(seeded, "alice")
    assert seeded.acting_is_admin
    created = seeded.users.create("newhire")
    assert seeded.users.get(created.id).user_name == "newhire"


def test_everyone_else_is_refused_every_change_and_nothing_is_written(seeded):
    bob = act_as(seeded, "bob")
    events = seeded.db.query_one("SELECT count(*) FROM audit")[0]
    with pytest.raises(Refused, match="only administrators"):
        seeded.users.create("sneaky")
    with pytest.raises(Refused, match="only administrators"):
        seeded.groups.add_member(seeded.groups.get_by_name("Admins").id, bob.id)
    with pytest.raises(Refused, match="only administrators"):
        seeded.admins.set_admin_group(seeded.groups.get_by_name("Developers").id)
    carol = seeded.users.get_by_name("carol")
    with pytest.raises(Refused, match="only administrators"):
        seeded.credentials.set_password(carol.id, "a long enough passphrase")
    dev, developer = seeded.accounts.get_by_name("dev"), seeded.permission_sets.get_by_name("Developer")
    with pytest.raises(Refused, match="another user"):
        seeded.sessions.issue(carol.id, dev.id, developer.id)
    assert seeded.db.query_one("SELECT count(*) FROM audit")[0] == events
    assert seeded.users.get_by_name("bob").version == bob.version
    assert [m.group_name for m in seeded.groups.groups_of(bob.id)] == ["Developers"]


def test_everyone_has_their_own_access_and_credentials(seeded):
    seeded.credentials.set_password(seeded.users.get_by_name("bob").id, DEMO_USER_PASSWORD)
    bob = act_as(seeded, "bob")
    # Their own password only by proving the current one: setting it outright is an admin's act.
    with pytest.raises(Refused, match="only administrators"):
        seeded.credentials.set_password(bob.id, "a reggae passphrase of my own")
    seeded.credentials.change_password(bob.id, DEMO_USER_PASSWORD, "a reggae passphrase of my own")
    key = seeded.access_keys.create(bob.id)
    assert key.key.key_id.startswith("AKIA")
    dev, developer = seeded.accounts.get_by_name("dev"), seeded.permission_sets.get_by_name("Developer")
    issued = seeded.sessions.issue(bob.id, dev.id, developer.id)
    assert seeded.sessions.revoke(issued.session_id) == 1


def test_leaving_the_admin_group_or_being_disabled_ends_admin_rights(seeded):
    alice = seeded.users.get_by_name("alice")
    assert seeded.admins.is_admin(alice.id)
    seeded.groups.remove_member(seeded.groups.get_by_name("Admins").id, alice.id)
    assert not seeded.admins.is_admin(alice.id)
    root_like = seeded.users.get_by_name("grace")
    assert seeded.admins.is_admin(root_like.id)
    seeded.users.disable(root_like.id, root_like.version)
    assert not seeded.admins.is_admin(root_like.id)


async def test_the_console_gives_a_non_admin_only_my_access(tmp_path):
    from store.portal import SignedIn

    app, directory = make_app(tmp_path, signed_in=None)
    directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
    bob = directory.users.get_by_name("bob")
    signed_in = SignedIn(bob.id, "bob", False, False, "password", "console", directory.now_text(), None)
    app, directory = make_app(tmp_path, seed=False, signed_in=signed_in)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MyAccessScreen)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, MyAccessScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Go to My access" in titles and "Go to Users" not in titles
        nav = str(app.screen.query_one("NavBar").render())
        assert "My access" in nav or "Mine" in nav
        assert "Users" not in nav
        # The footer hides what a non-admin cannot open (check_action False hides a binding).
        assert app.check_action("switch_mode", ("users",)) is False
        assert app.check_action("switch_mode", ("my_access",)) is True
        assert app.check_action("open_import", ()) is False
        shown = app.screen.query_one(KeyFooter).render().plain
        assert "Get credentials" in shown and "Import" not in shown
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, MyAccessScreen)  # no Import for a non-admin


async def test_the_admin_group_is_chosen_in_the_console(tmp_path):
    from textual.widgets import Static

    from tui.screens.groups import GroupsScreen

    app, directory = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, GroupsScreen)
        assert "no admin group" in str(app.screen.query_one("#list-title", Static).render())
        await pilot.press("A", "y")  # the first group: Admins
        await settle(pilot)
        assert directory.admins.admin_group().name == "Admins"
        assert "admin group: Admins" in str(app.screen.query_one("#list-title", Static).render())
        alice = directory.users.get_by_name("alice")
        assert directory.admins.is_admin(alice.id)
        # Deleting it says what it does to the administrators before it is done.
        await pilot.press("d")
        await settle(pilot)
        detail = str(app.screen.query_one(".dialog-detail", Static).render())
        assert "It is the admin group" in detail and "only root" in detail
        await pilot.press("y")
        await settle(pilot)
        assert directory.admins.admin_group() is None and not directory.admins.is_admin(alice.id)
        assert "no admin group" in str(app.screen.query_one("#list-title", Static).render())


def test_a_deleted_admin_group_is_not_inherited_by_the_next_group_made(directory, db_path):
    """The admin group is kept as a row id, and SQLite gives a new row the largest id + 1: deleting the admin
    group (the newest group) made the next group created the admin group, here a SCIM source's own group
    with its own user in it, an administrator with nobody's decision (red-team replay)."""
    from store.scim_resources import ScimGroups, ScimUsers

    directory.groups.create("Devs")
    admins = directory.groups.create("Admins")
    directory.admins.set_admin_group(admins.id)
    directory.groups.delete(admins.id, directory.groups.get(admins.id).version)
    assert directory.admins.admin_group() is None
    event = last_event(directory)
    assert event.action == "group.delete" and "only root administers" in event.details["admin_group"]

    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    mallory = ScimUsers(directory, "okta").create(
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory"}, b"{}", "test"
    )
    contractors = ScimGroups(directory, "okta").create(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Contractors",
            "members": [{"value": mallory["id"]}],
        },
        b"{}",
        "test",
    )
    made = directory.groups.get_by_name("Contractors")
    assert made.id == admins.id  # the id came back, as SQLite gives it
    assert contractors["displayName"] == "Contractors"
    assert directory.admins.admin_group() is None
    assert not directory.admins.is_admin(directory.users.get_by_name("mallory").id)


def test_a_choice_left_pointing_at_a_deleted_group_is_unset_on_upgrade(db_path):
    """A directory from before version 15 may hold an admin group choice whose group is gone: the upgrade
    unsets it, before any new group can take that id."""
    import sqlite3

    from store import schema
    from store.db import Database

    Database(db_path, migrate_to=schema.MIGRATIONS.index(schema.V15)).close()  # version 14
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO settings (key, value) VALUES ('admin_group', '7')")
    raw.commit()
    raw.close()
    with Directory.open(db_path, Actor("owner", "test")) as upgraded:
        assert upgraded.setting("admin_group") is None
        made = [upgraded.groups.create(f"g{n}") for n in range(8)]
        assert made[-1].id == 8 and upgraded.admins.admin_group() is None
