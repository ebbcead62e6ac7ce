"""The Groups screen and a group's members."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from store.clock import parse_moment
from store.errors import AlreadyExists, StoreError, ValidationError
from store.groups import Group, Membership
from store.service import Page
from tui.screens.base import ListScreen, on_current_row
from tui.screens.form import AdminGrantCheck, FormField, FormModal, lookup_by_name
from tui.widgets.paged_table import Column
from tui.widgets.suggesters import NameSuggester


def describe_group(group: Any) -> str:
    if not isinstance(group, Group):
        return ""
    return f"Saved now: {group.name}  ·  {group.description or '—'}  (version {group.version})"


def group_form(screen: Any, group: Group | None) -> FormModal:
    groups = screen.directory.groups

    def save(values: dict[str, str], version: int | None) -> Group:
        if group is None:
            return groups.create(values["displayName"], description=values["description"])
        return groups.update(
            group.id, version or group.version, name=values["displayName"], description=values["description"]
        )

    def load() -> tuple[dict[str, str], int]:
        current = groups.get(group.id)  # type: ignore[union-attr]  # load is given only for an edit
        return {"displayName": current.name, "description": current.description}, current.version

    fields = [
        FormField("displayName", "Name", group.name if group else "", "Admins"),
        FormField("description", "Description", group.description if group else ""),
    ]
    return FormModal(
        "New group" if group is None else f"Edit group {group.name}",
        fields,
        save,
        version=group.version if group else None,
        load=load if group else None,
        describe=describe_group,
    )


class GroupsScreen(ListScreen):
    nav_name = "groups"
    heading = "Groups"
    noun = "group"
    plural = "groups"

    BINDINGS = [Binding("A", "admin_group", "Make admin group")]

    def title_note(self) -> str:
        admin = self.directory.admins.admin_group()
        return f"admin group: {admin.name}" if admin else "no admin group: only root administers"

    @on_current_row
    def action_admin_group(self) -> None:
        if (group := self.current_group()) is not None:
            ask_to_make_admin_group(self, group)

    def columns(self) -> list[Column[Group]]:
        return [
            Column("Name", lambda g: g.name, 28),
            Column("Members", lambda g: f"{g.member_count:>7,}", 9),
            Column("Source", lambda g: g.source, 8),
            Column("Description", lambda g: g.description),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Group]:
        return self.directory.groups.list(filter=filter, after=after, offset=offset, limit=limit)

    def open_item(self, item: Group) -> None:
        self.app.push_screen(GroupMembersScreen(item))

    def action_new(self) -> None:
        self.open_form(group_form(self, None), "Group created")

    @on_current_row
    def action_edit(self) -> None:
        if (group := self.selected()) is not None:
            self.open_form(group_form(self, group), "Group saved")

    def current_group(self) -> Group | None:
        """The selected group as it is now: a question counts its members then, not as listed."""
        group = self.selected()
        return group_now(self, group.id) if group is not None else None

    @on_current_row
    def action_delete(self) -> None:
        if (group := self.current_group()) is not None:
            groups = self.directory.groups
            admin = self.directory.admins.admin_group()
            losing = (
                " It is the admin group: its members stop administering, and only root does until another "
                "group is made the admin group (A)."
                if admin is not None and admin.id == group.id
                else ""
            )
            assigned = self.directory.assignments.list(group_id=group.id, limit=1).total
            self.confirm_then(
                f"Delete group {group.name}?",
                f"Its {group.member_count:,} membership(s) and {assigned:,} assignment(s) go with it, and "
                f"the sessions its members hold through them end.{losing}",
                lambda: groups.delete(group.id, group.version),
                f"Deleted {group.name}",
                confirm_label="Delete",
            )


def group_now(screen: ListScreen, group_id: int) -> Group | None:
    """The group as it is now (None, said, when it is gone)."""
    try:
        return screen.directory.groups.get(group_id)
    except StoreError as exc:
        screen.notify(exc.message, severity="error", markup=False)
        return None


def ask_to_make_admin_group(screen: ListScreen, group: Group) -> None:
    """Confirm, then make ``group`` (as it is now: its members counted now) the admin group."""
    admins = screen.directory.admins
    screen.confirm_then(
        f"Make {group.name} the admin group?",
        f"Its {group.member_count:,} member(s) will administer the directory; members of the "
        "current admin group who are not in it lose that right now.",
        lambda: admins.set_admin_group(group.id),
        f"{group.name} is the admin group",
        confirm_label="Make admin group",
    )


class GroupMembersScreen(ListScreen):
    """A group's members: add with ``n`` (optionally until a date), remove with ``d``."""

    nav_name = "groups"
    noun = "member"
    plural = "members"
    empty_text = "No members: press n to add one."
    filter_fields = "at the start of a member's user name"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "new", "Add member"),
        Binding("d", "delete", "Remove member"),
        Binding("e", "edit", "Change expiry"),
        # The group shown is the one meant (from the palette here it said "select the group, then press A").
        Binding("A", "admin_group", "Make admin group"),
    ]

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group = group
        self.heading = f"Group {group.name}: members"

    def subtitle(self) -> str:
        return self.group.description

    def columns(self) -> list[Column[Membership]]:
        return [
            Column("User name", lambda m: m.user_name, 32),
            Column("Expires", lambda m: m.expires_at or "never"),
            Column("Added", lambda m: m.created_at, 20),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Membership]:
        return self.directory.groups.members(
            self.group.id, filter=filter, after=after, offset=offset, limit=limit
        )

    def open_item(self, item: Membership) -> None:
        from tui.screens.user_detail import UserDetailScreen

        self.app.push_screen(UserDetailScreen(item.user_id))

    def action_new(self) -> None:
        users, groups, group = self.directory.users, self.directory.groups, self.group
        admin_grant = AdminGrantCheck(self.directory.admins.admin_group_id)

        def save(values: dict[str, str], version: int | None) -> Any:
            user = lookup_by_name(users.get_by_name, values["userName"], "userName")
            admin_grant.check(group, user, "userName")
            try:
                return groups.add_member(group.id, user.id, expires_at=values["expiresAt"].strip() or None)
            except AlreadyExists as exc:  # the way to what they came for
                raise ValidationError(
                    f"userName: {exc.message}: to change when that ends, select them in the list and press e",
                    "userName",
                ) from None

        self.open_form(
            FormModal(
                f"Add a member to {group.name}",
                [
                    FormField(
                        "userName",
                        "User name",
                        placeholder="user name (→ completes)",
                        suggester=NameSuggester(users.complete),
                    ),
                    FormField(
                        "expiresAt", "Expires (optional)", placeholder="2027-01-31 or 2027-01-31T18:00:00Z"
                    ),
                ],
                save,
            ),
            "Member added",
        )

    def action_admin_group(self) -> None:
        if (group := group_now(self, self.group.id)) is not None:
            ask_to_make_admin_group(self, group)

    @on_current_row
    def action_edit(self) -> None:
        """When the selected membership ends (empty: never), its grants with it."""
        if (membership := self.selected()) is None:
            return
        users, groups, group = self.directory.users, self.directory.groups, self.group
        admin_grant = AdminGrantCheck(self.directory.admins.admin_group_id)

        def save(values: dict[str, str], version: int | None) -> Any:
            expires_at = parse_moment(values["expiresAt"].strip() or None, "expiresAt")
            current = membership.expires_at
            # Later than it was (or never): an administrator kept longer, as adding one makes one.
            if current is not None and (expires_at is None or expires_at > current):
                kept = "keep them an administrator longer"
                admin_grant.check(group, users.get(membership.user_id), "expiresAt", kept)
            return groups.set_expiry(group.id, membership.user_id, expires_at, version)

        def load() -> tuple[dict[str, str], int]:
            now = groups.membership(group.id, membership.user_id)
            return {"expiresAt": now.expires_at or ""}, now.version

        self.open_form(
            FormModal(
                f"When {membership.user_name}'s membership of {group.name} ends",
                [
                    FormField(
                        "expiresAt",
                        "Expires",
                        membership.expires_at or "",
                        "empty: never · 2027-01-31 or 2027-01-31T18:00:00Z",
                    ),
                ],
                save,
                version=membership.version,
                load=load,
            ),
            "Expiry changed",
        )

    @on_current_row
    def action_delete(self) -> None:
        if (membership := self.selected()) is not None:
            groups = self.directory.groups
            self.confirm_then(
                f"Remove {membership.user_name} from {membership.group_name}?",
                "Access granted through this group ends.",
                lambda: groups.remove_member(membership.group_id, membership.user_id),
                f"Removed {membership.user_name}",
                confirm_label="Remove",
            )
