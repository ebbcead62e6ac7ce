"""``tui policy validate`` and ``tui policy simulate``: the policy language from the command line.

A thin layer over ``store.policy``; registered into the main command with ``cli.add_command(policy)``.
Never imports textual (scripts call it). Exit codes: 0 done (whatever the decision), 1 refused (invalid
policy, unreadable file), 2 usage error. Errors go to stderr as one line, never as a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click

from store.errors import ValidationError
from store.names import quoted
from store.policy import (
    ALLOW,
    EXPLICIT_DENY,
    INLINE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    CompiledPolicySet,
    Decision,
    PolicyDocument,
    PolicyProblem,
    RequestContext,
    compile_policies,
    evaluate_with_boundary,
    parse_policy,
    validate_policy,
)
from store.policy.document import MAX_TEXT_CHARS, KindOrAuto, PolicyValidationError
from store.policy.patterns import parse_date
from store.textfile import read_at_most
from tui.cli.base import CommandGroup, say

_TIME_KEYS = ("aws:currenttime", "aws:epochtime", "aws:tokenissuetime")
_KINDS = click.Choice(["identity", "trust", "auto"])


class _Once(click.Option):
    """An option that takes one value: given twice (``--inline a.json --inline b.json``) it is a usage error
    naming the option, where click would keep the last one silently."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        default = kwargs.pop("default", None)
        kwargs.update(multiple=True, default=() if default is None else (default,))
        super().__init__(*args, **kwargs)

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        values = super().process_value(ctx, value)
        if len(values) > 1:
            shown = ", ".join(quoted(item) for item in values[:3]) + (", …" if len(values) > 3 else "")
            raise click.UsageError(
                f"{self.opts[0]} was given {len(values)} times ({shown}): give it once", ctx
            )
        return values[0] if values else None

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if "default" in extra and isinstance(self.default, tuple) and self.default:
            extra["default"] = str(self.default[0])
        return extra


def _exclusive(given: dict[str, object]) -> None:
    """A usage error naming the first two of ``given`` (option name -> its value) that were both used."""
    named = [name for name, value in given.items() if value]
    if len(named) > 1:
        raise click.UsageError(f"{named[0]} and {named[1]} contradict each other: give one or the other")


class _Unreadable(Exception):
    """A policy file that could not be read as UTF-8 text."""


def _fail(message: str) -> NoReturn:
    say(f"error: {message}", err=True)
    raise click.exceptions.Exit(1)


