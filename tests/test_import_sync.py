"""`tui import --sync --source NAME`: the directory made to match the file for one
source, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from store.errors import Refused
from tests.test_import_support import DATA, assert_refused, audit_count, export_json, one, rows

OKTA_HEADER = "login,firstName,lastName,email,employeeNumber,department\n"


def okta_file(path: Path, people: list[tuple[str, str, str, str]]) -> Path:
    """people: (login, first, last, employee number)."""
    lines = [f"{login},{first},{last},{login},{number},Ops\n" for login, first, last, number in people]
    path.write_text(OKTA_HEADER + "".join(lines), encoding="utf-8")
    return path


def staff(count: int) -> list[tuple[str, str, str, str]]:
    return [(f"user{i:03d}@example.com", f"First{i}", f"Last{i}", f"{100000 + i}") for i in range(count)]


def make_root(db: Path) -> None:
    """The directory's root row, as `tui init` leaves it (the credentials are not what
    these tests are about)."""
    raw = sqlite3.connect(db)
    try:
        raw.execute(
            "INSERT INTO users (user_name, user_name_key, is_root, created_at, updated_at) "
            "VALUES ('root', 'root', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        )
        raw.commit()
    finally:
        raw.close()


def users_of(run_tui) -> dict[str, dict]:
    return {user["userName"]: user for user in json.loads(export_json(run_tui))["users"]}


def sync(run_tui, path: Path, *options: str, source: str = "okta"):
    return run_tui("import", "--sync", "--source", source, *options, path)


@pytest.fixture
def local_and_root(run_tui, db_path: Path) -> dict[str, dict]:
    """Local users (tui's CSV) and root: what no sync may touch. Returns the local users as exported."""
    assert run_tui("import", DATA / "users.csv").returncode == 0
    make_root(db_path)
    return users_of(run_tui)


def test_a_sync_creates_updates_and_disables_and_touches_nothing_else(
    run_tui, db_path: Path, tmp_path: Path, local_and_root: dict
) -> None:
    people = staff(20)
    first = sync(run_tui, okta_file(tmp_path / "v1.csv", people))
    assert first.returncode == 0, first
    assert "users: 20 to create" in first.stdout

    people_v2 = [p for p in people if p[0] != "user003@example.com"]
    people_v2[4] = ("user005@example.com", "First5", "Married-Name", "100005")
    people_v2.append(("user020@example.com", "First20", "Last20", "100020"))
    second = sync(run_tui, okta_file(tmp_path / "v2.csv", people_v2))
    assert second.returncode == 0, second
    assert "users: 1 to create, 1 to update, 1 to disable, 18 unchanged" in second.stdout
    assert "update user 'user005@example.com': familyName" in second.stdout
    assert "disable user 'user003@example.com' (gone from the file)" in second.stdout

    users = users_of(run_tui)
    assert users["user003@example.com"]["active"] is False  # disabled, never deleted
    assert users["user005@example.com"]["familyName"] == "Married-Name"
    assert {name: user for name, user in users.items() if user.get("source") is None} == local_and_root
    assert rows(db_path, "SELECT user_name, status, source FROM users WHERE is_root = 1") == [
        ("root", "active", "local")
    ]

    # The same file again: nothing to do, and no audit event for nothing.
    events = audit_count(db_path)
    again = sync(run_tui, tmp_path / "v2.csv")
    assert again.returncode == 0, again
    assert "nothing to change: the directory already matches it" in again.stdout
    assert audit_count(db_path) == events
    as_json = sync(run_tui, tmp_path / "v2.csv", "--json").json()
    assert as_json["changes_nothing"] is True and as_json["applied"] is False

    # Back in the file: enabled again.
    third = sync(run_tui, tmp_path / "v1.csv")
    assert "update user 'user003@example.com': active" in third.stdout
    assert users_of(run_tui)["user003@example.com"]["active"] is True


def test_a_sync_matches_the_external_id_before_the_user_name(run_tui, tmp_path: Path) -> None:
    people = staff(12)
    assert sync(run_tui, okta_file(tmp_path / "v1.csv", people)).returncode == 0
    people[7] = ("renamed.seven@example.com", "First7", "Last7", "100007")  # same employee number, new login
    result = sync(run_tui, okta_file(tmp_path / "v2.csv", people))
    assert result.returncode == 0, result
    assert "users: 0 to create, 1 to update, 0 to disable, 11 unchanged" in result.stdout
    assert "update user 'renamed.seven@example.com': userName, email" in result.stdout
    users = users_of(run_tui)
    assert "user007@example.com" not in users and users["renamed.seven@example.com"]["externalId"] == "100007"


def test_a_sync_only_touches_its_own_source(run_tui, db_path: Path, tmp_path: Path) -> None:
    assert run_tui("import", DATA / "google-users.csv").returncode == 0  # source google
    assert sync(run_tui, okta_file(tmp_path / "okta.csv", staff(3))).returncode == 0
    empty = okta_file(tmp_path / "empty.csv", [])
    result = sync(run_tui, empty, "--allow-mass-disable")
    assert "users: 0 to create, 0 to update, 3 to disable, 0 unchanged" in result.stdout
    statuses = dict(rows(db_path, "SELECT source, group_concat(DISTINCT status) FROM users GROUP BY source"))
    assert statuses["okta"] == "disabled"
    assert "active" in statuses["google"]  # google's users are another source's business


class TestMassDisableGuard:
    def test_a_sync_that_would_disable_too_many_is_refused(
        self, run_tui, db_path: Path, tmp_path: Path
    ) -> None:
        people = staff(40)
        assert sync(run_tui, okta_file(tmp_path / "all.csv", people)).returncode == 0
        truncated = okta_file(tmp_path / "truncated.csv", people[:30])  # 10 of 40 gone: 25%
        assert_refused(
            run_tui,
            db_path,
            truncated,
            [
                "would disable 10 of the 40 active users from source 'okta' (25%)",
                "at most 10% of them (4)",
                "--allow-mass-disable",
            ],
            "--sync",
            "--source",
            "okta",
        )

        planned = sync(run_tui, truncated, "--dry-run")
        assert planned.returncode == 0, planned
        assert "10 to disable" in planned.stdout and "this sync would be refused" in planned.stderr
        assert sync(run_tui, truncated, "--dry-run", "--json").json()["blocked"].startswith("this sync would")

        allowed = sync(run_tui, truncated, "--allow-mass-disable")
        assert allowed.returncode == 0, allowed
        assert one(db_path, "SELECT count(*) FROM users WHERE status = 'disabled'") == 10

    def test_up_to_the_threshold_passes(self, run_tui, db_path: Path, tmp_path: Path) -> None:
        people = staff(40)
        assert sync(run_tui, okta_file(tmp_path / "all.csv", people)).returncode == 0
        result = sync(run_tui, okta_file(tmp_path / "fewer.csv", people[:36]))  # 4 of 40: exactly 10%
        assert result.returncode == 0, result
        assert "4 to disable" in result.stdout

    def test_a_small_source_may_always_lose_one_user(self, run_tui, tmp_path: Path) -> None:
        people = staff(3)
        assert sync(run_tui, okta_file(tmp_path / "three.csv", people)).returncode == 0
        assert sync(run_tui, okta_file(tmp_path / "two.csv", people[:2])).returncode == 0


def test_sync_memberships_follow_the_file_for_the_sources_groups(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    list_response = json.loads((DATA / "scim-list-response.json").read_text(encoding="utf-8"))
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(list_response), encoding="utf-8")
    assert sync(run_tui, path, source="idp").returncode == 0
    # A local user an admin added to the IdP's group stays: sync never touches local users.
    assert run_tui("import", DATA / "users.csv").returncode == 0
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO memberships (group_id, user_id, created_at) SELECT g.id, u.id, 'x' FROM groups g, users "
        "u WHERE g.name = 'Employees' AND u.user_name = 'ken'"
    )
    raw.commit()
    raw.close()
    resources = list_response["Resources"]
    resources[3]["members"] = resources[3]["members"][1:]  # Employees loses bjensen (and keeps Tour Guides)
    del resources[4]  # Tour Guides is gone from the file
    list_response["totalResults"] = len(resources)
    resources[3]["members"] = [m for m in resources[3]["members"] if m["type"] == "User"]
    path.write_text(json.dumps(list_response), encoding="utf-8")
    result = sync(run_tui, path, source="idp")
    assert result.returncode == 0, result
    assert "empty group 'Tour Guides' (gone from the file)" in result.stdout
    assert "remove membership 'bjensen@example.com in Employees' (not in the file)" in result.stdout
    groups = {g["displayName"]: g["members"] for g in json.loads(export_json(run_tui))["groups"]}
    assert groups["Employees"] == ["ken", "mpepperidge@example.com"]
    assert groups["Tour Guides"] == []  # kept (never deleted), emptied


