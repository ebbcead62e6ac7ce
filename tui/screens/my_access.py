"""My access: the terminal-first access portal. The accounts and permission sets you can assume; pick a
duration, get credentials once, as copy-ready ``export`` lines."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Select, Static, TextArea

from store.assignments import Assignment
from store.durations import format_duration
from store.errors import StoreError
from store.sessions import IssuedCredentials
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.workers import background

DURATIONS = [900, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 24 * 3600, 36 * 3600]


class CredentialsModal(ModalScreen[None]):
    """Credentials shown once. Closing forgets them: they were never stored, and cannot be shown again."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close (the secret is not shown again)", priority=True),
        # priority: the text has focus, and a key typed there is its own
        Binding("c", "copy_all", "Copy all", priority=True),
    ]

    def __init__(self, credentials: IssuedCredentials, title: str) -> None:
        super().__init__()
        self._lines = "\n".join(credentials.env_lines())
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog credentials"):
            yield Static(literal(self.title_text), classes="dialog-title")
            yield Static(
                "Paste into your shell. This is the only time the secret is shown.", classes="dialog-detail"
            )
            # One line per export, never wrapped: a wrapped line copied from the terminal was a broken
            # command. At 80 columns the token's line is longer than the screen: it scrolls sideways, and c
            # copies every line whole (as does ctrl+c on a selection in the text).
            yield TextArea(self._lines, read_only=True, id="export-lines", soft_wrap=False)
            yield Static(
                "c  Copy all lines    select + ctrl+c  Copy a selection    esc  Close\n"
                "↓ then end  The rest of a line longer than the box (the token at 80 columns)",
                classes="dialog-keys",
                markup=False,
            )

    def action_copy_all(self) -> None:
        self.app.copy_to_clipboard(self._lines + "\n")
        self.notify("Copied the export lines to the clipboard", timeout=3)

    def action_close(self) -> None:
        self._lines = ""
        self.query_one("#export-lines", TextArea).load_text("")
        self.dismiss(None)


class DurationChoice(Select[int]):
    """The session durations the highlighted role allows, the most allowed last and chosen. Made anew when
    that changes, without Select's blank entry (it issued for the role's own duration, and read as a second
    "most allowed" beside the real one). Disabled while no role is highlighted: no fake option standing in
    for a hint."""

    def __init__(self, allowed: int | None) -> None:
        self.allowed = allowed
        if allowed is None:
            super().__init__([], id="duration", prompt="no role to assume", disabled=True)
            return
        options = [(format_duration(d), d) for d in DURATIONS if d < allowed]
        options.append((f"{format_duration(allowed)} (the most allowed)", allowed))
        super().__init__(options, id="duration", allow_blank=False, value=allowed)


GET_HINT = "enter or g: credentials for the highlighted role, for the duration chosen here (tab to change it)"
NOTHING_TO_ASSUME = "No role to assume: an administrator assigns roles to you or to a group of yours."
# Root is never given temporary credentials (README): waiting for an assignment would be waiting for nothing.
ROOT_ASSUMES_NOTHING = (
    "Root never takes temporary credentials: roles are for the users of the admin group and others. Sign in "
    "as one of them for day-to-day work."
)

# For a member of the admin group (or root) signed in without an authenticator: why they see only this.
MFA_BANNER = (
    "You are in the admin group, but administration needs MFA and you signed in without an authenticator. "
)
ENROL_HERE = "Press c, then t to enrol one; then sign in again with its code."
# An SSH key alone may not enrol an admin's first authenticator (store/rights.py, OWN_AUTHENTICATOR).
ENROL_ELSEWHERE = (
    "Signed in by SSH key, you cannot enrol one here: sign in to tui with your password and enrol it there "
    "(c, then t), or ask another administrator to enrol it for you."
)


