"""The IAM policy language: parse and validate documents, decide requests against them.

document = parse_policy(text)                      # PolicyValidationError (a ValidationError) if refused
problems = validate_policy(text)                   # [] when valid, else what is wrong and where
permissions = compile_policies([("inline", document)])
decision = permissions.evaluate("s3:GetObject", "arn:aws:s3:::bucket/key", {"aws:username": "alice"})
decision.decision                                  # "allow" | "explicit_deny" | "implicit_deny"
statement_lines(text)                              # [(first, last) line of each statement]: to highlight one
"""

from store.policy.builtins import BUILTIN_POLICIES, builtin_policy
from store.policy.conditions import compile_condition
from store.policy.document import (
    INLINE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    Condition,
    PolicyDocument,
    PolicyProblem,
    PolicyValidationError,
    Statement,
    parse_policy,
    validate_policy,
)
from store.policy.evaluate import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    CompiledPolicySet,
    Decision,
    StatementRef,
    compile_policies,
    evaluate_with_boundary,
)
from store.policy.patterns import RequestContext
from store.policy.spans import statement_lines

__all__ = [
    "ALLOW",
    "BUILTIN_POLICIES",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "INLINE_POLICY_MAX_CHARS",
    "MANAGED_POLICY_MAX_CHARS",
    "CompiledPolicySet",
    "Condition",
    "Decision",
    "PolicyDocument",
    "PolicyProblem",
    "PolicyValidationError",
    "RequestContext",
    "Statement",
    "StatementRef",
    "builtin_policy",
    "compile_condition",
    "compile_policies",
    "evaluate_with_boundary",
    "parse_policy",
    "statement_lines",
    "validate_policy",
]
