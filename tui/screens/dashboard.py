"""The Dashboard: how big the directory is, how safe its credentials are, and what happened last."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Static

from store import audit
from store.credential_report import SecurityFlag, security_flags
from store.directory import Counts, Directory
from store.scim_sources import SourceState
from tui.literal import literal
from tui.screens.audit_log import AuditEventModal
from tui.screens.base import DirectoryScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.workers import background

RECENT_EVENTS = 50
ROOT_BANNER = "root is for break-glass: create an admin user"


def needs_admin_user(directory: Directory) -> bool:
    """True while only root administers: no admin group, or one without members."""
    group = directory.admins.admin_group()
    return group is None or not group.member_count


def root_banner(directory: Directory) -> str:
    """What root is told: to create an admin user, only while there is none."""
    if needs_admin_user(directory):
        return f"Signed in as root · {ROOT_BANNER}"
    return "Signed in as root · break-glass only: day-to-day work is for the admin group's members"


class RecentActivity(DataTable[str]):
    """The recent events; Enter opens the highlighted one whole (its key shown in the footer, as on lists)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open event", show=True)]


class DashboardScreen(DirectoryScreen):
    nav_name = "dashboard"

    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("c", "app.my_credentials", "My credentials"),
        Binding("l", "app.audit_log", "Audit log"),
        # Shown only while a source is paused (check_action): the way to the flag's remedy.
        Binding("S", "sources", "Sources"),
    ]
    paused: list[SourceState] = []

    # Compact cards (number and label on one line) leave room for the security flags at 80 x 24.
    CSS = """
    DashboardScreen .count-card { height: 4; }
    DashboardScreen #counts { grid-gutter: 0 2; }
    DashboardScreen #root-banner { height: auto; background: $error 30%; color: $text; text-style: bold;
                                   padding: 0 1; }
    DashboardScreen #security { grid-size: 2; grid-gutter: 0 2; height: auto; }
    DashboardScreen .flag { height: 1; }
    DashboardScreen .flag-ok { color: $success; }
    DashboardScreen .flag-warn { color: $warning; }
    DashboardScreen #sources-banner { height: auto; background: $warning 30%; color: $text; text-style: bold;
                                      padding: 0 1; }
    /* The newest events scroll down; a horizontal bar under two rows at 80 x 24 only hid a third. */
    DashboardScreen #recent { overflow-x: hidden; }
    """

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="dashboard"):
            yield Static("", id="dashboard-where", classes="list-title")
            yield Static("", id="root-banner", classes="hidden")
            yield Static("", id="sources-banner", classes="hidden")
            with Grid(id="counts"):
                for key, label in (
                    ("users", "Users"),
                    ("groups", "Groups"),
                    ("accounts", "Accounts"),
                    ("permission_sets", "Permission sets"),
                    ("assignments", "Assignments"),
                    ("active_sessions", "Active sessions"),
                ):
                    yield Static(label, id=f"count-{key}", classes="count-card")
            yield Static("Security", classes="section-title")
            with Grid(id="security"):
                for index in range(6):
                    yield Static("", id=f"flag-{index}", classes="flag")
            yield Static("Recent activity", classes="section-title")
            yield RecentActivity(id="recent", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#recent", DataTable).add_columns("When (UTC)", "Who", "What", "Target")
        self.query_one("#dashboard-where", Static).update(
            literal(f"Directory {self.directory.db.path}  ·  acting as {self.directory.actor.name}")
        )
        self.reload()

    def reload(self) -> None:
        self._load()

    def action_refresh(self) -> None:
        self.reload()

    @background(group="dashboard", exclusive=True)
    def _load(self) -> None:
        counts = self.directory.counts()
        flags = security_flags(self.directory)
        with self.directory.db.read() as conn:
            events = list(audit.events(conn, limit=RECENT_EVENTS, newest_first=True))
        signed_in = getattr(self.app, "signed_in", None)
        banner = root_banner(self.directory) if signed_in is not None and signed_in.is_root else ""
        paused = self.directory.scim_sources.paused_sources()
        self.app.call_from_thread(self._show, counts, events, flags, banner)
        self.app.call_from_thread(self._show_paused, paused)

    def _show_paused(self, paused: list[SourceState]) -> None:
        """The live sync guard paused a source: its identity provider's changes wait for an admin."""
        self.paused = paused
        shown = self.query_one("#sources-banner", Static)
        names = ", ".join(state.source for state in paused)
        count = "source" if len(paused) == 1 else "sources"
        shown.update(
            literal(
                f"! Provisioning paused ({count} {names}): the identity provider's changes wait. "
                "S opens Sources, where u resumes it."
            )
        )
        shown.set_class(not paused, "hidden")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sources":  # otherwise the app's own S (not in the footer) takes the key
            return bool(self.paused)
        return True

    async def action_sources(self) -> None:
        await self.tui_app.action_switch_mode("sources")

    def _show(
        self,
        counts: Counts,
        events: list[audit.AuditEvent],
        flags: list[SecurityFlag] | None = None,
        banner: str = "",
    ) -> None:
        shown = self.query_one("#root-banner", Static)
        shown.update(literal(banner))
        shown.set_class(not banner, "hidden")
        for index, widget in enumerate(self.query(".flag").results(Static)):
            flag = flags[index] if flags and index < len(flags) else None
            widget.set_classes("flag" if flag is None else f"flag {'flag-ok' if flag.ok else 'flag-warn'}")
            widget.update(literal("" if flag is None else f"{'✓' if flag.ok else '!'} {flag.text}"))
        cards = {
            "users": (counts.users, f"{counts.disabled_users:,} disabled" if counts.disabled_users else ""),
            "groups": (counts.groups, f"{counts.memberships:,} memberships"),
            "accounts": (counts.accounts, ""),
            "permission_sets": (counts.permission_sets, ""),
            "assignments": (counts.assignments, ""),
            "active_sessions": (counts.active_sessions, ""),
        }
        for key, (number, note) in cards.items():
            card = self.query_one(f"#count-{key}", Static)
            label = str(card.id).removeprefix("count-").replace("_", " ").capitalize()
            text = literal(f"{number:,}", "bold")
            text.append(f" {label}", style="")
            if note:
                text.append(f"\n{note}", style="dim")
            card.update(text)
        table = self.query_one("#recent", DataTable)
        table.clear()
        for event in events:
            table.add_row(
                literal(event.at.replace("T", " ").removesuffix("Z")),
                literal(event.actor),
                literal(event.action),
                literal(event.target),
                key=str(event.seq),
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a recent event: all of it (the table cuts its target off)."""
        if event.data_table.id == "recent" and event.row_key.value is not None:
            self.app.push_screen(AuditEventModal(self.directory, int(event.row_key.value)))
