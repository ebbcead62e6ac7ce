"""Importing a directory document: validate everything, plan, then apply in one transaction.

Every input format is first turned into an :class:`ImportDocument` (plain values, each remembering where in the
file it came from). Validation collects every problem it can find, names file position, field and reason, and
writes nothing. Applying is one ``BEGIN IMMEDIATE`` transaction with one audit event, so a crash at any moment
leaves the directory exactly as before or exactly as after.

Import is additive: it creates what is missing and updates the fields an entry gives; it removes nothing.
Memberships and assignments in the file are added (a membership's expiry is updated); a user entry that
lists ``sshPublicKeys`` gets exactly those keys.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from store import audit, clock, names
from store.durations import DEFAULT_SECONDS, parse_duration
from store.errors import StoreError, ValidationError
from store.policy_documents import check_policy_text
from store.ssh_keys import PublicKey, parse_public_key
from store.users import ROOT_NAME

if TYPE_CHECKING:
    from store.directory import Directory

MAX_PROBLEMS = 50


@dataclass
class UserIn:
    where: str
    user_name: str
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    external_id: str | None = None
    active: bool = True
    groups: list[str] = field(default_factory=list)
    ssh_keys: list[str] | None = None  # None: the entry says nothing about keys; leave them


@dataclass
class MemberIn:
    where: str
    user_name: str
    expires_at: str | None = None


@dataclass
class GroupIn:
    where: str
    name: str
    description: str = ""
    external_id: str | None = None
    members: list[MemberIn] = field(default_factory=list)


@dataclass
class AccountIn:
    where: str
    name: str
    description: str = ""
    active: bool = True


@dataclass
class PolicyIn:
    where: str
    name: str
    document: str
    description: str = ""


@dataclass
class PermissionSetIn:
    where: str
    name: str
    description: str = ""
    session_duration: object = DEFAULT_SECONDS
    inline_policy: str | None = None
    managed_policies: list[str] = field(default_factory=list)
    boundary_policy: str | None = None


@dataclass
class AssignmentIn:
    where: str
    principal_type: str
    principal: str
    account: str
    permission_set: str
    expires_at: str | None = None


@dataclass
class ImportDocument:
    users: list[UserIn] = field(default_factory=list)
    groups: list[GroupIn] = field(default_factory=list)
    accounts: list[AccountIn] = field(default_factory=list)
    policies: list[PolicyIn] = field(default_factory=list)
    permission_sets: list[PermissionSetIn] = field(default_factory=list)
    assignments: list[AssignmentIn] = field(default_factory=list)
    # Problems the format reader already found (wrong types, unknown fields); validation adds the rest.
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ImportRefused(StoreError):
    """The file was refused; ``problems`` lists what is wrong (the first ``MAX_PROBLEMS``). Nothing changed."""

    def __init__(self, file_name: str, problems: list[Problem], more: int = 0) -> None:
        self.file_name = file_name
        self.problems = problems
        self.more = more
        lines = [f"{file_name}: {problem}" for problem in problems]
        if more:
            lines.append(f"… and {more} more problem(s)")
        lines.append("nothing was changed")
        super().__init__("\n".join(lines))


@dataclass
class Section:
    """What an import does to one concept: names created, names updated (with the fields), unchanged count."""

    create: list[str] = field(default_factory=list)
    update: dict[str, list[str]] = field(default_factory=dict)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"create": len(self.create), "update": len(self.update), "unchanged": self.unchanged}


@dataclass
class ImportPlan:
    users: Section = field(default_factory=Section)
    groups: Section = field(default_factory=Section)
    memberships: Section = field(default_factory=Section)
    accounts: Section = field(default_factory=Section)
    policies: Section = field(default_factory=Section)
    permission_sets: Section = field(default_factory=Section)
    assignments: Section = field(default_factory=Section)
    notices: list[str] = field(default_factory=list)

    def sections(self) -> dict[str, Section]:
        return {"users": self.users, "groups": self.groups, "memberships": self.memberships,
                "accounts": self.accounts, "policies": self.policies, "permission_sets": self.permission_sets,
                "assignments": self.assignments}

    @property
    def changes_nothing(self) -> bool:
        return not any(section.create or section.update for section in self.sections().values())

    def as_dict(self) -> dict[str, Any]:
        return {name: section.as_dict() for name, section in self.sections().items()}

    def describe(self) -> list[str]:
        """Human lines: one per concept, then each update with its changed fields."""
        lines = []
        for name, section in self.sections().items():
            label = name.replace("_", " ")
            lines.append(f"{label}: {len(section.create)} to create, {len(section.update)} to update, "
                         f"{section.unchanged} unchanged")
        for name, section in self.sections().items():
            for item, fields in list(section.update.items())[:100]:
                lines.append(f"  update {name[:-1].replace('_', ' ')} {item!r}: {', '.join(fields)}")
        return lines


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied: bool
    batch_id: int | None
    sha256: str


# -- validation -------------------------------------------------------------------------------------------


@dataclass
class _Clean:
    """The document after validation: canonical keys and cleaned values, ready to plan and apply."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → fields
    user_keys: dict[str, list[PublicKey] | None] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (group key, user key) → expiry
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    permission_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    attachments: dict[str, list[str]] = field(default_factory=dict)  # set key → policy keys
    assignments: dict[tuple[str, str, str, str], str | None] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.count = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(where, message))

    def check(self, where: str, check: Callable[[], Any]) -> Any:
        """Run a cleaner; record its ValidationError against ``where`` and return None."""
        try:
            return check()
        except ValidationError as exc:
            self.add(where, exc.message)
            return None


