"""One factory builds the console for every console test (as Posting's make_posting does)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from store.audit import Actor
from store.demo import seed_demo
from store.directory import Directory
from tui.app import TuiApp
from tui.widgets.paged_table import PagedTable

ADMIN = Actor("console:tester", "console")


def make_app(tmp_path: Path, *, seed: bool = True) -> tuple[TuiApp, Directory]:
    directory = Directory.open(tmp_path / "directory.db", ADMIN)
    if seed:
        seed_demo(directory)
    return TuiApp(directory), directory


def other_admin(tmp_path: Path) -> Directory:
    """A second process's view of the same file (its own connection), as another admin."""
    return Directory.open(tmp_path / "directory.db", Actor("console:other", "console"))


async def settle(pilot: Pilot[object]) -> None:
    """Let workers finish and their results reach the screen."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_lines(table: PagedTable) -> list[str]:
    """What the table draws, line by line (header first), as plain text."""
    return [table.render_line(y).text for y in range(table.size.height)]


async def type_text(pilot: Pilot[object], text: str) -> None:
    for ch in text:
        await pilot.press(ch if ch != " " else "space")
