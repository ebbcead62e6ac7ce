"""Deciding a request against a principal's policies, with AWS's evaluation logic.

An explicit Deny in any statement wins; otherwise any Allow allows; otherwise the request is implicitly
denied. A statement applies when its action (Action / NotAction), its resource (Resource / NotResource), its
principal (trust policies only) and every condition match. Actions compare case-insensitively, resources
case-sensitively.

Policies are compiled once (:func:`compile_policies`): every pattern becomes a fast-path check or one regex,
statements are indexed by service prefix, and the statements an action selects are remembered, so a decision
only runs the resource and condition checks of the statements that can apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from store.policy.conditions import CompiledCondition, compile_condition
from store.policy.document import PolicyDocument, Statement
from store.policy.patterns import ContextValue, Matcher, RequestContext, any_of, compile_glob

DecisionName = Literal["allow", "explicit_deny", "implicit_deny"]
ALLOW: DecisionName = "allow"
EXPLICIT_DENY: DecisionName = "explicit_deny"
IMPLICIT_DENY: DecisionName = "implicit_deny"
_ACTION_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Where a deciding statement lives: the policy's name, the statement's 0-based index, its Sid if any."""

    policy: str
    index: int
    sid: str | None

    def to_json(self) -> dict[str, object]:
        return {"policy": self.policy, "index": self.index, "sid": self.sid}


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer and the statements that gave it: the matching Denies for ``explicit_deny``, the matching
    Allows for ``allow``, none for ``implicit_deny``."""

    decision: DecisionName
    statements: tuple[StatementRef, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW

    def to_json(self) -> dict[str, object]:
        return {"decision": self.decision, "statements": [ref.to_json() for ref in self.statements]}


@dataclass(frozen=True, slots=True)
class _CompiledStatement:
    ref: StatementRef
    deny: bool
    actions: Matcher
    actions_negated: bool
    services: frozenset[str] | None  # the service prefixes Action can name; None when any service could match
    resources: Matcher | None
    resources_negated: bool
    principals: tuple[tuple[str, str], ...] | None
    principals_negated: bool
    conditions: tuple[CompiledCondition, ...]

    def matches_action(self, action: str) -> bool:
        return self.actions(action, _EMPTY) != self.actions_negated

    def applies(self, resource: str, principal: str | None, context: RequestContext) -> bool:
        if self.resources is not None and self.resources(resource, context) == self.resources_negated:
            return False
        if self.principals is not None:
            hit = _principal_matches(self.principals, principal)
            if hit == self.principals_negated:
                return False
        return all(condition(context) for condition in self.conditions)


_EMPTY = RequestContext()


def _principal_matches(principals: tuple[tuple[str, str], ...], principal: str | None) -> bool:
    for kind, value in principals:
        if value == "*":
            return True
        if principal is None:
            continue
        if value == principal:
            return True
        if kind == "AWS":
            # An account id (or its :root ARN) stands for every principal of that account.
            account = value if value.isdigit() else _root_account(value)
            if account is not None and _account_of(principal) == account:
                return True
    return False


def _root_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) == 6 and parts[0] == "arn" and parts[5] == "root" else None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else (arn if arn.isdigit() else None)


def _services(statement: Statement) -> frozenset[str] | None:
    if statement.actions_negated:
        return None
    services = set()
    for action in statement.actions:
        vendor = action.partition(":")[0].lower()
        if "*" in vendor or "?" in vendor or ":" not in action:
            return None
        services.add(vendor)
    return frozenset(services)


@lru_cache(maxsize=512)
def _compile_document(name: str, document: PolicyDocument) -> tuple[_CompiledStatement, ...]:
    # Keyed on the (frozen, hashable) document: recompiling the same policies for each request costs nothing.
    compiled = []
    for statement in document.statements:
        compiled.append(
            _CompiledStatement(
                ref=StatementRef(name, statement.index, statement.sid),
                deny=statement.effect == "Deny",
                actions=any_of(
                    tuple(
                        compile_glob(action, ignore_case=True, variables=False)
                        for action in statement.actions
                    )
                ),
                actions_negated=statement.actions_negated,
                services=_services(statement),
                resources=(
                    None
                    if statement.resources is None
                    else any_of(tuple(compile_glob(resource) for resource in statement.resources))
                ),
                resources_negated=statement.resources_negated,
                principals=statement.principals,
                principals_negated=statement.principals_negated,
                conditions=tuple(compile_condition(condition) for condition in statement.conditions),
            )
        )
    return tuple(compiled)


class CompiledPolicySet:
    """Every statement of one principal's policies, ready to decide requests. Safe to share between threads
    (the action memo is a plain dict whose entries are only ever replaced whole)."""

    def __init__(self, statements: Sequence[_CompiledStatement], names: Sequence[str]) -> None:
        self._statements = tuple(statements)
        self.policy_names = tuple(names)
        self._by_service: dict[str, tuple[_CompiledStatement, ...]] = {}
        services = {service for statement in self._statements for service in (statement.services or ())}
        for service in services:
            self._by_service[service] = tuple(
                statement
                for statement in self._statements
                if statement.services is None or service in statement.services
            )
        self._any_service = tuple(statement for statement in self._statements if statement.services is None)
        self._by_action: dict[str, tuple[_CompiledStatement, ...]] = {}

    def __len__(self) -> int:
        return len(self._statements)

    def _for_action(self, action: str) -> tuple[_CompiledStatement, ...]:
        found = self._by_action.get(action)
        if found is None:
            candidates = self._by_service.get(action.partition(":")[0], self._any_service)
            found = tuple(statement for statement in candidates if statement.matches_action(action))
            if len(self._by_action) >= _ACTION_MEMO_LIMIT:
                self._by_action = {}
            self._by_action[action] = found
        return found

    def evaluate(
        self,
        action: str,
        resource: str,
        context: RequestContext | Mapping[str, ContextValue | None] | None = None,
        *,
        principal: str | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """Decide ``action`` on ``resource``. ``context`` holds the request's condition keys (build a
        :class:`RequestContext` once to reuse it); ``principal`` is the caller's ARN, needed only by trust
        policies, and defaults to the context's ``aws:PrincipalArn``."""
        request = context if isinstance(context, RequestContext) else RequestContext.build(context, now=now)
        if principal is None:
            principal = request.single("aws:principalarn")
        denies: list[StatementRef] = []
        allows: list[StatementRef] = []
        for statement in self._for_action(action.lower()):
            # once a Deny has matched, the remaining Allows cannot change the answer
            if (statement.deny or not denies) and statement.applies(resource, principal, request):
                (denies if statement.deny else allows).append(statement.ref)
        if denies:
            return Decision(EXPLICIT_DENY, tuple(denies))
        if allows:
            return Decision(ALLOW, tuple(allows))
        return Decision(IMPLICIT_DENY)


