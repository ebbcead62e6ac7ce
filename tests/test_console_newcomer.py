"""The console as a newcomer meets it (issue 13): no traps, no stale numbers, every action findable.

Each test drives the console keystroke by keystroke through Pilot on a real directory file, and checks what
the person at the keyboard would see or end up with.
"""

from __future__ import annotations

from textual.widgets import Input, Static, TextArea

from tests.console_factory import filter_list, make_app, settle, type_text
from tui.screens.form import FormModal
from tui.screens.import_screen import ImportScreen
from tui.screens.permission_sets import PermissionSetEditorScreen, PermissionSetsScreen
from tui.screens.policy_editor import PolicyEditor, PolicyEditorScreen
from tui.screens.simulator import SimulatorScreen
from tui.widgets.key_footer import KeyFooter

WAIT = 0.4  # longer than the policy editor's quiet time before it validates


def field_values(screen) -> dict[str, str]:
    """Every text field of the screen and what it holds (what would be saved)."""
    values = {}
    for box in screen.query(Input):
        values[box.id or repr(box)] = box.value
    for area in screen.query(TextArea):
        values[area.id or area.parent.id or repr(area)] = area.text
    return values


def policy_status(editor: PolicyEditor) -> str:
    return str(editor.query_one(".policy-status", Static).render())


