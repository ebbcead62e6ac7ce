"""The policy library: managed policies that permission sets attach by name.

Built-in policies (AdministratorAccess, PowerUserAccess, ReadOnlyAccess; seeded by schema V3, ``builtin = 1``)
are read-only: copy one into a new policy to adapt it. Admin-defined policies are created, edited and deleted
like every other concept (versioned, audited). A policy still attached to a permission set cannot be deleted:
the refusal names the sets to detach it from first.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from store import names
from store.errors import AlreadyExists, NotFound, Refused, ValidationError
from store.names import quoted
from store.policy_documents import check_managed_policy_text
from store.service import PAGE_SIZE, Page, Service

# The permission sets that attach a policy, in name order, separated by U+001F (never in a name).
_ATTACHED = (
    "(SELECT group_concat(name, char(31)) FROM (SELECT ps.name FROM permission_set_policies psp "
    "JOIN permission_sets ps ON ps.id = psp.permission_set_id WHERE psp.policy_id = policies.id "
    "ORDER BY ps.name_key)) AS attached_names"
)
LIBRARY_MAX = 1000  # what pickers list at most: a library is tens of policies, not thousands

# The policy row's writes, one definition each: the service runs them row by row, the import with executemany.
# Both only ever add admin-defined policies (built-ins are seeded by the schema).
INSERT = (
    "INSERT INTO policies (name, name_key, description, document, builtin, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, 0, ?, ?)"
)
UPDATE_FROM_IMPORT = (
    "UPDATE policies SET name = ?, description = ?, document = ?, updated_at = ?, version = version + 1 "
    "WHERE id = ?"
)


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    description: str
    document: str
    builtin: bool
    attached_to: tuple[str, ...]  # the permission sets that attach it, by name
    created_at: str
    updated_at: str
    version: int

    @property
    def kind(self) -> str:
        return "built-in" if self.builtin else "custom"

    @staticmethod
    def from_row(row: sqlite3.Row) -> Policy:
        # A Row: `in row` would look at its values.
        attached = row["attached_names"] if "attached_names" in row.keys() else None
        return Policy(
            row["id"],
            row["name"],
            row["description"],
            row["document"],
            bool(row["builtin"]),
            tuple(attached.split("\x1f")) if attached else (),
            row["created_at"],
            row["updated_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "document": self.document}


class PolicyService(Service[Policy]):
    table = "policies"
    noun = "policy"
    from_row = Policy.from_row

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT *, {_ATTACHED} FROM policies WHERE id = ?", (row_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"policy #{row_id} does not exist (it may have been deleted)")
        return row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> str:
        key = names.canonical(name)
        row = conn.execute("SELECT id, name, builtin FROM policies WHERE name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            kind = "a built-in policy" if row["builtin"] else "a policy"
            raise AlreadyExists(f"name: {kind} named {quoted(row['name'])} already exists", "name")
        return key

    @staticmethod
    def _guard(row: sqlite3.Row, doing: str) -> None:
        if row["builtin"]:
            raise Refused(
                f"{row['name']} is a built-in policy and cannot be {doing}: "
                "copy it into a new policy to adapt it"
            )

    # -- reading ----------------------------------------------------------------------------------------

    def get_by_name(self, name: str) -> Policy:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT *, {_ATTACHED} FROM policies WHERE name_key = ?", (names.canonical(name),)
            ).fetchone()
        if row is None:
            raise NotFound(f"no policy named {quoted(name)} in the policy library")
        return Policy.from_row(row)

    def list(
        self, *, filter: str = "", after: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> Page[Policy]:
        """The library by name; ``filter`` matches name or description anywhere."""
        return self._list_named(filter, after, offset, limit, select=f"*, {_ATTACHED}")

    def library(self) -> builtins.list[Policy]:
        """Every policy (built-ins first, then by name), for pickers."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT *, {_ATTACHED} FROM policies ORDER BY builtin DESC, name_key LIMIT ?", (LIBRARY_MAX,)
            ).fetchall()
        return [Policy.from_row(row) for row in rows]

    def documents(self, policy_names: Sequence[str]) -> builtins.list[tuple[str, str]]:
        """``(name, document)`` of each named policy, in the order given; ValidationError for an unknown one
        (field ``managedPolicies[i]``, as the permission-set service words it)."""
        found: builtins.list[tuple[str, str]] = []
        with self.db.read() as conn:
            for index, name in enumerate(policy_names):
                row = conn.execute(
                    "SELECT name, document FROM policies WHERE name_key = ?", (names.canonical(name),)
                ).fetchone()
                if row is None:
                    raise ValidationError(
                        f"managedPolicies[{index}]: no policy named {quoted(name)} in the policy library",
                        f"managedPolicies[{index}]",
                    )
                found.append((row["name"], row["document"]))
        return found

    # -- changing ---------------------------------------------------------------------------------------

    def create(self, name: str, *, document: str, description: str = "") -> Policy:
        name = names.policy_name(name)
        description = names.display_text(description, "description", names.DESCRIPTION_MAX)
        text = check_managed_policy_text(document)
        with self.directory.change() as conn:
            key = self._check_name_free(conn, name)
            now = self._now()
            cursor = conn.execute(INSERT, (name, key, description, text, now, now))
            created = Policy.from_row(self._row(conn, cursor.lastrowid or 0))
            self._audit(conn, "policy.create", f"policy:{created.name}", after=created.audit_view())
            return created

    def update(
        self,
        policy_id: int,
        version: int,
        *,
        name: str | None = None,
        description: str | None = None,
        document: str | None = None,
    ) -> Policy:
        """Change an admin-defined policy. Every permission set attaching it grants the new document from the
        next decision on (compiled permission sets are keyed by the policy's version)."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = names.policy_name(name)
        if description is not None:
            changes["description"] = names.display_text(description, "description", names.DESCRIPTION_MAX)
        if document is not None:
            changes["document"] = check_managed_policy_text(document)
        with self.directory.change() as conn:
            row = self._row(conn, policy_id)
            self._guard(row, "edited")
            self._check_version(conn, row, version)
            before = Policy.from_row(row)
            if "name" in changes:
                changes["name_key"] = self._check_name_free(conn, changes["name"], policy_id)
            after = Policy.from_row(self._versioned_update(conn, policy_id, version, changes))
            self._audit(
                conn,
                "policy.update",
                f"policy:{after.name}",
                before=before.audit_view(),
                after=after.audit_view(),
                extra=None,
            )
            return after

    def delete(self, policy_id: int, version: int) -> None:
        with self.directory.change() as conn:
            row = self._row(conn, policy_id)
            self._guard(row, "deleted")
            self._check_version(conn, row, version)
            policy = Policy.from_row(row)
            if policy.attached_to:
                sets = ", ".join(policy.attached_to)
                plural = "s" if len(policy.attached_to) > 1 else ""
                raise Refused(
                    f"{policy.name} is attached to permission set{plural} {sets}: detach it there first"
                )
            conn.execute("DELETE FROM policies WHERE id = ?", (policy_id,))
            self._audit(conn, "policy.delete", f"policy:{policy.name}", before=policy.audit_view())
