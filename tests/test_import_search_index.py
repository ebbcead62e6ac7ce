"""The users' search index after imports: a big one fills it once for the rows it writes (its per-row
triggers set aside), a small one keeps the triggers, and either way the Users filter finds what the import
wrote and the index agrees with the users table, even after a kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from store import schema, search_index
from store.db import Database
from store.formats import read_file
from store.importer import import_document
from store.importer.apply import MEMBERSHIPS_BY_USER
from tests.conftest import TUI_COMMAND
from tests.test_import_atomicity import write_big_csv
from tests.test_import_support import DATA, copy_directory, export_json, one


def assert_index_sound(db: Path) -> None:
    """SQLite's integrity check, and FTS5's with rank 1: every user indexed with its current values, nothing
    else indexed (a 'rebuild' would change nothing); the triggers and the index set aside are always back."""
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw.execute("INSERT INTO users_search (users_search, rank) VALUES ('integrity-check', 1)")
        triggers = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert set(search_index.TRIGGERS) <= triggers
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert MEMBERSHIPS_BY_USER in indexes
    finally:
        raw.close()


def found(directory: Any, text: str) -> list[str]:
    """What the console's Users filter shows for ``text``."""
    return [user.user_name for user in directory.users.list(filter=text, limit=1000).items]


def import_file(directory: Any, path: Path) -> list[str]:
    """Import ``path`` the way `tui import` does; returns the statements SQLite ran on the way."""
    raw = path.read_bytes()
    reading = read_file(raw, str(path))
    statements: list[str] = []
    directory.db.conn.set_trace_callback(statements.append)
    try:
        result = import_document(directory, reading.document, file_name=str(path), raw=raw)
    finally:
        directory.db.conn.set_trace_callback(None)
    assert result.applied
    return statements


def bulk_fills(statements: list[str]) -> int:
    return sum(1 for s in statements if s.startswith('DROP TRIGGER "users_search_insert"'))


def test_a_big_import_is_found_by_the_filter_and_its_index_matches_the_users(
    run_tui, open_directory, db_path: Path, tmp_path: Path
) -> None:
    assert run_tui("import", DATA / "users.csv").returncode == 0
    big = tmp_path / "big.csv"
    write_big_csv(big)  # 12,000 new users, and ada.lovelace's display name changed
    directory = open_directory()
    assert found(directory, "Ada Lovelace") == ["ada.lovelace"]

    statements = import_file(directory, big)
    assert bulk_fills(statements) == 1
    assert found(directory, "ser01199") == [f"user01199{i}" for i in range(10)]
    assert found(directory, "user011999@example") == ["user011999"]
    assert found(directory, "Countess") == ["ada.lovelace"]
    assert found(directory, "Ada Lovelace") == []  # the old display name left the index with the update
    assert directory.users.list(filter="example.org", limit=1).total == 12_000 + 6  # and users.csv's six
    assert_index_sound(db_path)

    # The triggers are back for ordinary edits once the import has committed.
    created = directory.users.create("zelda.fitzgerald", display_name="Zelda Sayre")
    assert found(directory, "Sayre") == ["zelda.fitzgerald"]
    directory.users.update(created.id, created.version, display_name="Zelda Fitzgerald")
    assert found(directory, "Sayre") == [] and found(directory, "Zelda Fitz") == ["zelda.fitzgerald"]
    assert_index_sound(db_path)


def test_a_big_import_that_renames_every_user_reindexes_them_all(
    run_tui, open_directory, db_path: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    write_big_csv(big, 3_000)
    assert run_tui("import", big).returncode == 0
    big.write_text(big.read_text(encoding="utf-8").replace(",User ", ",Person "), encoding="utf-8")
    directory = open_directory()

    statements = import_file(directory, big)
    assert bulk_fills(statements) == 1
    assert found(directory, "User 2999") == []
    assert found(directory, "Person 2999") == ["user002999"]
    assert directory.users.list(filter="Person ", limit=1).total == 3_000
    assert_index_sound(db_path)


def test_a_small_import_keeps_the_per_row_triggers(
    run_tui, open_directory, db_path: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small.csv"
    write_big_csv(small, search_index.BULK_ROWS - 2)  # with ada.lovelace's update: one under the threshold
    directory = open_directory()

    statements = import_file(directory, small)
    assert bulk_fills(statements) == 0
    assert not any(s.startswith("INSERT INTO users_search") for s in statements)
    assert found(directory, "user000997@") == ["user000997"]
    assert_index_sound(db_path)


def test_kill_9_during_a_big_import_leaves_before_or_after_and_a_sound_index(
    run_tui, tmp_path: Path, tui_env: dict[str, str]
) -> None:
    before_db = tmp_path / "before.db"
    assert run_tui("--db", before_db, "import", DATA / "users.csv").returncode == 0
    before = export_json(run_tui, "--db", before_db)
    big = tmp_path / "big.csv"
    write_big_csv(big)
    after_db = tmp_path / "after.db"
    copy_directory(before_db, after_db)
    started = time.monotonic()
    assert run_tui("--db", after_db, "import", big).returncode == 0
    duration = time.monotonic() - started
    after = export_json(run_tui, "--db", after_db)

    def killed_run(trial: int, delay: float | None) -> str:
        db = tmp_path / f"trial{trial}.db"
        copy_directory(before_db, db)
        wal = Path(f"{db}-wal")
        process = subprocess.Popen(
            [*TUI_COMMAND, "--db", str(db), "import", str(big)],
            env=tui_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        try:
            if delay is None:  # while the transaction is half-written
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and process.poll() is None:
                    if wal.exists() and wal.stat().st_size > 1024 * 1024:
                        break
                    time.sleep(0.002)
            else:
                time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=60)
        exported = export_json(run_tui, "--db", db)
        assert exported in (before, after), f"trial {trial} ({delay}): neither before nor after"
        assert_index_sound(db)
        if exported == after:
            assert one(db, "SELECT count(*) FROM users_search WHERE users_search MATCH '\"user011999\"'") == 1
        return "before" if exported == before else "after"

    assert killed_run(0, None) == "before"
    rng = random.Random(14)
    for trial in range(1, 4):
        killed_run(trial, rng.uniform(0.05, duration * 1.1))


def test_a_version_5_directory_upgrades_and_its_search_keeps_working(
    run_tui, open_directory, db_path: Path, tmp_path: Path
) -> None:
    old = Database(db_path, migrate_to=5)
    with old.write() as conn:
        conn.execute(
            "INSERT INTO users (user_name, user_name_key, display_name, email, created_at, updated_at) "
            "VALUES ('Alice', 'alice', 'Alice Wonderland', 'alice@example.org', "
            "'2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')"
        )
    old.close()

    directory = open_directory()
    assert directory.db.schema_version() == schema.LATEST
    assert found(directory, "Wonderland") == ["Alice"]
    big = tmp_path / "big.csv"
    write_big_csv(big, 2_000)
    assert bulk_fills(import_file(directory, big)) == 1
    alice = directory.users.get_by_name("Alice")
    directory.users.update(alice.id, alice.version, display_name="Alice Liddell")
    assert found(directory, "Wonderland") == [] and found(directory, "Liddell") == ["Alice"]
    assert found(directory, "user001999") == ["user001999"]
    assert_index_sound(db_path)
