"""Opening a directory file: the connection rules of SPEC §3 and the schema upgrade.

Every write goes through :meth:`Database.write`, which takes the write lock up front with ``BEGIN IMMEDIATE``
so a transaction never reads under a shared lock and then fails to upgrade it ("database is locked"
mid-transaction).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from store import schema
from store.errors import StoreError
from store.files import NotPrivate, create_private, private_folder, private_problem

BUSY_TIMEOUT_MS = 10_000
# BEGIN IMMEDIATE waits busy_timeout for the write lock; under heavy contention we wait again rather than
# hand "database is locked" to a caller. The total wait stays bounded.
BEGIN_ATTEMPTS = 6


class DatabaseError(StoreError):
    """The file cannot be opened or upgraded as a directory."""


# SQLite's errors that come from the file or the machine, never from a bug of ours (by their result code).
_FILE_PROBLEMS = {
    "SQLITE_CORRUPT": ("the directory file is damaged", ": restore a copy made with tui backup"),
    "SQLITE_NOTADB": ("the directory file is not a database", ""),
    "SQLITE_FULL": ("the disk holding the directory is full", ""),
    "SQLITE_IOERR": ("the disk failed to read or write the directory file", ""),
    "SQLITE_READONLY": ("the directory file cannot be written", ": a read-only file or file system"),
    "SQLITE_CANTOPEN": ("the directory file cannot be opened", ""),
    "SQLITE_PERM": ("the directory file may not be written", ""),
    "SQLITE_BUSY": ("another process kept the directory file locked", ""),
    "SQLITE_LOCKED": ("another process kept the directory file locked", ""),
}


def file_problem(error: BaseException) -> str | None:
    """What an SQLite error says of the directory file or the machine, as one sentence with SQLite's own
    words (fixed texts: no value of the directory is in them); None for any other error, a bug of ours."""
    code = getattr(error, "sqlite_errorname", None) if isinstance(error, sqlite3.Error) else None
    if not isinstance(code, str):
        return None
    found = next((texts for prefix, texts in _FILE_PROBLEMS.items() if code.startswith(prefix)), None)
    if found is None:
        return None
    meaning, advice = found
    return f"{meaning} ({error}){advice}"


def failure_kind(error: BaseException) -> str:
    """For an operator's log line: what is wrong with the file or the disk, else the error's kind."""
    return file_problem(error) or type(error).__name__


def _split_statements(script: str) -> list[str]:
    # executescript() would COMMIT first; run statements one by one inside our own transaction instead.
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


@contextmanager
def set_aside(conn: sqlite3.Connection, names: Sequence[str]) -> Iterator[None]:
    """Inside the caller's write transaction: the named indexes and triggers dropped for the block and made
    again from their own definitions after it. A bulk write pays for an index once (CREATE INDEX sorts)
    instead of one random b-tree insert per row, and for a trigger not at all. DDL is transactional in
    SQLite: a crash or an exception (the caller rolls back) leaves them as they were, and readers keep their
    snapshot's schema. Nothing else may rely on them inside the block."""
    objects = {
        name: (kind, definition)
        for name, kind, definition in conn.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        )
    }
    present = [name for name in names if name in objects]
    for name in present:
        conn.execute(f'DROP {objects[name][0].upper()} "{name}"')
    yield
    for name in present:
        conn.execute(objects[name][1])


@contextmanager
def cache_at_least(conn: sqlite3.Connection, kib: int) -> Iterator[None]:
    """SQLite's page cache on ``conn`` at least ``kib`` KiB for the block, then as it was. A bulk write whose
    every row looks up another table (a foreign key's parent) reads that table's pages again and again;
    the default 2 MB cache evicts them between two lookups of the same page."""
    before = int(conn.execute("PRAGMA cache_size").fetchone()[0])  # negative: KiB; positive: pages
    size = -before if before < 0 else before * int(conn.execute("PRAGMA page_size").fetchone()[0]) // 1024
    if size >= kib:
        yield
        return
    conn.execute(f"PRAGMA cache_size = {-kib}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {before}")  # shrinking frees the pages beyond it


def _create_private_file(path: Path) -> list[Path]:
    """Create ``path`` (and missing parent folders) owner-only, before SQLite opens it. Returns what this call
    created, outermost folder first (empty when the file was there already). A file that was there is refused
    when others may read or write it, or another user owns it (as OpenSSH's StrictModes refuses a key)."""
    created = private_folder(path.parent)
    try:
        create_private(path)
    except FileExistsError:
        try:
            info = path.stat()
        except OSError:
            if path.is_symlink():  # to nothing: SQLite would make the file where the link points
                raise DatabaseError(
                    f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: tui does not "
                    "create its database through a link (remove the link, or give the file's own path)"
                ) from None
            return created  # something else SQLite says what is wrong with
        problem = private_problem(path, info, "directory database") if stat.S_ISREG(info.st_mode) else None
        if problem:
            raise NotPrivate(problem) from None
        return created
    return [*created, path]


