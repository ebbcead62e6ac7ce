"""What the SSH tests (and bench/bench_ssh.py) share: real keys from ssh-keygen, a real ``tui serve`` on
127.0.0.1 (a free port), the real OpenSSH client, tmux as the terminal, and a seeded directory.

No tests here. Everything that waits has a deadline, so nothing hangs.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store.audit import Actor
from store.crypto import totp_code
from store.directory import Directory
from store.ssh_keys import parse_public_key

SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")
TMUX = shutil.which("tmux")
needs_ssh = pytest.mark.skipif(
    SSH is None or SSH_KEYGEN is None, reason="the OpenSSH client is not installed"
)
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")

ROOT_PASSWORD = "correct tiger staple 1987"
ALICE_PASSWORD = "wonderland rabbit hole 42"
SEED_ACTOR = Actor("test-admin", "test")
READ_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}'
)


def _tui_command() -> list[str]:
    script = Path(sys.executable).with_name("tui")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "tui"]


TUI = _tui_command()


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail the test (with ``what``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- keys
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keypair:
    path: Path
    public: str

    @property
    def fingerprint(self) -> str:
        return parse_public_key(self.public).fingerprint


def make_key(folder: Path, name: str) -> Keypair:
    path = folder / f"key-{name}"
    subprocess.run(
        [SSH_KEYGEN or "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
    )
    return Keypair(path, path.with_name(path.name + ".pub").read_text().strip())


# --- a seeded directory ------------------------------------------------------------------------------------


@dataclass
class World:
    """root (TOTP), alice (password + TOTP, prod/S3Reader), bob (no TOTP, prod/S3Reader), carol (disabled);
    each with an SSH key; ``stranger``: a key nobody has. Codes are for the real clock: the enrolments were
    made with a clock five minutes back, so no step of now is spent."""

    db_path: Path
    folder: Path
    secrets: dict[str, str]
    keys: dict[str, Keypair]
    ids: dict[str, int] = field(default_factory=dict)

    def code(self, user: str, at: datetime | None = None) -> str:
        return totp_code(self.secrets[user], at or datetime.now(UTC))

    def open(self, actor: Actor = SEED_ACTOR) -> Directory:
        return Directory.open(self.db_path, actor)

    def audit(self, action: str) -> list[sqlite3.Row]:
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM audit WHERE action = ? ORDER BY seq", (action,)).fetchall()


class _BackClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def seed_world(folder: Path, *, extra_admins: int = 0) -> World:
    """The directory of :class:`World` in ``folder`` (plus ``extra_admins`` users load1…N in the admin group,
    with keys and authenticators: administration needs MFA, so their consoles open after the TOTP step-up)."""
    from store.identity import initialise, new_root_enrolment

    db_path = folder / "directory.db"
    clock = _BackClock(datetime.now(UTC) - timedelta(minutes=5))
    directory = Directory.open(db_path, SEED_ACTOR, clock)
    keys: dict[str, Keypair] = {}
    secrets: dict[str, str] = {}
    ids: dict[str, int] = {}
    try:
        enrolment = new_root_enrolment()
        initialise(directory, ROOT_PASSWORD, enrolment, code=totp_code(enrolment.secret, clock()))
        secrets["root"] = enrolment.secret
        root = directory.users.root()
        assert root is not None
        ids["root"] = root.id
        for name in ("alice", "bob", "carol"):
            ids[name] = directory.users.create(name).id
        directory.credentials.set_password(ids["alice"], ALICE_PASSWORD)
        alice_totp = directory.credentials.begin_totp(ids["alice"])
        directory.credentials.confirm_totp(
            ids["alice"], alice_totp.secret, totp_code(alice_totp.secret, clock())
        )
        secrets["alice"] = alice_totp.secret
        prod = directory.accounts.create("prod")
        reader = directory.permission_sets.create(
            "S3Reader", session_duration="PT8H", inline_policy=READ_POLICY
        )
        for name in ("alice", "bob"):
            directory.assignments.create("user", ids[name], prod.id, reader.id)
        load_users = [f"load{i}" for i in range(1, extra_admins + 1)]
        if load_users:
            admins = directory.groups.create("Admins")
            directory.admins.set_admin_group(admins.id)
            for name in load_users:
                ids[name] = directory.users.create(name).id
                directory.groups.add_member(admins.id, ids[name])
                enrolment = directory.credentials.begin_totp(ids[name])
                directory.credentials.confirm_totp(
                    ids[name], enrolment.secret, totp_code(enrolment.secret, clock())
                )
                secrets[name] = enrolment.secret
        for name in ("root", "alice", "bob", "carol", *load_users, "stranger"):
            keys[name] = make_key(folder, name)
            if name != "stranger":
                directory.ssh_keys.add(ids[name], keys[name].public)
        carol = directory.users.get(ids["carol"])
        directory.users.disable(carol.id, carol.version)
    finally:
        directory.close()
    return World(db_path, folder, secrets, keys, ids)


# --- the server
# ----------------------------------------------------------------------------------------------


class SshClient:
    """The real OpenSSH client against ``self.port`` on 127.0.0.1, trusting only ``self.known_hosts``."""

    port: int
    known_hosts: Path

    def ssh_args(
        self, user: str, key: Keypair, *command: str, tty: str = "-T", log_level: str = "ERROR"
    ) -> list[str]:
        return [
            SSH or "ssh",
            "-F",
            "/dev/null",
            "-p",
            str(self.port),
            "-i",
            str(key.path),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=15",
            "-o",
            f"LogLevel={log_level}",
            tty,
            f"{user}@127.0.0.1",
            *command,
        ]

    def ssh_command_line(self, user: str, key: Keypair, *command: str, tty: str = "-T") -> str:
        return shlex.join(self.ssh_args(user, key, *command, tty=tty))

    def ssh(
        self,
        user: str,
        key: Keypair,
        *command: str,
        timeout: float = 60,
        input: bytes | None = None,
        log_level: str = "ERROR",
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            self.ssh_args(user, key, *command, log_level=log_level),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return subprocess.CompletedProcess(
            completed.args,
            completed.returncode,
            completed.stdout.decode(errors="replace"),
            completed.stderr.decode(errors="replace"),
        )


class Server(SshClient):
    """``tui serve --listen 127.0.0.1:0`` in a subprocess; its stderr goes to a file the tests can read."""

    def __init__(self, world: World, env: dict[str, str], *extra: str) -> None:
        self.world = world
        self.host_key = world.folder / "ssh_host_key"
        self.log = world.folder / "serve.log"
        self.known_hosts = world.folder / "known_hosts"
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                *TUI,
                "--db",
                str(world.db_path),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--host-key",
                str(self.host_key),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=env,
            cwd=world.folder,
            start_new_session=True,
        )
        line = self._first_line(timeout=30)
        if "listening on 127.0.0.1:" not in line:
            self.stop()
            raise AssertionError(f"tui serve did not start: {line!r}\n{self.log.read_text()}")
        self.port = int(line.split("listening on 127.0.0.1:")[1].split()[0])
        public = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        data = b""
        while b"\n" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")

    def children(self) -> list[int]:
        """The server's child processes (the consoles), from /proc."""
        found: list[int] = []
        task_dir = Path(f"/proc/{self.proc.pid}/task")
        for task in task_dir.glob("*"):
            try:
                found += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log_file.close()


