"""Accounts, policies, permission sets and assignments changed by a whole-directory JSON import: the rows are
written by the services' own statements, in bulk, and read back as the file says."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.test_cli_transfer import POLICY, SAMPLE, export, write_json


def versions(db: Path, table: str) -> dict[str, int]:
    raw = sqlite3.connect(db)
    try:
        return dict(raw.execute(f"SELECT name, version FROM {table}").fetchall())
    finally:
        raw.close()


def assignment_versions(db: Path) -> dict[tuple[str, str, str], int]:
    raw = sqlite3.connect(db)
    try:
        rows = raw.execute(
            "SELECT coalesce(u.user_name, g.name), ac.name, ps.name, a.version FROM assignments a "
            "LEFT JOIN users u ON u.id = a.user_id LEFT JOIN groups g ON g.id = a.group_id "
            "JOIN accounts ac ON ac.id = a.account_id JOIN permission_sets ps ON ps.id = a.permission_set_id"
        ).fetchall()
    finally:
        raw.close()
    return {(principal, account, pset): version for principal, account, pset, version in rows}


def in_any_order(document: dict[str, Any]) -> dict[str, list[str]]:
    """The document's entries, compared whatever their order (the export sorts them its own way)."""
    return {
        part: sorted(json.dumps(entry, sort_keys=True) for entry in entries)
        for part, entries in document.items()
    }


def test_an_import_creates_and_changes_policies_sets_and_assignments(
    run_tui, tmp_path: Path, db_path: Path
) -> None:
    first = run_tui("import", write_json(tmp_path / "first.json", SAMPLE))
    assert first.returncode == 0, first
    document: dict[str, Any] = copy.deepcopy(SAMPLE)
    document["accounts"].append({"name": "sandbox", "description": "Try things", "active": True})
    document["accounts"][1]["active"] = True
    write_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Put*", "Resource": "*"}],
    }
    document["policies"].append({"name": "WriteOnly", "description": "", "document": write_only})
    changed_policy: dict[str, Any] = copy.deepcopy(POLICY)
    changed_policy["Statement"][0]["Action"] = ["s3:Get*"]
    document["policies"][0]["document"] = changed_policy
    # A new set attaching a policy new in the same file; an existing set gaining that policy.
    document["permission_sets"].append(
        {
            "name": "Writer",
            "description": "Writes",
            "sessionDuration": "PT2H",
            "inlinePolicy": None,
            "managedPolicies": ["ReadOnly", "WriteOnly"],
        }
    )
    document["permission_sets"][0]["description"] = "Everything"
    document["permission_sets"][1]["managedPolicies"] = ["ReadOnly", "WriteOnly"]
    document["assignments"][1]["expiresAt"] = "2032-06-30T12:00:00Z"
    document["assignments"].extend(
        [
            {"principalType": "user", "principal": "bob", "account": "sandbox", "permissionSet": "Writer"},
            {"principalType": "group", "principal": "ops", "account": "sandbox", "permissionSet": "Writer"},
        ]
    )

    result = run_tui("import", write_json(tmp_path / "changed.json", document))
    assert "2 policies, 3 permission sets" in result.stdout, result.stdout  # the summary counts each kind
    assert result.returncode == 0, result
    assert in_any_order(json.loads(export(run_tui))) == in_any_order(document)
    # Each changed row's version moved on once; the unchanged ones kept theirs.
    assert versions(db_path, "accounts") == {"123456789012": 1, "staging": 2, "sandbox": 1}
    policy_versions = versions(db_path, "policies")
    assert (policy_versions["ReadOnly"], policy_versions["WriteOnly"]) == (2, 1)
    assert versions(db_path, "permission_sets")["Admin"] == 2
    assert versions(db_path, "permission_sets")["Writer"] == 1
    assert assignment_versions(db_path) == {
        ("ops", "123456789012", "Admin"): 1,
        ("Ａｄａ", "123456789012", "Admin"): 2,
        ("Developers", "123456789012", "ReadOnly"): 1,
        ("carol", "staging", "ReadOnly"): 1,
        ("bob", "sandbox", "Writer"): 1,
        ("ops", "sandbox", "Writer"): 1,
    }
    again = run_tui("import", tmp_path / "changed.json")
    assert again.returncode == 0, again
    assert "nothing to change" in again.stdout


def test_a_policy_listed_twice_is_attached_once(run_tui, tmp_path: Path) -> None:
    document: dict[str, Any] = copy.deepcopy(SAMPLE)
    document["permission_sets"][1]["managedPolicies"] = ["ReadOnly", "readonly"]
    result = run_tui("import", write_json(tmp_path / "twice.json", document))
    assert result.returncode == 0, result
    assert json.loads(export(run_tui)) == SAMPLE
    again = run_tui("import", tmp_path / "twice.json")
    assert "nothing to change" in again.stdout
