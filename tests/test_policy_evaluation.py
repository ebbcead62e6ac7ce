"""Policy evaluation: every conformance request decided right, and each rule of the logic on its own."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from store.policy import (
    CompiledPolicySet,
    Decision,
    RequestContext,
    StatementRef,
    builtin_policy,
    compile_policies,
    evaluate_with_boundary,
    parse_policy,
)
from tests import CONFORMANCE

POLICY_CASES = CONFORMANCE / "policy"
FILES = (
    "evaluation_cases.json",
    "evaluation_cases_aws_docs.json",
    "condition_cases.json",
    "condition_cases_aws_docs.json",
)
CASES = [case for name in FILES for case in json.loads((POLICY_CASES / name).read_text())]


def permissions(*policies: dict[str, Any] | list[dict[str, Any]], kind: Any = "auto") -> CompiledPolicySet:
    """Each argument one policy: a whole document, or a list of statements to wrap in one."""
    documents = []
    for index, policy in enumerate(policies):
        body = policy if isinstance(policy, dict) else {"Version": "2012-10-17", "Statement": policy}
        documents.append((f"p{index}", parse_policy(json.dumps(body), kind=kind)))
    return compile_policies(documents)


def decide(
    statements: list[dict[str, Any]],
    action: str,
    resource: str = "*",
    context: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    return permissions(statements).evaluate(action, resource, context, **options).decision


def allow(action: str = "s3:GetObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "s3:GetObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_conformance_files_hold_every_case() -> None:
    assert len(CASES) == 22 + 40 + 2 + 4


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    decision = permissions(*case["policies"]).evaluate(
        case["action"], case["resource"], case.get("context"), principal=case.get("principal")
    )
    assert decision.decision == case["expected"]
    assert bool(decision.statements) == (case["expected"] != "implicit_deny")


# --- the deciding statements


CARLOS = next(case for case in CASES if case["id"] == "P088")["policies"]


def test_decision_names_the_deciding_statement() -> None:
    policies = permissions(*CARLOS)
    assert policies.evaluate("s3:PutObject", "arn:aws:s3:::carlossalazar-logs/file.txt") == Decision(
        "explicit_deny", (StatementRef("p0", 2, "DenyS3Logs"),)
    )
    assert policies.evaluate("s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt") == Decision(
        "allow", (StatementRef("p0", 1, "AllowS3Self"),)
    )
    assert policies.evaluate("s3:DeleteBucket", "arn:aws:s3:::other") == Decision("implicit_deny", ())


def test_every_matching_deny_is_named_across_policies() -> None:
    policies = permissions([allow("*"), deny("s3:*", Sid="A")], [deny("s3:Get*")])
    assert policies.evaluate("s3:GetObject", "x").statements == (
        StatementRef("p0", 1, "A"),
        StatementRef("p1", 0, None),
    )


def test_allow_lists_every_matching_allow() -> None:
    policies = permissions([allow("s3:*"), allow("s3:GetObject", Sid="Exact")])
    assert policies.evaluate("s3:GetObject", "x").to_json() == {
        "decision": "allow",
        "statements": [
            {"policy": "p0", "index": 0, "sid": None},
            {"policy": "p0", "index": 1, "sid": "Exact"},
        ],
    }


def test_deny_overrides_allow_in_either_order() -> None:
    assert decide([deny(), allow()], "s3:GetObject") == "explicit_deny"
    assert decide([allow(), deny()], "s3:GetObject") == "explicit_deny"


# --- wildcards and case


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b:c", "allow"),  # * crosses / and :
        ("arn:aws:*", "arn:aws:s3:::b", "allow"),
        ("arn:aws:s3:::b?", "arn:aws:s3:::b1", "allow"),
        ("arn:aws:s3:::b?", "arn:aws:s3:::b", "implicit_deny"),  # ? is exactly one character
        ("arn:aws:s3:::b?", "arn:aws:s3:::b12", "implicit_deny"),
        ("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", "implicit_deny"),  # resources are case-sensitive
        ("arn:aws:s3:::my_bucket", "arn:aws:s3:::my_bucket2", "implicit_deny"),  # no prefix match
        ("arn:aws:s3:::a.b", "arn:aws:s3:::aXb", "implicit_deny"),  # regex characters are literal
        ("arn:aws:s3:::a+(b)", "arn:aws:s3:::a+(b)", "allow"),
        ("*", "anything at all", "allow"),
    ],
)
def test_resource_wildcards(pattern: str, resource: str, expected: str) -> None:
    assert decide([allow(resource=pattern)], "s3:GetObject", resource) == expected


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:get*", "S3:GetObject", "allow"),
        ("S3:GETOBJECT", "s3:getobject", "allow"),
        ("*:Get*", "ec2:GetConsoleOutput", "allow"),
        ("s3:Get?bject", "s3:GetObject", "allow"),
        ("s3:Get*", "s3:PutObject", "implicit_deny"),
        ("s3:Get*", "s3x:GetObject", "implicit_deny"),
    ],
)
def test_action_wildcards_ignore_case(pattern: str, action: str, expected: str) -> None:
    assert decide([allow(pattern)], action) == expected


def test_not_action_and_not_resource() -> None:
    statements = [
        {"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "NotResource": "arn:aws:s3:::secret/*"}
    ]
    assert decide(statements, "s3:GetObject", "arn:aws:s3:::public/a") == "allow"
    assert decide(statements, "s3:GetObject", "arn:aws:s3:::secret/a") == "implicit_deny"
    assert decide(statements, "IAM:CreateUser", "arn:aws:s3:::public/a") == "implicit_deny"
    assert decide(statements, "s3:DeleteObject", "arn:aws:s3:::public/a") == "implicit_deny"


def test_action_memo_keeps_resources_apart() -> None:
    policies = permissions([allow("s3:GetObject", "arn:aws:s3:::a/*")])
    for _ in range(3):
        assert policies.evaluate("s3:GetObject", "arn:aws:s3:::a/x").decision == "allow"
        assert policies.evaluate("s3:GetObject", "arn:aws:s3:::b/x").decision == "implicit_deny"


def test_many_distinct_actions_stay_correct_past_the_memo_limit() -> None:
    policies = permissions([allow("svc:Action1*"), deny("svc:Action1234")])
    decisions = {policies.evaluate(f"svc:Action{number}", "*").decision for number in range(5000)}
    assert decisions == {"allow", "implicit_deny", "explicit_deny"}
    assert policies.evaluate("svc:Action1234", "*").decision == "explicit_deny"
    assert policies.evaluate("svc:Action1999", "*").decision == "allow"
    assert policies.evaluate("svc:Action2999", "*").decision == "implicit_deny"


def test_statements_of_other_services_and_wildcard_services_are_both_considered() -> None:
    policies = permissions([allow("ec2:*"), allow("*:Describe*"), deny("ec2:Terminate*")])
    assert policies.evaluate("ec2:DescribeInstances", "*").statements == (
        StatementRef("p0", 0, None),
        StatementRef("p0", 1, None),
    )
    assert policies.evaluate("rds:DescribeDBInstances", "*").decision == "allow"
    assert policies.evaluate("rds:DeleteDBInstance", "*").decision == "implicit_deny"
    assert policies.evaluate("ec2:TerminateInstances", "*").decision == "explicit_deny"


# --- conditions


def when(condition: dict[str, Any], context: dict[str, Any] | None) -> bool:
    """Does an Allow guarded by ``condition`` allow, given ``context``?"""
    return decide([allow(Condition=condition)], "s3:GetObject", "*", context) == "allow"


NOW = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"aws:username": "alice"}}, {"aws:username": "alice"}, True),
        ({"StringEquals": {"aws:username": "alice"}}, {"aws:username": "Alice"}, False),
        ({"StringEquals": {"aws:username": "alice"}}, {}, False),
        ({"StringNotEquals": {"aws:username": "alice"}}, {"aws:username": "bob"}, True),
        ({"StringNotEquals": {"aws:username": "alice"}}, {"aws:username": "alice"}, False),
        (
            {"StringNotEquals": {"aws:username": "alice"}},
            {},
            True,
        ),  # a negated operator holds when the key is missing
        ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, True),
        ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, False),
        ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice/x"}, True),
        ({"StringLike": {"s3:prefix": "home/?"}}, {"s3:prefix": "home/ab"}, False),
        ({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/x"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
        ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9.5"}, False),
        ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"aws:CurrentTime": NOW}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2027-01-01"}}, {"aws:CurrentTime": NOW}, False),
        (
            {"DateLessThanEquals": {"aws:CurrentTime": "2027-01-31T10:00:00+01:00"}},
            {"aws:CurrentTime": NOW},
            True,
        ),
        ({"DateGreaterThanEquals": {"aws:EpochTime": "1801386000"}}, {"aws:CurrentTime": NOW}, True),
        (
            {"DateEquals": {"aws:TokenIssueTime": "2027-01-31T09:00:00Z"}},
            {"aws:TokenIssueTime": "1801386000"},
            True,
        ),
        (
            {"DateNotEquals": {"aws:TokenIssueTime": "2027-01-31T09:00:00Z"}},
            {"aws:TokenIssueTime": NOW},
            False,
        ),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": True}, True),
        ({"Bool": {"aws:MultiFactorAuthPresent": True}}, {"aws:MultiFactorAuthPresent": "TRUE"}, True),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": "false"}, False),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {}, False),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
        ({"BinaryEquals": {"k:blob": base64.b64encode(b"\x00ab").decode()}}, {"k:blob": "AGFi"}, True),
        ({"BinaryEquals": {"k:blob": "AGFi"}}, {"k:blob": "AGFj"}, False),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "203.0.113.7"}, False),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.7"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, False),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic"}},
            {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:topic"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket/*"}},
            {"aws:SourceArn": "arn:aws:s3:::bucket/a:b"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}},
            {"aws:SourceArn": "arn:aws:sns:eu-west-1:999999999999:x"},
            False,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}},
            {"aws:SourceArn": "arn:aws:sns:a:b:c"},
            False,
        ),  # 6 parts
        (
            {"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:*:1:x"}},
            {"aws:SourceArn": "arn:aws:sns:r:1:x"},
            False,
        ),
        (
            {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:1:x"}},
            {"aws:SourceArn": "arn:aws:sns:r:2:x"},
            True,
        ),
        ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
        ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": NOW}, False),
        ({"Null": {"aws:TokenIssueTime": False}}, {"aws:TokenIssueTime": NOW}, True),
        ({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
        ({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "m5.large"}, False),
        (
            {"StringNotEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
            {"ec2:InstanceType": "t3.micro"},
            False,
        ),
        ({"NumericLessThanIfExists": {"s3:max-keys": "5"}}, {}, True),
    ],
)
def test_condition_operator(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert when(condition, context) is expected


def test_values_for_one_key_are_alternatives() -> None:
    condition = {"StringEquals": {"aws:username": ["alice", "bob"]}}
    assert when(condition, {"aws:username": "bob"})
    assert not when(condition, {"aws:username": "carol"})


def test_negated_operator_needs_the_value_to_match_none() -> None:
    condition = {"StringNotEquals": {"aws:username": ["alice", "bob"]}}
    assert not when(condition, {"aws:username": "bob"})
    assert when(condition, {"aws:username": "carol"})


def test_keys_and_operator_blocks_are_all_required() -> None:
    condition = {
        "StringEquals": {"aws:username": "alice", "aws:PrincipalTag/team": "dev"},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
    }
    everything = {
        "aws:username": "alice",
        "aws:PrincipalTag/team": "dev",
        "aws:MultiFactorAuthPresent": "true",
    }
    assert when(condition, everything)
    for missing in everything:
        assert not when(condition, {key: value for key, value in everything.items() if key != missing})


def test_condition_keys_ignore_case() -> None:
    assert when({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"})
    assert when({"StringEquals": {"aws:principaltag/Team": "dev"}}, {"aws:PrincipalTag/team": "dev"})


@pytest.mark.parametrize(
    ("operator", "request_values", "expected"),
    [
        ("ForAnyValue:StringEquals", ["a", "x"], True),
        ("ForAnyValue:StringEquals", ["x", "y"], False),
        ("ForAnyValue:StringEquals", None, False),  # nothing to match
        ("ForAnyValue:StringEqualsIfExists", None, True),
        ("ForAllValues:StringEquals", ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "x"], False),
        ("ForAllValues:StringEquals", None, True),  # vacuously true, as AWS warns
        ("ForAllValues:StringEquals", [], True),
        ("ForAnyValue:StringNotEquals", ["a", "x"], True),
        ("ForAnyValue:StringNotEquals", ["a", "b"], False),
        ("ForAllValues:StringNotEquals", ["x", "y"], True),
        ("ForAllValues:StringNotEquals", ["x", "a"], False),
        ("ForAnyValue:StringLike", ["x", "prefix-1"], True),
        ("StringEquals", ["x", "a"], True),  # a plain operator on a multi-valued key: any value will do
    ],
)
def test_set_operators(operator: str, request_values: list[str] | None, expected: bool) -> None:
    values = ["a", "b", "prefix-*"] if "Like" in operator else ["a", "b"]
    context = {} if request_values is None else {"aws:TagKeys": request_values}
    assert when({operator: {"aws:TagKeys": values}}, context) is expected


def test_repeated_context_keys_in_any_case_merge_into_one_multi_valued_key() -> None:
    context = RequestContext.build({"aws:TagKeys": ["a"], "AWS:tagkeys": "b"})
    assert context.get("aws:tagkeys") == ("a", "b")
    assert when(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"], "AWS:tagkeys": "b"}
    )


def test_a_none_context_value_is_an_absent_key() -> None:
    assert RequestContext.build({"aws:username": None}).get("aws:username") is None
    assert when({"Null": {"aws:username": "true"}}, {"aws:username": None})


def test_request_time_defaults_to_now() -> None:
    assert when({"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}, None)
    assert not when({"DateGreaterThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}, None)
    policies = permissions([allow(Condition={"DateLessThan": {"aws:CurrentTime": "2027-02-01"}})])
    assert policies.evaluate("s3:GetObject", "*", {}, now=NOW).decision == "allow"
    assert policies.evaluate("s3:GetObject", "*", {}, now=datetime(2027, 3, 1, tzinfo=UTC)).decision == (
        "implicit_deny"
    )


def test_epoch_time_follows_a_given_current_time_and_back() -> None:
    assert RequestContext.build({"aws:CurrentTime": "2027-01-31T09:00:00Z"}).get("aws:EpochTime") == (
        "1801386000",
    )
    assert RequestContext.build({"aws:EpochTime": 1801386000}).get("aws:CurrentTime") == (
        "2027-01-31T09:00:00Z",
    )


def test_mfa_deny_guard_from_aws_docs() -> None:
    policies = permissions(
        [
            {
                "Sid": "DenyWithoutMfa",
                "Effect": "Deny",
                "NotAction": "iam:*",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            }
        ],
        [allow("*")],
    )
    assert policies.evaluate("s3:GetObject", "*", {"aws:MultiFactorAuthPresent": "true"}).decision == "allow"
    assert policies.evaluate("s3:GetObject", "*", {"aws:MultiFactorAuthPresent": "false"}).decision == (
        "explicit_deny"
    )
    assert policies.evaluate("s3:GetObject", "*", {}).decision == "explicit_deny"
    assert policies.evaluate("iam:ListUsers", "*", {}).decision == "allow"


def test_principal_tag_condition() -> None:
    condition = {"StringEquals": {"aws:PrincipalTag/Department": "Data"}}
    assert when(condition, {"aws:PrincipalTag/Department": "Data"})
    assert not when(condition, {"aws:PrincipalTag/Department": "Sales"})


# --- policy variables


HOME = allow("s3:*", "arn:aws:s3:::bucket/home/${aws:username}/*")


def test_variable_in_resource() -> None:
    assert (
        decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home/alice/a", {"aws:username": "alice"})
        == "allow"
    )
    assert decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home/bob/a", {"aws:username": "alice"}) == (
        "implicit_deny"
    )


def test_unresolved_variable_matches_nothing() -> None:
    assert decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home//a", {}) == "implicit_deny"
    assert decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home/${aws:username}/a", {}) == "implicit_deny"


def test_variable_value_is_literal_text() -> None:
    assert decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home/bob/a", {"aws:username": "*"}) == (
        "implicit_deny"
    )
    assert decide([HOME], "s3:GetObject", "arn:aws:s3:::bucket/home/*/a", {"aws:username": "*"}) == "allow"


def test_variable_default_value() -> None:
    statement = allow("s3:*", "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'common'}/*")
    assert decide([statement], "s3:GetObject", "arn:aws:s3:::bucket/common/x", {}) == "allow"
    assert decide(
        [statement], "s3:GetObject", "arn:aws:s3:::bucket/dev/x", {"aws:PrincipalTag/team": "dev"}
    ) == ("allow")
    assert decide(
        [statement], "s3:GetObject", "arn:aws:s3:::bucket/common/x", {"aws:PrincipalTag/team": "dev"}
    ) == ("implicit_deny")


def test_escape_variables_are_literal_characters() -> None:
    statement = allow("s3:*", "arn:aws:s3:::bucket/${*}${?}${$}/*")
    assert decide([statement], "s3:GetObject", "arn:aws:s3:::bucket/*?$/x") == "allow"
    assert decide([statement], "s3:GetObject", "arn:aws:s3:::bucket/ab$/x") == "implicit_deny"


def test_variable_in_condition_values() -> None:
    condition = {"StringLike": {"s3:prefix": ["home/${aws:userid}/*"]}}
    assert when(condition, {"aws:userid": "AIDA1", "s3:prefix": "home/AIDA1/docs"})
    assert not when(condition, {"aws:userid": "AIDA1", "s3:prefix": "home/AIDA2/docs"})
    equals = {"StringEquals": {"ec2:ResourceTag/Owner": "${aws:username}"}}
    assert when(equals, {"aws:username": "alice", "ec2:ResourceTag/Owner": "alice"})
    assert not when(equals, {"ec2:ResourceTag/Owner": "alice"})


def test_variable_holding_a_colon_inside_an_arn() -> None:
    me = {"aws:PrincipalAccount": "123456789012", "aws:username": "alice"}
    statement = allow("iam:ChangePassword", "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}")
    assert decide([statement], "iam:ChangePassword", "arn:aws:iam::123456789012:user/alice", me) == "allow"
    assert decide([statement], "iam:ChangePassword", "arn:aws:iam::999999999999:user/alice", me) == (
        "implicit_deny"
    )
    condition = {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:${aws:PrincipalAccount}:topic-*"}}
    assert when(condition, {**me, "aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:topic-a"})
    assert not when(condition, {**me, "aws:SourceArn": "arn:aws:sns:eu-west-1:999999999999:topic-a"})


# --- trust policies


def trust(principal: Any, negated: bool = False) -> CompiledPolicySet:
    key = "NotPrincipal" if negated else "Principal"
    return permissions([{"Effect": "Allow", key: principal, "Action": "sts:AssumeRole"}], kind="trust")


ROLE = "arn:aws:iam::123456789012:role/deploy"
CI = "arn:aws:iam::123456789012:user/ci"


@pytest.mark.parametrize(
    ("principal", "caller", "expected"),
    [
        ({"AWS": CI}, CI, "allow"),
        ({"AWS": CI}, "arn:aws:iam::123456789012:user/other", "implicit_deny"),
        ({"AWS": CI}, None, "implicit_deny"),
        ({"AWS": "123456789012"}, CI, "allow"),
        ({"AWS": "arn:aws:iam::123456789012:root"}, CI, "allow"),
        ({"AWS": "arn:aws:iam::123456789012:root"}, "arn:aws:iam::999999999999:user/ci", "implicit_deny"),
        ({"AWS": ["arn:aws:iam::1:user/a", CI]}, CI, "allow"),
        ({"Service": "ec2.amazonaws.com"}, "ec2.amazonaws.com", "allow"),
        ("*", None, "allow"),
        ({"AWS": "*"}, CI, "allow"),
    ],
)
def test_trust_policy_principal(principal: Any, caller: str | None, expected: str) -> None:
    assert trust(principal).evaluate("sts:AssumeRole", ROLE, principal=caller).decision == expected


def test_principal_can_come_from_the_context() -> None:
    assert trust({"AWS": CI}).evaluate("sts:AssumeRole", ROLE, {"aws:PrincipalArn": CI}).decision == "allow"


def test_not_principal() -> None:
    policies = trust({"AWS": CI}, negated=True)
    assert policies.evaluate("sts:AssumeRole", ROLE, principal=CI).decision == "implicit_deny"
    assert policies.evaluate("sts:AssumeRole", ROLE, principal="arn:aws:iam::1:user/x").decision == "allow"


# --- permissions boundary


def test_boundary_caps_what_policies_allow() -> None:
    policies = permissions([allow("*")])
    boundary = permissions([allow("s3:*", Sid="S3Only")])
    assert evaluate_with_boundary(policies, boundary, "s3:GetObject", "*") == Decision(
        "allow", (StatementRef("p0", 0, None), StatementRef("p0", 0, "S3Only"))
    )
    assert evaluate_with_boundary(policies, boundary, "ec2:RunInstances", "*").decision == "implicit_deny"


def test_boundary_grants_nothing_by_itself() -> None:
    assert (
        evaluate_with_boundary(
            permissions([allow("ec2:*")]), permissions([allow("*")]), "s3:GetObject", "*"
        ).decision
        == "implicit_deny"
    )


def test_deny_in_either_policies_or_boundary_denies() -> None:
    denying_boundary = permissions([allow("*"), deny("s3:Delete*", Sid="NoDelete")])
    assert evaluate_with_boundary(
        permissions([allow("*")]), denying_boundary, "s3:DeleteObject", "*"
    ) == Decision("explicit_deny", (StatementRef("p0", 1, "NoDelete"),))
    denying_policies = permissions([allow("*"), deny("s3:Delete*")])
    assert evaluate_with_boundary(
        denying_policies, permissions([allow("*")]), "s3:DeleteObject", "*"
    ).decision == ("explicit_deny")


def test_no_boundary_is_the_policies_alone() -> None:
    policies = permissions([allow("s3:GetObject")])
    assert evaluate_with_boundary(policies, None, "s3:GetObject", "*") == policies.evaluate(
        "s3:GetObject", "*"
    )


def test_boundary_sees_the_same_context() -> None:
    boundary = permissions([allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})])
    policies = permissions([allow("*")])
    assert (
        evaluate_with_boundary(
            policies, boundary, "s3:GetObject", "*", {"aws:MultiFactorAuthPresent": "true"}
        ).decision
        == "allow"
    )
    assert evaluate_with_boundary(policies, boundary, "s3:GetObject", "*", {}).decision == "implicit_deny"


# --- built-in policies


@pytest.mark.parametrize(
    ("name", "action", "expected"),
    [
        ("AdministratorAccess", "iam:CreateUser", "allow"),
        ("AdministratorAccess", "anything:AtAll", "allow"),
        ("PowerUserAccess", "ec2:RunInstances", "allow"),
        ("PowerUserAccess", "iam:CreateUser", "implicit_deny"),
        ("PowerUserAccess", "organizations:LeaveOrganization", "implicit_deny"),
        ("PowerUserAccess", "iam:ListRoles", "allow"),
        ("PowerUserAccess", "iam:CreateServiceLinkedRole", "allow"),
        ("ReadOnlyAccess", "s3:GetObject", "allow"),
        ("ReadOnlyAccess", "ec2:DescribeInstances", "allow"),
        ("ReadOnlyAccess", "iam:ListUsers", "allow"),
        ("ReadOnlyAccess", "s3:PutObject", "implicit_deny"),
        ("ReadOnlyAccess", "iam:CreateUser", "implicit_deny"),
    ],
)
def test_builtin_policy_behaviour(name: str, action: str, expected: str) -> None:
    decision = compile_policies([(name, builtin_policy(name))]).evaluate(action, "arn:aws:s3:::bucket/key")
    assert decision.decision == expected
    assert all(ref.policy == name for ref in decision.statements)


def test_compiling_the_same_document_again_gives_the_same_answers() -> None:
    document = builtin_policy("PowerUserAccess")
    first = compile_policies([("a", document)])
    second = compile_policies([("a", document), ("b", document)])
    assert len(second) == 2 * len(first) == 4
    assert second.policy_names == ("a", "b")
    assert second.evaluate("s3:GetObject", "*").statements == (
        StatementRef("a", 0, "AllowAllButIdentity"),
        StatementRef("b", 0, "AllowAllButIdentity"),
    )
