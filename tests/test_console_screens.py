"""The console driven by keyboard through Textual's Pilot, on a real directory file."""

from __future__ import annotations

import sqlite3

import pytest
from textual import events
from textual.widgets import DataTable, Input, Static

from store.errors import Conflict, ValidationError
from tests.console_factory import burst, filter_list, make_app, other_admin, settle, table_lines, type_text
from tui.screens.accounts import AccountsScreen
from tui.screens.assignments import AssignmentsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.form import FormModal
from tui.screens.groups import GroupMembersScreen, GroupsScreen
from tui.screens.help import HelpScreen
from tui.screens.modals import ConfirmModal
from tui.screens.permission_sets import PermissionSetsScreen
from tui.screens.user_detail import UserDetailScreen
from tui.screens.users import UsersScreen
from tui.widgets.effective_access import EffectiveAccess
from tui.widgets.key_footer import KeyFooter


class TestNavigation:
    async def test_number_keys_switch_between_every_screen(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            users_card = app.screen.query_one("#count-users", Static)
            assert "26" in str(users_card.render())
            expected = {
                "2": (UsersScreen, 26),
                "3": (GroupsScreen, 5),
                "4": (AccountsScreen, 5),
                "5": (PermissionSetsScreen, 3),
                "6": (AssignmentsScreen, 9),
            }
            for key, (screen_type, total) in expected.items():
                await pilot.press(key)
                await settle(pilot)
                assert isinstance(app.screen, screen_type)
                assert app.screen.table.total == total
                assert f"{total}" in str(app.screen.query_one("#list-title", Static).render())
            await pilot.press("1")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)

    async def test_every_screen_draws_at_80_by_24(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            for key in "123456":
                await pilot.press(key)
                await settle(pilot)
                svg = app.export_screenshot()
                assert "tui" in svg
            await pilot.press("2")
            await settle(pilot)
            lines = table_lines(app.screen.table)
            assert lines[0].startswith("User name")
            # 80 minus the body's padding, and the scroll bar's two when there is one: nothing drawn under it.
            beside_the_bar = app.screen.table.scrollable_content_region.width
            assert beside_the_bar in (76, 78) and all(len(line) == beside_the_bar for line in lines)

    async def test_help_lists_the_keys_of_the_screen_underneath(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one("#help-keys", DataTable)
            actions = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
            for action in ("Filter", "New", "Edit", "Disable", "Delete", "Refresh", "Quit"):
                assert any(a.startswith(action) for a in actions), action
            # Each key once: the sections and quit are said by the conventions, not again as the screen's
            # ("1 Dash" … beside "1 … 9, 0", "^q" beside "ctrl+q"), and no mouse-copy key leads the list.
            keys = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert not {"1", "2", "0", "^q", "^c"} & set(keys), keys
            assert not any(a.startswith("Copy selected text") for a in actions)
            await pilot.press("escape")
            assert isinstance(app.screen, UsersScreen)

    async def test_command_palette_offers_screens_and_actions(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            titles = [command.title for command in app.get_system_commands(app.screen)]
            for title in (
                "Go to Groups",
                "Filter users",
                "New user",
                "Edit user",
                "Disable user",
                "Delete user",
                "Help",
            ):
                assert title in titles
            await pilot.press("ctrl+p")
            await pilot.pause()
            await type_text(pilot, "Go to Groups")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, GroupsScreen)


class TestUsers:
    async def test_a_form_typed_in_one_burst_saves_what_was_typed(self, tmp_path):
        """tmux's send-keys delivers "n", the fields and the Enter at once: each field reads its keys at its
        own pace, and the save waits until all of them have theirs. (Under Pilot the fields keep up; the race
        showed in a real terminal, as the sign-in's did. This keeps each key in its field and the save.)"""
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            burst(app, ["n", *"burst.user", "tab", *"Burst User", "tab", *"Burst", "tab", *"User", "enter"])
            await settle(pilot)
            user = directory.users.get_by_name("burst.user")
            assert (user.display_name, user.given_name, user.family_name) == ("Burst User", "Burst", "User")

    async def test_create_user_by_keyboard_with_inline_validation(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            await type_text(pilot, "zoe smith")
            await pilot.press("enter")
            await settle(pilot)
            # The store refused it: the form stays, the message sits under the user name, nothing was written.
            assert isinstance(app.screen, FormModal)
            assert "must not contain spaces" in str(app.screen.query_one("#error-userName", Static).render())
            assert directory.users.count() == 26
            name = app.screen.query_one("#field-userName", Input)
            name.value = ""
            await type_text(pilot, "ALICE")
            await pilot.press("enter")
            await settle(pilot)
            assert "already exists" in str(app.screen.query_one("#error-userName", Static).render())
            name.value = ""
            await type_text(pilot, "zoe")
            await pilot.press("tab")
            await type_text(pilot, "Zoe Smith")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
            assert app.screen.table.total == 27
            assert directory.users.get_by_name("zoe").display_name == "Zoe Smith"

    async def test_edit_disable_enable_and_delete_with_confirmation(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.table.current.user_name == "alice"
            await pilot.press("e")
            await settle(pilot)
            display = app.screen.query_one("#field-displayName", Input)
            display.value = "Alice in Wonderland"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert directory.users.get_by_name("alice").display_name == "Alice in Wonderland"
            assert "Alice in Wonderland" in table_lines(app.screen.table)[1]

            await pilot.press("d")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")  # cancel changes nothing
            await settle(pilot)
            assert directory.users.get_by_name("alice").status == "active"
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.users.get_by_name("alice").status == "disabled"
            assert "disabled" in table_lines(app.screen.table)[1]
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.users.get_by_name("alice").status == "active"

            await pilot.press("D")
            await settle(pilot)
            assert "Delete user alice?" in str(app.screen.query_one(".dialog-title", Static).render())
            await pilot.press("y")
            await settle(pilot)
            assert directory.users.count() == 25
            assert app.screen.table.current.user_name == "backup-svc"

    async def test_filter_narrows_the_table_and_escape_clears_it(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "hopper")
            await settle(pilot)
            assert app.screen.table.total == 1
            assert table_lines(app.screen.table)[1].startswith("grace")
            await pilot.press("enter")  # keep the filter, back to the table
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.table.total == 26
            await pilot.press("slash")
            await type_text(pilot, "nobody-like-this")
            await settle(pilot)
            assert app.screen.table.total == 0
            assert "No match for 'nobody-like-this'" in table_lines(app.screen.table)[1]

    async def test_keys_typed_in_one_burst_after_slash_land_in_the_filter(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            for key, character in (
                ("slash", "/"),
                ("g", "g"),
                ("r", "r"),
                ("a", "a"),
                ("c", "c"),
                ("e", "e"),
            ):
                app.post_message(events.Key(key, character))  # as a terminal delivers a quick "/grace"
            await settle(pilot)
            assert app.screen.query_one("#filter", Input).value == "grace"
            assert app.screen.table.total == 1

    async def test_a_name_typed_in_one_burst_after_n_lands_in_the_new_form(self, tmp_path):
        """Over SSH "n" and the name typed after it arrive in one read: the letters reached the list (the form
        opened a moment later, empty). "n" in the filter box is still a letter."""
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            for key, character in (("slash", "/"), ("a", "a"), ("n", "n"), ("n", "n")):
                app.post_message(events.Key(key, character))
            await settle(pilot)
            assert app.screen.query_one("#filter", Input).value == "ann"
            await pilot.press("escape", "escape")
            await settle(pilot)
            for character in "nquickuser":
                app.post_message(events.Key(character, character))
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert app.screen.query_one("#field-userName", Input).value == "quickuser"

    async def test_a_row_action_typed_in_one_burst_with_the_section_key_acts_on_the_first_row(self, tmp_path):
        """`4 e` (or `6 d`) in one read: the action reached the list before its first page, and the console
        said "No account selected" over a list of five. It waits for the row instead."""
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            # While this thread holds a read of the directory, the list's page (read in a worker thread)
            # waits: the keys are handled before the rows arrive, as over a slow link.
            with directory.db.read():
                for key in ("4", "e"):
                    app.post_message(events.Key(key, key))
                await pilot.pause(0.3)
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert app.screen.query_one("#field-name", Input).value == "123456789012"
            await pilot.press("escape")
            await settle(pilot)
            with directory.db.read():
                for key in ("6", "d"):
                    app.post_message(events.Key(key, key))
                await pilot.pause(0.3)
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert not any("selected" in n.message for n in app._notifications)

    async def test_a_user_deleted_from_their_page_or_elsewhere_closes_that_page_once(self, tmp_path):
        """D on a user's page: the reloads after it each found the user gone and each closed a screen (the
        list under the page, then Textual's ScreenStackError, "Internal error"), saying it was deleted each
        time. Now the page closes once, back to the list, saying so once."""
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "hopper")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen)
            await pilot.press("D", "y")
            await settle(pilot)
            await pilot.pause(1.2)  # the console's poll notices the change too
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen) and len(app.screen_stack) == 1
            said = [str(n.message) for n in app._notifications]
            assert "Deleted grace" in said and said.count("This user was deleted") <= 1, said
            assert not any("Internal error" in message for message in said)
            await pilot.press("escape")  # the filter
            await settle(pilot)
            await pilot.press("enter")  # alice's page
            await settle(pilot)
            page = app.screen
            assert isinstance(page, UserDetailScreen)
            before = len(app._notifications)
            other = other_admin(tmp_path)
            alice = other.users.get(page.user_id)
            other.users.delete(alice.id, alice.version)
            other.close()
            await pilot.pause(1.2)
            await settle(pilot)
            page.close_gone("This user was deleted")  # as a later reload that finds her gone: nothing more
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen) and len(app.screen_stack) == 1
            said = [str(n.message) for n in app._notifications][before:]
            assert said == ["This user was deleted"], said

    async def test_a_user_just_made_gets_the_cursor_or_is_said_to_be_filtered_out(self, tmp_path):
        """After n and a name, the cursor stayed on the first row (enter opened alice, not the user just
        made), and a filter could hide the new user with nothing said (newcomer walk)."""
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "hopper")
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "newbie")
            await pilot.press("enter")
            await settle(pilot)
            said = [str(n.message) for n in app._notifications]
            assert "The filter 'hopper' hides it: esc clears the filter" in said, said
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "kim")
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.table.current.user_name == "kim"
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen) and app.screen.user.user_name == "kim"

    async def test_adding_someone_to_the_admin_group_by_hand_says_so_first(self, tmp_path):
        """`a Admins ⏎` on a user's page made an administrator with "Added to group" alone, where an import
        asks by name (newcomer walk): the form says so under the field, and saving again confirms."""
        app, directory = make_app(tmp_path)
        admins = directory.groups.get_by_name("Admins")
        directory.admins.set_admin_group(admins.id)
        bob = directory.users.get_by_name("bob")
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(UserDetailScreen(bob.id))
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            await type_text(pilot, "Admins")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert "is the admin group: bob will administer" in str(
                app.screen.query_one("#error-group", Static).render()
            )
            assert not directory.admins.is_admin(bob.id)
            await pilot.press("enter")  # saved again: confirmed
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen) and directory.admins.is_admin(bob.id)

    async def test_editing_keys_in_one_burst_apply_in_the_order_typed(self, tmp_path):
        """Over SSH a quick "tab, ctrl+a, ctrl+k, New name" arrives in one read: the field must end up holding
        the new name, not an empty box (the editing keys used to run after the letters)."""
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")  # alice: display name "Alice Liddell"
            await settle(pilot)
            burst = [
                ("tab", "\t"),
                ("ctrl+a", None),
                ("ctrl+k", None),
                *((c, c) for c in "Ann"),
                ("home", None),
                ("X", "X"),
                ("end", None),
                ("space", " "),
                ("Y", "Y"),
                ("ctrl+w", None),
                ("Z", "Z"),
            ]
            for key, character in burst:
                app.post_message(events.Key(key, character))
            await settle(pilot)
            field = app.screen.query_one("#field-displayName", Input)
            assert field.value == "XAnn Z"
            assert app.screen.query_one("#field-userName", Input).value == "alice"

    async def test_user_detail_shows_groups_and_access_and_manages_membership(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("enter")  # alice
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen)
            groups = app.screen.query_one("#user-groups", DataTable)
            assert [str(groups.get_row_at(i)[0]) for i in range(groups.row_count)] == ["Admins"]
            access = app.screen.query_one(EffectiveAccess)
            assert ("prod", "AdministratorAccess", "group Admins", "never") in set(access.rows())
            await pilot.press("a")
            await settle(pilot)
            await type_text(pilot, "Auditors")
            await pilot.press("tab")
            await type_text(pilot, "2031-05-01")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen)
            assert groups.row_count == 2
            alice = directory.users.get_by_name("alice")
            assert {(m.group_name, m.expires_at) for m in directory.groups.groups_of(alice.id)} == {
                ("Admins", None),
                ("Auditors", "2031-05-01T00:00:00Z"),
            }
            access_rows = {row[:3] for row in access.rows()}
            assert ("log-archive", "ReadOnly", "group Auditors") in access_rows
            assert any(
                row[:3] == ("log-archive", "ReadOnly", "group Auditors") and row[3].startswith("2031-05-01")
                for row in access.rows()
            )
            await pilot.press("x", "y")  # cursor on the first group: Admins
            await settle(pilot)
            assert [m.group_name for m in directory.groups.groups_of(alice.id)] == ["Auditors"]
            await pilot.press("escape")
            assert isinstance(app.screen, UsersScreen)


