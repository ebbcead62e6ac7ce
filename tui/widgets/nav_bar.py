"""The top line: where you are, and the keys that take you elsewhere (as k9s and lazygit show them)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.literal import visible

# key, mode, label, short label (for narrow terminals)
SECTIONS = [
    ("1", "dashboard", "Dashboard", "Dash"),
    ("2", "users", "Users", "Users"),
    ("3", "groups", "Groups", "Groups"),
    ("4", "accounts", "Accounts", "Accts"),
    ("5", "permission_sets", "Permission sets", "Perms"),
    ("6", "assignments", "Assignments", "Assign"),
    ("7", "policies", "Policies", "Pol"),
    ("8", "sessions", "Sessions", "Sess"),
    ("9", "simulator", "Simulator", "Sim"),
    ("0", "my_access", "My access", "Mine"),
]
# What a signed-in user who is not an admin may open.
SELF_SERVICE = {"my_access"}
# The identity providers (SCIM tokens, paused syncs): shown once the directory has one (the app's
# ``provisioning``), or while it is the screen shown; its key works always (the palette and ? name it).
SOURCES = ("S", "sources", "Sources", "Src")
WIDE = 150


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self._draw()
        if hasattr(self.app, "provisioning"):
            self.watch(self.app, "provisioning", lambda _: self._draw(), init=False)

    def on_resize(self) -> None:
        self._draw()

    def refresh_sections(self) -> None:
        """Redraw after the signed-in user's rights changed."""
        self._draw()

    def _draw(self) -> None:
        wide = self.size.width >= WIDE or self.size.width == 0
        admin = getattr(self.app, "is_admin", True)
        text = Text()
        if wide:
            text.append(" tui  ", style="bold reverse")
        for key, mode, label, short in SECTIONS:
            if not admin and mode not in SELF_SERVICE:
                continue
            text.append(f" {key}", style="bold")
            text.append(" ")
            text.append(label if wide else short, style="bold reverse" if mode == self.current else "")
            text.append(" " if wide else "")
        key, mode, label, short = SOURCES
        if admin and (mode == self.current or getattr(self.app, "provisioning", False)):
            entry = Text(f" {key}", style="bold")
            entry.append(" ")
            entry.append(label if wide else short, style="bold reverse" if mode == self.current else "")
            entry.append(" " if wide else "")
            # At 80 columns the ten sections leave room for the key alone (named in the help and palette).
            if self.size.width and text.cell_len + entry.cell_len + 2 > self.size.width:
                entry = Text(f" {key}", style="bold reverse" if mode == self.current else "bold")
            if self.size.width == 0 or text.cell_len + entry.cell_len + 2 <= self.size.width:
                text.append_text(entry)
        text.append("   ? help  ^p commands" if wide else " ?", style="dim")
        others = getattr(self.app, "others_here", [])
        if others:
            # Who else has a console open, and where: names are user-controlled, so appended as plain text.
            people = "   also here: " + visible(
                ", ".join(f"{p.user_name} ({p.screen.replace('_', ' ')})" for p in others)
            )
            fits = self.size.width == 0 or text.cell_len + len(people) <= self.size.width
            text.append(people if fits else f"  +{len(others)} here", style="bold")
        self.update(text)
