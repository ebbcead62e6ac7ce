"""The AWS CLI's way in, through SSH: the real botocore runs ``credential_process = ssh … credentials …``
against ``tui serve``. Refused before a password + TOTP sign-in, credentials after it — like ``aws sso
login``."""

from __future__ import annotations

import shlex

import pytest

from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    ALICE_PASSWORD,
    login_over_ssh,
    needs_ssh,
    serve_env_fixture,
    server_fixture,
    world_fixture,
)

botocore_session = pytest.importorskip("botocore.session")
botocore_exceptions = pytest.importorskip("botocore.exceptions")
pytestmark = [needs_ssh]


def _profile(monkeypatch, tmp_path, command: list[str]):
    config = tmp_path / "aws-config"
    config.write_text(f"[profile laptop]\ncredential_process = {shlex.join(command)}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return botocore_session.Session(profile="laptop")


def test_credential_process_over_ssh_is_refused_before_sign_in_and_works_after(
    world, server, monkeypatch, tmp_path
):
    command = server.ssh_args(
        "alice", world.keys["alice"], "credentials", "--account", "prod", "--permission-set", "S3Reader"
    )
    session = _profile(monkeypatch, tmp_path, command)
    with pytest.raises(botocore_exceptions.CredentialRetrievalError) as refused:
        session.get_credentials().get_frozen_credentials()
    assert "sign in first: ssh -t HOST login" in str(refused.value)

    output = login_over_ssh(server, "alice", world.keys["alice"], ALICE_PASSWORD, world.code("alice"))
    assert "with MFA" in output

    frozen = _profile(monkeypatch, tmp_path, command).get_credentials().get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.secret_key and frozen.token
    with world.open() as directory:
        check = directory.sessions.verify(frozen.access_key, frozen.secret_key, frozen.token)
        assert check.valid and check.session.user_id == world.ids["alice"] and check.session.mfa
        info = directory.sessions.get(check.session.id)
        assert (info.account_name, info.permission_set_name) == ("prod", "S3Reader")
    # A second AWS process within the credentials' life gets the same ones (the server's cache).
    again = _profile(monkeypatch, tmp_path, command).get_credentials().get_frozen_credentials()
    assert again.access_key == frozen.access_key
