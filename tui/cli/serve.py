"""``tui serve`` (the shared console over SSH), the hidden ``tui ssh-console`` it starts for each connection,
and ``tui ssh-authorized-keys`` for sites that run their own sshd (docs/openssh.md).

Nothing here imports asyncssh or textual at module level: every other command stays as quick as before.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from store.console_limits import (
    DEFAULT_PER_USER,
    DEFAULT_TOTAL,
    MAXIMUM,
    console_limits,
    set_console_limits,
)
from store.files import refuse_own_files
from store.names import visible
from store.users import User
from tui.cli.base import AsciiFloat, AsciiInt, Context, FilePath, fail, pass_context


@click.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:2222",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen (port 0: any free port, printed at start).",
)
@click.option(
    "--host-key",
    "host_key",
    type=FilePath(dir_okay=False, path_type=Path),
    help="The SSH host key (created, ed25519, 0600, on first run). Default: <database>.ssh_host_key.",
)
@click.option(
    "--idle-timeout",
    type=AsciiFloat(min=1),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection after this long without input.",
)
@click.option(
    "--max-consoles",
    type=AsciiInt(1, MAXIMUM),
    metavar="N",
    help=f"At most N consoles at once on this server, this run (default: tui serve-limits, {DEFAULT_TOTAL}).",
)
@click.option(
    "--max-consoles-per-user",
    type=AsciiInt(1, MAXIMUM),
    metavar="N",
    help=f"At most N consoles at once per user, this run (default: tui serve-limits, {DEFAULT_PER_USER}).",
)
@pass_context
def serve_command(
    obj: Context,
    listen: str,
    host_key: Path | None,
    idle_timeout: float,
    max_consoles: int | None,
    max_consoles_per_user: int | None,
) -> None:
    """The shared console over SSH: public-key sign-in against the users' SSH keys, one console per connection
    (after a TOTP step-up for users with an authenticator), at most 3 per user and 24 in all unless tui
    serve-limits or the flags say otherwise, and without a terminal only: whoami, access, credentials. Runs
    until interrupted (ctrl+c or SIGTERM)."""
    from store.identity import has_root
    from tui.serve import ServeOptions, parse_listen, serve

    host, port = parse_listen(listen)
    if host_key is not None:
        refuse_own_files(host_key, obj.db_path, obj.key_path)  # a host key written over the key file
    if not Path(obj.db_path).exists() or not has_root(obj.directory()):
        fail(f"{obj.db_path} has no root yet: run tui init first")
    stored = console_limits(obj.directory())
    per_user = f"{max_consoles_per_user or stored.per_user} per user"
    if max_consoles_per_user:
        per_user += " (--max-consoles-per-user)"
    total = f"{max_consoles or stored.total} in all" + (" (--max-consoles)" if max_consoles else "")
    click.echo(f"tui serve: consoles: at most {per_user}, {total}", err=True)
    obj.close()  # the server opens its own connections
    serve(
        ServeOptions(
            db_path=Path(obj.db_path).resolve(),
            key_path=Path(obj.key_path).resolve(),
            host=host,
            port=port,
            host_key_path=host_key,
            idle_timeout=idle_timeout,
            max_consoles=max_consoles,
            max_consoles_per_user=max_consoles_per_user,
        )
    )


@click.command("serve-limits")
@click.option("--max-consoles", type=AsciiInt(1, MAXIMUM), metavar="N", help="Consoles at once, in all.")
@click.option(
    "--max-consoles-per-user",
    type=AsciiInt(1, MAXIMUM),
    metavar="N",
    help="Consoles at once, per user.",
)
@pass_context
def serve_limits_command(obj: Context, max_consoles: int | None, max_consoles_per_user: int | None) -> None:
    """Show, or change, how many SSH consoles tui serve runs at once (directory settings, audited; each
    console is a process of about 60 MB). A change applies to the next console opened, on every server."""
    directory = obj.directory()
    if max_consoles is None and max_consoles_per_user is None:
        limits = console_limits(directory)
    else:
        limits = set_console_limits(directory, total=max_consoles, per_user=max_consoles_per_user)
    click.echo(f"SSH consoles: at most {limits.per_user} per user, {limits.total} in all")


@click.command("ssh-console", hidden=True)
@click.option(
    "--token-fd",
    type=AsciiInt(0, 2**31 - 1),
    help="(tui serve) the pipe holding this connection's portal token.",
)
@click.option("--command", "command", help="(tui serve) what the client asked to run: login.")
@click.option("--fingerprint", help="(tui serve) the fingerprint of the key the client signed in with.")
@pass_context
def ssh_console_command(
    obj: Context, token_fd: int | None, command: str | None, fingerprint: str | None
) -> None:
    """One SSH user's console, login or command: started by tui serve, or by sshd (TUI_SSH_USER)."""
    from tui.ssh_console import run

    sys.exit(
        run(
            Path(obj.db_path), Path(obj.key_path), token_fd=token_fd, command=command, fingerprint=fingerprint
        )
    )


