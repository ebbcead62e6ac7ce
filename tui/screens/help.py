"""``?``: every key of the screen underneath, and the conventions that hold everywhere."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from tui.bindings import EXPLAIN, screen_actions

CONVENTIONS = [
    ("ctrl+q", "Quit"),
    ("?", "This help"),
    ("ctrl+p", "Command palette: every action, searchable"),
    (
        "1 … 9, 0",
        "Dashboard, Users, Groups, Accounts, Permission sets, Assignments, Policies, Sessions, "
        "Simulator, My access",
    ),
    ("/", "Filter the current table"),
    ("enter", "Open"),
    ("esc", "Leave the field you are typing in; again: back (or clear the filter)"),
    ("↑ ↓ pgup pgdn home end", "Move in a table (also j k g G)"),
    ("tab / shift+tab", "Next / previous field in a form"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", priority=True)]

    def __init__(self, underneath: Screen[object]) -> None:
        super().__init__()
        self.underneath = underneath

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static("Keys", classes="dialog-title")
            yield DataTable(id="help-keys", cursor_type="row", show_cursor=False)
            yield Static("esc  Close", classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.add_columns("Key", "Action", "What it does")
        for key, description, action, _node, enabled in screen_actions(self.app, self.underneath):
            table.add_row(
                Text(key, style="bold"),
                Text(description, style="" if enabled else "dim"),
                Text(EXPLAIN.get(action.removeprefix("app."), ""), style="dim"),
            )
        table.add_row("", "", "")
        for key, action in CONVENTIONS:
            table.add_row(Text(key, style="bold"), "", Text(action))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
