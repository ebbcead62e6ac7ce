"""A bug of ours that ends the console shows one line naming the kind of error and exits 70, never Textual's
crash screen: a traceback with every frame's local variables (what was just typed, a token), drawn on the
terminal, which for a shared console is the remote admin's. TUI_DEBUG=1 shows the traceback, still without
local variables. A worker that fails says so in one line and the console goes on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import tui
from tests.console_factory import make_app, settle
from tui.app import CHANGE_POLL_SECONDS
from tui.crash import INTERNAL_ERROR


async def end_by_a_bug(tmp_path: Path) -> int:
    """The console on the dashboard, its database connection closed under it: the next change poll (on the
    console's own thread, no worker to catch it) raises, as a bug of ours would. Returns the exit status."""
    app, directory = make_app(tmp_path)
    with pytest.raises(sqlite3.ProgrammingError):
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            directory.db.conn.close()
            await pilot.pause(CHANGE_POLL_SECONDS * 3)
    return app.return_code or 0


async def test_a_bug_ends_the_console_with_one_line_and_no_traceback(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("TUI_DEBUG", raising=False)
    assert await end_by_a_bug(tmp_path) == INTERNAL_ERROR
    shown = " ".join(capsys.readouterr().err.split())  # as words: the line wraps at the terminal's width
    assert "tui: internal error (ProgrammingError); nothing more is shown so no secret can leak." in shown
    for trace in ("Traceback", "locals", ".py", "self ="):
        assert trace not in shown, shown


async def test_tui_debug_shows_the_traceback_without_local_variables(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("TUI_DEBUG", "1")
    assert await end_by_a_bug(tmp_path) == INTERNAL_ERROR
    shown = capsys.readouterr().err
    assert "Traceback" in shown and "_notice_changes" in shown
    assert "locals" not in shown and "self =" not in shown, shown


async def test_a_list_whose_rows_cannot_be_read_says_so_and_the_console_goes_on(tmp_path: Path):
    """The file fails under the console (here a table gone, as after damage): the Sessions list cannot load
    its rows. It said nothing and showed "Loading…" for ever; it says so once, and every key still works."""
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        with sqlite3.connect(tmp_path / "directory.db") as damage:
            damage.execute("ALTER TABLE sessions RENAME TO sessions_gone")
        await pilot.press("8")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications]
        assert (
            said.count("Internal error (OperationalError): nothing more is shown. The console goes on.") == 1
        )
        assert not any("sessions" in message for message in said)  # the error's own text stays unshown
        await pilot.press("8")  # again: the same failure is not said twice in a row
        await settle(pilot)
        assert len(app._notifications) == len(said)
        await pilot.press("2")  # the console goes on
        await settle(pilot)
        assert app.current_mode == "users"


def test_every_worker_of_the_console_is_made_by_background() -> None:
    """A guard for workers still to come: one made with Textual's @work directly would fail silently."""
    package = Path(tui.__file__).parent
    direct = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "workers.py" and ("@work" in (text := path.read_text()) or "run_worker(" in text)
    ]
    assert direct == []
