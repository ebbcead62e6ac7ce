"""The ``tui`` command: a thin click layer over ``store``. Parse, call, print.

Nothing here imports textual at module level: scripts and ``credential_process`` call these commands and must
not pay for (or depend on) the console. Only ``tui console`` imports it, inside the command.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from store import audit
from store.directory import Directory, key_path_beside
from store.errors import StoreError
from store.locations import default_db_path
from tui import __version__

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    click.echo(f"tui: {message}", err=True)
    sys.exit(code)


def reports_errors(command: F) -> F:
    """Our own errors become one clear message on stderr and exit 1; nothing reaches the user as a
    traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StoreError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return wrapper  # type: ignore[return-value]


class Context:
    def __init__(self, db: Path, key: Path | None = None, *, demo: bool = False) -> None:
        self.db_path = db
        self._key = key
        self.demo = demo  # `tui --demo`: the console opens a throw-away seeded directory
        self._directory: Directory | None = None

    @property
    def key_path(self) -> Path:
        """The directory's key file: ``--key``/``TUI_KEY``, else ``<database>.key`` beside the database."""
        return self._key if self._key is not None else key_path_beside(self.db_path)

    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = Directory.open(self.db_path, key_path=self.key_path)
        return self._directory

    def close(self) -> None:
        if self._directory is not None:
            self._directory.close()


# Declared, so the cli_* modules that import it back while this module loads can be typed (mypy cannot infer
# a name through the import cycle).
pass_context: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(Context)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TUI_DB",
    help="The directory database file (default: $TUI_DB, else the user data folder).",
)
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TUI_KEY",
    help="The directory's key file (default: $TUI_KEY, else <database>.key beside the database).",
)
@click.option(
    "--demo", is_flag=True, help="Open the console on a throw-away directory seeded with sample data."
)
@click.version_option(__version__, "--version", prog_name="tui")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, key: Path | None, demo: bool) -> None:
    """tui: a terminal directory administrator. Without a command, opens the console."""
    if demo and ctx.invoked_subcommand not in (None, "console"):
        raise click.UsageError(f"--demo opens the console; it does not go with '{ctx.invoked_subcommand}'.")
    ctx.obj = Context(db or default_db_path(), key, demo=demo)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        ctx.invoke(console)


@cli.command()
@click.option("--demo", is_flag=True, help="Open a throw-away directory seeded with sample data.")
@pass_context
@reports_errors
def console(obj: Context, demo: bool) -> None:
    """Open the full-screen console."""
    from tui.app import run_console  # the only place textual is imported

    run_console(obj.db_path, demo=demo or obj.demo, key_path=obj.key_path)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
@reports_errors
def backup(obj: Context, file: Path) -> None:
    """Write a consistent copy of the database (VACUUM INTO), mode 0600."""
    from store.backup import backup_database

    backup_database(obj.directory(), file)
    click.echo(f"backup written to {file}")
    click.echo(f"the key file ({obj.key_path}) is not in the backup: keep it safe separately", err=True)


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result, with the log's head, as JSON.")
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify: fail unless the log still holds that event unchanged "
    "(proves nothing was cut or rolled back since).",
)
@pass_context
@reports_errors
def audit_verify(obj: Context, as_json: bool, expect_head: str | None) -> None:
    """Check the chain with the key file; name the first altered, deleted or reordered event, a cut tail or
    a wiped log. Exit 1 if broken. Record the head it prints somewhere else to check it later."""
    result = obj.directory().verify_audit(expect_head)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    elif result.ok:
        click.echo(f"audit log intact: {result.events} events, head {result.head or '(empty)'}")
    else:
        click.echo(f"audit log broken: {result.problem}", err=True)
    sys.exit(0 if result.ok else 1)


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@pass_context
@reports_errors
def audit_export(obj: Context, fmt: str) -> None:
    """Write every audit event to standard output, oldest first."""
    directory = obj.directory()
    with directory.db.read() as conn:
        rows = audit.events(conn)
        lines = audit.export_jsonl(rows) if fmt == "jsonl" else audit.export_csv(rows)
        for chunk in lines:
            click.echo(chunk, nl=False)


# Command groups that live in their own modules (imported here, after `cli`, which they build on).
from tui.cli_access import access as access_group  # noqa: E402
from tui.cli_credentials import COMMANDS as CREDENTIAL_COMMANDS  # noqa: E402
from tui.cli_policy import policy as policy_group  # noqa: E402
from tui.cli_serve import COMMANDS as SERVE_COMMANDS  # noqa: E402
from tui.cli_sessions import credentials  # noqa: E402
from tui.cli_sessions import sessions as sessions_group  # noqa: E402
from tui.cli_transfer import export_command, import_command  # noqa: E402

cli.add_command(access_group)
cli.add_command(policy_group)
cli.add_command(sessions_group)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(credentials)
for _command in CREDENTIAL_COMMANDS:
    cli.add_command(_command)
for _command in SERVE_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    # Everything we create (database, WAL, backups, exports) is private to the user.
    os.umask(0o077)
    try:
        cli.main(prog_name="tui")
    except KeyboardInterrupt:
        click.echo("tui: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug of ours: one line for the user, the traceback only on request
        if os.environ.get("TUI_DEBUG"):
            raise
        click.echo(
            f"tui: internal error ({type(exc).__name__}); nothing more is shown so no secret can leak. "
            "Run again with TUI_DEBUG=1 to see the traceback, and report it.",
            err=True,
        )
        sys.exit(70)