def _existing_keys(conn: sqlite3.Connection, table: str, column: str) -> set[str]:
    return {row[0] for row in conn.execute(f"SELECT {column} FROM {table}")}


def validate(directory: Directory, document: ImportDocument) -> _Clean:
    """Check the whole document against itself and the directory. Raises ImportRefused listing problems."""
    problems = _Problems()
    for problem in document.problems:
        problems.add(problem.where, problem.message)
    clean = _Clean()
    with directory.db.read() as conn:
        existing_users = _existing_keys(conn, "users", "user_name_key")
        existing_groups = _existing_keys(conn, "groups", "name_key")
        existing_accounts = _existing_keys(conn, "accounts", "name_key")
        existing_policies = _existing_keys(conn, "policies", "name_key")
        existing_sets = _existing_keys(conn, "permission_sets", "name_key")
        root_key = ROOT_NAME

    first_seen: dict[tuple[str, str], str] = {}

    name_field = {"user": "userName", "group": "displayName"}

    def unique(kind: str, key: str, where: str, shown: str) -> bool:
        earlier = first_seen.get((kind, key))
        if earlier is not None:
            problems.add(where, f"{name_field.get(kind, 'name')}: {shown!r} is the same name as {earlier} "
                                "(names are compared ignoring case and width)")
            return False
        first_seen[(kind, key)] = where
        return True

    for user in document.users:
        where = user.where
        name = problems.check(where, lambda: names.user_name(user.user_name))
        fields = {
            "display_name": problems.check(where, lambda: names.display_text(user.display_name, "displayName")),
            "given_name": problems.check(where, lambda: names.display_text(user.given_name, "givenName")),
            "family_name": problems.check(where, lambda: names.display_text(user.family_name, "familyName")),
            "email": problems.check(where, lambda: names.email(user.email)),
            "external_id": problems.check(where, lambda: names.external_id(user.external_id)),
            "status": "active" if user.active else "disabled",
        }
        if name is None:
            continue
        key = names.canonical(name)
        if key == root_key:
            problems.add(where, "userName: 'root' is reserved for the directory's root identity")
            continue
        if not unique("user", key, where, name):
            continue
        clean.users[key] = {"user_name": name, **fields}
        if user.ssh_keys is not None:
            parsed = [problems.check(f"{where}.sshPublicKeys[{i}]", lambda k=k: parse_public_key(k))
                      for i, k in enumerate(user.ssh_keys)]
            clean.user_keys[key] = [k for k in parsed if k is not None]
        for index, group in enumerate(user.groups):
            gname = problems.check(f"{where}.groups[{index}]", lambda g=group: names.group_name(g, "groups"))
            if gname is not None:
                clean.memberships.setdefault((names.canonical(gname), key), None)

    for group in document.groups:
        where = group.where
        name = problems.check(where, lambda: names.group_name(group.name))
        description = problems.check(where, lambda: names.display_text(group.description, "description",
                                                                       names.DESCRIPTION_MAX))
        external = problems.check(where, lambda: names.external_id(group.external_id))
        if name is None:
            continue
        key = names.canonical(name)
        if not unique("group", key, where, name):
            continue
        clean.groups[key] = {"name": name, "description": description or "", "external_id": external}
        for member in group.members:
            member_name = problems.check(member.where, lambda m=member: names.user_name(m.user_name, "members"))
            expiry = problems.check(member.where, lambda m=member: clock.parse_moment(m.expires_at, "expiresAt"))
            if member_name is None:
                continue
            clean.memberships[(key, names.canonical(member_name))] = expiry

    for account in document.accounts:
        name = problems.check(account.where, lambda: names.account_name(account.name))
        description = problems.check(account.where, lambda: names.display_text(
            account.description, "description", names.DESCRIPTION_MAX))
        if name is not None and unique("account", names.canonical(name), account.where, name):
            clean.accounts[names.canonical(name)] = {"name": name, "description": description or "",
                                                     "status": "active" if account.active else "disabled"}

    for policy in document.policies:
        name = problems.check(policy.where, lambda: names.policy_name(policy.name))
        description = problems.check(policy.where, lambda: names.display_text(
            policy.description, "description", names.DESCRIPTION_MAX))
        if not (isinstance(policy.document, str) and policy.document.strip()):
            problems.add(policy.where, "document: is required")
            continue
        text = problems.check(policy.where, lambda: check_policy_text(policy.document, "document"))
        if name is not None and unique("policy", names.canonical(name), policy.where, name):
            clean.policies[names.canonical(name)] = {"name": name, "document": text,
                                                     "description": description or ""}

    for pset in document.permission_sets:
        where = pset.where
        name = problems.check(where, lambda: names.permission_set_name(pset.name))
        values = {
            "description": problems.check(where, lambda: names.display_text(pset.description, "description",
                                                                            names.DESCRIPTION_MAX)) or "",
            "session_duration": problems.check(where, lambda: parse_duration(pset.session_duration)),
            "inline_policy": problems.check(where, lambda: check_policy_text(pset.inline_policy, "inlinePolicy")),
            "boundary_policy": problems.check(where, lambda: check_policy_text(pset.boundary_policy,
                                                                               "permissionsBoundary")),
        }
        if name is None or not unique("permission_set", names.canonical(name), where, name):
            continue
        key = names.canonical(name)
        clean.permission_sets[key] = {"name": name, **values}
        attached = []
        for index, policy_name in enumerate(pset.managed_policies):
            policy_key = names.canonical(policy_name) if isinstance(policy_name, str) else ""
            if policy_key not in clean.policies and policy_key not in existing_policies:
                problems.add(f"{where}.managedPolicies[{index}]",
                             f"no policy named {policy_name!r} in the file or the policy library")
            else:
                attached.append(policy_key)
        clean.attachments[key] = attached

    # References: every name must exist in the file or in the directory.
    users_known = set(clean.users) | existing_users
    groups_known = set(clean.groups) | existing_groups
    for group in document.groups:
        for member in group.members:
            if isinstance(member.user_name, str) and names.canonical(member.user_name) not in users_known:
                problems.add(member.where, f"members: no user named {member.user_name!r} in the file or the "
                                           "directory")
    for user in document.users:
        for index, group_name in enumerate(user.groups):
            if isinstance(group_name, str) and names.canonical(group_name) not in groups_known:
                problems.add(f"{user.where}.groups[{index}]",
                             f"no group named {group_name!r} in the file or the directory")
    if root_key in users_known and any(key[1] == root_key for key in clean.memberships):
        problems.add("groups", "root belongs to no group")
    accounts_known = set(clean.accounts) | existing_accounts
    sets_known = set(clean.permission_sets) | existing_sets
    for item in document.assignments:
        where = item.where
        if item.principal_type not in ("user", "group"):
            problems.add(where, "principalType: must be 'user' or 'group'")
            continue
        expiry = problems.check(where, lambda: clock.parse_moment(item.expires_at, "expiresAt"))
        refs = [(item.principal_type, item.principal,
                 users_known if item.principal_type == "user" else groups_known),
                ("account", item.account, accounts_known), ("permission set", item.permission_set, sets_known)]
        keys = []
        for label, value, known in refs:
            key = names.canonical(value) if isinstance(value, str) else ""
            if key not in known or (label == "user" and key == root_key):
                problems.add(where, f"no {label} named {value!r} in the file or the directory")
            keys.append(key)
        if len(keys) == 3:
            clean.assignments[(item.principal_type, keys[0], keys[1], keys[2])] = expiry

    if problems.count:
        raise ImportRefused("", problems.items, problems.count - len(problems.items))
    return clean