def _authorized_keys_option(command: str) -> str:
    # sshd's authorized_keys options take "…" with \" for a quote inside (nothing else is unescaped).
    return 'command="' + command.replace('"', '\\"') + '"'


@click.command("ssh-authorized-keys")
@click.option("--user", "user_name", help="Only this user's keys.")
@click.option("--fingerprint", help="Only the key with this SHA256:… fingerprint (sshd's %f).")
@click.option(
    "--tui",
    "tui_path",
    default=None,
    metavar="PATH",
    help="The tui command sshd should run (default: this Python with -m tui).",
)
@pass_context
def ssh_authorized_keys_command(
    obj: Context, user_name: str | None, fingerprint: str | None, tui_path: str | None
) -> None:
    """authorized_keys lines for sites with their own sshd: every active user's SSH keys, each forced to run
    tui ssh-console as that user (TUI_SSH_USER). Write them to the service account's authorized_keys, or use
    this command as sshd's AuthorizedKeysCommand (see docs/openssh.md)."""
    for option, given in (("--fingerprint", fingerprint), ("--tui", tui_path), ("--user", user_name)):
        if given is not None and not given.strip():
            # Empty, it meant nothing: every key was printed (--fingerprint ''), or the default command ran.
            raise click.BadParameter("is empty: give a value, or leave the option out", param_hint=option)
    directory = obj.directory()
    tui = [tui_path] if tui_path is not None else [sys.executable, "-m", "tui"]
    base = [*tui, "--db", str(Path(obj.db_path).resolve()), "--key", str(Path(obj.key_path).resolve())]
    for word in base:
        if not word.isprintable():
            # A line break would end the line and start another, an authorized key of the text's choosing;
            # control and invisible characters have no place in a command either.
            fail(
                f"{visible(word)}: a command in authorized_keys cannot hold line breaks, control or "
                "invisible characters",
                2,
            )
    user_id = directory.users.get_by_name(user_name).id if user_name else None

    def users() -> Iterator[User]:
        root = directory.users.root()
        if root is not None:
            yield root
        after = None
        while True:
            page = directory.users.list(after=after, limit=500)
            yield from page.items
            if page.next_after is None:
                return
            after = page.next_after

    for user in users():
        if user.status != "active" or (user_id is not None and user.id != user_id):
            continue
        for key in directory.ssh_keys.of_user(user.id):
            if fingerprint is not None and key.fingerprint != fingerprint:
                continue
            # visible(): a name or key comment planted in the database file with a line break or a control
            # character must not become a second authorized_keys line, nor reach sshd or a terminal raw.
            command = " ".join(
                [
                    "env",
                    shlex.quote(f"TUI_SSH_USER={visible(user.user_name)}"),
                    # The line's own key: sshd runs the line of the key it accepted, so ssh-console can check
                    # that key is still the user's even without ExposeAuthInfo (a key removed in the console
                    # stops working before authorized_keys is written again).
                    shlex.quote(f"TUI_SSH_KEY={key.fingerprint}"),
                    *map(shlex.quote, base),
                    "ssh-console",
                ]
            )
            click.echo(f"{_authorized_keys_option(command)},restrict,pty {visible(key.public_key)}")


COMMANDS = [serve_command, serve_limits_command, ssh_console_command, ssh_authorized_keys_command]
