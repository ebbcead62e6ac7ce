"""Users' credentials in the store: passwords and the policy, authenticators, recovery codes, access keys and
their rotation, portal sign-ins, the credential report and the dashboard's flags; and no secret at rest."""

from __future__ import annotations

import base64
import csv
import io
import re
import sqlite3
from datetime import timedelta

import pytest

from store import audit
from store.audit import Actor
from store.clock import to_text
from store.credential_report import HEADER, credential_report_csv, security_flags
from store.crypto import PasswordPolicy, totp_code
from store.directory import Directory
from store.errors import Conflict, Refused, ValidationError
from store.portal import NotSignedIn, cached_sign_in, load_login, login_cache_path, save_login
from tests.test_identity_init import ROOT_PASSWORD, Root, make_root
from tests.test_sign_in import enrol, failed

PASSWORD = "wonderland rabbit hole 42"


@pytest.fixture
def root(db_path):
    made = make_root(db_path)
    yield made
    made.directory.close()


@pytest.fixture
def alice(root: Root):
    user = root.directory.users.create("alice", display_name="Alice")
    root.directory.credentials.set_password(user.id, PASSWORD)
    return user


def portal_rows(directory: Directory, user_id: int) -> list[sqlite3.Row]:
    with directory.db.read() as conn:
        return conn.execute("SELECT * FROM portal_tokens WHERE user_id = ?", (user_id,)).fetchall()


class TestPasswords:
    def test_the_policy_refuses_with_every_reason(self, root: Root, alice):
        credentials = root.directory.credentials
        with pytest.raises(ValidationError) as refused:
            credentials.set_password(alice.id, "alice")
        assert refused.value.field == "password"
        assert "at least 12 characters" in refused.value.message
        assert "must not be the user name" in refused.value.message
        with pytest.raises(ValidationError, match="too common"):
            credentials.set_password(alice.id, "password1234")
        with pytest.raises(ValidationError, match="contain the user name"):
            credentials.set_password(alice.id, "my name is alice, really")

    def test_a_stricter_policy_is_persisted_audited_and_applied(self, root: Root, alice):
        service = root.directory.password_policy
        assert service.current().version == 0 and service.get() == PasswordPolicy()
        stored = service.set(PasswordPolicy(minimum_length=14, require_symbols=True, reuse_prevention=2), 0)
        assert stored.version == 1
        with pytest.raises(Conflict):
            service.set(PasswordPolicy(), 0)
        again = Directory.open(root.directory.db.path, Actor("t", "test"))
        assert again.password_policy.get().minimum_length == 14
        again.close()
        with pytest.raises(ValidationError) as refused:
            root.directory.credentials.set_password(alice.id, "no symbols here at all")
        assert "at least one symbol" in refused.value.message
        root.directory.credentials.set_password(alice.id, "second password! ok")
        with pytest.raises(ValidationError, match="one of your last 2 passwords"):
            root.directory.credentials.set_password(alice.id, "second password! ok")
        root.directory.credentials.set_password(alice.id, "third password! ok")
        root.directory.credentials.set_password(alice.id, "fourth password! ok")
        root.directory.credentials.set_password(alice.id, "second password! ok")  # three back: allowed again
        with root.directory.db.read() as conn:
            [event] = [e for e in audit.events(conn) if e.action == "password_policy.update"]
        assert event.details["after"]["minimum_length"] == 14

    def test_invalid_policy_values_name_the_field(self):
        from store.password_policy import policy_from_dict

        with pytest.raises(ValidationError) as refused:
            policy_from_dict({"minimum_length": 3})
        assert refused.value.field == "minimum_length"
        with pytest.raises(ValidationError, match="unknown"):
            policy_from_dict({"minimum_lenght": 12})
        with pytest.raises(ValidationError, match="true or false"):
            policy_from_dict({"require_symbols": "yes"})

    def test_reset_ends_sessions_and_portal_sign_ins_and_may_force_a_change(self, root: Root, alice):
        directory = root.directory
        signed_in = directory.portal.issue(directory.sign_in.attempt("alice", PASSWORD))
        directory.credentials.set_password(alice.id, "a freshly reset passphrase", must_change=True)
        with pytest.raises(NotSignedIn, match="password reset"):
            directory.portal.verify(signed_in.token)
        status = directory.credentials.status(alice.id)
        assert status.must_change_password and status.has_password
        with directory.db.read() as conn:
            history = conn.execute(
                "SELECT count(*) FROM password_history WHERE user_id = ?", (alice.id,)
            ).fetchone()[0]
        assert history == 1

    def test_change_own_password_needs_the_current_one_and_a_different_new_one(self, root: Root, alice):
        credentials = root.directory.credentials
        with pytest.raises(ValidationError, match="current password is not right"):
            credentials.change_password(alice.id, "wrong current password", "looking glass mirror 77")
        with pytest.raises(ValidationError, match="must differ"):
            credentials.change_password(alice.id, PASSWORD, PASSWORD)
        credentials.change_password(alice.id, PASSWORD, "looking glass mirror 77")
        root.directory.sign_in.attempt("alice", "looking glass mirror 77")
        with pytest.raises(Refused, match="no password change is due"):
            credentials.complete_password_change(alice.id, "another passphrase here")

    def test_an_imported_users_password_belongs_to_the_identity_provider(self, root: Root):
        imported = root.directory.users.create("okta-user", source="okta")
        with pytest.raises(Refused, match="managed by the identity provider 'okta'"):
            root.directory.credentials.set_password(imported.id, PASSWORD)
        enrol(root.directory, root.clock, imported.id)  # the authenticator is tui's own
        assert root.directory.credentials.status(imported.id).mfa

    def test_remove_password(self, root: Root, alice):
        root.directory.credentials.remove_password(alice.id)
        assert not root.directory.credentials.status(alice.id).has_password
        failed(root.directory, "alice", PASSWORD)


