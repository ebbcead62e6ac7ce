"""``store.bulk.insert``: many rows through a staging table write exactly what ``executemany`` of the
table's one INSERT writes (values, types, order of ids), and refuse what it refuses, leaving nothing
behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import bulk
from store.db import Database

COLUMNS = ("name", "name_key", "note", "size", "made_at")
TABLE = """
CREATE TABLE things (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    note TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    made_at TEXT NOT NULL
);
CREATE TABLE parts (
    thing_id INTEGER NOT NULL REFERENCES things(id),
    part TEXT NOT NULL,
    PRIMARY KEY (thing_id, part)
) WITHOUT ROWID;
"""
NOW = "2026-12-05T00:00:00Z"


def _open(path: Path) -> sqlite3.Connection:
    conn = Database(path).conn  # the directory's connection settings (foreign keys, temp store in memory)
    conn.executescript(TABLE)
    return conn


def _rows(count: int) -> list[tuple[object, ...]]:
    """Rows whose columns vary in every way: every row different, one value only in the last row, shared
    objects, None, integers and blobs."""
    rows: list[tuple[object, ...]] = []
    for i in range(count):
        note = None if i % 3 else f"note {i}"
        size = 7 if i < count - 1 else 8  # the same in every row but the last
        rows.append((f"Thing {i}", f"thing {i}", note, size, NOW))
    return rows


def _contents(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return [
        (*row, *(type(value).__name__ for value in row))
        for row in conn.execute("SELECT * FROM things ORDER BY id")
    ]


@pytest.mark.parametrize("count", [1, bulk.STAGED_FROM - 1, bulk.STAGED_FROM, 3 * bulk.STAGED_FROM + 5])
def test_bulk_insert_writes_what_executemany_writes(tmp_path: Path, count: int) -> None:
    rows = _rows(count)
    expected, staged = _open(tmp_path / "expected.db"), _open(tmp_path / "staged.db")
    expected.execute("INSERT INTO things (name, name_key, made_at) VALUES ('first', 'first', 'then')")
    staged.execute("INSERT INTO things (name, name_key, made_at) VALUES ('first', 'first', 'then')")
    expected.executemany(bulk.insert_statement("things", COLUMNS), rows)
    staged.execute("BEGIN IMMEDIATE")
    bulk.insert(staged, "things", COLUMNS, rows)
    staged.execute("COMMIT")
    assert _contents(staged) == _contents(expected)
    # The new rows' ids follow the largest id before, in the rows' order.
    assert [
        row[0] for row in staged.execute("SELECT id FROM things WHERE id > 1 ORDER BY name_key")
    ] == sorted(range(2, count + 2), key=lambda i: f"thing {i - 2}")
    assert staged.execute("SELECT count(*) FROM sqlite_temp_master").fetchone()[0] == 0


def test_bulk_insert_writes_rows_that_are_all_alike(tmp_path: Path) -> None:
    conn = _open(tmp_path / "alike.db")
    conn.execute("INSERT INTO things (name, name_key, made_at) VALUES ('t', 't', 'then')")
    rows = [(1, "part")] * bulk.STAGED_FROM
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        bulk.insert(conn, "parts", ("thing_id", "part"), rows)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM parts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_temp_master").fetchone()[0] == 0


@pytest.mark.parametrize("count", [10, 2 * bulk.STAGED_FROM])
def test_bulk_insert_refuses_what_the_table_refuses_and_leaves_no_staging(tmp_path: Path, count: int) -> None:
    conn = _open(tmp_path / "refused.db")
    rows = _rows(count)
    duplicate = [*rows, rows[count // 2]]  # a key twice
    orphan = [(thing, "p") for thing in range(2, count + 2)]  # no thing with these ids: a foreign key broken
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        bulk.insert(conn, "things", COLUMNS, duplicate)
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        bulk.insert(conn, "parts", ("thing_id", "part"), orphan)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM parts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_temp_master").fetchone()[0] == 0


def test_staging_rows_stay_in_memory(tmp_path: Path) -> None:
    """Names and addresses staged by an import never land in a temporary file outside the folder."""
    conn = Database(tmp_path / "d.db").conn
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY


def test_bulk_insert_refuses_to_run_outside_a_transaction(tmp_path: Path) -> None:
    """Staged rows outside a transaction would commit statement by statement (some even when it fails)."""
    conn = _open(tmp_path / "auto.db")
    with pytest.raises(RuntimeError, match="inside its caller's transaction"):
        bulk.insert(conn, "things", COLUMNS, _rows(bulk.STAGED_FROM))
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0


def test_a_staging_table_that_cannot_be_dropped_does_not_hide_the_error_nor_block_the_next_call(
    tmp_path: Path,
) -> None:
    conn = _open(tmp_path / "locked.db")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(bulk.insert_statement("things", COLUMNS), _rows(3))
    reading = conn.execute("SELECT * FROM things")  # a statement still being read: DROP TABLE fails
    reading.fetchone()
    orphans = [(99, f"p{i}") for i in range(bulk.STAGED_FROM)]  # no thing 99: the insert itself fails
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        bulk.insert(conn, "parts", ("thing_id", "part"), orphans)
    reading.close()
    good = [(2, f"p{i}") for i in range(bulk.STAGED_FROM)]
    bulk.insert(conn, "parts", ("thing_id", "part"), good)  # a staging table of its own
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM parts").fetchone()[0] == bulk.STAGED_FROM


# -- insert_series: rows that differ in one integer column -----------------------------------------------

SERIES_TABLE = """
CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    thing_id INTEGER NOT NULL REFERENCES things(id),
    note TEXT,
    made_at TEXT NOT NULL
);
"""
LINK_COLUMNS = ("thing_id", "note", "made_at")


def _series_open(path: Path) -> sqlite3.Connection:
    conn = _open(path)
    conn.executescript(SERIES_TABLE)
    conn.executemany(bulk.insert_statement("things", COLUMNS), _rows(20))
    return conn


@pytest.mark.parametrize("values", [[5], [3, 1, 2], list(range(20, 0, -1)) * 3, [2**62 + 1]])
def test_insert_series_writes_what_executemany_writes(tmp_path: Path, values: list[int]) -> None:
    expected, series = _series_open(tmp_path / "expected.db"), _series_open(tmp_path / "series.db")
    big = values == [2**62 + 1]
    if big:  # an integer beyond a double's precision comes back exactly
        for conn in (expected, series):
            conn.execute("PRAGMA foreign_keys = OFF")
    expected.executemany(
        bulk.insert_statement("links", LINK_COLUMNS), [(value, "n'o\"te", NOW) for value in values]
    )
    series.execute("BEGIN IMMEDIATE")
    bulk.insert_series(series, "links", LINK_COLUMNS, (None, "n'o\"te", NOW), "thing_id", values)
    series.execute("COMMIT")
    query = "SELECT id, thing_id, typeof(thing_id), note, made_at FROM links ORDER BY id"
    assert series.execute(query).fetchall() == expected.execute(query).fetchall()  # ids follow the order


def test_insert_series_refuses_what_the_table_refuses(tmp_path: Path) -> None:
    conn = _series_open(tmp_path / "refused.db")
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        bulk.insert_series(conn, "links", LINK_COLUMNS, (None, None, NOW), "thing_id", [1, 2, 999])
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM links").fetchone()[0] == 0


@pytest.mark.parametrize("values", [[1, True], [1, "2"], [1.0]])
def test_insert_series_takes_integers_only(tmp_path: Path, values: list[object]) -> None:
    conn = _series_open(tmp_path / "typed.db")
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(TypeError, match="integers"):
        bulk.insert_series(conn, "links", LINK_COLUMNS, (None, None, NOW), "thing_id", values)  # type: ignore[arg-type]
    conn.execute("ROLLBACK")


def test_insert_series_refuses_to_run_outside_a_transaction(tmp_path: Path) -> None:
    conn = _series_open(tmp_path / "auto.db")
    with pytest.raises(RuntimeError, match="inside its caller's transaction"):
        bulk.insert_series(conn, "links", LINK_COLUMNS, (None, None, NOW), "thing_id", [1, 2])
    assert conn.execute("SELECT count(*) FROM links").fetchone()[0] == 0
