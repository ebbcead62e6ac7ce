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

from store.users import User
from tui.cli import Context, fail, pass_context, reports_errors


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
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SSH host key (created, ed25519, 0600, on first run). Default: <database>.ssh_host_key.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=1),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection after this long without input.",
)
@pass_context
@reports_errors
def serve_command(obj: Context, listen: str, host_key: Path | None, idle_timeout: float) -> None:
    """The shared console over SSH: public-key sign-in against the users' SSH keys, one console per connection
    (after a TOTP step-up for users with an authenticator), and without a terminal only: whoami, access,
    credentials. Runs until interrupted (ctrl+c or SIGTERM)."""
    from store.identity import has_root
    from tui.serve import ServeOptions, parse_listen, serve

    host, port = parse_listen(listen)
    if not Path(obj.db_path).exists() or not has_root(obj.directory()):
        fail(f"{obj.db_path} has no root yet: run tui init first")
    obj.close()  # the server opens its own connections
    serve(
        ServeOptions(
            db_path=Path(obj.db_path).resolve(),
            key_path=Path(obj.key_path).resolve(),
            host=host,
            port=port,
            host_key_path=host_key,
            idle_timeout=idle_timeout,
        )
    )


@click.command("ssh-console", hidden=True)
@click.option("--token-fd", type=int, help="(tui serve) the pipe holding this connection's portal token.")
@click.option("--command", "command", help="(tui serve) what the client asked to run: login.")
@click.option("--fingerprint", help="(tui serve) the fingerprint of the key the client signed in with.")
@pass_context
@reports_errors
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
@reports_errors
def ssh_authorized_keys_command(
    obj: Context, user_name: str | None, fingerprint: str | None, tui_path: str | None
) -> None:
    """authorized_keys lines for sites with their own sshd: every active user's SSH keys, each forced to run
    tui ssh-console as that user (TUI_SSH_USER). Write them to the service account's authorized_keys, or use
    this command as sshd's AuthorizedKeysCommand (see docs/openssh.md)."""
    directory = obj.directory()
    tui = [tui_path] if tui_path else [sys.executable, "-m", "tui"]
    base = [*tui, "--db", str(Path(obj.db_path).resolve()), "--key", str(Path(obj.key_path).resolve())]
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
            if fingerprint and key.fingerprint != fingerprint:
                continue
            command = " ".join(
                ["env", shlex.quote(f"TUI_SSH_USER={user.user_name}"), *map(shlex.quote, base), "ssh-console"]
            )
            click.echo(f"{_authorized_keys_option(command)},restrict,pty {key.public_key}")


COMMANDS = [serve_command, ssh_console_command, ssh_authorized_keys_command]