class TestAuthenticator:
    def test_enrol_needs_a_current_code_and_issues_recovery_codes(self, root: Root, alice):
        credentials = root.directory.credentials
        enrolment = credentials.begin_totp(alice.id)
        assert enrolment.uri.startswith("otpauth://totp/tui:alice?secret=") and "&issuer=tui" in enrolment.uri
        assert not credentials.status(alice.id).mfa  # nothing stored before the code
        with pytest.raises(ValidationError) as wrong:
            credentials.confirm_totp(alice.id, enrolment.secret, "12345")
        assert wrong.value.field == "code"
        codes = credentials.confirm_totp(
            alice.id, enrolment.secret, totp_code(enrolment.secret, root.clock())
        )
        assert len(codes) == 10
        status = credentials.status(alice.id)
        assert status.mfa and status.recovery_codes_left == 10
        # The enrolment code is spent: it does not also sign in.
        failed(root.directory, "alice", PASSWORD, totp_code(enrolment.secret, root.clock()))
        root.clock.advance(seconds=30)
        assert root.directory.sign_in.attempt(
            "alice", PASSWORD, totp_code(enrolment.secret, root.clock())
        ).mfa

    def test_a_sealed_secret_copied_to_another_row_does_not_open(self, root: Root, alice):
        enrol(root.directory, root.clock, alice.id)
        bob = root.directory.users.create("bob")
        raw = sqlite3.connect(root.directory.db.path)
        raw.execute(
            "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = ?), "
            "totp_secret_sealed = (SELECT totp_secret_sealed FROM users WHERE id = ?) WHERE id = ?",
            (alice.id, alice.id, bob.id),
        )
        raw.commit()
        raw.close()
        failed(root.directory, "bob", PASSWORD, "123456")

    def test_reset_removes_mfa_and_codes_and_ends_sign_ins(self, root: Root, alice):
        directory = root.directory
        secret = enrol(directory, root.clock, alice.id)
        signed_in = directory.portal.issue(
            directory.sign_in.attempt("alice", PASSWORD, totp_code(secret, root.clock()))
        )
        directory.credentials.reset_totp(alice.id)
        status = directory.credentials.status(alice.id)
        assert not status.mfa and status.recovery_codes_left == 0
        with pytest.raises(NotSignedIn, match="MFA reset"):
            directory.portal.verify(signed_in.token)
        with pytest.raises(Refused, match="no authenticator"):
            directory.credentials.reset_totp(alice.id)
        with pytest.raises(Refused, match="enrol an authenticator first"):
            directory.credentials.regenerate_recovery_codes(alice.id)

    def test_regenerated_recovery_codes_replace_the_old_ones(self, root: Root):
        directory, root_id = root.directory, root.directory.users.root().id
        old = root.created.recovery_codes
        new = directory.credentials.regenerate_recovery_codes(root_id)
        assert set(new).isdisjoint(old)
        failed(directory, "root", ROOT_PASSWORD, old[0])
        assert directory.sign_in.attempt("root", ROOT_PASSWORD, new[0]).method == "password+recovery_code"

    def test_root_can_replace_its_authenticator_but_not_lose_it(self, root: Root):
        directory, root_id = root.directory, root.directory.users.root().id
        new_secret = enrol(directory, root.clock, root_id)
        failed(directory, "root", ROOT_PASSWORD, root.code())  # the old secret stopped working
        directory.sign_in.attempt("root", ROOT_PASSWORD, totp_code(new_secret, root.clock()))


