"""The top line: where you are, and the keys that take you elsewhere (as k9s and lazygit show them)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

# key, mode, label, short label (for narrow terminals)
SECTIONS = [
    ("1", "dashboard", "Dashboard", "Dash"),
    ("2", "users", "Users", "Users"),
    ("3", "groups", "Groups", "Groups"),
    ("4", "accounts", "Accounts", "Accts"),
    ("5", "permission_sets", "Permission sets", "Perms"),
    ("6", "assignments", "Assignments", "Assign"),
]
WIDE = 110


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        wide = self.size.width >= WIDE or self.size.width == 0
        text = Text()
        text.append(" tui ", style="bold reverse")
        for key, mode, label, short in SECTIONS:
            text.append(" ")
            text.append(f" {key} ", style="bold")
            text.append(label if wide else short, style="bold reverse" if mode == self.current else "")
        text.append("   ? help  ^p commands" if wide else "  ? help", style="dim")
        self.update(text)
