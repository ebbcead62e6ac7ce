"""Applying a plan: initial passwords hashed in worker processes before the lock, then every operation
written in bulk with the services' own statements, in the caller's transaction."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from store import bulk, names, search_index
from store import groups as group_rows
from store import ssh_keys as key_rows
from store import users as user_rows
from store.crypto import hash_password
from store.db import cache_at_least, set_aside
from store.importer.current import _USER_ROW
from store.importer.document import ImportRefused, Problem, Progress
from store.importer.other_tables import _apply_others
from store.importer.plan import (
    AddMembers,
    CreateGroup,
    CreateUser,
    DisableUser,
    ImportPlan,
    RemoveMember,
    UpdateGroup,
    UpdateMember,
    UpdateUser,
)
from store.names import quoted

if TYPE_CHECKING:
    from store.directory import Directory

# Rows written per bulk call, so a progress bar can move while a big import is written.
CHUNK = 20_000
# The memberships' index by user (schema version 1): a big import builds it again after its rows.
MEMBERSHIPS_BY_USER = "memberships_user"
# The page cache while many memberships are written (the default is 2 MB): at least this, and 1 KiB for every
# 4 users of the directory (a user's row is ~200 bytes: the users' table stays in memory), at most the cap.
# 1,000,000 users from CSV: 42.5 s with 32 MB, 39.1 s with 256 MB (peak memory +13 MB: pages are taken as
# they are read); the cap keeps a directory of tens of millions from taking gigabytes.
BULK_CACHE_KIB, BULK_CACHE_CAP_KIB = 32 * 1024, 512 * 1024
_IDENT, _VALUES, _SOURCE = attrgetter("ident"), attrgetter("values"), attrgetter("source")


# -- passwords --------------------------------------------------------------------------------------------


def _hash_one(password: str) -> tuple[str, int]:
    return hash_password(password), os.getpid()


def hash_initial_passwords(passwords: list[str], progress: Progress | None = None) -> tuple[list[str], int]:
    """argon2id hashes of ``passwords``, computed in parallel worker processes (argon2 is CPU-bound and holds
    the GIL for the whole hash). Returns the hashes (in order) and how many processes did the work."""
    if not passwords:
        return [], 0
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(os.cpu_count() or 1, len(passwords), 8))
    # spawn, not fork: the console calls this from a worker thread, and forking a threaded process is unsafe.
    context = multiprocessing.get_context("spawn")
    hashes: list[str] = []
    pids: set[int] = set()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for index, (digest, pid) in enumerate(
            pool.map(_hash_one, passwords, chunksize=max(1, len(passwords) // (workers * 8)))
        ):
            hashes.append(digest)
            pids.add(pid)
            if progress is not None and index % 10 == 0:
                progress("hash", index, len(passwords))
    if progress is not None:
        progress("hash", len(passwords), len(passwords))
    return hashes, len(pids)


# -- applying ---------------------------------------------------------------------------------------------


def _many(conn: sqlite3.Connection, additions: int) -> bool:
    """Whether ``additions`` new memberships are enough to build the by-user index again rather than insert
    into it: a fifth of the table or more (building sorts every row once; inserting lands each row at a random
    place, 3 to 4 times the cost a row)."""
    if additions < search_index.BULK_ROWS:
        return False
    return additions * 5 >= int(conn.execute("SELECT count(*) FROM memberships").fetchone()[0]) + additions


def _new_ids(
    conn: sqlite3.Connection, table: str, key_column: str, last_id: int, keys: list[str]
) -> list[int]:
    """The row ids of the rows just inserted into ``table`` with the name keys ``keys`` (in order), when the
    largest id before was ``last_id``. SQLite gives a new row the largest id + 1 (no AUTOINCREMENT; we are
    the one writer), so they are ``last_id + 1 …`` in order: checked by one range query rather than reading
    every new row back (80 ms at 100,000). Otherwise (a row at the largest id SQLite allows makes it pick
    ids at random) they are read back by name key."""
    first, last, count = conn.execute(
        f"SELECT min(id), max(id), count(*) FROM {table} WHERE id > ?", (last_id,)
    ).fetchone()
    if (first, last, count) == (last_id + 1, last_id + len(keys), len(keys)):
        return list(range(last_id + 1, last_id + 1 + len(keys)))
    by_key = {
        row[1]: row[0]
        for row in conn.execute(
            f"SELECT id, {key_column} FROM {table} WHERE {key_column} IN (SELECT value FROM json_each(?))",
            (json.dumps(keys),),
        )
    }
    return [by_key[key] for key in keys]


def _chunks(rows: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _membership_rows(
    additions: list[AddMembers], group_id: Callable[[int], int], new_user: Callable[[int, int], int], now: str
) -> Iterator[list[tuple[int, int, str | None, str]]]:
    """(group id, user id, expiry, now) rows of ``additions``, about :data:`CHUNK` at a time, made column by
    column by map and zip. ``new_user(ident, ident)``: a user made here has a negative ident and its new row
    id in the map; an existing user's ident is its row id, kept as it is."""
    rows: list[tuple[int, int, str | None, str]] = []
    for op in additions:
        group = group_id(op.group)
        for start in range(0, len(op.users), CHUNK):
            users = op.users[start : start + CHUNK]
            rows.extend(
                zip(
                    repeat(group),
                    map(new_user, users, users),
                    op.expiries[start : start + CHUNK],
                    repeat(now),
                )
            )
            if len(rows) >= CHUNK:
                yield rows
                rows = []
    if rows:
        yield rows