def _read(path: str) -> str:
    """The file's text (``-`` is stdin); at most one character over the raw cap, which the parser refuses."""
    most = 4 * MAX_TEXT_CHARS + 4  # UTF-8 needs at most 4 bytes a character
    try:
        if path == "-":
            with click.open_file(path, "rb") as handle:
                data: bytes = handle.read(most)
        else:
            data = read_at_most(Path(path), most)  # a FIFO that nothing writes to: refused, not waited on
    except ValidationError as error:
        raise _Unreadable(error.message) from None
    except OSError as error:
        raise _Unreadable(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError:  # what the system cannot name (open raises instead of failing)
        raise _Unreadable(f"cannot read {path}: a file name cannot hold a NUL character") from None
    try:
        return data.decode("utf-8-sig")[: MAX_TEXT_CHARS + 1]
    except UnicodeDecodeError as error:
        raise _Unreadable(f"{path} is not UTF-8 text (byte {error.start})") from None


def _located(path: str, problem: PolicyProblem) -> str:
    return f"{path}: line {problem.line}: {problem.message}" if problem.line else f"{path}: {problem.message}"


@click.group(name="policy", cls=CommandGroup)
def policy() -> None:
    """Check IAM policy documents and decide requests against them."""


@policy.command("validate")
@click.argument("file", metavar="FILE")
@click.option(
    "--kind",
    cls=_Once,
    type=_KINDS,
    default="identity",
    show_default=True,
    help="identity policy, role trust policy (Principal, no Resource), or auto-detect.",
)
@click.option(
    "--managed",
    is_flag=True,
    help=f"Apply the managed-policy size quota ({MANAGED_POLICY_MAX_CHARS:,} characters not counting "
    f"whitespace) instead of the permission-set inline quota ({INLINE_POLICY_MAX_CHARS:,}).",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"valid": ..., "errors": [...]} on stdout.')
def validate(file: str, kind: KindOrAuto, managed: bool, as_json: bool) -> None:
    """Check the policy document in FILE (- for stdin). Exit 0 when valid, 1 when not.

    Messages follow AWS's (and moto's) wording and name the element and line at fault, e.g.
    "policy.json: line 4: Syntax errors in policy. Statement[1].Effect must be "Allow" or "Deny"."
    """
    try:
        problems = validate_policy(
            _read(file), kind=kind, max_chars=MANAGED_POLICY_MAX_CHARS if managed else INLINE_POLICY_MAX_CHARS
        )
    except _Unreadable as error:
        problems = [PolicyProblem(str(error))]
        if as_json:
            click.echo(json.dumps({"valid": False, "errors": [problem.to_json() for problem in problems]}))
        _fail(str(error))
    if as_json:
        click.echo(json.dumps({"valid": not problems, "errors": [problem.to_json() for problem in problems]}))
    if problems:
        _fail(_located(file, problems[0]))
    if not as_json:
        say(f"{file}: valid")


def _context(items: tuple[str, ...]) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"{quoted(item)} is not KEY=VALUE", param_hint="--context")
        key = key.strip()
        if key.lower() in _TIME_KEYS and parse_date(value) is None:
            raise click.BadParameter(
                f"{key} must be an ISO 8601 time or epoch seconds, not {quoted(value)}",
                param_hint="--context",
            )
        context.setdefault(key, []).append(value)
    return context


def _load(files: tuple[str, ...], kind: KindOrAuto) -> list[tuple[str, PolicyDocument]]:
    loaded = []
    for path in files:
        try:
            loaded.append((path, parse_policy(_read(path), kind=kind)))
        except _Unreadable as error:
            _fail(str(error))
        except PolicyValidationError as error:
            _fail(_located(path, error.problems[0]))
    return loaded


def _describe(decision: Decision, action: str, resource: str) -> str:
    def where(index: int) -> str:
        ref = decision.statements[index]
        return f"{ref.policy} statement {ref.index}" + (f" (Sid {ref.sid})" if ref.sid else "")

    names = ", ".join(where(index) for index in range(len(decision.statements)))
    request = f"{action} on {resource}"
    if decision.decision == ALLOW:
        return f"allow: {request} is allowed by {names}"
    if decision.decision == EXPLICIT_DENY:
        return f"explicit_deny: {request} is denied by {names}"
    return f"implicit_deny: no statement allows {request}"


