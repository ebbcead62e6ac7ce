"""Sample data for ``tui console --demo`` and the screenshots: a small company, its people and its access."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from store.clock import to_text
from store.directory import Directory

PEOPLE = [
    ("alice", "Alice Liddell", "Alice", "Liddell"),
    ("bob", "Bob Marley", "Bob", "Marley"),
    ("carol", "Carol Danvers", "Carol", "Danvers"),
    ("dave", "Dave Bowman", "Dave", "Bowman"),
    ("erin", "Erin Brockovich", "Erin", "Brockovich"),
    ("frank", "Frank Poole", "Frank", "Poole"),
    ("grace", "Grace Hopper", "Grace", "Hopper"),
    ("heidi", "Heidi Lamarr", "Heidi", "Lamarr"),
    ("ivan", "Ivan Sutherland", "Ivan", "Sutherland"),
    ("judy", "Judy Resnik", "Judy", "Resnik"),
    ("ken", "Ken Thompson", "Ken", "Thompson"),
    ("linus", "Linus Torvalds", "Linus", "Torvalds"),
    ("margaret", "Margaret Hamilton", "Margaret", "Hamilton"),
    ("niklaus", "Niklaus Wirth", "Niklaus", "Wirth"),
    ("olivia", "Olivia Newton", "Olivia", "Newton"),
    ("peggy", "Peggy Whitson", "Peggy", "Whitson"),
    ("quinn", "Quinn Fabray", "Quinn", "Fabray"),
    ("rob", "Rob Pike", "Rob", "Pike"),
    ("sybil", "Sybil Trelawney", "Sybil", "Trelawney"),
    ("trent", "Trent Reznor", "Trent", "Reznor"),
    ("ursula", "Ursula Le Guin", "Ursula", "Le Guin"),
    ("victor", "Victor Frankenstein", "Victor", "Frankenstein"),
    ("walter", "Walter White", "Walter", "White"),
    ("mallory", "[bold red]Mallory[/] the markup", "", ""),
    ("ci-deploy", "CI deploy robot", "", ""),
    ("backup-svc", "Nightly backups", "", ""),
]

READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadEverything",
            "Effect": "Allow",
            "Action": ["*:Describe*", "*:Get*", "*:List*"],
            "Resource": "*",
        }
    ],
}
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
DEVELOPER = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Build",
            "Effect": "Allow",
            "Action": ["s3:*", "lambda:*", "logs:*", "dynamodb:*"],
            "Resource": "*",
        },
        {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"},
    ],
}


def seed_demo(directory: Directory) -> None:
    """Fill an empty directory with sample users, groups, accounts, permission sets and assignments."""
    users = {}
    for name, display, given, family in PEOPLE:
        users[name] = directory.users.create(
            name, display_name=display, given_name=given, family_name=family, email=f"{name}@example.com"
        )
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
    accounts = {
        name: directory.accounts.create(name, description=description)
        for name, description in (
            ("prod", "Production"),
            ("staging", "Pre-production"),
            ("dev", "Development sandbox"),
            ("123456789012", "AWS management account"),
            ("log-archive", "Central logs, immutable"),
        )
    }
    sets = {
        "AdministratorAccess": directory.permission_sets.create(
            "AdministratorAccess",
            description="Full access",
            session_duration="PT1H",
            inline_policy=json.dumps(ADMIN, indent=2),
        ),
        "ReadOnly": directory.permission_sets.create(
            "ReadOnly",
            description="Look, don't touch",
            session_duration="PT8H",
            inline_policy=json.dumps(READ_ONLY, indent=2),
        ),
        "Developer": directory.permission_sets.create(
            "Developer",
            description="Build and deploy, no IAM",
            session_duration="PT4H",
            inline_policy=json.dumps(DEVELOPER, indent=2),
        ),
    }
    for kind, principal, account, pset in (
        ("group", "Admins", "prod", "AdministratorAccess"),
        ("group", "Admins", "123456789012", "AdministratorAccess"),
        ("group", "Developers", "dev", "Developer"),
        ("group", "Developers", "staging", "Developer"),
        ("group", "Developers", "prod", "ReadOnly"),
        ("group", "Auditors", "prod", "ReadOnly"),
        ("group", "Auditors", "log-archive", "ReadOnly"),
        ("group", "On-call", "prod", "Developer"),
        ("user", "ci-deploy", "staging", "Developer"),
    ):
        principal_id = (groups[principal] if kind == "group" else users[principal]).id
        # kind is 'user' or 'group' (the table above), which mypy reads as any str.
        directory.assignments.create(kind, principal_id, accounts[account].id, sets[pset].id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DemoSignIn:
    """A demo sign-in (root's, alice's): a known password and TOTP secret, so the sign-in screen can show
    the current code. Only ever used for the throw-away ``--demo`` directory."""

    user_name: str
    password: str
    totp_secret: str = field(repr=False)


DEMO_ROOT = DemoSignIn("root", "demo-break-glass", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
DEMO_USER_PASSWORD = "demo-user-passphrase"
# alice's authenticator: known too, so the sign-in screen shows her current code as it shows root's (a
# newcomer could not sign in as the demo's administrator: her secret was made at random and never shown).
DEMO_ALICE = DemoSignIn("alice", DEMO_USER_PASSWORD, "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA")


def seed_demo_root(directory: Directory, key_path: Path | None = None) -> DemoSignIn:
    """Create the demo root (and the key file) in an empty directory."""
    from store.identity import initialise, new_root_enrolment

    initialise(directory, DEMO_ROOT.password, new_root_enrolment(DEMO_ROOT.totp_secret), key_path=key_path)
    return DEMO_ROOT


def seed_demo_credentials(directory: Directory) -> None:
    """Credentials for the seeded people, so the dashboard's flags and the credentials screen have something
    to show: alice signs in with MFA, bob with a password only, the robots hold access keys (one 120 days
    old). Needs the key file (``seed_demo_root`` first)."""
    from store.crypto import totp_code

    users = directory.users
    alice, bob = users.get_by_name("alice"), users.get_by_name("bob")
    directory.credentials.set_password(alice.id, DEMO_ALICE.password)
    secret = DEMO_ALICE.totp_secret
    # Enrolled with the code of the step before (accepted: ±1 step), so the code the sign-in screen shows
    # works at once: enrolling with it spent it, and alice's first sign-in failed for up to 30 seconds.
    earlier = directory.clock() - timedelta(seconds=30)
    directory.credentials.confirm_totp(alice.id, secret, totp_code(secret, earlier))
    directory.credentials.set_password(bob.id, DEMO_USER_PASSWORD, must_change=True)
    old = directory.access_keys.create(users.get_by_name("ci-deploy").id).key
    with directory.change() as conn:  # demo data: a key made four months ago and never rotated
        conn.execute(
            "UPDATE access_keys SET created_at = ? WHERE id = ?",
            (to_text(directory.clock() - timedelta(days=120)), old.id),
        )
    directory.access_keys.create(users.get_by_name("backup-svc").id)


def seed_demo_admin_group(directory: Directory) -> None:
    """The demo's "Admins" group is its admin group (alice, with her authenticator, administers): the demo
    showed a group named for administrators beside "no admin group: only root administers"."""
    directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
