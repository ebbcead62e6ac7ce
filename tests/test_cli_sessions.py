"""``tui sessions`` through the real command, on a real directory file."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def assigned(directory):
    """alice holds ReadOnly (PT2H) in prod through the group Readers."""
    alice = directory.users.create("alice")
    readers = directory.groups.create("Readers")
    directory.groups.add_member(readers.id, alice.id)
    prod = directory.accounts.create("prod")
    reader = directory.permission_sets.create(
        "ReadOnly", session_duration="PT2H", managed_policies=["ReadOnlyAccess"]
    )
    directory.assignments.create("group", readers.id, prod.id, reader.id)
    return directory


def issue(run_tui, *extra: str):
    return run_tui(
        "sessions", "issue", "--user", "alice", "--account", "prod", "--permission-set", "ReadOnly", *extra
    )


def test_issue_then_verify_in_every_format(assigned, run_tui, db_path):
    result = issue(run_tui, "--format", "credential-process")
    assert result.returncode == 0, result
    creds = result.json()
    assert set(creds) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert creds["Version"] == 1 and creds["AccessKeyId"].startswith("ASIA")
    verified = run_tui("sessions", "verify", "--json", input=json.dumps(creds))
    assert verified.returncode == 0, verified
    assert verified.json() | {"session_id": 0} == {
        "valid": True,
        "reason": "valid",
        "session_id": 0,
        "user": "alice",
        "account": "prod",
        "permission_set": "ReadOnly",
        "expires_at": creds["Expiration"],
    }
    env = issue(run_tui, "--format", "env", "--duration", "PT30M")
    lines = env.stdout.splitlines()
    assert lines[0].startswith("export AWS_ACCESS_KEY_ID=ASIA") and lines[2].startswith(
        "export AWS_SESSION_TOKEN="
    )
    # Nothing secret reached the database, the WAL or stderr.
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert creds["SecretAccessKey"].encode() not in raw and creds["SessionToken"].encode() not in raw
    assert creds["SecretAccessKey"] not in result.stderr + verified.stderr


def test_refusals_exit_1_with_a_clear_message(assigned, run_tui):
    too_long = issue(run_tui, "--duration", "PT3H")
    assert too_long.returncode == 1 and "longer than 'ReadOnly' allows (PT2H)" in too_long.stderr
    too_short = issue(run_tui, "--duration", "899")
    assert too_short.returncode == 1 and "outside the allowed 15 minutes to 36 hours" in too_short.stderr
    nobody = run_tui(
        "sessions", "issue", "--user", "mallory", "--account", "prod", "--permission-set", "ReadOnly"
    )
    assert nobody.returncode == 1 and "no user named 'mallory'" in nobody.stderr
    garbage = run_tui("sessions", "verify", input="not json")
    assert garbage.returncode == 1 and "standard input: not JSON" in garbage.stderr
    # What json.loads refuses besides syntax: one clear line too, never an internal error (exit 70).
    for hostile, said in (
        ('{"Version":1' + "0" * 5000 + "}", "a number has more than"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ):
        refused = run_tui("sessions", "verify", input=hostile)
        assert refused.returncode == 1 and said in refused.stderr, refused
        assert len(refused.stderr.splitlines()) == 1, refused
    unknown = run_tui(
        "sessions",
        "verify",
        "--json",
        input=json.dumps(
            {"AccessKeyId": "ASIAAAAAAAAAAAAAAAAA", "SecretAccessKey": "x" * 40, "SessionToken": "y" * 64}
        ),
    )
    assert unknown.returncode == 1 and unknown.json() == {"valid": False, "reason": "unknown"}
    usage = run_tui("sessions", "revoke")
    assert usage.returncode == 2 and "exactly one of" in usage.stderr


def test_list_revoke_and_sweep(assigned, run_tui):
    first = issue(run_tui).json()
    second = issue(run_tui).json()
    listed = run_tui("sessions", "list", "--active", "--json").json()
    assert [s["access_key_id"] for s in listed] == [second["AccessKeyId"], first["AccessKeyId"]]
    assert all("Secret" not in json.dumps(s) for s in listed)
    revoked = run_tui("sessions", "revoke", "--id", str(first["SessionId"]))
    assert revoked.returncode == 0 and "revoked 1 session(s)" in revoked.stdout
    dead = run_tui("sessions", "verify", "--json", input=json.dumps(first))
    assert dead.returncode == 1 and dead.json()["reason"] == "revoked"
    assert run_tui("sessions", "verify", input=json.dumps(second)).returncode == 0
    assert "revoked 1 session(s)" in run_tui("sessions", "revoke", "--user", "alice").stdout
    assert run_tui("sessions", "list", "--active", "--json").json() == []
    assert "revoked 0 session(s)" in run_tui("sessions", "revoke", "--all").stdout
    swept = run_tui("sessions", "sweep", "--retention-days", "0")
    assert swept.returncode == 0 and "swept 2 session(s)" in swept.stdout
    assert run_tui("sessions", "list", "--json").json() == []
