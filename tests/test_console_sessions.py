"""The Sessions and My access screens, by keyboard, on a real directory."""

from __future__ import annotations

from textual.widgets import DataTable, Select, Static, TextArea
from textual.widgets._select import SelectOverlay

from tests.console_factory import make_app, other_admin, settle, table_lines
from tui.screens.modals import ConfirmModal
from tui.screens.my_access import CredentialsModal, MyAccessScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.key_footer import KeyFooter


def issue_some(directory, names=("bob", "carol", "dave")):
    """Developers hold Developer (PT4H) in dev: one session each."""
    dev = directory.accounts.get_by_name("dev")
    developer = directory.permission_sets.get_by_name("Developer")
    return [directory.sessions.issue(directory.users.get_by_name(n).id, dev.id, developer.id) for n in names]


class TestSessionsScreen:
    async def test_live_table_counts_down_and_revokes_marked_rows(self, tmp_path):
        app, directory = make_app(tmp_path)
        issued = issue_some(directory)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(SessionsScreen())
            await settle(pilot)
            screen = app.screen
            assert screen.table.total == 3
            first = table_lines(screen.table)[1]
            assert issued[-1].access_key_id in first and "dave" in first  # newest first
            assert "3h 59m" in first or "4h 00m" in first
            await pilot.press("space", "space")  # mark dave's and carol's
            await settle(pilot)
            assert "2 marked" in str(screen.query_one("#list-title", Static).render())
            await pilot.press("d")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Revoke 2 sessions?" in str(app.screen.query_one(".dialog-title", Static).render())
            await pilot.press("y")
            await settle(pilot)
            creds = [(c.access_key_id, c.secret_access_key, c.session_token) for c in issued]
            assert [directory.sessions.verify(*c).reason for c in creds] == ["valid", "revoked", "revoked"]
            assert screen.table.total == 1
            await pilot.press("a")  # all sessions, not only the active ones
            await settle(pilot)
            assert screen.table.total == 3
            assert sum("revoked" in line for line in table_lines(screen.table)) == 2

    async def test_at_80_columns_each_session_shows_whose_it_is(self, tmp_path):
        """The user column shared what the fixed columns left, which at 80 columns was nothing ("…")."""
        app, directory = make_app(tmp_path)
        issued = issue_some(directory)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("8")
            await settle(pilot)
            lines = table_lines(app.screen.table)
            assert "User" in lines[0] and "Left" in lines[0]
            for session, name in zip(reversed(issued), ("dave", "carol", "bob"), strict=True):
                line = next(line for line in lines if session.access_key_id[:12] in line)
                assert f" {name} " in line and "Developer" in line, lines

    async def test_revoking_the_current_row_and_cancelling(self, tmp_path):
        app, directory = make_app(tmp_path)
        issued = issue_some(directory, ("bob",))
        creds = (issued[0].access_key_id, issued[0].secret_access_key, issued[0].session_token)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(SessionsScreen())
            await settle(pilot)
            await pilot.press("d", "n")
            await settle(pilot)
            assert directory.sessions.verify(*creds).valid
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.sessions.verify(*creds).reason == "revoked"
            assert "No active sessions: users get theirs from My access" in table_lines(app.screen.table)[1]
            await pilot.press("a")  # all sessions, the revoked one among them
            await settle(pilot)
            assert any(" revoked" in line or "bob" in line for line in table_lines(app.screen.table)[1:])

    async def test_keys_that_do_nothing_here_are_not_offered_and_n_says_where_sessions_come_from(
        self, tmp_path
    ):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("8")
            await settle(pilot)
            assert isinstance(app.screen, SessionsScreen)
            assert "No active sessions:" in table_lines(app.screen.table)[1]
            await pilot.press("a")
            await settle(pilot)
            assert "No sessions." in table_lines(app.screen.table)[1]  # not "no active" when all are shown
            for where in ("8", "2"):  # on Sessions, and from another screen
                await pilot.press(where)
                await settle(pilot)
                titles = [command.title for command in app.get_system_commands(app.screen)]
                assert "New session" not in titles and "Edit session" not in titles, where
                assert "Revoke session" in titles
            await pilot.press("8")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert any("My access (0, then g)" in str(n.message) for n in app._notifications)

    async def test_sessions_issued_elsewhere_appear_without_a_keypress(self, tmp_path):
        app, directory = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(SessionsScreen())
            await settle(pilot)
            assert app.screen.table.total == 0
            issue_some(other, ("ken",))
            await pilot.pause(2.0)
            await settle(pilot)
            assert app.screen.table.total == 1
        other.close()


