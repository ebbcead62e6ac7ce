"""The policy library: built-in and admin-defined managed policies; create, edit, copy and delete.

Built-ins open read-only (``c`` copies one into a new policy to adapt it). Saving an edit to a policy that
permission sets attach shows who gains or loses what first; deleting one still attached is refused, naming the
sets.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from store.errors import StoreError
from store.policies import Policy
from store.service import Page
from tui.screens.base import ListScreen, on_current_row
from tui.screens.policy_editor import PolicyEditorScreen
from tui.widgets.paged_table import Column


class PoliciesScreen(ListScreen):
    nav_name = "policies"
    heading = "Policy library"
    noun = "policy"
    plural = "policies"
    empty_text = "No policies: press n to write one."

    BINDINGS = [
        Binding("c", "copy", "Copy"),
    ]

    def columns(self) -> list[Column[Policy]]:
        return [
            Column("Name", lambda p: p.name, 26),
            Column("Type", lambda p: p.kind, 9, style=lambda p: "dim" if p.builtin else ""),
            Column("Attached to", lambda p: ", ".join(p.attached_to) or "—", 26),
            Column("Description", lambda p: p.description),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Policy]:
        return self.directory.policies.list(filter=filter, after=after, offset=offset, limit=limit)

    def _open(self, policy: Policy | None, template: Policy | None = None) -> None:
        def closed(item: Any) -> None:
            if item is not None:
                self.reload()

        self.app.push_screen(PolicyEditorScreen(policy, template=template), closed)

    def open_item(self, item: Any) -> None:
        self._open(item)

    def action_new(self) -> None:
        self._open(None)

    @on_current_row
    def action_edit(self) -> None:
        if (policy := self.selected()) is not None:
            self._open(policy)

    @on_current_row
    def action_copy(self) -> None:
        if (policy := self.selected()) is not None:
            self._open(None, template=policy)

    @on_current_row
    def action_delete(self) -> None:
        if (policy := self.selected()) is None:
            return
        try:
            policy = self.directory.policies.get(policy.id)  # attached where now, not when listed
        except StoreError as exc:
            self.notify(exc.message, severity="error", markup=False)
            return
        if policy.builtin:
            self.notify(f"{policy.name} is built-in: it cannot be deleted", severity="warning", markup=False)
            return
        policies = self.directory.policies
        detail = (
            "It is attached to " + ", ".join(policy.attached_to) + ": detach it there first."
            if policy.attached_to
            else "No permission set attaches it."
        )
        self.confirm_then(
            f"Delete policy {policy.name}?",
            detail,
            lambda: policies.delete(policy.id, policy.version),
            f"Deleted {policy.name}",
            confirm_label="Delete",
        )