def test_sync_needs_a_source_and_not_local(run_tui, db_path: Path, tmp_path: Path) -> None:
    path = okta_file(tmp_path / "okta.csv", staff(2))
    missing = run_tui("import", "--sync", path)
    assert missing.returncode == 2 and "--sync needs --source NAME" in missing.stderr
    bad = run_tui("import", "--sync", "--source", "no spaces", path)
    assert bad.returncode == 2 and "--source" in bad.stderr
    assert_refused(
        run_tui,
        db_path,
        path,
        ["'local' names the users made in this directory"],
        "--sync",
        "--source",
        "local",
    )


def test_one_audit_event_per_import_and_rows_remember_their_batch(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    import hashlib

    people = staff(5)
    path = okta_file(tmp_path / "okta.csv", people)
    result = sync(run_tui, path, "--json")
    assert result.returncode == 0, result
    report = result.json()
    assert report["applied"] is True and report["batch"] == 1
    events = rows(db_path, "SELECT action, target, details FROM audit")
    assert len(events) == 1
    action, target, details = events[0]
    details = json.loads(details)
    assert (action, target) == ("directory.import", f"file:{path}")
    # Not initialised: no key to name the file by (never by its plain SHA-256: test_import_file_digest.py).
    assert details["file_digest"] is None and report["file_digest"] is None
    assert hashlib.sha256(path.read_bytes()).hexdigest() not in json.dumps(details)
    assert details["counts"]["users"] == {"create": 5, "update": 0, "disable": 0, "unchanged": 0}
    assert (details["source"], details["format"], details["sync"]) == ("okta", "okta", True)
    assert rows(db_path, "SELECT source, file_name, sha256 FROM import_batches") == [("okta", str(path), "")]
    assert rows(db_path, "SELECT DISTINCT import_batch_id FROM users") == [(1,)]

    okta_file(path, people[1:])
    assert sync(run_tui, path).returncode == 0
    assert rows(
        db_path, "SELECT user_name, status, import_batch_id FROM users WHERE import_batch_id = 2"
    ) == [("user000@example.com", "disabled", 2)]
    assert audit_count(db_path) == 2


def test_imported_users_are_read_only_except_disable(run_tui, open_directory, tmp_path: Path) -> None:
    assert sync(run_tui, okta_file(tmp_path / "okta.csv", staff(2))).returncode == 0
    directory = open_directory()
    user = directory.users.get_by_name("user000@example.com")
    with pytest.raises(Refused, match="managed by the identity provider 'okta'"):
        directory.users.update(user.id, user.version, display_name="Edited here")
    disabled = directory.users.disable(user.id, user.version)
    assert disabled.status == "disabled"


def test_the_plan_as_json_names_every_change(run_tui, tmp_path: Path) -> None:
    people = staff(12)
    assert sync(run_tui, okta_file(tmp_path / "v1.csv", people)).returncode == 0
    people[0] = (people[0][0], "Changed", people[0][2], people[0][3])
    report = sync(run_tui, okta_file(tmp_path / "v2.csv", people[:-1]), "--dry-run", "--json").json()
    assert report["dry_run"] is True and report["applied"] is False and report["sync"] is True
    assert report["plan"]["users"] == {"create": 0, "update": 1, "disable": 1, "unchanged": 10}
    assert report["changes"]["users"]["update"] == {"user000@example.com": ["givenName"]}
    assert report["changes"]["users"]["disable"] == {"user011@example.com": "gone from the file"}
