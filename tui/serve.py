"""``tui serve``: the shared console over SSH (asyncssh), and the few commands a laptop runs without a
terminal.

What one connection goes through:

1. **Public key only.** The SSH user name is a directory user name (compared canonically); the key must be one
   of that user's SSH keys (``directory.ssh_keys``), the user active. Root may have keys too (it then always
   steps up with TOTP). No password or keyboard-interactive authentication is offered.
2. **Failures are rate limited per source address** (:class:`FailureLimiter`, in memory): 10 refused keys in a
   minute block the address for 5 minutes; a blocked address is told so in the authentication banner and every
   key is refused meanwhile, the right one too. One connection may try at most 6 keys (as OpenSSH's
   ``MaxAuthTries``). Refused connections are audited once each (``ssh.refused``, every fingerprint tried and
   why), and while an address is blocked its further connections are not audited (so a flood cannot fill the
   log).
3. **Audited**: ``ssh.connect`` and ``ssh.disconnect`` (remote address and port, key fingerprint, and on
   disconnect the reason and duration), written with ``store.audit.record`` in a ``Directory.change`` as
   ``Actor(user, "ssh")``.
4. **A session with a pty** starts ONE child process per connection on its own pty: ``python -m tui
   ssh-console`` (:mod:`tui.ssh_console`), which takes the pty as its controlling terminal (``setsid`` +
   ``TIOCSCTTY``) so that ``TIOCSWINSZ`` — set from the client's size at start and on every window change —
   delivers ``SIGWINCH``. Its environment has ``TERM`` from the client and ``COLORTERM=truecolor``, never
   ``COLUMNS``/``LINES``. Its identity is a portal sign-in the server issues for the key's user
   (``client="ssh"``, ``method="publickey"``, ``mfa=False``); the token goes through an inherited pipe that
   only that child holds, never argv or the environment. The child asks for a TOTP step-up when the user has
   an authenticator (root always) and then runs the console; ``ssh -t HOST login`` runs the password + TOTP
   prompt instead. When the child ends, its exit status is the session's and the connection is closed; when
   the client goes away, the child's process group is killed (SIGHUP, then SIGKILL). A child that crashes
   takes only its own connection with it.
5. **Without a pty**, only ``whoami``, ``access`` and ``credentials`` are answered (:mod:`tui.ssh_commands`),
   in this process, as the key's user, in JSON. Anything else — a shell included — is refused with exit 1.
   **Consoles are capped** (:mod:`store.console_limits`: 3 per user and 24 in all unless the directory's
   settings or ``--max-consoles``/``--max-consoles-per-user`` say otherwise): one more gets one line saying
   which limit, the connection closes, and the refusal is audited (``ssh.console_refused``). Commands without
   a pty are not consoles and are not capped.
6. **Idle timeout**: a connection without input for 15 minutes (``--idle-timeout``) is closed.

This module never imports textual: the console runs only in the children.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import re
import signal
import stat
import struct
import sys
import termios
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from store import audit
from store.audit import Actor
from store.console_limits import ConsoleLimits, console_limits
from store.db import failure_kind
from store.directory import Directory
from store.errors import StoreError
from store.files import private_folder, write_private
from store.names import canonical, quoted
from store.rights import Rule
from tui import ssh_commands
from tui.listen import host_and_port
from tui.literal import visible

SERVER_ACTOR = Actor("tui-serve", "ssh")
IDLE_TIMEOUT = 15 * 60.0
LOGIN_TIMEOUT = 60.0
FAILURE_LIMIT = 10  # refused keys per address …
FAILURE_WINDOW = 60.0  # … within this many seconds …
BLOCK_SECONDS = 300.0  # … block that address this long
MAX_AUTH_TRIES = 6  # keys one connection may try
KILL_GRACE = 2.0  # SIGHUP, then SIGKILL after this long
CLOSE_AFTER_CONSOLE = 2.0  # the client normally closes itself when the console's channel closes
# What a console that died without cleaning up (killed, crashed) may have left on the client's
# terminal: the alternate screen, mouse and focus reporting, bracketed paste, the kitty keyboard
# protocol, a hidden cursor.
TERMINAL_RESET = (
    b"\x1b[0m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l\x1b[?2004l"
    b"\x1b[<u\x1b[?1049l\x1b[?25h"
)
_TERM_OK = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_MAX_PENDING_INPUT = 256 * 1024


class ServeError(StoreError):
    """The server cannot start: the message says why (host key, address)."""


# --- host key and listen address ---------------------------------------------------------------------------


def host_key_beside(db_path: str | os.PathLike[str]) -> Path:
    """``<database>.ssh_host_key``: where the host key lives unless ``--host-key`` says otherwise."""
    path = Path(db_path)
    return path.with_name(path.name + ".ssh_host_key")


def load_or_create_host_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    """The host key at ``path``; on first run a new ed25519 key written 0600 (and its ``.pub`` beside it).
    A key file others can read is refused, as sshd refuses one."""
    if path.exists() or path.is_symlink():
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ServeError(f"{path} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ServeError(
                f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 {path}"
            )
        try:
            return asyncssh.read_private_key(str(path)), False
        except (asyncssh.KeyImportError, ValueError):
            raise ServeError(f"{path} is not an SSH private key") from None
    key = asyncssh.generate_private_key("ssh-ed25519", comment="tui serve host key")
    private_folder(path.parent)
    write_private(path, key.export_private_key())
    write_private(path.with_name(path.name + ".pub"), key.export_public_key())
    return key, True


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → (host, port). Port 0 picks a free port (printed at start)."""
    if (found := host_and_port(text)) is None:
        raise ServeError(f"--listen {quoted(text)}: expected HOST:PORT, e.g. 127.0.0.1:2222")
    return found


