"""``tui serve`` with the real OpenSSH client, without a terminal: who may connect (keys, disabled users, the
rate limit, the audit of refusals), the allowlisted commands and their JSON, and ``ssh -t HOST login``."""

from __future__ import annotations

import json

from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    ALICE_PASSWORD,
    login_over_ssh,
    needs_ssh,
    serve_env_fixture,
    server_fixture,
    wait_until,
    world_fixture,
)

pytestmark = [needs_ssh]
DENIED = "Permission denied (publickey)"


class TestWhoMayConnect:
    def test_unknown_keys_other_users_keys_and_disabled_users_are_refused_and_audited(self, world, server):
        for user, key in (("alice", "stranger"), ("bob", "alice"), ("carol", "carol"), ("nobody", "alice")):
            result = server.ssh(user, world.keys[key], "whoami")
            assert result.returncode == 255 and DENIED in result.stderr, (user, key, result)
            assert result.stdout == ""
        refused = wait_until(lambda: len(r := world.audit("ssh.refused")) == 4 and r, 10, "four refusals")
        details = [json.loads(row["details"]) for row in refused]
        assert [row["target"] for row in refused] == ["user:alice", "user:bob", "user:carol", "user:nobody"]
        assert [d["attempts"][0]["reason"] for d in details] == [
            "unknown key",
            "key of another user",
            "user disabled",
            "key of another user",
        ]
        assert details[0]["fingerprint"] == world.keys["stranger"].fingerprint
        assert details[2]["fingerprint"] == world.keys["carol"].fingerprint
        assert all(d["remote"].startswith("127.0.0.1:") for d in details)
        assert world.audit("ssh.connect") == []

    def test_user_names_compare_canonically(self, world, server):
        result = server.ssh("ALICE", world.keys["alice"], "whoami")
        assert result.returncode == 0, result
        assert json.loads(result.stdout)["user"] == "alice"

    def test_root_signs_in_with_its_own_key(self, world, server):
        result = server.ssh("root", world.keys["root"], "whoami")
        assert json.loads(result.stdout) | {"key": None} == {
            "user": "root",
            "root": True,
            # Administration needs MFA: by key alone, not even root administers (admin_group says it could).
            "admin": False,
            "admin_group": True,
            "key": None,
            "mfa": False,
            "signed_in_until": None,
        }

    def test_ten_refused_keys_block_the_address_even_for_the_right_key(self, world, server):
        for _ in range(10):
            assert server.ssh("alice", world.keys["stranger"], "whoami").returncode == 255
        blocked = server.ssh("alice", world.keys["alice"], "whoami", log_level="INFO")  # INFO shows banners
        assert blocked.returncode == 255 and DENIED in blocked.stderr
        assert "too many failed sign-ins from 127.0.0.1" in blocked.stderr
        refused = wait_until(lambda: len(r := world.audit("ssh.refused")) == 10 and r, 10, "ten refusals")
        assert "address now blocked" in refused[-1]["details"]
        assert world.audit("ssh.connect") == []
        assert "127.0.0.1 blocked" in server.log.read_text()

    def test_a_connection_is_audited_when_it_begins_and_ends(self, world, server):
        assert server.ssh("bob", world.keys["bob"], "whoami").returncode == 0
        ended = wait_until(lambda: world.audit("ssh.disconnect"), 10, "the disconnect event")
        began = world.audit("ssh.connect")
        for row in (began[0], ended[0]):
            details = json.loads(row["details"])
            assert (row["actor"], row["source"], row["target"]) == ("bob", "ssh", "user:bob")
            assert details["fingerprint"] == world.keys["bob"].fingerprint
            assert details["remote"].startswith("127.0.0.1:")
        assert "OpenSSH" in json.loads(began[0]["details"])["client"]