class Database:
    """One connection to a directory file, safe to share between the console's threads."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        migrate_to: int | None = None,
        migrations: Sequence[schema.Migration] = schema.MIGRATIONS,
    ) -> None:
        """Open (creating if missing) and upgrade to ``migrate_to`` (default: all of ``migrations``)."""
        self.path = Path(path)
        self._migrations = migrations
        # What opening created (folders, the file itself): a refused ``tui init`` removes it again.
        self.created: list[Path] = []
        if str(self.path) != ":memory:":
            if self.path.is_dir():
                raise DatabaseError(f"{self.path} is a folder, not a directory database file")
            self.created = _create_private_file(self.path)
        try:
            # isolation_level=None: autocommit; every transaction is begun explicitly below.
            self.conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._refuse_other_programs_database()  # before WAL mode, which would change its header
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal" and str(self.path) != ":memory:":
                raise DatabaseError(f"{self.path}: cannot switch to WAL journal mode (got {mode})")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = FULL")
            # Temporary tables (an import's staging rows) and big sorts stay in memory, never in a file of
            # names and addresses outside the directory's folder.
            self.conn.execute("PRAGMA temp_store = MEMORY")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path} is not a tui directory database: {exc}") from None
        self._lock = threading.RLock()
        self._depth = 0
        # Commits through this connection: PRAGMA data_version moves only for other connections' commits, so a
        # console adds this to notice its own (a worker's import, another screen's change) the same way.
        self.commits = 0
        self._plain = self.conn.cursor()
        self._plain.row_factory = None
        self._migrate(len(migrations) if migrate_to is None else migrate_to)

    def introspect(self) -> sqlite_utils.Database:
        """sqlite-utils over this connection, for looking at the schema (tables, columns, indexes, triggers).

        No plugins and no ``recursive_triggers``: the connection's behaviour stays exactly as opened."""
        return sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)

    def _refuse_other_programs_database(self) -> None:
        # A file that never had our schema (user_version 0) but holds tables belongs to another program:
        # migration 1 would add our tables to it.
        if self.conn.execute("PRAGMA user_version").fetchone()[0]:
            return
        tables = self.introspect().table_names()
        if tables:
            self.conn.close()
            shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
            raise DatabaseError(
                f"{self.path} is not a tui directory database: it is an SQLite file with other tables "
                f"({shown}); nothing was changed"
            )

    # -- transactions -----------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any exception.
        Nested calls join it."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self._begin("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")
            self.commits += 1

    def write_depth(self) -> int:
        """How many :meth:`write` blocks the calling thread is in (1: the outermost, which commits). Only
        meaningful inside one, where this thread holds the connection."""
        return self._depth

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one snapshot (WAL readers never wait for writers)."""
        with self._lock:
            if self._depth:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            self._depth = 1
            try:
                yield self.conn
            finally:
                self._depth = 0
                self.conn.execute("COMMIT")

    def query_one(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """One row from one statement, without a transaction around it."""
        with self._lock:
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def query_tuple(self, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        """``query_one`` for hot paths (credential checks): a plain tuple from a reused cursor."""
        with self._lock:
            row: tuple[Any, ...] | None = self._plain.execute(sql, params).fetchone()
            return row

    def _begin(self, statement: str) -> None:
        for attempt in range(BEGIN_ATTEMPTS):
            try:
                self.conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if attempt == BEGIN_ATTEMPTS - 1:
                    raise DatabaseError(
                        "the directory is busy: another process held the write lock for over a minute"
                    ) from None
                time.sleep(0.05 * (attempt + 1))

    # -- state ------------------------------------------------------------------------------------------

    def data_version(self, *, wait: bool = True) -> int | None:
        """Changes whenever another connection commits: how a console notices other admins' edits.

        With ``wait=False`` it returns None instead of waiting while this connection is busy (a timer on the
        console's UI thread must never wait behind a long import)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        finally:
            self._lock.release()

    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def vacuum_into(self, target: Path) -> None:
        """A consistent copy of the whole database (VACUUM cannot run inside a transaction)."""
        with self._lock:
            self.conn.execute("VACUUM INTO ?", (str(target),))

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------------------

    def _migrate(self, target: int) -> None:
        current = self.schema_version()
        known = len(self._migrations)
        if current > known:
            raise DatabaseError(
                f"{self.path} was written by a newer tui (schema {current}, this one knows {known})"
            )
        if current >= target:
            return
        # A table rebuild drops a table other rows point at: with foreign keys on, ON DELETE CASCADE would
        # delete them. SQLite's own procedure: foreign keys off around the transaction (the pragma does
        # nothing inside one), every key checked before the commit.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.write() as conn:
                # Re-read under the write lock: another process may have upgraded it meanwhile.
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                for version in range(current, target):
                    migration = self._migrations[version]
                    if isinstance(migration, str):
                        for statement in _split_statements(migration):
                            conn.execute(statement)
                    else:
                        migration(self.introspect())
                broken = conn.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise DatabaseError(
                        f"{self.path} cannot be upgraded from schema {current} to {target}: a row of "
                        f"{broken[0]} would point at a missing row of {broken[2]}; nothing was changed"
                    )
                conn.execute(f"PRAGMA user_version = {target}")
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"{self.path} cannot be upgraded from schema {current} to {target}: {exc}; "
                "nothing was changed"
            ) from None
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
