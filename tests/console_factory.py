"""One factory builds the console for every console test (as Posting's make_posting does)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from store.audit import Actor
from store.clock import Clock, utc_now
from store.demo import seed_demo
from store.directory import Directory
from store.portal import SignedIn
from tui.app import TuiApp
from tui.screens.credentials import CredentialsScreen
from tui.screens.user_detail import UserDetailScreen
from tui.widgets.paged_table import PagedTable

ADMIN = Actor("console:tester", "console")
# The identity make_app signs in by default: an administrator vouched for by the test itself (no directory
# row, no token), so console tests start on the dashboard as before the sign-in gate existed.
TESTER = SignedIn(
    user_id=None,
    user_name="console:tester",
    is_root=False,
    mfa=True,
    method="test",
    client="console",
    signed_in_at="2026-01-01T00:00:00Z",
    expires_at=None,
)
_DEFAULT = object()


def make_app(
    tmp_path: Path,
    *,
    seed: bool = True,
    signed_in: SignedIn | None | object = _DEFAULT,
    clock: Clock = utc_now,
    **app_options: object,
) -> tuple[TuiApp, Directory]:
    """The console over ``tmp_path/directory.db``. Signed in as an admin unless ``signed_in`` says otherwise:
    ``signed_in=None`` opens at the gate (sign-in screen, or the first-run wizard when there is no root)."""
    directory = Directory.open(tmp_path / "directory.db", ADMIN, clock)
    if seed:
        seed_demo(directory)
    identity = TESTER if signed_in is _DEFAULT else signed_in
    # identity is TESTER or what the test passed (a SignedIn or None), which mypy cannot tell from _DEFAULT.
    return TuiApp(directory, signed_in=identity, **app_options), directory  # type: ignore[arg-type]


def other_admin(tmp_path: Path) -> Directory:
    """A second process's view of the same file (its own connection), as another admin."""
    return Directory.open(tmp_path / "directory.db", Actor("console:other", "console"))


async def settle(pilot: Pilot[object]) -> None:
    """Let workers finish and their results reach the screen."""
    for _ in range(3):
        await pilot.pause()
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a worker of a screen that closed (a form that saved and dismissed itself) ends with it
    await pilot.pause()


def burst(app: TuiApp, keys: Iterable[str]) -> None:
    """``keys`` delivered at once, as a paste or tmux's send-keys delivers them: posted together, with no
    wait between them (Pilot's press waits for the screen after every key)."""
    for key in keys:
        name = "space" if key == " " else key
        character = {"tab": "\t", "enter": "\r", "space": " "}.get(name, key if len(key) == 1 else None)
        app.post_message(events.Key(name, character))


def table_lines(table: PagedTable) -> list[str]:
    """What the table draws, line by line (header first), as plain text."""
    return [table.render_line(y).text for y in range(table.size.height)]


async def type_text(pilot: Pilot[object], text: str) -> None:
    for ch in text:
        await pilot.press(ch if ch != " " else "space")


async def filter_list(pilot: Pilot[object], text: str) -> None:
    """Filter the list shown as a person does: ``/``, the text key by key, Enter back to the table."""
    await pilot.press("slash")
    await type_text(pilot, text)
    await pilot.press("enter")
    await settle(pilot)


async def open_credentials(pilot: Pilot[object], user_name: str | None = None) -> CredentialsScreen:
    """Users (2), the user (filtered for by name; else the first row), enter, c: their credentials."""
    await pilot.press("2")
    await settle(pilot)
    if user_name is not None:
        await filter_list(pilot, user_name)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, UserDetailScreen)
    await pilot.press("c")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CredentialsScreen) and screen.status is not None
    return screen
