"""``tui init``, ``tui login``/``logout``, ``tui report credentials``, ``tui password-policy``: the real
command in subprocesses, on real files. Each ``tui`` run is its own process, so throttling here is across
processes."""

from __future__ import annotations

import csv
import io
import json
import stat
import sys
from pathlib import Path

import pytest

from store.audit import Actor
from store.clock import utc_now
from store.crypto import totp_code
from store.directory import Directory
from tests.test_identity_init import ARGON2_PREFIX, ROOT_PASSWORD, other_code

PASSWORD_LINE = ROOT_PASSWORD + "\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def initialised(run_tui, tmp_path, db_path):
    """``tui init --password-stdin --totp-secret-file F``: returns (secret, result)."""
    secret_file = tmp_path / "root.totp"
    result = run_tui("init", "--password-stdin", "--totp-secret-file", secret_file, input=PASSWORD_LINE)
    assert result.returncode == 0, result
    return secret_file.read_text().strip(), result


def current_code(secret: str) -> str:
    return totp_code(secret, utc_now())


class TestInit:
    def test_scripted_init_writes_secret_and_key_file_0600_and_prints_recovery_codes(
        self, initialised, tmp_path, db_path
    ):
        secret, result = initialised
        assert mode(tmp_path / "root.totp") == 0o600 and len(secret) == 32
        key_file = db_path.with_name(db_path.name + ".key")
        assert mode(key_file) == 0o600 and mode(db_path) == 0o600
        codes = [c for line in result.stdout.splitlines() if line.startswith("    ") for c in line.split()]
        assert len(codes) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
        assert secret not in result.stdout and secret not in result.stderr  # it went to the file only
        assert str(key_file) in result.stdout
        directory = Directory.open(db_path, Actor("t", "test"))
        hashed = directory.db.conn.execute("SELECT password_hash FROM users WHERE is_root = 1").fetchone()[0]
        directory.close()
        assert hashed.startswith(ARGON2_PREFIX)

    def test_init_shows_the_qr_code_and_secret_when_no_file_is_given(self, run_tui):
        result = run_tui("init", "--password-stdin", input=PASSWORD_LINE)
        assert result.returncode == 0, result
        assert "secret: " in result.stdout and "otpauth://totp/tui:root?secret=" in result.stdout
        assert "█" in result.stdout  # the QR code, in half blocks

    def test_init_on_an_initialised_directory_refuses_and_changes_nothing(
        self, initialised, run_tui, db_path, tmp_path
    ):
        before = db_path.read_bytes()
        result = run_tui(
            "init", "--password-stdin", "--totp-secret-file", tmp_path / "second.totp", input=PASSWORD_LINE
        )
        assert result.returncode == 1
        assert "already initialised" in result.stderr
        assert not (tmp_path / "second.totp").exists()
        assert db_path.read_bytes() == before

    def test_a_refused_password_creates_nothing_and_never_echoes_it(self, run_tui, tmp_path, db_path):
        result = run_tui(
            "init", "--password-stdin", "--totp-secret-file", tmp_path / "f", input="password123\n"
        )
        assert result.returncode == 1
        assert "at least 12 characters" in result.stderr and "too common" in result.stderr
        assert "password123" not in result.stderr + result.stdout
        assert not (tmp_path / "f").exists() and not db_path.with_name(db_path.name + ".key").exists()

    def test_init_without_a_terminal_or_stdin_password_says_how(self, run_tui):
        result = run_tui("init", input="")
        assert result.returncode == 1 and "--password-stdin" in result.stderr

    def test_key_file_where_tui_key_says(self, run_tui, tmp_path, db_path):
        key = tmp_path / "elsewhere.key"
        result = run_tui("init", "--password-stdin", input=PASSWORD_LINE, env={"TUI_KEY": str(key)})
        assert result.returncode == 0, result
        assert mode(key) == 0o600 and not db_path.with_name(db_path.name + ".key").exists()
        missing = run_tui("report", "credentials")
        assert missing.returncode == 1 and "does not exist" in missing.stderr and "--key" in missing.stderr
        assert run_tui("--key", key, "report", "credentials").returncode == 0


