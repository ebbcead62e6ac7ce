"""The memberships an import adds are planned a group at a time (one operation for a group's new members),
and listed one by one: the dry run names each (the first 100, then how many more), ``--json`` lists all,
and the applied import writes exactly those."""

from __future__ import annotations

import json
from pathlib import Path

from store.importer.plan import AddMembers, Labels
from tests.test_import_support import rows


def _document(groups: dict[str, list[str]]) -> dict[str, object]:
    users = sorted({name for members in groups.values() for name in members})
    return {
        "users": [{"userName": name, "displayName": name.title()} for name in users],
        "groups": [{"displayName": group, "members": members} for group, members in groups.items()],
    }


def test_labels_list_each_membership_of_a_group_operation() -> None:
    big = AddMembers(-1, (-1, -2, -3), (None, None, None), "eng", ("ann", "bob", "cy"))
    labels = Labels(["first", big, "last"])
    assert len(labels) == 5
    assert list(labels) == ["first", "ann in eng", "bob in eng", "cy in eng", "last"]
    assert (
        labels[0] == "first"
        and labels[2] == "bob in eng"
        and labels[-1] == "last"
        and labels[-2] == "cy in eng"
    )
    assert labels[1:3] == ["ann in eng", "bob in eng"]
    assert labels[::-2] == ["last", "bob in eng", "first"]
    assert labels == ["first", "ann in eng", "bob in eng", "cy in eng", "last"]
    for outside in (5, -6):
        try:
            labels[outside]
        except IndexError:
            continue
        raise AssertionError(f"labels[{outside}] did not raise IndexError")


def test_a_dry_run_lists_each_membership_and_the_import_writes_them(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.json"
    first.write_text(json.dumps(_document({"ops": ["olga", "oscar"]})), encoding="utf-8")
    assert run_tui("import", first).returncode == 0

    crowd = [f"user{i:03d}" for i in range(150)]
    groups = {"big": crowd, "ops": ["olga", "oscar", "otto", "ozzy"], "small": ["ann", "bob"]}
    second = tmp_path / "second.json"
    second.write_text(json.dumps(_document(groups)), encoding="utf-8")

    shown = run_tui("import", "--dry-run", second)
    assert shown.returncode == 0, shown
    lines = shown.stdout.splitlines()
    created = [line.strip() for line in lines if line.strip().startswith("+ create membership")]
    # The first 100 memberships in the file's order (big's), then the count of the rest.
    assert created[:100] == [f"+ create membership '{name} in big'" for name in crowd[:100]]
    assert len(created) == 100
    assert "… and 54 more membership creates" in shown.stdout  # 50 of big, otto and ozzy in ops, ann and bob
    assert "memberships: 154 to create, 0 to update, 0 to remove, 2 unchanged" in shown.stdout

    planned = run_tui("import", "--dry-run", "--json", second)
    assert planned.returncode == 0, planned
    listed = planned.json()["changes"]["memberships"]["create"]
    expected = [f"{name} in big" for name in crowd] + [
        "otto in ops",
        "ozzy in ops",
        "ann in small",
        "bob in small",
    ]
    assert listed == expected

    applied = run_tui("import", second)
    assert applied.returncode == 0, applied
    written = rows(
        db_path,
        "SELECT u.user_name || ' in ' || g.name FROM memberships m JOIN users u ON u.id = m.user_id "
        "JOIN groups g ON g.id = m.group_id",
    )
    assert sorted(label for (label,) in written) == sorted([*expected, "olga in ops", "oscar in ops"])
