"""The Import screen through Textual's Pilot, on a real directory file: plan, look, apply; refusals as
text."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from textual.widgets import Checkbox, Input, ProgressBar, RichLog, Static

from tests.console_factory import make_app, settle, type_text
from tests.test_import_support import DATA
from tui.screens.import_screen import ImportScreen, complete_path
from tui.screens.modals import ConfirmModal


def shown(screen: ImportScreen) -> str:
    """What the plan view holds, as plain text."""
    return "\n".join(strip.text for strip in screen.query_one("#import-plan", RichLog).lines)


def status(screen: ImportScreen) -> str:
    return str(screen.query_one("#import-status", Static).render())


async def open_import(app, pilot) -> ImportScreen:
    await settle(pilot)
    app.push_screen(ImportScreen())
    await settle(pilot)
    assert isinstance(app.screen, ImportScreen)
    return app.screen


class TestImportScreen:
    async def test_plan_then_apply(self, tmp_path: Path) -> None:
        app, directory = make_app(tmp_path)
        path = tmp_path / "users.csv"
        shutil.copy(DATA / "users.csv", path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_import(app, pilot)
            assert screen.query_one("#import-path", Input).has_focus
            await type_text(pilot, str(path))
            await pilot.press("enter")
            await settle(pilot)
            text = shown(screen)
            assert "format: csv (detected: the header has userName)" in text
            # The demo directory already has (local) ken and mallory: the CSV updates them.
            assert "users: 4 to create, 2 to update, 0 to disable, 0 unchanged" in text
            assert "+ create user 'ada.lovelace'" in text and "+ create group 'R;D'" in text
            assert "~ update user 'ken': email, externalId" in text
            assert "Dry run: nothing was changed" in status(screen)
            assert directory.users.count() == 26  # the demo's users: nothing written yet

            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(app.screen, ImportScreen)
            assert "Applied (import batch 1)" in status(screen)
            assert directory.users.count() == 30
            assert directory.users.get_by_name("grace.hopper").display_name == "Hopper, Grace (Rear Admiral)"
            assert screen.query_one("#import-progress", ProgressBar).has_class("hidden")

            await pilot.press("enter")  # the path still has focus: plan again
            await settle(pilot)
            assert "Nothing to change" in status(screen)

    async def test_apply_needs_a_plan_and_a_sync_needs_a_source(self, tmp_path: Path) -> None:
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_import(app, pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "Plan first" in status(screen) and isinstance(app.screen, ImportScreen)
            screen.query_one("#import-path", Input).value = str(DATA / "okta-import.csv")
            screen.query_one("#import-sync", Checkbox).value = True
            await pilot.press("enter")
            await settle(pilot)
            assert "A sync needs a source" in status(screen)
            source = screen.query_one("#import-source", Input)
            source.focus()
            await type_text(pilot, "okta")
            await pilot.press("enter")
            await settle(pilot)
            assert "users: 4 to create" in shown(screen)
            screen.query_one("#import-sync", Checkbox).value = False  # the plan no longer matches the options
            await pilot.pause()
            assert "changed: press enter to plan again" in status(screen)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ImportScreen) and directory.users.count() == 26

    async def test_a_refused_file_lists_its_problems_as_literal_text(self, tmp_path: Path) -> None:
        app, directory = make_app(tmp_path)
        bad = tmp_path / "bad.csv"
        bad.write_text(
            "userName,displayName\nok,Fine\nbob\x1b[31m,Bob\ncarol,[bold red]x[/]\x07\n", encoding="utf-8"
        )
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_import(app, pilot)
            screen.query_one("#import-path", Input).value = str(bad)
            await pilot.press("enter")
            await settle(pilot)
            text = shown(screen)
            assert "Refused: nothing was changed." in text
            assert "line 3: userName: control character U+001B" in text
            assert "line 4: displayName: control character U+0007" in text
            assert "\x1b" not in text and "\x07" not in text
            assert "The file was refused: 2 problems below" in status(screen)
            assert directory.users.count() == 26

    async def test_an_unreadable_encoding_is_explained(self, tmp_path: Path) -> None:
        app, _ = make_app(tmp_path)
        path = tmp_path / "utf16.csv"
        path.write_bytes("userName\nada\n".encode("utf-16"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_import(app, pilot)
            screen.query_one("#import-path", Input).value = str(path)
            await pilot.press("enter")
            await settle(pilot)
            assert "is UTF-16; tui reads UTF-8 only" in shown(screen)

    async def test_large_imports_show_progress_and_the_screen_fits_80_by_24(self, tmp_path: Path) -> None:
        from tests.test_import_atomicity import write_big_csv

        app, directory = make_app(tmp_path)
        big = tmp_path / "big.csv"
        write_big_csv(big, 3000)
        seen: list[tuple[int, int]] = []

        def hook(message: object) -> None:
            if isinstance(message, ImportScreen.Progressed) and message.phase == "write":
                seen.append((message.done, message.total))

        async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
            screen = await open_import(app, pilot)
            screen.query_one("#import-path", Input).value = str(big)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("ctrl+s", "y")
            await settle(pilot)
            assert "Applied" in status(screen)
            assert directory.users.count() == 26 + 3001
            assert seen and seen[-1][0] == seen[-1][1]  # the bar reached its end
            drawn = html.unescape(app.export_screenshot()).replace("\xa0", " ")
            assert "Import users and groups" in drawn and "Hash passwords" in drawn  # all of it fits


def test_path_completion(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "export-okta.csv").write_text("x")
    (tmp_path / ".hidden.csv").write_text("x")
    assert complete_path(str(tmp_path / "exp")) == str(tmp_path / "export-okta.csv")
    assert complete_path(str(tmp_path / "exports")) == str(tmp_path / "exports") + "/"
    assert complete_path(str(tmp_path / ".hid")) == str(tmp_path / ".hidden.csv")
    assert complete_path(str(tmp_path / "nothing")) is None
    assert complete_path(str(tmp_path / "no-such-folder" / "x")) is None


async def test_the_import_options_read_ticked_or_not_without_colour(tmp_path: Path) -> None:
    """A newcomer's trap: Textual's checkbox drew ▐X▌ whether ticked or not (only colour told)."""
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_import(app, pilot)
        sync = screen.query_one("#import-sync", Checkbox)
        assert str(sync.render()).startswith("[ ]")
        sync.focus()
        await pilot.press("space")
        await settle(pilot)
        assert sync.value and str(sync.render()).startswith("[x]")
