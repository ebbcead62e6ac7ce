"""What an SSH client may run without a terminal: ``whoami``, ``access``, ``credentials`` — as the key's user.

Shared by ``tui serve`` (which answers them in its own process, in a worker thread) and ``tui ssh-console``
(the OpenSSH ``ForceCommand`` path, which gets the client's command in ``SSH_ORIGINAL_COMMAND``). Neither
imports textual. Every answer is one JSON document on stdout; refusals are one line on stderr, exit 1; usage
errors exit 2 (SPEC §5).

``credentials`` answers only while the user has a portal sign-in made with MFA (password + TOTP with
``ssh -t HOST login``, or the SSH console's TOTP step-up) that is less than 12 hours old: the laptop's
``credential_process = ssh … credentials --account A --permission-set P`` works like ``aws sso login`` + the
AWS access portal. Credentials are kept server-side, like the AWS CLI's own cache: the same ones come back
while they have more than 15 minutes left (``store.credential_cache.fresh_enough``), then fresh ones are
issued. ``tui serve`` keeps them in memory (:class:`MemoryCredentialCache`); ``tui ssh-console`` in the
service account's cache folder (``store.credential_cache``, files 0600), since each call is a new process
there.
"""

from __future__ import annotations

import json
import shlex
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import click

from store.access import effective_access
from store.clock import from_text
from store.credential_cache import fresh_enough
from store.directory import Directory
from store.errors import StoreError
from store.names import quoted
from store.portal import PORTAL_LIFETIME
from store.sessions import IssuedCredentials

ALLOWED = ("whoami", "access", "credentials")
SIGN_IN_FIRST = "sign in first: ssh -t HOST login"
# How old a password + TOTP sign-in may be for `credentials` (the issue: less than 12 hours).
CREDENTIALS_MAX_AGE = PORTAL_LIFETIME
MAX_COMMAND_CHARS = 4096


@dataclass(frozen=True)
class Reply:
    status: int
    stdout: str = ""
    stderr: str = ""


class CredentialIssuer(Protocol):
    def __call__(
        self,
        directory: Directory,
        user_id: int,
        account_id: int,
        permission_set_id: int,
        duration: str | None,
        mfa: bool,
    ) -> IssuedCredentials: ...


@dataclass(frozen=True)
class Caller:
    """Who runs the command: the directory user the SSH key belongs to, and the key's fingerprint."""

    user_id: int
    user_name: str
    fingerprint: str | None = None


class MemoryCredentialCache:
    """``tui serve``'s credential cache: in memory, per (user, account, permission set, duration). Secrets
    never reach the disk; a restarted server simply issues fresh credentials."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, int, int, str | None], IssuedCredentials] = {}

    def __call__(
        self,
        directory: Directory,
        user_id: int,
        account_id: int,
        permission_set_id: int,
        duration: str | None,
        mfa: bool,
    ) -> IssuedCredentials:
        key = (user_id, account_id, permission_set_id, duration)
        with self._lock:  # one issue at a time per server: two simultaneous calls get the same credentials
            cached = self._entries.get(key)
            if cached is not None:
                check = directory.sessions.verify(
                    cached.access_key_id, cached.secret_access_key, cached.session_token
                )
                session = check.session
                if (
                    check.valid
                    and session is not None
                    and fresh_enough(
                        session.expires_at,
                        from_text(session.expires_at) - from_text(session.issued_at),
                        directory.clock(),
                    )
                ):
                    return cached
            issued = directory.sessions.issue(
                user_id, account_id, permission_set_id, duration=duration, mfa=mfa
            )
            self._entries[key] = issued
            # Forget what expired, so the cache stays as small as the live credentials.
            now = directory.now_text()
            for stale in [k for k, v in self._entries.items() if v.expiration <= now]:
                del self._entries[stale]
            return issued


def file_credential_cache(db_path: Any) -> CredentialIssuer:
    """``tui ssh-console``'s cache: ``store.credential_cache`` files (0600) in this account's cache folder."""
    from store.credential_cache import cache_path, credentials_for

    def issue(
        directory: Directory,
        user_id: int,
        account_id: int,
        permission_set_id: int,
        duration: str | None,
        mfa: bool,
    ) -> IssuedCredentials:
        user = directory.users.get(user_id)
        account = directory.accounts.get(account_id)
        pset = directory.permission_sets.get(permission_set_id)
        suffix = f"#{duration}" if duration else ""
        path = cache_path(db_path, user.user_name, account.name, pset.name + suffix)
        issued, _ = credentials_for(
            directory, path, user_id, account_id, permission_set_id, duration=duration, mfa=mfa
        )
        return issued

    return issue


# --- the commands: click for parsing only (no help option, nothing printed by click itself)
# -------------------


class _Done(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply


def _answer(document: Any) -> None:
    raise _Done(Reply(0, json.dumps(document) + "\n"))


_SETTINGS: dict[str, Any] = {"help_option_names": []}


@click.group(context_settings=_SETTINGS, add_help_option=False)
def _commands() -> None:
    pass


@_commands.command("whoami", context_settings=_SETTINGS, add_help_option=False)
@click.pass_obj
def _whoami(state: _State) -> None:
    directory, caller = state.directory, state.caller
    user = directory.users.get(caller.user_id)
    signed_in = directory.portal.recent_mfa_sign_in(user.id, max_age=CREDENTIALS_MAX_AGE)
    _answer(
        {
            "user": user.user_name,
            "root": bool(user.is_root),
            # Administration needs MFA: an admin-group member (or root) administers only while signed in
            # with an authenticator; "admin_group" says whether they are one.
            "admin": signed_in is not None and directory.admins.is_admin(user.id),
            "admin_group": directory.admins.is_admin(user.id),
            "key": caller.fingerprint,
            # True while a password + TOTP sign-in (or the console's TOTP step-up) younger than 12 hours
            # exists: exactly when `credentials` answers.
            "mfa": signed_in is not None,
            "signed_in_until": signed_in.expires_at if signed_in is not None else None,
        }
    )


@_commands.command("access", context_settings=_SETTINGS, add_help_option=False)
@click.option("--account", "account_name", metavar="A")
@click.pass_obj
def _access(state: _State, account_name: str | None) -> None:
    """The caller's effective access: the document of ``tui access --user U --json``."""
    directory, caller = state.directory, state.caller
    account = directory.accounts.get_by_name(account_name) if account_name else None
    result = effective_access(directory, caller.user_id, account_id=account.id if account else None)
    document = result.to_json()
    document["account"] = account.name if account else None
    _answer(document)