@policy.command("simulate")
@click.option(
    "--policy",
    "policy_files",
    multiple=True,
    metavar="FILE",
    help="A policy of the principal; repeat for each. None at all means nothing is allowed.",
)
@click.option(
    "--boundary", cls=_Once, metavar="FILE", help="A permissions boundary: allows only what it also allows."
)
@click.option(
    "--action", cls=_Once, required=True, help="The request's action, service:Action (case-insensitive)."
)
@click.option(
    "--resource", cls=_Once, required=True, help="The request's resource ARN (case-sensitive), or *."
)
@click.option(
    "--context",
    "context_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="A request condition key; repeat a key for a multi-valued key. Values are text as AWS "
    "compares them: aws:MultiFactorAuthPresent=true, aws:SourceIp=203.0.113.7, "
    "aws:CurrentTime=2027-01-31T09:00:00Z (defaults to now), aws:PrincipalTag/team=dev.",
)
@click.option(
    "--principal",
    cls=_Once,
    metavar="ARN",
    help="The caller, for trust policies (default: aws:PrincipalArn).",
)
@click.option(
    "--kind",
    cls=_Once,
    type=_KINDS,
    default="auto",
    show_default=True,
    help="Read the policies as identity or trust policies; auto picks trust when one names a Principal.",
)
@click.option(
    "--user",
    "user_name",
    cls=_Once,
    metavar="U",
    help="Decide for this user of the directory (with --account): every permission set they hold "
    "there, allowed if any allows. aws:username defaults to U.",
)
@click.option("--account", "account_name", cls=_Once, metavar="A", help="The account, with --user.")
@click.option(
    "--permission-set",
    "set_name",
    cls=_Once,
    metavar="P",
    help="Decide against this permission set of the directory (its policies and boundary).",
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"decision": ..., "statements": [...]} on stdout.'
)
def simulate(
    policy_files: tuple[str, ...],
    boundary: str | None,
    action: str,
    resource: str,
    context_items: tuple[str, ...],
    principal: str | None,
    kind: KindOrAuto,
    user_name: str | None,
    account_name: str | None,
    set_name: str | None,
    as_json: bool,
) -> None:
    """Decide one request against the policies: allow, explicit_deny or implicit_deny, naming the deciding
    statements (policy FILE, 0-based statement index, Sid). Exit 0 whatever the decision.

    With --user U --account A, or --permission-set P, the policies come from the directory (--db) instead
    of files; the JSON then also lists each permission set's own decision."""
    service, colon, name = action.partition(":")
    if not colon or not service or not name or ":" in name:
        raise click.BadParameter(f"{quoted(action)} is not service:Action", param_hint="--action")
    if user_name or account_name or set_name:
        if policy_files or boundary:
            raise click.UsageError(
                "--policy/--boundary files, or --user/--account/--permission-set: not both"
            )
        if set_name and (user_name or account_name):
            raise click.UsageError("either --permission-set P, or --user U --account A")
        if not set_name and not (user_name and account_name):
            raise click.UsageError("--user and --account go together")
        _simulate_in_directory(
            user_name, account_name, set_name, action, resource, _context(context_items), as_json
        )
        return
    context = RequestContext.build(_context(context_items))
    policies = compile_policies(_load(policy_files, kind))
    capped: CompiledPolicySet | None = compile_policies(_load((boundary,), kind)) if boundary else None
    decision = evaluate_with_boundary(policies, capped, action, resource, context, principal=principal)
    if as_json:
        click.echo(json.dumps(decision.to_json()))
    else:
        say(_describe(decision, action, resource))


def _simulate_in_directory(
    user_name: str | None,
    account_name: str | None,
    set_name: str | None,
    action: str,
    resource: str,
    context: dict[str, list[str]],
    as_json: bool,
) -> None:
    from store.access import simulate_permission_set, simulate_user
    from store.errors import StoreError

    root = click.get_current_context().find_root().obj
    if root is None or not hasattr(root, "directory"):
        raise click.UsageError("--user/--permission-set need a directory: run it as tui policy simulate")
    try:
        directory = root.directory()
        if set_name:
            simulation = simulate_permission_set(
                directory, directory.permission_sets.get_by_name(set_name).id, action, resource, context
            )
        else:
            user = directory.users.get_by_name(user_name or "")
            account = directory.accounts.get_by_name(account_name or "")
            simulation = simulate_user(directory, user.id, account.id, action, resource, context)
    except StoreError as error:
        _fail(str(error))
    if as_json:
        click.echo(json.dumps(simulation.to_json()))
        return
    if not simulation.results:
        say(f"implicit_deny: {user_name} holds no permission set in {account_name}")
        for why in simulation.not_applying:
            say(f"  not applying: {why}")
        return
    for result in simulation.results:
        path = f" (via {result.grant.granted_by})" if result.grant is not None else ""
        line = _describe(result.decision, action, resource).replace(
            ": ", f": {result.permission_set_name}{path}: ", 1
        )
        say(line)
    if len(simulation.results) > 1:
        click.echo(f"overall: {simulation.decision}")


