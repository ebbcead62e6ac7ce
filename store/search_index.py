"""The users' search index (``users_search``, schema versions 2 and 14) kept up to date by a bulk write.

Every write of a user updates the trigram index through a trigger, row by row: right for an edit, but for a
100,000-user import the triggers cost more than the rows themselves. :func:`bulk_write` sets them aside for
the rows its caller writes and indexes those rows once at the end, in the caller's transaction, so a crash
leaves both the rows and their index entries (and the triggers) as before or as after.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from store.db import set_aside

# Below this many users written, the per-row triggers are as fast and leave nothing to get wrong.
BULK_ROWS = 1_000
# The triggers that keep the index row by row (schema versions 2 and 14).
TRIGGERS = ("users_search_insert", "users_search_update")

_COLUMNS = "user_name, display_name, email"
_IDS = "SELECT value FROM json_each(?)"


@contextmanager
def bulk_write(conn: sqlite3.Connection, updated_ids: Collection[int]) -> Iterator[list[int]]:
    """Inside the caller's write transaction: the block inserts users and updates the users
    ``updated_ids``, with the search triggers set aside (dropped, made again after: even a trigger that does
    nothing costs a third of a bulk insert), and puts the new users' ids in the list this yields; on
    leaving, the new users and the updated ones are indexed. Nothing else may write users inside the
    block. On an exception the index is left as it is: the caller's transaction rolls back, the triggers'
    removal with it."""
    new_ids: list[int] = []
    updated = json.dumps(sorted(updated_ids))
    # An external-content index deletes an entry by its indexed values: the rows' values before the update.
    conn.execute(
        f"INSERT INTO users_search (users_search, rowid, {_COLUMNS}) "
        f"SELECT 'delete', id, {_COLUMNS} FROM users WHERE id IN ({_IDS})",
        (updated,),
    )
    with set_aside(conn, TRIGGERS):
        yield new_ids
    if new_ids and new_ids == list(range(new_ids[0], new_ids[0] + len(new_ids))):
        # One run of ids (the usual case: SQLite gives a new row the largest id + 1): read as a range.
        conn.execute(
            f"INSERT INTO users_search (rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM users "
            "WHERE id BETWEEN ? AND ?",
            (new_ids[0], new_ids[-1]),
        )
    elif new_ids:
        conn.execute(
            f"INSERT INTO users_search (rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM users "
            f"WHERE id IN ({_IDS})",
            (json.dumps(new_ids),),
        )
    conn.execute(
        f"INSERT INTO users_search (rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM users WHERE id IN ({_IDS})",
        (updated,),
    )