@_commands.command("credentials", context_settings=_SETTINGS, add_help_option=False)
@click.option("--account", "account_name", required=True, metavar="A")
@click.option("--permission-set", "permission_set_name", required=True, metavar="P")
@click.option("--duration", metavar="D")
@click.pass_obj
def _credentials(state: _State, account_name: str, permission_set_name: str, duration: str | None) -> None:
    """credential_process JSON for the caller, only after a recent password + TOTP sign-in."""
    directory, caller = state.directory, state.caller
    signed_in = directory.portal.recent_mfa_sign_in(caller.user_id, max_age=CREDENTIALS_MAX_AGE)
    if signed_in is None:
        raise _Done(Reply(1, stderr=SIGN_IN_FIRST + "\n"))
    account = directory.accounts.get_by_name(account_name)
    pset = directory.permission_sets.get_by_name(permission_set_name)
    # Issued under that sign-in: one ended since it was found (signed out, reset, disabled) issues nothing.
    with directory.acting_under(signed_in):
        issued = state.issue(directory, caller.user_id, account.id, pset.id, duration, True)
    _answer(issued.credential_process())


@dataclass
class _State:
    directory: Directory
    caller: Caller
    issue: CredentialIssuer


def split_command(command: str) -> list[str] | None:
    """The words of an SSH command line (as a POSIX shell splits them), or None if it cannot be split."""
    if len(command) > MAX_COMMAND_CHARS:
        return None
    try:
        return shlex.split(command)
    except ValueError:
        return None


def run(directory: Directory, caller: Caller, command: str, issue: CredentialIssuer) -> Reply:
    """Run one allowlisted command line as ``caller``. Never raises for anything the caller typed."""
    words = split_command(command)
    if words is None:
        return Reply(2, stderr="tui: the command line cannot be read (unbalanced quotes, or too long)\n")
    if not words or words[0] not in ALLOWED:
        shown = words[0] if words else ""
        return Reply(1, stderr=refusal(shown))
    try:
        _commands.main(words, prog_name="tui", obj=_State(directory, caller, issue), standalone_mode=False)
    except _Done as done:
        return done.reply
    except click.UsageError as exc:
        return Reply(2, stderr=f"tui: {exc.format_message()}\n")
    except click.ClickException as exc:
        return Reply(1, stderr=f"tui: {exc.format_message()}\n")
    except StoreError as exc:
        return Reply(1, stderr=f"tui: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, as the CLI says it (no traceback)
        return Reply(
            70,
            stderr=f"tui: internal error ({type(exc).__name__}); nothing more is shown so no secret "
            "can leak. Report it.\n",
        )
    return Reply(1, stderr="tui: no answer\n")


def refusal(word: str) -> str:
    """Why a command is refused without a terminal (the word is shown printable, at most 40 characters)."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in word)[:40]
    what = f"{quoted(shown)} is not allowed here" if shown else "the console needs a terminal: ssh -t HOST"
    return (
        f"tui: {what}. Without a terminal only these answer: {', '.join(ALLOWED)}; "
        "to sign in: ssh -t HOST login\n"
    )


def with_crlf(reply: Reply) -> Reply:
    """The same reply for a terminal in raw mode (the SSH client's, under a pty): newlines as CR LF."""
    return Reply(reply.status, reply.stdout.replace("\n", "\r\n"), reply.stderr.replace("\n", "\r\n"))
