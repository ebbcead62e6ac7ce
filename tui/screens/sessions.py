"""The Sessions screen: live temporary credentials with a countdown to expiry; revoke one or many."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from store.clock import from_text
from store.service import Page
from store.sessions import SessionInfo
from tui.screens.base import ListScreen, on_current_row
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.paged_table import Column, PagedTable
from tui.widgets.text_fields import TextInput


def countdown(expires_at: str, now: datetime) -> str:
    """``7h 59m 12s`` left, or ``expired``."""
    left = int((from_text(expires_at) - now).total_seconds())
    if left <= 0:
        return "expired"
    hours, rest = divmod(left, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


class SessionsScreen(ListScreen):
    """Active sessions by default (``a`` shows all); ``space`` marks, ``d`` revokes the
    marked or current one."""

    nav_name = "sessions"
    heading = "Sessions"
    noun = "session"
    plural = "sessions"
    empty_text = "No active sessions: users get theirs from My access (0, then g)."
    filter_fields = "in the user, account or permission set name"

    BINDINGS = [
        Binding("d", "revoke", "Revoke"),
        Binding("space", "mark", "Mark"),
        Binding("a", "toggle_all", "Active/all"),
        # No description: sessions are not made or edited here, so neither help nor the palette offers it
        # (the palette listed "New session" and "Edit session", keys that did nothing). n says where they come
        # from.
        Binding("n", "new", "", show=False),
        Binding("e", "edit", "", show=False),
    ]

    def __init__(self, user_id: int | None = None) -> None:
        super().__init__()
        self.active_only = True
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="list-body"):
            yield Static("", id="list-title", classes="list-title")
            yield TextInput(
                placeholder="filter by user, account or permission set", id="filter", classes="filter hidden"
            )
            yield PagedTable(
                self.columns(), self.fetch, empty_text=self.empty_text, id="table", mark_key=lambda s: s.id
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1.0, self._tick)

    def action_new(self) -> None:
        self.notify(
            "Sessions are not made here: a user gets one from My access (0, then g), "
            "and scripts use tui sessions issue.",
            timeout=6,
        )

    def _tick(self) -> None:
        self.table.refresh()  # the countdown column is computed as it is drawn

    def columns(self) -> list[Column[SessionInfo]]:
        return [
            # At 80 columns the others give up cells so the user a session belongs to stays readable.
            Column("Access key", lambda s: s.access_key_id, 20, least=14),
            Column("User", lambda s: s.user_name),
            Column("Account", lambda s: s.account_name, 16, least=10),
            Column("Permission set", lambda s: s.permission_set_name, 18, least=14),
            Column("Left", lambda s: self._left(s), 24, least=12),
        ]

    def _left(self, session: SessionInfo) -> str:
        if session.revoked_at is not None:  # and why: a revoke, a password change, a grant taken away…
            return f"ended: {session.revoked_reason}" if session.revoked_reason else "revoked"
        return countdown(session.expires_at, self.directory.clock())

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[SessionInfo]:
        return self.directory.sessions.list(
            active_only=self.active_only,
            filter=filter,
            user_id=self.user_id,
            after=after,
            offset=offset,
            limit=limit,
        )

    def title_note(self) -> str:
        marked = len(self.table.marked)
        scope = "active" if self.active_only else "all, newest first"
        if self.user_id is not None:
            scope = f"of {self.directory.users.get(self.user_id).user_name}  ·  {scope}"
        return scope + (f"  ·  {marked} marked" if marked else "")

    def action_mark(self) -> None:
        self.table.action_toggle_mark()
        self._show_title()

    def action_toggle_all(self) -> None:
        self.active_only = not self.active_only
        self.table.empty_text = self.empty_text if self.active_only else "No sessions."
        self.table.reload(keep_cursor=False)

    @on_current_row
    def action_revoke(self) -> None:
        targets: list[Any] = list(self.table.marked.values())
        if not targets:
            current = self.selected()
            if current is None:
                return
            targets = [current]
        live = [s for s in targets if s.state(self.directory.now_text()) == "active"]
        if not live:
            self.notify("Nothing to revoke: those credentials are already dead", severity="warning")
            return
        sessions = self.directory.sessions
        detail = "\n".join(
            f"{s.access_key_id}  {s.user_name}  {s.permission_set_name} in {s.account_name}" for s in live[:8]
        ) + (f"\n… and {len(live) - 8} more" if len(live) > 8 else "")

        def revoke() -> None:
            for session in live:
                sessions.revoke(session.id)
            self.app.call_from_thread(lambda: self.table.marked.clear())

        self.confirm_then(
            f"Revoke {len(live)} session{'s' if len(live) > 1 else ''}?",
            detail + "\n\nThey stop working at once.",
            revoke,
            f"Revoked {len(live)} session(s)",
            confirm_label="Revoke",
        )
