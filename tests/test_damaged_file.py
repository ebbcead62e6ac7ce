"""A directory file damaged on disk (a bad sector, a half-copied file) is not a bug of ours: the command says
what is wrong with the file and what to do, exit 1, instead of "internal error … report it" (exit 70). The
console says the same in one line and goes on."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tui.workers import failure_message

DAMAGED = (
    "tui: the directory file is damaged (database disk image is malformed): restore a copy made with tui "
    "backup; nothing was changed\n"
)


def damage_the_users_table(db_path: Path) -> None:
    """Overwrite the users table's first page with garbage, as a failing disk would."""
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()[0]
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    with db_path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


@pytest.fixture
def damaged(run_tui, db_path: Path, tmp_path: Path) -> Path:
    users = {"users": [{"userName": f"user{n}", "displayName": f"User {n}"} for n in range(50)]}
    (tmp_path / "users.json").write_text(json.dumps(users), encoding="utf-8")
    assert run_tui("import", tmp_path / "users.json").returncode == 0
    damage_the_users_table(db_path)
    return db_path


@pytest.mark.parametrize(
    "command", [("export",), ("access", "--user", "user1"), ("report", "credentials")], ids=" ".join
)
def test_a_command_on_a_damaged_file_says_so(run_tui, damaged: Path, command: tuple[str, ...]) -> None:
    result = run_tui(*command)
    assert result.returncode == 1, result
    assert result.stderr == DAMAGED and result.stdout == ""


def test_the_console_says_it_in_its_words(damaged: Path) -> None:
    with pytest.raises(sqlite3.DatabaseError) as raised, sqlite3.connect(damaged) as raw:
        raw.execute("SELECT * FROM users").fetchall()
    assert failure_message(raised.value) == (
        "The directory file is damaged (database disk image is malformed): restore a copy made with "
        "tui backup"
    )
    assert failure_message(sqlite3.IntegrityError("UNIQUE constraint failed")).startswith("Internal error")
