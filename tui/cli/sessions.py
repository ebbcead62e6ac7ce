"""``tui sessions``: issue, verify, list, revoke and sweep temporary credentials (SPEC §5)."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta

import click

from store.directory_json import json_refusal
from store.errors import ValidationError
from store.names import clipped, json_kind, quoted
from store.sessions import IssuedCredentials
from tui.cli.base import ROW_ID, AsciiInt, CommandGroup, Context, pass_context, say


def print_credentials(credentials: IssuedCredentials, fmt: str) -> None:
    """The one place secrets are written: to standard output, for the caller who asked for them."""
    if fmt == "env":
        click.echo("\n".join(credentials.env_lines()))
    elif fmt == "credential-process":
        click.echo(json.dumps(credentials.credential_process()))
    else:
        click.echo(
            json.dumps({**credentials.credential_process(), "SessionId": credentials.session_id}, indent=2)
        )


@click.group("sessions", cls=CommandGroup)
def sessions() -> None:
    """Temporary credentials: issue, verify, list, revoke, sweep."""


@sessions.command("issue")
@click.option("--user", "user_name", required=True, help="The user the credentials are for.")
@click.option("--account", "account_name", required=True, help="The account they act in.")
@click.option("--permission-set", "permission_set_name", required=True, help="The permission set assumed.")
@click.option(
    "--duration", help="PT1H, PT8H, 3600…: at most the permission set's session duration (default)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "env", "credential-process"]),
    default="json",
    show_default=True,
)
@pass_context
def issue(
    obj: Context, user_name: str, account_name: str, permission_set_name: str, duration: str | None, fmt: str
) -> None:
    """Issue credentials for an assignment the user holds (directly or through a group)."""
    directory = obj.directory()
    user = directory.users.get_by_name(user_name)
    account = directory.accounts.get_by_name(account_name)
    pset = directory.permission_sets.get_by_name(permission_set_name)
    print_credentials(directory.sessions.issue(user.id, account.id, pset.id, duration=duration), fmt)


_EXPECTED = '{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …, "SessionToken": …} of tui sessions issue'
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|\+00:00)")
VERIFY_INPUT_MAX = 1024 * 1024  # a credential_process document is a few hundred bytes


def _shown(value: object) -> str:
    """A presented value in a message: a string quoted with its control characters escaped, else its JSON."""
    if isinstance(value, str):
        return quoted(value)
    return clipped(json.dumps(value))


def _utc_time(text: str) -> bool:
    if not _UTC_TIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # 2027-02-30, 25:00
        return False
    return True


def _presented_credentials(data: bytes) -> tuple[str, str, str]:
    """The key id, secret and token of a credential_process document, or ValidationError saying what is
    wrong with it (the field named, its value shown escaped; a secret is never echoed)."""
    if len(data) > VERIFY_INPUT_MAX:
        raise ValidationError(
            f"standard input: more than {VERIFY_INPUT_MAX:,} bytes; expected the {_EXPECTED}"
        )
    try:
        presented = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, a syntax error, a 5,000-digit number, [[[[…
        why = (
            f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else json_refusal(exc)
        )
        raise ValidationError(f"standard input: not JSON ({why}); expected the {_EXPECTED}") from None
    if not isinstance(presented, dict):
        raise ValidationError(
            f"standard input: expected a JSON object, not {json_kind(presented)}: the {_EXPECTED}"
        )
    found: list[str] = []
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        value = presented.get(name)
        if name not in presented:
            raise ValidationError(f"standard input: {name} is missing", name)
        if not isinstance(value, str):
            raise ValidationError(f"standard input: {name} must be a string, not {json_kind(value)}", name)
        found.append(value)
    key_id, secret, token = found
    if not token:
        raise ValidationError("standard input: SessionToken is empty", "SessionToken")
    if not key_id.isascii():
        raise ValidationError(f"standard input: AccessKeyId {_shown(key_id)} is not ASCII", "AccessKeyId")
    version = presented.get("Version", 1)
    if type(version) is not int or version != 1:  # true == 1 in Python: a boolean is not the number 1
        raise ValidationError(
            "standard input: Version must be the number 1 (the credential_process format), not "
            f"{_shown(version)}",
            "Version",
        )
    if "Expiration" in presented:
        expiration = presented["Expiration"]
        if not isinstance(expiration, str) or not _utc_time(expiration):
            raise ValidationError(
                "standard input: Expiration must be an ISO 8601 time in UTC (YYYY-MM-DDTHH:MM:SSZ), not "
                f"{_shown(expiration)}",
                "Expiration",
            )
    return key_id, secret, token


@sessions.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print why, as JSON (a refused input too).")
@pass_context
def verify(obj: Context, as_json: bool) -> None:
    """Check credentials (credential_process JSON on standard input): exit 0 valid, 1 not.

    The input is refused as malformed (exit 1) when it is not that JSON: Version, when given, must be 1 and
    Expiration an ISO 8601 time in UTC. With --json the refusal is printed too:
    {"valid": false, "reason": "malformed", "message": ...}."""
    try:
        key_id, secret, token = _presented_credentials(sys.stdin.buffer.read(VERIFY_INPUT_MAX + 1))
    except ValidationError as refused:
        if as_json:
            click.echo(json.dumps({"valid": False, "reason": "malformed", "message": refused.message}))
        raise
    sessions_service = obj.directory().sessions
    result = sessions_service.verify(key_id, secret, token)
    described = sessions_service.describe(result)
    if as_json:
        click.echo(json.dumps(described))
    elif result.valid:
        say(
            f"valid: {described['user']} as {described['permission_set']} in {described['account']} "
            f"until {described['expires_at']}"
        )
    else:
        say(f"invalid: {result.reason}", err=True)
    sys.exit(0 if result.valid else 1)


@sessions.command("list")
@click.option("--active", is_flag=True, help="Only sessions that are neither expired nor revoked.")
@click.option("--user", "user_name", help="Only this user's sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def list_sessions(obj: Context, active: bool, user_name: str | None, as_json: bool) -> None:
    """Sessions, newest first (no secrets: key ids, who, where, until when)."""
    directory = obj.directory()
    user_id = directory.users.get_by_name(user_name).id if user_name else None
    now = directory.now_text()
    rows, after = [], None
    while True:
        page = directory.sessions.list(active_only=active, user_id=user_id, after=after, limit=1000)
        rows.extend(page.items)
        if page.next_after is None:
            break
        after = page.next_after
    if as_json:
        click.echo(json.dumps([s.as_dict(now) for s in rows], indent=2))
        return
    for s in rows:
        say(
            f"{s.id:>6}  {s.access_key_id}  {s.state(now):<8} {s.user_name}  {s.permission_set_name} in "
            f"{s.account_name}  until {s.expires_at}"
        )
    click.echo(f"{len(rows)} session(s)", err=True)


@sessions.command("revoke")
@click.option("--id", "session_id", type=ROW_ID, help="One session.")
@click.option("--user", "user_name", help="Every live session of this user.")
@click.option("--account", "account_name", help="Every live session in this account.")
@click.option("--permission-set", "permission_set_name", help="Every live session of this permission set.")
@click.option("--all", "everything", is_flag=True, help="Every live session.")
@pass_context
def revoke(
    obj: Context,
    session_id: int | None,
    user_name: str | None,
    account_name: str | None,
    permission_set_name: str | None,
    everything: bool,
) -> None:
    """Revoke credentials now: they stop verifying at once."""
    chosen = [x for x in (session_id, user_name, account_name, permission_set_name) if x is not None]
    if len(chosen) + int(everything) != 1:
        raise click.UsageError("give exactly one of --id, --user, --account, --permission-set, --all")
    d = obj.directory()
    if session_id is not None:
        count = d.sessions.revoke(session_id)
    elif user_name is not None:
        count = d.sessions.revoke_user(d.users.get_by_name(user_name).id)
    elif account_name is not None:
        count = d.sessions.revoke_account(d.accounts.get_by_name(account_name).id)
    elif permission_set_name is not None:
        count = d.sessions.revoke_permission_set(d.permission_sets.get_by_name(permission_set_name).id)
    else:
        count = d.sessions.revoke_all()
    click.echo(f"revoked {count} session(s)")


@sessions.command("sweep")
@click.option(
    "--retention-days",
    type=AsciiInt(0, 36_500),  # a century: older than any session tui issues
    default=7,
    show_default=True,
    help="Keep expired and revoked sessions this long (for the record), then delete them.",
)
@pass_context
def sweep(obj: Context, retention_days: int) -> None:
    """Delete sessions that expired or were revoked more than the retention period ago."""
    count = obj.directory().sessions.sweep(timedelta(days=retention_days))
    click.echo(f"swept {count} session(s)")


@click.command("credentials")
@click.option("--account", "account_name", required=True, help="The account to act in.")
@click.option("--permission-set", "permission_set_name", required=True, help="The permission set to assume.")
@click.option("--duration", help="PT1H, 3600…: at most the permission set's session duration (default).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["credential-process", "env", "json"]),
    default="credential-process",
    show_default=True,
)
@pass_context
def credentials(
    obj: Context, account_name: str, permission_set_name: str, duration: str | None, fmt: str
) -> None:
    """Temporary credentials for the signed-in user (tui login), for the AWS CLI's credential_process:

    credential_process = tui credentials --account prod --permission-set ReadOnly

    The same credentials come back while they have more than 15 minutes left; then fresh ones are issued
    (the old ones stay valid until their own expiry)."""
    from store.credential_cache import cache_path, credentials_for
    from store.portal import cached_sign_in

    directory = obj.directory()
    signed_in = cached_sign_in(directory, obj.db_path)
    directory.actor = signed_in.actor()
    account = directory.accounts.get_by_name(account_name)
    pset = directory.permission_sets.get_by_name(permission_set_name)
    if signed_in.user_id is None:
        raise ValidationError("this sign-in names no user")
    path = cache_path(obj.db_path, signed_in.user_name, account.name, pset.name)
    # Only while the sign-in lasts: one ended after the cache was read (a sign-out elsewhere, a reset, a
    # disable) issues nothing.
    with directory.acting_under(signed_in):
        issued, _ = credentials_for(
            directory, path, signed_in.user_id, account.id, pset.id, duration=duration, mfa=signed_in.mfa
        )
    print_credentials(issued, fmt)
