"""The Import screen shows a large import's progress phase by phase: a plan reads, validates and plans; an
apply does the same and then applies. Each phase's bar reaches its end, and the status names the phase and
which one of how many it is."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, ProgressBar

from tests.console_factory import make_app, settle
from tests.test_console_import import status
from tests.test_import_atomicity import write_big_csv
from tui.screens.import_screen import ImportScreen


async def test_a_plan_and_an_apply_show_each_phase_in_order(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    big = tmp_path / "big.csv"
    write_big_csv(big, 3000)
    seen: list[tuple[str, int, int]] = []
    statuses: list[str] = []

    def hook(message: object) -> None:
        # Called as each message is handled, before its handler: the status then is what the messages before
        # it left. Read at every message, not only at progress: a fast last phase sends one progress message,
        # and only the message after it (the plan or the result) sees the status it left.
        if isinstance(message, ImportScreen.Progressed):
            seen.append((message.phase, message.done, message.total))
        shown = app.screen_stack[-1] if app.screen_stack else None
        if isinstance(shown, ImportScreen) and shown.query("#import-status"):  # composed
            now = status(shown)
            if not statuses or statuses[-1] != now:
                statuses.append(now)

    def phases() -> list[str]:
        """The phases seen, in order, each once; and each ended with its bar full."""
        order = list(dict.fromkeys(phase for phase, _, _ in seen))
        for phase in order:
            last = [(done, total) for p, done, total in seen if p == phase][-1]
            assert last[0] == last[1], (phase, last)
        return order

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        # Opened by its key, as a person does: the screen then handles its messages where the hook sees them.
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        screen.query_one("#import-path", Input).value = str(big)
        await pilot.press("enter")
        await settle(pilot)
        assert "Dry run: nothing was changed" in status(screen)
        assert phases() == ["read", "check", "plan"]
        assert any(s.startswith("1/3 Reading the file") for s in statuses), statuses
        assert any(s.startswith("2/3 Validating") for s in statuses), statuses
        assert any(s.startswith("3/3 Planning") for s in statuses), statuses
        assert screen.query_one("#import-progress", ProgressBar).has_class("hidden")  # the plan is shown
        assert directory.users.count() == 26  # the demo's users: a plan writes nothing

        seen.clear()
        statuses.clear()
        await pilot.press("ctrl+s", "y")
        await settle(pilot)
        assert "Applied" in status(screen)
        assert phases() == ["read", "check", "plan", "write"]
        assert any(s.startswith("4/4 Applying") for s in statuses), statuses
        assert directory.users.count() == 26 + 3001
