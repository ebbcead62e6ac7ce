"""Opening a directory file: connection rules (SPEC §3), private files, schema upgrades, refusals."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlite_utils

from store import schema
from store.db import Database
from store.directory import Directory
from store.errors import StoreError
from tests.conftest import TEST_ACTOR


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def pragmas(conn: sqlite3.Connection) -> dict[str, object]:
    return {
        name: conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
    }


def assert_storage_rules(conn: sqlite3.Connection) -> None:
    values = pragmas(conn)
    assert str(values["journal_mode"]).lower() == "wal", values
    assert values["foreign_keys"] == 1, values
    assert int(values["busy_timeout"]) >= 5000, values  # type: ignore[arg-type]  # a PRAGMA value: int
    assert values["synchronous"] == 2, values  # FULL
    assert conn.isolation_level is None  # autocommit: every transaction is begun explicitly


# -- connection rules --------------------------------------------------------------------------------------


def test_every_connection_applies_the_storage_rules(db_path: Path) -> None:
    first = Database(db_path)  # creates the file
    second = Database(db_path)  # opens the existing file
    third = Directory.open(db_path, TEST_ACTOR)
    try:
        for conn in (first.conn, second.conn, third.db.conn):
            assert_storage_rules(conn)
    finally:
        for closable in (first, second, third):
            closable.close()
    reopened = Database(db_path)
    try:
        assert_storage_rules(reopened.conn)
    finally:
        reopened.close()


def test_a_write_transaction_takes_the_write_lock_before_its_first_statement(db_path: Path) -> None:
    """BEGIN IMMEDIATE: a write never starts as a read that may later fail to upgrade its lock."""
    db = Database(db_path)
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        with db.write():
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
        other.execute("ROLLBACK")
    finally:
        other.close()
        db.close()


def test_a_failed_write_transaction_changes_nothing(directory: Directory) -> None:
    with pytest.raises(RuntimeError):
        with directory.db.write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES ('probe', 'x')")
            raise RuntimeError("boom")
    with directory.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM settings WHERE key = 'probe'").fetchone()[0] == 0


def test_other_connections_notice_committed_changes(open_directory) -> None:
    watcher, editor = open_directory(), open_directory()
    before = watcher.db.data_version()
    assert watcher.db.data_version() == before  # nothing happened
    editor.users.create("alice")
    assert watcher.db.data_version() != before


# -- private files -----------------------------------------------------------------------------------------


def test_a_new_database_and_its_new_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "directory.db"
    with umask(0o022):  # a permissive umask, as on most desktops: the store must not rely on it
        db = Database(path)
        try:
            db.conn.execute("CREATE TABLE probe (x)")  # make sure -wal and -shm exist
            db.conn.execute("INSERT INTO probe VALUES (1)")
            assert mode(path.parent) == 0o700
            assert mode(path) == 0o600
            for suffix in ("-wal", "-shm"):
                companion = path.with_name(path.name + suffix)
                assert companion.exists(), f"{companion} should exist while the database is open"
                assert mode(companion) == 0o600, companion
        finally:
            db.close()
    assert mode(path) == 0o600


def test_every_folder_created_for_a_new_database_is_private(tmp_path: Path) -> None:
    """SPEC §3: directories the program creates are 0700, the intermediate ones of a nested path too."""
    path = tmp_path / "outer" / "inner" / "directory.db"
    with umask(0o022):
        Database(path).close()
    assert oct(mode(tmp_path / "outer" / "inner")) == oct(0o700)
    assert oct(mode(tmp_path / "outer")) == oct(0o700)


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    Database(folder / "directory.db").close()
    assert mode(folder) == 0o755
    assert mode(folder / "directory.db") == 0o600


def test_the_cli_creates_private_files_and_folders(tmp_path: Path, run_tui) -> None:
    path = tmp_path / "cli" / "nested" / "directory.db"
    result = run_tui("--db", path, "export")
    assert result.returncode == 0, result
    assert mode(tmp_path / "cli") == 0o700
    assert mode(tmp_path / "cli" / "nested") == 0o700
    assert mode(path) == 0o600


# -- schema upgrades ---------------------------------------------------------------------------------------


def test_a_version_1_database_is_upgraded_in_place(db_path: Path) -> None:
    old = Database(db_path, migrate_to=1)
    try:
        assert old.schema_version() == 1
        assert "users" in old.introspect().table_names()
        assert "users_search" not in old.introspect().table_names()
        with old.write() as conn:
            conn.execute(
                "INSERT INTO users (user_name, user_name_key, display_name, email, created_at, updated_at) "
                "VALUES ('Alice', 'alice', 'Alice Wonderland', 'alice@example.org', "
                "'2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')"
            )
    finally:
        old.close()

    with Directory.open(db_path, TEST_ACTOR) as upgraded:
        assert upgraded.db.schema_version() == schema.LATEST
        # The v2 trigram search finds the user written before it existed.
        page = upgraded.users.list(filter="wonderland")
        assert [u.user_name for u in page.items] == ["Alice"]
        assert page.total == 1
        assert [u.user_name for u in upgraded.users.list(filter="example.org").items] == ["Alice"]
        # …and keeps up with later changes (the v2 triggers are in place).
        alice = upgraded.users.get_by_name("alice")
        upgraded.users.update(alice.id, alice.version, display_name="Looking Glass")
        assert upgraded.users.list(filter="wonderland").total == 0
        assert [u.user_name for u in upgraded.users.list(filter="looking").items] == ["Alice"]

    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    finally:
        raw.close()


def test_an_upgrade_that_fails_changes_nothing_and_says_why(db_path: Path) -> None:
    """Migrations run in one transaction: a failure leaves the old schema whole, reported as a StoreError."""
    Database(db_path, migrate_to=1).close()
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE users_search (x)")  # something in the way of migration 2
    raw.commit()
    raw.close()

    with pytest.raises(StoreError):
        Database(db_path)

    with sqlite_utils.Database(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert raw.triggers == []
        assert raw["users_search"].columns_dict == {"x": str}  # the table in the way, as it was


def test_a_database_from_a_newer_tui_is_refused(db_path: Path, run_tui) -> None:
    Database(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {schema.LATEST + 7}")
    raw.commit()
    raw.close()

    with pytest.raises(StoreError, match="newer") as refused:
        Database(db_path)
    assert str(schema.LATEST + 7) in str(refused.value)

    result = run_tui("--db", db_path, "export")
    assert result.returncode == 1, result
    assert "newer" in result.stderr and str(db_path) in result.stderr
    assert result.stdout == ""

    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST + 7  # left alone
    finally:
        raw.close()


@pytest.mark.parametrize(
    "content",
    [b"hello", b"this is not a directory database\n" * 200, random.Random(7).randbytes(8192)],
    ids=["tiny-text", "long-text", "random-bytes"],
)
def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, run_tui, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    path.chmod(0o600)  # a file others can read is refused before its content is looked at

    with pytest.raises(StoreError, match="not a tui directory database"):
        Database(path)
    with pytest.raises(StoreError):
        Directory.open(path, TEST_ACTOR)

    result = run_tui("--db", path, "export")
    assert result.returncode == 1, result
    assert str(path) in result.stderr
    assert "not a tui directory database" in result.stderr
    assert path.read_bytes() == content  # untouched


def test_a_folder_is_refused_as_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder"):
        Database(tmp_path)


def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path, run_tui) -> None:
    path = tmp_path / "places.sqlite"
    other = sqlite_utils.Database(path)
    other["bookmarks"].insert({"url": "https://example.org", "title": "Example"})
    other.close()
    path.chmod(0o600)
    before = path.read_bytes()

    with pytest.raises(StoreError, match=r"not a tui directory database: .*other tables \(bookmarks\)"):
        Database(path)
    result = run_tui("--db", path, "export")
    assert result.returncode == 1, result
    assert (
        f"{path} is not a tui directory database" in result.stderr and "nothing was changed" in result.stderr
    )
    # No tables of ours added, and not even switched to WAL mode.
    assert path.read_bytes() == before
    assert sqlite_utils.Database(path).table_names() == ["bookmarks"]


# -- table rebuilds (schema.rebuild_table) -------------------------------------------------------------------


def _people(db_path: Path) -> None:
    """alice and bob in Ops, alice with an access key: rows that point at users through ON DELETE CASCADE."""
    with Directory.open(db_path, TEST_ACTOR) as directory:
        alice = directory.users.create("alice", display_name="Alice Wonderland")
        bob = directory.users.create("bob", display_name="Bob Builder")
        ops = directory.groups.create("Ops")
        directory.groups.add_member(ops.id, alice.id)
        directory.groups.add_member(ops.id, bob.id)
        directory.access_keys.create(alice.id)


def _search(conn: sqlite3.Connection, text: str) -> list[str]:
    rows = conn.execute(
        "SELECT u.user_name FROM users_search s JOIN users u ON u.id = s.rowid "
        "WHERE users_search MATCH ? ORDER BY u.user_name",
        (f'"{text}"',),
    )
    return [row[0] for row in rows]


def test_a_table_rebuild_migration_keeps_what_points_at_the_table(db_path: Path) -> None:
    """A rebuild of users (what ALTER TABLE cannot do: here, a new default) keeps the rows that point at
    users, the search index and its triggers, and the table's own constraints."""
    _people(db_path)

    def new_default(db: sqlite_utils.Database) -> None:
        schema.rebuild_table(db, "users", defaults={"given_name": "unknown"})

    with Database(db_path, migrations=[*schema.MIGRATIONS, new_default]) as upgraded:
        conn = upgraded.conn
        assert upgraded.schema_version() == schema.LATEST + 1
        assert upgraded.introspect()["users"].default_values["given_name"] == "unknown"
        # ON DELETE CASCADE did not fire when the old table was dropped.
        assert conn.execute("SELECT count(*) FROM memberships").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM access_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on for everything after
        # The search index still finds the rows, and its triggers follow new writes.
        assert _search(conn, "wonderland") == ["alice"]
        with upgraded.write():
            conn.execute(
                "INSERT INTO users (user_name, user_name_key, display_name, created_at, updated_at) "
                "VALUES ('carol', 'carol', 'Carol Wonderland', 'x', 'x')"
            )
            conn.execute("UPDATE users SET display_name = 'Bob Wonderland' WHERE user_name = 'bob'")
        assert _search(conn, "wonderland") == ["alice", "bob", "carol"]
        # The table's own rules came through the rebuild.
        with pytest.raises(sqlite3.IntegrityError), upgraded.write():
            conn.execute("UPDATE users SET status = 'sleeping' WHERE user_name = 'bob'")
        with pytest.raises(sqlite3.IntegrityError), upgraded.write():
            conn.execute("UPDATE users SET user_name_key = 'alice' WHERE user_name = 'bob'")
        with pytest.raises(sqlite3.IntegrityError), upgraded.write():  # foreign keys are enforced again
            conn.execute("INSERT INTO memberships (group_id, user_id, created_at) VALUES (1, 999, 'x')")


