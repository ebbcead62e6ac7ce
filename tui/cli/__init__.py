"""The ``tui`` command: a thin click layer over ``store``. Parse, call, print.

The root group and the small commands live here; the others, one module per concept, in this package; what
they share (the Context, fail, the error-reporting group) in ``base.py``.

Nothing here imports textual at module level: scripts and ``credential_process`` call these commands and must
not pay for (or depend on) the console. Only ``tui console`` imports it, inside the command.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
import warnings
from pathlib import Path

import click

from store import audit
from store.db import file_problem
from store.locations import default_db_path
from store.names import quoted
from tui import __version__
from tui.cli.access import access as access_group
from tui.cli.base import CommandGroup, Context, FilePath, fail, pass_context, say, stream
from tui.cli.credentials import COMMANDS as CREDENTIAL_COMMANDS
from tui.cli.policy import policy as policy_group
from tui.cli.scim import scim as scim_group
from tui.cli.serve import COMMANDS as SERVE_COMMANDS
from tui.cli.sessions import credentials
from tui.cli.sessions import sessions as sessions_group
from tui.cli.transfer import export_command, import_command
from tui.crash import INTERNAL_ERROR, debugging, internal_error_line


@click.group(
    cls=CommandGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--db",
    "db",
    type=FilePath(dir_okay=False, path_type=Path),
    envvar="TUI_DB",
    help="The directory database file (default: $TUI_DB, else the user data folder).",
)
@click.option(
    "--key",
    "key",
    type=FilePath(dir_okay=False, path_type=Path),
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
def console(obj: Context, demo: bool) -> None:
    """Open the full-screen console."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # Without a terminal it drew escape codes into a file or a pipe and waited for keys that never come
        # (a script, cron, `tui > log`), having created the directory first.
        fail(
            "the console needs a terminal, and its input or output is not one (a pipe, a file, cron); "
            "scripts use the commands: tui --help",
            2,
        )
    from tui.app import run_console  # the only place textual is imported

    status = run_console(obj.db_path, demo=demo or obj.demo, key_path=obj.key_path)
    if status:
        sys.exit(status)


@cli.command()
@click.argument("file", type=FilePath(dir_okay=False, path_type=Path))
@pass_context
def backup(obj: Context, file: Path) -> None:
    """Write a consistent copy of the database (VACUUM INTO), mode 0600."""
    from store.backup import backup_database
    from store.files import refuse_own_files

    if str(file) == "-":  # click's name for standard output; a backup is a file (it made one named "-")
        raise click.BadParameter(
            "'-' is not a file name here: a backup is a database file", param_hint="FILE"
        )
    refuse_own_files(file, obj.db_path, obj.key_path)  # a copy named directory.db-wal is read as its WAL
    backup_database(obj.directory(), file)
    say(f"backup written to {file}")
    say(f"the key file ({obj.key_path}) is not in the backup: keep it safe separately", err=True)


@cli.group("audit", cls=CommandGroup)
def audit_group() -> None:
    """The hash-chained audit log."""


