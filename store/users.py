"""Users: people and services with a user name. Root is a user row too, flagged and kept out of listings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from store import bulk, names
from store.errors import AlreadyExists, NotFound, Refused, ValidationError
from store.names import quoted
from store.service import PAGE_SIZE, Page, Service, like_contains

ROOT_NAME = "root"
# The user row's writes, one definition each: the service runs them row by row, the import in bulk.
COLUMNS = (
    "user_name",
    "user_name_key",
    "display_name",
    "given_name",
    "family_name",
    "email",
    "external_id",
    "status",
    "scim_id",
    "scim_attributes",
    "scim_deleted_at",
    "source",
    "password_hash",
    "password_changed_at",
    "must_change_password",
    "import_batch_id",
    "created_at",
    "updated_at",
)
INSERT = bulk.insert_statement("users", COLUMNS)
UPDATE_FROM_IMPORT = (
    "UPDATE users SET user_name = ?, user_name_key = ?, display_name = ?, given_name = ?, family_name = ?, "
    "email = ?, external_id = ?, status = ?, scim_id = ?, scim_attributes = ?, scim_deleted_at = ?, "
    "import_batch_id = ?, updated_at = ?, version = version + 1 WHERE id = ?"
)
# A password only for a user who has none (an import never replaces one).
SET_FIRST_PASSWORD = (
    "UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = ?, "
    "import_batch_id = ?, updated_at = ?, version = version + 1 WHERE id = ? AND password_hash IS NULL"
)
EDITABLE = ("user_name", "display_name", "given_name", "family_name", "email", "external_id")
COUNT_ALL = "SELECT (SELECT count(*) FROM users) - (SELECT count(*) FROM users WHERE is_root = 1)"
# The filter uses the trigram index from this many characters on; shorter filters (which the index cannot
# answer) look through the same three columns with LIKE: a scan, only while one or two characters are typed.
TRIGRAM = 3
SHORT_FILTER = (
    "(user_name_key LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')"
)


@dataclass(frozen=True)
class User:
    id: int
    user_name: str
    display_name: str
    given_name: str
    family_name: str
    email: str
    external_id: str | None
    source: str
    status: str
    is_root: bool
    created_at: str
    updated_at: str
    last_sign_in_at: str | None
    version: int

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def is_local(self) -> bool:
        return self.source == "local"

    @staticmethod
    def from_row(row: sqlite3.Row) -> User:
        return User(
            row["id"],
            row["user_name"],
            row["display_name"],
            row["given_name"],
            row["family_name"],
            row["email"],
            row["external_id"],
            row["source"],
            row["status"],
            bool(row["is_root"]),
            row["created_at"],
            row["updated_at"],
            row["last_sign_in_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        view = asdict(self)
        for key in ("id", "created_at", "updated_at", "last_sign_in_at", "version", "is_root"):
            view.pop(key)
        return view


def clean_user_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the editable fields present in ``fields``; returns them cleaned (same keys)."""
    cleaners: dict[str, Callable[[Any], Any]] = {
        "user_name": lambda v: names.user_name(v, "userName"),
        "display_name": lambda v: names.display_text(v, "displayName"),
        "given_name": lambda v: names.display_text(v, "givenName"),
        "family_name": lambda v: names.display_text(v, "familyName"),
        "email": lambda v: names.email(v, "email"),
        "external_id": lambda v: names.external_id(v, "externalId"),
    }
    unknown = set(fields) - set(cleaners)
    if unknown:
        raise ValidationError(f"unknown user field(s): {', '.join(sorted(unknown))}")
    return {key: cleaners[key](value) for key, value in fields.items()}