class TestNoExampleInSavedValues:
    """A field shows either a dimmed placeholder or a value the user will save, never an example as a
    value."""

    async def test_every_create_form_starts_empty(self, tmp_path):
        app, _ = make_app(tmp_path)
        # (keys to open it, the screen or form expected)
        opened = {
            "users": (["2", "n"], FormModal),
            "groups": (["3", "n"], FormModal),
            "accounts": (["4", "n"], FormModal),
            "permission sets": (["5", "n"], PermissionSetEditorScreen),
            "assignments": (["6", "n"], FormModal),
            "policies": (["7", "n"], PolicyEditorScreen),
            "import": (["1", "i"], ImportScreen),
            "simulator": (["9"], SimulatorScreen),
        }
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            for what, (keys, kind) in opened.items():
                for key in keys:
                    await pilot.press(key)
                    await settle(pilot)
                assert isinstance(app.screen, kind), what
                filled = {name: value for name, value in field_values(app.screen).items() if value}
                assert filled == {}, f"{what}: pre-filled {filled}"
                if not isinstance(app.screen, SimulatorScreen):
                    app.screen.dismiss(None) if isinstance(app.screen, FormModal) else app.pop_screen()
                    await settle(pilot)

    async def test_a_new_permission_set_saves_no_policy_it_was_not_given(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PermissionSetEditorScreen)
            inline = screen.query_one("#field-inlinePolicy", PolicyEditor)
            # the example is shown dimmed, with the key that inserts it, and the status says "empty"
            assert "f5 inserts an example" in str(inline.text_area.placeholder)
            assert policy_status(inline).startswith("empty: no inline policy")
            session = screen.query_one("#field-sessionDuration", Input)
            assert session.value == "" and "default PT1H" in str(session.placeholder)
            assert "Insert example" in [key.description for key in screen.query_one("KeyFooter").keys]
            await type_text(pilot, "Billing")
            await pilot.press("tab", "tab")  # description, then the session
            await type_text(pilot, "PT8H")
            assert session.value == "PT8H"  # typed into an empty field, not onto a hint
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetsScreen)
            created = directory.permission_sets.get_by_name("Billing")
            assert created.inline_policy is None and created.session_duration == 8 * 3600

            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "Default")
            await pilot.press("ctrl+s")  # the session left empty: the default, said by the placeholder
            await settle(pilot)
            assert directory.permission_sets.get_by_name("Default").session_duration == 3600

    async def test_the_example_is_inserted_by_key_and_cleared_by_key(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            inline = screen.query_one("#field-inlinePolicy", PolicyEditor)
            await type_text(pilot, "Reader")
            await pilot.press("f2")  # into the inline policy
            assert inline.text_area.has_focus
            footer = [key.description for key in screen.query_one("KeyFooter").keys]
            assert "Select all" in footer and "Clear" in footer
            await pilot.press("f5")
            await pilot.pause(WAIT)
            await settle(pilot)
            assert '"s3:Get*"' in inline.text and policy_status(inline) == "✓ valid policy"
            await pilot.press("f8")  # Clear: the example goes again
            await pilot.pause(WAIT)
            await settle(pilot)
            assert inline.text == "" and policy_status(inline).startswith("empty")
            await pilot.press("f5", "f7")  # select all, then typing replaces it
            await type_text(pilot, "x")
            assert inline.text == "x"

    async def test_a_new_library_policy_starts_empty(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PolicyEditorScreen)
            document = screen.query_one("#field-document", PolicyEditor)
            assert document.text == ""
            await type_text(pilot, "Mine")
            await pilot.press("ctrl+s")  # nothing written: refused, not saved with an example
            await settle(pilot)
            assert isinstance(app.screen, PolicyEditorScreen)
            assert "needs a policy document" in str(screen.query_one("#editor-error", Static).render())
            await pilot.press("f5", "ctrl+s")
            await pilot.pause(WAIT)
            await settle(pilot)
            assert '"s3:Get*"' in directory.policies.get_by_name("Mine").document

    async def test_the_simulator_resource_is_empty_and_means_any(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("9")
            await settle(pilot)
            screen = app.screen
            resource = screen.query_one("#field-resource", Input)
            assert resource.value == "" and "*" in str(resource.placeholder)
            await type_text(pilot, "alice")
            await pilot.press("tab")
            await type_text(pilot, "dev")
            await pilot.press("tab")
            await type_text(pilot, "s3:GetObject")
            await pilot.press("enter")
            await settle(pilot)
            assert "s3:GetObject on * for alice in dev" in str(
                screen.query_one("#sim-decision", Static).render()
            )


class TestEscLeavesTheField:
    """Text fields take printable keys; Esc gives the global keys back, a second Esc goes back."""

    async def test_esc_in_any_field_gives_the_section_keys_back(self, tmp_path):
        app, _ = make_app(tmp_path)
        # (keys from the dashboard to a screen whose focus is in a text field)
        screens = {
            "import": ["i"],
            "simulator": ["9"],
            "new permission set": ["5", "n"],
            "new policy": ["7", "n"],
            "users filter": ["2", "slash"],
        }
        async with app.run_test(size=(120, 40)) as pilot:
            for what, keys in screens.items():
                await pilot.press("1")
                await settle(pilot)
                for key in keys:
                    await pilot.press(key)
                    await settle(pilot)
                field = app.focused
                assert isinstance(field, (Input, TextArea)), what
                await pilot.press("x")  # a printable key is the field's
                assert "x" in (field.value if isinstance(field, Input) else field.text), what
                # The footer says how out (the filter's esc clears it too: its placeholder says so).
                leave = "Leave field" in [key.description for key in app.screen.query_one(KeyFooter).keys]
                assert leave is (what != "users filter"), what
                await pilot.press("escape")
                await settle(pilot)
                assert not isinstance(app.focused, (Input, TextArea)), f"{what}: esc kept {app.focused}"
                await pilot.press("3")  # a section key works again
                await settle(pilot)
                assert app.current_mode == "groups", what

    async def test_a_second_esc_goes_back(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("i")
            await settle(pilot)
            assert isinstance(app.screen, ImportScreen)
            await type_text(pilot, "2/")
            assert app.screen.query_one("#import-path", Input).value == "2/"
            await pilot.press("escape")
            assert isinstance(app.screen, ImportScreen)  # the first leaves the field
            assert app.focused is app.screen.query_one("#import-plan")
            await pilot.press("escape")  # the second leaves the screen
            await settle(pilot)
            assert not isinstance(app.screen, ImportScreen)

            await pilot.press("9")
            await settle(pilot)
            await type_text(pilot, "alice")
            await pilot.press("escape", "i")  # out of the User field: i opens the import
            await settle(pilot)
            assert isinstance(app.screen, ImportScreen)

    async def test_a_field_left_stays_left_after_a_screen_on_top(self, tmp_path):
        """Esc out of the editor's Name, i for the import, back: Textual gave the focus to Name again, and
        the 2 that followed was typed into the name instead of switching to Users."""
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5", "n")
            await settle(pilot)
            editor = app.screen
            assert isinstance(editor, PermissionSetEditorScreen)
            await type_text(pilot, "S3Reader")
            await pilot.press("escape", "i")
            await settle(pilot)
            assert isinstance(app.screen, ImportScreen)
            await pilot.press("escape", "escape")
            await settle(pilot)
            assert app.screen is editor and not isinstance(app.focused, (Input, TextArea)), app.focused
            await pilot.press("2")
            await settle(pilot)
            assert app.current_mode == "users"
            assert editor.query_one("#field-name", Input).value == "S3Reader"


class TestCodeField:
    """A password typed into the code field (one Tab too many after a failure) never shows in clear."""

    async def test_a_password_in_the_code_field_is_refused_or_masked_and_cleared(self, tmp_path):
        from tests.test_console_sign_in import gate_app
        from tests.test_identity_init import ROOT_PASSWORD
        from tui.screens.sign_in import SignInScreen

        app, directory, root = gate_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SignInScreen)
            code = screen.query_one("#sign-in-code", Input)
            await type_text(pilot, "root")
            await pilot.press("tab")
            await type_text(pilot, "not the password")
            await pilot.press("tab")
            await type_text(pilot, "123456")
            assert code.render_line(0).text.strip() == "123456"  # a 6-digit code shows as typed
            await pilot.press("enter")
            await settle(pilot)
            assert "Sign-in failed" in str(screen.query_one("#sign-in-message", Static).render())
            assert code.value == "" and screen.query_one("#sign-in-password", Input).has_focus
            # one Tab too many: the password goes into the code field
            await pilot.press("tab")
            await type_text(pilot, "Tr0ub4dor&3 horse!")
            assert code.has_focus
            shown = code.render_line(0).text
            assert "Tr0ub" not in shown and "horse" not in shown and "4dor" not in shown, shown
            assert "&" not in code.value and "!" not in code.value  # never a code's characters: refused
            await pilot.press("enter")  # the password is empty: back there, and the code field is emptied
            await settle(pilot)
            assert code.value == "" and screen.query_one("#sign-in-password", Input).has_focus
            await type_text(pilot, "wrong again")
            await pilot.press("tab")
            await type_text(pilot, "654321")
            await pilot.press("enter")
            await settle(pilot)
            assert code.value == ""  # cleared after a failure
            # a recovery code, typed as printed (or in capitals), still signs in
            await type_text(pilot, ROOT_PASSWORD)
            await pilot.press("tab")
            await type_text(pilot, root.created.recovery_codes[0].upper())
            assert root.created.recovery_codes[0][:5] not in code.render_line(0).text.lower()  # masked
            await pilot.press("enter")
            await settle(pilot)
            assert app.signed_in is None and "recovery code" in str(
                app.screen.query_one(".enrol-title").render()
            )
        root.directory.close()
        directory.close()


def card(screen, key: str) -> str:
    return str(screen.query_one(f"#count-{key}", Static).render())


class TestNoStaleNumbers:
    """A screen shown again reloads; counts come from the query at show time; own commits refresh."""

    async def test_groups_count_a_member_added_a_moment_ago(self, tmp_path):
        from tui.screens.groups import GroupMembersScreen, GroupsScreen
        from tui.screens.modals import ConfirmModal

        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await settle(pilot)
            await filter_list(pilot, "Auditors")
            groups = app.screen
            before = groups.table.current.member_count
            await pilot.press("enter")  # its members
            await settle(pilot)
            assert isinstance(app.screen, GroupMembersScreen)
            await pilot.press("n")
            await settle(pilot)
            await type_text(pilot, "alice")
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("escape")  # back to Groups
            await settle(pilot)
            assert app.screen is groups
            assert groups.table.current.member_count == before + 1
            await pilot.press("A")  # the question counts the members as they are now
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert f"Its {before + 1} member(s)" in str(app.screen.query_one(".dialog-detail").render())
            await pilot.press("n")
            assert isinstance(app.screen, GroupsScreen)

    async def test_dashboard_counts_follow_an_import_and_a_revoke(self, tmp_path):
        import shutil

        from tests.test_console_sessions import issue_some
        from tests.test_import_support import DATA

        app, directory = make_app(tmp_path)
        issue_some(directory)
        path = tmp_path / "users.csv"
        shutil.copy(DATA / "users.csv", path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            dashboard = app.screen
            assert card(dashboard, "users").startswith("26 Users")
            assert card(dashboard, "active_sessions").startswith("3 Active")
            await pilot.press("i")
            await settle(pilot)
            await type_text(pilot, str(path))
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("ctrl+s", "y")
            await settle(pilot)
            plan = "\n".join(strip.text for strip in app.screen.query_one("#import-plan").lines)
            assert "users: 4 created, 2 updated" in plan and "to create" not in plan  # what it did
            assert "+ created user 'ada.lovelace'" in plan
            await pilot.press("escape", "escape")  # out of the path field, back to the dashboard
            await settle(pilot)
            assert app.screen is dashboard and card(dashboard, "users").startswith("30 Users")
            await pilot.press("8")  # Sessions: revoke the newest
            await settle(pilot)
            await pilot.press("d", "y")
            await settle(pilot)
            await pilot.press("1")
            await settle(pilot)
            assert card(dashboard, "active_sessions").startswith("2 Active")

    async def test_own_commits_refresh_the_screen_as_others_do(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.table.total == 26
            # A commit through the console's own connection (as a worker of another screen makes): PRAGMA
            # data_version does not move for it, yet the screen must show it as it shows other consoles'.
            directory.users.create("newcomer")
            await pilot.pause(1.3)
            await settle(pilot)
            assert app.screen.table.total == 27

    async def test_the_footer_names_what_d_does_to_the_selected_user(self, tmp_path):
        from tui.screens.user_detail import UserDetailScreen

        app, directory = make_app(tmp_path)
        bob = directory.users.get_by_name("bob")
        directory.users.disable(bob.id, bob.version)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "bob")

            def footer() -> list[str]:
                return [key.description for key in app.screen.query_one("KeyFooter").keys]

            assert app.screen.table.current.user_name == "bob"
            assert "Enable" in footer() and "Disable" not in footer()
            await pilot.press("d", "y")  # d enables him
            await settle(pilot)
            assert directory.users.get_by_name("bob").active
            assert "Disable" in footer() and "Enable" not in footer()
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen)
            await pilot.press("d", "y")
            await settle(pilot)
            assert not directory.users.get_by_name("bob").active
            assert "Enable" in footer() and "Disable" not in footer()

    async def test_root_is_told_to_create_an_admin_user_only_while_there_is_none(self, tmp_path):
        from dataclasses import replace

        from tests.console_factory import TESTER

        as_root = replace(TESTER, user_name="root", is_root=True)
        for has_admins in (False, True):
            app, directory = make_app(tmp_path / str(has_admins), signed_in=as_root)
            if has_admins:
                directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(pilot)
                toasts = [n.message for n in app._notifications]
                banner = str(app.screen.query_one("#root-banner", Static).render())
                told = any("create an admin user" in message for message in toasts)
                assert told is not has_admins and ("create an admin user" in banner) is not has_admins
            directory.close()


async def palette(pilot, words: str) -> None:
    """ctrl+p, type ``words``, take the first hit (once the hits are there: the search runs as a task, and a
    loaded machine had not listed them half a second later)."""
    from textual.command import CommandList

    await pilot.press("ctrl+p")
    await pilot.pause()
    await type_text(pilot, words)
    hits = pilot.app.screen.query_one(CommandList)
    for _ in range(50):
        await pilot.pause(0.1)
        if hits.option_count and hits.highlighted is not None:
            break
    await pilot.pause(0.2)  # the search's last results
    await pilot.press("enter")
    await settle(pilot)


class TestEveryActionFindable:
    async def test_the_palette_offers_every_action_by_name_from_anywhere(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            offered = {command.title: command.help for command in app.get_system_commands(app.screen)}
            for name in (
                "Set password",
                "Enrol authenticator",
                "Reset MFA",
                "New access key",
                "Enable user",
                "Disable user",
                "New permission set",
                "Make admin group",
                "Go to Users",
                "Import",
                "Revoke session",
            ):
                assert name in offered, name
            # with its key and where it lives, and what it does
            assert offered["Set password"].startswith(
                "key p in a user's credentials · give the user a password"
            )
            assert "key d in Users" in offered["Enable user"]

    async def test_set_password_from_the_users_list_opens_it_for_the_selected_user(self, tmp_path):
        from tui.screens.credentials import CredentialsScreen, NewPasswordModal

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "carol")
            await palette(pilot, "password")
            assert isinstance(app.screen, NewPasswordModal)
            assert "carol" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, CredentialsScreen)

    async def test_a_new_permission_set_from_the_dashboard(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await palette(pilot, "new permission set")
            assert isinstance(app.screen, PermissionSetEditorScreen)

    async def test_help_says_what_each_key_does(self, tmp_path):
        from textual.widgets import DataTable

        from tui.screens.help import HelpScreen

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one("#help-keys", DataTable)
            rows = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
            assert "Disable: stop the selected one from being used" in " ".join(rows)
            assert any(row.startswith("Filter: show only the rows") for row in rows)


class TestClearWords:
    async def test_the_managed_policy_picker_reads_without_colour(self, tmp_path):
        from tui.screens.permission_sets import TickList

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await settle(pilot)
            await pilot.press("e")  # the first set: its managed policies
            await settle(pilot)
            await pilot.press("f3")
            await settle(pilot)
            picker = app.screen.query_one(TickList)
            lines = [picker.render_line(y).text for y in range(picker.option_count)]
            ticked = [line[:3] for line in lines]
            assert set(ticked) <= {"[x]", "[ ]"} and "▐" not in "".join(lines)
            before = ticked[0]
            await pilot.press("space")
            assert picker.render_line(0).text[:3] == ("[ ]" if before == "[x]" else "[x]")

    async def test_errors_name_their_field(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("enter")  # an empty New user
            await settle(pilot)
            form = app.screen
            assert isinstance(form, FormModal)
            assert str(form.query_one("#error-userName", Static).render()) == "user name: is required"
            await pilot.press("escape")
            await pilot.press("6")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("ctrl+s")  # an empty assignment: which field, not "no group named ''"
            await settle(pilot)
            error = str(app.screen.query_one("#error-principal", Static).render())
            assert error == "group or user name: is required", error
            await pilot.press("escape")
            await pilot.press("9")
            await settle(pilot)
            await pilot.press("tab", "tab")  # past User and Account, left empty, to Action
            await type_text(pilot, "s3:GetObject")
            await pilot.press("enter")
            await settle(pilot)
            decision = str(app.screen.query_one("#sim-decision", Static).render())
            assert decision == "user: is required", decision

    async def test_dialogs_break_lines_where_we_meant_them(self, tmp_path):
        from tests.test_console_sessions import issue_some
        from tui.screens.modals import ConfirmModal

        app, directory = make_app(tmp_path)
        issue_some(directory)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("8")
            await settle(pilot)
            await pilot.press("space", "space", "d")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            detail = str(app.screen.query_one(".dialog-detail", Static).render())
            assert "\\x0a" not in detail and len(detail.splitlines()) >= 3, detail
            assert detail.splitlines()[-1] == "They stop working at once."


class TestShortFilter:
    async def test_two_characters_find_a_name_that_holds_them_and_no_match_says_where(self, tmp_path):
        from tests.console_factory import table_lines

        app, directory = make_app(tmp_path)
        for number in range(150):  # more than a page of matches: the short filter is paged too
            directory.users.create(f"zz-{number:03d}")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "ar")
            await settle(pilot)
            shown = [line.split()[0] for line in table_lines(app.screen.table)[1:] if line.strip()]
            assert "carol" in shown  # "ar" is inside carol: a prefix search missed it
            await pilot.press("ctrl+u")
            await type_text(pilot, "zz")
            await settle(pilot)
            assert app.screen.table.total == 150
            await pilot.press("enter", "end")  # to the last row: its page is fetched
            await settle(pilot)
            assert app.screen.table.current.user_name == "zz-149"
            await pilot.press("escape", "slash")
            await type_text(pilot, "q!")
            await settle(pilot)
            assert table_lines(app.screen.table)[1].strip() == (
                "No match for 'q!' in the user name, display name or email."
            )


def inside(outer, inner) -> bool:
    """``inner`` (a screen region) lies wholly within ``outer``."""
    return outer.contains_region(inner)


class TestSmallTerminal:
    async def test_every_modal_keeps_its_key_line_and_scrolls_with_focus_at_80x24(self, tmp_path):
        from textual.containers import VerticalScroll
        from textual.geometry import Region

        from tui.screens.help import HelpScreen

        app, _ = make_app(tmp_path)
        screen_area = Region(0, 0, 80, 24)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, FormModal)
            dialog = form.query_one(".dialog")
            assert inside(dialog.region, form.query_one(".dialog-keys").region)
            assert inside(screen_area, dialog.region)
            fields = form.query_one(VerticalScroll)
            for _ in range(5):  # down to External id, the last
                await pilot.press("tab")
                await settle(pilot)
                assert inside(fields.region, app.focused.region), app.focused.id
            assert app.focused.id == "field-externalId"
            assert inside(dialog.region, form.query_one(".dialog-keys").region)
            await pilot.press("escape")
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            keys = app.screen.query_one(".dialog-keys")
            assert inside(app.screen.query_one(".dialog").region, keys.region) and "esc" in str(keys.render())

    async def test_the_duration_picker_is_disabled_without_a_role_not_a_fake_option(self, tmp_path):
        from dataclasses import replace

        from textual.widgets import Select

        from tests.console_factory import TESTER

        _, seeded = make_app(tmp_path)
        frank = seeded.users.create("newhire")  # nothing assigned yet
        seeded.close()
        app, directory = make_app(tmp_path, seed=False, signed_in=replace(TESTER, user_id=frank.id))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("0")
            await settle(pilot)
            picker = app.screen.query_one("#duration", Select)
            assert not app.screen.grants and picker.disabled
            assert "pick a role first" not in str(picker._options)  # no fake option standing for a hint

    async def test_setting_up_root_is_not_using_root_and_the_os_user_is_not_root(self, tmp_path):
        from store.credential_report import security_flags
        from tests.test_identity_init import ROOT_PASSWORD, make_root
        from tui.app import console_actor

        root = make_root(tmp_path / "directory.db")
        directory = root.directory
        directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())  # moments after it was created
        flag = {f.key: f for f in security_flags(directory)}["root_used"]
        assert flag.ok and flag.text == "Root used only to set up"
        # A newcomer's walk: root went on to work (a user, a group) in those first minutes; the flag stayed
        # green. Root's own changes are using root.
        from store.audit import Actor

        owner = directory.actor
        directory.act_as(directory.users.root().id, Actor("root", "console"), mfa=True, password=True)
        directory.users.create("day-to-day")
        directory.act_as(None, owner)
        flag = {f.key: f for f in security_flags(directory)}["root_used"]
        assert not flag.ok and flag.text.startswith("Root last used")
        root.clock.advance(seconds=3600)
        directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())  # an hour later: that is using root
        flag = {f.key: f for f in security_flags(directory)}["root_used"]
        assert not flag.ok and flag.text.startswith("Root last used")
        assert console_actor().name.startswith("os:")
        directory.close()


