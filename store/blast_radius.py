"""Blast radius: before a policy or permission-set edit is saved, who gains or loses which actions where.

The actions considered are those the old and new documents mention (in ``Action`` and ``NotAction``, across
every document of every permission set the edit touches; ``*`` too when a ``NotAction`` is present, standing
for "everything it does not name"). A wildcard such as ``s3:Get*`` is considered as itself: it stands for the
actions it matches, and is evaluated against the other mentioned patterns like any action. Each action is
decided with resource ``*`` as "may this be allowed somewhere": an Allow counts whatever resources or
conditions it is scoped to; a Deny counts only when it applies to every resource unconditionally (``Resource:
"*"``, no Condition). Edits that only narrow resources or conditions therefore show no change at action level.

A user's access in an account is the union of the permission sets that apply to them there (SPEC §1), so a
user who keeps an action through another permission set does not lose it.

    radius = permission_set_change(directory, set_id, inline_policy=..., managed_policies=[...],
                                   boundary_policy=...)
    radius = policy_change(directory, policy_id, new_document_text)
    radius = permission_set_removal(directory, set_id)
    radius.empty, radius.set_changes, radius.changes, radius.grouped(), radius.to_json(), radius.describe()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from store.access import who_can_reach
from store.errors import Refused
from store.permission_sets import CompiledPermissionSet, compile_permission_set_sources
from store.policy import CompiledPolicySet, PolicyDocument, compile_policies, evaluate_with_boundary

if TYPE_CHECKING:
    from store.directory import Directory


@dataclass(frozen=True)
class SetChange:
    """What one permission set itself gains or loses (whoever holds it)."""

    permission_set: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"permission_set": self.permission_set, "gained": list(self.gained), "lost": list(self.lost)}


@dataclass(frozen=True)
class PrincipalChange:
    """A user whose access in an account changes, and the paths through which they hold the edited set(s)."""

    user_id: int
    user_name: str
    account_id: int
    account_name: str
    granted_by: tuple[str, ...]  # "direct", "group Developers"
    gained: tuple[str, ...]
    lost: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user_name,
            "account": self.account_name,
            "granted_by": list(self.granted_by),
            "gained": list(self.gained),
            "lost": list(self.lost),
        }


@dataclass(frozen=True)
class ChangeGroup:
    """Users whose change is the same, in the same account, through the same paths: one line on screen."""

    account_name: str
    granted_by: tuple[str, ...]
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    users: tuple[str, ...]


@dataclass(frozen=True)
class BlastRadius:
    subject: str  # "permission set Developer", "policy S3Team"
    actions: tuple[str, ...]  # the actions considered
    set_changes: tuple[SetChange, ...]  # per permission set the edit touches
    changes: tuple[PrincipalChange, ...]  # users whose access changes, by account then user name
    holders: int  # (user, account) pairs holding a touched set now
    accounts: int  # accounts where a touched set is held now

    @property
    def empty(self) -> bool:
        """Nobody's access changes (the sets themselves may still change, unassigned)."""
        return not self.changes

    @property
    def users(self) -> int:
        return len({change.user_id for change in self.changes})

    def grouped(self) -> list[ChangeGroup]:
        groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        for change in self.changes:
            groups[(change.account_name, change.granted_by, change.gained, change.lost)].append(
                change.user_name
            )
        return [
            ChangeGroup(account, paths, gained, lost, tuple(users))
            for (account, paths, gained, lost), users in groups.items()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "actions": list(self.actions),
            "holders": self.holders,
            "accounts": self.accounts,
            "set_changes": [change.to_json() for change in self.set_changes],
            "changes": [change.to_json() for change in self.changes],
        }

    def summary(self) -> str:
        if not self.holders:
            return f"{self.subject} is not assigned to anyone: nobody's access changes."
        held = (
            f"held by {self.holders} user-account pair{'s' if self.holders != 1 else ''} in "
            f"{self.accounts} account{'s' if self.accounts != 1 else ''}"
        )
        if self.empty:
            return f"{self.subject} is {held}: nobody gains or loses an action."
        return (
            f"{self.subject} is {held}: {self.users} user{'s' if self.users != 1 else ''} gain or lose "
            "actions."
        )

    def describe(self, *, max_users: int = 5) -> list[str]:
        """Human lines: the summary, what each set gains and loses, then who, grouped."""
        lines = [self.summary()]
        for change in self.set_changes:
            if change.gained or change.lost:
                lines.append(f"{change.permission_set} itself: " + _plus_minus(change.gained, change.lost))
            else:
                lines.append(f"{change.permission_set} itself: no action gained or lost")
        for group in self.grouped():
            shown = ", ".join(group.users[:max_users])
            more = f" and {len(group.users) - max_users} more" if len(group.users) > max_users else ""
            count = f"{len(group.users)} user{'s' if len(group.users) != 1 else ''}"
            lines.append(
                f"in {group.account_name}, {count} via {', '.join(group.granted_by)} ({shown}{more}): "
                + _plus_minus(group.gained, group.lost)
            )
        return lines