# --- the rate limit on failed authentications --------------------------------------------------------------


class FailureLimiter:
    """Refused keys per source address: ``limit`` within ``window`` seconds block the address for ``block``
    seconds. In memory (a restart forgets), bounded: addresses with nothing recent are dropped."""

    def __init__(
        self,
        limit: int = FAILURE_LIMIT,
        window: float = FAILURE_WINDOW,
        block: float = BLOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.block, self.clock = limit, window, block, clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: it may now)."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._blocked_until[address]
            return 0.0
        return left

    def failed(self, address: str) -> bool:
        """Count one refused key from ``address``; True when this one starts a block."""
        now = self.clock()
        recent = self._failures.setdefault(address, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(self._failures) > 10_000:
            self._prune(now)
        if len(recent) >= self.limit and not self.blocked_for(address):
            self._blocked_until[address] = now + self.block
            recent.clear()
            return True
        return False

    def _prune(self, now: float) -> None:
        for address in [
            a for a, times in self._failures.items() if not times or times[-1] <= now - self.window
        ]:
            del self._failures[address]


# --- the server --------------------------------------------------------------------------------------------


@dataclass
class ServeOptions:
    db_path: Path
    key_path: Path
    host: str = "127.0.0.1"
    port: int = 2222
    host_key_path: Path | None = None
    idle_timeout: float = IDLE_TIMEOUT
    login_timeout: float = LOGIN_TIMEOUT
    max_consoles: int | None = None  # None: the directory's setting (store.console_limits)
    max_consoles_per_user: int | None = None


def _say(message: str) -> None:
    """One line for the operator on stderr (names made printable; never a secret)."""
    print(f"tui serve: {message}", file=sys.stderr, flush=True)


class TuiSshServer:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        # The server's own view: key look-ups at authentication and the audit of refused attempts.
        self.directory = Directory.open(options.db_path, SERVER_ACTOR, key_path=options.key_path)
        self.limiter = FailureLimiter()
        self.credentials = ssh_commands.MemoryCredentialCache()
        self.connections: set[_Connection] = set()
        self.consoles: set[_Session] = set()  # sessions running a console (or login) child now
        self.tasks: set[asyncio.Task[Any]] = set()
        self.listener: asyncssh.SSHAcceptor | None = None
        self.host_key: asyncssh.SSHKey | None = None
        self.port = options.port

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task the server waits for at shutdown (audit writes, child clean-up)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def start(self) -> None:
        host_key_path = self.options.host_key_path or host_key_beside(self.options.db_path)
        self.host_key, created = load_or_create_host_key(host_key_path)
        if created:
            _say(f"created host key {host_key_path} (0600)")
        try:
            self.listener = await asyncssh.create_server(
                lambda: _Connection(self),
                self.options.host,
                self.options.port,
                server_host_keys=[self.host_key],
                encoding=None,
                line_editor=False,
                login_timeout=self.options.login_timeout,
                keepalive_interval=60,
                keepalive_count_max=3,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                sftp_factory=None,
                allow_pty=True,
            )
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {self.options.host}:{self.options.port}: {exc.strerror or exc}"
            ) from None
        self.port = self.listener.get_port()
        print(
            f"tui serve: listening on {self.options.host}:{self.port} "
            f"(host key {self.host_key.get_fingerprint('sha256')})",
            flush=True,
        )

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for connection in list(self.connections):
            connection.end("server stopped")
        deadline = time.monotonic() + 5
        while (self.tasks or self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.directory.close()

    def console_limits(self, directory: Directory) -> ConsoleLimits:
        """The caps in force: the directory's settings (read again for every console, so a change applies at
        once), with this run's flags winning. Worker thread."""
        stored = console_limits(directory)
        return ConsoleLimits(
            self.options.max_consoles or stored.total, self.options.max_consoles_per_user or stored.per_user
        )

    # -- authentication look-up (worker thread) --

    def check_key(self, user_name: str, fingerprint: str) -> tuple[str, tuple[int, str] | None]:
        """("", (user id, name)) when the key is one of ``user_name``'s and the user is
        active; else why not."""
        stored = self.directory.ssh_keys.owner_of(fingerprint)
        if stored is None:
            return "unknown key", None
        if canonical(user_name.strip()) != canonical(stored.user_name):
            return "key of another user", None
        user = self.directory.users.get(stored.user_id)
        if user.status != "active":
            return "user disabled", None
        return "", (user.id, user.user_name)

    def audit(
        self,
        actor: Actor,
        action: str,
        target: str,
        extra: dict[str, Any],
        directory: Directory | None = None,
    ) -> None:
        directory = directory or self.directory
        # Connection events are authentication's record, whoever the directory acts as.
        with directory.change(Rule.AUTHENTICATION) as conn:
            audit.record(
                conn,
                at=directory.now_text(),
                actor=actor,
                action=action,
                target=target,
                extra=extra,
                key=directory.audit_key,
            )


class _Connection(asyncssh.SSHServer):
    """One SSH connection: authentication, the audit of its life, idle timeout, its sessions."""

    def __init__(self, server: TuiSshServer) -> None:
        self.server = server
        self.conn: asyncssh.SSHServerConnection | None = None
        self.address, self.remote_port = "?", 0
        self.asked_for: str | None = None
        self.refusals: list[dict[str, str]] = []
        self.failures = 0
        self.blocked = False
        self.blocked_at_start = False
        self.accepted: tuple[int, str, str] | None = None  # user id, user name, fingerprint
        self.authenticated = False
        self.directory: Directory | None = None
        self.ready: asyncio.Future[bool] | None = None
        self.sessions: set[_Session] = set()
        self.has_console = False
        self.started = time.monotonic()
        self.last_input = time.monotonic()
        self.end_reason: str | None = None
        self.idle_notice = ""
        self.idle_task: asyncio.Task[Any] | None = None

    @property
    def remote(self) -> str:
        return (
            f"[{self.address}]:{self.remote_port}"
            if ":" in self.address
            else f"{self.address}:{self.remote_port}"
        )

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.address, self.remote_port = str(peer[0]), int(peer[1])
        self.server.connections.add(self)
        if self.server.limiter.blocked_for(self.address):
            self.blocked = self.blocked_at_start = True

    def begin_auth(self, username: str) -> bool:
        self.asked_for = username
        self.accepted = None
        left = self.server.limiter.blocked_for(self.address)
        if left and self.conn is not None:
            self.blocked = True
            self.conn.send_auth_banner(
                f"tui: too many failed sign-ins from {self.address}: try again in "
                f"{math.ceil(left / 60)} minute(s).\r\n"
            )
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        if self.accepted is not None and self.accepted[2] == fingerprint:
            return True  # the same key again, now signed: asyncssh checks the signature itself
        if self.blocked or self.server.limiter.blocked_for(self.address):
            self.blocked = True
            self._refused(fingerprint, "address blocked after too many failures", counts=False)
            return False
        try:
            reason, user = await asyncio.to_thread(self.server.check_key, username, fingerprint)
        except StoreError:
            reason, user = "directory unavailable", None
        if user is not None:
            self.accepted = (user[0], user[1], fingerprint)
            return True
        self._refused(fingerprint, reason)
        return False

    def _refused(self, fingerprint: str, reason: str, *, counts: bool = True) -> None:
        if len(self.refusals) < MAX_AUTH_TRIES * 2:
            self.refusals.append({"fingerprint": fingerprint, "reason": reason})
        if not counts:
            return
        self.failures += 1
        if self.server.limiter.failed(self.address):
            self.blocked = True
            self.refusals[-1]["reason"] += "; address now blocked"
            _say(
                f"{self.address} blocked for {int(self.server.limiter.block)} s after "
                f"{self.server.limiter.limit} refused keys"
            )
        if self.failures >= MAX_AUTH_TRIES and self.conn is not None:
            conn = self.conn
            asyncio.get_running_loop().call_soon(
                lambda: conn.disconnect(
                    asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE, "too many authentication failures"
                )
            )

    def auth_completed(self) -> None:
        self.authenticated = True
        self.ready = asyncio.ensure_future(self._connected())
        self.idle_task = asyncio.ensure_future(self._watch_idle())

    async def _connected(self) -> bool:
        assert self.accepted is not None
        user_id, user_name, fingerprint = self.accepted
        actor = Actor(user_name, "ssh")
        client = visible(str(self.conn.get_extra_info("client_version") or ""))[:80] if self.conn else ""
        options = self.server.options

        def open_and_audit() -> Directory:
            directory = Directory.open(options.db_path, actor, key_path=options.key_path)
            try:
                directory.act_as(user_id, actor)
                self.server.audit(
                    actor,
                    "ssh.connect",
                    f"user:{user_name}",
                    {"remote": self.remote, "fingerprint": fingerprint, "client": client},
                    directory,
                )
            except BaseException:
                directory.close()
                raise
            return directory

        try:
            self.directory = await asyncio.to_thread(open_and_audit)
        except Exception as exc:  # noqa: BLE001 - the directory is unreadable or busy: refuse the session
            _say(f"cannot record the connection of {visible(user_name)} ({failure_kind(exc)}); closing it")
            self.end("directory unavailable")
            return False
        _say(f"{visible(user_name)} connected from {self.remote} ({fingerprint})")
        return True

    async def _watch_idle(self) -> None:
        idle = self.server.options.idle_timeout
        while self.end_reason is None:
            left = idle - (time.monotonic() - self.last_input)
            if left <= 0:
                minutes = idle / 60
                said = f"{minutes:g} minute(s)" if minutes >= 1 else f"{idle:g} seconds"
                self.end_reason = "idle"
                self.idle_notice = f"tui: closed after {said} without input."
                consoles = [s for s in self.sessions if s.proc is not None and s.proc.returncode is None]
                for session in consoles:
                    session.kill_child()  # its session says why once the console is gone (and stops drawing)
                if consoles:
                    asyncio.get_running_loop().call_later(KILL_GRACE + 3, self.end, "idle")  # in any case
                else:
                    for session in list(self.sessions):
                        session.notice(self.idle_notice)
                    asyncio.get_running_loop().call_later(0.5, self.end, "idle")  # the notice first
                return
            await asyncio.sleep(min(left, 30.0) + 0.05)

    def touch(self) -> None:
        self.last_input = time.monotonic()

    def session_requested(self) -> _Session:
        return _Session(self)

    def end(self, reason: str) -> None:
        """Close the connection (once); its sessions' children are killed in connection_lost."""
        if self.end_reason is None:
            self.end_reason = reason
        if self.conn is not None:
            self.conn.close()

    def console_ended(self, reason: str = "console ended") -> None:
        """The console (or login) child is done: the connection is done too. The client closes it itself when
        the channel closes; a client that keeps it open (connection sharing) is closed shortly after."""
        if self.end_reason is None:
            self.end_reason = reason
        asyncio.get_running_loop().call_later(CLOSE_AFTER_CONSOLE, self.end, reason)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        for session in list(self.sessions):
            session.kill_child()
        if self.idle_task is not None:
            self.idle_task.cancel()
        reason = self.end_reason or ("client closed" if exc is None else "connection lost")
        self.server.spawn(self._record_end(reason))

    async def _record_end(self, reason: str) -> None:
        seconds = round(time.monotonic() - self.started, 1)
        try:
            if self.authenticated and self.accepted is not None:
                if self.ready is not None:
                    with contextlib.suppress(Exception):
                        await self.ready
                _, user_name, fingerprint = self.accepted
                if self.directory is not None:
                    await asyncio.to_thread(
                        self.server.audit,
                        Actor(user_name, "ssh"),
                        "ssh.disconnect",
                        f"user:{user_name}",
                        {
                            "remote": self.remote,
                            "fingerprint": fingerprint,
                            "reason": reason,
                            "seconds": seconds,
                        },
                        self.directory,
                    )
                    _say(f"{visible(user_name)} disconnected ({reason})")
            elif self.refusals and not self.blocked_at_start:
                name = visible((self.asked_for or "").strip()[:128])  # typed by anyone: stored escaped
                await asyncio.to_thread(
                    self.server.audit,
                    SERVER_ACTOR,
                    "ssh.refused",
                    f"user:{name}",
                    {
                        "remote": self.remote,
                        "fingerprint": self.refusals[-1]["fingerprint"],
                        "attempts": self.refusals,
                    },
                )
                _say(f"refused {visible(name)!s} from {self.remote}: {self.refusals[-1]['reason']}")
        except Exception as exc:  # noqa: BLE001 - one line for the operator; the server keeps serving
            _say(f"could not audit the end of a connection from {self.remote} ({failure_kind(exc)})")
        finally:
            if self.directory is not None:
                # Wait for the sessions' own worker threads before closing their directory.
                for session in list(self.sessions):
                    await session.finished()
                self.directory.close()
                self.directory = None


# --- one session (channel) ---------------------------------------------------------------------------------


def _set_size(fd: int, columns: int, rows: int, width_px: int = 0, height_px: int = 0) -> None:
    columns = max(1, min(int(columns or 80), 10_000))
    rows = max(1, min(int(rows or 24), 10_000))
    fcntl.ioctl(
        fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, width_px & 0xFFFF, height_px & 0xFFFF)
    )


