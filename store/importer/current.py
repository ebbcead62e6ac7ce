"""The directory as an import finds it: whole tables for a big document, row-by-row lookups for a small one
(a SCIM request), read in the plan's snapshot."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from store.importer.document import ImportDocument
from store.rights import ADMIN_GROUP_SETTING

if TYPE_CHECKING:
    pass


# -- the directory as it is -------------------------------------------------------------------------------

_USER_COLUMNS = ("user_name", "display_name", "given_name", "family_name", "email", "external_id", "status")
_GROUP_COLUMNS = ("name", "description", "external_id")
# The columns a user or group row takes from an import, in the order of the rows' INSERT and UPDATE.
_USER_ROW = (*_USER_COLUMNS, "scim_id", "scim_attributes", "scim_deleted_at")
_GROUP_ROW = (*_GROUP_COLUMNS, "scim_id", "scim_deleted_at")
_SCIM_NAMES = {
    "user_name": "userName",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "familyName",
    "email": "email",
    "external_id": "externalId",
    "status": "active",
    "name": "displayName",
    "description": "description",
    "document": "document",
    "session_duration": "sessionDuration",
    "inline_policy": "inlinePolicy",
    "boundary_policy": "permissionsBoundary",
    "managed_policies": "managedPolicies",
    "ssh_keys": "sshPublicKeys",
    "scim_id": "id",
    "scim_attributes": "scimAttributes",
    "scim_deleted_at": "scimDeleted",
    "password_hash": "password",
}


@dataclass
class _Current:
    # Whole tables read at once (a big import), or looked up row by row (a small one, see _load_current).
    users: Mapping[str, sqlite3.Row]  # by user_name_key
    users_by_id: Mapping[int, sqlite3.Row]
    users_by_external: Mapping[tuple[str, str], sqlite3.Row]
    users_by_scim: Mapping[tuple[str, str], sqlite3.Row]
    user_keys: Mapping[int, list[str]]
    groups: Mapping[str, sqlite3.Row]
    groups_by_id: Mapping[int, sqlite3.Row]
    groups_by_external: Mapping[tuple[str, str], sqlite3.Row]
    groups_by_scim: Mapping[tuple[str, str], sqlite3.Row]
    memberships: Mapping[int, Mapping[int, str | None]]  # group id → its members: user id → expiry
    # The other tables and the admin group: filled by _read_the_rest.
    accounts: dict[str, sqlite3.Row] = field(default_factory=dict)
    policies: dict[str, sqlite3.Row] = field(default_factory=dict)
    permission_sets: dict[str, sqlite3.Row] = field(default_factory=dict)
    attachments: dict[int, list[str]] = field(default_factory=dict)
    assignments: dict[tuple[str, int, int, int], tuple[int, str | None]] = field(default_factory=dict)
    admin_group_id: int | None = None


_USER_SELECT = (
    f"SELECT id, user_name_key, source, scim_id, is_root, password_hash IS NOT NULL AS has_password, "
    f"{', '.join(_USER_COLUMNS)}, scim_attributes, scim_deleted_at FROM users"
)
_GROUP_SELECTED = ("id", "name_key", "source", "scim_id", *_GROUP_COLUMNS, "scim_deleted_at")
_GROUP_SELECT = f"SELECT {', '.join(_GROUP_SELECTED)} FROM groups"
# Both selects start alike, so the hot paths read a row by position (a name costs a scan of the columns).
_ID, _KEY, _SOURCE = 0, 1, 2
_IS_ROOT, _HAS_PASSWORD = 4, 5  # users only
_SCIM_ID = 3
# Each column of ``_USER_ROW`` / ``_GROUP_ROW`` with its position in a row of ``_USER_SELECT`` /
# ``_GROUP_SELECT``.
_USER_SELECTED = (
    "id",
    "user_name_key",
    "source",
    "scim_id",
    "is_root",
    "has_password",
    *_USER_COLUMNS,
    "scim_attributes",
    "scim_deleted_at",
)
_USER_AT = tuple((c, _USER_SELECTED.index(c)) for c in _USER_ROW)
_GROUP_AT = tuple((c, _GROUP_SELECTED.index(c)) for c in _GROUP_ROW)
_USER_EXTERNAL = dict(_USER_AT)["external_id"]
_MEMBERS_SELECT = "SELECT user_id, expires_at FROM memberships"
# A document with at most this many users and groups (a SCIM request, a hand-written file) looks up the rows
# it names one by one; a bigger one reads the tables whole, which is cheaper than as many lookups, unless the
# directory holds more than WHOLE_READ_SHARE times as many users: a lookup costs about as much as reading 4
# rows, so 5,000 users of a directory of 100,000 are planned in 0.08 s instead of 0.33 s, and a directory of
# millions is not read whole (nor held in memory) for a department's file.
LOOKUP_AT_MOST = 1_000
WHOLE_READ_SHARE = 4
_ABSENT = object()


class _Lookup(Mapping[Any, Any]):
    """Rows by key, each read with one indexed query when first asked for and remembered (found or not).
    Walking every key reads the whole table (a sync): the answer is the same either way, only its cost
    differs. The snapshot is the plan's read transaction, so lookups and a full read agree."""

    def __init__(self, one: Callable[[Any], Any], every: Callable[[], dict[Any, Any]]) -> None:
        self._one, self._every = one, every
        self._seen: dict[Any, Any] = {}
        self._all: dict[Any, Any] | None = None

    def __getitem__(self, key: Any) -> Any:
        if self._all is not None:
            return self._all[key]
        value = self._seen.get(key, _ABSENT)
        if value is _ABSENT and key not in self._seen:
            value = self._seen[key] = self._one(key)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def _whole(self) -> dict[Any, Any]:
        if self._all is None:
            self._all = self._every()
        return self._all

    def __iter__(self) -> Iterator[Any]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())


