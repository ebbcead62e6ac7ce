"""Policy documents: every conformance document classified right, plus the refusals moto does not test."""

from __future__ import annotations

import json

import pytest

from store.errors import ValidationError
from store.policy import (
    BUILTIN_POLICIES,
    INLINE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    PolicyValidationError,
    builtin_policy,
    parse_policy,
    validate_policy,
)
from tests import CONFORMANCE

POLICY_CASES = CONFORMANCE / "policy"
VALID = json.loads((POLICY_CASES / "valid_policies.json").read_text())
INVALID = json.loads((POLICY_CASES / "invalid_policies.json").read_text())


def doc(statement: object, **top: object) -> str:
    return json.dumps({"Version": "2012-10-17", **top, "Statement": statement})


ALLOW_S3 = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}


def test_conformance_files_hold_every_case() -> None:
    assert (len(VALID), len(INVALID)) == (54, 78)


@pytest.mark.parametrize("case", VALID, ids=[case["id"] for case in VALID])
def test_valid_conformance_document_is_accepted(case: dict[str, object]) -> None:
    text = str(case["document_text"])
    assert validate_policy(text) == []
    document = parse_policy(text)
    raw = case["document"]
    assert isinstance(raw, dict)
    expected_count = len(raw["Statement"]) if isinstance(raw["Statement"], list) else 1
    assert len(document.statements) == expected_count


@pytest.mark.parametrize("case", INVALID, ids=[case["id"] for case in INVALID])
def test_invalid_conformance_document_is_refused_with_motos_message(case: dict[str, str]) -> None:
    problems = validate_policy(case["document_text"])
    assert problems, "accepted an invalid document"
    assert problems[0].message.startswith(case["expected_error"])
    with pytest.raises(ValidationError) as raised:
        parse_policy(case["document_text"])
    assert str(raised.value) == problems[0].message


def test_refusal_names_field_and_line() -> None:
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
        '    {"Effect": "Maybe",\n     "Action": "s3:*", "Resource": "*"}\n  ]\n}'
    )
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy(text)
    error = raised.value
    assert error.message == 'Syntax errors in policy. Statement[1].Effect must be "Allow" or "Deny".'
    assert error.field == "Statement[1].Effect"
    assert error.line == 5


def test_malformed_json_reports_its_line() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow" "Action": "s3:*"}\n  ]\n}'
    [problem] = validate_policy(text)
    assert problem.message.startswith("Syntax errors in policy. Not valid JSON: Expecting ',' delimiter")
    assert problem.line == 4


def test_every_syntax_problem_of_the_document_is_listed() -> None:
    text = doc(
        [
            {"Effect": "Perhaps", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": 5, "Resource": "*", "Extra": 1},
        ]
    )
    fields = [problem.field for problem in validate_policy(text)]
    assert fields == ["Statement[0].Effect", "Statement[1].Extra", "Statement[1].Action"]


def test_a_valid_document_is_normalised() -> None:
    document = parse_policy(
        doc(
            [
                {"Sid": "One", "Effect": "Allow", "NotAction": "iam:*", "Resource": ["arn:aws:s3:::a", None]},
                {
                    "Effect": "Deny",
                    "Action": ["s3:Delete*"],
                    "NotResource": "arn:aws:s3:::keep/*",
                    "Condition": {
                        "Bool": {"aws:MultiFactorAuthPresent": False},
                        "NumericLessThan": {"s3:max-keys": [10, 2.5]},
                    },
                },
            ],
            Id="example",
        )
    )
    first, second = document.statements
    assert (document.version, document.id, document.kind) == ("2012-10-17", "example", "identity")
    assert (first.index, first.sid, first.effect, first.actions, first.actions_negated) == (
        0,
        "One",
        "Allow",
        ("iam:*",),
        True,
    )
    assert first.resources == ("arn:aws:s3:::a",)  # moto and AWS accept a null entry; it names nothing
    assert (second.sid, second.resources, second.resources_negated) == (None, ("arn:aws:s3:::keep/*",), True)
    assert [(c.operator, c.key, c.values) for c in second.conditions] == [
        ("Bool", "aws:MultiFactorAuthPresent", ("false",)),
        ("NumericLessThan", "s3:max-keys", ("10", "2.5")),
    ]


def test_statement_object_and_one_item_list_read_the_same() -> None:
    assert parse_policy(doc(ALLOW_S3)).statements == parse_policy(doc([ALLOW_S3])).statements


def test_duplicate_json_key_is_refused_with_its_line() -> None:
    text = (
        '{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow",\n  "Action": "s3:*",\n'
        '  "Action": "ec2:*", "Resource": "*"}}'
    )
    [problem] = validate_policy(text)
    assert problem.message == 'Syntax errors in policy. Duplicate key "Action" in Statement.'
    assert (problem.field, problem.line) == ("Statement.Action", 4)


def test_duplicate_top_level_key_is_refused() -> None:
    text = (
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": {"Effect": "Allow", '
        '"Action": "s3:*", "Resource": "*"}}'
    )
    assert validate_policy(text)[0].message == 'Syntax errors in policy. Duplicate key "Version".'


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-2E+400", "9" * 400])
def test_non_finite_numbers_are_refused(literal: str) -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",\n'
        f'"Condition": {{"NumericLessThan": {{"s3:max-keys": {literal}}}}}}}}}'
    )
    [problem] = validate_policy(text)
    assert problem.message.startswith("Syntax errors in policy.")
    assert literal.lstrip("-") in problem.message
    assert problem.line == 2


