"""``tui access``: effective access with the path that grants it, the reverse, and the access matrix.

    tui access --user U [--account A] [--json]          what U holds (and what no longer applies, and why)
    tui access who --account A [--permission-set P] [--json]   who reaches A (with P), through what
    tui access matrix --format csv [--output FILE]      users × accounts → permission sets, streamed

Exit codes (SPEC §5): 0 answered, 1 refused (unknown user, account or permission set), 2 usage error.
Never imports textual.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from store.access import Grant, effective_access, moment, who_can_reach, write_access_matrix_csv
from store.files import private_text_writer, refuse_own_files
from tui.cli.base import CommandGroup, Context, FilePath, output_file, pass_context, say
from tui.literal import visible


def _table(rows: list[list[str]], headers: list[str]) -> list[str]:
    """Plain aligned columns; every cell made printable (names come from imports and other admins)."""
    cells = [[visible(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _until(grant: Grant) -> str:
    return "never expires" if grant.expires_at is None else f"until {moment(grant.expires_at)}"


@click.group("access", invoke_without_command=True, cls=CommandGroup)
@click.option("--user", "user_name", metavar="U", help="The user whose access to show.")
@click.option("--account", "account_name", metavar="A", help="Only this account.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def access(ctx: click.Context, user_name: str | None, account_name: str | None, as_json: bool) -> None:
    """Effective access: which permission sets a user holds in which accounts, and the path that grants each
    (a direct assignment, or group X). Paths that no longer apply are listed too, with why (an expired
    assignment or membership, a disabled user or account)."""
    if ctx.invoked_subcommand is not None:
        if user_name or account_name or as_json:
            raise click.UsageError("--user, --account and --json go after the subcommand, or without one")
        return
    if not user_name:
        raise click.UsageError(
            "say whose access to show: tui access --user U (or: tui access matrix, "
            "tui access who --account A)"
        )
    _show_user(ctx.obj, user_name, account_name, as_json)


def _show_user(obj: Context, user_name: str, account_name: str | None, as_json: bool) -> None:
    directory = obj.directory()
    user = directory.users.get_by_name(user_name)
    account = directory.accounts.get_by_name(account_name) if account_name else None
    result = effective_access(directory, user.id, account_id=account.id if account else None)
    if as_json:
        document = result.to_json()
        document["account"] = account.name if account else None
        click.echo(json.dumps(document))
        return
    where = f" in {account.name}" if account else ""
    if user.is_root:
        click.echo(
            visible(
                f"{user.user_name} is the directory's root identity: it holds no assignments "
                "(sign in as an admin user for access)"
            )
        )
        return
    status = "" if user.active else " (disabled: nothing applies)"
    applying = result.applying
    sets = len({grant.permission_set_id for grant in applying})
    accounts = len({grant.account_id for grant in applying})
    click.echo(
        visible(
            f"{user.user_name}{status}: {sets} permission set{'s' if sets != 1 else ''} in {accounts} "
            f"account{'s' if accounts != 1 else ''}{where}"
        )
    )
    if applying:
        click.echo(
            "\n".join(
                _table(
                    [[g.account_name, g.permission_set_name, g.granted_by, _until(g)] for g in applying],
                    ["ACCOUNT", "PERMISSION SET", "GRANTED BY", "EXPIRES"],
                )
            )
        )
    others = result.not_applying
    if others:
        click.echo(f"\nnot applying ({len(others)}):")
        click.echo(
            "\n".join(
                _table(
                    [[g.account_name, g.permission_set_name, g.granted_by, g.why_not] for g in others],
                    ["ACCOUNT", "PERMISSION SET", "GRANTED BY", "WHY NOT"],
                )
            )
        )


@access.command("who")
@click.option("--account", "account_name", required=True, metavar="A", help="The account.")
@click.option("--permission-set", "set_name", metavar="P", help="Only this permission set.")
@click.option(
    "--all",
    "include_inactive",
    is_flag=True,
    help="Also list paths that do not apply now (expired, disabled), with why.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@pass_context
def who(obj: Context, account_name: str, set_name: str | None, include_inactive: bool, as_json: bool) -> None:
    """Who can reach account A (with permission set P), and through what: the reverse of --user."""
    directory = obj.directory()
    account = directory.accounts.get_by_name(account_name)
    pset = directory.permission_sets.get_by_name(set_name) if set_name else None
    grants = who_can_reach(
        directory, account.id, permission_set_id=pset.id if pset else None, include_inactive=include_inactive
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "account": account.name,
                    "permission_set": pset.name if pset else None,
                    "access": [grant.to_json() for grant in grants],
                }
            )
        )
        return
    users = len({grant.user_id for grant in grants if grant.applies})
    what = f" with {pset.name}" if pset else ""
    click.echo(visible(f"{account.name}{what}: {users} user{'s' if users != 1 else ''} can reach it"))
    if grants:
        click.echo(
            "\n".join(
                _table(
                    [
                        [
                            g.user_name,
                            g.permission_set_name,
                            g.granted_by,
                            _until(g) if g.applies else f"not applying: {g.why_not}",
                        ]
                        for g in grants
                    ],
                    ["USER", "PERMISSION SET", "GRANTED BY", "EXPIRES"],
                )
            )
        )


@access.command("matrix")
@click.option(
    "--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True, help="Output format."
)
@click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False, path_type=Path),
    help='Write to this file (mode 0600) instead of standard output ("-": standard output).',
)
@pass_context
def matrix(obj: Context, fmt: str, output: Path | None) -> None:
    """Users × accounts → the permission sets that apply now, as CSV: a row per user (userName, status, then a
    column per account; several sets joined with ';'). Cells a spreadsheet would run as formulas are
    neutralised. Streams, so 100,000 users need no more memory than ten."""
    output = output_file(output)
    if output is not None:
        refuse_own_files(output, obj.db_path, obj.key_path)
    directory = obj.directory()
    if output is None:
        write_access_matrix_csv(directory, sys.stdout)  # click.get_text_stream is deprecated in click 8.5
        sys.stdout.flush()  # a reader that left early (| head) is CommandGroup's
        return
    with private_text_writer(output) as handle:
        count = write_access_matrix_csv(directory, handle)
    say(f"access matrix of {count} users written to {output}", err=True)