class TestAccessKeys:
    def test_at_most_two_shown_once_stored_hashed(self, root: Root, alice):
        keys = root.directory.access_keys
        first = keys.create(alice.id)
        assert re.fullmatch(r"AKIA[A-Z2-7]{16}", first.key.key_id)
        assert len(first.secret_access_key) == 40 and first.secret_access_key not in repr(first)
        assert first.key.active and first.key.last_used_at is None
        keys.create(alice.id)
        with pytest.raises(Refused, match="2 access keys"):
            keys.create(alice.id)
        with root.directory.db.read() as conn:
            stored = conn.execute(
                "SELECT secret_hash FROM access_keys WHERE key_id = ?", (first.key.key_id,)
            ).fetchone()[0]
        assert len(stored) == 64 and first.secret_access_key not in stored

    def test_authenticate_records_last_use_and_refuses_inactive_wrong_or_disabled(self, root: Root, alice):
        keys = root.directory.access_keys
        new = keys.create(alice.id)
        root.clock.advance(hours=1)
        assert keys.authenticate(new.key.key_id, new.secret_access_key).user_name == "alice"
        assert keys.get(new.key.id).last_used_at == to_text(root.clock())
        for key_id, secret in ((new.key.key_id, "x" * 40), ("AKIAAAAAAAAAAAAAAAAA", new.secret_access_key)):
            with pytest.raises(Refused, match="not valid"):
                keys.authenticate(key_id, secret)
        inactive = keys.deactivate(new.key.id, new.key.version)
        with pytest.raises(Refused):
            keys.authenticate(new.key.key_id, new.secret_access_key)
        keys.activate(inactive.id, inactive.version)
        user = root.directory.users.get(alice.id)
        root.directory.users.disable(user.id, user.version)
        with pytest.raises(Refused):
            keys.authenticate(new.key.key_id, new.secret_access_key)

    def test_rotation_create_second_deactivate_first_delete_it(self, root: Root, alice):
        keys = root.directory.access_keys
        assert keys.rotation_step(alice.id).action == "none"
        old = keys.create(alice.id).key
        step = keys.rotation_step(alice.id)
        assert (step.action, step.key) == ("create", old)
        root.clock.advance(days=1)
        new = keys.create(alice.id).key
        step = keys.rotation_step(alice.id)
        assert (step.action, step.key.key_id) == ("deactivate", old.key_id)
        with pytest.raises(Refused, match="still active: deactivate it first"):
            keys.delete(old.id, old.version)
        deactivated = keys.deactivate(old.id, old.version)
        with pytest.raises(Conflict):
            keys.activate(old.id, old.version)  # stale version
        step = keys.rotation_step(alice.id)
        assert (step.action, step.key.key_id) == ("delete", old.key_id)
        keys.delete(deactivated.id, deactivated.version)
        assert [k.key_id for k in keys.list(alice.id)] == [new.key_id]
        assert keys.rotation_step(alice.id).action == "create"
        with root.directory.db.read() as conn:
            actions = [e.action for e in audit.events(conn) if e.action.startswith("access_key.")]
        assert actions == [
            "access_key.create",
            "access_key.create",
            "access_key.deactivate",
            "access_key.delete",
        ]