def test_a_migration_that_would_leave_a_dangling_row_changes_nothing(db_path: Path) -> None:
    _people(db_path)

    def drop_bob(db: sqlite_utils.Database) -> None:
        db.execute("DELETE FROM users WHERE user_name = 'bob'")  # foreign keys are off during an upgrade

    with pytest.raises(StoreError, match="a row of memberships would point at a missing row of users"):
        Database(db_path, migrations=[*schema.MIGRATIONS, drop_bob])
    with Database(db_path) as unchanged:
        assert unchanged.schema_version() == schema.LATEST
        names = [row[0] for row in unchanged.conn.execute("SELECT user_name FROM users ORDER BY 1")]
        assert names == ["alice", "bob"]
        assert unchanged.conn.execute("SELECT count(*) FROM memberships").fetchone()[0] == 2


def schema_objects(db: Database) -> dict[str, str]:
    return dict(db.conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"))


def test_set_aside_drops_for_the_block_and_makes_them_again_as_they_were(tmp_path: Path) -> None:
    from store.db import set_aside

    with Database(tmp_path / "d.db") as db:
        before = schema_objects(db)
        names = ["memberships_user", "users_search_insert"]
        with db.write() as conn, set_aside(conn, names):
            inside = schema_objects(db)
            assert not set(names) & set(inside)  # gone for the block (its writes skip them)
        assert schema_objects(db) == before  # made again from their own definitions


def test_set_aside_leaves_them_in_place_when_the_write_fails(tmp_path: Path) -> None:
    from store.db import set_aside

    with Database(tmp_path / "d.db") as db:
        before = schema_objects(db)
        with pytest.raises(RuntimeError), db.write() as conn, set_aside(conn, ["memberships_user"]):
            raise RuntimeError("the import failed half-way")
        assert schema_objects(db) == before  # the rollback took the drop back
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_cache_at_least_grows_the_page_cache_for_the_block_only(tmp_path: Path) -> None:
    from store.db import cache_at_least

    def cache(db: Database) -> int:
        return int(db.conn.execute("PRAGMA cache_size").fetchone()[0])

    with Database(tmp_path / "d.db") as db:
        default = cache(db)
        with db.write() as conn, cache_at_least(conn, 32 * 1024):
            assert cache(db) == -32 * 1024  # 32 MiB, in KiB
        assert cache(db) == default
        with pytest.raises(RuntimeError), db.write() as conn, cache_at_least(conn, 32 * 1024):
            raise RuntimeError("the import failed half-way")
        assert cache(db) == default
        db.conn.execute("PRAGMA cache_size = 20000")  # pages: larger than asked for
        with cache_at_least(db.conn, 1024):
            assert cache(db) == 20000  # never made smaller
        assert cache(db) == 20000
