"""``tui policy validate`` and ``tui policy simulate``: exit codes, output shapes, every conformance case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from tests import CONFORMANCE
from tui.cli.policy import policy

REPO = Path(__file__).resolve().parents[1]
POLICY_CASES = CONFORMANCE / "policy"
EVALUATION_FILES = (
    "evaluation_cases.json",
    "condition_cases.json",
    "evaluation_cases_aws_docs.json",
    "condition_cases_aws_docs.json",
)
CASES = [case for name in EVALUATION_FILES for case in json.loads((POLICY_CASES / name).read_text())]
VALID = json.loads((POLICY_CASES / "valid_policies.json").read_text())
INVALID = json.loads((POLICY_CASES / "invalid_policies.json").read_text())

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def run(*args: str, stdin: str | bytes | None = None) -> Result:
    result = CliRunner().invoke(policy, list(args), input=stdin)
    assert "Traceback" not in result.output + result.stderr
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write(directory: Path, name: str, document: object) -> str:
    path = directory / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return str(path)


def test_conformance_files_hold_every_case() -> None:
    assert (len(CASES), len(VALID), len(INVALID)) == (68, 54, 78)


# --- simulate


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_simulate_decides_conformance_case(case: dict[str, Any], tmp_path: Path) -> None:
    args = ["simulate", "--action", case["action"], "--resource", case["resource"], "--json"]
    for index, document in enumerate(case["policies"]):
        args += ["--policy", write(tmp_path, f"policy{index}.json", document)]
    for key, values in (case.get("context") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            args += ["--context", f"{key}={value}"]
    if case.get("principal"):
        args += ["--principal", case["principal"]]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["decision"] == case["expected"]
    assert set(output) == {"decision", "statements"}
    for ref in output["statements"]:
        assert set(ref) == {"policy", "index", "sid"}
        assert ref["policy"].startswith(str(tmp_path))


def test_simulate_names_the_deciding_statement(tmp_path: Path) -> None:
    carlos = next(case for case in CASES if case["id"] == "P088")["policies"][0]
    path = write(tmp_path, "carlos.json", carlos)
    result = run(
        "simulate",
        "--policy",
        path,
        "--action",
        "s3:PutObject",
        "--resource",
        "arn:aws:s3:::carlossalazar-logs/file.txt",
        "--json",
    )
    assert json.loads(result.stdout) == {
        "decision": "explicit_deny",
        "statements": [{"policy": path, "index": 2, "sid": "DenyS3Logs"}],
    }
    human = run(
        "simulate",
        "--policy",
        path,
        "--action",
        "s3:PutObject",
        "--resource",
        "arn:aws:s3:::carlossalazar-logs/file.txt",
    )
    expected = (
        f"explicit_deny: s3:PutObject on arn:aws:s3:::carlossalazar-logs/file.txt is denied by {path} "
        "statement 2 (Sid DenyS3Logs)\n"
    )
    assert (human.exit_code, human.stdout) == (0, expected)


def test_simulate_human_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "all.json", ALLOW_ALL)
    allowed = run("simulate", "--policy", path, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k")
    assert (
        allowed.stdout
        == f"allow: s3:GetObject on arn:aws:s3:::b/k is allowed by {path} statement 0 (Sid All)\n"
    )
    nothing = run("simulate", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k")
    assert (nothing.exit_code, nothing.stdout) == (
        0,
        "implicit_deny: no statement allows s3:GetObject on arn:aws:s3:::b/k\n",
    )


def test_simulate_repeated_context_key_is_multi_valued(tmp_path: Path) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:TagUser",
                "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
            }
        ],
    }
    path = write(tmp_path, "tags.json", document)

    def decision(*tags: str) -> str:
        args = ["simulate", "--policy", path, "--action", "iam:TagUser", "--resource", "*", "--json"]
        for tag in tags:
            args += ["--context", f"aws:TagKeys={tag}"]
        return str(json.loads(run(*args).stdout)["decision"])

    assert decision("team", "cost") == "allow"
    assert decision("team", "owner") == "implicit_deny"


def test_simulate_context_typing(tmp_path: Path) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                    "DateLessThan": {"aws:CurrentTime": "2027-02-01T00:00:00Z"},
                    "NumericLessThan": {"s3:max-keys": "100"},
                },
            }
        ],
    }
    path = write(tmp_path, "typed.json", document)
    base = [
        "simulate",
        "--policy",
        path,
        "--action",
        "s3:GetObject",
        "--resource",
        "*",
        "--json",
        "--context",
        "aws:MultiFactorAuthPresent=true",
        "--context",
        "aws:SourceIp=203.0.113.7",
        "--context",
        "s3:max-keys=50",
    ]
    assert (
        json.loads(run(*base, "--context", "aws:CurrentTime=2027-01-31T09:00:00Z").stdout)["decision"]
        == "allow"
    )
    assert json.loads(run(*base, "--context", "aws:EpochTime=1801386000").stdout)["decision"] == "allow"
    late = run(*base, "--context", "aws:CurrentTime=2027-03-01T00:00:00Z")
    assert json.loads(late.stdout)["decision"] == "implicit_deny"


def test_simulate_boundary(tmp_path: Path) -> None:
    everything = write(tmp_path, "all.json", ALLOW_ALL)
    s3_only = write(
        tmp_path,
        "boundary.json",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    )
    args = ["simulate", "--policy", everything, "--boundary", s3_only, "--resource", "*", "--json"]
    assert json.loads(run(*args, "--action", "s3:GetObject").stdout)["decision"] == "allow"
    assert json.loads(run(*args, "--action", "ec2:RunInstances").stdout)["decision"] == "implicit_deny"


def test_simulate_refuses_an_invalid_policy(tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", ALLOW_ALL)
    bad = write(
        tmp_path,
        "bad.json",
        '{"Version": "2012-10-17",\n "Statement": {"Effect": "allow", "Action": "s3:*", "Resource": "*"}}',
    )
    result = run(
        "simulate", "--policy", good, "--policy", bad, "--action", "s3:GetObject", "--resource", "*", "--json"
    )
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f'error: {bad}: line 2: The policy failed legacy parsing. Statement.Effect "allow" '
        f'must be written exactly "Allow" or "Deny".\n'
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: str(tmp / "missing.json"),
        lambda tmp: str(tmp),  # a directory
        lambda tmp: (tmp / "latin1.json").write_bytes(b'{"Sid": "caf\xe9"}') and str(tmp / "latin1.json"),
    ],
)
def test_simulate_refuses_an_unreadable_file(make: Any, tmp_path: Path) -> None:
    path = make(tmp_path)
    result = run("simulate", "--policy", path, "--action", "s3:GetObject", "--resource", "*")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and path in result.stderr


@pytest.mark.parametrize(
    "extra",
    [
        ["--action", "s3GetObject", "--resource", "*"],
        ["--action", "s3:", "--resource", "*"],
        ["--action", "s3:GetObject", "--resource", "*", "--context", "no-equals-sign"],
        ["--action", "s3:GetObject", "--resource", "*", "--context", "=value"],
        ["--action", "s3:GetObject", "--resource", "*", "--context", "aws:CurrentTime=yesterday"],
        ["--action", "s3:GetObject"],
        ["--resource", "*"],
        ["--action", "s3:GetObject", "--resource", "*", "--kind", "sideways"],
    ],
)
def test_simulate_usage_errors_exit_2(extra: list[str], tmp_path: Path) -> None:
    result = run("simulate", "--policy", write(tmp_path, "p.json", ALLOW_ALL), *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error:" in result.stderr


def test_simulate_trust_policy_with_principal(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trust.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}
            ],
        },
    )
    args = [
        "simulate",
        "--policy",
        path,
        "--action",
        "sts:AssumeRole",
        "--resource",
        "arn:aws:iam::123456789012:role/deploy",
        "--json",
    ]
    assert (
        json.loads(run(*args, "--principal", "arn:aws:iam::123456789012:user/ci").stdout)["decision"]
        == "allow"
    )
    assert json.loads(run(*args, "--principal", "arn:aws:iam::999999999999:user/ci").stdout)["decision"] == (
        "implicit_deny"
    )
    identity_only = run(*args, "--kind", "identity")
    assert identity_only.exit_code == 1
    assert "Policy document should not specify a principal." in identity_only.stderr


# --- validate


@pytest.mark.parametrize("case", VALID, ids=[case["id"] for case in VALID])
def test_validate_accepts_valid_conformance_document(case: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "policy.json", case["document_text"])
    result = run("validate", path)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{path}: valid\n", "")


@pytest.mark.parametrize("case", INVALID, ids=[case["id"] for case in INVALID])
def test_validate_refuses_invalid_conformance_document(case: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "policy.json", case["document_text"])
    result = run("validate", path)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: {path}: ")
    assert case["expected_error"] in result.stderr
    as_json = run("validate", path, "--json")
    assert as_json.exit_code == 1
    output = json.loads(as_json.stdout)
    assert output["valid"] is False
    assert output["errors"][0]["message"].startswith(case["expected_error"])


def test_validate_json_shapes(tmp_path: Path) -> None:
    good = run("validate", write(tmp_path, "good.json", ALLOW_ALL), "--json")
    assert (good.exit_code, json.loads(good.stdout), good.stderr) == (0, {"valid": True, "errors": []}, "")
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n    "Action": "s3:*",\n'
        '    "Resource": "*",\n    "Resource": "arn:aws:s3:::b"\n  }\n}'
    )
    bad = run("validate", write(tmp_path, "dup.json", text), "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout) == {
        "valid": False,
        "errors": [
            {
                "message": 'Syntax errors in policy. Duplicate key "Resource" in Statement.',
                "field": "Statement.Resource",
                "line": 7,
            }
        ],
    }
    assert bad.stderr.endswith(': line 7: Syntax errors in policy. Duplicate key "Resource" in Statement.\n')


def test_validate_unreadable_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    result = run("validate", missing)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: cannot read {missing}: No such file or directory\n"
    as_json = run("validate", missing, "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["valid"] is False


def test_validate_reads_stdin_and_tolerates_a_bom() -> None:
    result = run("validate", "-", stdin=b"\xef\xbb\xbf" + json.dumps(ALLOW_ALL).encode())
    assert (result.exit_code, result.stdout) == (0, "-: valid\n")


def test_validate_managed_quota(tmp_path: Path) -> None:
    statement = {"Sid": "S" * 7000, "Effect": "Allow", "Action": "*", "Resource": "*"}
    path = write(tmp_path, "big.json", {"Version": "2012-10-17", "Statement": statement})
    assert run("validate", path).exit_code == 0
    managed = run("validate", path, "--managed")
    assert managed.exit_code == 1
    assert "Cannot exceed quota for PolicySize: 6144." in managed.stderr


def test_validate_trust_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trust.json",
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
        },
    )
    assert run("validate", path).exit_code == 1
    assert run("validate", path, "--kind", "trust").exit_code == 0
    assert run("validate", path, "--kind", "auto").exit_code == 0


def test_control_characters_in_file_names_are_escaped(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "evil\x1b[31m.json"))
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\\x1b[31m" in result.stderr


# --- the command itself


def test_every_command_has_help() -> None:
    assert policy.help
    for name, command in policy.commands.items():
        assert command.help, name
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout
        for parameter in command.params:
            if isinstance(parameter, click.Option) and parameter.name != "help":
                assert parameter.help, f"{name} {parameter.opts}"


def test_policy_commands_do_not_import_textual() -> None:
    code = (
        "import sys; import tui.cli.policy, store.policy; "
        "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
