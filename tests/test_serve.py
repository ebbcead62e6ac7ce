"""The parts of the SSH work that need no network: the store's step-up and recent-sign-in look-up, the rate
limiter, the host key, the command line of ``tui serve``, ``tui ssh-authorized-keys`` and ``tui ssh-console``
as sshd would start it (TUI_SSH_USER, SSH_ORIGINAL_COMMAND). Real SQLite files, injected clocks."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from datetime import timedelta

import pytest

from store.audit import Actor
from store.crypto import totp_code
from store.sign_in import SignInFailed
from tests.test_identity_init import make_root, other_code
from tests.test_ssh_harness import ALICE_PASSWORD, seed_world
from tui.serve import FailureLimiter, ServeError, load_or_create_host_key, parse_listen


def _enrol(directory, user_id, clock):
    enrolment = directory.credentials.begin_totp(user_id)
    directory.credentials.confirm_totp(user_id, enrolment.secret, totp_code(enrolment.secret, clock()))
    clock.advance(seconds=30)
    return enrolment.secret


class TestStepUp:
    def test_a_code_is_accepted_once_and_the_step_up_is_audited_without_it(self, db_path):
        root = make_root(db_path)
        directory, clock = root.directory, root.clock
        root_id = directory.users.root().id
        code = root.code()
        done = directory.sign_in.step_up(root_id, code, client="ssh")
        assert done.mfa and done.method == "publickey+totp" and done.client == "ssh"
        with pytest.raises(SignInFailed):
            directory.sign_in.step_up(root_id, code, client="ssh")  # the same step, never twice
        clock.advance(seconds=30)
        assert directory.sign_in.step_up(root_id, root.code()).mfa
        with directory.db.read() as conn:
            rows = conn.execute(
                "SELECT action, details FROM audit WHERE action LIKE 'sign_in.%' ORDER BY seq"
            )
            events = [(r[0], json.loads(r[1])) for r in rows]
        assert [(a, d.get("method"), d.get("reason")) for a, d in events] == [
            ("sign_in.success", "publickey+totp", None),
            ("sign_in.failure", None, "bad_code"),
            ("sign_in.success", "publickey+totp", None),
        ]
        assert code not in json.dumps(events)
        root.directory.close()

    def test_failures_lock_the_identity_like_sign_in_does(self, db_path):
        root = make_root(db_path)
        directory = root.directory
        root_id = directory.users.root().id
        for _ in range(5):
            with pytest.raises(SignInFailed):
                directory.sign_in.step_up(root_id, other_code(root.code()))
        with pytest.raises(SignInFailed):
            directory.sign_in.step_up(root_id, root.code())  # locked: the right code waits too
        root.clock.advance(minutes=1, seconds=1)
        assert directory.sign_in.step_up(root_id, root.code()).mfa
        root.directory.close()

    def test_users_without_an_authenticator_and_disabled_users_get_no_step_up(self, db_path):
        root = make_root(db_path)
        directory, clock = root.directory, root.clock
        bob = directory.users.create("bob")
        with pytest.raises(SignInFailed):
            directory.sign_in.step_up(bob.id, "123456")
        alice = directory.users.create("alice")
        secret = _enrol(directory, alice.id, clock)
        directory.users.disable(alice.id, directory.users.get(alice.id).version)
        with pytest.raises(SignInFailed):
            directory.sign_in.step_up(alice.id, totp_code(secret, clock()))
        root.directory.close()


class TestRecentMfaSignIn:
    def test_only_a_live_recent_sign_in_with_mfa_counts(self, db_path):
        root = make_root(db_path)
        directory, clock = root.directory, root.clock
        alice = directory.users.create("alice")
        portal = directory.portal
        assert portal.recent_mfa_sign_in(alice.id) is None
        portal.issue_for(alice.id, client="ssh", method="publickey", mfa=False)
        assert portal.recent_mfa_sign_in(alice.id) is None
        strong = portal.issue_for(alice.id, client="ssh", method="publickey+totp", mfa=True)
        found = portal.recent_mfa_sign_in(alice.id)
        assert found is not None and found.user_name == "alice" and found.mfa and found.token is None
        clock.advance(hours=2)
        assert portal.recent_mfa_sign_in(alice.id, max_age=timedelta(hours=1)) is None
        assert portal.recent_mfa_sign_in(alice.id) is not None
        portal.revoke(strong.token)
        assert portal.recent_mfa_sign_in(alice.id) is None
        portal.issue_for(alice.id, client="console", method="password+totp", mfa=True)
        clock.advance(hours=12, seconds=1)
        assert portal.recent_mfa_sign_in(alice.id) is None
        root.directory.close()


class TestFailureLimiter:
    def test_ten_failures_in_a_minute_block_the_address_for_five_minutes(self):
        now = [1000.0]
        limiter = FailureLimiter(clock=lambda: now[0])
        for _ in range(9):
            assert not limiter.failed("10.0.0.1")
            now[0] += 5
        assert limiter.blocked_for("10.0.0.1") == 0
        assert limiter.failed("10.0.0.1")
        assert limiter.blocked_for("10.0.0.1") == 300
        assert limiter.blocked_for("10.0.0.2") == 0  # per address
        now[0] += 299
        assert limiter.blocked_for("10.0.0.1") == 1
        now[0] += 1
        assert limiter.blocked_for("10.0.0.1") == 0

    def test_failures_older_than_the_window_are_forgotten(self):
        now = [0.0]
        limiter = FailureLimiter(clock=lambda: now[0])
        for _ in range(30):
            assert not limiter.failed("10.0.0.1")
            now[0] += 7  # 9 within any minute, never 10
        assert limiter.blocked_for("10.0.0.1") == 0


class TestHostKeyAndAddress:
    def test_the_host_key_is_created_once_private_and_reused(self, tmp_path):
        path = tmp_path / "keys" / "host"
        key, created = load_or_create_host_key(path)
        assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.with_name("host.pub").stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.with_name("host.pub").read_text().startswith("ssh-ed25519 ")
        again, created_again = load_or_create_host_key(path)
        assert not created_again and again.get_fingerprint("sha256") == key.get_fingerprint("sha256")
        os.chmod(path, 0o644)
        with pytest.raises(ServeError, match="readable by others"):
            load_or_create_host_key(path)

    def test_listen_addresses(self):
        assert parse_listen("127.0.0.1:2222") == ("127.0.0.1", 2222)
        assert parse_listen("[::1]:0") == ("::1", 0)
        for unreadable in ("::1:2222", "127.0.0.1:\uff12\uff12\uff12\uff12", "[]:22"):
            with pytest.raises(ServeError, match="expected HOST:PORT"):
                parse_listen(unreadable)
        for bad in ("2222", "127.0.0.1", "127.0.0.1:ssh", "127.0.0.1:70000", ":22", "[::1]"):
            with pytest.raises(ServeError):
                parse_listen(bad)


class TestCommandLine:
    def test_serve_refuses_a_directory_without_root_and_a_bad_address(self, run_tui, db_path, tmp_path):
        missing = run_tui("serve", "--listen", "127.0.0.1:0")
        assert missing.returncode == 1 and "run tui init first" in missing.stderr
        assert not db_path.exists()
        make_root(db_path).directory.close()
        bad = run_tui("serve", "--listen", "everywhere")
        assert bad.returncode == 1 and "HOST:PORT" in bad.stderr
        host_key = tmp_path / "hk"
        host_key.write_text("not a key")
        os.chmod(host_key, 0o600)
        unreadable = run_tui("serve", "--listen", "127.0.0.1:0", "--host-key", host_key)
        assert unreadable.returncode == 1 and "not an SSH private key" in unreadable.stderr

    def test_the_server_side_never_imports_textual(self):
        code = (
            "import sys, tui.cli, tui.serve, tui.cli.serve, tui.ssh_commands, tui.ssh_console; "
            "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert out.stdout.strip() == "[]"
        plain = subprocess.run(
            [sys.executable, "-c", "import sys, tui.cli; print('asyncssh' in sys.modules)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert plain.stdout.strip() == "False"  # other commands do not pay for the SSH server either


class TestOpenSshEntry:
    """``tui ssh-console`` as sshd's forced command runs it (no sshd needed to check the program's side)."""

    def test_authorized_keys_lines_force_the_console_as_each_active_user(self, tmp_path, run_tui):
        world = seed_world(tmp_path)
        result = run_tui("--db", world.db_path, "ssh-authorized-keys")
        assert result.returncode == 0, result
        lines = result.stdout.splitlines()
        assert len(lines) == 3  # root, alice, bob; carol is disabled, the stranger has no user
        for line, user in zip(lines, ("root", "alice", "bob"), strict=True):
            assert line.startswith('command="env TUI_SSH_USER=' + user + " ")
            assert line.endswith(world.keys[user].public.split(" ", 2)[1] + " " + user)
            assert ",restrict,pty ssh-ed25519 " in line
        # A --tui (or a path) with a line break would make a second line, a key with no forced command.
        # (A control character is refused in any argument before the command runs: exit 1.)
        for hostile, code, said in (
            ("/x\nssh-ed25519 AAAAC3Nza evil\n#", 1, "holds a control character"),
            ("/opt/tui\u202e", 2, "cannot hold line breaks"),
        ):
            refused = run_tui("--db", world.db_path, "ssh-authorized-keys", "--tui", hostile)
            assert refused.returncode == code and refused.stdout == "", refused
            assert said in refused.stderr and len(refused.stderr.splitlines()) == 1
        one = run_tui(
            "--db", world.db_path, "ssh-authorized-keys", "--fingerprint", world.keys["bob"].fingerprint
        )
        assert one.stdout.count("\n") == 1 and "TUI_SSH_USER=bob" in one.stdout
        # Empty, an option meant nothing: --fingerprint '' printed every key, --tui '' the default command.
        for option in ("--fingerprint", "--tui", "--user"):
            empty = run_tui("--db", world.db_path, "ssh-authorized-keys", option, "")
            assert empty.returncode == 2 and empty.stdout == "" and "is empty" in empty.stderr, empty
        # The forced command, as sshd would run it through the shell:
        forced = shlex.split(lines[2].split('"')[1])
        assert forced[0] == "env" and forced[1] == "TUI_SSH_USER=bob" and forced[-1] == "ssh-console"

    def test_the_forced_command_answers_as_the_named_user(self, tmp_path, run_tui):
        world = seed_world(tmp_path)

        def console(user: str | None, command: str | None, **extra: str):
            env = {"TUI_SSH_USER": user, "SSH_ORIGINAL_COMMAND": command, **extra}
            return run_tui("--db", world.db_path, "ssh-console", env=env, input="")

        who = console("alice", "whoami")
        assert who.returncode == 0 and json.loads(who.stdout)["user"] == "alice"
        assert console(None, "whoami").returncode == 1
        assert "disabled" in console("carol", "whoami").stderr
        assert console("nobody", "whoami").returncode == 1
        assert "not allowed" in console("alice", "rm -rf /").stderr
        assert "needs a terminal" in console("alice", None).stderr
        assert "login needs a terminal" in console("alice", "login").stderr
        # With ExposeAuthInfo, the key sshd accepted must be one of the user's keys in the directory.
        exposed = tmp_path / "auth-info"
        exposed.write_text(f"publickey {world.keys['bob'].public}\n")
        assert "not one of 'alice'" in console("alice", "whoami", SSH_USER_AUTH=str(exposed)).stderr
        assert console("bob", "whoami", SSH_USER_AUTH=str(exposed)).returncode == 0
        # Without it, the key a generated line was made for (TUI_SSH_KEY) must still be the user's: a key
        # removed in the directory stops working before authorized_keys is written again.
        bobs_key = world.keys["bob"].fingerprint
        line = run_tui("--db", world.db_path, "ssh-authorized-keys", "--fingerprint", bobs_key).stdout
        assert f"TUI_SSH_KEY={bobs_key} " in line
        assert console("bob", "whoami", TUI_SSH_KEY=bobs_key).returncode == 0
        assert "not one of 'alice'" in console("alice", "whoami", TUI_SSH_KEY=bobs_key).stderr
        with world.open(Actor("root", "test")) as directory:
            bob = directory.users.get_by_name("bob")
            [stored] = directory.ssh_keys.of_user(bob.id)
            directory.ssh_keys.remove(stored.id)
        removed = console("bob", "whoami", TUI_SSH_KEY=bobs_key)
        assert removed.returncode == 1 and "not one of 'bob'" in removed.stderr, removed

        args = "credentials --account prod --permission-set S3Reader"
        before = console("alice", args)
        assert before.returncode == 1 and before.stderr.strip() == "sign in first: ssh -t HOST login"
        with world.open(Actor("alice", "ssh")) as directory:
            signed = directory.sign_in.attempt("alice", ALICE_PASSWORD, world.code("alice"), client="ssh")
            directory.portal.issue(signed)
        first = console("alice", args)
        assert first.returncode == 0, first
        again = console("alice", args)
        assert json.loads(again.stdout)["AccessKeyId"] == json.loads(first.stdout)["AccessKeyId"]
        cached = list((tmp_path / "xdg-cache").rglob("*.json"))
        assert cached and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cached)