def _plus_minus(gained: Sequence[str], lost: Sequence[str]) -> str:
    def label(action: str) -> str:
        return "* (any action not named)" if action == "*" else action

    parts = []
    if gained:
        parts.append("gain " + ", ".join(map(label, gained)))
    if lost:
        parts.append("lose " + ", ".join(map(label, lost)))
    return "; ".join(parts)


# -- deciding "may this be allowed somewhere" ------------------------------------------------------------


@lru_cache(maxsize=512)
def _reach_view(document: PolicyDocument) -> PolicyDocument:
    """The document as the blast radius reads it: Allows on any resource, unconditionally; Denies only where
    they apply everywhere, unconditionally."""
    statements = []
    for statement in document.statements:
        if statement.effect == "Allow":
            statements.append(replace(statement, resources=("*",), resources_negated=False, conditions=()))
        elif (
            not statement.conditions
            and not statement.resources_negated
            and statement.resources is not None
            and "*" in statement.resources
        ):
            statements.append(statement)
    return replace(document, statements=tuple(statements))


@dataclass
class _Reach:
    policies: CompiledPolicySet
    boundary: CompiledPolicySet | None

    def allows(self, actions: Iterable[str]) -> frozenset[str]:
        return frozenset(
            action
            for action in actions
            if evaluate_with_boundary(self.policies, self.boundary, action, "*").allowed
        )


def _reach(compiled: CompiledPermissionSet | None) -> _Reach:
    if compiled is None:
        return _Reach(compile_policies([]), None)
    policies = compile_policies(
        [(s.label, _reach_view(s.document)) for s in compiled.sources if s.kind != "boundary"]
    )
    boundary = None
    if compiled.boundary is not None:
        boundary = compile_policies(
            [(s.label, _reach_view(s.document)) for s in compiled.sources if s.kind == "boundary"]
        )
    return _Reach(policies, boundary)


