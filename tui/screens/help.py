"""``?``: every key of the screen underneath, and the conventions that hold everywhere."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from tui.bindings import EXPLAIN, screen_actions

KEY_WIDTH = 12
ACTION_WIDTH = 50
CONVENTIONS = [
    ("ctrl+q", "Quit"),
    ("?", "This help"),
    ("ctrl+p", "Command palette: every action, searchable"),
    (
        "1 … 9, 0",
        "Dashboard, Users, Groups, Accounts, Permission sets, Assignments, Policies, Sessions, "
        "Simulator, My access",
    ),
    (
        "S",
        "Sources: identity providers that provision users over SCIM, and their tokens (in the top bar "
        "once one has a token)",
    ),
    ("l", "Audit log (on the Dashboard): every change and sign-in, newest first"),
    ("/", "Filter the current table"),
    ("enter", "Open"),
    ("esc", "Leave the field you are typing in; again: back (or clear the filter)"),
    ("↑ ↓ pgup pgdn home end", "Move in a table (also j k g G)"),
    ("tab / shift+tab", "Next / previous field in a form"),
]


# Keys the conventions below say once (the sections, quit, help, the palette), and Textual's copy of a
# mouse selection: listed among the screen's keys too, they showed twice, and a copy key led the dashboard's.
def _said_below(action: str) -> bool:
    bare = action.removeprefix("app.").removeprefix("screen.")
    return bare.startswith("switch_mode(") or bare in {"quit", "help", "command_palette", "copy_text"}


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
        # Two columns that fit the dialog at 80 columns; what each action does wraps under its name.
        table.add_column("Key", width=KEY_WIDTH)
        table.add_column("Action: what it does", width=ACTION_WIDTH)
        for key, description, action, _node, enabled in screen_actions(self.app, self.underneath):
            if _said_below(action):
                continue
            line = Text(description, style="bold" if enabled else "dim")
            explanation = EXPLAIN.get(action.removeprefix("app."), "")
            if explanation:
                line.append(f": {explanation}", style="" if enabled else "dim")
            table.add_row(Text(key, style="bold"), line, height=None)
        table.add_row("", "")
        for key, action in CONVENTIONS:
            table.add_row(Text(key, style="bold"), Text(action), height=None)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
