"""``tui import`` and ``tui export``: whole-directory documents in and out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from store.files import write_private
from tui.cli import Context, fail, pass_context, reports_errors


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (mode 0600) instead of standard output.")
@pass_context
@reports_errors
def export_command(obj: Context, fmt: str, output: Path | None) -> None:
    """Export the whole directory (users, groups, memberships, accounts, permission sets, assignments)."""
    from store.directory_json import export_document

    text = json.dumps(export_document(obj.directory()), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_private(output, text.encode())


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "json"]), default="auto", show_default=True,
              help="Input format; auto looks at the file.")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and outcome as JSON.")
@pass_context
@reports_errors
def import_command(obj: Context, file: Path, fmt: str, dry_run: bool, as_json: bool) -> None:
    """Import a file: validate all of it, then apply it in one transaction (or change nothing)."""
    from store.directory_json import read_document
    from store.importer import import_document
    from store.textfile import decode_utf8, read_limited

    raw = read_limited(file)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        decode_utf8(raw, str(file))  # refuses UTF-16, saying how to convert it
    if fmt == "auto" and not raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        fail(f"{file}: cannot tell the format (only whole-directory JSON is supported so far); use --format")
    document = read_document(raw, str(file))
    result = import_document(obj.directory(), document, file_name=str(file), raw=raw, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"file": str(file), "sha256": result.sha256, "dry_run": dry_run,
                               "applied": result.applied, "changes_nothing": result.plan.changes_nothing,
                               "plan": result.plan.as_dict()}, indent=2))
        return
    if result.plan.changes_nothing:
        click.echo(f"{file}: nothing to change: the directory already matches it")
        return
    for line in result.plan.describe():
        click.echo(line)
    click.echo("dry run: nothing was changed" if dry_run else f"applied (import batch {result.batch_id})")
