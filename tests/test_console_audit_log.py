"""The Audit log screen, by keyboard, on a real directory: newest first, filtered, one event in full."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from store import audit
from store.directory import Directory
from store.errors import NotFound
from store.portal import SignedIn
from tests.console_factory import ADMIN, filter_list, make_app, other_admin, settle, table_lines, type_text
from tui.screens.audit_log import TYPING_PAUSE, AuditEventModal, AuditLogScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.my_access import MyAccessScreen
from tui.screens.users import UsersScreen
from tui.widgets.key_footer import KeyFooter

MARKUP = "[bold red]x[/]"


def title(app) -> str:
    return str(app.screen.query_one("#list-title", Static).render())


def rows(app) -> list[str]:
    """The table's drawn rows, the header left out, blank lines too."""
    return [line for line in table_lines(app.screen.table)[1:] if line.strip()]


def shown_event(app) -> str:
    return str(app.screen.query_one("#event-text", Static).render())


async def open_audit_log(pilot) -> None:
    """From the dashboard, as a person does: ``l``."""
    await settle(pilot)
    assert isinstance(pilot.app.screen, DashboardScreen)
    await pilot.press("l")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AuditLogScreen)


class TestAuditLogScreen:
    async def test_the_newest_event_comes_first_and_the_filter_narrows(self, tmp_path):
        app, directory = make_app(tmp_path)
        directory.accounts.create("audit-probe")
        members = sum(1 for line in _all_actions(directory) if line == "group.add_member")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_audit_log(pilot)
            everything = app.screen.table.total
            assert f"{everything:,} events" in title(app)
            first = rows(app)[0]
            assert "account.create" in first and "account:audit-probe" in first
            assert "console:tester (console)" in first  # who, and through what
            # Typed, then a pause: the filter applies without enter.
            await pilot.press("slash")
            await type_text(pilot, "group.add")
            await pilot.pause(TYPING_PAUSE + 0.2)
            await settle(pilot)
            assert app.screen.table.total == members > 0
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.table.total == members
            assert all("group.add_member" in line for line in rows(app))
            assert "filter: group.add" in title(app)
            # By actor: another administrator's change, and nothing else.
            other = other_admin(tmp_path)
            other.accounts.create("theirs")
            other.close()
            await pilot.press("escape")  # clears the filter
            await settle(pilot)
            await filter_list(pilot, "console:other")
            assert app.screen.table.total == 1
            assert "account:theirs" in rows(app)[0] and "console:other (console)" in rows(app)[0]
            # By target; a LIKE wildcard is a character like any other.
            await pilot.press("escape")
            await settle(pilot)
            await filter_list(pilot, "AUDIT-PROBE")
            assert app.screen.table.total == 1
            await pilot.press("escape")
            await settle(pilot)
            await filter_list(pilot, "%")
            assert app.screen.table.total == 0
            assert "No match for" in rows(app)[0]
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.table.total == everything + 1
            # By a name the details hold: the membership that made heidi an administrator (its target is the
            # group) was missing from "/heidi" (newcomer walk).
            await filter_list(pilot, "heidi")
            assert any("group.add_member" in line and "group:Admins" in line for line in rows(app)), rows(app)

    async def test_enter_shows_the_whole_event_literally_and_esc_comes_back(self, tmp_path):
        app, directory = make_app(tmp_path)
        group = directory.groups.create(MARKUP, description=f"about {MARKUP}")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_audit_log(pilot)
            assert f"group:{MARKUP}" in rows(app)[0]  # drawn as typed, not as red bold text
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, AuditEventModal)
            shown = shown_event(app)
            for field in ("Event", "At (UTC)", "Actor", "Source", "Action", "Target", "Details"):
                assert field in shown
            assert f"Target    group:{MARKUP}" in shown
            assert "Action    group.create" in shown
            assert "Actor     console:tester" in shown and "Source    console" in shown
            # The details, pretty-printed JSON: one key a line, the values as they were typed.
            assert f'"name": "{MARKUP}",' in shown
            assert f'"description": "about {MARKUP}",' in shown
            # No markup was parsed anywhere: no span of the text is red or bold but our labels.
            text = app.screen.query_one("#event-text", Static).render()
            styled = {str(span.style) for span in getattr(text, "spans", [])}
            assert not any("red" in style for style in styled)
            assert directory.groups.get(group.id).name == MARKUP
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, AuditLogScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)

    async def test_a_control_character_in_a_target_shows_as_an_escape(self, tmp_path):
        """Events written by a damaged or hostile file: the log shows what is there, never sends it raw."""
        app, directory = make_app(tmp_path)
        with directory.change() as conn:
            directory.record(
                conn, action="probe.event", target="file:\x1b[31mred", extra={"note": "\x1b]0;t\x07"}
            )
        async with app.run_test(size=(120, 40)) as pilot:
            await open_audit_log(pilot)
            assert "file:\\x1b[31mred" in rows(app)[0]
            await pilot.press("enter")
            await settle(pilot)
            shown = shown_event(app)
            assert "file:\\x1b[31mred" in shown and "\x1b" not in shown
            assert '"note": "\\u001b]0;t\\u0007"' in shown

    async def test_refresh_shows_what_another_admin_just_did(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_audit_log(pilot)
            other = other_admin(tmp_path)
            other.accounts.create("just-now")
            other.close()
            await pilot.press("r")
            await settle(pilot)
            assert "account:just-now" in rows(app)[0]

    async def test_pages_through_many_events_and_jumps_to_the_oldest(self, tmp_path):
        app, directory = make_app(tmp_path)
        with directory.change() as conn:
            for n in range(1, 1201):
                directory.record(conn, action="probe.event", target=f"probe:{n}")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_audit_log(pilot)
            total = app.screen.table.total
            assert total > 1200
            assert "probe:1200" in rows(app)[0]
            await pilot.press("G")  # the end: the first event ever written
            await settle(pilot)
            assert app.screen.table.current.seq == 1
            await filter_list(pilot, "probe:11")  # 11, 110-119, 1100-1199
            assert app.screen.table.total == 111
            await pilot.press("G")
            await settle(pilot)
            assert app.screen.table.current.target == "probe:11"

    async def test_at_80_by_24_every_column_stays_readable(self, tmp_path):
        app, directory = make_app(tmp_path)
        directory.accounts.create("ops")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_audit_log(pilot)
            header, first = table_lines(app.screen.table)[:2]
            for column in ("At (UTC)", "Actor", "Action", "Target"):
                assert column in header
            event = app.screen.table.current
            assert event.at.replace("T", " ").removesuffix("Z") in first  # the whole time, seconds too
            assert "console:tester" in first and "account.create" in first and "account:ops" in first
            footer = app.screen.query_one(KeyFooter).render().plain
            assert "Filter" in footer and "Open" in footer and "Refresh" in footer
            assert "New" not in footer and "Delete" not in footer  # the log is not edited
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, AuditEventModal)
            dialog = app.screen.query_one(".dialog")
            assert dialog.region.right <= 80 and dialog.region.bottom <= 24
            keys = app.screen.query_one(".dialog-keys", Static)
            assert keys.region.bottom <= 24 and "esc" in str(keys.render())
            assert "Target    account:ops" in shown_event(app)


