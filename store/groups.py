"""Groups and their memberships. A membership may carry an expiry: time-bound access ends by itself."""

from __future__ import annotations

import builtins  # annotations: `list` in GroupService is its method
import sqlite3
from dataclasses import dataclass
from typing import Any

from store import bulk, clock, names, rights
from store.errors import AlreadyExists, Conflict, NotFound, Refused, ValidationError
from store.names import quoted
from store.service import PAGE_SIZE, Page, Service

# The group and membership writes, one definition each: the service runs them row by row, the import in
# bulk (store.bulk).
COLUMNS = (
    "name",
    "name_key",
    "description",
    "external_id",
    "scim_id",
    "scim_deleted_at",
    "source",
    "import_batch_id",
    "created_at",
    "updated_at",
)
INSERT = bulk.insert_statement("groups", COLUMNS)
UPDATE_FROM_IMPORT = (
    "UPDATE groups SET name = ?, name_key = ?, description = ?, external_id = ?, scim_id = ?, "
    "scim_deleted_at = ?, import_batch_id = ?, updated_at = ?, version = version + 1 WHERE id = ?"
)
MEMBERSHIP_COLUMNS = ("group_id", "user_id", "expires_at", "created_at")
INSERT_MEMBERSHIP = bulk.insert_statement("memberships", MEMBERSHIP_COLUMNS)
SET_MEMBERSHIP_EXPIRY = (
    "UPDATE memberships SET expires_at = ?, version = version + 1 WHERE group_id = ? AND user_id = ?"
)
DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE group_id = ? AND user_id = ?"


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    description: str
    external_id: str | None
    source: str
    member_count: int
    created_at: str
    updated_at: str
    version: int

    @staticmethod
    def from_row(row: sqlite3.Row) -> Group:
        keys = row.keys()
        return Group(
            row["id"],
            row["name"],
            row["description"],
            row["external_id"],
            row["source"],
            row["member_count"] if "member_count" in keys else 0,
            row["created_at"],
            row["updated_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "external_id": self.external_id,
            "source": self.source,
        }


@dataclass(frozen=True)
class Membership:
    group_id: int
    group_name: str
    user_id: int
    user_name: str
    expires_at: str | None
    created_at: str
    version: int

    def expired(self, now: str) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @staticmethod
    def from_row(row: sqlite3.Row) -> Membership:
        return Membership(
            row["group_id"],
            row["group_name"],
            row["user_id"],
            row["user_name"],
            row["expires_at"],
            row["created_at"],
            row["version"],
        )


_MEMBER_COUNT = "(SELECT count(*) FROM memberships m WHERE m.group_id = groups.id) AS member_count"
_MEMBERSHIP_SELECT = (
    "SELECT m.group_id, g.name AS group_name, m.user_id, u.user_name, m.expires_at, m.created_at, m.version "
    "FROM memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id"
)


class GroupService(Service[Group]):
    table = "groups"
    noun = "group"
    from_row = Group.from_row

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT *, {_MEMBER_COUNT} FROM groups WHERE id = ?", (row_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"group #{row_id} does not exist (it may have been deleted)")
        return row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> str:
        key = names.canonical(name)
        row = conn.execute("SELECT id, name FROM groups WHERE name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            raise AlreadyExists(
                f"displayName: a group named {quoted(row['name'])} already exists", "displayName"
            )
        return key

    def create(
        self, name: str, *, description: str = "", external_id: str | None = None, source: str = "local"
    ) -> Group:
        name = names.group_name(name)
        description = names.display_text(description, "description", names.DESCRIPTION_MAX)
        external = names.external_id(external_id)
        with self.directory.change() as conn:
            key = self._check_name_free(conn, name)
            now = self._now()
            cursor = conn.execute(
                INSERT, (name, key, description, external, None, None, source, None, now, now)
            )
            group = Group.from_row(self._row(conn, cursor.lastrowid or 0))
            self._audit(conn, "group.create", f"group:{group.name}", after=group.audit_view())
            return group

    def get_by_name(self, name: str) -> Group:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT *, {_MEMBER_COUNT} FROM groups WHERE name_key = ?", (names.canonical(name),)
            ).fetchone()
        if row is None:
            raise NotFound(f"no group named {quoted(name)}")
        return Group.from_row(row)

    def list(
        self, *, filter: str = "", after: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> Page[Group]:
        return self._list_named(filter, after, offset, limit, select=f"*, {_MEMBER_COUNT}")

    def _guard(self, row: sqlite3.Row) -> None:
        if row["source"] != "local":
            raise Refused(
                f"group {quoted(row['name'])} is managed by the identity provider {quoted(row['source'])}: "
                "change it there and import again"
            )

    def update(
        self, group_id: int, version: int, *, name: str | None = None, description: str | None = None
    ) -> Group:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = names.group_name(name)
        if description is not None:
            changes["description"] = names.display_text(description, "description", names.DESCRIPTION_MAX)
        with self.directory.change() as conn:
            row = self._row(conn, group_id)
            self._guard(row)
            self._check_version(conn, row, version)
            before = Group.from_row(row)
            if "name" in changes:
                changes["name_key"] = self._check_name_free(conn, changes["name"], group_id)
            after = Group.from_row(self._versioned_update(conn, group_id, version, changes))
            self._audit(
                conn,
                "group.update",
                f"group:{after.name}",
                before=before.audit_view(),
                after=after.audit_view(),
            )
            return after

    def delete(self, group_id: int, version: int) -> None:
        with self.directory.change() as conn:
            row = self._row(conn, group_id)
            self._check_version(conn, row, version)
            group = Group.from_row(row)
            members = [
                r[0] for r in conn.execute("SELECT user_id FROM memberships WHERE group_id = ?", (group_id,))
            ]
            was_admin_group = rights.is_admin_group(conn, group_id)
            conn.execute("DELETE FROM groups WHERE id = ?", (group_id,))  # unsets the admin group (V15)
            ended = self.directory.sessions.end_ungranted(conn, "group deleted", user_ids=members)
            extra: dict[str, object] = {"members": group.member_count, "sessions_ended": ended}
            if was_admin_group:
                extra["admin_group"] = "unset: only root administers until another group is chosen"
            self._audit(conn, "group.delete", f"group:{group.name}", before=group.audit_view(), extra=extra)

    # -- memberships ------------------------------------------------------------------------------------

    def add_member(self, group_id: int, user_id: int, *, expires_at: str | None = None) -> Membership:
        expiry = clock.parse_moment(expires_at, "expiresAt")
        with self.directory.change() as conn:
            group = self._row(conn, group_id)
            user = conn.execute("SELECT user_name, is_root FROM users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise NotFound(f"user #{user_id} does not exist (it may have been deleted)")
            if user["is_root"]:
                raise Refused("root belongs to no group: it needs none")
            if expiry is not None and expiry <= self._now():
                raise ValidationError("expiresAt: must be in the future", "expiresAt")
            try:
                conn.execute(INSERT_MEMBERSHIP, (group_id, user_id, expiry, self._now()))
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"{quoted(user['user_name'])} is already a member of {quoted(group['name'])}"
                ) from None
            membership = self._membership(conn, group_id, user_id)
            self._audit(
                conn,
                "group.add_member",
                f"group:{group['name']}",
                after={"user": user["user_name"], "expires_at": expiry},
            )
            return membership

    def set_expiry(
        self, group_id: int, user_id: int, expires_at: str | None, version: int | None = None
    ) -> Membership:
        """Change when a membership ends (None: never); ``version``: the membership as it was read (a change
        made since is a Conflict). Its grants end at the new time."""
        expiry = clock.parse_moment(expires_at, "expiresAt")
        with self.directory.change() as conn:
            before = self._membership(conn, group_id, user_id)
            if version is not None and before.version != version:
                raise Conflict(
                    "this membership was changed by someone else since you opened it; nothing was saved. "
                    "Reload to see their change.",
                    current=before,
                )
            if expiry is not None and expiry <= self._now():
                raise ValidationError(
                    "expiresAt: must be in the future (to end the membership now, remove it)", "expiresAt"
                )
            if expiry == before.expires_at:
                return before
            conn.execute(SET_MEMBERSHIP_EXPIRY, (expiry, group_id, user_id))
            self._audit(
                conn,
                "group.update_member",
                f"group:{before.group_name}",
                before={"user": before.user_name, "expires_at": before.expires_at},
                after={"user": before.user_name, "expires_at": expiry},
            )
            return self._membership(conn, group_id, user_id)

    def remove_member(self, group_id: int, user_id: int) -> None:
        with self.directory.change() as conn:
            membership = self._membership(conn, group_id, user_id)
            conn.execute(DELETE_MEMBERSHIP, (group_id, user_id))
            ended = self.directory.sessions.end_ungranted(conn, "membership removed", user_ids=[user_id])
            self._audit(
                conn,
                "group.remove_member",
                f"group:{membership.group_name}",
                before={"user": membership.user_name, "expires_at": membership.expires_at},
                extra={"sessions_ended": ended} if ended else None,
            )

    def membership(self, group_id: int, user_id: int) -> Membership:
        with self.db.read() as conn:
            return self._membership(conn, group_id, user_id)

    def _membership(self, conn: sqlite3.Connection, group_id: int, user_id: int) -> Membership:
        row = conn.execute(
            f"{_MEMBERSHIP_SELECT} WHERE m.group_id = ? AND m.user_id = ?", (group_id, user_id)
        ).fetchone()
        if row is None:
            raise NotFound("that membership does not exist (it may have been removed)")
        return Membership.from_row(row)

    def members(
        self,
        group_id: int,
        *,
        filter: str = "",
        after: str | None = None,
        offset: int = 0,
        limit: int = PAGE_SIZE,
    ) -> Page[Membership]:
        """A group's members by user name, in keyset pages (a group may hold most of the directory)."""
        where = "m.group_id = ?"
        params: list[object] = [group_id]
        if filter.strip():
            key = names.canonical(filter.strip())
            where += " AND u.user_name_key >= ? AND u.user_name_key < ?"
            params += [key, key + "\U0010ffff"]
        with self.db.read() as conn:
            total = conn.execute(
                f"SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE {where}", params
            ).fetchone()[0]
            sql, page_params = f"{_MEMBERSHIP_SELECT} WHERE {where}", list(params)
            if after is not None:
                sql += " AND u.user_name_key > ?"
                page_params.append(after)
            sql += " ORDER BY u.user_name_key LIMIT ?"
            page_params.append(limit)
            if after is None and offset:
                sql += " OFFSET ?"
                page_params.append(offset)
            rows = conn.execute(sql, page_params).fetchall()
        items = [Membership.from_row(row) for row in rows]
        next_after = names.canonical(items[-1].user_name) if len(items) == limit else None
        return Page(items, total, next_after)

    def groups_of(self, user_id: int) -> builtins.list[Membership]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"{_MEMBERSHIP_SELECT} WHERE m.user_id = ? ORDER BY g.name_key", (user_id,)
            ).fetchall()
        return [Membership.from_row(row) for row in rows]