def child_environment(term: str | None) -> dict[str, str]:
    """The console child's environment: the server's, without anything about terminal size or another
    identity, with TERM from the client (when it looks like a terminal name) and true colour."""
    dropped = {
        "COLUMNS",
        "LINES",
        "TERM",
        "COLORTERM",
        "TUI_SSH_USER",
        "TUI_SSH_KEY",
        "SSH_ORIGINAL_COMMAND",
        "TUI_DB",
        "TUI_KEY",
    }
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("SSH_")}
    env["TERM"] = term if term and _TERM_OK.fullmatch(term) else "xterm-256color"
    env["COLORTERM"] = "truecolor"
    env.setdefault("LANG", "C.UTF-8")
    return env


class _Session(asyncssh.SSHServerSession[bytes]):
    def __init__(self, owner: _Connection) -> None:
        self.owner = owner
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.term: str | None = None
        self.size: tuple[int, int, int, int] = (80, 24, 0, 0)
        self.command: str | None = None
        self.master: int | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.output_done: asyncio.Future[None] | None = None
        self.pending = bytearray()
        self.reading = False
        self.task: asyncio.Task[Any] | None = None
        owner.sessions.add(self)

    # -- asyncssh callbacks --

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any) -> bool:
        self.term = term_type or "xterm-256color"
        self.size = term_size
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        self.task = self.owner.server.spawn(self._run())

    def data_received(self, data: bytes, datatype: Any) -> None:
        self.owner.touch()
        if self.master is not None:
            self.pending += data
            self._flush_input()

    def eof_received(self) -> bool:
        return True  # the console decides when it ends, not the client's end of input

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self.size = (width, height, pixwidth, pixheight)
        if self.master is not None:
            with contextlib.suppress(OSError):
                _set_size(self.master, width, height, pixwidth, pixheight)  # the kernel sends SIGWINCH

    def pause_writing(self) -> None:
        self._stop_reading()

    def resume_writing(self) -> None:
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.kill_child()

    # -- what the session runs --

    async def _run(self) -> None:
        chan = self.chan
        assert chan is not None
        try:
            if self.owner.ready is None or not await self.owner.ready:
                chan.exit(1)
                return
            if not await self._key_still_good():
                return
            words = ssh_commands.split_command(self.command) if self.command is not None else []
            if self.term is None:
                await self._without_pty(words)
                return
            if words is None or (words and words[0] in ssh_commands.ALLOWED):
                await self._without_pty(words, crlf=True)
                return
            if words not in ([], ["console"], ["login"]):
                self._reply(
                    ssh_commands.with_crlf(ssh_commands.Reply(1, stderr=ssh_commands.refusal(words[0])))
                )
                return
            if self.owner.has_console:
                self._reply(ssh_commands.Reply(1, stderr="tui: one console per connection\r\n"))
                return
            if not await self._console_allowed():
                return
            self.owner.has_console = True
            try:
                await self._console(login=words == ["login"])
            finally:
                self.owner.server.consoles.discard(self)
        except Exception as exc:  # noqa: BLE001 - one session fails, the server keeps serving
            _say(f"a session of {self.owner.remote} failed ({failure_kind(exc)})")
            if os.environ.get("TUI_DEBUG"):
                import traceback

                traceback.print_exc()
            with contextlib.suppress(Exception):
                chan.exit(1)

    async def _key_still_good(self) -> bool:
        """The key this connection signed in with is still its user's, and the user active: checked again for
        each command and console the connection asks for (a key removed or a user disabled while the
        connection stays open must not keep opening sessions)."""
        accepted = self.owner.accepted
        assert accepted is not None
        reason, _ = await asyncio.to_thread(self.owner.server.check_key, accepted[1], accepted[2])
        if not reason:
            return True
        why = {"unknown key": "its key was removed", "user disabled": "the user was disabled"}.get(
            reason, reason
        )
        reply = ssh_commands.Reply(1, stderr=f"tui: refused: {why} since this connection began\n")
        self._reply(ssh_commands.with_crlf(reply) if self.term is not None else reply)
        return False

    async def _console_allowed(self) -> bool:
        """Take a console slot, or refuse (one line to the client, the connection closed, audited) when the
        user or the server is at its cap."""
        server, directory, accepted = self.owner.server, self.owner.directory, self.owner.accepted
        assert directory is not None and accepted is not None
        limits = await asyncio.to_thread(server.console_limits, directory)
        # No await between counting and taking the slot: two connections cannot both take the last one.
        mine = sum(1 for session in server.consoles if (session.owner.accepted or (None,))[0] == accepted[0])
        if mine < limits.per_user and len(server.consoles) < limits.total:
            server.consoles.add(self)
            return True
        user_name = visible(accepted[1])
        if mine >= limits.per_user:
            which, count, limit = "per user", mine, limits.per_user
            consoles = "console" if mine == 1 else "consoles"
            message = (
                f"{user_name} already has {mine} {consoles} open on this server (the limit is "
                f"{limits.per_user}); close one first"
            )
        else:
            which, count, limit = "server", len(server.consoles), limits.total
            message = (
                f"this server already has {count} consoles open (its limit is {limits.total}); "
                "try again later"
            )
        self._reply(ssh_commands.with_crlf(ssh_commands.Reply(1, stderr=f"tui: {message}\n")))
        self.owner.console_ended("console limit")
        _say(f"refused a console to {user_name} from {self.owner.remote}: {which} limit of {limit} reached")
        await asyncio.to_thread(
            server.audit,
            Actor(accepted[1], "ssh"),
            "ssh.console_refused",
            f"user:{accepted[1]}",
            {
                "remote": self.owner.remote,
                "fingerprint": accepted[2],
                "limit": which,
                "open": count,
                "max": limit,
            },
            directory,
        )
        return False

    async def _without_pty(self, words: list[str] | None, *, crlf: bool = False) -> None:
        directory, accepted = self.owner.directory, self.owner.accepted
        assert directory is not None and accepted is not None
        if words == ["login"]:
            reply = ssh_commands.Reply(1, stderr="tui: login needs a terminal: ssh -t HOST login\n")
        elif words is not None and (not words or words[0] not in ssh_commands.ALLOWED):
            reply = ssh_commands.Reply(1, stderr=ssh_commands.refusal(words[0] if words else ""))
        else:
            caller = ssh_commands.Caller(accepted[0], accepted[1], accepted[2])
            reply = await asyncio.to_thread(
                ssh_commands.run, directory, caller, self.command or "", self.owner.server.credentials
            )
        self._reply(ssh_commands.with_crlf(reply) if crlf else reply)

    def _reply(self, reply: ssh_commands.Reply) -> None:
        assert self.chan is not None
        if reply.stdout:
            self.chan.write(reply.stdout.encode())
        if reply.stderr:
            self.chan.write_stderr(reply.stderr.encode())
        self.chan.exit(reply.status)

    async def _console(self, *, login: bool) -> None:
        directory, accepted = self.owner.directory, self.owner.accepted
        assert directory is not None and accepted is not None and self.chan is not None
        user_id = accepted[0]
        signed_in = await asyncio.to_thread(
            directory.portal.issue_for, user_id, client="ssh", method="publickey", mfa=False
        )
        assert signed_in.token is not None
        options = self.owner.server.options
        # Every descriptor is closed exactly once: another session may reuse a number the moment it is closed.
        master, slave = os.openpty()
        try:
            read_end, write_end = os.pipe()
            try:
                try:
                    os.write(write_end, signed_in.token.encode())  # 43 bytes: far below a pipe's buffer
                finally:
                    os.close(write_end)
                _set_size(slave, *self.size)
                argv = [
                    sys.executable,
                    "-m",
                    "tui",
                    "--db",
                    str(options.db_path),
                    "--key",
                    str(options.key_path),
                    "ssh-console",
                    "--token-fd",
                    str(read_end),
                    "--fingerprint",
                    accepted[2],
                ]
                if login:
                    argv += ["--command", "login"]
                self.proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    pass_fds=(read_end,),
                    start_new_session=True,
                    env=child_environment(self.term),
                    close_fds=True,
                )
            finally:
                os.close(read_end)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master
        os.set_blocking(master, False)
        self.output_done = asyncio.get_running_loop().create_future()
        self._start_reading()
        self._flush_input()
        returncode = await self.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.output_done), 2.0)
        self._close_master()
        if self.chan.is_closing():
            return
        if self.owner.end_reason == "idle":
            self._reset_terminal()
            self.notice(self.owner.idle_notice)
            self.chan.exit(0)  # sent after what was written; closing the connection at once could drop it
            self.owner.console_ended("idle")
            return
        if returncode < 0:
            self._reset_terminal()
            with contextlib.suppress(Exception):
                self.chan.write_stderr(b"\r\ntui: the console stopped unexpectedly; connect again.\r\n")
            self.chan.exit(1)
            _say(f"the console of {self.owner.remote} ended by signal {-returncode}")
        else:
            self.chan.exit(returncode)
        self.owner.console_ended("login ended" if login else "console ended")

    # -- the pty's master side --

    def _start_reading(self) -> None:
        if self.master is not None and not self.reading:
            asyncio.get_running_loop().add_reader(self.master, self._readable)
            self.reading = True

    def _stop_reading(self) -> None:
        if self.master is not None and self.reading:
            asyncio.get_running_loop().remove_reader(self.master)
            self.reading = False

    def _readable(self) -> None:
        assert self.master is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every slave side is closed (the child is gone)
            data = b""
        if not data:
            self._stop_reading()
            if self.output_done is not None and not self.output_done.done():
                self.output_done.set_result(None)
            return
        if self.chan is not None and not self.chan.is_closing():
            self.chan.write(data)

    def _flush_input(self) -> None:
        if self.master is None:
            return
        loop = asyncio.get_running_loop()
        while self.pending:
            try:
                written = os.write(self.master, bytes(self.pending[:65536]))
            except BlockingIOError:
                break
            except OSError:
                self.pending.clear()
                break
            del self.pending[:written]
        with contextlib.suppress(Exception):
            loop.remove_writer(self.master)
        if self.pending:
            loop.add_writer(self.master, self._flush_input)
            if len(self.pending) > _MAX_PENDING_INPUT and self.chan is not None:
                self.chan.pause_reading()
        elif self.chan is not None:
            with contextlib.suppress(Exception):
                self.chan.resume_reading()

    def _close_master(self) -> None:
        if self.master is None:
            return
        self._stop_reading()
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_writer(self.master)
        with contextlib.suppress(OSError):
            os.close(self.master)
        self.master = None

    # -- the end --

    def _reset_terminal(self) -> None:
        if self.chan is not None and not self.chan.is_closing():
            with contextlib.suppress(Exception):
                self.chan.write(TERMINAL_RESET)

    def notice(self, message: str) -> None:
        """A last line for a terminal session (e.g. why the connection is being closed)."""
        if self.term is not None and self.chan is not None and not self.chan.is_closing():
            with contextlib.suppress(Exception):
                self.chan.write(f"\r\n{message}\r\n".encode())

    def kill_child(self) -> None:
        """The client is gone: hang up the child's process group, and kill it if it lingers."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGHUP)

        def kill() -> None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

        asyncio.get_running_loop().call_later(KILL_GRACE, kill)

    async def finished(self) -> None:
        if self.task is not None and not self.task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.task), KILL_GRACE + 3)


# --- running it --------------------------------------------------------------------------------------------


def serve(options: ServeOptions) -> None:
    """Run the server until SIGINT or SIGTERM."""
    if not os.environ.get("TUI_DEBUG"):
        logging.getLogger("asyncssh").setLevel(logging.CRITICAL)  # our own lines say what happens, no secrets
    asyncio.run(_serve(options))


async def _serve(options: ServeOptions) -> None:
    server = TuiSshServer(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        await stop.wait()
        _say("stopping")
    finally:
        await server.stop()