# -- planning ---------------------------------------------------------------------------------------------

_USER_COLUMNS = ("user_name", "display_name", "given_name", "family_name", "email", "external_id", "status")
_SCIM_NAMES = {"user_name": "userName", "display_name": "displayName", "given_name": "givenName",
               "family_name": "familyName", "email": "email", "external_id": "externalId", "status": "active",
               "name": "name", "description": "description", "document": "document",
               "session_duration": "sessionDuration", "inline_policy": "inlinePolicy",
               "boundary_policy": "permissionsBoundary", "managed_policies": "managedPolicies",
               "ssh_keys": "sshPublicKeys"}


def _diff(wanted: dict[str, Any], current: sqlite3.Row | dict[str, Any], columns: Iterable[str]) -> list[str]:
    return [column for column in columns if column in wanted and wanted[column] != current[column]]


@dataclass
class _Current:
    users: dict[str, sqlite3.Row]
    user_keys: dict[int, list[str]]
    groups: dict[str, sqlite3.Row]
    memberships: dict[tuple[int, int], str | None]
    accounts: dict[str, sqlite3.Row]
    policies: dict[str, sqlite3.Row]
    permission_sets: dict[str, sqlite3.Row]
    attachments: dict[int, list[str]]
    assignments: dict[tuple[str, int, int, int], tuple[int, str | None]]


