"""One user: their fields, their groups (with expiry) and what they can reach, with the path that grants
it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from store.errors import NotFound
from store.formats.scim import ENTERPRISE_USER
from store.groups import Membership
from store.users import User
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.screens.form import AdminGrantCheck, FormField, FormModal, lookup_by_name
from tui.screens.users import delete_user, toggle_shown, toggle_user, user_form
from tui.widgets.effective_access import EffectiveAccess
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.suggesters import NameSuggester
from tui.workers import background


def kept_lines(user: User, kept: dict[str, Any]) -> list[tuple[str, str]]:
    """What the user's SCIM source sent beyond the columns, as (label, text) lines: its other addresses and
    the enterprise extension (department, manager, …). Shown, not editable: the source owns them."""
    lines = []
    others = [e for e in kept.get("emails", []) if e.get("value") != user.email]
    if others:
        shown = [e.get("value", "") + (f" ({e['type']})" if e.get("type") else "") for e in others]
        lines.append(("Other emails", ", ".join(shown)))
    extension = kept.get(ENTERPRISE_USER)
    if isinstance(extension, dict):
        parts = []
        for key, value in extension.items():
            text = value.get("value", "") if isinstance(value, dict) else value
            parts.append(f"{key}: {text}")
        lines.append(("Enterprise", " · ".join(parts)))
    return lines


class UserDetailScreen(DirectoryScreen):
    nav_name = "users"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("e", "edit", "Edit"),
        Binding("d", "disable", "Disable"),
        Binding("d", "enable", "Enable"),
        Binding("D", "delete", "Delete"),
        Binding("a", "add_group", "Add to group"),
        Binding("x", "remove_group", "Remove from group"),
        Binding("s", "sessions", "Sessions"),
        Binding("c", "credentials", "Credentials"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id
        self.user: User | None = None
        self.memberships: list[Membership] = []

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="detail-body"):
            yield Static("", id="user-fields", classes="detail-fields")
            yield Static("Groups", classes="section-title")
            yield DataTable(id="user-groups", cursor_type="row", zebra_stripes=True)
            yield Static("", id="user-held", classes="detail-note")
            yield Static("Effective access (account · permission set · granted by)", classes="section-title")
            yield EffectiveAccess(self.user_id, id="user-access")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#user-groups", DataTable).add_columns("Group", "Expires")
        self.query_one("#user-groups", DataTable).focus()
        self.query_one("#user-held", Static).display = False  # until a held group is known
        self.reload()

    def reload(self) -> None:
        self._load()

    @background(group="user-detail", exclusive=True)
    def _load(self) -> None:
        try:
            user = self.directory.users.get(self.user_id)
        except NotFound:
            self.app.call_from_thread(self._gone)
            return
        memberships = self.directory.groups.groups_of(self.user_id)
        held = [] if user.active else self.directory.scim_sources.held_memberships(self.user_id)
        kept = {} if user.is_local else self.directory.users.kept_from_source(self.user_id)
        self.app.call_from_thread(self._show, user, memberships, held, self.directory.now_text(), kept)

    def _gone(self) -> None:
        self.close_gone("This user was deleted")

    def _show(
        self,
        user: User,
        memberships: list[Membership],
        held: list[tuple[str, str]],
        now: str,
        kept: dict[str, Any],
    ) -> None:
        self.user, self.memberships = user, memberships
        fields = Text()
        fields.append(user.user_name, style="bold")
        fields.append(f"   {user.status}", style="green" if user.active else "red")
        fields.append(f"   source: {user.source}\n", style="dim")
        for label, value in (
            ("Display name", user.display_name),
            ("Given name", user.given_name),
            ("Family name", user.family_name),
            ("Email", user.email),
            ("External id", user.external_id),
            ("Created", user.created_at),
            ("Last sign-in", user.last_sign_in_at or "never"),
            *kept_lines(user, kept),
        ):
            fields.append(f"{label:>13}  ", style="dim")
            fields.append_text(literal(value or "—"))
            fields.append("\n")
        self.query_one("#user-fields", Static).update(fields)
        groups = self.query_one("#user-groups", DataTable)
        cursor = groups.cursor_row  # a reload keeps the group chosen (x removes the selected one)
        groups.clear()
        for membership in memberships:
            expiry = membership.expires_at or "never"
            if membership.expired(now):
                expiry += " (expired)"
            groups.add_row(literal(membership.group_name), literal(expiry))
        if memberships:
            groups.move_cursor(row=min(cursor, len(memberships) - 1))
        # What a SCIM deactivation took and its source gives back if it reactivates the user: said, not magic.
        lines = []
        for source in dict.fromkeys(source for _, source in held):
            names = ", ".join(group for group, of in held if of == source)
            line = Text("Held while disabled: ", style="dim")
            line.append_text(literal(f"{names} (given back if {source} reactivates {user.user_name})"))
            lines.append(line)
        note = Text("\n").join(lines)
        held_note = self.query_one("#user-held", Static)
        held_note.update(note)
        held_note.display = bool(held)
        self.query_one(EffectiveAccess).reload()
        self.refresh_bindings()  # Disable or Enable, as the user now is

    def action_sessions(self) -> None:
        from tui.screens.sessions import SessionsScreen

        self.app.push_screen(SessionsScreen(user_id=self.user_id))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def action_edit(self) -> None:
        if self.user is not None:
            self.open_form(user_form(self, self.user), "User saved")

    def action_disable(self) -> None:
        if self.user is not None:
            toggle_user(self, self.user)

    action_enable = action_disable

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return toggle_shown(action, self.user)

    def action_delete(self) -> None:
        if self.user is not None:
            delete_user(self, self.user, then=self.close_gone)  # "Deleted …" says it: nothing more

    def action_credentials(self) -> None:
        from tui.screens.credentials import CredentialsScreen

        self.app.push_screen(CredentialsScreen(self.user_id))

    def action_add_group(self) -> None:
        if self.user is None:
            return
        user = self.user
        groups = self.directory.groups
        admin_grant = AdminGrantCheck(self.directory.admins.admin_group_id)

        def save(values: dict[str, str], version: int | None) -> Any:
            group = lookup_by_name(groups.get_by_name, values["group"], "group")
            admin_grant.check(group, user, "group")
            return groups.add_member(group.id, user.id, expires_at=values["expiresAt"].strip() or None)

        form = FormModal(
            f"Add {user.user_name} to a group",
            [
                FormField(
                    "group",
                    "Group",
                    placeholder="group name (→ completes)",
                    suggester=NameSuggester(groups.complete),
                ),
                FormField(
                    "expiresAt", "Expires (optional)", placeholder="2027-01-31 or 2027-01-31T18:00:00Z"
                ),
            ],
            save,
        )
        self.open_form(form, "Added to group")

    def action_remove_group(self) -> None:
        if self.user is None or not self.memberships:
            self.notify("No group selected", severity="warning")
            return
        table = self.query_one("#user-groups", DataTable)
        membership = self.memberships[min(table.cursor_row, len(self.memberships) - 1)]
        groups = self.directory.groups
        self.confirm_then(
            f"Remove {membership.user_name} from {membership.group_name}?",
            "Access granted through this group ends.",
            lambda: groups.remove_member(membership.group_id, membership.user_id),
            f"Removed from {membership.group_name}",
            confirm_label="Remove",
        )
