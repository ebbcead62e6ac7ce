"""``tui access`` and ``tui policy simulate --user/--permission-set`` through the real command
(subprocesses)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from tui.cli.access import access

REPO = Path(__file__).resolve().parents[1]
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Build", "Effect": "Allow", "Action": ["s3:*", "lambda:*"], "Resource": "*"},
            {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        ],
    }
)


@pytest.fixture
def seeded(open_directory):
    """Made in 2020 so that expiries in 2021 are long past when the command runs (it reads the real clock)."""
    now = [datetime(2020, 1, 1, tzinfo=UTC)]
    d = open_directory(clock=lambda: now[0])
    alice, bob = d.users.create("alice"), d.users.create("bob")
    d.users.create('=HYPERLINK("http://x")')
    ops = d.groups.create("Ops")
    d.groups.add_member(ops.id, alice.id)
    d.groups.add_member(ops.id, bob.id, expires_at="2021-01-01")
    prod, dev = d.accounts.create("prod"), d.accounts.create("dev")
    builder = d.permission_sets.create("Builder", inline_policy=POLICY)
    reader = d.permission_sets.create("Reader", managed_policies=["ReadOnlyAccess"])
    d.assignments.create("group", ops.id, prod.id, builder.id)
    d.assignments.create("user", alice.id, dev.id, reader.id, expires_at="2021-06-01T12:00:00Z")
    d.assignments.create("user", alice.id, prod.id, reader.id)
    return d


def test_user_access_text_with_paths_and_why_not(seeded, run_tui):
    result = run_tui("access", "--user", "ALICE")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "alice: 2 permission sets in 1 account"
    assert lines[1].split() == ["ACCOUNT", "PERMISSION", "SET", "GRANTED", "BY", "EXPIRES"]
    assert lines[2].split() == ["prod", "Builder", "group", "Ops", "never", "expires"]
    assert lines[3].split() == ["prod", "Reader", "direct", "never", "expires"]
    assert "not applying (1):" in lines
    assert lines[-1].split()[:3] == ["dev", "Reader", "direct"]
    assert lines[-1].endswith("assignment expired 2021-06-01T12:00:00Z")

    bob = run_tui("access", "--user", "bob")
    assert bob.stdout.splitlines()[0] == "bob: 0 permission sets in 0 accounts"
    assert "membership in group Ops expired 2021-01-01" in bob.stdout


def test_user_access_json_and_account_filter(seeded, run_tui):
    result = run_tui("access", "--user", "alice", "--account", "prod", "--json")
    assert result.returncode == 0, result
    document = result.json()
    assert document["user"] == "alice" and document["account"] == "prod"
    assert [(a["permission_set"], a["granted_by"], a["applies"]) for a in document["access"]] == [
        ("Builder", {"type": "group", "group": "Ops"}, True),
        ("Reader", {"type": "direct", "group": None}, True),
    ]
    dev = run_tui("access", "--user", "alice", "--account", "dev", "--json").json()
    assert dev["access"][0]["why_not"] == ["assignment expired 2021-06-01T12:00:00Z"]


def test_refusals_and_usage_errors(seeded, run_tui):
    unknown = run_tui("access", "--user", "nobody")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == "tui: no user named 'nobody'"
    assert run_tui("access", "--user", "alice", "--account", "nowhere").returncode == 1
    hostile = run_tui("access", "--user", "x\x1b[2J")
    assert hostile.returncode == 1 and "\x1b" not in hostile.stderr
    assert run_tui("access").returncode == 2
    assert run_tui("access", "--user", "alice", "matrix").returncode == 2
    assert run_tui("access", "matrix", "--format", "xlsx").returncode == 2


def test_matrix_csv(seeded, run_tui, tmp_path):
    result = run_tui("access", "matrix", "--format", "csv")
    assert result.returncode == 0, result
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table == [
        ["userName", "status", "dev", "prod"],
        ['\'=HYPERLINK("http://x")', "active", "", ""],  # neutralised: a spreadsheet shows it as text
        ["alice", "active", "", "Builder;Reader"],
        ["bob", "active", "", ""],
    ]
    target = tmp_path / "matrix.csv"
    written = run_tui("access", "matrix", "--output", str(target))
    assert written.returncode == 0 and written.stdout == ""
    assert target.read_bytes().decode("utf-8") == result.stdout  # CRLF rows, as RFC 4180 writes them
    assert target.stat().st_mode & 0o777 == 0o600


def test_who_can_reach(seeded, run_tui):
    result = run_tui("access", "who", "--account", "prod", "--json")
    assert result.returncode == 0, result
    assert [(a["user"], a["permission_set"], a["granted_by"]["type"]) for a in result.json()["access"]] == [
        ("alice", "Builder", "group"),
        ("alice", "Reader", "direct"),
    ]
    everyone = run_tui("access", "who", "--account", "prod", "--permission-set", "Builder", "--all")
    assert "bob" in everyone.stdout and "membership in group Ops expired 2021-01-01" in everyone.stdout
    assert everyone.stdout.splitlines()[0] == "prod with Builder: 1 user can reach it"
    assert run_tui("access", "who", "--account", "prod", "--permission-set", "Nope").returncode == 1


def test_simulate_against_the_directory(seeded, run_tui):
    base = ("policy", "simulate", "--resource", "*", "--json")
    result = run_tui(*base, "--user", "alice", "--account", "prod", "--action", "iam:CreateUser")
    assert result.returncode == 0, result
    document = result.json()
    assert document["decision"] == "explicit_deny"
    assert document["statements"] == [
        {"policy": "inline policy", "index": 1, "sid": "NoIam", "permission_set": "Builder"}
    ]
    assert {(r["permission_set"], r["decision"]) for r in document["permission_sets"]} == {
        ("Builder", "explicit_deny"),
        ("Reader", "implicit_deny"),
    }
    read = run_tui(*base, "--user", "alice", "--account", "prod", "--action", "iam:GetUser").json()
    assert read["decision"] == "allow"  # Reader's ReadOnlyAccess allows it even though Builder denies it
    assert read["statements"][0]["policy"] == "ReadOnlyAccess"
    # bob's membership expired: nothing applies
    bob = run_tui(*base, "--user", "bob", "--account", "prod", "--action", "s3:GetObject").json()
    assert bob == {"decision": "implicit_deny", "statements": [], "permission_sets": []}
    # In words, with why the sets bob holds do not apply (what a person asks next).
    said = run_tui(
        "policy", "simulate", "--resource", "*", "--user", "bob", "--account", "prod", "--action", "x:Y"
    )
    assert said.stdout.splitlines() == [
        "implicit_deny: bob holds no permission set in prod",
        "  not applying: Builder (group Ops): membership in group Ops expired 2021-01-01",
    ], said
    one = run_tui(*base, "--permission-set", "builder", "--action", "lambda:InvokeFunction").json()
    assert one["decision"] == "allow" and one["statements"][0]["sid"] == "Build"
    text = run_tui(
        "policy", "simulate", "--resource", "*", "--permission-set", "Builder", "--action", "iam:X"
    )
    assert (
        text.stdout.strip()
        == "explicit_deny: Builder: iam:X on * is denied by inline policy statement 1 (Sid NoIam)"
    )
    assert run_tui(*base, "--user", "alice", "--action", "s3:GetObject").returncode == 2
    assert (
        run_tui(
            *base,
            "--permission-set",
            "Builder",
            "--user",
            "alice",
            "--account",
            "prod",
            "--action",
            "s3:GetObject",
        ).returncode
        == 2
    )
    assert run_tui(*base, "--permission-set", "Nope", "--action", "s3:GetObject").returncode == 1


def test_every_access_command_has_help() -> None:
    assert access.help
    commands = {"": access, **access.commands}
    for name, command in commands.items():
        assert command.help, name
        for parameter in command.params:
            if isinstance(parameter, click.Option) and parameter.name != "help":
                assert parameter.help, f"{name} {parameter.opts}"


def test_access_commands_do_not_import_textual() -> None:
    code = (
        "import sys, tui.cli, store.access, store.blast_radius, store.policies; "
        "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
