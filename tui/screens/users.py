"""The Users screen: every user, paged and filtered; create, edit, disable, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.binding import Binding

from store.service import Page
from store.users import User
from tui.screens.base import ListScreen, on_current_row
from tui.screens.form import FormField, FormModal
from tui.widgets.paged_table import Column

USER_FIELDS = [
    ("userName", "user_name", "User name"),
    ("displayName", "display_name", "Display name"),
    ("givenName", "given_name", "Given name"),
    ("familyName", "family_name", "Family name"),
    ("email", "email", "Email"),
    ("externalId", "external_id", "External id"),
]


def user_values(user: User | None) -> dict[str, str]:
    return {field: (getattr(user, attr) or "") if user else "" for field, attr, _ in USER_FIELDS}


def describe_user(user: Any) -> str:
    if not isinstance(user, User):
        return ""
    return (
        f"Saved now: {user.user_name}  ·  {user.display_name or '—'}  ·  {user.email or '—'}  ·  "
        f"{user.status}  (version {user.version})"
    )


def user_form(screen: Any, user: User | None) -> FormModal:
    """The create (``user`` None) or edit form for a user."""
    users = screen.directory.users

    def save(values: dict[str, str], version: int | None) -> User:
        fields: dict[str, str | None] = {attr: values[field] for field, attr, _ in USER_FIELDS}
        fields["external_id"] = fields["external_id"] or None
        if user is None:
            return users.create(fields.pop("user_name"), **fields)
        return users.update(user.id, version or user.version, **fields)

    def load() -> tuple[dict[str, str], int]:
        current = users.get(user.id)  # type: ignore[union-attr]  # load is given only for an edit
        return user_values(current), current.version

    fields = [FormField(field, label, user_values(user)[field]) for field, _, label in USER_FIELDS]
    fields[0].placeholder = "alice or alice@example.com (no spaces)"
    return FormModal(
        "New user" if user is None else f"Edit user {user.user_name}",
        fields,
        save,
        version=None if user is None else user.version,
        load=None if user is None else load,
        describe=describe_user,
    )


class UsersScreen(ListScreen):
    nav_name = "users"
    heading = "Users"
    noun = "user"
    plural = "users"
    empty_text = "No users yet: press n to create one, or run tui import."
    filter_fields = "in the user name, display name or email"

    BINDINGS = [
        # One key, named for what it does to the selected user (check_action shows the one that applies).
        Binding("d", "disable", "Disable"),
        Binding("d", "enable", "Enable"),
        Binding("D", "delete", "Delete"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return toggle_shown(action, self.table.current if self.is_mounted else None)

    def columns(self) -> list[Column[User]]:
        return [
            Column("User name", lambda u: u.user_name, 24),
            Column("Display name", lambda u: u.display_name),
            Column("Email", lambda u: u.email),
            Column("Status", lambda u: u.status, 8),
            Column("Source", lambda u: u.source, 8),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[User]:
        return self.directory.users.list(filter=filter, after=after, offset=offset, limit=limit)

    def open_item(self, item: User) -> None:
        from tui.screens.user_detail import UserDetailScreen

        self.app.push_screen(UserDetailScreen(item.id))

    def action_new(self) -> None:
        # The row saved gets the cursor: say where its credentials are (a newcomer looked for them).
        self.open_form(user_form(self, None), "User created: enter opens it; c there for password and MFA")

    @on_current_row
    def action_edit(self) -> None:
        if (user := self.selected()) is not None:
            self.open_form(user_form(self, user), "User saved")

    @on_current_row
    def action_disable(self) -> None:
        if (user := self.selected()) is not None:
            toggle_user(self, user)

    action_enable = action_disable

    @on_current_row
    def action_delete(self) -> None:
        if (user := self.selected()) is not None:
            delete_user(self, user)


def toggle_shown(action: str, item: Any) -> bool:
    """Of the Disable and Enable keys, show the one that applies to ``item`` (Disable when none is
    selected)."""
    if action not in ("disable", "enable"):
        return True
    active = item is None or getattr(item, "status", "active") == "active"
    return active == (action == "disable")


def toggle_user(screen: Any, user: User) -> None:
    users = screen.directory.users
    if user.active:
        screen.confirm_then(
            f"Disable user {user.user_name}?",
            "They can no longer sign in, and their temporary credentials stop working now.",
            lambda: users.disable(user.id, user.version),
            f"Disabled {user.user_name}",
            confirm_label="Disable",
        )
    else:
        screen.confirm_then(
            f"Enable user {user.user_name}?",
            "They can sign in again.",
            lambda: users.enable(user.id, user.version),
            f"Enabled {user.user_name}",
            confirm_label="Enable",
        )


def delete_user(screen: Any, user: User, then: Callable[[], object] | None = None) -> None:
    users = screen.directory.users
    screen.confirm_then(
        f"Delete user {user.user_name}?",
        "This removes their group memberships, assignments, keys and sessions. It cannot be "
        "undone (disable keeps the record).",
        lambda: users.delete(user.id, user.version),
        f"Deleted {user.user_name}",
        confirm_label="Delete",
        then=then,
    )
