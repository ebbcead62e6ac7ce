"""Sample data for ``tui console --demo`` and the screenshots: a small company, its people and its access."""

from __future__ import annotations

import json

from store.directory import Directory

PEOPLE = [
    ("alice", "Alice Liddell", "Alice", "Liddell"), ("bob", "Bob Marley", "Bob", "Marley"),
    ("carol", "Carol Danvers", "Carol", "Danvers"), ("dave", "Dave Bowman", "Dave", "Bowman"),
    ("erin", "Erin Brockovich", "Erin", "Brockovich"), ("frank", "Frank Poole", "Frank", "Poole"),
    ("grace", "Grace Hopper", "Grace", "Hopper"), ("heidi", "Heidi Lamarr", "Heidi", "Lamarr"),
    ("ivan", "Ivan Sutherland", "Ivan", "Sutherland"), ("judy", "Judy Resnik", "Judy", "Resnik"),
    ("ken", "Ken Thompson", "Ken", "Thompson"), ("linus", "Linus Torvalds", "Linus", "Torvalds"),
    ("margaret", "Margaret Hamilton", "Margaret", "Hamilton"), ("niklaus", "Niklaus Wirth", "Niklaus", "Wirth"),
    ("olivia", "Olivia Newton", "Olivia", "Newton"), ("peggy", "Peggy Whitson", "Peggy", "Whitson"),
    ("quinn", "Quinn Fabray", "Quinn", "Fabray"), ("rob", "Rob Pike", "Rob", "Pike"),
    ("sybil", "Sybil Trelawney", "Sybil", "Trelawney"), ("trent", "Trent Reznor", "Trent", "Reznor"),
    ("ursula", "Ursula Le Guin", "Ursula", "Le Guin"), ("victor", "Victor Frankenstein", "Victor", "Frankenstein"),
    ("walter", "Walter White", "Walter", "White"), ("mallory", "[bold red]Mallory[/] the markup", "", ""),
    ("ci-deploy", "CI deploy robot", "", ""), ("backup-svc", "Nightly backups", "", ""),
]

READ_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadEverything", "Effect": "Allow", "Action": ["*:Describe*", "*:Get*", "*:List*"], "Resource": "*"}]}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*",
                                                  "Resource": "*"}]}
DEVELOPER = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Build", "Effect": "Allow", "Action": ["s3:*", "lambda:*", "logs:*", "dynamodb:*"], "Resource": "*"},
    {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}


def seed_demo(directory: Directory) -> None:
    """Fill an empty directory with sample users, groups, accounts, permission sets and assignments."""
    users = {}
    for name, display, given, family in PEOPLE:
        users[name] = directory.users.create(name, display_name=display, given_name=given, family_name=family,
                                             email=f"{name}@example.com")
    directory.users.disable(users["walter"].id, users["walter"].version)
    groups = {}
    for name, description, members in (
        ("Admins", "Directory and cloud administrators", ["alice", "grace"]),
        ("Developers", "Product engineering", ["bob", "carol", "dave", "ken", "linus", "rob", "niklaus"]),
        ("Auditors", "Read-only access everywhere", ["erin", "judy"]),
        ("On-call", "This week's pager rota", ["dave", "heidi"]),
        ("Robots", "Service identities", ["ci-deploy", "backup-svc"]),
    ):
        groups[name] = directory.groups.create(name, description=description)
        for member in members:
            directory.groups.add_member(groups[name].id, users[member].id)
    directory.groups.add_member(groups["Admins"].id, users["heidi"].id, expires_at="2030-01-01T00:00:00Z")
    accounts = {name: directory.accounts.create(name, description=description) for name, description in (
        ("prod", "Production"), ("staging", "Pre-production"), ("dev", "Development sandbox"),
        ("123456789012", "AWS management account"), ("log-archive", "Central logs, immutable"),
    )}
    sets = {
        "AdministratorAccess": directory.permission_sets.create(
            "AdministratorAccess", description="Full access", session_duration="PT1H",
            inline_policy=json.dumps(ADMIN, indent=2)),
        "ReadOnly": directory.permission_sets.create(
            "ReadOnly", description="Look, don't touch", session_duration="PT8H",
            inline_policy=json.dumps(READ_ONLY, indent=2)),
        "Developer": directory.permission_sets.create(
            "Developer", description="Build and deploy, no IAM", session_duration="PT4H",
            inline_policy=json.dumps(DEVELOPER, indent=2)),
    }
    for kind, principal, account, pset in (
        ("group", "Admins", "prod", "AdministratorAccess"), ("group", "Admins", "123456789012",
                                                             "AdministratorAccess"),
        ("group", "Developers", "dev", "Developer"), ("group", "Developers", "staging", "Developer"),
        ("group", "Developers", "prod", "ReadOnly"), ("group", "Auditors", "prod", "ReadOnly"),
        ("group", "Auditors", "log-archive", "ReadOnly"), ("group", "On-call", "prod", "Developer"),
        ("user", "ci-deploy", "staging", "Developer"),
    ):
        principal_id = (groups[principal] if kind == "group" else users[principal]).id
        directory.assignments.create(kind, principal_id, accounts[account].id, sets[pset].id)  # type: ignore[arg-type]
