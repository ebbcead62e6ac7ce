"""What every concept's service shares: paging, versioned updates, audit in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from store.errors import Conflict, NotFound
from store.names import canonical

if TYPE_CHECKING:
    from store.directory import Directory

T = TypeVar("T")
PAGE_SIZE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing. ``next_after`` continues it (keyset); ``total`` counts every match."""

    items: list[T]
    total: int
    next_after: str | None


class Service(Generic[T]):
    """Base of a concept's service. Subclasses name their table, sort key and row type."""

    table: str
    noun: str  # "user", "group": the word used in messages and audit targets
    sort_column = "name_key"
    display_column = "name"
    listed = "1"  # which rows listings show (users hide root)
    from_row: Callable[[sqlite3.Row], T]

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    # -- helpers ------------------------------------------------------------------------------------

    def _now(self) -> str:
        return self.directory.now_text()

    def _audit(
        self,
        conn: sqlite3.Connection,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if before is not None and before == after and not extra:
            return  # a save that changed nothing is not an event
        self.directory.record(
            conn,
            at=self._now(),
            action=action,
            target=target,
            before=before,
            after=after,
            extra=extra,
        )

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT * FROM {self.table} WHERE id = ?", (row_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"{self.noun} #{row_id} does not exist (it may have been deleted)")
        return row

    def get(self, row_id: int) -> T:
        with self.db.read() as conn:
            return type(self).from_row(self._row(conn, row_id))

    def complete(self, prefix: str, limit: int = 5) -> list[str]:
        """Names that start with ``prefix`` (compared canonically), for completion in name fields."""
        key = canonical(prefix)
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {self.display_column} FROM {self.table} "
                f"WHERE {self.listed} AND {self.sort_column} >= ? AND {self.sort_column} < ? "
                f"ORDER BY {self.sort_column} LIMIT ?",
                (key, key + "\U0010ffff", limit),
            ).fetchall()
        return [row[0] for row in rows]

    def _versioned_update(
        self,
        conn: sqlite3.Connection,
        row_id: int,
        version: int,
        changes: Mapping[str, Any],
        *,
        touch: bool = False,
    ) -> sqlite3.Row:
        """UPDATE … WHERE version = the one the caller read; a lost race raises Conflict, never overwrites.
        Values equal to the stored ones are left alone; with nothing left to change (and no ``touch``, for
        changes kept in other tables) the row is returned as it is, version unchanged."""
        current = self._row(conn, row_id)
        changes = {column: value for column, value in changes.items() if current[column] != value}
        if not changes and not touch:
            self._check_version(conn, current, version)
            return current
        assignments = "".join(f"{column} = ?, " for column in changes)
        cursor = conn.execute(
            f"UPDATE {self.table} SET {assignments}updated_at = ?, version = version + 1 "
            "WHERE id = ? AND version = ?",
            (*changes.values(), self._now(), row_id, version),
        )
        if cursor.rowcount == 0:
            self._raise_stale(conn, row_id)
        return self._row(conn, row_id)

    def _check_version(self, conn: sqlite3.Connection, row: sqlite3.Row, version: int) -> None:
        if row["version"] != version:
            self._raise_stale(conn, row["id"])

    def _raise_stale(self, conn: sqlite3.Connection, row_id: int) -> None:
        current = type(self).from_row(self._row(conn, row_id))  # NotFound if it was deleted meanwhile
        raise Conflict(
            f"this {self.noun} was changed by someone else since you opened it; nothing was saved. "
            "Reload to see their change.",
            current=current,
        )

    def _list_named(
        self, filter: str, after: str | None, offset: int, limit: int, select: str = "*"
    ) -> Page[T]:
        """A listing by name of a concept with ``name_key`` and ``description``: ``filter`` matches either,
        anywhere, ignoring case (these tables hold hundreds of rows, not 100,000: no index needed)."""
        where, params = [], []
        if filter.strip():
            pattern = like_contains(canonical(filter.strip()))
            where.append("(name_key LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        with self.db.read() as conn:
            return self._page(
                conn, where=where, params=params, after=after, offset=offset, limit=limit, select=select
            )

    def _page(
        self,
        conn: sqlite3.Connection,
        *,
        where: Sequence[str],
        params: Sequence[Any],
        after: str | None,
        offset: int,
        limit: int,
        select: str = "*",
        count: tuple[str, Sequence[Any]] | None = None,
    ) -> Page[T]:
        """One page by ``sort_column`` after ``after`` (or at ``offset``), with the total of all matches.
        ``count`` replaces the total's query where an index answers it faster than the WHERE clause."""
        limit = max(1, min(limit, MAX_PAGE))
        clause = " AND ".join(where) if where else "1"
        count_sql, count_params = count or (f"SELECT count(*) FROM {self.table} WHERE {clause}", params)
        total = conn.execute(count_sql, count_params).fetchone()[0]
        sql = f"SELECT {select} FROM {self.table} WHERE {clause}"
        page_params = list(params)
        if after is not None:
            sql += f" AND {self.sort_column} > ?"
            page_params.append(int(after) if self.sort_column == "id" else after)
        sql += f" ORDER BY {self.sort_column} LIMIT ?"
        page_params.append(limit)
        if after is None and offset:
            sql += " OFFSET ?"
            page_params.append(offset)
        rows = conn.execute(sql, page_params).fetchall()
        items = [type(self).from_row(row) for row in rows]
        next_after = str(rows[-1][self.sort_column]) if len(rows) == limit else None
        return Page(items, total, next_after)


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern (with ESCAPE '\\') that matches it only: its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_contains(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + like_literal(text) + "%"


def joined_page(
    conn: sqlite3.Connection,
    select: str,
    clause: str,
    params: Sequence[Any],
    *,
    id_column: str,
    after: str | None,
    offset: int,
    limit: int,
    from_row: Callable[[sqlite3.Row], T],
    newest_first: bool = False,
) -> Page[T]:
    """A keyset page of ``select WHERE clause`` by an integer id (joined listings: assignments, sessions),
    with the total of all matches. ``after`` continues from an id; ``offset`` jumps."""
    # Raw sqlite3, not sqlite-utils: paging is a hot path (keyset SQL from the caller's snapshot).
    total = conn.execute(f"SELECT count(*) FROM ({select} WHERE {clause})", params).fetchone()[0]
    sql, page_params = f"{select} WHERE {clause}", list(params)
    if after is not None:
        sql += f" AND {id_column} {'<' if newest_first else '>'} ?"
        page_params.append(int(after))
    sql += f" ORDER BY {id_column} {'DESC' if newest_first else 'ASC'} LIMIT ?"
    page_params.append(limit)
    if after is None and offset:
        sql += " OFFSET ?"
        page_params.append(offset)
    rows = conn.execute(sql, page_params).fetchall()
    items = [from_row(row) for row in rows]
    return Page(items, total, str(rows[-1]["id"]) if len(rows) == limit else None)
