"""Built-in managed policies, equivalent to AWS's AdministratorAccess, PowerUserAccess and ReadOnlyAccess.

Kept as document text (what a user would paste) so they go through the same parser as every other policy.
ReadOnlyAccess is a compact stand-in for AWS's long service-by-service list: the read verbs of every service.
"""

from __future__ import annotations

import json
from functools import cache

from store.policy.document import MANAGED_POLICY_MAX_CHARS, PolicyDocument, parse_policy


def _text(statements: list[dict[str, object]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2) + "\n"


BUILTIN_POLICIES: dict[str, str] = {
    "AdministratorAccess": _text(
        [
            {"Sid": "AllowEverything", "Effect": "Allow", "Action": "*", "Resource": "*"},
        ]
    ),
    # As AWS's: everything except identity, organization and account management, plus the few reads and
    # service-linked-role calls that services need to work.
    "PowerUserAccess": _text(
        [
            {
                "Sid": "AllowAllButIdentity",
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Sid": "AllowIdentityReadsServicesNeed",
                "Effect": "Allow",
                "Action": [
                    "account:GetAccountInformation",
                    "account:GetPrimaryEmail",
                    "account:ListRegions",
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                ],
                "Resource": "*",
            },
        ]
    ),
    "ReadOnlyAccess": _text(
        [
            {
                "Sid": "AllowReadVerbs",
                "Effect": "Allow",
                "Action": [
                    "*:Get*",
                    "*:List*",
                    "*:Describe*",
                    "*:BatchGet*",
                    "*:Lookup*",
                    "*:Search*",
                    "*:View*",
                ],
                "Resource": "*",
            },
        ]
    ),
}


@cache
def builtin_policy(name: str) -> PolicyDocument:
    """The parsed built-in policy ``name`` (KeyError for an unknown name)."""
    return parse_policy(BUILTIN_POLICIES[name], max_chars=MANAGED_POLICY_MAX_CHARS)
