"""``tui policy impact``: the blast radius of an edit from the command line, changing nothing."""

from __future__ import annotations

import json

import pytest

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


@pytest.fixture
def seeded(directory):
    ann, ben = directory.users.create("ann"), directory.users.create("ben")
    devs = directory.groups.create("Devs")
    directory.groups.add_member(devs.id, ann.id)
    prod = directory.accounts.create("prod")
    directory.policies.create("S3Read", document=json.dumps(POLICY))
    reader = directory.permission_sets.create("Reader", managed_policies=["S3Read"])
    directory.assignments.create("group", devs.id, prod.id, reader.id)
    directory.assignments.create("user", ben.id, prod.id, reader.id)
    return directory


def test_permission_set_edit(seeded, run_tui, tmp_path):
    inline = tmp_path / "inline.json"
    inline.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
            }
        )
    )
    result = run_tui("policy", "impact", "--permission-set", "Reader", "--inline", str(inline), "--json")
    assert result.returncode == 0, result
    radius = result.json()
    assert radius["set_changes"] == [{"permission_set": "Reader", "gained": ["s3:PutObject"], "lost": []}]
    assert [(c["user"], c["granted_by"]) for c in radius["changes"]] == [
        ("ann", ["group Devs"]),
        ("ben", ["direct"]),
    ]
    text = run_tui("policy", "impact", "--permission-set", "Reader", "--no-managed")
    assert text.stdout.splitlines() == [
        "permission set Reader is held by 2 user-account pairs in 1 account: 2 users gain or lose actions.",
        "Reader itself: lose s3:GetObject",
        "in prod, 1 user via group Devs (ann): lose s3:GetObject",
        "in prod, 1 user via direct (ben): lose s3:GetObject",
    ]
    assert seeded.permission_sets.get_by_name("Reader").managed_policies == ["S3Read"]  # nothing changed


def test_library_policy_and_delete(seeded, run_tui, tmp_path):
    document = tmp_path / "doc.json"
    document.write_text(
        json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )
    )
    result = run_tui("policy", "impact", "--library-policy", "S3Read", "--document", str(document), "--json")
    assert result.returncode == 0, result
    assert result.json()["set_changes"][0]["gained"] == ["s3:*"]
    deleted = run_tui("policy", "impact", "--permission-set", "Reader", "--delete", "--json").json()
    assert {c["user"] for c in deleted["changes"]} == {"ann", "ben"}


def test_refusals(seeded, run_tui, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    refused = run_tui("policy", "impact", "--permission-set", "Reader", "--inline", str(broken))
    assert refused.returncode == 1 and "inline policy is not a valid policy" in refused.stderr
    builtin = run_tui("policy", "impact", "--library-policy", "ReadOnlyAccess", "--document", str(broken))
    assert builtin.returncode == 1 and "built-in" in builtin.stderr
    assert run_tui("policy", "impact", "--permission-set", "Nope").returncode == 1
    assert run_tui("policy", "impact").returncode == 2
    assert run_tui("policy", "impact", "--library-policy", "S3Read").returncode == 2
