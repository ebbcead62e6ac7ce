"""Values a hostile file or argument holds, through the real command (a hostile-input sweep found each):
a time before the year 1000 was kept as "999-01-01…", which sorted after every later year, so a grant that
expired a thousand years ago applied (and issuing it crashed); a time at the edge of the calendar was an
internal error; a SCIM bulkId with a digit that is not ASCII ("²") crashed the sorting of the problems; and
a file name's bytes that are not UTF-8 reached the terminal raw (0x9B is the C1 control CSI) and made the
``--json`` output invalid UTF-8."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _granted(expires_at: str) -> dict[str, object]:
    return {
        "users": [{"userName": "u1"}],
        "groups": [{"displayName": "team", "members": [{"userName": "u1", "expiresAt": expires_at}]}],
        "accounts": [{"name": "prod"}],
        "permission_sets": [{"name": "ps"}],
        "assignments": [
            {
                "principalType": "user",
                "principal": "u1",
                "account": "prod",
                "permissionSet": "ps",
                "expiresAt": expires_at,
            },
            {"principalType": "group", "principal": "team", "account": "prod", "permissionSet": "ps"},
        ],
    }


def test_a_grant_that_expired_before_the_year_1000_does_not_apply(directory, run_tui, tmp_path: Path) -> None:
    imported = run_tui("import", _write(tmp_path / "old.json", _granted("0999-01-01T00:00:00Z")))
    assert imported.returncode == 0, imported
    access = run_tui("access", "--user", "u1", "--json")
    assert access.returncode == 0, access
    grants = json.loads(access.stdout)["access"]  # the assignment's own expiry, and the membership's
    assert len(grants) == 2 and not any(grant["applies"] for grant in grants), access.stdout
    assert all(grant["expires_at"] == "0999-01-01T00:00:00Z" for grant in grants), access.stdout
    issued = run_tui("sessions", "issue", "--user", "u1", "--account", "prod", "--permission-set", "ps")
    assert issued.returncode == 1, issued  # refused, said why: nothing in force (no internal error)
    exported = run_tui("export", "-o", tmp_path / "out.json")
    assert exported.returncode == 0, exported
    again = run_tui("import", tmp_path / "out.json", "--dry-run")
    assert again.returncode == 0 and "nothing to change" in again.stdout, again  # the export reads back


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_past_the_calendars_edge_is_refused_with_its_place(
    directory, run_tui, tmp_path, moment
) -> None:
    result = run_tui("import", _write(tmp_path / "edge.json", _granted(moment)), "--dry-run")
    assert result.returncode == 1, result
    assert "groups[0].members[0]: expiresAt:" in result.stderr, result.stderr
    assert "assignments[0]: expiresAt:" in result.stderr, result.stderr
    assert "outside the times tui keeps" in result.stderr, result.stderr


@pytest.mark.parametrize("bulk_id", ["1²2", "9" * 5000])
def test_a_scim_bulk_id_that_is_no_number_python_reads_is_a_problem_not_a_crash(
    directory, run_tui, tmp_path: Path, bulk_id: str
) -> None:
    request = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"schemas": []}},
            {"method": "PUT", "path": f"/Users/{bulk_id}", "data": {"userName": "x"}},
        ],
    }
    result = run_tui("import", _write(tmp_path / "bulk.json", request), "--dry-run")
    assert result.returncode == 1, result
    assert "Operations[0]" in result.stderr and "internal error" not in result.stderr, result.stderr


def test_a_file_name_that_is_not_utf8_is_shown_escaped(directory, run_tui, tmp_path: Path) -> None:
    csi = tmp_path / os.fsdecode(b"\x9b2J.csv")  # 0x9B: the C1 control CSI, if it reached a terminal raw
    csi.write_text("userName\n", encoding="utf-8")  # nothing to change: the message names the file
    shown = run_tui("import", csi, "--dry-run")
    assert shown.returncode == 0, shown
    assert "<U+DC9B>2J.csv" in shown.stdout and "\\x9b" not in shown.stdout, shown.stdout
    as_json = run_tui("import", csi, "--dry-run", "--json")
    assert as_json.returncode == 0, as_json
    assert "\\x9b" not in as_json.stdout, as_json.stdout  # the bytes were all UTF-8
    assert json.loads(as_json.stdout)["file"].endswith("\udc9b2J.csv")
    backup = run_tui("backup", tmp_path / os.fsdecode(b"\x9bb.db"))
    assert backup.returncode == 0 and "<U+DC9B>b.db" in backup.stdout, backup


@pytest.mark.parametrize("command", [("export",), ("export", "--format", "csv"), ("access", "matrix")])
def test_an_output_of_dash_is_standard_output(directory, run_tui, tmp_path: Path, command) -> None:
    """``-o -`` wrote a file named "-" (the name every tool gives standard output)."""
    directory.users.create("ann")
    result = run_tui(*command, "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result
    assert "ann" in result.stdout, result.stdout
    assert not (tmp_path / "-").exists()


def test_a_time_kept_before_the_fix_gets_its_four_digits(db_path: Path, run_tui) -> None:
    """A directory that kept "999-01-01T00:00:00Z" (before version 17) reads it as 0999 once upgraded: the
    grant is no longer in force, and nothing fails reading it back."""
    import sqlite3

    from store import schema
    from store.db import Database

    Database(db_path, migrate_to=schema.MIGRATIONS.index(schema.V17)).close()  # version 16
    raw = sqlite3.connect(db_path)
    now = "2026-01-01T00:00:00Z"
    raw.executescript(
        f"""
        INSERT INTO users (id, user_name, user_name_key, created_at, updated_at, source, scim_deleted_at)
            VALUES (5, 'u1', 'u1', '{now}', '{now}', 'okta', '99-12-31T23:59:59Z');
        INSERT INTO groups (id, name, name_key, created_at, updated_at)
            VALUES (1, 'team', 'team', '{now}', '{now}');
        INSERT INTO memberships (group_id, user_id, expires_at, created_at)
            VALUES (1, 5, '999-01-01T00:00:00Z', '{now}');
        INSERT INTO accounts (id, name, name_key, created_at, updated_at)
            VALUES (1, 'prod', 'prod', '{now}', '{now}');
        INSERT INTO permission_sets (id, name, name_key, session_duration, created_at, updated_at)
            VALUES (1, 'ps', 'ps', 3600, '{now}', '{now}');
        INSERT INTO assignments (user_id, account_id, permission_set_id, expires_at, created_at, updated_at)
            VALUES (5, 1, 1, '999-01-01T00:00:00Z', '{now}', '{now}');
        INSERT INTO assignments (group_id, account_id, permission_set_id, created_at, updated_at)
            VALUES (1, 1, 1, '{now}', '{now}');
        """
    )
    raw.commit()
    raw.close()
    access = run_tui("access", "--user", "u1", "--json")
    assert access.returncode == 0, access
    grants = json.loads(access.stdout)["access"]
    assert len(grants) == 2 and not any(grant["applies"] for grant in grants), access.stdout
    assert {grant["expires_at"] for grant in grants} == {"0999-01-01T00:00:00Z"}
    with sqlite3.connect(db_path) as upgraded:
        deleted = upgraded.execute("SELECT scim_deleted_at FROM users WHERE id = 5").fetchone()[0]
    assert deleted == "0099-12-31T23:59:59Z"
