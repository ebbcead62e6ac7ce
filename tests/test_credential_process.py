"""``tui credentials`` as the AWS CLI and boto3 use it: a ``credential_process`` profile, through the real
botocore, after a real ``tui login``; cached credentials come back until they near expiry."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from pathlib import Path

import botocore.session
import pytest

from store.audit import Actor
from store.clock import from_text
from store.directory import Directory
from tests.conftest import TUI_COMMAND
from tests.test_credentials_cli import PASSWORD_LINE

ALICE_PASSWORD = "through the looking glass 7"


@pytest.fixture
def alice_signed_in(run_tui, tmp_path, db_path):
    """An initialised directory; alice holds ReadOnly (PT1H) in prod and has run `tui login`."""
    assert (
        run_tui(
            "init", "--password-stdin", "--totp-secret-file", tmp_path / "root.totp", input=PASSWORD_LINE
        ).returncode
        == 0
    )
    with Directory.open(db_path, Actor("test-admin", "test")) as directory:
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        prod = directory.accounts.create("prod")
        reader = directory.permission_sets.create(
            "ReadOnly", session_duration="PT1H", managed_policies=["ReadOnlyAccess"]
        )
        directory.assignments.create("user", alice.id, prod.id, reader.id)
    login = run_tui("login", "--user", "alice", "--password-stdin", input=ALICE_PASSWORD + "\n")
    assert login.returncode == 0, login
    return db_path


def botocore_credentials(tmp_path: Path, tui_env: dict[str, str], db_path: Path):
    config = tmp_path / "aws-config"
    command = " ".join(
        shlex.quote(part)
        for part in [
            *TUI_COMMAND,
            "--db",
            str(db_path),
            "credentials",
            "--account",
            "prod",
            "--permission-set",
            "ReadOnly",
        ]
    )
    config.write_text(f"[profile tui]\ncredential_process = {command}\n")
    session = botocore.session.Session(profile="tui")
    session.set_config_variable("config_file", str(config))
    session.set_config_variable("credentials_file", str(tmp_path / "no-credentials"))
    return session.get_credentials()


def test_botocore_loads_the_issued_credentials_through_credential_process(
    alice_signed_in, run_tui, tmp_path, tui_env, monkeypatch
):
    # botocore runs the process with this process's environment: point it at the test's folders.
    for key, value in tui_env.items():
        monkeypatch.setenv(key, value)
    credentials = botocore_credentials(tmp_path, tui_env, alice_signed_in)
    frozen = credentials.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and len(frozen.secret_key) == 40 and frozen.token
    listed = run_tui("sessions", "list", "--active", "--json").json()
    assert [s["access_key_id"] for s in listed] == [frozen.access_key]
    assert listed[0]["user"] == "alice" and listed[0]["permission_set"] == "ReadOnly"
    # botocore parsed the same expiry tui issued
    expiry = credentials._expiry_time  # the refreshable credentials' own clock
    assert abs((expiry - from_text(listed[0]["expires_at"])).total_seconds()) < 1
    verified = run_tui(
        "sessions",
        "verify",
        "--json",
        input=json.dumps(
            {
                "AccessKeyId": frozen.access_key,
                "SecretAccessKey": frozen.secret_key,
                "SessionToken": frozen.token,
            }
        ),
    )
    assert verified.json()["valid"] is True


def test_credentials_are_cached_then_rotated_before_expiry(alice_signed_in, run_tui):
    first = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly").json()
    again = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly").json()
    assert again == first  # plenty of life left: the same credentials
    assert set(first) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    # Age the cached one-hour session to 50 minutes old, 10 left (under the 15-minute refresh margin).
    with Directory.open(alice_signed_in) as directory:
        now = from_text(directory.now_text())
        moved = [
            (now + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
            for delta in (timedelta(minutes=-50), timedelta(minutes=10))
        ]
        directory.db.conn.execute(
            "UPDATE sessions SET issued_at = ?, expires_at = ? WHERE access_key_id = ?",
            (*moved, first["AccessKeyId"]),
        )
    rotated = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly").json()
    assert rotated["AccessKeyId"] != first["AccessKeyId"]
    # The old ones stay valid until their own expiry.
    old = run_tui("sessions", "verify", input=json.dumps(first))
    assert old.returncode == 0, old
    env = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly", "--format", "env")
    assert f"export AWS_ACCESS_KEY_ID={rotated['AccessKeyId']}" in env.stdout


def test_without_a_sign_in_there_are_no_credentials(run_tui, tmp_path):
    assert (
        run_tui(
            "init", "--password-stdin", "--totp-secret-file", tmp_path / "root.totp", input=PASSWORD_LINE
        ).returncode
        == 0
    )
    result = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly")
    assert result.returncode == 1 and "tui login" in result.stderr and result.stdout == ""


def test_a_revoked_sign_in_or_disabled_user_gets_nothing(alice_signed_in, run_tui):
    assert run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly").returncode == 0
    with Directory.open(alice_signed_in) as directory:
        alice = directory.users.get_by_name("alice")
        directory.users.disable(alice.id, alice.version)
    result = run_tui("credentials", "--account", "prod", "--permission-set", "ReadOnly")
    assert result.returncode == 1 and result.stdout == ""
