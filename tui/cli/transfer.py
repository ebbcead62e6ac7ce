"""``tui import`` and ``tui export``: identities and whole directories in and out.

Thin: read the file (``store.textfile``), read its format (``store.formats``), hand it to ``store.importer``,
print the plan. Never imports textual; rich (for the progress bar) only when a bar is shown.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click

from store.directory import Directory
from store.files import refuse_own_files, write_private
from tui.cli.base import Context, FilePath, output_file, pass_context, say, stream

FORMAT_CHOICES = ["auto", "csv", "json", "scim", "entra", "okta", "google"]
# Below this size an import takes well under a second: no progress bar.
PROGRESS_MIN_BYTES = 1024 * 1024
PHASES = {
    "read": "Reading",
    "check": "Checking",
    "plan": "Planning",
    "hash": "Hashing passwords",
    "write": "Writing",
}


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "scim", "csv"]),
    default="json",
    show_default=True,
    help="json: the whole directory; scim: users and groups as a SCIM ListResponse; csv: users "
    "(SCIM attribute columns, groups joined with ';').",
)
@click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False, path_type=Path),
    help='Write to this file (mode 0600) instead of standard output ("-": standard output).',
)
@pass_context
def export_command(obj: Context, fmt: str, output: Path | None) -> None:
    """Export the directory: users, groups and memberships (json also: accounts, policies, permission sets,
    assignments). Every export imports back as it was (`tui import`)."""
    output = output_file(output)
    if output is not None:
        refuse_own_files(output, obj.db_path, obj.key_path)
    directory = obj.directory()
    chunks: Iterator[str]
    if fmt == "json":
        from store.directory_json import export_document
        from store.names import escape_json

        document = json.dumps(export_document(directory), indent=2, ensure_ascii=False)
        chunks = iter([escape_json(document) + "\n"])  # C1 and bidi controls as \u escapes, the rest readable
    elif fmt == "scim":
        from store.formats import scim

        chunks = scim.iter_export(directory)
    else:
        from store.formats import csv_scim

        chunks = csv_scim.export(directory)
    if output is None:
        stream(chunks)
    else:
        write_private(output, "".join(chunks).encode())


def _source_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from store.errors import ValidationError
    from store.importer import check_source

    if value is None:
        return None
    try:
        return check_source(value)
    except ValidationError as exc:
        raise click.BadParameter(exc.message.removeprefix("source: ")) from None


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr, or None."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(PHASES.get(phase, phase), total=max(total, 1))
        progress.update(tasks[phase], completed=done, total=max(total, 1))

    with progress:
        yield update


@click.command("import")
@click.argument("file", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_CHOICES),
    default="auto",
    show_default=True,
    help="Input format; auto tells it from the file and says what it found.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (what would be created, updated, disabled) and change nothing.",
)
@click.option(
    "--sync",
    is_flag=True,
    help="Make the directory match the file for --source: also disable its users "
    "and remove its memberships that the file no longer has (never deletes; "
    "local users and root are never touched).",
)
@click.option(
    "--source",
    callback=_source_option,
    metavar="NAME",
    help="The identity provider the file comes from (e.g. okta); required with --sync. Default: local "
    "for csv and json, else the format's name.",
)
@click.option(
    "--allow-mass-disable",
    is_flag=True,
    help="Let a sync disable more than 10% of the source's active users.",
)
@click.option(
    "--allow-admin-changes",
    is_flag=True,
    help="Let the file add members to the admin group (each makes an administrator). Without it such an "
    "import is refused.",
)
@click.option(
    "--with-passwords",
    is_flag=True,
    help="Hash cleartext initial passwords (in parallel worker processes); the users must change them "
    "at first sign-in. Without it they are dropped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan and outcome as one JSON document.")
@pass_context
def import_command(
    obj: Context,
    file: Path,
    fmt: str,
    dry_run: bool,
    sync: bool,
    source: str | None,
    allow_mass_disable: bool,
    allow_admin_changes: bool,
    with_passwords: bool,
    as_json: bool,
) -> None:
    """Import users and groups (or a whole directory): validate all of FILE, then apply it in one transaction,
    or change nothing and list every problem with its line or JSON path."""
    from store.errors import ValidationError
    from store.formats import read_file
    from store.importer import ImportRefused, import_document
    from store.textfile import read_limited

    if sync and source is None:
        raise click.UsageError("--sync needs --source NAME: the identity provider whose users the file lists")
    try:
        raw = read_limited(file)
    except ValidationError as exc:
        raise ValidationError(f"{exc.message}\nnothing was changed") from None
    show_bar = (
        not as_json
        and len(raw) >= PROGRESS_MIN_BYTES
        and sys.stderr.isatty()
        and os.environ.get("TERM") != "dumb"
    )
    with _progress_bar(show_bar) as progress:
        try:
            reading = read_file(raw, str(file), fmt, progress)
        except ValidationError as exc:
            raise ValidationError(f"{exc.message}\nnothing was changed") from None
        del raw  # the reading has the file's digest: its bytes are not kept beside the document (19 MB)
        # A dry run against a path with no directory plans against an empty one in memory: it made the file.
        planned_only = dry_run and not os.path.lexists(obj.db_path)
        try:
            with Directory.open(":memory:") if planned_only else nullcontext(obj.directory()) as directory:
                result = import_document(
                    directory,
                    reading.document,
                    file_name=str(file),
                    sha256=reading.sha256,
                    source=source,
                    dry_run=dry_run,
                    sync=sync,
                    allow_mass_disable=allow_mass_disable,
                    allow_admin_changes=allow_admin_changes,
                    with_passwords=with_passwords,
                    format_name=reading.format,
                    progress=progress,
                )
        except ImportRefused:
            if not as_json:
                say(reading.describe(), err=True)
            raise
    plan = result.plan
    if as_json:
        report = {
            "file": str(file),
            "format": reading.format,
            "detected": reading.detected,
            "description": reading.document.description,
            "dry_run": dry_run,
            "sync": sync,
            **result.as_dict(),
            "changes": {
                name: {
                    "create": list(section.create),
                    "update": section.update,
                    **({section.retire_word: section.retire} if section.retire_word else {}),
                }
                for name, section in plan.sections().items()
            },
        }
        from store.names import escape_json

        # File names and entry names in it come from the file: C1 and bidi controls as \u escapes.
        click.echo(escape_json(json.dumps(report, indent=2, ensure_ascii=False)))
        return
    say(reading.describe())
    for notice in plan.notices:
        say(f"tui: note: {notice}", err=True)
    if plan.changes_nothing:
        say(f"{file}: nothing to change: the directory already matches it")
        return
    for line in plan.describe():
        say(line)
    if plan.blocked:
        say(f"tui: this {'sync' if sync else 'import'} would be refused: {plan.blocked}", err=True)
    click.echo("dry run: nothing was changed" if dry_run else f"applied (import batch {result.batch_id})")
