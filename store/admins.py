"""Who may change the directory: root, and the members of the admin group.

The group is chosen by an admin (``settings['admin_group']`` holds its id). Everyone else who signs in may
use their own access and manage their own credentials, nothing more; members administer only when signed in
with MFA. The check itself is store/rights.py, run by ``Directory.change`` at the start of every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store import rights
from store.errors import NotFound
from store.groups import Group

if TYPE_CHECKING:
    from store.directory import Directory

SETTING = rights.ADMIN_GROUP_SETTING


class AdminService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def admin_group_id(self) -> int | None:
        """The admin group's row id, without reading the group (None: only root administers)."""
        value = self.directory.setting(SETTING)
        return int(value) if value is not None and value.isascii() and value.isdigit() else None

    def admin_group(self) -> Group | None:
        value = self.directory.setting(SETTING)
        if value is None:
            return None
        try:
            return self.directory.groups.get(int(value))
        except NotFound:
            return None  # the group was deleted: nobody but root is an admin until another is chosen

    def set_admin_group(self, group_id: int | None) -> None:
        """Make ``group_id`` the admin group (None: only root administers)."""
        with self.directory.change(what="choose the admin group") as conn:
            name = None
            if group_id is not None:
                row = conn.execute("SELECT name FROM groups WHERE id = ?", (group_id,)).fetchone()
                if row is None:
                    raise NotFound(f"group #{group_id} does not exist")
                name = row[0]
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "value = excluded.value, version = version + 1",
                    (SETTING, str(group_id)),
                )
            else:
                conn.execute("DELETE FROM settings WHERE key = ?", (SETTING,))
            self.directory.record(
                conn,
                at=self.directory.now_text(),
                action="directory.set_admin_group",
                target=f"group:{name}" if name else "group:none",
            )

    def is_admin(self, user_id: int) -> bool:
        """Root, or an active user with a live membership of the admin group (with MFA, they administer)."""
        with self.db.read() as conn:
            return rights.is_admin(conn, user_id, self.directory.now_text())
