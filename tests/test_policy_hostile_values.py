"""Values that cannot be what their operator compares, contradictory options, and a credential_process
document that is not one: each refused with a message naming what is wrong (hostile inputs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from store.policy import (
    Condition,
    RequestContext,
    compile_condition,
    compile_policies,
    parse_policy,
    validate_policy,
)
from store.policy.patterns import parse_date
from tui.cli.policy import policy

NUMERIC = (
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
)


def document(operator: str, key: str, value: object) -> str:
    statement = {
        "Sid": "Guarded",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "*",
        "Condition": {operator: {key: value}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def run(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(policy, list(args), input=stdin)
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


# --- validation


@pytest.mark.parametrize("operator", NUMERIC + tuple(f"ForAnyValue:{op}IfExists" for op in NUMERIC[:2]))
@pytest.mark.parametrize(
    "value", ["NaN", "inf", "-Infinity", "1e309", "1e3", "１０", "٣", " 10", "1_000", "", "0x10"]
)
def test_a_numeric_condition_value_that_is_not_a_number_is_refused(operator: str, value: str) -> None:
    problems = validate_policy(document(operator, "s3:max-keys", value))
    assert problems, f"{operator} {value!r} was accepted"
    message = problems[0].message
    assert message.startswith("Data type mismatch: Statement[0].Condition."), message
    assert f'{operator}.s3:max-keys: "{value}" is not a number' in message
    assert problems[0].field == f"Statement[0].Condition.{operator}.s3:max-keys"


@pytest.mark.parametrize("value", ["10", "-2.5", ".5", "5.", "0", 10, 2.5, "12345678901234567890123"])
def test_a_number_is_accepted(value: object) -> None:
    assert validate_policy(document("NumericLessThan", "s3:max-keys", value)) == []


@pytest.mark.parametrize(
    ("operator", "key", "value", "said"),
    [
        (
            "IpAddress",
            "aws:SourceIp",
            "999.1.1.1/99",
            "is not an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)",
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            "10.0.0.0/33",
            "is not an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            "１０.0.0.1",
            "is not an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)",
        ),
        ("Bool", "aws:SecureTransport", "maybe", 'is not "true" or "false"'),
        ("ForAllValues:BoolIfExists", "aws:SecureTransport", "yes", 'is not "true" or "false"'),
        ("Null", "aws:TokenIssueTime", "perhaps", 'is not "true" or "false"'),
        ("Null", "aws:TokenIssueTime", 1, 'is not "true" or "false"'),
    ],
)
def test_a_value_its_operator_cannot_compare_is_refused(
    operator: str, key: str, value: object, said: str
) -> None:
    problems = validate_policy(document(operator, key, value))
    assert problems, f"{operator} {value!r} was accepted"
    assert (
        problems[0].message
        == f'Data type mismatch: Statement[0].Condition.{operator}.{key}: "{value}" {said}.'
    )


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("IpAddress", "203.0.113.0/24"),
        ("NotIpAddress", "2001:db8::/32"),
        ("Bool", "True"),
        ("Bool", False),
        ("Null", "true"),
        ("Null", False),
    ],
)
def test_a_value_of_the_operators_type_is_accepted(operator: str, value: object) -> None:
    assert validate_policy(document(operator, "aws:SourceIp", value)) == []


def test_a_control_character_in_a_refused_value_is_not_echoed_raw() -> None:
    # The parser refuses the control character itself first; the message never carries it raw.
    problems = validate_policy(document("NumericLessThan", "s3:max-keys", "1\x1b[2J"))
    assert problems and "\x1b" not in problems[0].message


# --- evaluation


def decide(operator: str, policy_value: str, context: dict[str, Any]) -> bool:
    check = compile_condition(Condition(operator, "k", (policy_value,)))
    return check(RequestContext.build(context))


@pytest.mark.parametrize("request_value", ["inf", "Infinity", "NaN", "１０", "1e1", " 5", "1_0", "five"])
@pytest.mark.parametrize("operator", NUMERIC)
def test_a_request_value_that_is_not_a_number_matches_no_numeric_condition(
    operator: str, request_value: str
) -> None:
    assert not decide(operator, "10", {"k": request_value})
    assert not decide(f"ForAnyValue:{operator}", "10", {"k": [request_value]})
    assert not decide(f"ForAllValues:{operator}", "10", {"k": [request_value]})
    assert not decide(f"{operator}IfExists", "10", {"k": request_value})


def test_an_unreadable_policy_value_never_matches_even_unvalidated() -> None:
    # compile_condition on a Condition built without parse_policy (a stored or built-in document of old)
    for value in ("inf", "NaN", "１０", "1e309"):
        assert not decide("NumericLessThan", value, {"k": "5"})
        assert not decide("NumericGreaterThan", value, {"k": "5"})
    assert not decide("IpAddress", "999.1.1.1/99", {"k": "999.1.1.1"})
    assert not decide("Bool", "maybe", {"k": "maybe"})


def test_numbers_compare_exactly_and_in_ascii() -> None:
    assert decide("NumericLessThan", "10", {"k": "9.999"})
    assert not decide("NumericEquals", "9007199254740993", {"k": "9007199254740992"})  # equal as floats
    assert decide("NumericEquals", "10", {"k": "10.0"})
    assert not decide("NumericEquals", "10", {"k": "１０"}) and decide("NumericEquals", "10", {"k": "10"})


def test_bool_and_ip_request_values_must_be_of_the_type() -> None:
    assert decide("Bool", "true", {"k": "TRUE"})
    assert not decide("Bool", "false", {"k": "maybe"})
    assert not decide("IpAddress", "10.0.0.0/8", {"k": "１０.0.0.1"})
    assert not decide("NotIpAddress", "10.0.0.0/8", {"k": "not an address"})  # not "an address outside"
    assert decide("NotIpAddress", "10.0.0.0/8", {"k": "192.0.2.1"})


def test_date_bounds_are_the_same_for_the_document_and_the_request() -> None:
    epoch = "99999999999999"
    text = document("DateLessThan", "aws:CurrentTime", epoch)
    assert validate_policy(text) == []
    permissions = compile_policies([("p", parse_policy(text))])

    def allowed(now: str) -> bool:
        context = RequestContext.build({"aws:CurrentTime": now})
        return permissions.evaluate("s3:ListBucket", "*", context).decision == "allow"

    assert allowed("99999999999998") and not allowed(epoch)
    assert allowed("2027-01-31T09:00:00Z")
    # IAM's upper bound (2**63 - 1) on both sides; one past it refused on both sides.
    assert parse_date("9223372036854775807") is not None and parse_date("9223372036854775808") is None
    assert validate_policy(document("DateLessThan", "aws:CurrentTime", "9223372036854775808"))
    for value in ("１７００000000", "2027-01-31T09:00:00Z\u2028", "+1700000000"):
        assert parse_date(value) is None
        assert validate_policy(document("DateLessThan", "aws:CurrentTime", value))


def test_a_time_beyond_a_datetime_still_fills_both_time_keys() -> None:
    context = RequestContext.build({"aws:CurrentTime": "99999999999999"})
    assert context.get("aws:EpochTime") == ("99999999999999",)


# --- the command line


def test_validate_and_simulate_refuse_the_same_values(tmp_path: Path) -> None:
    for operator, key, value in (
        ("NumericLessThan", "s3:max-keys", "inf"),
        ("NumericLessThan", "s3:max-keys", "１０"),
        ("IpAddress", "aws:SourceIp", "999.1.1.1/99"),
        ("Bool", "aws:SecureTransport", "maybe"),
        ("Null", "aws:TokenIssueTime", "perhaps"),
    ):
        path = tmp_path / "p.json"
        path.write_text(document(operator, key, value))
        checked = run("validate", str(path))
        assert checked.exit_code == 1, checked.output
        assert f'Statement[0].Condition.{operator}.{key}: "{value}"' in checked.output
        simulated = run("simulate", "--policy", str(path), "--action", "s3:ListBucket", "--resource", "*")
        assert simulated.exit_code == 1 and "Data type mismatch" in simulated.output


def test_a_date_the_document_accepts_is_accepted_as_context(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(document("DateLessThan", "aws:CurrentTime", "99999999999999"))
    assert run("validate", str(path)).exit_code == 0
    base = ["simulate", "--policy", str(path), "--action", "s3:ListBucket", "--resource", "*", "--json"]
    early = run(*base, "--context", "aws:CurrentTime=99999999999998")
    assert early.exit_code == 0 and json.loads(early.output)["decision"] == "allow"
    late = run(*base, "--context", "aws:CurrentTime=99999999999999")
    assert late.exit_code == 0 and json.loads(late.output)["decision"] == "implicit_deny"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--inline", "{f}", "--no-inline"], ("--inline", "--no-inline")),
        (["--managed", "S3Read", "--no-managed"], ("--managed", "--no-managed")),
        (["--boundary", "{f}", "--no-boundary"], ("--boundary", "--no-boundary")),
        (["--delete", "--inline", "{f}"], ("--delete", "--inline")),
        (["--delete", "--no-managed"], ("--delete", "--no-managed")),
        (["--inline", "{f}", "--inline", "{f}"], ("--inline",)),
        (["--permission-set", "Other"], ("--permission-set",)),
        (["--document", "{f}"], ("--document", "--library-policy")),
    ],
)
def test_impact_refuses_contradictory_or_repeated_options(
    run_tui: Any, directory: Any, tmp_path: Path, args: list[str], named: tuple[str, ...]
) -> None:
    path = tmp_path / "p.json"
    path.write_text(document("StringEquals", "aws:username", "ann"))
    directory.permission_sets.create("Reader")
    argv = ["policy", "impact", "--permission-set", "Reader", *(a.format(f=path) for a in args)]
    result = run_tui(*argv)
    assert result.returncode == 2, result
    for option in named:
        assert option in result.stderr, result


def test_impact_library_policy_refuses_permission_set_edits(
    run_tui: Any, directory: Any, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    path.write_text(document("StringEquals", "aws:username", "ann"))
    for extra in (["--delete"], ["--no-inline"], ["--permission-set", "Reader"]):
        argv = ["policy", "impact", "--library-policy", "S3Read", "--document", str(path), *extra]
        result = run_tui(*argv)
        assert result.returncode == 2 and "--library-policy" in result.stderr and extra[0] in result.stderr, (
            result
        )


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--kind", "trust", "--kind", "identity", "{f}"],
        [
            "simulate",
            "--policy",
            "{f}",
            "--action",
            "s3:GetObject",
            "--action",
            "s3:PutObject",
            "--resource",
            "*",
        ],
        ["simulate", "--policy", "{f}", "--action", "s3:GetObject", "--resource", "a", "--resource", "*"],
        [
            "simulate",
            "--policy",
            "{f}",
            "--action",
            "s3:A",
            "--resource",
            "*",
            "--boundary",
            "{f}",
            "--boundary",
            "{f}",
        ],
        ["simulate", "--action", "s3:A", "--resource", "*", "--user", "a", "--user", "b", "--account", "x"],
    ],
)
def test_a_repeated_single_value_option_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(document("StringEquals", "aws:username", "ann"))
    result = run(*(a.format(f=path) for a in args))
    assert result.exit_code == 2, result.output
    assert "was given 2 times" in result.output and "give it once" in result.output


def test_single_options_given_once_still_work(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(document("StringEquals", "aws:username", "ann"))
    assert run("validate", "--kind", "identity", str(path)).exit_code == 0
    assert run("validate", str(path)).exit_code == 0  # --kind's default
    decided = run(
        "simulate",
        "--policy",
        str(path),
        "--action",
        "s3:ListBucket",
        "--resource",
        "*",
        "--context",
        "aws:username=ann",
        "--json",
    )
    assert decided.exit_code == 0 and json.loads(decided.output)["decision"] == "allow"


# --- sessions verify


@pytest.fixture
def issued(directory: Any, run_tui: Any) -> dict[str, Any]:
    alice = directory.users.create("alice")
    prod = directory.accounts.create("prod")
    reader = directory.permission_sets.create("ReadOnly", managed_policies=["ReadOnlyAccess"])
    directory.assignments.create("user", alice.id, prod.id, reader.id)
    result = run_tui(
        "sessions",
        "issue",
        "--user",
        "alice",
        "--account",
        "prod",
        "--permission-set",
        "ReadOnly",
        "--format",
        "credential-process",
    )
    assert result.returncode == 0, result
    credentials: dict[str, Any] = result.json()
    return credentials


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("Version", 2, "not 2"),
        ("Version", "1", "not '1'"),
        ("Version", True, "not true"),
        ("Version", None, "not null"),
        ("Expiration", "garbage\x1b[2J", "not 'garbage\\x1b[2J'"),
        ("Expiration", None, "not null"),
        ("Expiration", "2027-02-30T00:00:00Z", "not '2027-02-30T00:00:00Z'"),
        ("Expiration", "2027-01-31T09:00:00+05:00", "not '2027-01-31T09:00:00+05:00'"),
        ("Expiration", 1801386000, "not 1801386000"),
    ],
)
def test_verify_refuses_a_wrong_version_or_expiration(
    issued: dict[str, Any], run_tui: Any, field: str, value: object, shown: str
) -> None:
    presented = json.dumps({**issued, field: value})
    plain = run_tui("sessions", "verify", input=presented)
    assert plain.returncode == 1 and field in plain.stderr and shown in plain.stderr, plain
    assert "\x1b" not in plain.stderr and issued["SecretAccessKey"] not in plain.stderr
    answer = run_tui("sessions", "verify", "--json", input=presented)
    assert answer.returncode == 1, answer
    refused = answer.json()
    assert refused["valid"] is False and refused["reason"] == "malformed" and shown in refused["message"]


def test_verify_accepts_what_issue_printed(issued: dict[str, Any], run_tui: Any) -> None:
    assert run_tui("sessions", "verify", input=json.dumps(issued)).returncode == 0
    without = {key: issued[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    assert (
        run_tui("sessions", "verify", input=json.dumps(without)).returncode == 0
    )  # Version/Expiration optional


@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        (b"[]", "expected a JSON object"),
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not JSON (not UTF-8 text)"),
        (b"{}", "AccessKeyId is missing"),
        (b'{"AccessKeyId": 1, "SecretAccessKey": "s", "SessionToken": "t"}', "AccessKeyId must be a string"),
        (b'{"AccessKeyId": "A", "SecretAccessKey": "s", "SessionToken": ""}', "SessionToken is empty"),
        (b"null", "expected a JSON object"),
    ],
)
def test_verify_json_answers_every_refused_input(
    directory: Any, run_tui: Any, stdin: bytes, said: str
) -> None:
    answer = run_tui("sessions", "verify", "--json", input=stdin)
    assert answer.returncode == 1, answer
    refused = answer.json()
    assert refused["valid"] is False and refused["reason"] == "malformed", answer
    assert said in refused["message"] and said in answer.stderr, answer
    plain = run_tui("sessions", "verify", input=stdin)
    assert plain.returncode == 1 and plain.stdout == "" and said in plain.stderr, plain
