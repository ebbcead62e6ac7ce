"""A file of a few thousand entries into a directory many times bigger is planned from the rows it names,
looked up one by one, rather than from the whole directory read into memory: the plan, the refusals and the
change are the same either way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.directory import Directory
from store.importer import GroupIn, ImportDocument, ImportRefused, MemberIn, UserIn, import_document
from store.importer import current as current_rows

DIRECTORY_USERS = 4_400
FILE_USERS = 1_050  # above LOOKUP_AT_MOST, and a fourth of the directory at most


def _seed(directory: Directory) -> None:
    users = [
        UserIn(
            f"users[{i}]",
            f"user{i:04}",
            f"User {i}",
            email=f"user{i}@example.com",
            external_id=f"ext-{i}" if i % 3 == 0 else None,
        )
        for i in range(DIRECTORY_USERS)
    ]
    groups = [
        GroupIn(f"groups[{g}]", f"team{g}", members=[f"user{i:04}" for i in range(g, DIRECTORY_USERS, 7)])
        for g in range(6)
    ]
    groups[0].members = [
        *groups[0].members[1:],  # type: ignore[index]
        MemberIn("groups[0]", "user0000", "2031-01-01T00:00:00Z"),
    ]
    import_document(directory, ImportDocument(users, groups), file_name="seed.json")
    okta = [UserIn("users[0]", "okta.only", "Held by Okta")]
    import_document(directory, ImportDocument(okta), file_name="okta.json", source="okta")


def _changes() -> ImportDocument:
    """Names found and changed, one renamed through its externalId, new users, memberships added and an
    expiry changed, and a group new to the directory."""
    users = [
        UserIn(f"users[{i}]", f"user{i:04}", f"User {i} (moved)", email=f"user{i}@example.com")
        for i in range(1, FILE_USERS - 50)
    ]
    users.append(
        UserIn("users[renamed]", "user9999", "Renamed", external_id="ext-3000", email="r@example.com")
    )
    users += [UserIn(f"users[new{i}]", f"new{i}", f"New {i}") for i in range(49)]
    groups = [
        GroupIn(
            "groups[0]", "team0", members=[MemberIn("groups[0]", "user0000", "2032-06-01T00:00:00Z"), "new1"]
        ),
        GroupIn("groups[1]", "fresh", members=["new2", "user0001", "user4399"]),
    ]
    return ImportDocument(users, groups)


def _taken_name() -> ImportDocument:
    """As above, with one entry taking the name of another source's user, and one renaming onto a name the
    directory holds: refused, each named."""
    document = _changes()
    document.users.append(UserIn("users[taken]", "OKTA.only", "Not mine"))
    document.users.append(UserIn("users[clash]", "user4000", external_id="ext-3003"))
    return document


def _plan(directory: Directory, document: ImportDocument) -> Any:
    try:
        result = import_document(directory, document, file_name="f.json", dry_run=True)
    except ImportRefused as refused:
        return [str(problem) for problem in refused.problems]
    return result.plan.operations, result.plan.as_dict(), result.plan.notices


@pytest.mark.parametrize("document", [_changes, _taken_name])
def test_a_few_thousand_entries_are_planned_by_lookups_as_by_reading_everything(
    open_directory: Callable[..., Directory],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    document: Callable[[], ImportDocument],
) -> None:
    directory = open_directory(tmp_path / "d.db")
    _seed(directory)
    entries = len(document().users) + len(document().groups)
    assert current_rows.LOOKUP_AT_MOST < entries
    assert entries * current_rows.WHOLE_READ_SHARE < DIRECTORY_USERS  # so looked up row by row
    by_lookups = _plan(directory, document())
    monkeypatch.setattr(current_rows, "WHOLE_READ_SHARE", 10**9)  # read whole, as a big file is
    by_reading = _plan(directory, document())
    assert by_lookups == by_reading
    if document is _taken_name:
        assert any("OKTA.only" in problem and "another source" in problem for problem in by_lookups)
        assert any("user4000" in problem and "would take the name" in problem for problem in by_lookups)
        return
    operations, counts, _ = by_lookups
    assert counts["users"]["update"] == FILE_USERS - 50
    assert counts["users"]["create"] == 49


def test_the_change_applied_by_lookups_is_the_planned_one(
    open_directory: Callable[..., Directory], tmp_path: Path
) -> None:
    directory = open_directory(tmp_path / "d.db")
    _seed(directory)
    result = import_document(directory, _changes(), file_name="f.json")
    assert result.applied
    assert directory.users.get_by_name("user9999").display_name == "Renamed"
    assert directory.users.get_by_name("user0001").display_name == "User 1 (moved)"
    with directory.db.read() as conn:
        expiry = conn.execute(
            "SELECT m.expires_at FROM memberships m JOIN users u ON u.id = m.user_id "
            "JOIN groups g ON g.id = m.group_id WHERE u.user_name = 'user0000' AND g.name = 'team0'"
        ).fetchone()[0]
    assert expiry == "2032-06-01T00:00:00Z"
    again = import_document(directory, _changes(), file_name="f.json")
    assert not again.applied and again.plan.changes_nothing
