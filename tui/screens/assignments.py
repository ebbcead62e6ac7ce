"""The Assignments screen: who may assume which permission set in which account, until when."""

from __future__ import annotations

from store.assignments import Assignment, PrincipalType
from store.service import Page
from tui.screens.base import ListScreen, on_current_row
from tui.screens.form import FormField, FormModal, lookup_by_name
from tui.widgets.paged_table import Column
from tui.widgets.suggesters import NameSuggester


class AssignmentsScreen(ListScreen):
    nav_name = "assignments"
    heading = "Assignments"
    noun = "assignment"
    plural = "assignments"
    filter_fields = "in the user or group, account or permission set name"

    def columns(self) -> list[Column[Assignment]]:
        return [
            Column("Principal", lambda a: f"{a.principal_type}:{a.principal_name}"),
            Column("Account", lambda a: a.account_name, 16),
            Column("Permission set", lambda a: a.permission_set_name, 20),
            Column("Expires", lambda a: a.expires_at or "never", 20),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Assignment]:
        return self.directory.assignments.list(filter=filter, after=after, offset=offset, limit=limit)

    def action_new(self) -> None:
        d = self.directory

        def save(values: dict[str, str], version: int | None) -> Assignment:
            # A choice of exactly these two (the Select has no blank).
            kind: PrincipalType = "user" if values["principalType"] == "user" else "group"
            lookup = d.users.get_by_name if kind == "user" else d.groups.get_by_name
            principal = lookup_by_name(lookup, values["principal"], "principal")
            account = lookup_by_name(d.accounts.get_by_name, values["account"], "account")
            pset = lookup_by_name(d.permission_sets.get_by_name, values["permissionSet"], "permissionSet")
            return d.assignments.create(
                kind, principal.id, account.id, pset.id, expires_at=values["expiresAt"].strip() or None
            )

        self.open_form(
            FormModal(
                "New assignment",
                [
                    FormField(
                        "principalType",
                        "Assign to",
                        "group",
                        kind="choice",
                        choices=[("A group", "group"), ("A user", "user")],
                    ),
                    FormField(
                        "principal",
                        "Group or user name",
                        placeholder="name (→ completes)",
                        suggester=NameSuggester(lambda p: d.groups.complete(p) + d.users.complete(p)),
                    ),
                    FormField("account", "Account", suggester=NameSuggester(d.accounts.complete)),
                    FormField(
                        "permissionSet", "Permission set", suggester=NameSuggester(d.permission_sets.complete)
                    ),
                    FormField(
                        "expiresAt", "Expires (optional)", placeholder="2027-01-31 or 2027-01-31T18:00:00Z"
                    ),
                ],
                save,
            ),
            "Assignment created",
        )

    @on_current_row
    def action_edit(self) -> None:
        if (assignment := self.selected()) is None:
            return
        assignments = self.directory.assignments

        def save(values: dict[str, str], version: int | None) -> Assignment:
            return assignments.update_expiry(
                assignment.id, version or assignment.version, values["expiresAt"].strip() or None
            )

        def load() -> tuple[dict[str, str], int]:
            current = assignments.get(assignment.id)
            return {"expiresAt": current.expires_at or ""}, current.version

        self.open_form(
            FormModal(
                f"{assignment.principal_type}:{assignment.principal_name} → {assignment.permission_set_name} "
                f"in {assignment.account_name}",
                [
                    FormField(
                        "expiresAt",
                        "Expires (empty: never)",
                        assignment.expires_at or "",
                        "2027-01-31 or 2027-01-31T18:00:00Z",
                    )
                ],
                save,
                version=assignment.version,
                load=load,
            ),
            "Assignment saved",
        )

    @on_current_row
    def action_delete(self) -> None:
        if (assignment := self.selected()) is not None:
            assignments = self.directory.assignments
            self.confirm_then(
                f"Remove {assignment.permission_set_name} in {assignment.account_name} from "
                f"{assignment.principal_type} {assignment.principal_name}?",
                "They can no longer assume it.",
                lambda: assignments.delete(assignment.id, assignment.version),
                "Assignment removed",
                confirm_label="Remove",
            )
