"""Long-term access keys: at most two per user, ``AKIA…`` id + 40-character secret shown once, stored hashed.

As in IAM: a key is Active or Inactive, and carries its creation and last-use times. Rotation is three steps,
each its own change (:meth:`AccessKeyService.rotation_step` says which is next):

1. create a second key and move the applications to it;
2. deactivate the old key (reversible: activate it again if something still used it);
3. delete the old key.

Root can hold no access key. A key is deleted only once inactive, so removing one is always the second,
deliberate step after switching it off.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from store.clock import from_text
from store.crypto import new_access_key, secret_matches
from store.crypto.tokens import hash_secret
from store.errors import Conflict, NotFound, Refused
from store.names import quoted
from store.rights import Rule
from store.users import User

if TYPE_CHECKING:
    from store.directory import Directory

MAX_KEYS_PER_USER = 2
WHAT = "manage another user's access keys"
# Keys older than this, or not used for this long, are flagged on the dashboard and in the report.
STALE_AFTER = timedelta(days=90)
# Compared against when a key id is unknown, so an unknown id costs what a known one does.
_DUMMY_HASH = hash_secret("no such access key")


@dataclass(frozen=True)
class AccessKey:
    id: int
    user_id: int
    key_id: str
    status: str  # active | inactive
    created_at: str
    last_used_at: str | None
    version: int

    @property
    def active(self) -> bool:
        return self.status == "active"

    @staticmethod
    def from_row(row: sqlite3.Row | Mapping[str, Any]) -> AccessKey:
        return AccessKey(
            row["id"],
            row["user_id"],
            row["key_id"],
            row["status"],
            row["created_at"],
            row["last_used_at"],
            row["version"],
        )

    def age_days(self, now: str) -> int:
        return (from_text(now) - from_text(self.created_at)).days

    def stale(self, now: str) -> bool:
        """Active and either older than 90 days or not used in the last 90 (never
        used counts from creation)."""
        if not self.active:
            return False
        moment = from_text(now)
        used = from_text(self.last_used_at or self.created_at)
        return moment - from_text(self.created_at) >= STALE_AFTER or moment - used >= STALE_AFTER


@dataclass(frozen=True)
class NewAccessKey:
    """A key just created. The secret exists only here: show it once, never store or log it."""

    key: AccessKey
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class RotationStep:
    """What the rotation flow does next for a user's keys: ``create``, ``deactivate`` or ``delete`` ``key``;
    ``none`` when there is nothing to rotate (no key yet). ``explanation`` says it in a sentence."""

    action: str
    key: AccessKey | None
    explanation: str


class AccessKeyService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def _audit(self, conn: sqlite3.Connection, action: str, user: sqlite3.Row, **extra: object) -> None:
        self.directory.record(
            conn,
            at=self.directory.now_text(),
            action=action,
            target=f"user:{user['user_name']}",
            extra=extra,
        )

    def _user(self, conn: sqlite3.Connection, user_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"user #{user_id} does not exist (it may have been deleted)")
        return row

    def _key(self, conn: sqlite3.Connection, key_row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM access_keys WHERE id = ?", (key_row_id,)
        ).fetchone()
        if row is None:
            raise NotFound("that access key does not exist (it may have been deleted)")
        return row

    def _owner(self, key_row_id: int) -> int | None:
        """Whose key this is (a key never changes hands), for the rights check before the change reads it."""
        row = self.db.query_tuple("SELECT user_id FROM access_keys WHERE id = ?", (key_row_id,))
        return None if row is None else int(row[0])

    def list(self, user_id: int) -> list[AccessKey]:
        """The user's keys, oldest first."""
        with self.db.read():
            rows = self.db.introspect()["access_keys"].rows_where(
                "user_id = ?", [user_id], order_by="created_at, id"
            )
            return [AccessKey.from_row(row) for row in rows]

    def get(self, key_row_id: int) -> AccessKey:
        with self.db.read() as conn:
            return AccessKey.from_row(self._key(conn, key_row_id))

    def create(self, user_id: int) -> NewAccessKey:
        """A new active key for the user. Refused for root and for a user who already has two."""
        with self.directory.change(Rule.SELF, subject=user_id, what=WHAT) as conn:
            user = self._user(conn, user_id)
            if user["is_root"]:
                raise Refused("root cannot hold access keys: create a user for programmatic access")
            count = conn.execute("SELECT count(*) FROM access_keys WHERE user_id = ?", (user_id,)).fetchone()[
                0
            ]
            if count >= MAX_KEYS_PER_USER:
                raise Refused(
                    f"{quoted(user['user_name'])} already has {MAX_KEYS_PER_USER} access keys, the "
                    "most a user may hold: deactivate and delete one first"
                )
            pair = new_access_key()
            cursor = conn.execute(
                "INSERT INTO access_keys (user_id, key_id, secret_hash, status, created_at) "
                "VALUES (?, ?, ?, 'active', ?)",
                (user_id, pair.access_key_id, hash_secret(pair.secret_access_key), self.directory.now_text()),
            )
            key = AccessKey.from_row(self._key(conn, cursor.lastrowid or 0))
            self._audit(conn, "access_key.create", user, access_key_id=key.key_id)
            return NewAccessKey(key, pair.secret_access_key)

    def set_status(self, key_row_id: int, version: int, active: bool) -> AccessKey:
        """Activate or deactivate a key (``version`` as read: a lost race raises Conflict)."""
        status = "active" if active else "inactive"
        with self.directory.change(Rule.SELF, subject=self._owner(key_row_id), what=WHAT) as conn:
            row = self._key(conn, key_row_id)
            self._check_version(row, version)
            if row["status"] == status:
                return AccessKey.from_row(row)
            conn.execute(
                "UPDATE access_keys SET status = ?, version = version + 1 WHERE id = ?", (status, key_row_id)
            )
            user = self._user(conn, row["user_id"])
            self._audit(
                conn,
                "access_key.activate" if active else "access_key.deactivate",
                user,
                access_key_id=row["key_id"],
            )
            return AccessKey.from_row(self._key(conn, key_row_id))

    def deactivate(self, key_row_id: int, version: int) -> AccessKey:
        return self.set_status(key_row_id, version, False)

    def activate(self, key_row_id: int, version: int) -> AccessKey:
        return self.set_status(key_row_id, version, True)

    def delete(self, key_row_id: int, version: int) -> None:
        """Delete an inactive key. An active one is refused: deactivate it first
        (the rotation's second step)."""
        with self.directory.change(Rule.SELF, subject=self._owner(key_row_id), what=WHAT) as conn:
            row = self._key(conn, key_row_id)
            self._check_version(row, version)
            if row["status"] == "active":
                raise Refused(
                    f"access key {row['key_id']} is still active: deactivate it first, check that nothing "
                    "broke, then delete it"
                )
            conn.execute("DELETE FROM access_keys WHERE id = ?", (key_row_id,))
            user = self._user(conn, row["user_id"])
            self._audit(conn, "access_key.delete", user, access_key_id=row["key_id"])

    @staticmethod
    def _check_version(row: sqlite3.Row, version: int) -> None:
        if row["version"] != version:
            raise Conflict(
                f"access key {row['key_id']} was changed by someone else since you read it; nothing "
                "was saved. Reload to see their change.",
                current=AccessKey.from_row(row),
            )

    def rotation_step(self, user_id: int) -> RotationStep:
        """The next step of the rotation flow for the user's keys (see the module docstring)."""
        keys = self.list(user_id)
        if not keys:
            return RotationStep("none", None, "no access key to rotate: create one")
        if len(keys) == 1:
            return RotationStep(
                "create",
                keys[0],
                f"create a second key, then move your applications from {keys[0].key_id} to it",
            )
        older, newer = keys
        if not newer.active and older.active:
            older, newer = newer, older  # the inactive one is the one on its way out
        if older.active:
            return RotationStep(
                "deactivate",
                older,
                f"deactivate {older.key_id} once nothing uses it (it can be activated again)",
            )
        return RotationStep("delete", older, f"delete the inactive key {older.key_id}")

    def authenticate(self, access_key_id: str, secret: str) -> User:
        """The user an access key belongs to, if the key is active, the secret right and the user active;
        records the key's last use. Raises Refused with one message whatever was wrong."""
        refused = Refused("the access key is not valid")
        with self.directory.change(Rule.AUTHENTICATION) as conn:
            row = conn.execute(
                "SELECT k.*, u.status AS user_status FROM access_keys k JOIN users u "
                "ON u.id = k.user_id WHERE k.key_id = ?",
                (access_key_id,),
            ).fetchone()
            matches = secret_matches(secret, row["secret_hash"] if row is not None else _DUMMY_HASH)
            if row is None or not matches or row["status"] != "active" or row["user_status"] != "active":
                raise refused
            conn.execute(
                "UPDATE access_keys SET last_used_at = ? WHERE id = ?", (self.directory.now_text(), row["id"])
            )
            return User.from_row(self._user(conn, row["user_id"]))