def _mentioned(compiled: Iterable[CompiledPermissionSet | None]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for one in compiled:
        if one is None:
            continue
        for source in one.sources:
            for statement in source.document.statements:
                if statement.actions_negated:
                    seen.setdefault("*", "*")
                for action in statement.actions:
                    seen.setdefault(action.lower(), action)
    return tuple(sorted(seen.values(), key=lambda action: (action == "*", action.lower())))


# -- the computation -------------------------------------------------------------------------------------


@dataclass
class _Edit:
    permission_set_id: int | None
    name: str
    old: CompiledPermissionSet | None
    new: CompiledPermissionSet | None


def _radius(directory: Directory, subject: str, edits: list[_Edit]) -> BlastRadius:
    actions = _mentioned([edit.old for edit in edits] + [edit.new for edit in edits])
    old_allowed = {id(edit): _reach(edit.old).allows(actions) for edit in edits}
    new_allowed = {id(edit): _reach(edit.new).allows(actions) for edit in edits}
    set_changes = tuple(
        SetChange(
            edit.name,
            _ordered(new_allowed[id(edit)] - old_allowed[id(edit)], actions),
            _ordered(old_allowed[id(edit)] - new_allowed[id(edit)], actions),
        )
        for edit in edits
    )
    edited = {edit.permission_set_id: edit for edit in edits if edit.permission_set_id is not None}
    if not edited:
        return BlastRadius(subject, actions, set_changes, (), 0, 0)

    other_allowed: dict[int, frozenset[str]] = {}

    def allowed_by(set_id: int, new: bool) -> frozenset[str]:
        edit = edited.get(set_id)
        if edit is not None:
            return new_allowed[id(edit)] if new else old_allowed[id(edit)]
        if set_id not in other_allowed:
            other_allowed[set_id] = _reach(directory.permission_sets.compiled(set_id)).allows(actions)
        return other_allowed[set_id]

    accounts: set[int] = set()
    with directory.db.read() as conn:
        rows = conn.execute(
            "SELECT DISTINCT account_id FROM assignments "
            "WHERE permission_set_id IN (SELECT value FROM json_each(?))",
            (f"[{','.join(str(i) for i in edited)}]",),
        ).fetchall()
        accounts = {row[0] for row in rows}
    changes: list[PrincipalChange] = []
    holders = 0
    held_accounts = 0
    for account_id in sorted(accounts):
        grants = who_can_reach(directory, account_id)
        by_user: dict[int, list[Any]] = defaultdict(list)
        for grant in grants:
            by_user[grant.user_id].append(grant)
        counted_account = False
        for user_grants in by_user.values():
            held = [grant for grant in user_grants if grant.permission_set_id in edited]
            if not held:
                continue
            holders += 1
            counted_account = True
            set_ids = {grant.permission_set_id for grant in user_grants}
            before = frozenset().union(*(allowed_by(set_id, False) for set_id in set_ids))
            after = frozenset().union(*(allowed_by(set_id, True) for set_id in set_ids))
            if before == after:
                continue
            first = held[0]
            paths = tuple(dict.fromkeys(grant.granted_by for grant in held))
            changes.append(
                PrincipalChange(
                    first.user_id,
                    first.user_name,
                    account_id,
                    first.account_name,
                    paths,
                    _ordered(after - before, actions),
                    _ordered(before - after, actions),
                )
            )
        held_accounts += counted_account
    changes.sort(key=lambda change: (change.account_name.casefold(), change.user_name.casefold()))
    return BlastRadius(subject, actions, set_changes, tuple(changes), holders, held_accounts)


def _ordered(found: frozenset[str], actions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(action for action in actions if action in found)


def permission_set_change(
    directory: Directory,
    permission_set_id: int | None,
    *,
    inline_policy: str | None,
    managed_policies: Sequence[str],
    boundary_policy: str | None,
    name: str | None = None,
) -> BlastRadius:
    """The effect of saving a permission set with these documents (``permission_set_id`` None: a new set,
    which nobody holds yet). ValidationError if a document is invalid or a managed policy unknown."""
    old = None
    if permission_set_id is not None:
        current = directory.permission_sets.get(permission_set_id)
        name = name or current.name
        old = directory.permission_sets.compiled(permission_set_id)
    label = name or "the new permission set"
    new = compile_permission_set_sources(
        label, inline_policy, directory.policies.documents(list(managed_policies)), boundary_policy
    )
    return _radius(directory, f"permission set {label}", [_Edit(permission_set_id, label, old, new)])


def permission_set_removal(directory: Directory, permission_set_id: int) -> BlastRadius:
    """The effect of deleting a permission set: every holder loses what only it granted them."""
    current = directory.permission_sets.get(permission_set_id)
    old = directory.permission_sets.compiled(permission_set_id)
    return _radius(
        directory, f"permission set {current.name}", [_Edit(permission_set_id, current.name, old, None)]
    )


def policy_change(directory: Directory, policy_id: int, document: str) -> BlastRadius:
    """The effect of saving a library policy with ``document``, through every permission set attaching it.
    Refused for a built-in policy (they cannot be edited); ValidationError for an invalid document."""
    policy = directory.policies.get(policy_id)
    if policy.builtin:
        raise Refused(
            f"{policy.name} is a built-in policy and cannot be edited: copy it into a new policy to adapt it"
        )
    edits = []
    for set_name in policy.attached_to:
        pset = directory.permission_sets.get_by_name(set_name)
        managed = directory.policies.documents(pset.managed_policies)
        managed = [(name, document if name == policy.name else text) for name, text in managed]
        old = directory.permission_sets.compiled(pset.id)
        new = compile_permission_set_sources(pset.name, pset.inline_policy, managed, pset.boundary_policy)
        edits.append(_Edit(pset.id, pset.name, old, new))
    if not edits:  # attached nowhere: still say what the policy itself would gain or lose
        old = compile_permission_set_sources(policy.name, None, [(policy.name, policy.document)], None)
        new = compile_permission_set_sources(policy.name, None, [(policy.name, document)], None)
        edits.append(_Edit(None, policy.name, old, new))
    return _radius(directory, f"policy {policy.name}", edits)