def test_a_value_too_long_for_a_message_is_cut_with_its_length() -> None:
    """moto's wording is kept around the document's values, but a 9,000-digit number (within the size quota)
    was echoed whole: a 9 KB message."""
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",\n'
        f'"Condition": {{"NumericLessThan": {{"s3:max-keys": {"9" * 9000}}}}}}}}}'
    )
    [problem] = validate_policy(text)
    assert problem.message.startswith("Syntax errors in policy. The number 999")
    assert "… (9,000 characters) is out of range." in problem.message and len(problem.message) < 400


@pytest.mark.parametrize("char", ["\u0000", "\u0007", "\n", "\u007f", "\u0085", "\u202e", "\u200b", "\ufeff"])
def test_control_and_format_characters_in_strings_are_refused(char: str) -> None:
    text = doc({**ALLOW_S3, "Resource": f"arn:aws:s3:::bucket{char}/*"})  # json.dumps escapes it as \uXXXX
    [problem] = validate_policy(text)
    assert problem.message == (
        f"Syntax errors in policy. Statement.Resource contains the control or format "
        f"character U+{ord(char):04X}."
    )
    assert problem.field == "Statement.Resource"


def test_control_character_in_a_key_is_refused() -> None:
    text = doc({**ALLOW_S3, "Condition": {"StringEquals": {"aws:user\u0000name": "x"}}})
    assert "U+0000" in validate_policy(text)[0].message


def test_raw_control_character_is_a_json_error() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Sid": "a\x01", "Effect": "Allow", "Action": "s3:*", '
        '"Resource": "*"}}'
    )
    assert validate_policy(text)[0].message.startswith(
        "Syntax errors in policy. Not valid JSON: Invalid control character"
    )


def test_deep_nesting_is_refused_before_parsing() -> None:
    # 5,000 levels fit the size quota and would overflow the json module's recursion
    [problem] = validate_policy("[" * 5_000 + "]" * 5_000)
    assert problem.message == "Syntax errors in policy. JSON nested deeper than 8 levels."
    nested = doc({**ALLOW_S3, "Condition": {"StringEquals": {"a": [[[[["x"]]]]]}}})
    assert validate_policy(nested)[0].message == "Syntax errors in policy. JSON nested deeper than 8 levels."


def _padded(size: int) -> str:
    """A valid document of exactly ``size`` non-whitespace characters (padding in the Sid)."""
    base = doc({**ALLOW_S3, "Sid": ""})
    return doc({**ALLOW_S3, "Sid": "S" * (size - len(base.replace(" ", "")))})


def test_size_quota_counts_characters_without_whitespace() -> None:
    at_limit = _padded(INLINE_POLICY_MAX_CHARS)
    assert validate_policy(at_limit) == []
    assert validate_policy(at_limit.replace(", ", ",\n        ")) == []  # whitespace is free
    [problem] = validate_policy(_padded(INLINE_POLICY_MAX_CHARS + 1))
    assert problem.message == (
        "Cannot exceed quota for PolicySize: 10240. The document has 10,241 characters, "
        "not counting whitespace."
    )


def test_managed_quota_is_smaller() -> None:
    text = _padded(MANAGED_POLICY_MAX_CHARS + 1)
    assert validate_policy(text) == []
    assert validate_policy(text, max_chars=MANAGED_POLICY_MAX_CHARS)[0].message.startswith(
        "Cannot exceed quota for PolicySize: 6144."
    )
    assert validate_policy(_padded(MANAGED_POLICY_MAX_CHARS), max_chars=MANAGED_POLICY_MAX_CHARS) == []


def test_whitespace_bomb_is_refused_unread() -> None:
    message = validate_policy(" " * 1_000_000 + doc(ALLOW_S3))[0].message
    assert message.startswith("Cannot exceed quota for PolicySize: 10240. The document is 1,000,")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "Syntax errors in policy. A policy document is a JSON object, not a list."),
        ('"text"', "Syntax errors in policy. A policy document is a JSON object, not a string."),
        ("", "Syntax errors in policy. Not valid JSON: Expecting value (line 1, column 1)."),
    ],
)
def test_not_an_object(text: str, expected: str) -> None:
    assert [problem.message for problem in validate_policy(text)] == [expected]