class _WhenAsked(Mapping[Any, Any]):
    """The dict ``make`` returns, made the first time it is used."""

    def __init__(self, make: Callable[[], dict[Any, Any]]) -> None:
        self._make: Callable[[], dict[Any, Any]] | None = make
        self._made: dict[Any, Any] = {}

    def _dict(self) -> dict[Any, Any]:
        if self._make is not None:
            self._made, self._make = self._make(), None  # the rows it read are let go
        return self._made

    def __getitem__(self, key: Any) -> Any:
        return self._dict()[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._dict()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())


def _first(conn: sqlite3.Connection, sql: str) -> Callable[[Any], Any]:
    """One row for a key (a value or a tuple of them), or _ABSENT."""

    def one(key: Any) -> Any:
        row = conn.execute(sql, key if isinstance(key, tuple) else (key,)).fetchone()
        return _ABSENT if row is None else row

    return one


def _user_key_lists(rows: Iterable[sqlite3.Row]) -> dict[int, list[str]]:
    keys: dict[int, list[str]] = {}
    for row in rows:
        keys.setdefault(row[0], []).append(row[1])
    return keys


def _users_at_most(conn: sqlite3.Connection) -> int:
    """How many users the directory holds at most: the largest row id (read from the end of the table's
    b-tree, not counted: a count walks every page)."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0])


def _load_current(conn: sqlite3.Connection, document: ImportDocument, sync: bool) -> _Current:
    # Accounts, policies, permission sets and assignments are read only for a document that has some: a
    # SCIM request read every assignment of the directory (63 ms a request beside 50,000 of them).
    tables = bool(document.accounts or document.policies or document.permission_sets or document.assignments)
    entries = len(document.users) + len(document.groups)
    if sync or (entries > LOOKUP_AT_MOST and entries * WHOLE_READ_SHARE >= _users_at_most(conn)):
        return _read_current(conn, tables)

    # A small document: the users, groups, memberships and keys it names, looked up one by one (a SCIM
    # request reading the whole directory each time made a provisioning push quadratic).
    def members(group_id: int) -> _Lookup:
        def one(user_id: int) -> Any:
            row = conn.execute(
                "SELECT expires_at FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            ).fetchone()
            return _ABSENT if row is None else row[0]

        def every() -> dict[Any, Any]:
            return dict(conn.execute(_MEMBERS_SELECT + " WHERE group_id = ? ORDER BY user_id", (group_id,)))

        return _Lookup(one, every)

    def key_list(user_id: int) -> Any:
        rows = conn.execute("SELECT public_key FROM ssh_keys WHERE user_id = ? ORDER BY id", (user_id,))
        return [r[0] for r in rows] or _ABSENT

    users, users_by_id, users_by_external, users_by_scim = _row_lookups(conn, _USER_SELECT, "user_name_key")
    groups, groups_by_id, groups_by_external, groups_by_scim = _row_lookups(conn, _GROUP_SELECT, "name_key")
    current = _Current(
        users=users,
        users_by_id=users_by_id,
        users_by_external=users_by_external,
        users_by_scim=users_by_scim,
        user_keys=_Lookup(
            key_list,
            lambda: _user_key_lists(conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id")),
        ),
        groups=groups,
        groups_by_id=groups_by_id,
        groups_by_external=groups_by_external,
        groups_by_scim=groups_by_scim,
        memberships=_Lookup(members, lambda: _read_memberships(conn)),
    )
    return _read_the_rest(conn, current, tables)


def _row_lookups(
    conn: sqlite3.Connection, select: str, key: str
) -> tuple[_Lookup, _Lookup, _Lookup, _Lookup]:
    """A table's rows (users or groups) by canonical name ``key``, by id, by (source, externalId) and by
    (source, SCIM id): each looked up alone, or the table read whole when a lookup is walked."""

    def every(pick: Callable[[sqlite3.Row], Any], column: str | None = None) -> Callable[[], dict[Any, Any]]:
        return lambda: {
            pick(row): row for row in conn.execute(select) if column is None or row[column] is not None
        }

    def by_source(column: str) -> _Lookup:
        return _Lookup(
            _first(conn, f"{select} WHERE source = ? AND {column} = ?"),
            every(lambda row: (row["source"], row[column]), column),
        )

    return (
        _Lookup(_first(conn, f"{select} WHERE {key} = ?"), every(lambda row: row[_KEY])),
        _Lookup(_first(conn, f"{select} WHERE id = ?"), every(lambda row: row[_ID])),
        by_source("external_id"),
        by_source("scim_id"),
    )


class _Members(Mapping[int, str | None]):
    """One group's members (user id → expiry) as SQLite lists them: their ids as one text ("3,17,42", in
    the order of the table's key) and the few expiries; a dict is made only when it is looked into or walked.
    Compared with a dict of members without expiries (a re-import's groups), it compares the texts: 300,000
    memberships checked unchanged without 300,000 numbers and dict entries made (0.1 s, 20 MB)."""

    __slots__ = ("_ids", "_expiries", "_members")

    def __init__(self, ids: str) -> None:
        self._ids = ids  # digits and commas
        self._expiries: dict[int, str] = {}
        self._members: dict[int, str | None] | None = None

    def _made(self) -> dict[int, str | None]:
        if self._members is None:
            self._members = dict.fromkeys(json.loads(f"[{self._ids}]"))
            self._members.update(self._expiries)
        return self._members

    def __getitem__(self, user_id: int) -> str | None:
        return self._made()[user_id]

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._made()

    def get(self, user_id: int, default: Any = None) -> Any:
        return self._made().get(user_id, default)

    def __iter__(self) -> Iterator[int]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made()) if self._members is not None else self._ids.count(",") + 1

    def __eq__(self, other: object) -> bool:
        if (
            type(other) is dict
            and not self._expiries
            and not any(other.values())
            and ",".join(map(str, sorted(other))) == self._ids
        ):
            return True  # the same ids in the same order, none with an expiry
        return Mapping.__eq__(self, other)  # also when SQLite listed the ids in another order

    __hash__ = None  # type: ignore[assignment]  # a mapping: compared by contents


def _read_memberships(conn: sqlite3.Connection) -> dict[int, _Members]:
    """Every group's members: each group's ids as one text from SQLite (a Python tuple per membership cost
    more than reading them), then the few expiries."""
    members = {
        group_id: _Members(ids)
        for group_id, ids in conn.execute(
            "SELECT group_id, group_concat(user_id) FROM memberships GROUP BY group_id"
        )
    }
    for group_id, user_id, expires_at in conn.execute(
        "SELECT group_id, user_id, expires_at FROM memberships WHERE expires_at IS NOT NULL"
    ):
        members[group_id]._expiries[user_id] = expires_at
    return members


def _read_current(conn: sqlite3.Connection, tables: bool = True) -> _Current:
    users = conn.execute(_USER_SELECT).fetchall()
    groups = conn.execute(_GROUP_SELECT).fetchall()
    current = _Current(
        users=dict(zip(map(itemgetter(_KEY), users), users, strict=True)),
        users_by_id=dict(zip(map(itemgetter(_ID), users), users, strict=True)),
        # Made when first asked: a file without externalIds or SCIM ids (100,000 users) never walks them.
        users_by_external=_WhenAsked(
            lambda: {(r[_SOURCE], r[_USER_EXTERNAL]): r for r in users if r[_USER_EXTERNAL] is not None}
        ),
        users_by_scim=_WhenAsked(
            lambda: {(r[_SOURCE], r[_SCIM_ID]): r for r in users if r[_SCIM_ID] is not None}
        ),
        user_keys=_user_key_lists(conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id")),
        groups={r["name_key"]: r for r in groups},
        groups_by_id={r["id"]: r for r in groups},
        groups_by_external={
            (r["source"], r["external_id"]): r for r in groups if r["external_id"] is not None
        },
        groups_by_scim={(r["source"], r["scim_id"]): r for r in groups if r["scim_id"] is not None},
        memberships=_read_memberships(conn),
    )
    return _read_the_rest(conn, current, tables)


def _read_the_rest(conn: sqlite3.Connection, current: _Current, tables: bool = True) -> _Current:
    """The admin group, and (``tables``) accounts, policies, permission sets and assignments, read whole."""
    admin_group = conn.execute("SELECT value FROM settings WHERE key = ?", (ADMIN_GROUP_SETTING,)).fetchone()
    if admin_group is not None and int(admin_group[0]) in current.groups_by_id:
        current.admin_group_id = int(admin_group[0])
    if not tables:
        return current
    current.accounts = {
        r["name_key"]: r for r in conn.execute("SELECT id, name_key, name, description, status FROM accounts")
    }
    current.policies = {
        r["name_key"]: r
        for r in conn.execute("SELECT id, name_key, name, description, document, builtin FROM policies")
    }
    current.permission_sets = {
        r["name_key"]: r
        for r in conn.execute(
            "SELECT id, name_key, name, description, session_duration, inline_policy, boundary_policy "
            "FROM permission_sets"
        )
    }
    for row in conn.execute(
        "SELECT psp.permission_set_id, p.name_key FROM permission_set_policies psp "
        "JOIN policies p ON p.id = psp.policy_id"
    ):
        current.attachments.setdefault(row[0], []).append(row[1])
    for row in conn.execute(
        "SELECT id, user_id, group_id, account_id, permission_set_id, expires_at FROM assignments"
    ):
        kind, principal = (
            ("user", row["user_id"]) if row["user_id"] is not None else ("group", row["group_id"])
        )
        current.assignments[(kind, principal, row["account_id"], row["permission_set_id"])] = (
            row["id"],
            row["expires_at"],
        )
    return current