class MyAccessScreen(DirectoryScreen):
    """For any signed-in user: what they can assume now, and credentials for it."""

    nav_name = "my_access"

    BINDINGS = [
        Binding("g", "get_credentials", "Get credentials"),
        Binding("c", "app.my_credentials", "My credentials"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, user_id: int | None = None, *, mfa: bool | None = None) -> None:
        """``user_id``/``mfa`` default to the console's signed-in user and how they signed in."""
        super().__init__()
        self._user_id = user_id
        self._mfa = mfa
        self.grants: list[Assignment] = []
        self.durations: dict[int, int] = {}
        self._offering = asyncio.Lock()

    @property
    def user_id(self) -> int:
        if self._user_id is not None:
            return self._user_id
        signed_in = getattr(self.app, "signed_in", None)
        if signed_in is None or signed_in.user_id is None:
            raise RuntimeError("My access needs a signed-in user")
        return int(signed_in.user_id)

    @property
    def mfa(self) -> bool:
        if self._mfa is not None:
            return self._mfa
        signed_in = getattr(self.app, "signed_in", None)
        return bool(signed_in is not None and signed_in.mfa)

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="detail-body"):
            yield Static("", id="my-access-title", classes="list-title")
            yield Static("", id="mfa-banner", classes="banner-warning", markup=False)
            yield DataTable(id="grants", cursor_type="row", zebra_stripes=True)
            yield Static("Session duration", classes="section-title")
            yield DurationChoice(None)
            yield Static(GET_HINT, id="get-hint", classes="dialog-keys", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#grants", DataTable).add_columns("Account", "Permission set", "Granted by", "Up to")
        self.query_one("#grants", DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self._load()

    def action_refresh(self) -> None:
        self.reload()

    @background(group="my-access", exclusive=True)
    def _load(self) -> None:
        user = self.directory.users.get(self.user_id)
        needs_mfa = self.directory.admin_without_mfa()
        self.app.call_from_thread(self._show_banner, needs_mfa)
        now = self.directory.now_text()
        memberships = {m.group_id: m for m in self.directory.groups.groups_of(self.user_id)}
        live = []
        for grant in self.directory.assignments.for_user(self.user_id):
            if grant.expired(now):
                continue
            membership = memberships.get(grant.principal_id) if grant.principal_type == "group" else None
            if membership is not None and membership.expired(now):
                continue
            live.append(grant)
        durations = {
            g.permission_set_id: self.directory.permission_sets.get(g.permission_set_id).session_duration
            for g in live
        }
        self.app.call_from_thread(self._show, user.user_name, live, durations, user.is_root)

    def _show_banner(self, needs_mfa: bool) -> None:
        banner = self.query_one("#mfa-banner", Static)
        banner.display = needs_mfa
        if needs_mfa:
            signed_in = getattr(self.app, "signed_in", None)
            by_password = signed_in is not None and signed_in.method.startswith("password")
            banner.update(MFA_BANNER + (ENROL_HERE if by_password else ENROL_ELSEWHERE))

    def _show(
        self, user_name: str, grants: list[Assignment], durations: dict[int, int], is_root: bool = False
    ) -> None:
        # One row per (account, permission set), however many paths grant it.
        unique: dict[tuple[int, int], Assignment] = {}
        for grant in grants:
            unique.setdefault((grant.account_id, grant.permission_set_id), grant)
        self.grants = list(unique.values())
        self.durations = durations
        title = Text(f"My access  ·  {user_name}  ·  {len(self.grants)} role(s) you can assume")
        self.query_one("#my-access-title", Static).update(title)
        table = self.query_one("#grants", DataTable)
        cursor = table.cursor_row  # a reload (after getting credentials, or any change) keeps the row chosen
        table.clear()
        for grant in self.grants:
            path = "direct" if grant.principal_type == "user" else f"group {grant.principal_name}"
            table.add_row(
                literal(grant.account_name),
                literal(grant.permission_set_name),
                literal(path),
                format_duration(durations[grant.permission_set_id]),
            )
        if self.grants:
            table.move_cursor(row=min(cursor, len(self.grants) - 1))
        self.call_later(self._offer_durations)
        nothing = ROOT_ASSUMES_NOTHING if is_root else NOTHING_TO_ASSUME
        self.query_one("#get-hint", Static).update(GET_HINT if self.grants else nothing)
        self.refresh_bindings()  # g is offered only with a role to assume

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nothing to assume (no roles, or not loaded yet): g is not offered.
        if action == "get_credentials" and not self.grants:
            return False
        return True

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        await self._offer_durations()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_get_credentials()  # enter on a row: the table consumes the key and says so

    def _selected(self) -> Assignment | None:
        if not self.grants:
            return None
        row = self.query_one("#grants", DataTable).cursor_row
        return self.grants[min(max(row, 0), len(self.grants) - 1)]

    async def _offer_durations(self) -> None:
        async with self._offering:  # one at a time: a load and a row highlighted both ask
            grant = self._selected()
            allowed = self.durations[grant.permission_set_id] if grant is not None else None
            shown = self.query_one("#duration", DurationChoice)
            if allowed == shown.allowed:
                return  # the same choices: the one made stays
            focused = self.focused is shown
            await shown.remove()
            offered = DurationChoice(allowed)
            await self.query_one(".detail-body", Vertical).mount(offered, before=self.query_one("#get-hint"))
            if focused:
                offered.focus()

    def action_get_credentials(self) -> None:
        grant = self._selected()
        if grant is None:
            self.notify("Nothing to assume: you have no assignments", severity="warning")
            return
        duration = self.query_one("#duration", Select).value
        self._issue(grant, int(duration) if isinstance(duration, int) else None)

    @background(group="my-access-issue", exclusive=True)
    def _issue(self, grant: Assignment, duration: int | None) -> None:
        try:
            credentials = self.directory.sessions.issue(
                self.user_id, grant.account_id, grant.permission_set_id, duration=duration, mfa=self.mfa
            )
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        title = f"{grant.permission_set_name} in {grant.account_name}, until {credentials.expiration}"
        self.app.call_from_thread(self.app.push_screen, CredentialsModal(credentials, title))