class TestPortal:
    def test_issue_verify_require_and_revoke(self, root: Root):
        directory = root.directory
        signed_in = directory.portal.issue(
            directory.sign_in.attempt("root", ROOT_PASSWORD, root.code(), client="cli")
        )
        assert signed_in.mfa and signed_in.client == "cli" and signed_in.token not in repr(signed_in)
        with directory.db.read() as conn:
            stored = conn.execute("SELECT token_hash FROM portal_tokens").fetchone()[0]
        assert signed_in.token not in stored and len(stored) == 64
        assert directory.portal.verify(signed_in.token).user_name == "root"
        root.clock.advance(hours=1)
        directory.portal.require(signed_in.token, mfa=True, max_age=timedelta(hours=2))
        with pytest.raises(NotSignedIn, match="recent sign-in"):
            directory.portal.require(signed_in.token, max_age=timedelta(minutes=30))
        root.clock.advance(hours=11)
        with pytest.raises(NotSignedIn, match="expired"):
            directory.portal.verify(signed_in.token)
        with pytest.raises(NotSignedIn, match="not signed in"):
            directory.portal.verify("made-up-token")

    def test_a_sign_in_without_mfa_is_refused_where_mfa_is_required(self, root: Root, alice):
        signed_in = root.directory.portal.issue(root.directory.sign_in.attempt("alice", PASSWORD))
        assert not signed_in.mfa
        with pytest.raises(NotSignedIn, match="needs a sign-in with MFA"):
            root.directory.portal.require(signed_in.token)
        assert root.directory.portal.revoke(signed_in.token)
        assert not root.directory.portal.revoke(signed_in.token)
        with pytest.raises(NotSignedIn, match="signed out"):
            root.directory.portal.verify(signed_in.token)

    def test_disable_and_delete_end_portal_sign_ins(self, root: Root, alice):
        directory = root.directory
        signed_in = directory.portal.issue(directory.sign_in.attempt("alice", PASSWORD))
        user = directory.users.get(alice.id)
        directory.users.disable(user.id, user.version)
        with pytest.raises(NotSignedIn, match="user disabled"):
            directory.portal.verify(signed_in.token)
        with pytest.raises(Refused, match="disabled"):
            directory.portal.issue_for(alice.id, client="ssh", method="ssh-key", mfa=False)

    def test_the_login_cache_is_private_and_verified(self, root: Root, tmp_path, monkeypatch):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        directory = root.directory
        signed_in = directory.portal.issue(directory.sign_in.attempt("root", ROOT_PASSWORD, root.code()))
        path = login_cache_path(directory.db.path)
        assert str(path).startswith(str(tmp_path / "cache"))
        save_login(path, directory.db.path, signed_in)
        assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
        assert load_login(path).user_name == "root"
        assert cached_sign_in(directory, directory.db.path, mfa=True).user_name == "root"
        path.chmod(0o644)
        with pytest.raises(NotSignedIn, match="readable by others"):
            load_login(path)