def _load_current(conn: sqlite3.Connection) -> _Current:
    current = _Current(
        users={r["user_name_key"]: r for r in conn.execute(f"SELECT id, user_name_key, {', '.join(_USER_COLUMNS)}"
                                                            " FROM users")},
        user_keys={},
        groups={r["name_key"]: r for r in conn.execute(
            "SELECT id, name_key, name, description, external_id FROM groups")},
        memberships={(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT group_id, user_id, expires_at FROM memberships")},
        accounts={r["name_key"]: r for r in conn.execute(
            "SELECT id, name_key, name, description, status FROM accounts")},
        policies={r["name_key"]: r for r in conn.execute(
            "SELECT id, name_key, name, description, document, builtin FROM policies")},
        permission_sets={r["name_key"]: r for r in conn.execute(
            "SELECT id, name_key, name, description, session_duration, inline_policy, boundary_policy "
            "FROM permission_sets")},
        attachments={},
        assignments={},
    )
    for row in conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id"):
        current.user_keys.setdefault(row[0], []).append(row[1])
    for row in conn.execute("SELECT psp.permission_set_id, p.name_key FROM permission_set_policies psp "
                            "JOIN policies p ON p.id = psp.policy_id"):
        current.attachments.setdefault(row[0], []).append(row[1])
    for row in conn.execute("SELECT id, user_id, group_id, account_id, permission_set_id, expires_at "
                            "FROM assignments"):
        kind, principal = ("user", row["user_id"]) if row["user_id"] is not None else ("group", row["group_id"])
        current.assignments[(kind, principal, row["account_id"], row["permission_set_id"])] = (
            row["id"], row["expires_at"])
    return current


def _plan(clean: _Clean, current: _Current) -> ImportPlan:
    plan = ImportPlan()

    def section(target: Section, wanted: dict[str, dict[str, Any]], have: dict[str, sqlite3.Row],
                columns: tuple[str, ...], shown: str) -> None:
        for key, fields in wanted.items():
            row = have.get(key)
            if row is None:
                target.create.append(fields[shown])
            elif changed := _diff(fields, row, columns):
                target.update[fields[shown]] = [_SCIM_NAMES.get(c, c) for c in changed]
            else:
                target.unchanged += 1

    section(plan.users, clean.users, current.users, _USER_COLUMNS, "user_name")
    for key, keys in clean.user_keys.items():
        row = current.users.get(key)
        if row is not None and [k.text for k in keys] != current.user_keys.get(row["id"], []):
            name = clean.users[key]["user_name"]
            if name in plan.users.update:
                plan.users.update[name].append("sshPublicKeys")
            else:
                plan.users.update[name] = ["sshPublicKeys"]
                plan.users.unchanged -= 1
    section(plan.groups, clean.groups, current.groups, ("name", "description", "external_id"), "name")
    section(plan.accounts, clean.accounts, current.accounts, ("name", "description", "status"), "name")
    section(plan.policies, clean.policies, current.policies, ("name", "document", "description"), "name")
    section(plan.permission_sets, clean.permission_sets, current.permission_sets,
            ("name", "description", "session_duration", "inline_policy", "boundary_policy"), "name")
    for key, attached in clean.attachments.items():
        row = current.permission_sets.get(key)
        if row is not None and sorted(attached) != sorted(current.attachments.get(row["id"], [])):
            name = clean.permission_sets[key]["name"]
            if name not in plan.permission_sets.update:
                plan.permission_sets.update[name] = []
                plan.permission_sets.unchanged -= 1
            plan.permission_sets.update[name].append("managedPolicies")

    for (group_key, user_key), expiry in clean.memberships.items():
        group, user = current.groups.get(group_key), current.users.get(user_key)
        label = f"{user_key} in {group_key}"
        if group is None or user is None or (group["id"], user["id"]) not in current.memberships:
            plan.memberships.create.append(label)
        elif current.memberships[(group["id"], user["id"])] != expiry:
            plan.memberships.update[label] = ["expiresAt"]
        else:
            plan.memberships.unchanged += 1

    for (kind, principal_key, account_key, set_key), expiry in clean.assignments.items():
        principal = (current.users if kind == "user" else current.groups).get(principal_key)
        account, pset = current.accounts.get(account_key), current.permission_sets.get(set_key)
        label = f"{kind}:{principal_key} → {set_key} in {account_key}"
        existing = None
        if principal is not None and account is not None and pset is not None:
            existing = current.assignments.get((kind, principal["id"], account["id"], pset["id"]))
        if existing is None:
            plan.assignments.create.append(label)
        elif existing[1] != expiry:
            plan.assignments.update[label] = ["expiresAt"]
        else:
            plan.assignments.unchanged += 1
    return plan


# -- applying ---------------------------------------------------------------------------------------------


def _apply(directory: Directory, conn: sqlite3.Connection, clean: _Clean, current: _Current, now: str,
           batch_id: int) -> None:
    # Users: insert the new ones in one executemany, update the changed ones.
    new_users, changed_users = [], []
    for key, fields in clean.users.items():
        row = current.users.get(key)
        if row is None:
            new_users.append((fields["user_name"], key, fields["display_name"], fields["given_name"],
                              fields["family_name"], fields["email"], fields["external_id"], fields["status"],
                              batch_id, now, now))
        elif _diff(fields, row, _USER_COLUMNS):
            changed_users.append((fields["user_name"], key, fields["display_name"], fields["given_name"],
                                  fields["family_name"], fields["email"], fields["external_id"],
                                  fields["status"], batch_id, now, row["id"]))
            if fields["status"] == "disabled" and row["status"] == "active":
                directory.end_user_sessions(conn, row["id"], "disabled by import")
    conn.executemany(
        "INSERT INTO users (user_name, user_name_key, display_name, given_name, family_name, email, external_id, "
        "status, import_batch_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new_users)
    conn.executemany(
        "UPDATE users SET user_name = ?, user_name_key = ?, display_name = ?, given_name = ?, family_name = ?, "
        "email = ?, external_id = ?, status = ?, import_batch_id = ?, updated_at = ?, version = version + 1 "
        "WHERE id = ?", changed_users)
    user_ids = {row[1]: row[0] for row in conn.execute("SELECT id, user_name_key FROM users")} \
        if new_users else {key: row["id"] for key, row in current.users.items()}

    for key, keys in clean.user_keys.items():
        user_id = user_ids[key]
        if [k.text for k in keys] == current.user_keys.get(user_id, []):
            continue
        conn.execute("DELETE FROM ssh_keys WHERE user_id = ?", (user_id,))
        try:
            conn.executemany(
                "INSERT INTO ssh_keys (user_id, public_key, fingerprint, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                [(user_id, k.text, k.fingerprint, k.comment, now) for k in keys])
        except sqlite3.IntegrityError:
            raise ValidationError(f"users: an SSH key of {clean.users[key]['user_name']!r} already belongs to "
                                  "another user (or is listed twice)") from None

    new_groups, changed_groups = [], []
    for key, fields in clean.groups.items():
        row = current.groups.get(key)
        if row is None:
            new_groups.append((fields["name"], key, fields["description"], fields["external_id"], batch_id, now,
                               now))
        elif _diff(fields, row, ("name", "description", "external_id")):
            changed_groups.append((fields["name"], fields["description"], fields["external_id"], batch_id, now,
                                   row["id"]))
    conn.executemany("INSERT INTO groups (name, name_key, description, external_id, import_batch_id, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", new_groups)
    conn.executemany("UPDATE groups SET name = ?, description = ?, external_id = ?, import_batch_id = ?, "
                     "updated_at = ?, version = version + 1 WHERE id = ?", changed_groups)
    group_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM groups")}

    memberships = []
    for (group_key, user_key), expiry in clean.memberships.items():
        group_id, user_id = group_ids[group_key], user_ids[user_key]
        pair = (group_id, user_id)
        if pair not in current.memberships or current.memberships[pair] != expiry:
            memberships.append((group_id, user_id, expiry, now))
    conn.executemany(
        "INSERT INTO memberships (group_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (group_id, user_id) DO UPDATE SET expires_at = excluded.expires_at, version = version + 1",
        memberships)

    for key, fields in clean.accounts.items():
        row = current.accounts.get(key)
        if row is None:
            conn.execute("INSERT INTO accounts (name, name_key, description, status, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (fields["name"], key, fields["description"],
                                                       fields["status"], now, now))
        elif _diff(fields, row, ("name", "description", "status")):
            conn.execute("UPDATE accounts SET name = ?, description = ?, status = ?, updated_at = ?, "
                         "version = version + 1 WHERE id = ?",
                         (fields["name"], fields["description"], fields["status"], now, row["id"]))
    for key, fields in clean.policies.items():
        row = current.policies.get(key)
        if row is None:
            conn.execute("INSERT INTO policies (name, name_key, description, document, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (fields["name"], key, fields["description"],
                                                       fields["document"], now, now))
        elif _diff(fields, row, ("name", "document", "description")):
            conn.execute("UPDATE policies SET name = ?, description = ?, document = ?, updated_at = ?, "
                         "version = version + 1 WHERE id = ?",
                         (fields["name"], fields["description"], fields["document"], now, row["id"]))
    policy_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM policies")}
    for key, fields in clean.permission_sets.items():
        row = current.permission_sets.get(key)
        values = (fields["name"], fields["description"], fields["session_duration"], fields["inline_policy"],
                  fields["boundary_policy"], now)
        if row is None:
            set_id = conn.execute(
                "INSERT INTO permission_sets (name, description, session_duration, inline_policy, "
                "boundary_policy, updated_at, name_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, key, now)).lastrowid
        else:
            set_id = row["id"]
            if _diff(fields, row, ("name", "description", "session_duration", "inline_policy",
                                   "boundary_policy")):
                conn.execute("UPDATE permission_sets SET name = ?, description = ?, session_duration = ?, "
                             "inline_policy = ?, boundary_policy = ?, updated_at = ?, version = version + 1 "
                             "WHERE id = ?", (*values, set_id))
        wanted = sorted(clean.attachments.get(key, []))
        if row is None or wanted != sorted(current.attachments.get(set_id, [])):
            conn.execute("DELETE FROM permission_set_policies WHERE permission_set_id = ?", (set_id,))
            conn.executemany("INSERT INTO permission_set_policies VALUES (?, ?)",
                             [(set_id, policy_ids[p]) for p in wanted])

    account_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM accounts")}
    set_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM permission_sets")}
    for (kind, principal_key, account_key, set_key), expiry in clean.assignments.items():
        principal_id = (user_ids if kind == "user" else group_ids)[principal_key]
        ident = (kind, principal_id, account_ids[account_key], set_ids[set_key])
        existing = current.assignments.get(ident)
        if existing is None:
            column = "user_id" if kind == "user" else "group_id"
            conn.execute(f"INSERT INTO assignments ({column}, account_id, permission_set_id, expires_at, "
                         "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", (*ident[1:], expiry, now, now))
        elif existing[1] != expiry:
            conn.execute("UPDATE assignments SET expires_at = ?, updated_at = ?, version = version + 1 "
                         "WHERE id = ?", (expiry, now, existing[0]))


def import_document(directory: Directory, document: ImportDocument, *, file_name: str, raw: bytes,
                    source: str = "local", dry_run: bool = False) -> ImportResult:
    """Validate, plan and (unless ``dry_run`` or there is nothing to do) apply ``document`` atomically."""
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        clean = validate(directory, document)
    except ImportRefused as refused:
        raise ImportRefused(file_name, refused.problems, refused.more) from None
    with directory.db.read() as conn:
        plan = _plan(clean, _load_current(conn))
    if dry_run or plan.changes_nothing:
        return ImportResult(plan, False, None, sha256)
    with directory.db.write() as conn:
        # Plan again under the write lock: another admin may have changed the directory since validation.
        current = _load_current(conn)
        plan = _plan(clean, current)
        now = directory.now_text()
        batch_id = conn.execute(
            "INSERT INTO import_batches (source, file_name, sha256, at, actor, counts) VALUES (?, ?, ?, ?, ?, ?)",
            (source, file_name, sha256, now, directory.actor.name, json.dumps(plan.as_dict())),
        ).lastrowid or 0
        _apply(directory, conn, clean, current, now, batch_id)
        audit.record(conn, at=now, actor=directory.actor, action="directory.import", target=f"file:{file_name}",
                     extra={"sha256": sha256, "source": source, "batch": batch_id, "counts": plan.as_dict()},
                     key=directory.audit_key)
    return ImportResult(plan, True, batch_id, sha256)