class TestLogin:
    def test_login_succeeds_once_per_code_and_caches_only_a_private_token(
        self, initialised, run_tui, tmp_path, db_path
    ):
        secret, _ = initialised
        code = current_code(secret)
        result = run_tui("login", "--user", "root", "--password-stdin", "--code", code, input=PASSWORD_LINE)
        assert result.returncode == 0, result
        assert "signed in as root (with MFA)" in result.stdout
        caches = list((tmp_path / "xdg-cache" / "tui" / "logins").glob("*.json"))
        assert len(caches) == 1 and mode(caches[0]) == 0o600 and mode(caches[0].parent) == 0o700
        token = json.loads(caches[0].read_text())["token"]
        assert token not in result.stdout + result.stderr
        assert token.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("directory.db*"))
        again = run_tui("login", "--user", "root", "--password-stdin", "--code", code, input=PASSWORD_LINE)
        assert again.returncode == 1 and "Sign-in failed" in again.stderr
        out = run_tui("logout")
        assert out.returncode == 0 and "signed out root" in out.stdout and not caches[0].exists()

    def test_five_wrong_codes_lock_the_right_one_out_across_processes(self, initialised, run_tui):
        secret, _ = initialised
        for _ in range(5):
            wrong = run_tui(
                "login",
                "--user",
                "root",
                "--password-stdin",
                "--code",
                other_code(current_code(secret)),
                input=PASSWORD_LINE,
            )
            assert wrong.returncode == 1
        right = run_tui(
            "login", "--user", "root", "--password-stdin", "--code", current_code(secret), input=PASSWORD_LINE
        )
        assert right.returncode == 1
        assert right.stderr == wrong.stderr  # the same words for locked as for a wrong code

    def test_unknown_user_and_wrong_password_get_the_same_message(self, initialised, run_tui):
        secret, _ = initialised
        unknown = run_tui(
            "login", "--user", "nobody", "--password-stdin", "--code", "123456", input=PASSWORD_LINE
        )
        wrong = run_tui(
            "login",
            "--user",
            "root",
            "--password-stdin",
            "--code",
            current_code(secret),
            input="not-the-password-canary\n",
        )
        assert unknown.returncode == wrong.returncode == 1
        assert unknown.stderr == wrong.stderr
        assert "canary" not in wrong.stderr

    def test_a_user_who_must_change_the_password_is_told_to_do_it_interactively(
        self, initialised, run_tui, db_path
    ):
        directory = Directory.open(db_path, Actor("t", "test"))
        alice = directory.users.create("alice")
        directory.credentials.set_password(alice.id, "wonderland rabbit hole 42", must_change=True)
        directory.close()
        result = run_tui("login", "--user", "alice", "--password-stdin", input="wonderland rabbit hole 42\n")
        assert result.returncode == 1 and "must choose a new password" in result.stderr


class TestReportAndPolicy:
    def test_report_credentials_is_csv_with_root_first(self, initialised, run_tui, db_path):
        directory = Directory.open(db_path, Actor("t", "test"))
        directory.users.create("alice")
        directory.close()
        result = run_tui("report", "credentials")
        assert result.returncode == 0, result
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows[0][:3] == ["user", "arn", "user_creation_time"] and len(rows[0]) == 22
        assert [row[0] for row in rows[1:]] == ["<root_account>", "alice"]

    def test_password_policy_show_and_set(self, initialised, run_tui):
        shown = run_tui("password-policy", "show", "--json")
        assert json.loads(shown.stdout)["minimum_length"] == 12
        changed = run_tui(
            "password-policy", "set", "--minimum-length", "16", "--require-symbols", "--max-age-days", "90"
        )
        assert changed.returncode == 0, changed
        assert "at least 16 characters" in changed.stdout and "expires after 90 days" in changed.stdout
        policy = json.loads(run_tui("password-policy", "show", "--json").stdout)
        assert (policy["minimum_length"], policy["require_symbols"], policy["max_age_days"]) == (16, True, 90)
        bad = run_tui("password-policy", "set", "--minimum-length", "2")
        assert bad.returncode == 1 and "minimum_length must be between 6 and 128" in bad.stderr
        back = run_tui("password-policy", "set", "--max-age-days", "none")
        assert back.returncode == 0 and "never expires" in back.stdout


def test_credential_commands_do_not_import_textual(initialised, db_path, tui_env):
    import os
    import subprocess

    code = (
        "import sys\nfrom tui.cli import cli\n"
        "for args in (['report', 'credentials'], ['password-policy', 'show'], ['logout']):\n"
        "    try:\n        cli.main(args=args, prog_name='tui', standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **tui_env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