@policy.command("impact")
@click.option(
    "--permission-set",
    "set_name",
    cls=_Once,
    metavar="P",
    help="The permission set to change (its current parts stay unless replaced below).",
)
@click.option(
    "--inline", "inline_file", cls=_Once, metavar="FILE", help="Its new inline policy (- for stdin)."
)
@click.option("--no-inline", is_flag=True, help="Remove its inline policy.")
@click.option(
    "--managed",
    "managed",
    multiple=True,
    metavar="NAME",
    help="Attach exactly these library policies (repeat for each).",
)
@click.option("--no-managed", is_flag=True, help="Detach every library policy.")
@click.option("--boundary", "boundary_file", cls=_Once, metavar="FILE", help="Its new permissions boundary.")
@click.option("--no-boundary", is_flag=True, help="Remove its permissions boundary.")
@click.option("--delete", "delete", is_flag=True, help="The effect of deleting the permission set instead.")
@click.option(
    "--library-policy",
    "library_name",
    cls=_Once,
    metavar="NAME",
    help="A library policy to change instead, through every permission set attaching it.",
)
@click.option(
    "--document", "document_file", cls=_Once, metavar="FILE", help="The library policy's new document."
)
@click.option("--json", "as_json", is_flag=True, help="Print the blast radius as one JSON document.")
def impact(
    set_name: str | None,
    inline_file: str | None,
    no_inline: bool,
    managed: tuple[str, ...],
    no_managed: bool,
    boundary_file: str | None,
    no_boundary: bool,
    delete: bool,
    library_name: str | None,
    document_file: str | None,
    as_json: bool,
) -> None:
    """Blast radius of an edit before making it: which users gain or lose which actions in which accounts.
    Changes nothing. Exit 0 when computed, 1 when refused (unknown name, invalid policy)."""
    from store.blast_radius import permission_set_change, permission_set_removal, policy_change
    from store.errors import StoreError

    _exclusive({"--inline": inline_file, "--no-inline": no_inline})
    _exclusive({"--managed": managed, "--no-managed": no_managed})
    _exclusive({"--boundary": boundary_file, "--no-boundary": no_boundary})
    edits: dict[str, object] = {
        "--inline": inline_file,
        "--no-inline": no_inline,
        "--managed": managed,
        "--no-managed": no_managed,
        "--boundary": boundary_file,
        "--no-boundary": no_boundary,
    }
    _exclusive({"--delete": delete, **edits})
    _exclusive({"--permission-set": set_name, "--library-policy": library_name})
    _exclusive({"--library-policy": library_name, "--delete": delete, **edits})
    if not set_name and not library_name:
        raise click.UsageError(
            "say what would change: --permission-set P, or --library-policy NAME --document FILE"
        )
    if library_name and not document_file:
        raise click.UsageError("--library-policy needs --document FILE")
    if document_file and not library_name:
        raise click.UsageError("--document goes with --library-policy NAME (for a permission set: --inline)")
    root = click.get_current_context().find_root().obj
    if root is None or not hasattr(root, "directory"):
        raise click.UsageError("impact needs a directory: run it as tui policy impact")
    try:
        directory = root.directory()
        if library_name:
            target = directory.policies.get_by_name(library_name)
            radius = policy_change(directory, target.id, _read(document_file or "-"))
        else:
            pset = directory.permission_sets.get_by_name(set_name or "")
            if delete:
                radius = permission_set_removal(directory, pset.id)
            else:
                inline = None if no_inline else _read(inline_file) if inline_file else pset.inline_policy
                boundary = (
                    None if no_boundary else _read(boundary_file) if boundary_file else pset.boundary_policy
                )
                names = [] if no_managed else list(managed) if managed else pset.managed_policies
                radius = permission_set_change(
                    directory, pset.id, inline_policy=inline, managed_policies=names, boundary_policy=boundary
                )
    except _Unreadable as error:
        _fail(str(error))
    except StoreError as error:
        _fail(str(error))
    if as_json:
        click.echo(json.dumps(radius.to_json()))
        return
    for line in radius.describe():
        say(line)
