"""The sign-in service: one message for every failure, TOTP replay, throttling, recovery codes, rehashing.

Real SQLite files; time moves through an injected clock, never by sleeping.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from store import audit
from store.audit import Actor
from store.crypto import PasswordPolicy, pbkdf2_modular_hash, totp_code
from store.directory import Directory
from store.errors import Refused
from store.sign_in import FAILED_MESSAGE, PasswordExpired, SignInFailed, lock_duration
from tests.test_identity_init import ARGON2_PREFIX, ROOT_PASSWORD, FakeClock, Root, make_root, other_code

ALICE_PASSWORD = "wonderland rabbit hole 42"


@pytest.fixture
def root(db_path):
    made = make_root(db_path)
    yield made
    made.directory.close()


def failed(directory: Directory, user: str, password: str, code: str = "") -> str:
    with pytest.raises(SignInFailed) as refused:
        directory.sign_in.attempt(user, password, code)
    return refused.value.message


def events(directory: Directory, action: str) -> list[audit.AuditEvent]:
    with directory.db.read() as conn:
        return [event for event in audit.events(conn) if event.action == action]


def enrol(directory: Directory, clock: FakeClock, user_id: int, secret: str | None = None) -> str:
    enrolment = directory.credentials.begin_totp(user_id)
    secret = secret or enrolment.secret
    directory.credentials.confirm_totp(user_id, secret, totp_code(secret, clock()))
    clock.advance(seconds=30)
    return secret


class TestSuccess:
    def test_root_signs_in_with_password_and_code(self, root: Root):
        result = root.directory.sign_in.attempt("root", ROOT_PASSWORD, root.code(), client="cli")
        assert result.user.is_root and result.mfa and result.method == "password+totp"
        assert result.pending == [] and result.recovery_codes_left == 10
        assert result.user.last_sign_in_at == result.at
        [event] = events(root.directory, "sign_in.success")
        assert event.target == "user:root"
        assert event.details == {"result": "success", "method": "password+totp", "client": "cli"}

    def test_user_names_are_matched_canonically_and_codes_may_hold_spaces(self, root: Root):
        code = root.code()
        root.directory.sign_in.attempt("ROOT", ROOT_PASSWORD, f" {code[:3]} {code[3:]} ")

    def test_a_user_without_an_authenticator_signs_in_with_the_password_alone(self, root: Root):
        alice = root.directory.users.create("alice")
        root.directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        result = root.directory.sign_in.attempt("alice", ALICE_PASSWORD)
        assert not result.mfa and result.method == "password"


class TestOneMessageForEveryFailure:
    def test_unknown_user_wrong_password_wrong_code_missing_code_disabled_and_locked(self, root: Root):
        directory = root.directory
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        directory.users.disable(alice.id, directory.users.get(alice.id).version)
        directory.users.create("carol")  # no password at all
        messages = {
            "unknown user": failed(directory, "nobody", ROOT_PASSWORD, root.code()),
            "wrong password": failed(directory, "root", "not the password at all", root.code()),
            "wrong code": failed(directory, "root", ROOT_PASSWORD, other_code(root.code())),
            "missing code": failed(directory, "root", ROOT_PASSWORD, ""),
            "bad recovery code": failed(directory, "root", ROOT_PASSWORD, "aaaaa-bbbbb"),
            "disabled": failed(directory, "alice", ALICE_PASSWORD),
            "user without password": failed(directory, "carol", "anything at all"),
        }
        failed(directory, "root", ROOT_PASSWORD, other_code(root.code()))  # root's 5th: locked from now on
        messages["locked, right code"] = failed(directory, "root", ROOT_PASSWORD, root.code())
        assert set(messages.values()) == {FAILED_MESSAGE}
        reasons = [event.details["reason"] for event in events(directory, "sign_in.failure")]
        assert reasons == [
            "unknown_user",
            "bad_password",
            "bad_code",
            "missing_code",
            "bad_code",
            "disabled",
            "no_password",
            "bad_code",
            "locked",
        ]

    def test_failures_are_audited_without_any_secret(self, root: Root):
        code = other_code(root.code())
        failed(root.directory, "root", "wrong-password-canary", code)
        failed(root.directory, "no-such-user", "other-password-canary", "zzzzz-zzzzz")
        raw = sqlite3.connect(root.directory.db.path)
        dump = "\n".join(str(row) for row in raw.execute("SELECT * FROM audit"))
        raw.close()
        assert "canary" not in dump and code not in dump and "zzzzz" not in dump
        assert "user:(unknown)" in dump and "no-such-user" not in dump  # a name nobody has may be a secret


class TestReplay:
    def test_an_accepted_code_is_never_accepted_again(self, root: Root):
        code = root.code()
        root.directory.sign_in.attempt("root", ROOT_PASSWORD, code)
        assert failed(root.directory, "root", ROOT_PASSWORD, code) == FAILED_MESSAGE
        root.clock.advance(seconds=20)  # still within the ±1 step window of that code
        failed(root.directory, "root", ROOT_PASSWORD, code)
        root.clock.advance(seconds=30)
        root.directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())

    def test_two_connections_racing_with_the_same_code_let_exactly_one_in(self, root: Root):
        code = root.code()
        others = [
            Directory.open(root.directory.db.path, Actor(f"racer{i}", "test"), root.clock) for i in range(4)
        ]
        results: list[str] = []
        barrier = threading.Barrier(len(others))

        def race(directory: Directory) -> None:
            barrier.wait()
            try:
                directory.sign_in.attempt("root", ROOT_PASSWORD, code)
                results.append("in")
            except SignInFailed:
                results.append("refused")

        threads = [threading.Thread(target=race, args=(d,)) for d in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for directory in others:
            directory.close()
        assert sorted(results) == ["in", "refused", "refused", "refused"]


class TestThrottling:
    def test_lock_grows_linearly_from_the_fifth_failure_to_fifteen_minutes(self):
        assert [lock_duration(n) for n in range(1, 5)] == [None] * 4
        assert lock_duration(5) == timedelta(minutes=1)
        assert lock_duration(6) == timedelta(minutes=2)
        assert lock_duration(19) == timedelta(minutes=15)
        assert lock_duration(500) == timedelta(minutes=15)

    def test_five_wrong_codes_lock_even_the_right_code_until_the_lock_ends(self, root: Root):
        directory = root.directory
        for _ in range(5):
            failed(directory, "root", ROOT_PASSWORD, other_code(root.code()))
        status = directory.credentials.status(directory.users.root().id)
        assert status.failed_sign_ins == 5
        assert status.locked_until == (root.clock() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        failed(directory, "root", ROOT_PASSWORD, root.code())
        root.clock.advance(seconds=59)
        failed(directory, "root", ROOT_PASSWORD, root.code())
        root.clock.advance(seconds=1)
        result = directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())
        assert result.user.is_root
        assert directory.credentials.status(result.user.id).failed_sign_ins == 0

    def test_attempts_while_locked_do_not_lengthen_the_lock(self, root: Root):
        directory = root.directory
        for _ in range(5):
            failed(directory, "root", "wrong password here", root.code())
        locked_until = directory.credentials.status(directory.users.root().id).locked_until
        for _ in range(20):
            failed(directory, "root", "wrong password here", root.code())
        status = directory.credentials.status(directory.users.root().id)
        assert status.locked_until == locked_until and status.failed_sign_ins == 5

    def test_root_is_never_locked_for_longer_than_fifteen_minutes(self, root: Root):
        directory = root.directory
        for _ in range(40):
            failed(directory, "root", "wrong password here", "")
            root.clock.advance(minutes=16)  # wait out each lock, then fail again
        status = directory.credentials.status(directory.users.root().id)
        assert status.failed_sign_ins == 40
        locked = datetime.strptime(status.locked_until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert locked - (root.clock() - timedelta(minutes=16)) == timedelta(minutes=15)
        directory.sign_in.attempt("root", ROOT_PASSWORD, root.code())

    def test_old_failures_are_forgotten_after_a_day(self, root: Root):
        directory = root.directory
        for _ in range(4):
            failed(directory, "root", "wrong password here", "")
        root.clock.advance(days=1, seconds=1)
        failed(directory, "root", "wrong password here", "")
        assert directory.credentials.status(directory.users.root().id).failed_sign_ins == 1

    def test_the_lock_is_shared_by_every_connection_to_the_file(self, root: Root):
        other = Directory.open(root.directory.db.path, Actor("elsewhere", "test"), root.clock)
        for _ in range(5):
            failed(other, "root", ROOT_PASSWORD, other_code(root.code()))
        other.close()
        failed(root.directory, "root", ROOT_PASSWORD, root.code())


def unused_recovery_codes(directory: Directory) -> int:
    with directory.db.read() as conn:
        return int(conn.execute("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL").fetchone()[0])


class TestRecoveryCodes:
    def test_a_recovery_code_signs_in_once_through_a_new_authenticator(self, root: Root):
        directory = root.directory
        code = root.created.recovery_codes[3]
        result = directory.sign_in.attempt("root", ROOT_PASSWORD, code.upper().replace("-", " "))
        assert result.method == "password+recovery_code" and result.mfa
        assert result.must_enrol_totp and result.pending == ["enrol_totp"]
        assert result.recovery_codes_left == 9  # once this one is spent
        with pytest.raises(Refused, match="new authenticator"):
            directory.portal.issue(result)
        # Not completed: the code is still good, and nothing is owed at a sign-in with the authenticator.
        assert unused_recovery_codes(directory) == 10
        assert not directory.sign_in.attempt("root", ROOT_PASSWORD, root.code()).must_enrol_totp
        again = directory.sign_in.attempt("root", ROOT_PASSWORD, code)
        enrolment = directory.credentials.begin_totp(again.user.id)
        codes = directory.credentials.confirm_totp(
            again.user.id, enrolment.secret, totp_code(enrolment.secret, root.clock()), recovering=again
        )
        signed_in = directory.portal.issue(again)  # the enrolment spent the code and completed the sign-in
        assert signed_in.mfa and signed_in.method == "password+recovery_code"
        assert failed(directory, "root", ROOT_PASSWORD, code) == FAILED_MESSAGE  # once only
        assert len(codes) == 10 and unused_recovery_codes(directory) == 10  # fresh ones
        [enabled] = events(directory, "user.mfa.replace")
        assert enabled.details["recovery_code_used"] is True
        # The old authenticator no longer works.
        root.clock.advance(seconds=30)
        failed(directory, "root", ROOT_PASSWORD, root.code())

    def test_two_sign_ins_with_the_same_code_complete_once(self, root: Root):
        directory = root.directory
        code = root.created.recovery_codes[0]
        first = directory.sign_in.attempt("root", ROOT_PASSWORD, code)
        second = directory.sign_in.attempt("root", ROOT_PASSWORD, code)
        secrets = [directory.credentials.begin_totp(first.user.id).secret for _ in range(2)]
        directory.credentials.confirm_totp(
            first.user.id, secrets[0], totp_code(secrets[0], root.clock()), recovering=first
        )
        with pytest.raises(Refused, match="recovery code was used or replaced meanwhile"):
            directory.credentials.confirm_totp(
                second.user.id, secrets[1], totp_code(secrets[1], root.clock()), recovering=second
            )
        root.clock.advance(seconds=30)  # the first one's authenticator stands
        assert directory.sign_in.attempt("root", ROOT_PASSWORD, totp_code(secrets[0], root.clock())).mfa

    def test_a_hard_expired_password_leaves_the_recovery_code_unspent(self, root: Root):
        directory = root.directory
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        enrol(directory, root.clock, alice.id)
        codes = directory.credentials.regenerate_recovery_codes(alice.id)
        directory.password_policy.set(PasswordPolicy(max_age_days=30, hard_expiry=True))
        root.clock.advance(days=31)
        with pytest.raises(PasswordExpired):
            directory.sign_in.attempt("alice", ALICE_PASSWORD, codes[0])
        with directory.db.read() as conn:
            left = conn.execute(
                "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", (alice.id,)
            ).fetchone()[0]
        assert left == 10


class TestPasswords:
    def test_a_bcrypt_hash_from_an_import_signs_in_and_leaves_argon2id(self, root: Root):
        import bcrypt

        alice = root.directory.users.create("alice", source="okta")
        imported = bcrypt.hashpw(ALICE_PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
        raw = sqlite3.connect(root.directory.db.path)
        raw.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = '2026-01-01T00:00:00Z' WHERE id = ?",
            (imported, alice.id),
        )
        raw.commit()
        root.directory.sign_in.attempt("alice", ALICE_PASSWORD)
        stored = raw.execute("SELECT password_hash FROM users WHERE id = ?", (alice.id,)).fetchone()[0]
        raw.close()
        assert stored.startswith(ARGON2_PREFIX)
        [event] = events(root.directory, "sign_in.success")[-1:]
        assert event.details["password_rehashed"] is True
        root.directory.sign_in.attempt("alice", ALICE_PASSWORD)  # and the new hash works

    def test_a_pbkdf2_hash_is_rehashed_too(self, root: Root):
        import hashlib

        bob = root.directory.users.create("bob")
        salt = b"0123456789abcdef"
        derived = hashlib.pbkdf2_hmac("sha256", b"bob's long passphrase", salt, 27500)
        raw = sqlite3.connect(root.directory.db.path)
        raw.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?",
            (pbkdf2_modular_hash("sha256", 27500, salt, derived), bob.id),
        )
        raw.commit()
        root.directory.sign_in.attempt("bob", "bob's long passphrase")
        assert (
            raw.execute("SELECT password_hash FROM users WHERE id = ?", (bob.id,))
            .fetchone()[0]
            .startswith(ARGON2_PREFIX)
        )
        raw.close()

    def test_must_change_blocks_the_portal_until_a_new_password_is_chosen(self, root: Root):
        directory = root.directory
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD, must_change=True)
        result = directory.sign_in.attempt("alice", ALICE_PASSWORD)
        assert result.pending == ["change_password"]
        with pytest.raises(Refused, match="new password"):
            directory.portal.issue(result)
        directory.credentials.complete_password_change(alice.id, "looking glass mirror 77")
        directory.portal.issue(result)
        failed(directory, "alice", ALICE_PASSWORD)

    def test_the_sign_in_is_the_right_to_what_it_owes_and_to_nothing_else(self, root: Root):
        """Where nobody acts (the console's gate after a sign-out), a sign-in that owes a password change
        makes it with the sign-in as proof; another user's sign-in, or one that owes nothing, does not."""
        directory = root.directory
        alice, bob = directory.users.create("alice"), directory.users.create("bob")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD, must_change=True)
        directory.credentials.set_password(bob.id, "wintry passphrase here 9")
        owing = directory.sign_in.attempt("alice", ALICE_PASSWORD)
        owing_nothing = directory.sign_in.attempt("bob", "wintry passphrase here 9")
        directory.sign_out(Actor("console", "console"))
        new = "looking glass mirror 77"
        for proof in (None, owing_nothing):
            with pytest.raises(Refused, match="only administrators"):
                directory.credentials.complete_password_change(alice.id, new, proof=proof)
        with pytest.raises(Refused, match="only administrators"):
            directory.credentials.complete_password_change(bob.id, "looking glass mirror 77", proof=owing)
        with pytest.raises(Refused, match="only administrators"):
            directory.credentials.begin_totp(alice.id, proof=owing)  # it owes a password, not an enrolment
        directory.credentials.complete_password_change(alice.id, "looking glass mirror 77", proof=owing)
        directory.portal.issue(owing)
        with pytest.raises(Refused, match="no password change is due"):
            directory.credentials.complete_password_change(alice.id, "another passphrase 88", proof=owing)

    def test_expiry_soft_means_change_at_sign_in_hard_means_an_admin_reset(self, root: Root):
        directory = root.directory
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        directory.password_policy.set(PasswordPolicy(max_age_days=30))
        root.clock.advance(days=31)
        assert directory.sign_in.attempt("alice", ALICE_PASSWORD).must_change_password
        directory.password_policy.set(PasswordPolicy(max_age_days=30, hard_expiry=True))
        with pytest.raises(PasswordExpired, match="ask an administrator"):
            directory.sign_in.attempt("alice", ALICE_PASSWORD)
        # ...but only once password (and code) were right; a wrong password gets the usual answer.
        failed(directory, "alice", "not the right password")
        # Root is never locked out by expiry: it must change its password instead.
        assert directory.sign_in.attempt("root", ROOT_PASSWORD, root.code()).must_change_password


RFC6238_SECRET = base64.b32encode(b"12345678901234567890").decode()
# RFC 6238 Appendix B, SHA-1: the 8-digit codes' last 6 digits are the 6-digit codes of the same HOTP value.
RFC6238_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def test_rfc_6238_vectors_through_enrolment_and_sign_in(tmp_path):
    clock = FakeClock(datetime.fromtimestamp(RFC6238_VECTORS[0][0], UTC))
    directory = Directory.open(tmp_path / "rfc.db", Actor("t", "test"), clock)
    from store.identity import initialise, new_root_enrolment

    initialise(directory, ROOT_PASSWORD, new_root_enrolment(), key_path=tmp_path / "rfc.db.key")
    alice = directory.users.create("alice")
    directory.credentials.set_password(alice.id, ALICE_PASSWORD)
    _, first_code = RFC6238_VECTORS[0]
    directory.credentials.confirm_totp(alice.id, RFC6238_SECRET, first_code[-6:])
    for seconds, code in RFC6238_VECTORS[1:]:
        clock.now = datetime.fromtimestamp(seconds, UTC)
        result = directory.sign_in.attempt("alice", ALICE_PASSWORD, code[-6:])
        assert result.method == "password+totp", seconds
    directory.close()
