"""The console: one Textual app, a mode per concept, every action on a key and in the command palette."""

from __future__ import annotations

import functools
import getpass
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from store.audit import Actor
from store.directory import Directory
from tui.bindings import screen_actions
from tui.messages import DirectoryChanged
from tui.screens.accounts import AccountsScreen
from tui.screens.assignments import AssignmentsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.groups import GroupsScreen
from tui.screens.help import HelpScreen
from tui.screens.permission_sets import PermissionSetsScreen
from tui.screens.users import UsersScreen
from tui.widgets.nav_bar import SECTIONS

# How often the console asks SQLite whether another process committed (PRAGMA data_version is a cheap read).
CHANGE_POLL_SECONDS = 1.0


def console_actor() -> Actor:
    try:
        name = getpass.getuser()
    except Exception:  # no passwd entry: use the numeric id
        name = str(os.getuid())
    return Actor(f"console:{name}", "console")


class TuiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui"
    MODES = {
        "dashboard": DashboardScreen,
        "users": UsersScreen,
        "groups": GroupsScreen,
        "accounts": AccountsScreen,
        "permission_sets": PermissionSetsScreen,
        "assignments": AssignmentsScreen,
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", short, show=True) for key, mode, _, short in SECTIONS),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, directory: Directory) -> None:
        super().__init__()
        self.directory = directory
        self._data_version: int | None = None

    def on_mount(self) -> None:
        self._data_version = self.directory.db.data_version()
        self.set_interval(CHANGE_POLL_SECONDS, self._notice_changes)

    def _notice_changes(self) -> None:
        version = self.directory.db.data_version(wait=False)
        if version is None or version == self._data_version:
            return
        self._data_version = version
        self.screen.post_message(DirectoryChanged())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette offers every action: the sections, the current screen's keys, then Textual's own."""
        for key, mode, label, _ in SECTIONS:
            yield SystemCommand(f"Go to {label}", f"key {key}", functools.partial(self.switch_mode, mode))
        for key, description, action, node, enabled in screen_actions(self, screen):
            if enabled and not action.startswith("switch_mode") and action != "help":
                yield SystemCommand(description, f"key {key}", functools.partial(self.run_action, action, node))
        yield SystemCommand("Help", "key ?: every key on this screen", self.action_help)
        yield from super().get_system_commands(screen)


def run_console(db_path: Path, *, demo: bool = False) -> None:
    """Open the console on ``db_path`` (created if missing), or on a throw-away seeded directory."""
    if not demo:
        with Directory.open(db_path, console_actor()) as directory:
            TuiApp(directory).run()
        return
    from store.demo import seed_demo

    folder = tempfile.mkdtemp(prefix="tui-demo-")
    try:
        with Directory.open(Path(folder) / "demo.db", console_actor()) as directory:
            seed_demo(directory)
            TuiApp(directory).run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