class TestReachingIt:
    async def test_enter_on_recent_activity_opens_that_event(self, tmp_path):
        app, directory = make_app(tmp_path)
        directory.accounts.create("recent-one")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, AuditEventModal)
            assert "Target    account:recent-one" in shown_event(app)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)

    async def test_the_dashboard_footer_and_help_name_it(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "l Audit log" in app.screen.query_one(KeyFooter).render().plain
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one("#help-keys", DataTable)
            listed = [
                (str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)
            ]
            assert any(key == "l" and "Audit log" in what for key, what in listed)

    async def test_the_palette_opens_it_from_any_screen(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert sum("Audit log" in name for name in titles) == 1
            await pilot.press("ctrl+p")
            await pilot.pause()
            await type_text(pilot, "audit")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, AuditLogScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)

    async def test_a_user_who_is_not_an_admin_cannot_open_it(self, tmp_path):
        app, directory = make_app(tmp_path, signed_in=None)
        directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
        bob = directory.users.get_by_name("bob")
        directory.close()
        signed_in = SignedIn(
            bob.id, "bob", False, True, "password+totp", "console", "2026-01-01T00:00:00Z", None
        )
        app, directory = make_app(tmp_path, seed=False, signed_in=signed_in)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            assert app.check_action("audit_log", ()) is False
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert not any("Audit" in name for name in titles)
            await pilot.press("l")
            await settle(pilot)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await type_text(pilot, "audit")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            assert not any(isinstance(screen, AuditLogScreen) for screen in app.screen_stack)
            # Even asked for directly (a palette entry offered before the rights changed), it is refused.
            app.action_audit_log()
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
            assert any("Only administrators" in str(n.message) for n in app._notifications)


def test_the_store_pages_events_newest_first_and_counts_what_matches(tmp_path):
    """What the screen reads: keyset pages by seq, the total of matches, wildcards taken literally."""
    directory = Directory.open(tmp_path / "directory.db", ADMIN)
    with directory.change() as conn:
        for n in range(1, 251):
            directory.record(conn, action="probe.event", target=f"probe:{n}" + ("_x" if n % 50 == 0 else ""))
    with directory.db.read() as conn:
        first = audit.list_events(conn, limit=100)
        assert first.total == 250 and [e.seq for e in first.items[:2]] == [250, 249]
        second = audit.list_events(conn, after=first.next_after, limit=100)
        assert second.items[0].seq == 150 and second.total == 250
        jumped = audit.list_events(conn, offset=200, limit=100)
        assert [e.seq for e in jumped.items] == list(range(50, 0, -1)) and jumped.next_after is None
        literal_ = audit.list_events(conn, filter="_x", limit=100)
        assert literal_.total == 5 and {e.seq for e in literal_.items} == {50, 100, 150, 200, 250}
        paged = audit.list_events(conn, filter="PROBE:1", limit=10)  # 1, 10-19, 100-199: 111, any case
        assert paged.total == 111 and len(paged.items) == 10
        assert audit.get_event(conn, 7).target == "probe:7"
        with pytest.raises(NotFound):
            audit.get_event(conn, 9999)
    directory.close()


def _all_actions(directory) -> list[str]:
    with directory.db.read() as conn:
        return [event.action for event in audit.events(conn)]
