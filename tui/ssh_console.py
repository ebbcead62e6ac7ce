"""``tui ssh-console``: what runs for one SSH user — the console, ``login``, or an allowlisted command.

Two ways to be started, one program:

- **By ``tui serve``** (``--token-fd N``), on a pty of its own. The server authenticated the public key and
  issued a portal sign-in for the key's user (``client="ssh"``, ``method="publickey"``, ``mfa=False``); its
  token arrives on the inherited pipe ``N`` (never argv, never the environment), and is read and closed first.
  The process is a session leader (the server starts it with ``setsid``) and takes the pty as its controlling
  terminal (``TIOCSCTTY``), so window-size changes reach it as ``SIGWINCH``.
- **By OpenSSH's sshd** (``ForceCommand`` or ``authorized_keys command="…"``, see ``docs/openssh.md``). sshd
  authenticated the key; ``TUI_SSH_USER`` (set in that forced command) names the directory user, and
  ``SSH_ORIGINAL_COMMAND`` is what the client asked to run. The key sshd accepted must also be one of that
  user's keys in the directory, so removing a key in the console takes effect at once: the key sshd names
  with ``ExposeAuthInfo yes`` (``SSH_USER_AUTH``), else the one a generated ``authorized_keys`` line was made
  for (``TUI_SSH_KEY``).

Then, by command: nothing (or ``console``) with a terminal → a TOTP step-up when the user has an authenticator
(root always; :class:`tui.screens.step_up.StepUpApp`), then the console (``TuiApp(…,
exit_on_sign_out=True)``); ``login`` with a terminal → password (not echoed) + code → a portal sign-in with
MFA, which ``credentials`` needs; ``whoami`` / ``access`` / ``credentials`` → :mod:`tui.ssh_commands`.
Anything else is refused, exit 1. Textual is imported only for the console.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import sys
import termios
from pathlib import Path

from store.audit import Actor
from store.directory import Directory
from store.errors import NotFound, Refused, StoreError
from store.names import quoted
from store.portal import SignedIn
from store.ssh_keys import parse_public_key
from tui import ssh_commands
from tui.literal import visible

OPENSSH_USER_VARIABLE = "TUI_SSH_USER"
OPENSSH_KEY_VARIABLE = "TUI_SSH_KEY"  # the fingerprint of the key a generated authorized_keys line is for


class ConsoleRefused(StoreError):
    """Why this SSH user gets nothing (the message is shown to them, exit 1)."""


def take_terminal() -> None:
    """Make the pty on standard input this session's controlling terminal (the server made us a session
    leader); without one, resizes would never arrive as SIGWINCH."""
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass  # already ours (or not a terminal): nothing to take


def read_token(fd: int) -> str:
    with os.fdopen(fd, "rb", closefd=True) as pipe:
        data = pipe.read(1024)
    return data.decode("ascii", "replace").strip()


def _interactive() -> bool:
    return os.isatty(0) and os.isatty(1)


def _out(text: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text)
    stream.flush()


def exposed_fingerprints() -> list[str]:
    """The public keys sshd says it accepted (``ExposeAuthInfo yes`` → ``SSH_USER_AUTH``), as fingerprints."""
    path = os.environ.get("SSH_USER_AUTH")
    if not path:
        return []
    found = []
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        method, _, key = line.partition(" ")
        if method == "publickey":
            try:
                found.append(parse_public_key(key).fingerprint)
            except StoreError:
                continue
    return found


def _openssh_identity(directory: Directory) -> tuple[int, str, str | None]:
    name = os.environ.get(OPENSSH_USER_VARIABLE, "").strip()
    if not name:
        raise ConsoleRefused(
            "tui ssh-console is started by tui serve, or by sshd with TUI_SSH_USER set in the "
            "forced command (see docs/openssh.md)"
        )
    try:
        user = directory.users.get_by_name(name)
    except NotFound:
        raise ConsoleRefused("this SSH key is not set up for the directory: ask an administrator") from None
    if user.status != "active":
        raise ConsoleRefused(f"{quoted(user.user_name)} is disabled")
    fingerprints = exposed_fingerprints()
    if not fingerprints and (line_key := os.environ.get(OPENSSH_KEY_VARIABLE, "").strip()):
        fingerprints = [line_key]  # sshd said nothing (no ExposeAuthInfo): the key its line was made for
    fingerprint = None
    if fingerprints:
        owners = [directory.ssh_keys.owner_of(fp) for fp in fingerprints]
        mine = [key for key in owners if key is not None and key.user_id == user.id]
        if not mine:
            raise ConsoleRefused(
                f"the key you signed in with is not one of {quoted(user.user_name)}'s SSH keys in "
                "the directory"
            )
        fingerprint = mine[0].fingerprint
    return user.id, user.user_name, fingerprint


def run(
    db_path: Path, key_path: Path, *, token_fd: int | None, command: str | None, fingerprint: str | None
) -> int:
    """Everything ``tui ssh-console`` does; returns the exit status."""
    token = None
    if token_fd is not None:
        take_terminal()
        token = read_token(token_fd)
    else:
        command = os.environ.get("SSH_ORIGINAL_COMMAND", command)
    directory = Directory.open(db_path, Actor("tui-ssh", "ssh"), key_path=key_path)
    try:
        signed_in: SignedIn | None = None
        if token is not None:
            signed_in = directory.portal.verify(token)
            user_id, user_name = signed_in.user_id, signed_in.user_name
            if user_id is None:
                raise ConsoleRefused("this sign-in names no user")
        else:
            user_id, user_name, fingerprint = _openssh_identity(directory)
        actor = Actor(user_name, "ssh")
        if signed_in is not None:
            directory.act_under(signed_in, actor)  # only while the sign-in tui serve made lasts
        else:
            directory.act_as(user_id, actor)
        words = ssh_commands.split_command(command) if command else []
        if words is None:
            _out("tui: the command line cannot be read (unbalanced quotes, or too long)\n", err=True)
            return 2
        if words and words[0] in ssh_commands.ALLOWED:
            issue = ssh_commands.file_credential_cache(db_path)
            reply = ssh_commands.run(
                directory, ssh_commands.Caller(user_id, user_name, fingerprint), command or "", issue
            )
            _out(reply.stdout)
            _out(reply.stderr, err=True)
            return reply.status
        if words not in ([], ["console"], ["login"]):
            _out(ssh_commands.refusal(words[0]), err=True)
            return 1
        if not _interactive():
            what = (
                "login needs a terminal: ssh -t HOST login"
                if words == ["login"]
                else ssh_commands.refusal("").removeprefix("tui: ").rstrip("\n")
            )
            _out(f"tui: {what}\n", err=True)
            return 1
        if words == ["login"]:
            try:
                return _login(directory, user_id, user_name)
            finally:
                if signed_in is not None and signed_in.token is not None:
                    directory.portal.revoke(signed_in.token, "ssh login prompt ended")
        if signed_in is None:
            signed_in = directory.portal.issue_for(user_id, client="ssh", method="publickey", mfa=False)
        return _console(directory, signed_in, fingerprint)
    finally:
        directory.close()


def _login(directory: Directory, user_id: int, user_name: str) -> int:
    """``ssh -t HOST login``: the password (never echoed) and the code, for the key's user; a portal sign-in
    with MFA, which ``credentials`` needs, for the next 12 hours."""
    _out(
        visible(f"Sign in as {user_name}: password, then the code from your authenticator.") + "\n", err=True
    )
    try:
        password = getpass.getpass("Password: ")
        has_totp = directory.credentials.status(user_id).mfa
        code = input("Code: ") if has_totp else ""
    except EOFError:
        _out("\ntui: not signed in\n", err=True)
        return 1
    sign_in = directory.sign_in.attempt(user_name, password, code, client="ssh")
    del password
    try:
        signed_in = directory.portal.issue(sign_in)
    except Refused as exc:
        _out(f"tui: {exc}; sign in to the console or with tui login first\n", err=True)
        return 1
    if not signed_in.mfa:
        _out(
            visible(
                f"signed in as {signed_in.user_name} without MFA until {signed_in.expires_at}; credentials "
                "need a sign-in with an authenticator: enrol one in the console"
            )
            + "\n"
        )
        return 0
    _out(
        visible(
            f"signed in as {signed_in.user_name} with MFA until {signed_in.expires_at}: credentials work "
            "over SSH until then"
        )
        + "\n"
    )
    return 0


def _console(directory: Directory, signed_in: SignedIn, fingerprint: str | None) -> int:
    from tui.app import TuiApp  # textual, only now

    assert signed_in.user_id is not None
    status = directory.credentials.status(signed_in.user_id)
    key_only = signed_in
    if status.is_root or status.mfa:
        from tui.screens.step_up import StepUpApp

        upgraded = StepUpApp(directory, signed_in, fingerprint).run()
        if signed_in.token is not None:
            directory.portal.revoke(
                signed_in.token, "replaced by a TOTP step-up" if upgraded else "TOTP step-up not completed"
            )
        if not isinstance(upgraded, SignedIn):
            _out("tui: not signed in\n", err=True)
            return 1
        signed_in = upgraded
    app = TuiApp(directory, signed_in=signed_in, exit_on_sign_out=True)
    app.run()
    if signed_in is key_only and signed_in.token is not None:
        # A sign-in by key alone ends with its console; one with MFA lives on (12 hours) for `credentials`.
        try:
            directory.portal.revoke(signed_in.token, "SSH console closed")
        except StoreError:
            pass
    return app.return_code or 0
