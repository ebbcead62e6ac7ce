"""Traps a newcomer met walking the console at 80×24 in tmux: keys offered that do not apply (or that
ask to confirm, then fake or refuse), keys shown that do nothing, a field that swallowed the section keys,
toasts over the footer, lines cut off or wrapped where they must be copied whole.

Each test drives the real console keystroke by keystroke through Pilot on a real directory file.
"""

from __future__ import annotations

from tests.console_factory import filter_list, make_app, open_credentials, settle
from tests.test_console_newcomer import palette
from tui.screens.credentials import CredentialsScreen
from tui.screens.modals import ConfirmModal
from tui.screens.user_detail import UserDetailScreen
from tui.widgets.key_footer import KeyFooter

PASSWORD = "correct horse battery staple 9"


def footer(app) -> list[str]:
    """The descriptions of the keys the footer shows now."""
    return [key.description for key in app.screen.query_one(KeyFooter).keys]


def toasts(app) -> list[str]:
    return [notification.message for notification in app._notifications]


class TestCredentialsOfferWhatApplies:
    async def test_no_password_no_mfa_no_keys_offers_none_of_their_keys(self, tmp_path):
        app, directory = make_app(tmp_path)
        alice = directory.users.get_by_name("alice")
        before = directory.credentials.status(alice.id)
        assert not before.has_password and not before.mfa and not directory.access_keys.list(alice.id)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_credentials(pilot, "alice")
            shown = footer(app)
            for absent in ("Remove password", "Reset MFA", "New recovery codes", "Delete key"):
                assert absent not in shown, shown
            assert "Activate/deactivate key" not in shown
            for offered in ("Set password", "Enrol authenticator", "New access key"):
                assert offered in shown, shown
            for key in ("x", "T", "g", "s", "D"):
                await pilot.press(key)
                await settle(pilot)
                assert app.screen is screen, f"{key} opened {app.screen}"
            assert not any("removed" in message or "reset" in message for message in toasts(app))
        assert directory.credentials.status(alice.id) == before

    async def test_the_keys_appear_once_they_apply(self, tmp_path):
        app, directory = make_app(tmp_path)
        alice = directory.users.get_by_name("alice")
        directory.credentials.set_password(alice.id, PASSWORD)
        for _ in range(2):
            directory.access_keys.create(alice.id)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_credentials(pilot, "alice")
            shown = footer(app)
            assert "Remove password" in shown and "Activate/deactivate key" in shown
            # two keys, both active: no third, and neither can be deleted before it is deactivated
            assert "New access key" not in shown and "Delete key" not in shown
            await pilot.press("s", "y")  # deactivate the highlighted one: now it can go
            await settle(pilot)
            assert "Delete key" in footer(app)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)  # a password is there: removing it is asked

    async def test_from_the_palette_it_says_at_once_why_not(self, tmp_path):
        app, directory = make_app(tmp_path)
        alice = directory.users.get_by_name("alice")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "alice")
            await palette(pilot, "Remove password")
            assert isinstance(app.screen, CredentialsScreen)  # taken there, and told: no dialog
            assert any("alice has no password to remove" in message for message in toasts(app)), toasts(app)
            assert not any(message == "Password removed" for message in toasts(app))
        assert not directory.credentials.status(alice.id).has_password


class TestSignOutFromAForm:
    async def test_ctrl_o_in_a_form_asks_then_signs_out(self, tmp_path):
        from tui.screens.form import FormModal

        app, directory = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")  # the highlighted user, in a pop-up form
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            await pilot.press("end", "x")  # an unsaved change
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Sign out and discard your changes?" in app.screen.question
            await pilot.press("y")
            await settle(pilot)
            assert app.current_mode == "gate" and app.signed_in is None  # the gate (first run: no root)

    async def test_ctrl_o_in_an_untouched_form_signs_out_at_once(self, tmp_path):
        from tui.screens.form import FormModal

        app, directory = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3", "n")
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert app.current_mode == "gate" and app.signed_in is None  # the gate (first run: no root)


class TestEnterOnASession:
    async def test_enter_shows_the_session_and_u_its_users_page(self, tmp_path):
        from textual.widgets import Static

        from tests.test_console_sessions import issue_some
        from tui.screens.sessions import SessionsScreen

        app, directory = make_app(tmp_path)
        issued = issue_some(directory, names=("carol",))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("8")
            await settle(pilot)
            sessions = app.screen
            assert isinstance(sessions, SessionsScreen) and "Open" in footer(app)
            await pilot.press("enter")
            await settle(pilot)
            modal = app.screen
            assert modal is not sessions, "enter on a session did nothing"
            from tui.screens.sessions import SessionModal

            assert isinstance(modal, SessionModal), modal
            shown = str(modal.query_one(".dialog-detail", Static).render())
            assert issued[0].access_key_id in shown and "carol" in shown and "Issued (UTC)" in shown
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is sessions
            await pilot.press("enter", "u")
            await settle(pilot)
            assert isinstance(app.screen, UserDetailScreen)
            assert app.screen.user_id == directory.users.get_by_name("carol").id