def _head(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A head as verify prints it (the event's number, a colon, 64 hex digits): anything else is a typo to
    name, not a log to call broken."""
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}:[0-9a-fA-F]{64}", value.strip()):
        raise click.BadParameter(  # quoted() escapes what a terminal must not get raw, once
            f"{quoted(value)} is not a head: give SEQ:HASH as tui audit verify printed it "
            "(the event's number, a colon, 64 hex digits)"
        )
    return value.strip().lower()  # hex, as pasted in either case


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result, with the log's head, as JSON.")
@click.option(
    "--expect-head",
    callback=_head,
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify: fail unless the log still holds that event unchanged "
    "(proves nothing was cut or rolled back since).",
)
@pass_context
def audit_verify(obj: Context, as_json: bool, expect_head: str | None) -> None:
    """Check the chain with the key file; name the first altered, deleted or reordered event, a cut tail or
    a wiped log. Exit 1 if broken. Record the head it prints somewhere else to check it later."""
    result = obj.directory().verify_audit(expect_head)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    elif result.ok:
        say(f"audit log intact: {result.events} events, head {result.head or '(empty)'}")
    else:
        say(f"audit log broken: {result.problem}", err=True)
    sys.exit(0 if result.ok else 1)


@audit_group.command("reseal")
@pass_context
def audit_reseal(obj: Context) -> None:
    """Seal the log's head with the key file again, after checking every event: for a directory made before
    tui keyed the head (verify then says the head was rewritten). Refused if any event does not verify."""
    directory = obj.directory()
    before = directory.verify_audit()
    if before.ok:
        say(f"audit log intact: {before.events} events, head {before.head}; nothing to reseal")
        return
    head = directory.reseal_audit()
    say(f"audit head sealed: {head}")
    say(
        "a cut made before this reseal cannot be detected: record this head somewhere else and check it "
        "later with tui audit verify --expect-head",
        err=True,
    )


@audit_group.command("digest")
@click.argument("file", type=FilePath(dir_okay=False, path_type=Path))
@pass_context
def audit_digest(obj: Context, file: Path) -> None:
    """The digest by which an import's audit event names FILE (file_digest), to find it in tui audit export.
    Keyed with the key file: the log never holds a plain hash of a file that may hold passwords."""
    import hashlib

    from store.textfile import read_limited

    directory = obj.directory()
    if directory.audit_key is None:
        fail("the directory is not initialised (tui init): its imports name their files by no digest")
    digest = audit.file_digest(directory.audit_key, hashlib.sha256(read_limited(file)).hexdigest())
    click.echo(digest)


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@pass_context
def audit_export(obj: Context, fmt: str) -> None:
    """Write every audit event to standard output, oldest first."""
    directory = obj.directory()
    with directory.db.read() as conn:
        rows = audit.events(conn)
        stream(audit.export_jsonl(rows) if fmt == "jsonl" else audit.export_csv(rows))


# The commands that live in their own modules of this package.
cli.add_command(access_group)
cli.add_command(policy_group)
cli.add_command(scim_group)
cli.add_command(sessions_group)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(credentials)
for _command in CREDENTIAL_COMMANDS:
    cli.add_command(_command)
for _command in SERVE_COMMANDS:
    cli.add_command(_command)


def _refuse_control_characters(arguments: list[str]) -> None:
    """No argument of tui holds a control character (C0, DEL, C1): none is a name, path or value tui can
    take, and a line break in a path broke the messages that quote it into lines of their own (hostile
    inputs). Refused before anything runs, the character named, exit 1 as for bytes that are not UTF-8."""
    for position, argument in enumerate(arguments, 1):
        found = next((ch for ch in argument if unicodedata.category(ch) == "Cc"), None)
        if found is not None:
            say(
                f"tui: argument {position} holds a control character (U+{ord(found):04X}): tui takes none in "
                "a name, path or value; nothing was changed",
                err=True,
            )
            sys.exit(1)


def main() -> None:
    # Everything we create (database, WAL, backups, exports) is private to the user.
    os.umask(0o077)
    if not debugging():
        # A library's warning is for its developers, printed with a path into site-packages and a line of its
        # source (passlib on an odd bcrypt salt in an imported hash): what matters to a person, tui says.
        warnings.simplefilter("ignore")
    _refuse_control_characters(sys.argv[1:])
    try:
        cli.main(prog_name="tui")
    except KeyboardInterrupt:
        click.echo("tui: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug of ours: one line for the user, the traceback only on request
        if debugging():
            raise
        problem = file_problem(exc)  # the file or the disk failed: what to check, not a bug to report
        if problem is not None:
            say(f"tui: {problem}; nothing was changed", err=True)
            sys.exit(1)
        if isinstance(exc, UnicodeDecodeError) or (
            isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason)
        ):
            # Bytes that are not UTF-8 in an argument or on standard input: read strictly, or reaching Python
            # as lone surrogates (surrogateescape), which no name or text in the directory can hold.
            say(
                "tui: a name or text given is not UTF-8 (it holds bytes that are not); nothing was changed",
                err=True,
            )
            sys.exit(1)
        click.echo(internal_error_line(exc), err=True)
        sys.exit(INTERNAL_ERROR)
