"""Assignments: a user or group may assume a permission set in an account, optionally until an expiry."""

from __future__ import annotations

import builtins  # annotations: `list` in AssignmentService is its method
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from store import clock, names
from store.errors import AlreadyExists, NotFound, Refused, ValidationError
from store.service import PAGE_SIZE, Page, Service, joined_page, like_contains

if TYPE_CHECKING:
    from store.directory import Directory

PrincipalType = Literal["user", "group"]

# The assignment row's writes, one definition each: the service runs them row by row, the import with
# executemany. A row names a user or a group: the other column is NULL.
INSERT = (
    "INSERT INTO assignments (user_id, group_id, account_id, permission_set_id, expires_at, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# The service's edit goes through Service._versioned_update (checks the version the caller read); the import's
# plan is made again under the write lock if the directory changed since it was read.
UPDATE_EXPIRY_FROM_IMPORT = (
    "UPDATE assignments SET expires_at = ?, updated_at = ?, version = version + 1 WHERE id = ?"
)


def insert_values(
    principal_type: str,
    principal_id: int,
    account_id: int,
    permission_set_id: int,
    expires_at: str | None,
    now: str,
) -> tuple[Any, ...]:
    """:data:`INSERT`'s parameters."""
    user_id, group_id = (principal_id, None) if principal_type == "user" else (None, principal_id)
    return (user_id, group_id, account_id, permission_set_id, expires_at, now, now)


_SELECT = (
    "SELECT a.*, CASE WHEN a.user_id IS NOT NULL THEN 'user' ELSE 'group' END AS principal_type, "
    "coalesce(u.user_name, g.name) AS principal_name, "
    "coalesce(u.user_name_key, g.name_key) AS principal_key, "
    "ac.name AS account_name, ps.name AS permission_set_name "
    "FROM assignments a LEFT JOIN users u ON u.id = a.user_id LEFT JOIN groups g ON g.id = a.group_id "
    "JOIN accounts ac ON ac.id = a.account_id JOIN permission_sets ps ON ps.id = a.permission_set_id"
)


@dataclass(frozen=True)
class Assignment:
    id: int
    principal_type: PrincipalType
    principal_id: int
    principal_name: str
    account_id: int
    account_name: str
    permission_set_id: int
    permission_set_name: str
    expires_at: str | None
    created_at: str
    updated_at: str
    version: int

    def expired(self, now: str) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @staticmethod
    def from_row(row: sqlite3.Row) -> Assignment:
        principal_id = row["user_id"] if row["principal_type"] == "user" else row["group_id"]
        return Assignment(
            row["id"],
            row["principal_type"],
            principal_id,
            row["principal_name"],
            row["account_id"],
            row["account_name"],
            row["permission_set_id"],
            row["permission_set_name"],
            row["expires_at"],
            row["created_at"],
            row["updated_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        return {
            "principal": f"{self.principal_type}:{self.principal_name}",
            "account": self.account_name,
            "permission_set": self.permission_set_name,
            "expires_at": self.expires_at,
        }


class AssignmentService(Service[Assignment]):
    table = "assignments"
    noun = "assignment"
    sort_column = "id"
    from_row = Assignment.from_row

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(f"{_SELECT} WHERE a.id = ?", (row_id,)).fetchone()
        if row is None:
            raise NotFound(f"assignment #{row_id} does not exist (it may have been removed)")
        return row

    def create(
        self,
        principal_type: PrincipalType,
        principal_id: int,
        account_id: int,
        permission_set_id: int,
        *,
        expires_at: str | None = None,
    ) -> Assignment:
        if principal_type not in ("user", "group"):
            raise ValidationError("principal: must be a user or a group", "principal")
        expiry = clock.parse_moment(expires_at, "expiresAt")
        if expiry is not None and expiry <= self._now():
            raise ValidationError("expiresAt: must be in the future", "expiresAt")
        with self.directory.change() as conn:
            if principal_type == "user":
                user = conn.execute("SELECT is_root FROM users WHERE id = ?", (principal_id,)).fetchone()
                if user is None:
                    raise NotFound(f"user #{principal_id} does not exist")
                if user["is_root"]:
                    raise Refused("root holds no assignments: assign access to an admin user instead")
            elif conn.execute("SELECT 1 FROM groups WHERE id = ?", (principal_id,)).fetchone() is None:
                raise NotFound(f"group #{principal_id} does not exist")
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
                raise NotFound(f"account #{account_id} does not exist")
            if (
                conn.execute("SELECT 1 FROM permission_sets WHERE id = ?", (permission_set_id,)).fetchone()
                is None
            ):
                raise NotFound(f"permission set #{permission_set_id} does not exist")
            now = self._now()
            try:
                cursor = conn.execute(
                    INSERT,
                    insert_values(principal_type, principal_id, account_id, permission_set_id, expiry, now),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    "that principal already has this permission set in this account"
                ) from None
            created = Assignment.from_row(self._row(conn, cursor.lastrowid or 0))
            self._audit(
                conn, "assignment.create", f"account:{created.account_name}", after=created.audit_view()
            )
            return created

    def list(
        self,
        *,
        filter: str = "",
        after: str | None = None,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        user_id: int | None = None,
        group_id: int | None = None,
        account_id: int | None = None,
        permission_set_id: int | None = None,
    ) -> Page[Assignment]:
        where: list[str] = []
        params: list[object] = []
        for column, value in (
            ("a.user_id", user_id),
            ("a.group_id", group_id),
            ("a.account_id", account_id),
            ("a.permission_set_id", permission_set_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if filter.strip():
            pattern = like_contains(names.canonical(filter.strip()))
            where.append(
                "(coalesce(u.user_name_key, g.name_key) LIKE ? ESCAPE '\\' OR ac.name_key LIKE ? "
                "ESCAPE '\\' OR ps.name_key LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern, pattern]
        clause = " AND ".join(where) if where else "1"
        with self.db.read() as conn:
            return joined_page(
                conn,
                _SELECT,
                clause,
                params,
                id_column="a.id",
                after=after,
                offset=offset,
                limit=limit,
                from_row=Assignment.from_row,
            )

    def for_user(self, user_id: int) -> builtins.list[Assignment]:
        """Assignments that name the user directly or one of their groups (expired ones included, flagged)."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE a.user_id = ? OR a.group_id IN (SELECT group_id FROM memberships "
                "WHERE user_id = ?) ORDER BY ac.name_key, ps.name_key",
                (user_id, user_id),
            ).fetchall()
        return [Assignment.from_row(row) for row in rows]

    def update_expiry(self, assignment_id: int, version: int, expires_at: str | None) -> Assignment:
        expiry = clock.parse_moment(expires_at, "expiresAt")
        if expiry is not None and expiry <= self._now():
            raise ValidationError("expiresAt: must be in the future", "expiresAt")
        with self.directory.change() as conn:
            before = Assignment.from_row(self._row(conn, assignment_id))
            self._check_version(conn, self._row(conn, assignment_id), version)
            self._versioned_update(conn, assignment_id, version, {"expires_at": expiry})
            after = Assignment.from_row(self._row(conn, assignment_id))
            ended = self._end_sessions(conn, after, "assignment expiry brought forward")
            self._audit(
                conn,
                "assignment.update",
                f"account:{after.account_name}",
                before=before.audit_view(),
                after=after.audit_view(),
                extra={"sessions_ended": ended} if ended else None,
            )
            return after

    def delete(self, assignment_id: int, version: int) -> None:
        with self.directory.change() as conn:
            row = self._row(conn, assignment_id)
            self._check_version(conn, row, version)
            removed = Assignment.from_row(row)
            conn.execute("DELETE FROM assignments WHERE id = ?", (assignment_id,))
            ended = self._end_sessions(conn, removed, "assignment removed")
            self._audit(
                conn,
                "assignment.delete",
                f"account:{removed.account_name}",
                before=removed.audit_view(),
                extra={"sessions_ended": ended} if ended else None,
            )

    def _end_sessions(self, conn: sqlite3.Connection, assignment: Assignment, reason: str) -> int:
        return end_sessions(
            self.directory,
            conn,
            reason,
            assignment.principal_type,
            assignment.principal_id,
            assignment.account_id,
            assignment.permission_set_id,
        )


def end_sessions(
    directory: Directory,
    conn: sqlite3.Connection,
    reason: str,
    principal_type: str,
    principal_id: int,
    account_id: int,
    permission_set_id: int,
) -> int:
    """End the sessions an assignment granted that nothing else grants, or no later than what still does
    (same transaction): after it is removed or its expiry is brought forward, by an admin or an import."""
    if principal_type == "user":
        users: list[int] = [principal_id]
    else:
        users = [
            r[0] for r in conn.execute("SELECT user_id FROM memberships WHERE group_id = ?", (principal_id,))
        ]
    return directory.sessions.end_ungranted(
        conn, reason, user_ids=users, account_id=account_id, permission_set_id=permission_set_id
    )
