"""``tui scim``: SCIM 2.0 provisioning (issue 15): bearer tokens for identity providers.

    tui scim token create --source NAME [--expires P90D]   the token, once, as the last line of stdout
    tui scim token list [--json]                            metadata only: the token itself is never kept
    tui scim token revoke ID

Exit codes (SPEC §5): 0 done, 1 refused (unknown token, bad source or duration), 2 usage error.
Never imports textual.
"""

from __future__ import annotations

import json

import click

from store.scim_tokens import DEFAULT_EXPIRES
from tui.cli.access import _table
from tui.cli.base import CommandGroup, Context, pass_context
from tui.literal import visible


@click.group("scim", cls=CommandGroup)
def scim() -> None:
    """SCIM 2.0 provisioning: identity providers (Okta, Entra ID) push users and groups."""


@scim.group("token", cls=CommandGroup)
def token() -> None:
    """Bearer tokens: each acts for exactly one identity-provider source."""


@token.command("create")
@click.option("--source", required=True, metavar="NAME", help="The identity-provider source it acts for.")
@click.option(
    "--expires",
    default=DEFAULT_EXPIRES,
    show_default=True,
    metavar="DURATION",
    help="How long it stays valid (ISO-8601: P90D, P365D, PT12H).",
)
@pass_context
def token_create(obj: Context, source: str, expires: str) -> None:
    """Create a token; it is printed once, as the last line of stdout, and stored only as a hash."""
    new = obj.directory().scim_tokens.create(source, expires)
    click.echo(
        visible(
            f"SCIM token #{new.token.id} for source {new.token.source}, expires {new.token.expires_at}. "
            "It is shown once: give it to the identity provider now (Authorization: Bearer …)."
        ),
        err=True,
    )
    click.echo(new.bearer)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@pass_context
def token_list(obj: Context, as_json: bool) -> None:
    """Every token's source, status, expiry and last use (never the token itself)."""
    directory = obj.directory()
    now = directory.now_text()
    tokens = directory.scim_tokens.list()
    if as_json:
        click.echo(json.dumps({"tokens": [t.as_dict(now) for t in tokens]}))
        return
    if not tokens:
        click.echo("no SCIM tokens: create one with tui scim token create --source NAME")
        return
    rows = [
        [
            str(t.id),
            t.source,
            t.status(now),
            t.created_at,
            t.expires_at,
            t.last_used_at or "never",
            t.created_by,
        ]
        for t in tokens
    ]
    headers = ["ID", "SOURCE", "STATUS", "CREATED", "EXPIRES", "LAST USED", "BY"]
    for line in _table(rows, headers):
        click.echo(line)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@pass_context
def token_revoke(obj: Context, token_id: int) -> None:
    """Revoke a token: the identity provider's next request with it is refused (401)."""
    revoked = obj.directory().scim_tokens.revoke(token_id)
    click.echo(visible(f"revoked SCIM token #{revoked.id} of source {revoked.source}"))