class TestReloadKeepsTheRow:
    async def test_getting_credentials_then_closing_keeps_the_role_chosen(self, tmp_path):
        from textual.widgets import DataTable

        from tui.screens.my_access import CredentialsModal, MyAccessScreen

        app, directory = make_app(tmp_path)
        dave = directory.users.get_by_name("dave")  # four roles
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(MyAccessScreen(dave.id))
            await settle(pilot)
            table = app.screen.query_one("#grants", DataTable)
            await pilot.press("down", "down")
            chosen = table.get_row_at(2)
            await pilot.press("g")
            await settle(pilot)
            assert isinstance(app.screen, CredentialsModal)
            await pilot.press("escape")  # back: the screen reloads (the session just issued) ...
            await settle(pilot)
            assert (
                table.cursor_row == 2 and table.get_row_at(table.cursor_row) == chosen
            )  # ... on the same row


class TestEnterWhileLoading:
    async def test_enter_typed_while_the_rows_reload_opens_the_row_once_it_is_there(self, tmp_path):
        from tui.screens.user_detail import UserDetailScreen

        app, directory = make_app(tmp_path, seed=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.table.total == 0
            ada = directory.users.create("ada")  # just saved (a form, an import) ...
            app.screen.table.reload()
            await pilot.press("enter")  # ... and Enter typed at once, before the new row has arrived
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen) and app.screen.user_id == ada.id
