"""The Sessions screen: live temporary credentials with a countdown to expiry; revoke one or many."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from store.clock import from_text
from store.service import Page
from store.sessions import SessionInfo
from tui.literal import literal
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


def when(text: str) -> str:
    return text.replace("T", " ").removesuffix("Z")


class SessionModal(ModalScreen[str | None]):
    """One session whole (enter on a row): what the list's columns cut short, when it was issued, with or
    without MFA, how it ended. No secret: none is kept. Dismisses with "user" to open the user's page."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", priority=True),
        Binding("u", "user", "User's page"),
    ]

    def __init__(self, session: SessionInfo, now: datetime) -> None:
        super().__init__()
        self.session = session
        self.now = now

    def compose(self) -> ComposeResult:
        session = self.session
        lines = Text()

        def row(label: str, value: str, style: str = "") -> None:
            if lines:
                lines.append("\n")
            lines.append(f"{label:<16}", style="dim")
            lines.append_text(literal(value, style))

        row("Access key id", session.access_key_id)
        row("User", session.user_name)
        row("Account", session.account_name)
        row("Permission set", session.permission_set_name)
        row("MFA", "yes" if session.mfa else "no")
        row("Issued (UTC)", when(session.issued_at))
        row("Expires (UTC)", when(session.expires_at))
        if session.revoked_at is not None:
            row("Ended (UTC)", when(session.revoked_at), "yellow")
            row("Why", session.revoked_reason or "revoked", "yellow")
        else:
            row("Left", countdown(session.expires_at, self.now))
        with Vertical(classes="dialog"):
            yield Static("Session", classes="dialog-title")
            yield Static(lines, classes="dialog-detail")
            yield Static("u  User's page    esc  Close", classes="dialog-keys", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_user(self) -> None:
        self.dismiss("user")


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

    def open_item(self, item: Any) -> None:
        """Enter on a row: the session whole, and from there its user's page."""
        session: SessionInfo = item

        def chosen(choice: str | None) -> None:
            if choice == "user":
                self._open_user(session.user_id)

        self.app.push_screen(SessionModal(session, self.directory.clock()), chosen)

    def _open_user(self, user_id: int) -> None:
        from tui.screens.user_detail import UserDetailScreen

        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        if isinstance(below, UserDetailScreen) and below.user_id == user_id:
            self.app.pop_screen()  # these are that user's sessions, opened from their page: back to it
        else:
            self.app.push_screen(UserDetailScreen(user_id))

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