class TestMyAccess:
    async def test_lists_what_the_user_can_assume_and_shows_credentials_once(self, tmp_path):
        app, directory = make_app(tmp_path)
        dave = directory.users.get_by_name("dave")  # Developers and On-call
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(MyAccessScreen(dave.id))
            await settle(pilot)
            table = app.screen.query_one("#grants", DataTable)
            rows = {tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)}
            assert rows == {
                ("dev", "Developer", "group Developers", "PT4H"),
                ("staging", "Developer", "group Developers", "PT4H"),
                ("prod", "ReadOnly", "group Developers", "PT8H"),
                ("prod", "Developer", "group On-call", "PT4H"),
            }
            select = app.screen.query_one("#duration", Select)
            assert select.value == 4 * 3600
            # The choices, the most allowed once (Select's blank entry read as a second one).
            overlay = select.query_one(SelectOverlay)
            offered = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
            assert offered == ["PT15M", "PT1H", "PT2H", "PT4H (the most allowed)"]
            # A digit typed on the duration choice is the choice's, never a section key (it left the screen).
            select.focus()
            await pilot.press("2")
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            # ... and the footer says how out of it (a newcomer saw none, and typed on into the choice).
            shown = [key.description for key in app.screen.query_one(KeyFooter).keys]
            assert shown[0] == "Leave field", shown
            await pilot.press("escape")
            assert app.focused is table
            assert "Leave field" not in [key.description for key in app.screen.query_one(KeyFooter).keys]
            select.value = 3600
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, CredentialsModal)
            lines = app.screen.query_one("#export-lines", TextArea).text.splitlines()
            assert lines[0].startswith("export AWS_ACCESS_KEY_ID=ASIA")
            key = lines[0].split("=", 1)[1]
            secret = lines[1].split("=", 1)[1]
            token = lines[2].split("=", 1)[1]
            result = directory.sessions.verify(key, secret, token)
            assert result.valid and result.session.user_id == dave.id
            assert result.session.expires_at == lines[3].split("=", 1)[1]
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            assert secret not in app.export_screenshot()  # shown once: gone with the modal

    async def test_a_user_without_assignments_is_told_so(self, tmp_path):
        app, directory = make_app(tmp_path)
        ivan = directory.users.get_by_name("ivan")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(MyAccessScreen(ivan.id))
            await settle(pilot)
            assert "0 role(s)" in str(app.screen.query_one("#my-access-title", Static).render())
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            assert directory.sessions.list().total == 0


class TestFromUserDetailAndSweeping:
    async def test_a_users_sessions_open_from_their_detail(self, tmp_path):
        from tui.screens.user_detail import UserDetailScreen

        app, directory = make_app(tmp_path)
        issue_some(directory, ("bob", "carol"))
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(UserDetailScreen(directory.users.get_by_name("bob").id))
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert isinstance(app.screen, SessionsScreen) and app.screen.table.total == 1
            assert "of bob" in str(app.screen.query_one("#list-title", Static).render())

    async def test_the_console_sweeps_long_dead_sessions_on_a_timer(self, tmp_path, monkeypatch):
        import tui.app

        monkeypatch.setattr(tui.app, "SWEEP_SECONDS", 0.3)
        app, directory = make_app(tmp_path)
        issued = issue_some(directory, ("bob",))[0]
        directory.db.conn.execute(
            "UPDATE sessions SET issued_at = '2020-01-01T00:00:00Z', "
            "expires_at = '2020-01-01T01:00:00Z' WHERE id = ?",
            (issued.session_id,),
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(1.0)
            await settle(pilot)
        assert directory.sessions.list().total == 0