def test_text_is_required() -> None:
    with pytest.raises(PolicyValidationError, match="is text, not bytes"):
        parse_policy(b"{}")  # type: ignore[arg-type]  # bytes on purpose


def test_version_2008_is_refused_as_aws_does_for_identity_policies() -> None:
    [problem] = validate_policy(doc(ALLOW_S3, Version="2008-10-17"))
    assert problem.message == (
        'Policy document must be version 2012-10-17 or greater. Version "2008-10-17" is '
        'too old; write "Version": "2012-10-17".'
    )
    assert problem.field == "Version"


def test_unknown_condition_operator_is_refused() -> None:
    text = doc({**ALLOW_S3, "Condition": {"StringEqualz": {"aws:username": "x"}}})
    assert validate_policy(text)[0].message == (
        'Syntax errors in policy. Statement.Condition uses the unknown operator "StringEqualz".'
    )


def test_both_action_and_not_action_is_refused() -> None:
    text = doc({**ALLOW_S3, "NotAction": "iam:*"})
    assert validate_policy(text)[0].message == (
        "Syntax errors in policy. Statement has both Action and NotAction; use exactly one."
    )


def test_resource_must_start_with_arn() -> None:
    assert validate_policy(doc({**ALLOW_S3, "Resource": "urn:aws:s3:::bucket"}))[0].message == (
        'Resource urn:aws:s3:::bucket must be in ARN format or "*".'
    )


def test_iam_resource_path_with_wildcard_is_accepted_when_it_can_name_an_iam_entity() -> None:
    assert (
        validate_policy(
            doc(
                {
                    **ALLOW_S3,
                    "Resource": [
                        "arn:aws:iam::*:*",
                        "arn:aws:iam::1:us*",
                        "arn:aws:iam::1:user/${aws:username}",
                    ],
                }
            )
        )
        == []
    )
    assert validate_policy(doc({**ALLOW_S3, "Resource": "arn:aws:iam::1:xyz*"}))[0].message.startswith(
        'IAM resource path must either be "*" or start with user/'
    )


def test_colon_inside_a_policy_variable_is_not_an_arn_separator() -> None:
    resource = "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"
    assert validate_policy(doc({**ALLOW_S3, "Resource": resource})) == []
    assert validate_policy(doc({**ALLOW_S3, "Resource": "arn:aws:iam::${aws:PrincipalAccount}:xyz"}))[
        0
    ].message.startswith('IAM resource path must either be "*" or start with user/')


def test_other_partitions_are_valid() -> None:
    for partition in ("aws-cn", "aws-us-gov"):
        assert validate_policy(doc({**ALLOW_S3, "Resource": f"arn:{partition}:s3:::bucket"})) == []


def test_every_problem_of_the_failing_check_is_listed() -> None:
    text = doc(
        [
            {"Effect": "Allow", "Action": "nope", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:Get", "a:b:c"], "Resource": "*"},
        ]
    )
    assert [(problem.field, problem.message.split(" (")[0]) for problem in validate_policy(text)] == [
        ("Statement[0].Action", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        ("Statement[1].Action[1]", "Actions/Condition can contain only one colon."),
    ]


TRUST = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:user/ci"},
    "Action": "sts:AssumeRole",
}


def test_identity_policy_refuses_a_principal() -> None:
    [problem] = validate_policy(doc({**ALLOW_S3, "Principal": "*"}))
    assert problem.message.startswith("Policy document should not specify a principal.")
    assert problem.field == "Statement.Principal"


def test_trust_policy_kind() -> None:
    document = parse_policy(doc(TRUST), kind="trust")
    assert document.kind == "trust"
    [statement] = document.statements
    assert statement.principals == (("AWS", "arn:aws:iam::123456789012:user/ci"),)
    assert statement.resources is None
    assert parse_policy(doc(TRUST), kind="auto").kind == "trust"
    assert parse_policy(doc(ALLOW_S3), kind="auto").kind == "identity"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({**TRUST, "Resource": "*"}, "Has prohibited field Resource."),
        ({**TRUST, "Action": "s3:GetObject"}, "Trust Policy statement actions can only be sts:AssumeRole"),
        ({"Effect": "Allow", "Action": "sts:AssumeRole"}, "Missing required field Principal."),
        ({**TRUST, "Principal": {"Somebody": "x"}}, "Syntax errors in policy. Statement.Principal must be"),
    ],
)
def test_trust_policy_rules(statement: dict[str, object], expected: str) -> None:
    problems = validate_policy(doc(statement), kind="trust")
    assert problems and problems[0].message.startswith(expected)


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_builtin_policies_are_valid_managed_documents(name: str) -> None:
    assert validate_policy(BUILTIN_POLICIES[name], max_chars=MANAGED_POLICY_MAX_CHARS) == []
    assert builtin_policy(name).statements


def test_builtin_names() -> None:
    assert sorted(BUILTIN_POLICIES) == ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess"]
