"""Permission sets: an inline policy, attached managed policies, an optional boundary, a session duration."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from store import names
from store.durations import DEFAULT_SECONDS, format_duration, parse_duration
from store.errors import AlreadyExists, NotFound, ValidationError
from store.policy_documents import check_policy_text
from store.service import PAGE_SIZE, Page, Service, like_contains

_POLICY_NAMES = (
    "(SELECT group_concat(name, char(31)) FROM (SELECT p.name FROM permission_set_policies psp "
    "JOIN policies p ON p.id = psp.policy_id WHERE psp.permission_set_id = permission_sets.id "
    "ORDER BY p.name_key)) AS managed_policy_names"
)


@dataclass(frozen=True)
class PermissionSet:
    id: int
    name: str
    description: str
    session_duration: int
    inline_policy: str | None
    boundary_policy: str | None
    managed_policies: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    version: int = 1

    @property
    def session_duration_iso(self) -> str:
        return format_duration(self.session_duration)

    @staticmethod
    def from_row(row: sqlite3.Row) -> PermissionSet:
        managed = row["managed_policy_names"]
        return PermissionSet(row["id"], row["name"], row["description"], row["session_duration"],
                             row["inline_policy"], row["boundary_policy"],
                             managed.split("\x1f") if managed else [], row["created_at"], row["updated_at"],
                             row["version"])

    def audit_view(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "session_duration": self.session_duration_iso, "inline_policy": self.inline_policy,
                "boundary_policy": self.boundary_policy, "managed_policies": self.managed_policies}


class PermissionSetService(Service[PermissionSet]):
    table = "permission_sets"
    noun = "permission set"
    from_row = PermissionSet.from_row

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row = conn.execute(f"SELECT *, {_POLICY_NAMES} FROM permission_sets WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise NotFound(f"permission set #{row_id} does not exist (it may have been deleted)")
        return row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> str:
        key = names.canonical(name)
        row = conn.execute("SELECT id, name FROM permission_sets WHERE name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            raise AlreadyExists(f"name: a permission set named {row['name']!r} already exists", "name")
        return key

    def _attach(self, conn: sqlite3.Connection, permission_set_id: int, policy_names: list[str]) -> None:
        conn.execute("DELETE FROM permission_set_policies WHERE permission_set_id = ?", (permission_set_id,))
        for index, policy in enumerate(policy_names):
            row = conn.execute("SELECT id FROM policies WHERE name_key = ?", (names.canonical(policy),)).fetchone()
            if row is None:
                raise ValidationError(
                    f"managedPolicies[{index}]: no policy named {policy!r} in the policy library",
                    f"managedPolicies[{index}]",
                )
            conn.execute("INSERT OR IGNORE INTO permission_set_policies VALUES (?, ?)", (permission_set_id, row[0]))

    def create(self, name: str, *, description: str = "", session_duration: int | str = DEFAULT_SECONDS,
               inline_policy: str | None = None, managed_policies: list[str] | None = None,
               boundary_policy: str | None = None) -> PermissionSet:
        name = names.permission_set_name(name)
        description = names.display_text(description, "description", names.DESCRIPTION_MAX)
        seconds = parse_duration(session_duration)
        inline = check_policy_text(inline_policy, "inlinePolicy")
        boundary = check_policy_text(boundary_policy, "permissionsBoundary")
        with self.db.write() as conn:
            key = self._check_name_free(conn, name)
            now = self._now()
            cursor = conn.execute(
                "INSERT INTO permission_sets (name, name_key, description, session_duration, inline_policy, "
                "boundary_policy, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, key, description, seconds, inline, boundary, now, now),
            )
            set_id = cursor.lastrowid or 0
            self._attach(conn, set_id, list(managed_policies or []))
            created = PermissionSet.from_row(self._row(conn, set_id))
            self._audit(conn, "permission_set.create", f"permission_set:{created.name}",
                        after=created.audit_view())
            return created

    def get_by_name(self, name: str) -> PermissionSet:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT *, {_POLICY_NAMES} FROM permission_sets WHERE name_key = ?",
                               (names.canonical(name),)).fetchone()
        if row is None:
            raise NotFound(f"no permission set named {name!r}")
        return PermissionSet.from_row(row)

    def list(self, *, filter: str = "", after: str | None = None, offset: int = 0,
             limit: int = PAGE_SIZE) -> Page[PermissionSet]:
        where, params = [], []
        if filter.strip():
            pattern = like_contains(names.canonical(filter.strip()))
            where.append("(name_key LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        with self.db.read() as conn:
            return self._page(conn, where=where, params=params, after=after, offset=offset, limit=limit,
                              select=f"*, {_POLICY_NAMES}")

    def update(self, permission_set_id: int, version: int, *, name: str | None = None,
               description: str | None = None, session_duration: int | str | None = None,
               inline_policy: str | None = None, managed_policies: list[str] | None = None,
               boundary_policy: str | None = None, clear_inline: bool = False,
               clear_boundary: bool = False) -> PermissionSet:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = names.permission_set_name(name)
        if description is not None:
            changes["description"] = names.display_text(description, "description", names.DESCRIPTION_MAX)
        if session_duration is not None:
            changes["session_duration"] = parse_duration(session_duration)
        if inline_policy is not None or clear_inline:
            changes["inline_policy"] = check_policy_text(inline_policy, "inlinePolicy")
        if boundary_policy is not None or clear_boundary:
            changes["boundary_policy"] = check_policy_text(boundary_policy, "permissionsBoundary")
        with self.db.write() as conn:
            row = self._row(conn, permission_set_id)
            self._check_version(conn, row, version)
            before = PermissionSet.from_row(row)
            if "name" in changes:
                changes["name_key"] = self._check_name_free(conn, changes["name"], permission_set_id)
            attachments_change = managed_policies is not None and [
                names.canonical(p) for p in managed_policies] != [names.canonical(p) for p in before.managed_policies]
            if attachments_change:
                self._attach(conn, permission_set_id, list(managed_policies or []))
            after = PermissionSet.from_row(self._versioned_update(conn, permission_set_id, version, changes,
                                                                  touch=attachments_change))
            self._audit(conn, "permission_set.update", f"permission_set:{after.name}",
                        before=before.audit_view(), after=after.audit_view())
            return after

    def delete(self, permission_set_id: int, version: int) -> None:
        with self.db.write() as conn:
            row = self._row(conn, permission_set_id)
            self._check_version(conn, row, version)
            removed = PermissionSet.from_row(row)
            conn.execute("DELETE FROM permission_sets WHERE id = ?", (permission_set_id,))
            self._audit(conn, "permission_set.delete", f"permission_set:{removed.name}",
                        before=removed.audit_view())
