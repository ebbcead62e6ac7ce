"""Policy decisions per second against a 50-statement permission set.

The set mixes what real permission sets hold: exact and wildcard actions over many services, NotAction,
resources with wildcards and ``${aws:username}``, conditions (Bool, StringLike, IpAddress, Date, ForAnyValue)
and Deny statements. Requests cycle through allowed, explicitly denied and implicitly denied cases, each
with a request context built once (as a caller holding a session does). Prints one JSON line on stdout.

    python bench/bench_policy.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store.policy import RequestContext, compile_policies, parse_policy

SERVICES = ["s3", "ec2", "iam", "lambda", "dynamodb", "sqs", "sns", "kms", "logs", "rds"]


def team_resource(service: str, number: int) -> str:
    # IAM and S3 ARNs carry no region (the validator refuses one, as AWS does).
    if service == "iam":
        return f"arn:aws:iam::123456789012:group/team-{number}/*"
    if service == "s3":
        return f"arn:aws:s3:::team-{number}/*"
    return f"arn:aws:{service}:*:123456789012:team-{number}/*"


def statements() -> list[dict[str, Any]]:
    built: list[dict[str, Any]] = []
    for number, service in enumerate(SERVICES):
        built.append(
            {
                "Sid": f"Read{number}",
                "Effect": "Allow",
                "Action": [f"{service}:Get*", f"{service}:List*", f"{service}:Describe*"],
                "Resource": "*",
            }
        )
        built.append(
            {
                "Sid": f"Team{number}",
                "Effect": "Allow",
                "Action": f"{service}:*",
                "Resource": team_resource(service, number),
                "Condition": {"StringLike": {"aws:PrincipalTag/team": [f"team-{number}", "platform*"]}},
            }
        )
        built.append(
            {
                "Sid": f"Home{number}",
                "Effect": "Allow",
                "Action": [f"{service}:Put*", f"{service}:Create*"],
                "Resource": f"arn:aws:s3:::{service}-home/${{aws:username}}/*",
            }
        )
        built.append(
            {
                "Sid": f"Office{number}",
                "Effect": "Allow",
                "Action": f"{service}:Update?tem",
                "Resource": "arn:aws:dynamodb:*:*:table/*",
                "Condition": {
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
                    "DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"},
                },
            }
        )
    built += [
        {
            "Sid": "DenyWithoutMfa",
            "Effect": "Deny",
            "NotAction": ["iam:*", "sts:*"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
        {"Sid": "DenyDeletes", "Effect": "Deny", "Action": ["*:Delete*", "*:Terminate*"], "Resource": "*"},
        {"Sid": "DenyLogs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
        {
            "Sid": "AllowTagged",
            "Effect": "Allow",
            "Action": "ec2:*Tags",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["cost", "owner"]}},
        },
        {
            "Sid": "AllowSelfIam",
            "Effect": "Allow",
            "Action": ["iam:*AccessKey*", "iam:ChangePassword"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowAll",
            "Effect": "Allow",
            "NotAction": ["iam:*", "organizations:*"],
            "Resource": "*",
            "Condition": {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "StringEquals": {"aws:username": "root"},
            },
        },
        {
            "Sid": "AllowKms",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        },
        {
            "Sid": "AllowQueues",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:*:*:jobs-*",
        },
        {
            "Sid": "AllowLambda",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:*:123456789012:function:api-*",
        },
        {
            "Sid": "AllowNumeric",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::data",
            "Condition": {"NumericLessThanEquals": {"s3:max-keys": "100"}},
        },
    ]
    assert len(built) == 50, len(built)
    return built


def requests() -> list[tuple[str, str, RequestContext]]:
    alice = RequestContext.build(
        {
            "aws:username": "alice",
            "aws:MultiFactorAuthPresent": "true",
            "aws:PrincipalTag/team": "team-3",
            "aws:SourceIp": "10.1.2.3",
            "aws:TagKeys": ["owner"],
            "s3:max-keys": "50",
        }
    )
    bob = RequestContext.build({"aws:username": "bob", "aws:SourceIp": "203.0.113.9"})
    return [
        ("s3:GetObject", "arn:aws:s3:::bucket/key", alice),  # allow (Read0)
        ("s3:PutObject", "arn:aws:s3:::s3-home/alice/notes.txt", alice),  # allow (Home0)
        ("s3:PutObject", "arn:aws:s3:::s3-home/bob/notes.txt", alice),  # implicit deny
        ("s3:GetObject", "arn:aws:s3:::app-logs/x", alice),  # explicit deny (DenyLogs)
        ("ec2:TerminateInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1", alice),  # explicit deny
        ("ec2:CreateTags", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1", alice),  # allow (AllowTagged)
        ("dynamodb:UpdateItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/t", alice),  # allow (Office4)
        (
            "dynamodb:UpdateItem",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
            bob,
        ),  # explicit deny (no MFA)
        ("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/bob", bob),  # allow (AllowSelfIam)
        ("iam:CreateUser", "arn:aws:iam::123456789012:user/carol", alice),  # implicit deny
        ("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:api-get", alice),  # allow
        ("rds:CreateDBInstance", "arn:aws:rds:eu-west-1:123456789012:db:x", alice),  # implicit deny
        ("s3:ListBucket", "arn:aws:s3:::data", alice),  # allow (Read0 + AllowNumeric)
        (
            "kms:Decrypt",
            "arn:aws:kms:eu-west-1:123456789012:key/k",
            alice,
        ),  # implicit deny (no kms:ViaService)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    document = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": statements()}))
    permissions = compile_policies([("bench", document)])
    mix = requests()
    decisions = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            for action, resource, context in mix:
                permissions.evaluate(action, resource, context)
        decisions += 100 * len(mix)
        now = time.perf_counter()
        if now >= deadline:
            break
    print(
        json.dumps(
            {
                "bench": "policy_decisions_50_statements",
                "value": round(decisions / (now - started)),
                "unit": "decisions/s",
            }
        )
    )


if __name__ == "__main__":
    main()