class TestReport:
    def test_credential_report_has_iams_columns_and_root_first(self, root: Root, alice):
        directory = root.directory
        directory.users.create("=cmd|'/C.calc'!A0")  # a name a spreadsheet would run
        secret = enrol(directory, root.clock, alice.id)
        directory.sign_in.attempt("alice", PASSWORD, totp_code(secret, root.clock()))
        directory.access_keys.create(alice.id)
        rows = list(csv.reader(io.StringIO("".join(credential_report_csv(directory)))))
        assert rows[0] == HEADER
        by_user = {row[0]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
        assert rows[1][0] == "<root_account>"
        root_row = by_user["<root_account>"]
        assert (
            root_row["password_enabled"],
            root_row["mfa_active"],
            root_row["password_next_rotation"],
            root_row["access_key_1_active"],
        ) == ("true", "true", "not_supported", "false")
        alice_row = by_user["alice"]
        assert alice_row["arn"] == "arn:tui:iam:::user/alice"
        assert alice_row["mfa_active"] == "true" and alice_row["access_key_1_active"] == "true"
        assert alice_row["password_last_used"].endswith("+00:00")
        assert (
            alice_row["access_key_1_last_used_date"] == "N/A" and alice_row["access_key_2_active"] == "false"
        )
        assert "'=cmd|'/C.calc'!A0" in by_user  # neutralised
        assert by_user["'=cmd|'/C.calc'!A0"]["password_enabled"] == "false"


class TestSecurityFlags:
    def test_flags_follow_the_directory(self, root: Root, alice):
        directory = root.directory
        flags = {flag.key: flag for flag in security_flags(directory)}
        assert flags["root_mfa"].ok and flags["root_keys"].ok
        assert flags["root_used"].ok and flags["root_used"].text == "Root never signed in"
        assert (
            not flags["users_without_mfa"].ok
            and flags["users_without_mfa"].text == "1 password user without MFA"
        )
        assert flags["stale_access_keys"].ok and flags["password_age"].ok
        directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())
        directory.access_keys.create(alice.id)
        directory.password_policy.set(PasswordPolicy(max_age_days=90))
        root.clock.advance(days=91)
        flags = {flag.key: flag for flag in security_flags(directory)}
        assert flags["root_used"].ok  # more than a week ago
        assert (
            not flags["stale_access_keys"].ok
            and flags["stale_access_keys"].text == "Keys >90 days: 1 old, 1 unused"
        )
        assert not flags["password_age"].ok and flags["password_age"].text == "2 passwords over 90 days old"


def test_no_secret_is_stored_in_clear_in_the_database_or_its_wal(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = make_root(tmp_path / "canary.db")
    directory = root.directory
    user = directory.users.create("alice")
    password = "canary-password-Q7ZK9-long"
    directory.credentials.set_password(user.id, password)
    secret = enrol(directory, root.clock, user.id)
    codes = directory.credentials.regenerate_recovery_codes(user.id)
    key = directory.access_keys.create(user.id)
    signed_in = directory.portal.issue(
        directory.sign_in.attempt("alice", password, totp_code(secret, root.clock()))
    )
    wal = tmp_path / "canary.db-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the connection is open: recent pages sit in the WAL
    blobs = b"".join(
        path.read_bytes() for path in tmp_path.glob("canary.db*") if not path.name.endswith(".key")
    )
    canaries = [
        password,
        ROOT_PASSWORD,
        secret,
        root.secret,
        key.secret_access_key,
        signed_in.token,
        *codes,
        *root.created.recovery_codes,
    ]
    for canary in canaries:
        assert canary.encode() not in blobs, canary
        assert canary.encode("utf-16-le") not in blobs
    for raw_secret in (secret, root.secret):
        assert base64.b32decode(raw_secret) not in blobs
    for code in codes:
        assert code.replace("-", "").encode() not in blobs
    directory.close()
