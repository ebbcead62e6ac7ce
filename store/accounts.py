"""Accounts: the targets of access (an AWS account, an environment, a system)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from store import names
from store.errors import AlreadyExists, NotFound
from store.names import quoted
from store.service import PAGE_SIZE, Page, Service

# The account row's writes, one definition each: the service runs them row by row, the import with
# executemany.
INSERT = (
    "INSERT INTO accounts (name, name_key, description, status, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
UPDATE_FROM_IMPORT = (
    "UPDATE accounts SET name = ?, description = ?, status = ?, updated_at = ?, version = version + 1 "
    "WHERE id = ?"
)
# A disabled account grants nothing: its sessions end (set_status, and an import that disables it).
END_SESSIONS_OF_DISABLED = (
    "UPDATE sessions SET revoked_at = ?, revoked_reason = 'account disabled' "
    "WHERE account_id = ? AND revoked_at IS NULL"
)


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    description: str
    status: str
    created_at: str
    updated_at: str
    version: int

    @staticmethod
    def from_row(row: sqlite3.Row) -> Account:
        return Account(
            row["id"],
            row["name"],
            row["description"],
            row["status"],
            row["created_at"],
            row["updated_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "status": self.status}


class AccountService(Service[Account]):
    table = "accounts"
    noun = "account"
    from_row = Account.from_row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> str:
        key = names.canonical(name)
        row = conn.execute("SELECT id, name FROM accounts WHERE name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            raise AlreadyExists(f"name: an account named {quoted(row['name'])} already exists", "name")
        return key

    def create(self, name: str, *, description: str = "") -> Account:
        name = names.account_name(name)
        description = names.display_text(description, "description", names.DESCRIPTION_MAX)
        with self.directory.change() as conn:
            key = self._check_name_free(conn, name)
            now = self._now()
            cursor = conn.execute(INSERT, (name, key, description, "active", now, now))
            account = Account.from_row(self._row(conn, cursor.lastrowid or 0))
            self._audit(conn, "account.create", f"account:{account.name}", after=account.audit_view())
            return account

    def get_by_name(self, name: str) -> Account:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM accounts WHERE name_key = ?", (names.canonical(name),)
            ).fetchone()
        if row is None:
            raise NotFound(f"no account named {quoted(name)}")
        return Account.from_row(row)

    def list(
        self, *, filter: str = "", after: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> Page[Account]:
        return self._list_named(filter, after, offset, limit)

    def update(
        self, account_id: int, version: int, *, name: str | None = None, description: str | None = None
    ) -> Account:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = names.account_name(name)
        if description is not None:
            changes["description"] = names.display_text(description, "description", names.DESCRIPTION_MAX)
        with self.directory.change() as conn:
            row = self._row(conn, account_id)
            self._check_version(conn, row, version)
            if "name" in changes:
                changes["name_key"] = self._check_name_free(conn, changes["name"], account_id)
            after = Account.from_row(self._versioned_update(conn, account_id, version, changes))
            self._audit(
                conn,
                "account.update",
                f"account:{after.name}",
                before=Account.from_row(row).audit_view(),
                after=after.audit_view(),
            )
            return after

    def set_status(self, account_id: int, version: int, active: bool) -> Account:
        """A disabled account grants nothing: its sessions end and no new ones are issued."""
        with self.directory.change() as conn:
            row = self._row(conn, account_id)
            self._check_version(conn, row, version)
            status = "active" if active else "disabled"
            after = Account.from_row(self._versioned_update(conn, account_id, version, {"status": status}))
            if not active:
                conn.execute(END_SESSIONS_OF_DISABLED, (self._now(), account_id))
            self._audit(
                conn,
                "account.enable" if active else "account.disable",
                f"account:{after.name}",
                before={"status": row["status"]},
                after={"status": status},
            )
            return after

    def delete(self, account_id: int, version: int) -> None:
        with self.directory.change() as conn:
            row = self._row(conn, account_id)
            self._check_version(conn, row, version)
            account = Account.from_row(row)
            conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
            self._audit(conn, "account.delete", f"account:{account.name}", before=account.audit_view())
