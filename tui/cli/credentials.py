"""``tui init``, ``tui login``/``logout``, ``tui report credentials`` and ``tui password-policy``.

Thin click over ``store.identity``, ``store.sign_in``, ``store.credentials``, ``store.portal`` and
``store.credential_report``. Never imports textual. Secrets reach standard output only where the person asked
for them (the new authenticator's QR code and secret, recovery codes shown once); never stderr, never a log.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from store.audit import Actor
from store.credentials import TotpEnrolment, check_code_step
from store.crypto import PasswordPolicy, load_key, qr_text
from store.directory import Directory
from store.errors import StoreError, ValidationError
from store.files import refuse_own_files, write_private
from store.identity import check_key_path, has_root, initialise, new_root_enrolment
from store.names import quoted
from store.password_policy import describe_policy, policy_as_dict, policy_from_dict
from store.portal import forget_login, load_login, login_cache_path, save_login
from store.users import ROOT_NAME
from tui.cli.base import AsciiInt, CommandGroup, Context, FilePath, fail, pass_context, say, stream

MAX_TRIES = 5


def _interactive() -> bool:
    return sys.stdin.isatty()


def read_password_stdin() -> str:
    """The first line of standard input, without its line ending (a password may hold spaces)."""
    try:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        # Bytes that are not UTF-8 fail to decode (most UTF-8 locales) or arrive as lone surrogates (the C and
        # C.UTF-8 locales' surrogateescape), which no text can be encoded from.
        password.encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise ValidationError(
            "the password on standard input is not UTF-8 text (convert it, e.g. with iconv)", "password"
        ) from None
    if not password:
        raise ValidationError(
            "no password on standard input (--password-stdin reads its first line)", "password"
        )
    return password


def prompt_new_password(user_name: str, check: Callable[[str], list[str]]) -> str:
    """Ask twice until the two agree and the policy accepts it, saying why it refuses."""
    for _ in range(MAX_TRIES):
        password = click.prompt(f"New password for {user_name}", hide_input=True, err=True)
        reasons = check(password)
        if reasons:
            click.echo("Refused: " + " ".join(reasons), err=True)
            continue
        again = click.prompt("Repeat the password", hide_input=True, err=True)
        if again != password:
            click.echo("The two passwords differ; try again.", err=True)
            continue
        return str(password)
    raise ValidationError(
        "password: no acceptable password after several tries; nothing was changed", "password"
    )


def show_enrolment(enrolment: TotpEnrolment, *, with_secret: bool = True) -> None:
    """The QR code and base32 secret of a new authenticator, on standard output (the person's terminal)."""
    click.echo("Scan this QR code with an authenticator app (or type the secret shown below it):")
    click.echo(qr_text(enrolment.uri))
    if with_secret:
        click.echo(f"secret: {enrolment.grouped_secret}")
        click.echo(f"uri:    {enrolment.uri}")


def prompt_code(enrolment: TotpEnrolment, directory: Directory) -> str:
    """Ask for a current code until one matches (proves the app holds the secret)."""
    for _ in range(MAX_TRIES):
        code = click.prompt("Code shown by the app now", err=True).strip()
        try:
            check_code_step(enrolment.secret, code, directory.clock(), None)
            return str(code)
        except ValidationError as exc:
            say(exc.message.removeprefix("code: "), err=True)
    raise ValidationError("code: no matching code after several tries; nothing was changed", "code")


def show_recovery_codes(codes: list[str], user_name: str) -> None:
    say(
        f"Recovery codes for {user_name}: each signs in once instead of a code, for when the "
        "authenticator is lost. They are shown only now: print them or keep them offline."
    )
    for first, second in zip(codes[0::2], codes[1::2], strict=True):  # always ten codes
        click.echo(f"    {first}    {second}")


# --- init -------------------------------------------------------------------------------------------------


@click.command("init")
@click.option(
    "--password-stdin", is_flag=True, help="Read root's password from the first line of standard input."
)
@click.option(
    "--totp-secret-file",
    type=FilePath(dir_okay=False, path_type=Path),
    help="Write root's TOTP secret (base32) to this new file, mode 0600, instead of showing it.",
)
@pass_context
def init_command(obj: Context, password_stdin: bool, totp_secret_file: Path | None) -> None:
    """Create the directory and its root identity: password, TOTP authenticator, 10 recovery codes, and the
    key file (0600) that seals secrets and keys the audit log. Refused if the directory already has root."""
    if totp_secret_file is not None:
        refuse_own_files(totp_secret_file, obj.db_path, obj.key_path)  # it said "not a tui key file"
    if obj.key_path.exists() or obj.key_path.is_symlink():
        load_key(obj.key_path)  # a key file that cannot be used is refused before a database is created
    directory = obj.directory(new_is_expected=True)
    try:
        _init(obj, directory, password_stdin, totp_secret_file)
    except BaseException:
        _remove_new_database(obj, directory)
        raise


def _remove_new_database(obj: Context, directory: Directory) -> None:
    """A refused init leaves the folder as it was: the database file this run created (with the folders it
    created for it) goes again. Left alone when another process uses it meanwhile (its -wal/-shm outlive our
    connection) or finished an init in it."""
    created = directory.db.created
    if not created:
        return
    try:
        if has_root(directory):
            return
    except StoreError:
        return
    obj.close()
    db = Path(obj.db_path)
    if any(db.with_name(db.name + suffix).exists() for suffix in ("-wal", "-shm", "-journal")):
        return
    for path in reversed(created):
        try:
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        except OSError:
            return  # a folder someone else put something in meanwhile: keep it


def _init(obj: Context, directory: Directory, password_stdin: bool, totp_secret_file: Path | None) -> None:
    if has_root(directory):
        fail(f"{obj.db_path} is already initialised (it has a root identity); nothing was changed")
    if totp_secret_file is not None:
        if totp_secret_file.exists() or totp_secret_file.is_symlink():
            fail(f"{totp_secret_file} already exists; choose a new file for the TOTP secret")
        if not totp_secret_file.parent.is_dir():
            fail(f"{totp_secret_file}: the folder {totp_secret_file.parent} does not exist")
    check_key_path(directory, obj.key_path)
    interactive = not password_stdin and _interactive()
    if password_stdin:
        password = read_password_stdin()
        reasons = directory.password_policy.check(password, ROOT_NAME)
        if reasons:
            raise ValidationError("password: " + " ".join(reasons), "password")
    elif interactive:
        password = prompt_new_password(ROOT_NAME, lambda p: directory.password_policy.check(p, ROOT_NAME))
    else:
        fail("no terminal to ask for root's password: pass it on standard input with --password-stdin")
    enrolment = new_root_enrolment()
    code = None
    if totp_secret_file is None:
        show_enrolment(enrolment)
    else:
        write_private(totp_secret_file, (enrolment.secret + "\n").encode("ascii"))
    try:
        if interactive:
            code = prompt_code(enrolment, directory)
        created = initialise(directory, password, enrolment, code=code, key_path=obj.key_path)
    except BaseException:
        if totp_secret_file is not None:
            totp_secret_file.unlink(missing_ok=True)
        raise
    if totp_secret_file is not None:
        say(f"root's TOTP secret: written to {totp_secret_file} (mode 0600)")
    show_recovery_codes(created.recovery_codes, ROOT_NAME)
    say(
        f"key file: {created.key_path} (mode 0600{', created' if created.key_created else ''}). Keep it "
        "safe and apart from database backups: without it the directory cannot be opened."
    )
    say(f"root created in {obj.db_path}. Sign in with: tui login --user root, or open the console.")


# --- login / logout ---------------------------------------------------------------------------------------


@click.command("login")
@click.option("--user", "user_name", help="Who signs in (asked when not given).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)
@click.option("--code", help="The authenticator's current code, or a recovery code (asked when not given).")
@pass_context
def login_command(obj: Context, user_name: str | None, password_stdin: bool, code: str | None) -> None:
    """Sign in with password and code, and cache the sign-in (0600) for commands that act as you."""
    interactive = _interactive() and not password_stdin
    if user_name is None:
        if not _interactive():
            fail("--user is required when there is no terminal to ask on", 2)
        user_name = str(click.prompt("User name", err=True)).strip()
    directory = obj.directory()
    if password_stdin:
        password = read_password_stdin()
    elif _interactive():
        password = str(click.prompt("Password", hide_input=True, err=True))
    else:
        fail("no terminal to ask for the password: pass it on standard input with --password-stdin")
    if code is None:
        code = (
            str(
                click.prompt(
                    "Code (6 digits, or a recovery code; empty without an authenticator)",
                    default="",
                    show_default=False,
                    err=True,
                )
            )
            if interactive
            else ""
        )
    sign_in = directory.sign_in.attempt(user_name, password, code, client="cli")
    directory.actor = Actor(sign_in.user.user_name, "cli")
    user = sign_in.user
    if sign_in.must_change_password:
        if not interactive:
            fail(
                f"{user.user_name} must choose a new password first: run tui login in a terminal, or sign in "
                "to the console"
            )
        click.echo("Your password must be changed before you continue.", err=True)
        new = prompt_new_password(
            user.user_name, lambda p: directory.password_policy.check(p, user.user_name)
        )
        directory.credentials.complete_password_change(user.id, new, proof=sign_in)
    if sign_in.must_enrol_totp:
        if not interactive:
            fail(
                f"{user.user_name} signed in with a recovery code and must enrol a new authenticator: run "
                "tui login in a terminal, or sign in to the console (the recovery code was not used up)"
            )
        click.echo("You signed in with a recovery code: enrol a new authenticator now.", err=True)
        enrolment = directory.credentials.begin_totp(user.id, proof=sign_in)
        show_enrolment(enrolment)
        new_code = prompt_code(enrolment, directory)
        show_recovery_codes(
            directory.credentials.confirm_totp(user.id, enrolment.secret, new_code, recovering=sign_in),
            user.user_name,
        )
    signed_in = directory.portal.issue(sign_in)
    path = login_cache_path(obj.db_path)
    save_login(path, obj.db_path, signed_in)
    how = "with MFA" if signed_in.mfa else "without MFA"
    say(f"signed in as {signed_in.user_name} ({how}) until {signed_in.expires_at}; sign-in kept in {path}")


@click.command("logout")
@pass_context
def logout_command(obj: Context) -> None:
    """End the sign-in tui login cached for this directory."""
    path = login_cache_path(obj.db_path)
    cached = load_login(path)
    if cached is None:
        click.echo("not signed in")
        return
    obj.directory().portal.revoke(cached.token, "signed out")
    forget_login(path)
    say(f"signed out {cached.user_name}")


# --- report -----------------------------------------------------------------------------------------------


@click.group("report", cls=CommandGroup)
def report_group() -> None:
    """Reports about the directory."""


@report_group.command("credentials")
@pass_context
def report_credentials(obj: Context) -> None:
    """IAM-style credential report (CSV, root's row first): passwords, MFA and access keys of every user."""
    from store.credential_report import credential_report_csv

    stream(credential_report_csv(obj.directory()))


# --- password policy --------------------------------------------------------------------------------------


@click.group("password-policy", cls=CommandGroup)
def password_policy_group() -> None:
    """The directory's password policy (IAM's settings; NIST defaults)."""


@password_policy_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
@pass_context
def policy_show(obj: Context, as_json: bool) -> None:
    """Print the password policy in force."""
    stored = obj.directory().password_policy.current()
    if as_json:
        click.echo(json.dumps({**policy_as_dict(stored.policy), "version": stored.version}))
        return
    for line in describe_policy(stored.policy):
        click.echo(line)


def _max_age(value: str | None) -> Any:
    """'none' (or 'never'), or a whole number of days in ASCII digits, which the policy checks: 0 is
    refused as -1 is (it silently meant "never expires"); "１２" and "1_0", which int() reads, are not
    numbers here."""
    if value is None:
        return None
    if value.strip().lower() in ("none", "never"):
        return "none"
    text = value.strip(" \t")  # str.strip() would take U+3000 IDEOGRAPHIC SPACE too
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise click.BadParameter(
            f"{quoted(value)} is not a number of days or 'none'", param_hint="--max-age-days"
        )
    if len(text.lstrip("+-").lstrip("0")) > 9:  # far past 1,095 either way; int() refuses 4,300 digits
        return -(10**9) if text.startswith("-") else 10**9
    return int(text)


@password_policy_group.command("set")
@click.option("--minimum-length", type=AsciiInt(), help="Fewest characters (6-128; NIST: 12 or more).")
@click.option("--require-symbols/--no-require-symbols", default=None)
@click.option("--require-numbers/--no-require-numbers", default=None)
@click.option("--require-uppercase/--no-require-uppercase", default=None)
@click.option("--require-lowercase/--no-require-lowercase", default=None)
@click.option("--max-age-days", help="Days until a password expires (1-1095), or 'none' (NIST: none).")
@click.option(
    "--hard-expiry/--no-hard-expiry",
    default=None,
    help="Expired passwords need an administrator's reset (else users change them at sign-in).",
)
@click.option(
    "--reuse-prevention", type=AsciiInt(), help="How many previous passwords may not be used again (0-24)."
)
@click.option(
    "--blocklist/--no-blocklist",
    "check_blocklist",
    default=None,
    help="Refuse common passwords (on by default).",
)
@click.option("--defaults", is_flag=True, help="Start from the NIST defaults instead of the current policy.")
@pass_context
def policy_set(obj: Context, defaults: bool, max_age_days: str | None, **changes: Any) -> None:
    """Change some settings of the password policy; the others keep their values."""
    service = obj.directory().password_policy
    stored = service.current()
    values = policy_as_dict(PasswordPolicy() if defaults else stored.policy)
    values.update({name: value for name, value in changes.items() if value is not None})
    age = _max_age(max_age_days)
    if age is not None:
        values["max_age_days"] = None if age == "none" else age
    try:
        policy = policy_from_dict(values)
    except StoreError as exc:
        fail(exc.message)
    service.set(policy, stored.version)
    for line in describe_policy(policy):
        click.echo(line)


COMMANDS = [init_command, login_command, logout_command, report_group, password_policy_group]