class TestHostileText:
    async def test_markup_and_escape_sequences_render_as_literal_characters(self, tmp_path):
        app, directory = make_app(tmp_path, seed=False)
        directory.users.create("[red]eve", display_name="[bold]x[/] [link=http://evil]y[/link]")
        # An escape sequence can only arrive by writing the file directly: it must still draw harmlessly.
        conn = sqlite3.connect(tmp_path / "directory.db")
        conn.execute(
            "UPDATE users SET email = ? WHERE user_name = '[red]eve'", ("\x1b[2J\x1b]0;pwned\x07@x",)
        )
        conn.commit()
        conn.close()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            line = table_lines(app.screen.table)[1]
            assert line.startswith("[red]eve")
            assert "[bold]x[/] [link=http://evil]y[/link]" in line
            assert "\\x1b[2J\\x1b]0;pwned\\x07@x" in line
            assert "\x1b" not in app.export_screenshot()
            await pilot.press("enter")
            await settle(pilot)
            fields = str(app.screen.query_one("#user-fields", Static).render())
            assert "[red]eve" in fields and "[bold]x[/]" in fields and "\\x1b[2J" in fields


class TestFooter:
    async def test_every_key_of_a_list_screen_is_shown_at_80_columns_and_a_click_runs_it(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            footer = app.screen.query_one(KeyFooter)
            lines = footer.render().plain.split("\n")
            assert footer.size.height == len(lines) == 2  # wrapped, nothing scrolled out of sight
            assert all(len(line) <= 80 for line in lines)
            shown = " ".join(lines)
            for key in (
                "⏎ Open",
                "/ Filter",
                "n New",
                "e Edit",
                "d Disable",
                "r Refresh",
                "D Delete",
                "? Help",
                "i Import",
                "^o Sign out",
            ):
                assert key in shown
            assert lines[-1].endswith("^p palette")

            await pilot.click(KeyFooter, offset=(lines[0].index("n New") + 2, 0))
            await settle(pilot)
            assert isinstance(app.screen, FormModal)

    async def test_one_line_when_the_keys_fit(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            footer = app.screen.query_one(KeyFooter)
            assert footer.size.height == 1
            line = footer.render().plain
            assert (
                line.startswith("⏎ Open / Filter n New") and line.endswith("^p palette") and len(line) == 160
            )


class TestConflicts:
    async def test_a_lost_race_opens_the_conflict_modal_and_reload_shows_theirs(self, tmp_path):
        app, directory = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")  # edit alice, as read now
            await settle(pilot)
            alice = other.users.get_by_name("alice")
            other.users.update(alice.id, alice.version, display_name="Changed by other")
            app.screen.query_one("#field-displayName", Input).value = "Mine"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen.__class__.__name__ == "ConflictModal"
            assert "Changed by other" in str(app.screen.query_one(".dialog-current", Static).render())
            assert (
                directory.users.get_by_name("alice").display_name == "Changed by other"
            )  # nothing overwritten
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert app.screen.query_one("#field-displayName", Input).value == "Changed by other"
            await pilot.press("escape")  # the form holds the saved values: nothing to ask about
            await settle(pilot)
            assert not isinstance(app.screen, FormModal | ConfirmModal), app.screen
            assert directory.users.get_by_name("alice").display_name == "Changed by other"
        other.close()

    async def test_reapply_saves_my_edit_over_the_new_version(self, tmp_path):
        app, directory = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            alice = other.users.get_by_name("alice")
            other.users.update(alice.id, alice.version, email="other@example.com")
            app.screen.query_one("#field-displayName", Input).value = "Mine"
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
            saved = directory.users.get_by_name("alice")
            assert saved.display_name == "Mine"
        other.close()

    async def test_changes_by_another_process_appear_without_a_keypress(self, tmp_path):
        app, _ = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.table.total == 26
            other.users.create("newcomer", display_name="Arrived elsewhere")
            await pilot.pause(2.0)
            await settle(pilot)
            assert app.screen.table.total == 27
            assert any(line.startswith("newcomer") for line in table_lines(app.screen.table))
        other.close()

    async def test_deleting_a_row_someone_else_changed_reports_the_conflict(self, tmp_path):
        app, directory = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            await settle(pilot)
            account = other.accounts.get_by_name("123456789012")
            other.accounts.update(account.id, account.version, description="renamed meanwhile")
            await pilot.press("D", "y")
            await settle(pilot)
            assert app.screen.__class__.__name__ == "ConflictModal"
            await pilot.press("r")
            await settle(pilot)
            assert directory.accounts.get_by_name("123456789012").description == "renamed meanwhile"
        other.close()


class TestOtherConcepts:
    async def test_groups_create_and_manage_members(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3", "n")
            await settle(pilot)
            await type_text(pilot, "SRE")
            await pilot.press("tab")
            await type_text(pilot, "Site reliability")
            await pilot.press("enter")
            await settle(pilot)
            group = directory.groups.get_by_name("sre")
            assert group.description == "Site reliability"
            await filter_list(pilot, "sre")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, GroupMembersScreen)
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "dave")
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.table.total == 1
            # When a membership ends is changed in place (a newcomer found no way but remove and add again).
            dave = directory.users.get_by_name("dave")
            await pilot.press("e")
            await settle(pilot)
            await type_text(pilot, "2030-01-31")
            await pilot.press("enter")
            await settle(pilot)
            assert directory.groups.membership(group.id, dave.id).expires_at == "2030-01-31T00:00:00Z"
            assert "2030-01-31T00:00:00Z" in " ".join(table_lines(app.screen.table))
            # Adding a member again says where that is.
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "dave")
            await pilot.press("enter")
            await settle(pilot)
            error = str(app.screen.query_one("#error-userName", Static).render())
            assert "already a member" in error and "press e" in error, error
            app.screen.dismiss(None)
            await settle(pilot)
            # Someone else changed it meanwhile: the edit is refused, named, and nothing is written.
            stale = directory.groups.membership(group.id, dave.id)
            directory.groups.set_expiry(group.id, dave.id, "2031-01-01")
            with pytest.raises(Conflict):
                directory.groups.set_expiry(group.id, dave.id, None, stale.version)
            with pytest.raises(ValidationError, match="must be in the future"):
                directory.groups.set_expiry(group.id, dave.id, "2001-01-01")
            assert directory.groups.membership(group.id, dave.id).expires_at == "2031-01-01T00:00:00Z"
            # A at the group's own members makes this group the admin group (asked first).
            await pilot.press("A")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert directory.admins.admin_group_id() == group.id
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.groups.members(group.id).total == 0
            await pilot.press("escape")
            assert isinstance(app.screen, GroupsScreen)

    async def test_accounts_create_and_disable(self, tmp_path):
        app, directory = make_app(tmp_path, seed=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4", "n")
            await settle(pilot)
            await type_text(pilot, "not an account!")
            await pilot.press("enter")
            await settle(pilot)
            assert "12-digit" in str(app.screen.query_one("#error-name", Static).render())
            app.screen.query_one("#field-name", Input).value = "210987654321"
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.table.total == 1
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.accounts.get_by_name("210987654321").status == "disabled"

    async def test_permission_set_duration_is_validated_in_the_form(self, tmp_path):
        app, directory = make_app(tmp_path, seed=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5", "n")
            await settle(pilot)
            await type_text(pilot, "Billing")
            form = app.screen
            form.query_one("#field-sessionDuration", Input).value = "899"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "outside the allowed 15 minutes to 36 hours" in str(
                form.query_one("#error-sessionDuration", Static).render()
            )
            form.query_one("#field-sessionDuration", Input).value = "PT12H"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert directory.permission_sets.get_by_name("Billing").session_duration == 12 * 3600
            assert "PT12H" in table_lines(app.screen.table)[1]

    async def test_assignments_create_and_remove(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("6", "n")
            await settle(pilot)
            await pilot.press("tab")  # past the group/user choice, keep "group"
            await type_text(pilot, "Robots")
            await pilot.press("tab")
            await type_text(pilot, "nowhere")
            await pilot.press("tab")
            await type_text(pilot, "ReadOnly")
            await pilot.press("enter")
            await settle(pilot)
            assert "no account named 'nowhere'" in str(
                app.screen.query_one("#error-account", Static).render()
            )
            app.screen.query_one("#field-account", Input).value = "log-archive"
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.table.total == 10
            robots = directory.groups.get_by_name("Robots")
            assert [a.account_name for a in directory.assignments.list(group_id=robots.id).items] == [
                "log-archive"
            ]
            await pilot.press("G", "d", "y")  # the newest row is last
            await settle(pilot)
            assert directory.assignments.list(group_id=robots.id).total == 0


class TestPresence:
    async def test_each_console_shows_who_else_is_signed_in_and_where(self, tmp_path):
        from store.portal import SignedIn

        first, directory = make_app(tmp_path)
        directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
        grace = directory.users.get_by_name("grace")  # in Admins
        other = SignedIn(grace.id, "grace", False, True, "password+totp", "ssh", directory.now_text(), None)
        second, _ = make_app(tmp_path, seed=False, signed_in=other)
        async with first.run_test(size=(120, 40)) as pilot_one, second.run_test(size=(120, 40)) as pilot_two:
            await pilot_two.press("3")
            await pilot_one.press("2")

            def navs() -> tuple[str, str]:
                return (
                    str(first.screen.query_one("NavBar").render()),
                    str(second.screen.query_one("NavBar").render()),
                )

            for _ in range(30):  # heartbeats every 3 s: within two of them each sees the other
                if "grace (groups)" in navs()[0] and "console:tester (users)" in navs()[1]:
                    break
                await pilot_one.pause(0.25)
            assert "also here: grace (groups)" in navs()[0]
            assert "also here: console:tester (users)" in navs()[1]

    async def test_a_console_in_a_form_is_shown_on_the_section_under_it(self, tmp_path):
        from store.presence import Presence

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")  # the edit form over the Users screen
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            app._announce_presence()
            await settle(pilot)
            watcher = Presence(tmp_path / "directory.db")
            try:
                seen = [(p.user_name, p.screen) for p in watcher.others("someone else")]
                assert seen == [("console:tester", "users")]
            finally:
                watcher.close()