class UserService(Service[User]):
    table = "users"
    noun = "user"
    sort_column = "user_name_key"
    display_column = "user_name"
    listed = "is_root = 0"
    from_row = User.from_row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, *, except_id: int | None = None) -> str:
        key = names.canonical(name)
        if key == ROOT_NAME:
            raise AlreadyExists("userName: 'root' is reserved for the directory's root identity", "userName")
        row = conn.execute("SELECT id, user_name FROM users WHERE user_name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            same = (
                ""
                if row["user_name"] == name
                else f" (as {quoted(row['user_name'])}: names differing only in case or width are "
                "the same name)"
            )
            raise AlreadyExists(f"userName: a user named {quoted(name)} already exists{same}", "userName")
        return key

    def create(
        self,
        user_name: str,
        *,
        display_name: str = "",
        given_name: str = "",
        family_name: str = "",
        email: str = "",
        external_id: str | None = None,
        source: str = "local",
    ) -> User:
        fields = clean_user_fields(
            {
                "user_name": user_name,
                "display_name": display_name,
                "given_name": given_name,
                "family_name": family_name,
                "email": email,
                "external_id": external_id,
            }
        )
        with self.directory.change() as conn:
            key = self._check_name_free(conn, fields["user_name"])
            now = self._now()
            cursor = conn.execute(
                INSERT,
                (
                    fields["user_name"],
                    key,
                    fields["display_name"],
                    fields["given_name"],
                    fields["family_name"],
                    fields["email"],
                    fields["external_id"],
                    "active",
                    None,
                    None,
                    None,
                    source,
                    None,
                    None,
                    0,
                    None,
                    now,
                    now,
                ),
            )
            user = User.from_row(self._row(conn, cursor.lastrowid or 0))
            self._audit(conn, "user.create", f"user:{user.user_name}", after=user.audit_view())
            return user

    def get_by_name(self, user_name: str) -> User:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM users WHERE user_name_key = ?", (names.canonical(user_name),)
            ).fetchone()
        if row is None:
            raise NotFound(f"no user named {quoted(user_name)}")
        return User.from_row(row)

    def kept_from_source(self, user_id: int) -> dict[str, Any]:
        """What a user of a SCIM source keeps beyond the columns (:mod:`store.scim_kept`): all its emails as
        sent and the enterprise extension; {} for none."""
        from store import scim_kept

        with self.db.read() as conn:
            row = conn.execute("SELECT scim_attributes FROM users WHERE id = ?", (user_id,)).fetchone()
        return scim_kept.loaded(row[0] if row is not None else None)

    def root(self) -> User | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM users WHERE is_root = 1").fetchone()
        return None if row is None else User.from_row(row)

    def list(
        self, *, filter: str = "", after: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> Page[User]:
        """Users other than root, by canonical name. ``filter`` matches anywhere in the user name, display
        name or email: 3+ characters through the trigram index, 1–2 characters by a scan (LIKE)."""
        where, params = ["is_root = 0"], []
        text = filter.strip()
        # Totals are counted from an index: a plain "WHERE is_root = 0" count reads all 100,000 rows.
        count: tuple[str, list[Any]] = (COUNT_ALL, [])
        if len(text) >= TRIGRAM:
            phrase = '"' + text.replace('"', '""') + '"'
            where.append("id IN (SELECT rowid FROM users_search WHERE users_search MATCH ?)")
            params.append(phrase)
            count = (
                "SELECT count(*) FROM users_search WHERE users_search MATCH ? AND rowid NOT IN "
                "(SELECT id FROM users WHERE is_root = 1)",
                [phrase],
            )
        elif text:
            # "ar" finds carol, as "aro" does through the index (a prefix search found only ar…).
            short = [like_contains(names.canonical(text)), like_contains(text), like_contains(text)]
            where.append(SHORT_FILTER)
            params += short
            count = (f"SELECT count(*) FROM users WHERE is_root = 0 AND {SHORT_FILTER}", short)
        # Raw sqlite3, not sqlite-utils: paging 100,000 users is a hot path (keyset SQL from one snapshot).
        with self.db.read() as conn:
            return self._page(
                conn, where=where, params=params, after=after, offset=offset, limit=limit, count=count
            )

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(COUNT_ALL).fetchone()[0])

    def _guard(self, row: sqlite3.Row, action: str, *, imported_ok: bool = False) -> None:
        if row["is_root"]:
            raise Refused(f"root cannot be {action}")
        if row["source"] != "local" and not imported_ok:
            raise Refused(
                f"{quoted(row['user_name'])} is managed by the identity provider "
                f"{quoted(row['source'])}: change it there and import again; here it can only be disabled"
            )

    def update(self, user_id: int, version: int, **changes: Any) -> User:
        fields = clean_user_fields(changes)
        with self.directory.change() as conn:
            row = self._row(conn, user_id)
            self._guard(row, "edited")
            self._check_version(conn, row, version)
            before = User.from_row(row)
            if "user_name" in fields:
                fields["user_name_key"] = self._check_name_free(conn, fields["user_name"], except_id=user_id)
            updated = User.from_row(self._versioned_update(conn, user_id, version, fields))
            self._audit(
                conn,
                "user.update",
                f"user:{updated.user_name}",
                before=before.audit_view(),
                after=updated.audit_view(),
            )
            return updated

    def set_status(self, user_id: int, version: int, active: bool) -> User:
        """Disable (or enable) a user. Disabling ends their sessions and portal sign-ins at once."""
        with self.directory.change() as conn:
            row = self._row(conn, user_id)
            self._guard(row, "disabled", imported_ok=True)
            self._check_version(conn, row, version)
            status = "active" if active else "disabled"
            updated = User.from_row(self._versioned_update(conn, user_id, version, {"status": status}))
            if not active:
                self.directory.end_user_sessions(conn, user_id, "user disabled")
            self._audit(
                conn,
                "user.enable" if active else "user.disable",
                f"user:{updated.user_name}",
                before={"status": row["status"]},
                after={"status": status},
            )
            return updated

    def disable(self, user_id: int, version: int) -> User:
        return self.set_status(user_id, version, False)

    def enable(self, user_id: int, version: int) -> User:
        return self.set_status(user_id, version, True)

    def delete(self, user_id: int, version: int) -> None:
        """Delete a user with their memberships, assignments, keys and sessions."""
        with self.directory.change() as conn:
            row = self._row(conn, user_id)
            self._guard(row, "deleted", imported_ok=True)
            self._check_version(conn, row, version)
            user = User.from_row(row)
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            self._audit(conn, "user.delete", f"user:{user.user_name}", before=user.audit_view())
