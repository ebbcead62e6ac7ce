"""Root and the key file: ``store.identity.initialise`` against real SQLite files, with an injected clock.

Also home of the small helpers the other credential tests import (a settable clock, a directory with root).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import audit
from store.audit import Actor
from store.crypto import KeyFileError, totp_code
from store.directory import AUDIT_MAC_SETTING, KEY_ID_SETTING, Directory
from store.errors import Refused, ValidationError
from store.identity import RootCreated, has_root, initialise, new_root_enrolment

ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
ROOT_PASSWORD = "correct tiger staple 1987"
START = datetime(2026, 5, 4, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand (Directory takes ``clock=``): no sleeping, no flaky minutes."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def other_code(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


@dataclass
class Root:
    directory: Directory
    clock: FakeClock
    secret: str
    created: RootCreated

    def code(self) -> str:
        return totp_code(self.secret, self.clock())


TEST_ADMIN = Actor("test-admin", "test")


def make_root(path: Path, clock: FakeClock | None = None, actor: Actor = TEST_ADMIN) -> Root:
    """A directory at ``path`` with root (password ROOT_PASSWORD), its key file beside it."""
    clock = clock or FakeClock()
    directory = Directory.open(path, actor, clock)
    enrolment = new_root_enrolment()
    created = initialise(directory, ROOT_PASSWORD, enrolment, code=totp_code(enrolment.secret, clock()))
    clock.advance(seconds=30)  # the code just used is spent: move to the next step
    return Root(directory, clock, enrolment.secret, created)


@pytest.fixture
def root(db_path: Path) -> Root:
    made = make_root(db_path)
    yield made
    made.directory.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestInitialise:
    def test_creates_root_with_argon2id_sealed_totp_recovery_codes_and_a_private_key_file(
        self, root, db_path
    ):
        key_path = db_path.with_name(db_path.name + ".key")
        assert root.created.key_path == key_path and root.created.key_created
        assert _mode(key_path) == 0o600
        assert len(root.created.recovery_codes) == 10 and len(set(root.created.recovery_codes)) == 10
        raw = sqlite3.connect(db_path)
        row = raw.execute(
            "SELECT user_name, is_root, password_hash, totp_secret_sealed, totp_last_step FROM users"
        ).fetchone()
        assert row[0] == "root" and row[1] == 1
        assert row[2].startswith(ARGON2_PREFIX)
        assert row[3].startswith("tui1.") and root.secret not in row[3]
        assert row[4] is not None  # the confirming code's step is spent
        hashes = [r[0] for r in raw.execute("SELECT code_hash FROM recovery_codes")]
        assert len(hashes) == 10 and all(len(h) == 64 for h in hashes)
        raw.close()
        assert has_root(root.directory)
        # Root is not a listed user and not counted.
        assert root.directory.users.count() == 0

    def test_audit_chain_is_keyed_from_the_first_event_and_verifies_after_reopening(self, root, db_path):
        assert root.created.audit_keyed
        assert root.directory.setting(AUDIT_MAC_SETTING) == root.directory.key.current.key_id
        assert root.directory.setting(KEY_ID_SETTING) == root.directory.key.current.key_id
        root.directory.users.create("alice")
        root.directory.close()
        again = Directory.open(db_path, Actor("t", "test"))
        with again.db.read() as conn:
            assert audit.verify(conn, again.audit_key).ok
            # Without the key the chain does not verify: the MAC really is keyed.
            assert not audit.verify(conn, None).ok
        again.close()

    def test_second_initialise_is_refused_and_changes_nothing(self, root):
        with pytest.raises(Refused, match="already has a root"):
            initialise(root.directory, ROOT_PASSWORD, new_root_enrolment())
        with root.directory.db.read() as conn:
            assert conn.execute("SELECT count(*) FROM users WHERE is_root = 1").fetchone()[0] == 1

    def test_refused_password_or_code_writes_nothing(self, db_path):
        clock = FakeClock()
        directory = Directory.open(db_path, Actor("t", "test"), clock)
        enrolment = new_root_enrolment()
        with pytest.raises(ValidationError) as refused:
            initialise(directory, "password", enrolment)
        assert refused.value.field == "password"
        assert "at least 12 characters" in refused.value.message and "too common" in refused.value.message
        with pytest.raises(ValidationError, match="does not match") as wrong:
            initialise(
                directory, ROOT_PASSWORD, enrolment, code=other_code(totp_code(enrolment.secret, clock()))
            )
        assert wrong.value.field == "code"
        assert not has_root(directory)
        assert not db_path.with_name(db_path.name + ".key").exists()
        with directory.db.read() as conn:
            assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
        directory.close()

    def test_password_containing_root_is_refused(self, db_path):
        directory = Directory.open(db_path, Actor("t", "test"))
        with pytest.raises(ValidationError, match="must not contain the user name"):
            initialise(directory, "my-root-password-2026", new_root_enrolment())
        directory.close()

    def test_data_before_init_is_chained_again_with_the_key_so_the_whole_log_needs_it(self, db_path):
        directory = Directory.open(db_path, Actor("t", "test"))
        directory.users.create("before-init")
        created = initialise(directory, ROOT_PASSWORD, new_root_enrolment())
        assert created.audit_keyed
        directory.users.create("after-init")
        assert directory.verify_audit().ok
        with directory.db.read() as conn:
            # Every event, the one written before init included, needs the key: none verifies plain.
            assert not audit.verify(conn, None).ok
        # Rewriting the pre-init event as an attacker without the key would (a plain SHA-256) is caught.
        attacker = sqlite3.connect(db_path)
        attacker.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
        attacker.commit()
        attacker.close()
        result = directory.verify_audit()
        assert not result.ok and result.first_bad_seq == 1
        directory.close()

    def test_key_file_elsewhere(self, db_path, tmp_path):
        elsewhere = tmp_path / "keys" / "directory.key"
        elsewhere.parent.mkdir(mode=0o700)
        directory = Directory.open(db_path, Actor("t", "test"), key_path=elsewhere)
        created = initialise(directory, ROOT_PASSWORD, new_root_enrolment())
        assert created.key_path == elsewhere and _mode(elsewhere) == 0o600
        assert not db_path.with_name(db_path.name + ".key").exists()
        directory.close()
        Directory.open(db_path, Actor("t", "test"), key_path=elsewhere).close()


class TestKeyFile:
    def test_a_keyed_directory_refuses_to_open_without_its_key_file(self, root, db_path):
        root.directory.close()
        key_path = db_path.with_name(db_path.name + ".key")
        key_path.rename(db_path.with_name("moved.key"))
        with pytest.raises(KeyFileError, match="does not exist.*--key PATH or TUI_KEY"):
            Directory.open(db_path, Actor("t", "test"))
        Directory.open(db_path, Actor("t", "test"), key_path=db_path.with_name("moved.key")).close()

    def test_another_directorys_key_file_is_refused(self, root, db_path, tmp_path):
        root.directory.close()
        other = make_root(tmp_path / "other.db")
        other.directory.close()
        with pytest.raises(KeyFileError, match="not this directory's key file"):
            Directory.open(db_path, Actor("t", "test"), key_path=tmp_path / "other.db.key")

    def test_a_key_file_readable_by_others_is_refused(self, root, db_path):
        root.directory.close()
        key_path = db_path.with_name(db_path.name + ".key")
        os.chmod(key_path, 0o644)
        with pytest.raises(KeyFileError, match="chmod 600"):
            Directory.open(db_path, Actor("t", "test"))


class TestRootIsProtected:
    def test_root_cannot_be_disabled_deleted_lose_mfa_or_hold_access_keys(self, root):
        directory = root.directory
        user = directory.users.root()
        with pytest.raises(Refused, match="root cannot be disabled"):
            directory.users.disable(user.id, user.version)
        with pytest.raises(Refused, match="root cannot be deleted"):
            directory.users.delete(user.id, user.version)
        with pytest.raises(Refused, match="root cannot lose MFA"):
            directory.credentials.reset_totp(user.id)
        with pytest.raises(Refused, match="root cannot hold access keys"):
            directory.access_keys.create(user.id)
        with pytest.raises(Refused, match="root always has a password"):
            directory.credentials.remove_password(user.id)
        status = directory.credentials.status(user.id)
        assert status.mfa and status.has_password and status.recovery_codes_left == 10
