"""The Permission sets screen: policies and session durations."""

from __future__ import annotations

from typing import Any

from store.permission_sets import PermissionSet
from store.service import Page
from tui.screens.base import ListScreen
from tui.screens.form import FormField, FormModal
from tui.widgets.paged_table import Column

EXAMPLE_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}
  ]
}"""


def permission_set_values(pset: PermissionSet | None) -> dict[str, str]:
    if pset is None:
        return {"name": "", "description": "", "sessionDuration": "PT1H", "managedPolicies": "",
                "inlinePolicy": EXAMPLE_POLICY}
    return {"name": pset.name, "description": pset.description, "sessionDuration": pset.session_duration_iso,
            "managedPolicies": ", ".join(pset.managed_policies), "inlinePolicy": pset.inline_policy or ""}


def permission_set_form(screen: Any, pset: PermissionSet | None) -> FormModal:
    sets = screen.directory.permission_sets

    def save(values: dict[str, str], version: int | None) -> PermissionSet:
        managed = [name.strip() for name in values["managedPolicies"].split(",") if name.strip()]
        inline = values["inlinePolicy"].strip() or None
        if pset is None:
            return sets.create(values["name"], description=values["description"],
                               session_duration=values["sessionDuration"].strip(), inline_policy=inline,
                               managed_policies=managed)
        return sets.update(pset.id, version or pset.version, name=values["name"], description=values["description"],
                           session_duration=values["sessionDuration"].strip(), inline_policy=inline,
                           clear_inline=inline is None, managed_policies=managed)

    def load() -> tuple[dict[str, str], int]:
        current = sets.get(pset.id)  # type: ignore[union-attr]
        return permission_set_values(current), current.version

    def describe(item: Any) -> str:
        if not isinstance(item, PermissionSet):
            return ""
        return f"Saved now: {item.name}  ·  session {item.session_duration_iso}  ·  {item.description or '—'}"

    values = permission_set_values(pset)
    return FormModal("New permission set" if pset is None else f"Edit permission set {pset.name}", [
        FormField("name", "Name", values["name"], "ReadOnly (letters, digits, + = , . @ - _)"),
        FormField("description", "Description", values["description"]),
        FormField("sessionDuration", "Session duration", values["sessionDuration"],
                  "PT1H, PT8H, PT1H30M or seconds"),
        FormField("managedPolicies", "Managed policies", values["managedPolicies"]),
        FormField("inlinePolicy", "Inline policy (JSON)", values["inlinePolicy"], kind="multiline"),
    ], save, version=pset.version if pset else None, load=load if pset else None, describe=describe)


class PermissionSetsScreen(ListScreen):
    nav_name = "permission_sets"
    heading = "Permission sets"
    noun = "permission set"
    plural = "permission sets"

    def columns(self) -> list[Column[PermissionSet]]:
        return [Column("Name", lambda p: p.name, 24), Column("Session", lambda p: p.session_duration_iso, 9),
                Column("Managed policies", lambda p: ", ".join(p.managed_policies) or "—", 24),
                Column("Inline", lambda p: "yes" if p.inline_policy else "—", 6),
                Column("Description", lambda p: p.description)]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[PermissionSet]:
        return self.directory.permission_sets.list(filter=filter, after=after, offset=offset, limit=limit)

    def action_new(self) -> None:
        self.open_form(permission_set_form(self, None), "Permission set created")

    def action_edit(self) -> None:
        if (pset := self.selected()) is not None:
            self.open_form(permission_set_form(self, pset), "Permission set saved")

    def action_delete(self) -> None:
        if (pset := self.selected()) is not None:
            sets = self.directory.permission_sets
            self.confirm_then(f"Delete permission set {pset.name}?",
                              "Every assignment of it goes with it, and its sessions end.",
                              lambda: sets.delete(pset.id, pset.version), f"Deleted {pset.name}",
                              confirm_label="Delete")