def compile_policies(policies: Iterable[tuple[str, PolicyDocument]]) -> CompiledPolicySet:
    """One principal's permission set from ``(name, document)`` pairs; names label the deciding statements."""
    statements: list[_CompiledStatement] = []
    names: list[str] = []
    for name, document in policies:
        names.append(name)
        statements.extend(_compile_document(name, document))
    return CompiledPolicySet(statements, names)


def evaluate_with_boundary(
    policies: CompiledPolicySet,
    boundary: CompiledPolicySet | None,
    action: str,
    resource: str,
    context: RequestContext | Mapping[str, ContextValue | None] | None = None,
    *,
    principal: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide with a permissions boundary: a Deny in either set denies; an allow needs both to allow (the
    boundary only caps what the policies grant). ``boundary=None`` means no boundary."""
    request = context if isinstance(context, RequestContext) else RequestContext.build(context, now=now)
    granted = policies.evaluate(action, resource, request, principal=principal)
    if boundary is None:
        return granted
    capped = boundary.evaluate(action, resource, request, principal=principal)
    if EXPLICIT_DENY in (granted.decision, capped.decision):
        refs = tuple(
            ref
            for decision in (granted, capped)
            if decision.decision == EXPLICIT_DENY
            for ref in decision.statements
        )
        return Decision(EXPLICIT_DENY, refs)
    if granted.allowed and capped.allowed:
        return Decision(ALLOW, granted.statements + capped.statements)
    return Decision(IMPLICIT_DENY)
