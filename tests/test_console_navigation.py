"""Where a section's key goes, and what quitting or signing out does to an edit not saved (found by a
newcomer walking the console in tmux): the real console through Pilot, key by key."""

from __future__ import annotations

from textual.widgets import Input

from tests.console_factory import make_app, settle
from tui.screens.modals import ConfirmModal
from tui.screens.permission_sets import PermissionSetEditorScreen
from tui.screens.sessions import SessionsScreen
from tui.screens.user_detail import UserDetailScreen
from tui.screens.users import UsersScreen


async def test_a_section_key_shows_its_list_not_the_last_page_opened_on_it(tmp_path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UserDetailScreen)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("enter")  # and the list works as before
        await settle(pilot)
        assert isinstance(app.screen, UserDetailScreen)
        await pilot.press("2")  # its own key, from a page opened on it
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)


async def new_permission_set(pilot, name: str) -> PermissionSetEditorScreen:
    await pilot.press("5")
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    await pilot.press(*name)
    await settle(pilot)
    editor = pilot.app.screen
    assert isinstance(editor, PermissionSetEditorScreen)
    return editor


def typed_name(editor: PermissionSetEditorScreen) -> str:
    return editor.query(Input).first().value


async def test_an_edit_not_saved_survives_a_section_key_and_quitting_asks_first(tmp_path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await new_permission_set(pilot, "Unsaved1")
        assert typed_name(editor) == "Unsaved1"
        # Another section and back (the palette: in the editor, digits are typed): the edit is where it was.
        await pilot.press("ctrl+p", *"Go to Users", "enter")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("5")
        await settle(pilot)
        assert app.screen is editor and typed_name(editor) == "Unsaved1"
        # ctrl+q asks; n goes back to the edit, untouched.
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and app.is_running
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is editor and typed_name(editor) == "Unsaved1"
        # Signing out asks too.
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is editor
        await pilot.press("ctrl+q")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    assert not app.is_running


async def test_quitting_with_nothing_unsaved_does_not_ask(tmp_path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal | UsersScreen)  # signed out at once
        await pilot.press("ctrl+q")
        await settle(pilot)
    assert not app.is_running


async def test_a_list_has_focus_on_its_table_from_the_start_not_on_its_hidden_filter(tmp_path) -> None:
    """Textual focuses the first widget it may, and a hidden (display: none) filter box is one: a key typed
    right after a section's key went into it, unseen ("Sessions · filter: a", no rows)."""
    from textual.widgets import Input

    from tui.widgets.paged_table import PagedTable

    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for screen in (SessionsScreen(), UsersScreen()):
            await app.push_screen(screen)  # mounted: no tick yet for a deferred focus
            assert isinstance(screen.focused, PagedTable), screen.focused
            assert not screen.query_one("#filter", Input).has_focus
            await pilot.press("a")  # Sessions: all sessions; Users: nothing. Never the filter.
            await settle(pilot)
            assert screen.query_one("#filter", Input).value == ""


async def test_a_filled_form_asks_before_esc_or_ctrl_q_throw_it_away(tmp_path) -> None:
    from tui.screens.form import FormModal

    app, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormModal)
        await pilot.press("escape")  # nothing typed: closes at once
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        await pilot.press(*"newbie")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # keep editing: the name is still there
        await settle(pilot)
        assert app.screen is form and form.values()["userName"] == "newbie"
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and app.is_running
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")  # discard
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)


async def test_an_import_at_work_stays_open_when_a_section_key_is_pressed(tmp_path) -> None:
    from tui.screens.import_screen import ImportScreen

    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        screen.busy = True  # as while a file is read, planned or applied
        app.go_to("dashboard")  # the dashboard's key, from the palette (in the form, "1" is typed)
        await settle(pilot)
        assert app.screen is screen
        screen.busy = False
        app.go_to("dashboard")
        await settle(pilot)
        assert not isinstance(app.screen, ImportScreen)