def login_over_ssh(
    server: SshClient, user: str, key: Keypair, password: str, code: str, timeout: float = 60
) -> str:
    """``ssh -tt HOST login`` (a pty on the server, this end a pipe): answer the prompts as they come. Returns
    everything the session printed."""
    proc = subprocess.Popen(
        server.ssh_args(user, key, "login", tty="-tt"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    output = bytearray()
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        while True:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            output.extend(chunk)
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: b"Password: " in output, timeout, "the password prompt")
        proc.stdin.write(password.encode() + b"\r")
        proc.stdin.flush()
        if code:
            wait_until(lambda: b"Code: " in output, timeout, "the code prompt")
            proc.stdin.write(code.encode() + b"\r")
            proc.stdin.flush()
        proc.wait(timeout=timeout)
        done.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    return output.decode(errors="replace")


# --- tmux: a real terminal for the real ssh client
# ------------------------------------------------------------


class Tmux:
    """A private tmux server (its own socket, no user config), one session per terminal."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        # No status line (the window is the terminal), sizes set by us, dead panes kept to read their status.
        self.config.write_text(
            "set -g status off\nset -g remain-on-exit on\nset -g history-limit 100\nset -s escape-time 0\n"
        )
        self.env = {**env, "TERM": "xterm-256color"}
        self.sessions: list[str] = []

    def _run(self, *args: str, timeout: float = 15) -> str:
        completed = subprocess.run(
            [TMUX or "tmux", "-S", str(self.socket), "-f", str(self.config), *args],
            capture_output=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {completed.stderr.decode(errors='replace')}")
        return completed.stdout.decode(errors="replace")

    def _status_file(self, name: str) -> Path:
        return self.socket.with_name(f"{name}.status")

    def start(self, name: str, command: str, width: int, height: int) -> None:
        """Run ``command`` in a new terminal of ``width`` x ``height``. Its exit status is written to a file
        (more dependable than tmux's dead-pane bookkeeping when many panes end at once)."""
        status = shlex.quote(str(self._status_file(name)))
        self._run(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(width),
            "-y",
            str(height),
            f"{command}; echo $? > {status}.tmp && mv {status}.tmp {status}",
        )
        self.sessions.append(name)

    def screen(self, name: str) -> list[str]:
        return self._run("capture-pane", "-p", "-t", name).split("\n")[:-1]

    def text(self, name: str) -> str:
        return "\n".join(self.screen(name))

    def wait_for(self, name: str, text: str, timeout: float = 60, interval: float = 0.05) -> list[str]:
        def seen() -> list[str] | None:
            lines = self.screen(name)
            shown = "\n".join(lines)
            if text in shown:
                return lines
            if "Pane is dead" in shown or self._status_file(name).exists():  # ended: the text will never come
                raise AssertionError(f"the terminal {name} ended before showing {text!r}:\n{shown}")
            return None

        try:
            return wait_until(seen, timeout, f"{text!r} on the terminal {name}", interval=interval)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the terminal shows:\n{self.text(name)}") from None

    def keys(self, name: str, *keys: str) -> None:
        self._run("send-keys", "-t", name, *keys)

    def type(self, name: str, text: str) -> None:
        self._run("send-keys", "-t", name, "-l", text)

    def resize(self, name: str, width: int, height: int) -> None:
        self._run("resize-window", "-t", name, "-x", str(width), "-y", str(height))

    def size(self, name: str) -> tuple[int, int]:
        width, height = self._run("display-message", "-p", "-t", name, "#{pane_width} #{pane_height}").split()
        return int(width), int(height)

    def exit_status(self, name: str) -> int | None:
        """The command's exit status once it ended, else None."""
        try:
            return int(self._status_file(name).read_text())
        except (OSError, ValueError):
            return None

    def wait_exit(self, name: str, timeout: float = 30) -> int:
        return wait_until(
            lambda: (s := self.exit_status(name)) is not None and (s,),
            timeout,
            f"the terminal {name}'s command to end",
        )[0]

    def close(self) -> None:
        if self.socket.exists():
            subprocess.run(
                [TMUX or "tmux", "-S", str(self.socket), "kill-server"],
                capture_output=True,
                timeout=15,
                env=self.env,
                check=False,
            )


# --- fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return seed_world(tmp_path)


@pytest.fixture(name="serve_env")
def serve_env_fixture(tui_env: dict[str, str]) -> dict[str, str]:
    env = dict(tui_env)
    env.pop("TUI_DB", None)
    env.pop("NO_COLOR", None)  # the consoles draw as for a person
    return env


@pytest.fixture(name="server")
def server_fixture(world: World, serve_env: dict[str, str]) -> Iterator[Server]:
    running = Server(world, serve_env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(name="tmux")
def tmux_fixture(tmp_path: Path, serve_env: dict[str, str]) -> Iterator[Tmux]:
    # A short socket path: tmux sockets must fit in sun_path (108 bytes); tmp_path may be long.
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tmux-"))
    terminals = Tmux(folder, serve_env)
    try:
        yield terminals
    finally:
        terminals.close()
        shutil.rmtree(folder, ignore_errors=True)


# --- load: several consoles over SSH editing at once
# -----------------------------------------------------------


@dataclass
class LoadResult:
    sessions: int
    edits: int
    seconds: float  # from the first ssh started to the last console closed
    ready_seconds: float  # until every console showed its dashboard
    latencies: list[float]  # per edit: the key that opens the form → the row committed
    errors: list[str]
    groups_found: int
    audit_events: dict[str, int]
    audit_ok: bool


def step_up(tmux: Tmux, world: World, name: str, user: str, seconds: float = 60) -> None:
    """Pass the console's TOTP step-up in terminal ``name`` with ``user``'s current code (administration
    needs MFA: an admin's console opens only after it)."""
    tmux.wait_for(name, "authenticator app", seconds)
    tmux.type(name, world.code(user))
    tmux.keys(name, "Enter")


def _drive(
    tmux: Tmux,
    name: str,
    user: str,
    edits: int,
    world: World,
    latencies: list[float],
    ready: threading.Barrier,
) -> None:
    reader = sqlite3.connect(f"file:{world.db_path}?mode=ro", uri=True, timeout=10)
    try:
        step_up(tmux, world, name, user, 120)
        tmux.wait_for(name, "Recent activity", 120)  # the dashboard of an admin
        ready.wait(timeout=180)
        tmux.keys(name, "3")
        tmux.wait_for(name, "Groups  ·", 30)
        for j in range(1, edits + 1):
            group = f"load-{user}-{j:03d}"
            started = time.monotonic()
            tmux.keys(name, "n")
            tmux.wait_for(name, "New group", 30, interval=0.1)
            tmux.type(name, group)
            tmux.keys(name, "Enter")
            wait_until(
                lambda name=group: reader.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone(),
                30,
                f"{group} to be committed",
                interval=0.01,
            )
            latencies.append(time.monotonic() - started)
            wait_until(
                lambda: "New group" not in tmux.text(name), 30, f"the form of {group} to close", interval=0.1
            )
        tmux.keys(name, "C-q")
        try:
            status = tmux.wait_exit(name, 30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the terminal shows:\n{tmux.text(name)}") from None
        if status != 0:
            raise AssertionError(f"{name}'s ssh ended with status {status}")
    finally:
        reader.close()


def run_load(folder: Path, env: dict[str, str], *, sessions: int = 8, edits: int = 50) -> LoadResult:
    """``sessions`` real ssh clients, each in its own terminal, each driving its own console (an admin, after
    the TOTP step-up) to create ``edits`` groups through the New group form, all at once. Every
    edit waits for its row to be committed before the next (as a person would), and the result says what the
    directory holds afterwards."""
    import tempfile

    from store import audit

    world = seed_world(folder, extra_admins=sessions)
    server = Server(world, env)
    short = Path(tempfile.mkdtemp(prefix="tmux-"))
    tmux = Tmux(short, env)
    errors: list[str] = []
    latencies: list[float] = []
    users = [f"load{i}" for i in range(1, sessions + 1)]
    ready = threading.Barrier(sessions + 1)
    try:
        started = time.monotonic()
        for user in users:
            tmux.start(user, server.ssh_command_line(user, world.keys[user], tty="-t"), 100, 30)

        def run(user: str) -> None:
            try:
                _drive(tmux, user, user, edits, world, latencies, ready)
            except Exception as exc:  # noqa: BLE001 - collected and reported by the caller
                shown = ""
                with contextlib.suppress(Exception):
                    shown = tmux.text(user)
                errors.append(f"{user}: {exc}" + (f"\nits terminal shows:\n{shown}" if shown else ""))
                with contextlib.suppress(Exception):
                    ready.abort()

        threads = [threading.Thread(target=run, args=(user,), daemon=True) for user in users]
        for thread in threads:
            thread.start()
        try:
            ready.wait(timeout=180)
        except threading.BrokenBarrierError:
            pass
        ready_seconds = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=600)
            if thread.is_alive():
                errors.append("a driver did not finish in 10 minutes")
        seconds = time.monotonic() - started
        for user in users:
            shown = tmux.text(user) if tmux.socket.exists() else ""
            for bad in ("Traceback", "Conflict", "internal error", "stopped unexpectedly"):
                if bad in shown:
                    errors.append(f"{user}'s terminal shows {bad!r}")
    finally:
        tmux.close()
        shutil.rmtree(short, ignore_errors=True)
        server.stop()
    if "failed" in server.log.read_text():
        errors.append("the server log reports a failure")
    with world.open() as directory, directory.db.read() as conn:
        groups_found = conn.execute("SELECT count(*) FROM groups WHERE name LIKE 'load-load%'").fetchone()[0]
        events = dict(
            conn.execute(
                "SELECT actor, count(*) FROM audit WHERE action = 'group.create' "
                "AND source = 'ssh' GROUP BY actor"
            ).fetchall()
        )
        audit_ok = audit.verify(conn, directory.audit_key).ok
    return LoadResult(
        sessions, edits, seconds, ready_seconds, latencies, errors, groups_found, events, audit_ok
    )