class TestSimulatorFields:
    async def test_the_footer_says_how_out_of_the_fields_and_back_in(self, tmp_path):
        """The simulator opens in its User field (a question is typed at once) and its footer showed no way
        out: a newcomer's 8 went into the field. It says esc leaves the field (then number keys switch
        sections) and enter goes back in."""
        from textual.widgets import Input

        from tui.screens.simulator import SimulatorScreen

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("9")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SimulatorScreen)
            assert app.focused is screen.query_one("#field-user", Input)
            footer_text = app.screen.query_one(KeyFooter).render().plain
            assert "esc Leave field" in footer_text and "Fill in" not in footer_text, footer_text
            await pilot.press("escape")
            assert not isinstance(app.focused, Input) and "Fill in" in footer(app)
            await pilot.press("enter")  # back into the first field
            assert app.focused is screen.query_one("#field-user", Input)
            await pilot.press("escape", "8")
            await settle(pilot)
            assert app.current_mode == "sessions"
            await pilot.press("9")
            await settle(pilot)
            assert app.screen.query_one("#field-user", Input).value == ""  # 8 typed nothing


class TestToastsLeaveTheFooterInSight:
    @staticmethod
    def assert_above_the_footer(app, footer_widget) -> None:
        from textual.widgets._toast import Toast

        shown = list(app.screen.query(Toast))
        assert shown, "no toast shown"
        for toast in shown:
            assert toast.region.bottom <= footer_widget.region.y, (toast.region, footer_widget.region)

    async def test_a_toast_at_80_columns_sits_above_the_two_lines_of_keys(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("3")  # Groups: its keys take two lines at 80 columns
            await settle(pilot)
            keys = app.screen.query_one(KeyFooter)
            assert keys.region.height == 2
            await pilot.press("r")  # "Refreshed"
            await settle(pilot)
            self.assert_above_the_footer(app, keys)

    async def test_a_toast_over_a_dialog_leaves_the_footer_below_in_sight(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("3")
            await settle(pilot)
            keys = app.screen.query_one(KeyFooter)
            await pilot.press("n")  # a form: a dialog over the list and its footer
            await settle(pilot)
            app.notify("a message while the dialog is open")
            await settle(pilot)
            self.assert_above_the_footer(app, keys)


def shown_lines(widget) -> list[str]:
    """What the widget draws, line by line, as plain text."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


class TestAttachedPoliciesInSight:
    async def test_the_attached_list_reads_whole_at_80_columns(self, tmp_path):
        from textual.widgets import SelectionList, Static

        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("5")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("f3")
            await settle(pilot)
            await pilot.press("space", "down", "space")  # attach the first two policies
            await settle(pilot)
            chosen = list(app.screen.query_one("#field-managedPolicies", SelectionList).selected)
            assert len(chosen) == 2
            drawn = " ".join(shown_lines(app.screen.query_one("#managed-help", Static)))
            for name in chosen:
                assert name in drawn, drawn


class TestCredentialsCopyWhole:
    async def test_each_export_line_is_one_row_in_sight_and_c_copies_them_whole(self, tmp_path):
        from textual.widgets import TextArea

        from tui.screens.my_access import CredentialsModal, MyAccessScreen

        app, directory = make_app(tmp_path)
        dave = directory.users.get_by_name("dave")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(MyAccessScreen(dave.id))
            await settle(pilot)
            await pilot.press("g")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, CredentialsModal)
            area = modal.query_one("#export-lines", TextArea)
            lines = area.text.splitlines()
            assert [line.split("=")[0] for line in lines] == [
                "export AWS_ACCESS_KEY_ID",
                "export AWS_SECRET_ACCESS_KEY",
                "export AWS_SESSION_TOKEN",
                "export AWS_CREDENTIAL_EXPIRATION",
            ]
            # one row per line, none continued on the next (a wrapped line copied from the terminal was a
            # broken command), and all four rows inside the dialog, inside the screen
            rows = [row.strip() for row in shown_lines(area)]
            assert [row.split("=")[0] for row in rows if row] == [line.split("=")[0] for line in lines], rows
            screen_box = app.screen.region
            assert area.region.bottom <= modal.query_one(".credentials").region.bottom <= screen_box.bottom
            secret = lines[1].split("=", 1)[1]
            assert any(secret in row for row in rows)  # the secret's line whole at 80 columns
            await pilot.press("c")
            await settle(pilot)
            assert app.clipboard.splitlines() == lines  # every line whole, the token's too


class TestKeysThatDoNotApplyAreNotShown:
    async def test_a_built_in_policy_offers_no_editing_keys(self, tmp_path):
        from tui.screens.policy_editor import PolicyEditorScreen

        app, directory = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("e")  # the first row: a built-in policy
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PolicyEditorScreen) and screen.read_only
            shown = footer(app)
            for absent in ("Clear", "Save", "Insert example", "Go to error"):
                assert absent not in shown, shown
            assert "Back" in shown and "Select all" in shown  # reading and copying it stay
            await pilot.press("ctrl+s", "f8", "f5")
            await settle(pilot)
            assert app.screen is screen and not toasts(app)  # nothing asked, nothing refused

    async def test_an_editable_policy_keeps_them(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("tab", "tab")  # into the policy text
            shown = footer(app)
            for offered in ("Clear", "Save", "Insert example"):
                assert offered in shown, shown

    async def test_my_access_offers_g_only_with_a_role_to_assume(self, tmp_path):
        from tui.screens.my_access import MyAccessScreen

        app, directory = make_app(tmp_path)
        nobody = directory.users.create("newcomer")  # no assignment
        dave = directory.users.get_by_name("dave")  # four roles
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(MyAccessScreen(nobody.id))
            await settle(pilot)
            assert "Get credentials" not in footer(app), footer(app)
            await pilot.press("g")
            await settle(pilot)
            assert app.screen.__class__ is MyAccessScreen and not toasts(app)
            app.pop_screen()
            await app.push_screen(MyAccessScreen(dave.id))
            await settle(pilot)
            assert "Get credentials" in footer(app)
