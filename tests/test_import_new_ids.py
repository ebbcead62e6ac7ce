"""The row ids an import's new users and groups get, which its memberships are written with: SQLite gives a
new row the largest id + 1, so the importer takes them in order after one check, and reads them back by name
when that does not hold (a row at the largest id SQLite allows makes it pick ids at random)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.test_import_search_index import assert_index_sound, found

LARGEST_ROWID = 2**63 - 1


def document(count: int) -> dict:
    users = [{"userName": f"user{n:04d}", "displayName": f"User {n}"} for n in range(count)]
    groups = [{"displayName": f"team{t}", "members": [u["userName"] for u in users[t::3]]} for t in range(3)]
    return {"users": users, "groups": groups}


def members_by_name(db_path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(db_path) as raw:
        rows = raw.execute(
            "SELECT g.name, u.user_name FROM memberships m JOIN groups g ON g.id = m.group_id "
            "JOIN users u ON u.id = m.user_id"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for group, user in rows:
        found.setdefault(group, set()).add(user)
    return found


@pytest.mark.parametrize("planted", [None, LARGEST_ROWID], ids=["ids in order", "a row at the largest id"])
@pytest.mark.parametrize("count", [30, 1_500], ids=["small", "bulk"])
def test_each_membership_joins_the_user_and_group_the_file_names(
    run_tui, directory, db_path: Path, tmp_path: Path, planted: int | None, count: int
) -> None:
    directory.users.create("lucy")
    directory.groups.create("early")
    if planted is not None:
        with directory.db.write() as conn:
            for table, name in (("users", "user_name"), ("groups", "name")):
                conn.execute(
                    f"INSERT INTO {table} (id, {name}, {name}_key, created_at, updated_at) "
                    "VALUES (?, 'top', 'top', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                    (planted,),
                )
    wanted = document(count)
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(wanted), encoding="utf-8")
    result = run_tui("import", path)
    assert result.returncode == 0, result
    assert members_by_name(db_path) == {g["displayName"]: set(g["members"]) for g in wanted["groups"]}
    with sqlite3.connect(db_path) as raw:
        ids = [
            row[0]
            for row in raw.execute("SELECT id FROM users WHERE user_name LIKE 'user%' ORDER BY user_name")
        ]
    # The search index has every new user (a bulk import fills it for the new ids, whatever they are).
    assert_index_sound(db_path)
    assert found(directory, f"user{count - 1:04d}") == [f"user{count - 1:04d}"]
    if planted is None:  # in the file's order, after lucy (and root)
        assert ids == sorted(ids) and ids[-1] - ids[0] == count - 1