Hashes = dict[tuple[str, str], str]  # (entry's place, initial password) → its argon2id hash


def _initial_passwords(plan: ImportPlan) -> list[tuple[str, str]]:
    """(entry's place, cleartext) of every initial password the plan sets."""
    if not plan.passwords["initial_to_hash"]:  # the plan counted them: no walk through every operation
        return []
    return [
        (op.where, op.password.initial)
        for op in plan.operations
        if isinstance(op, CreateUser | UpdateUser) and op.password is not None and op.password.initial
    ]


def _apply(
    directory: Directory,
    conn: sqlite3.Connection,
    plan: ImportPlan,
    now: str,
    batch_id: int,
    hashes: Hashes,
    progress: Progress | None,
) -> None:
    """Run the plan's operations, in bulk (``store.bulk`` with the services' own columns, in chunks so a
    progress bar moves), in the caller's transaction."""
    by_kind: dict[type, list[Any]] = {}
    for op in plan.operations:
        by_kind.setdefault(type(op), []).append(op)
    additions: list[AddMembers] = by_kind.get(AddMembers, [])
    joining = sum(len(op.users) for op in additions)  # memberships added
    # One step a row written: an AddMembers writes one row a member.
    total = len(plan.operations) - len(additions) + joining + 1
    written = 0

    def advance(count: int) -> None:
        nonlocal written
        written += count
        if progress is not None:
            progress("write", min(written, total), total)

    def password_of(op: CreateUser | UpdateUser) -> tuple[str | None, int]:
        password = op.password
        if password is None:
            return None, 0
        digest = password.hash or hashes.get((op.where, password.initial or ""))
        return digest, int(password.must_change) if digest else 0

    canonical = names.canonical
    # Users: the new ones' rows made column by column (in C: no Python step per user but the name's key).
    creates: list[CreateUser] = by_kind.get(CreateUser, [])
    new_users: list[tuple[Any, ...]] = []
    if creates:
        count = len(creates)
        columns = list(zip(*map(_VALUES, creates), strict=True))  # user_name, display_name, …
        digests: Sequence[str | None] = (None,) * count
        changed_at: Sequence[str | None] = digests
        must_changes: Sequence[int] = (0,) * count
        if plan.passwords["set"]:  # some operation sets a password
            secrets = list(map(password_of, creates))
            digests = [digest for digest, _ in secrets]
            must_changes = [must for _, must in secrets]
            changed_at = [now if digest else None for digest in digests]
        new_users = list(
            zip(
                columns[0],
                map(canonical, columns[0]),
                *columns[1:],
                map(_SOURCE, creates),
                digests,
                changed_at,
                must_changes,
                repeat(batch_id, count),
                repeat(now, count),
                repeat(now, count),
                strict=True,
            )
        )
        del columns
    updates: list[UpdateUser] = by_kind.get(UpdateUser, []) + by_kind.get(DisableUser, [])
    changed_users, passwords = [], []
    for op in updates:
        if any(column in _USER_ROW for column in op.changed):
            values = op.values
            changed_users.append((values[0], canonical(values[0]), *values[1:], batch_id, now, op.ident))
        if op.disabling:
            directory.end_user_sessions(conn, op.ident, "disabled by import")
        digest, must_change = password_of(op)
        if digest:
            passwords.append((digest, now, must_change, batch_id, now, op.ident))
    # Many users: the search index is filled once for them rather than row by row by its triggers.
    updated_ids = [values[-1] for values in changed_users]
    index_once = len(new_users) + len(updated_ids) >= search_index.BULK_ROWS
    # The largest id before the rows inserted below, from which _new_ids finds theirs by the primary key, not
    # by a scan of every user for the batch (3.8 ms a SCIM request beside 50,000 users).
    last_user_id = conn.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]
    made: list[int] = []  # the new users' row ids, in order
    with search_index.bulk_write(conn, updated_ids) if index_once else nullcontext(made) as made:
        for chunk in _chunks(new_users):
            bulk.insert(conn, "users", user_rows.COLUMNS, chunk)
            advance(len(chunk))
        if new_users:
            made += _new_ids(
                conn, "users", "user_name_key", last_user_id, [values[1] for values in new_users]
            )
        for chunk in _chunks(changed_users):
            conn.executemany(user_rows.UPDATE_FROM_IMPORT, chunk)
            advance(len(chunk))
    conn.executemany(user_rows.SET_FIRST_PASSWORD, passwords)
    ids = dict(zip(map(_IDENT, creates), made, strict=True))  # ident of a user created here → its row id

    def user_id(ident: int) -> int:
        return ident if ident > 0 else ids[ident]

    user_ops: list[CreateUser | UpdateUser] = [*creates, *updates]
    with_keys = [op for op in user_ops if op.ssh_keys is not None]
    for op in with_keys:
        if op.ssh_keys is None:
            continue
        uid = user_id(op.ident)
        conn.execute("DELETE FROM ssh_keys WHERE user_id = ?", (uid,))
        try:
            conn.executemany(
                key_rows.INSERT, [(uid, k.text, k.fingerprint, k.comment, now) for k in op.ssh_keys]
            )
        except sqlite3.IntegrityError:
            shown = op.name
            raise ImportRefused(
                "",
                [
                    Problem(
                        op.where,
                        f"sshPublicKeys: a key of {quoted(shown)} already belongs to another user "
                        "(or is listed twice)",
                    )
                ],
            ) from None

    # Groups.
    new_groups = [
        (op.values[0], canonical(op.values[0]), *op.values[1:], op.source, batch_id, now, now)
        for op in by_kind.get(CreateGroup, [])
    ]
    last_group_id = conn.execute("SELECT coalesce(max(id), 0) FROM groups").fetchone()[0]
    bulk.insert(conn, "groups", group_rows.COLUMNS, new_groups)
    conn.executemany(
        group_rows.UPDATE_FROM_IMPORT,
        [
            (op.values[0], canonical(op.values[0]), *op.values[1:], batch_id, now, op.ident)
            for op in by_kind.get(UpdateGroup, [])
        ],
    )
    advance(len(new_groups) + len(by_kind.get(UpdateGroup, [])))
    group_ids: dict[int, int] = {}
    if new_groups:
        made = _new_ids(conn, "groups", "name_key", last_group_id, [values[1] for values in new_groups])
        group_ids = dict(zip(map(_IDENT, by_kind[CreateGroup]), made, strict=True))

    def group_id(ident: int) -> int:
        return ident if ident > 0 else group_ids[ident]

    # Memberships.
    removals = [(op.group, op.user) for op in by_kind.get(RemoveMember, [])]
    conn.executemany(group_rows.DELETE_MEMBERSHIP, removals)
    # A session never outlives the membership that granted it.
    directory.sessions.end_ungranted(
        conn, "membership removed by import", user_ids=[user for _, user in removals]
    )
    advance(len(removals))
    many = _many(conn, joining)
    # Each membership's foreign keys look up its user and group: with the users' pages kept in memory
    # (100,000 users: about 20 MB), 300,000 memberships are written 0.15 s sooner.
    cache_kib = min(max(BULK_CACHE_KIB, (last_user_id + len(creates)) // 4), BULK_CACHE_CAP_KIB)
    with set_aside(conn, [MEMBERSHIPS_BY_USER]) if many else nullcontext():
        with cache_at_least(conn, cache_kib) if many else nullcontext():
            plain: list[AddMembers] = []
            dated: list[AddMembers] = []
            for op in additions:
                (dated if any(op.expiries) else plain).append(op)
            # Members without an expiry (the usual ones) as each group's sorted user ids: no row made here.
            for op in plain:
                row = (group_id(op.group), None, None, now)
                for chunk in _chunks(sorted(map(ids.get, op.users, op.users))):
                    bulk.insert_series(
                        conn, "memberships", group_rows.MEMBERSHIP_COLUMNS, row, "user_id", chunk
                    )
                    advance(len(chunk))
            for rows in _membership_rows(dated, group_id, ids.get, now):
                bulk.insert(conn, "memberships", group_rows.MEMBERSHIP_COLUMNS, rows)
                advance(len(rows))
    expiries = by_kind.get(UpdateMember, [])
    conn.executemany(
        group_rows.SET_MEMBERSHIP_EXPIRY,
        [(op.expires_at, group_id(op.group), user_id(op.user)) for op in expiries],
    )
    # An expiry brought forward takes a grant away as a removal does: the sessions it granted end with it.
    directory.sessions.end_ungranted(
        conn, "membership expiry brought forward by import", user_ids=[user_id(op.user) for op in expiries]
    )
    advance(len(expiries))

    _apply_others(directory, conn, by_kind, now, user_id, group_id)
    advance(1)