class TestWithoutATerminal:
    def test_whoami_and_access_answer_in_json_as_the_keys_user(self, world, server, run_tui):
        who = server.ssh("alice", world.keys["alice"], "whoami")
        assert who.returncode == 0 and who.stderr == ""
        assert json.loads(who.stdout) == {
            "user": "alice",
            "root": False,
            "admin": False,
            "admin_group": False,
            "key": world.keys["alice"].fingerprint,
            "mfa": False,
            "signed_in_until": None,
        }
        access = server.ssh("alice", world.keys["alice"], "access")
        assert access.returncode == 0
        local = run_tui("--db", world.db_path, "access", "--user", "alice", "--json")
        assert json.loads(access.stdout) == local.json()
        one = server.ssh("alice", world.keys["alice"], "access", "--account", "prod")
        assert json.loads(one.stdout)["account"] == "prod"
        missing = server.ssh("alice", world.keys["alice"], "access", "--account", "nowhere")
        assert missing.returncode == 1 and "nowhere" in missing.stderr and missing.stdout == ""

    def test_everything_else_is_refused(self, world, server):
        for command in (
            (),
            ("ls",),
            ("sh", "-c", "id"),
            ("login",),
            ("console",),
            ("whoami", "--help"),
            ("credentials",),
            ("'unbalanced",),
        ):
            result = server.ssh("bob", world.keys["bob"], *command)
            expected = 2 if command in (("whoami", "--help"), ("credentials",), ("'unbalanced",)) else 1
            assert result.returncode == expected, (command, result)
            assert result.stdout == "" and result.stderr.startswith("tui: "), (command, result)
        assert "needs a terminal" in server.ssh("bob", world.keys["bob"]).stderr
        assert (
            "login needs a terminal: ssh -t HOST login"
            in server.ssh("bob", world.keys["bob"], "login").stderr
        )

    def test_credentials_need_a_password_and_totp_sign_in_first(self, world, server):
        args = ("credentials", "--account", "prod", "--permission-set", "S3Reader")
        before = server.ssh("alice", world.keys["alice"], *args)
        assert before.returncode == 1 and before.stdout == ""
        assert before.stderr.strip() == "sign in first: ssh -t HOST login"

        failed = login_over_ssh(
            server, "alice", world.keys["alice"], "not the password at all", world.code("alice")
        )
        assert "Sign-in failed" in failed
        assert server.ssh("alice", world.keys["alice"], *args).returncode == 1

        output = login_over_ssh(server, "alice", world.keys["alice"], ALICE_PASSWORD, world.code("alice"))
        assert "signed in as alice with MFA until" in output
        assert ALICE_PASSWORD not in output  # not echoed
        first = server.ssh("alice", world.keys["alice"], *args)
        assert first.returncode == 0, first
        issued = json.loads(first.stdout)
        assert issued["Version"] == 1 and issued["AccessKeyId"].startswith("ASIA")
        with world.open() as directory:
            check = directory.sessions.verify(
                issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]
            )
            assert check.valid and check.session.user_id == world.ids["alice"] and check.session.mfa
        second = server.ssh("alice", world.keys["alice"], *args)
        assert second.returncode == 0, second
        again = json.loads(second.stdout)
        assert again["AccessKeyId"] == issued["AccessKeyId"]  # the server's cache, like the AWS CLI's
        who = json.loads(server.ssh("alice", world.keys["alice"], "whoami").stdout)
        assert who["mfa"] is True and who["signed_in_until"]

        # bob has no authenticator: his key alone never yields credentials.
        refused = server.ssh("bob", world.keys["bob"], *args)
        assert refused.returncode == 1 and "sign in first" in refused.stderr
        log = server.log.read_text()
        assert ALICE_PASSWORD not in log and issued["SecretAccessKey"] not in log and "Traceback" not in log

    def test_credentials_stop_when_the_sign_in_is_revoked(self, world, server):
        login_over_ssh(server, "alice", world.keys["alice"], ALICE_PASSWORD, world.code("alice"))
        args = ("credentials", "--account", "prod", "--permission-set", "S3Reader")
        assert server.ssh("alice", world.keys["alice"], *args).returncode == 0
        with world.open() as directory:  # an administrator resets alice's password: her sign-ins end
            directory.credentials.set_password(world.ids["alice"], "a brand new passphrase 7")
        after = server.ssh("alice", world.keys["alice"], *args)
        assert after.returncode == 1 and "sign in first" in after.stderr


class TestOneConnectionManySessions:
    def test_a_key_removed_while_the_connection_stays_open_opens_nothing_more(self, world, server, tmp_path):
        """The key is checked for each command a connection asks for, not only when it connects: OpenSSH's
        ControlMaster keeps one connection open and runs every later `ssh` through it."""
        import subprocess

        socket = tmp_path / "control"

        def through_master(*options: str, command: tuple[str, ...] = ()) -> list[str]:
            args = server.ssh_args("bob", world.keys["bob"], *command)
            at = len(args) - len(command) - 1  # the destination: options go before it
            args[at:at] = ["-o", f"ControlPath={socket}", *options]
            return args

        master = subprocess.run(
            through_master("-o", "ControlMaster=yes", "-N", "-f"),
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert master.returncode == 0 and socket.exists(), master
        try:

            def whoami() -> subprocess.CompletedProcess[str]:
                args = through_master("-o", "ControlMaster=no", command=("whoami",))
                return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)

            first = whoami()
            assert first.returncode == 0 and json.loads(first.stdout)["user"] == "bob", first
            with world.open() as directory:  # an administrator removes bob's key; the connection stays open
                for key in directory.ssh_keys.of_user(world.ids["bob"]):
                    directory.ssh_keys.remove(key.id)
            after = whoami()
            assert after.returncode == 1 and after.stdout == "", after
            assert "tui: refused: its key was removed since this connection began" in after.stderr
            assert len(world.audit("ssh.connect")) == 1  # both commands went through the one connection
        finally:
            subprocess.run(through_master("-O", "exit"), capture_output=True, timeout=30, check=False)
