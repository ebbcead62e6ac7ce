"""The OpenSSH alternative (docs/openssh.md): the site's own sshd, authorized_keys lines from
``tui ssh-authorized-keys`` forcing ``tui ssh-console`` with TUI_SSH_USER. Runs only where /usr/sbin/sshd
exists (``apt-get install openssh-server``); the sshd is private to the test: its own config, host key and
port on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    ALICE_PASSWORD,
    TUI,
    SshClient,
    World,
    login_over_ssh,
    make_key,
    needs_ssh,
    needs_tmux,
    serve_env_fixture,
    tmux_fixture,
    wait_until,
    world_fixture,
)

SSHD = Path("/usr/sbin/sshd")
pytestmark = [needs_ssh, pytest.mark.skipif(not SSHD.exists(), reason="no /usr/sbin/sshd (openssh-server)")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _safe_for_sshd(path: Path) -> bool:
    """sshd runs an AuthorizedKeysCommand only if it and every folder above it are owned by root (or the sshd
    user) and writable by nobody else."""
    for each in (path, *path.parents):
        info = each.stat()
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
            return False
    return True


@pytest.fixture
def keys_command() -> Iterator[list[str]]:
    """The command sshd may run as AuthorizedKeysCommand: tui itself if it is installed where sshd trusts it,
    else a one-line wrapper in a private folder of the home folder (a clone in /tmp, as CI's, is not: /tmp is
    writable by all). A wrapper is all sshd checks; what it runs is tui, as installed."""
    if _safe_for_sshd(Path(TUI[0])):
        yield list(TUI)
        return
    if not _safe_for_sshd(Path.home()):
        pytest.skip("sshd trusts neither where tui is installed nor the home folder for its keys command")
    folder = Path(tempfile.mkdtemp(prefix="tui-sshd-keys-", dir=Path.home()))
    try:
        wrapper = folder / "tui"
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(TUI)} "$@"\n')
        wrapper.chmod(0o755)
        yield [str(wrapper)]
    finally:
        shutil.rmtree(folder)


class Sshd(SshClient):
    def __init__(self, world: World, env: dict[str, str], *, keys_command: list[str] | None = None) -> None:
        folder = world.folder / "sshd"
        folder.mkdir()
        self.world = world
        self.port = _free_port()
        self.os_user = getpass.getuser()
        host_key = make_key(folder, "host")
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(host_key.public.split()[:2])}\n")
        self.authorized_keys = folder / "authorized_keys"
        if keys_command:  # sshd asks the directory for the key it is offered, at every sign-in
            command = shlex.join(
                [*keys_command, "--db", str(world.db_path), "ssh-authorized-keys", "--fingerprint"]
            )
            keys = [
                "AuthorizedKeysFile none",
                f"AuthorizedKeysCommand {command} %f",
                f"AuthorizedKeysCommandUser {getpass.getuser()}",
            ]
        else:
            self.refresh_keys(env)
            keys = [f"AuthorizedKeysFile {self.authorized_keys}"]
        config = folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key.path}",
                    f"PidFile {folder / 'sshd.pid'}",
                    *keys,
                    "StrictModes no",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "ExposeAuthInfo yes",
                    f"AllowUsers {self.os_user}",
                    "LogLevel ERROR",
                    "Subsystem sftp /bin/false",
                    # The service account's caches stay inside the test's folder.
                    f"SetEnv XDG_CACHE_HOME={world.folder / 'xdg-cache'} "
                    f"XDG_DATA_HOME={world.folder / 'xdg-data'}",
                ]
            )
            + "\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        self.log = folder / "sshd.log"
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._listening, 20, "sshd to listen")

    def refresh_keys(self, env: dict[str, str]) -> None:
        lines = subprocess.run(
            [*TUI, "--db", str(self.world.db_path), "ssh-authorized-keys"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout
        self.authorized_keys.write_text(lines)
        os.chmod(self.authorized_keys, 0o600)

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited: {self.log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def user(self) -> str:
        return self.os_user

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture
def sshd(world: World, serve_env: dict[str, str]) -> Iterator[Sshd]:
    running = Sshd(world, serve_env)
    try:
        yield running
    finally:
        running.stop()


def test_the_sites_own_sshd_runs_the_same_commands_as_tui_serve(world, sshd):
    account = sshd.os_user  # every directory user arrives as the one service account; the key says who
    who = sshd.ssh(account, world.keys["alice"], "whoami")
    assert who.returncode == 0, (who, sshd.log.read_text())
    assert json.loads(who.stdout)["user"] == "alice"
    assert json.loads(who.stdout)["key"] == world.keys["alice"].fingerprint
    assert sshd.ssh(account, world.keys["carol"], "whoami").returncode == 255  # disabled: no line for her
    assert sshd.ssh(account, world.keys["stranger"], "whoami").returncode == 255
    refused = sshd.ssh(account, world.keys["bob"], "id")
    assert refused.returncode == 1 and "not allowed" in refused.stderr

    args = ("credentials", "--account", "prod", "--permission-set", "S3Reader")
    before = sshd.ssh(account, world.keys["alice"], *args)
    assert before.returncode == 1 and before.stderr.strip() == "sign in first: ssh -t HOST login"
    output = login_over_ssh(sshd, account, world.keys["alice"], ALICE_PASSWORD, world.code("alice"))
    assert "with MFA" in output and ALICE_PASSWORD not in output
    after = sshd.ssh(account, world.keys["alice"], *args)
    assert after.returncode == 0, after
    assert json.loads(after.stdout)["AccessKeyId"].startswith("ASIA")


def test_a_key_removed_in_the_directory_stops_working_at_once(world, sshd):
    with world.open() as directory:
        (key,) = directory.ssh_keys.of_user(world.ids["bob"])
        directory.ssh_keys.remove(key.id)
    # authorized_keys still has bob's line, but sshd exposes the key it accepted and the console checks it.
    result = sshd.ssh(sshd.os_user, world.keys["bob"], "whoami")
    assert result.returncode == 1 and "not one of 'bob'" in result.stderr


@needs_tmux
def test_the_console_behind_sshd(world, sshd, tmux):
    tmux.start("bob", sshd.ssh_command_line(sshd.os_user, world.keys["bob"], tty="-t"), 90, 26)
    tmux.wait_for("bob", "My access")
    # The footer is drawn in the same frame or the next: wait for it rather than race it.
    wait_until(lambda: (s := tmux.screen("bob")) and "palette" in s[25], 20, "the console's footer at 90x26")
    assert len(tmux.screen("bob")) == 26
    tmux.resize("bob", 120, 30)
    wait_until(lambda: (s := tmux.screen("bob")) and "palette" in s[29], 20, "the console redrawn at 120x30")
    tmux.keys("bob", "C-q")
    assert tmux.wait_exit("bob") == 0


def test_with_authorized_keys_command_a_key_added_in_the_directory_works_at_once(
    world, serve_env, keys_command
):
    sshd = Sshd(world, serve_env, keys_command=keys_command)
    try:
        newcomer = make_key(world.folder, "alice-laptop")
        refused = sshd.ssh(sshd.os_user, newcomer, "whoami")
        assert refused.returncode == 255, (refused, sshd.log.read_text())
        with world.open() as directory:
            directory.ssh_keys.add(world.ids["alice"], newcomer.public)
        who = sshd.ssh(sshd.os_user, newcomer, "whoami")
        assert who.returncode == 0, (who, sshd.log.read_text())
        assert json.loads(who.stdout)["user"] == "alice"
        assert sshd.ssh(sshd.os_user, world.keys["carol"], "whoami").returncode == 255  # disabled
    finally:
        sshd.stop()
