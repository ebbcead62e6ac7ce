"""Importing identities: validate everything, plan, then apply in one transaction.

Every input format (``store/formats/``) is first turned into an :class:`ImportDocument`: plain values, each
remembering where in the file it came from (``line 12``, ``users[3]``, ``Operations[2] POST /Groups``) and,
for the identity providers' CSV templates, what the file calls each field (``User name [userPrincipalName]``).

:func:`import_document` then

1. checks every entry (names, lengths, characters, references, cycles) against the file and the directory
   and collects every problem (the first :data:`MAX_PROBLEMS`); one problem refuses the whole file, and
   nothing changes. One resolver matches users and groups alike (by SCIM id, externalId, then name);
2. plans: a list of typed operations (:class:`CreateUser`, :class:`UpdateUser`, :class:`DisableUser`,
   :class:`CreateGroup`, :class:`UpdateGroup`, :class:`AddMember`, :class:`UpdateMember`,
   :class:`RemoveMember`, :class:`SaveEntry`, :class:`SaveAssignment`) holding everything a write needs. The
   dry run shows that list (the :class:`ImportPlan` sections are made from it);
3. applies exactly those operations, in bulk with the services' own statements, in one ``BEGIN IMMEDIATE``
   transaction (planned again under the lock first if the directory changed meanwhile) with one audit event
   (the file's SHA-256 and the counts) and one ``import_batches`` row that every row it writes points to. A
   crash (even ``kill -9``) at any moment leaves the directory exactly as before or exactly as after.

Semantics, in short (README has the long form):

- Every user and group belongs to a *source*: ``local`` (made here) or the name of the identity provider it
  was imported from. An imported entry matches an existing one of the same source by ``externalId`` first,
  then by user (or group) name. A name held by a user or group of another source (or by root) is refused,
  never taken over.
- Without ``sync`` an import only adds and updates (and disables what the file says is inactive or deleted);
  a field the file says nothing about is left as it is. With ``sync`` the directory is made to match the file
  for that source: a user the file lists is active unless it says otherwise, users of the source the file no
  longer has are disabled (never deleted), memberships in the source's groups the file no longer has are
  removed (a group gone from the file is kept, emptied). Local users and root are never touched. A sync that
  would disable more than :data:`MASS_DISABLE_SHARE` of the source's active users is refused unless allowed.
- Nested groups (SCIM groups whose members are groups) are flattened into their users; a cycle is refused.
- Passwords: a hash (argon2, bcrypt, PBKDF2 in PHC / modular-crypt form) is stored as it is and upgraded at
  the first sign-in; a cleartext (initial) password is dropped unless ``with_passwords``, when it is hashed in
  worker processes and the user must change it at first sign-in. Either is only set for a user who has no
  password yet, so re-running a file changes nothing.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from store import audit, clock, names, search_index
from store import groups as group_rows
from store import ssh_keys as key_rows
from store import users as user_rows
from store.crypto import MAX_PASSWORD_LENGTH, hash_password, is_supported_hash
from store.durations import DEFAULT_SECONDS, parse_duration
from store.errors import Refused, StoreError, ValidationError
from store.policy_documents import check_policy_text
from store.rights import ADMIN_GROUP_SETTING, Rule
from store.ssh_keys import PublicKey, parse_public_key
from store.users import ROOT_NAME

if TYPE_CHECKING:
    from store.directory import Directory

MAX_PROBLEMS = 50
# A sync may disable at most this share of the source's active users (rounded up, at least one) unless the
# caller allows a mass disable: an IdP export that came out empty or half-written must not lock everyone out.
MASS_DISABLE_SHARE = 0.10
SCIM_ID_MAX = 256
SOURCE_MAX = 64
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCAL = "local"
WHAT = "import into the directory"
ADMIN_MARK = "⚠ makes an administrator"
# Rows written per executemany call, so a progress bar can move while a big import is written.
CHUNK = 20_000
# SQLite's page cache while a big import is written (the default is 2 MB).
WRITE_CACHE_KIB = 32 * 1024

NO_LABELS: dict[str, str] = {}  # shared by entries whose fields have their SCIM names (never modified)

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phases ``read`` (the file), ``check`` (every entry validated), ``plan``
(the operations made), ``hash`` (initial passwords), ``write`` (the operations applied)."""


# -- the format-independent document ---------------------------------------------------------------------
#
# For every optional field None means "the file says nothing about it" (leave it as it is; empty on create)
# and "" means "empty". Whole-representation formats (our JSON, SCIM resources) pass "" for what they omit.


@dataclass(slots=True)
class UserIn:
    where: str
    user_name: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    external_id: str | None = None
    active: bool | None = None
    groups: list[str] | None = None  # group names (created when the document allows it)
    ssh_keys: list[str] | None = None  # None: the entry says nothing about keys; a list: exactly these keys
    password: str | None = None  # a cleartext initial password, or a supported hash (told apart here)
    password_hash: str | None = None  # given explicitly as a hash (Google's "Password Hash Function")
    must_change_password: bool | None = None
    scim_id: str | None = None  # the resource's ``id`` at its source
    aliases: tuple[str, ...] = ()  # how members refer to it in this file (id, bulkId:…)
    source: str | None = None  # the entry's own source (whole-directory JSON); None: the import's
    target: str | None = None  # SCIM: the id (or bulkId:…) of the user this entry changes (PUT/PATCH/DELETE)
    match_name: str | None = None  # the name the user has now, when the entry renames it (Google)
    disable: bool = False  # SCIM DELETE: tui never deletes on import, it disables
    labels: dict[str, str] = field(
        default_factory=lambda: NO_LABELS
    )  # field → what the file calls it (shared)


@dataclass(slots=True)
class MemberIn:
    base: str  # where the member list is (the group's entry); the member's own place with ``index`` None
    user_name: str | None = None  # by name (our JSON)
    expires_at: str | None = None
    ref: str | None = None  # SCIM: the id or bulkId:… of a user or a group
    kind: str | None = None  # "User", "Group" or None (either)
    index: int | None = (
        None  # its position in ``members`` (the location is made only when a message needs it)
    )

    @property
    def where(self) -> str:
        if self.index is None:
            return self.base
        part = f"members[{self.index}]"
        if not self.base:
            return part
        return f"{self.base} {part}" if self.base.endswith(")") else f"{self.base}.{part}"


@dataclass(slots=True)
class GroupIn:
    where: str
    name: str | None = None
    description: str | None = None
    external_id: str | None = None
    members: list[MemberIn] | None = None
    remove_members: list[MemberIn] = field(default_factory=list)
    remove_all_members: bool = False  # SCIM DELETE / PATCH remove or replace of all members
    scim_id: str | None = None
    aliases: list[str] = field(default_factory=list)
    source: str | None = None
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


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
    more_problems: int = 0  # problems the reader counted beyond the ones it kept
    # One-line remarks for the person importing (columns ignored, passwords dropped, template rows skipped).
    notices: list[str] = field(default_factory=list)
    default_source: str = LOCAL  # the source of entries when the import names none
    create_missing_groups: bool = False  # group names in a user's ``groups`` may name new groups (CSV)
    partial: bool = False  # holds changes (SCIM PATCH / DELETE) rather than whole resources: no --sync
    incomplete: str | None = None  # why the file is not all of its source (one page of a list): no --sync
    description: str = ""  # what the reader found: "SCIM 2.0 BulkRequest, 4 operations"


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ImportRefused(StoreError):
    """The file was refused; ``problems`` lists what is wrong (the first
    ``MAX_PROBLEMS``). Nothing changed."""

    def __init__(self, file_name: str, problems: list[Problem], more: int = 0) -> None:
        self.file_name = file_name
        self.problems = problems
        self.more = more
        prefix = f"{file_name}: " if file_name else ""
        lines = [f"{prefix}{problem}" for problem in problems]
        if more:
            lines.append(f"… and {more} more problem(s)")
        lines.append("nothing was changed")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ImportOptions:
    source: str | None = None  # None: the document's default source
    sync: bool = False
    allow_mass_disable: bool = False
    with_passwords: bool = False
    # Memberships into the admin group make administrators: an identity provider's file never does that
    # without an admin's explicit decision: True (--allow-admin-changes), or the very grants the console's
    # confirmation named ("alice in Admins"), so that a plan made again under the lock grants no one else.
    allow_admin_changes: bool | frozenset[str] = False
    # The import is made by the identity provider itself (a provisioning token), not by an admin: it may
    # not change the membership of another source's (or a local) group either.
    own_groups_only: bool = False


# -- the operations: what an import does, one typed value per write --------------------------------------
#
# ``plan`` makes the list; the dry run shows it (``ImportPlan`` sections are made from it); ``apply`` runs
# exactly it. A user or group this import creates is named by a negative ``ident`` until it has a row id.


@dataclass(slots=True)
class PasswordSet:
    """A password for a user who has none: a hash kept as it is, or an initial cleartext hashed before the
    write lock is taken (the user must then change it)."""

    hash: str | None
    initial: str | None = field(default=None, repr=False)
    must_change: bool = False


@dataclass(slots=True)
class CreateUser:
    ident: int
    where: str
    source: str
    # user_name, display_name, given_name, family_name, email, external_id, status, scim_id
    values: tuple[Any, ...]
    ssh_keys: tuple[PublicKey, ...] | None = None
    password: PasswordSet | None = None

    @property
    def name(self) -> str:
        return str(self.values[0])


@dataclass(slots=True)
class UpdateUser:
    ident: int  # the row id
    where: str
    name: str  # the name it has after the import
    values: tuple[Any, ...]  # as CreateUser's; written when ``changed`` names a column
    changed: tuple[str, ...]  # columns changed (``ssh_keys``, ``password_hash`` included)
    ssh_keys: tuple[PublicKey, ...] | None = None  # None: the keys stay as they are
    password: PasswordSet | None = None
    disabling: bool = False  # shown as "disable user …" (its sessions end)


@dataclass(slots=True)
class DisableUser(UpdateUser):
    reason: str = ""


@dataclass(slots=True)
class CreateGroup:
    ident: int
    source: str
    values: tuple[Any, ...]  # name, description, external_id, scim_id

    @property
    def name(self) -> str:
        return str(self.values[0])


@dataclass(slots=True)
class UpdateGroup:
    ident: int
    name: str
    values: tuple[Any, ...]
    changed: tuple[str, ...]


@dataclass(slots=True)
class AddMember:
    group: int  # ident
    user: int  # ident
    expires_at: str | None
    group_name: str
    user_name: str
    grants_admin: bool = False

    @property
    def label(self) -> str:
        return f"{self.user_name} in {self.group_name}"


@dataclass(slots=True)
class UpdateMember(AddMember):
    """A membership whose expiry changes."""


@dataclass(slots=True)
class RemoveMember:
    group: int  # row ids
    user: int
    group_name: str
    user_name: str
    reason: str
    emptied: str | None = None  # the group itself is gone from the file: why it is emptied

    @property
    def label(self) -> str:
        return f"{self.user_name} in {self.group_name}"


@dataclass(slots=True)
class SaveEntry:
    """An account, policy or permission set (our whole-directory JSON): created (``row_id`` None) or
    updated."""

    concept: str  # "accounts", "policies", "permission_sets"
    key: str
    row_id: int | None
    fields: tuple[tuple[str, Any], ...]  # column → value, in the table's order
    changed: tuple[str, ...] = ()
    policies: tuple[str, ...] | None = None  # permission sets: the attached policies' keys, when they change

    @property
    def name(self) -> str:
        return str(dict(self.fields)["name"])


@dataclass(slots=True)
class SaveAssignment:
    kind: str  # "user" or "group"
    principal: int  # ident
    account: str  # name key
    permission_set: str  # name key
    expires_at: str | None
    label: str
    row_id: int | None = None  # set: an existing assignment whose expiry changes


Operation = (
    CreateUser
    | UpdateUser
    | CreateGroup
    | UpdateGroup
    | AddMember
    | RemoveMember
    | SaveEntry
    | SaveAssignment
)


# -- the plan ---------------------------------------------------------------------------------------------


@dataclass
class Section:
    """What an import does to one concept: names created, names updated (with the fields), names retired
    (users disabled, groups emptied, memberships removed) with the reason, and the unchanged count."""

    retire_word: str | None = None  # "disable", "empty", "remove"; None: this concept is never retired
    create: list[str] = field(default_factory=list)
    update: dict[str, list[str]] = field(default_factory=dict)
    retire: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        counts = {"create": len(self.create), "update": len(self.update)}
        if self.retire_word:
            counts[self.retire_word] = len(self.retire)
        counts["unchanged"] = self.unchanged
        return counts

    @property
    def changes(self) -> bool:
        return bool(self.create or self.update or self.retire)


@dataclass
class ImportPlan:
    users: Section = field(default_factory=lambda: Section("disable"))
    groups: Section = field(default_factory=lambda: Section("empty"))
    memberships: Section = field(default_factory=lambda: Section("remove"))
    accounts: Section = field(default_factory=Section)
    policies: Section = field(default_factory=Section)
    permission_sets: Section = field(default_factory=Section)
    assignments: Section = field(default_factory=Section)
    passwords: dict[str, int] = field(
        default_factory=lambda: {
            "set": 0,
            "hashes_kept": 0,
            "initial_to_hash": 0,
            "initial_dropped": 0,
            "kept_existing": 0,
        }
    )
    notices: list[str] = field(default_factory=list)
    # Groups of another source whose members a provisioning import would change (refused).
    foreign_groups: list[str] = field(default_factory=list)
    # Memberships the plan creates or changes in the admin group ("alice in Admins"): each makes an admin.
    admin_grants: list[str] = field(default_factory=list)
    # Set when the plan may not be applied as it is (the mass-disable guard, admin grants not allowed): the
    # reason, fit to show.
    blocked: str | None = None
    # What the import does, in the order apply does it; the sections above are made from it.
    operations: list[Operation] = field(default_factory=list)

    def sections(self) -> dict[str, Section]:
        return {
            "users": self.users,
            "groups": self.groups,
            "memberships": self.memberships,
            "accounts": self.accounts,
            "policies": self.policies,
            "permission_sets": self.permission_sets,
            "assignments": self.assignments,
        }

    @property
    def changes_nothing(self) -> bool:
        return not any(section.changes for section in self.sections().values())

    def as_dict(self) -> dict[str, Any]:
        return {name: section.as_dict() for name, section in self.sections().items()}

    def summary(self) -> list[str]:
        """One human line per concept that the file or the directory has."""
        lines = []
        for name, section in self.sections().items():
            if name in ("accounts", "policies", "permission_sets", "assignments") and not (
                section.changes or section.unchanged
            ):
                continue
            label = name.replace("_", " ")
            retire = f", {len(section.retire)} to {section.retire_word}" if section.retire_word else ""
            lines.append(
                f"{label}: {len(section.create)} to create, {len(section.update)} to update{retire}, "
                f"{section.unchanged} unchanged"
            )
        return lines

    def diff(self, limit: int | None = 100) -> Iterator[tuple[str, str]]:
        """The changes as (mark, text): ``+`` create, ``~`` update, ``-`` retire; at most ``limit`` per kind
        and concept, then one ``…`` line with how many more."""
        singular = {
            "users": "user",
            "groups": "group",
            "memberships": "membership",
            "accounts": "account",
            "policies": "policy",
            "permission_sets": "permission set",
            "assignments": "assignment",
        }
        admin_grants = set(self.admin_grants)
        for name, section in self.sections().items():
            noun = singular[name]
            # (mark, how many, the first ``limit`` as (item, detail)): a big plan is not copied to show 100.
            creates, updates, retires = section.create, section.update, section.retire
            kinds: list[tuple[str, int, list[tuple[str, str]]]] = [
                ("+", len(creates), [(item, "") for item in creates[:limit]]),
                ("~", len(updates), [(k, ", ".join(v)) for k, v in islice(updates.items(), limit)]),
                ("-", len(retires), list(islice(retires.items(), limit))),
            ]
            for mark, count, items in kinds:
                verb = {"+": "create", "~": "update", "-": section.retire_word or ""}[mark]
                for item, detail in items:
                    text = f"{verb} {noun} {item!r}"
                    if detail:
                        text += f": {detail}" if mark == "~" else f" ({detail})"
                    if name == "memberships" and mark != "-" and item in admin_grants:
                        text += f"  {ADMIN_MARK}"
                    yield mark, text
                if limit is not None and count > limit:
                    yield "…", f"… and {count - limit:,} more {noun} {verb}s"

    def describe(self, limit: int | None = 100) -> list[str]:
        """Human lines: the summary, then each change (``limit`` of each kind per concept)."""
        return self.summary() + [
            f"  {mark} {text}" if mark != "…" else f"    {text}" for mark, text in self.diff(limit)
        ]


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied: bool
    batch_id: int | None
    sha256: str
    source: str
    password_workers: int = 0  # worker processes that hashed initial passwords

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "source": self.source,
            "applied": self.applied,
            "changes_nothing": self.plan.changes_nothing,
            "batch": self.batch_id,
            "plan": self.plan.as_dict(),
            "passwords": dict(self.plan.passwords, workers=self.password_workers),
            "notices": self.plan.notices,
            "admin_grants": self.plan.admin_grants,
            "blocked": self.plan.blocked,
        }


# -- problems ---------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.count = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(where, message))

    def call(self, where: str, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``; its ValidationError is recorded against ``where`` and None returned."""
        try:
            return function(*args)
        except ValidationError as exc:
            self.add(where, exc.message)
            return None

    def check(self, where: str, check: Callable[[], Any], labels: dict[str, str] | None = None) -> Any:
        """Run a cleaner; record its ValidationError against ``where`` (the field named as the file names it)
        and return None."""
        try:
            return check()
        except ValidationError as exc:
            self.add(where, _labelled(exc, labels))
            return None

    def refuse_if_any(self) -> None:
        if self.count:
            # In file order (line 3 before line 12, users[2] before users[10]), whichever check found them.
            ordered = sorted(self.items, key=lambda problem: _natural(problem.where))
            raise ImportRefused("", ordered, self.count - len(self.items))


def _natural(where: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", where) if part]


def _labelled(exc: ValidationError, labels: dict[str, str] | None) -> str:
    message = exc.message
    if labels and exc.field in labels and message.startswith(f"{exc.field}:"):
        return labels[exc.field] + message[len(exc.field) :]
    return message


def check_source(source: str, *, sync: bool = False) -> str:
    if not isinstance(source, str) or not SOURCE_NAME.match(source):
        raise ValidationError(
            f"source: {source!r} is not a source name: use 1 to {SOURCE_MAX} letters, digits, "
            "'.', '_' and '-', starting with a letter or digit",
            "source",
        )
    if sync and source == LOCAL:
        raise ValidationError(
            "source: 'local' names the users made in this directory: a sync needs the name of "
            "the identity provider the file comes from (e.g. --source okta)",
            "source",
        )
    return source


# -- the directory as it is -------------------------------------------------------------------------------

_USER_COLUMNS = ("user_name", "display_name", "given_name", "family_name", "email", "external_id", "status")
_GROUP_COLUMNS = ("name", "description", "external_id")
# The columns a user or group row takes from an import, in the order of the rows' INSERT and UPDATE.
_USER_ROW = (*_USER_COLUMNS, "scim_id")
_GROUP_ROW = (*_GROUP_COLUMNS, "scim_id")
_SCIM_NAMES = {
    "user_name": "userName",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "familyName",
    "email": "email",
    "external_id": "externalId",
    "status": "active",
    "name": "displayName",
    "description": "description",
    "document": "document",
    "session_duration": "sessionDuration",
    "inline_policy": "inlinePolicy",
    "boundary_policy": "permissionsBoundary",
    "managed_policies": "managedPolicies",
    "ssh_keys": "sshPublicKeys",
    "scim_id": "id",
    "password_hash": "password",
}


@dataclass
class _Current:
    # Whole tables read at once (a big import), or looked up row by row (a small one, see _load_current).
    users: Mapping[str, sqlite3.Row]  # by user_name_key
    users_by_id: Mapping[int, sqlite3.Row]
    users_by_external: Mapping[tuple[str, str], sqlite3.Row]
    users_by_scim: Mapping[tuple[str, str], sqlite3.Row]
    user_keys: Mapping[int, list[str]]
    groups: Mapping[str, sqlite3.Row]
    groups_by_id: Mapping[int, sqlite3.Row]
    groups_by_external: Mapping[tuple[str, str], sqlite3.Row]
    groups_by_scim: Mapping[tuple[str, str], sqlite3.Row]
    memberships: Mapping[int, Mapping[int, str | None]]  # group id → its members: user id → expiry
    # The other tables and the admin group: filled by _read_the_rest.
    accounts: dict[str, sqlite3.Row] = field(default_factory=dict)
    policies: dict[str, sqlite3.Row] = field(default_factory=dict)
    permission_sets: dict[str, sqlite3.Row] = field(default_factory=dict)
    attachments: dict[int, list[str]] = field(default_factory=dict)
    assignments: dict[tuple[str, int, int, int], tuple[int, str | None]] = field(default_factory=dict)
    admin_group_id: int | None = None


_USER_SELECT = (
    f"SELECT id, user_name_key, source, scim_id, is_root, password_hash IS NOT NULL AS has_password, "
    f"{', '.join(_USER_COLUMNS)} FROM users"
)
_GROUP_SELECT = "SELECT id, name_key, source, scim_id, name, description, external_id FROM groups"
# Both selects start alike, so the hot paths read a row by position (a name costs a scan of the columns).
_ID, _KEY, _SOURCE = 0, 1, 2
_IS_ROOT, _HAS_PASSWORD = 4, 5  # users only
# Each column of ``_USER_ROW`` / ``_GROUP_ROW`` with its position in a row of ``_USER_SELECT`` /
# ``_GROUP_SELECT``.
_USER_AT = tuple(
    (c, ("id", "user_name_key", "source", "scim_id", "is_root", "has_password", *_USER_COLUMNS).index(c))
    for c in _USER_ROW
)
_GROUP_AT = tuple((c, ("id", "name_key", "source", "scim_id", *_GROUP_COLUMNS).index(c)) for c in _GROUP_ROW)
_MEMBERS_SELECT = "SELECT user_id, expires_at FROM memberships"
# A document with at most this many users and groups (a SCIM request, a hand-written file) looks up the rows
# it names one by one; a bigger one reads the tables whole, which is cheaper than as many lookups.
LOOKUP_AT_MOST = 1_000
_ABSENT = object()


class _Lookup(Mapping[Any, Any]):
    """Rows by key, each read with one indexed query when first asked for and remembered (found or not).
    Walking every key reads the whole table (a sync): the answer is the same either way, only its cost
    differs. The snapshot is the plan's read transaction, so lookups and a full read agree."""

    def __init__(self, one: Callable[[Any], Any], every: Callable[[], dict[Any, Any]]) -> None:
        self._one, self._every = one, every
        self._seen: dict[Any, Any] = {}
        self._all: dict[Any, Any] | None = None

    def __getitem__(self, key: Any) -> Any:
        if self._all is not None:
            return self._all[key]
        value = self._seen.get(key, _ABSENT)
        if value is _ABSENT and key not in self._seen:
            value = self._seen[key] = self._one(key)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def _whole(self) -> dict[Any, Any]:
        if self._all is None:
            self._all = self._every()
        return self._all

    def __iter__(self) -> Iterator[Any]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())


def _first(conn: sqlite3.Connection, sql: str) -> Callable[[Any], Any]:
    """One row for a key (a value or a tuple of them), or _ABSENT."""

    def one(key: Any) -> Any:
        row = conn.execute(sql, key if isinstance(key, tuple) else (key,)).fetchone()
        return _ABSENT if row is None else row

    return one


def _user_key_lists(rows: Iterable[sqlite3.Row]) -> dict[int, list[str]]:
    keys: dict[int, list[str]] = {}
    for row in rows:
        keys.setdefault(row[0], []).append(row[1])
    return keys


def _load_current(conn: sqlite3.Connection, document: ImportDocument, sync: bool) -> _Current:
    # Accounts, policies, permission sets and assignments are read only for a document that has some: a
    # SCIM request read every assignment of the directory (63 ms a request beside 50,000 of them).
    tables = bool(document.accounts or document.policies or document.permission_sets or document.assignments)
    if sync or len(document.users) + len(document.groups) > LOOKUP_AT_MOST:
        return _read_current(conn, tables)

    # A small document: the users, groups, memberships and keys it names, looked up one by one (a SCIM
    # request reading the whole directory each time made a provisioning push quadratic).
    def members(group_id: int) -> _Lookup:
        def one(user_id: int) -> Any:
            row = conn.execute(
                "SELECT expires_at FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            ).fetchone()
            return _ABSENT if row is None else row[0]

        def every() -> dict[Any, Any]:
            return dict(conn.execute(_MEMBERS_SELECT + " WHERE group_id = ? ORDER BY user_id", (group_id,)))

        return _Lookup(one, every)

    def key_list(user_id: int) -> Any:
        rows = conn.execute("SELECT public_key FROM ssh_keys WHERE user_id = ? ORDER BY id", (user_id,))
        return [r[0] for r in rows] or _ABSENT

    users, users_by_id, users_by_external, users_by_scim = _row_lookups(conn, _USER_SELECT, "user_name_key")
    groups, groups_by_id, groups_by_external, groups_by_scim = _row_lookups(conn, _GROUP_SELECT, "name_key")
    current = _Current(
        users=users,
        users_by_id=users_by_id,
        users_by_external=users_by_external,
        users_by_scim=users_by_scim,
        user_keys=_Lookup(
            key_list,
            lambda: _user_key_lists(conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id")),
        ),
        groups=groups,
        groups_by_id=groups_by_id,
        groups_by_external=groups_by_external,
        groups_by_scim=groups_by_scim,
        memberships=_Lookup(members, lambda: _read_memberships(conn)),
    )
    return _read_the_rest(conn, current, tables)


def _row_lookups(
    conn: sqlite3.Connection, select: str, key: str
) -> tuple[_Lookup, _Lookup, _Lookup, _Lookup]:
    """A table's rows (users or groups) by canonical name ``key``, by id, by (source, externalId) and by
    (source, SCIM id): each looked up alone, or the table read whole when a lookup is walked."""

    def every(pick: Callable[[sqlite3.Row], Any], column: str | None = None) -> Callable[[], dict[Any, Any]]:
        return lambda: {
            pick(row): row for row in conn.execute(select) if column is None or row[column] is not None
        }

    def by_source(column: str) -> _Lookup:
        return _Lookup(
            _first(conn, f"{select} WHERE source = ? AND {column} = ?"),
            every(lambda row: (row["source"], row[column]), column),
        )

    return (
        _Lookup(_first(conn, f"{select} WHERE {key} = ?"), every(lambda row: row[_KEY])),
        _Lookup(_first(conn, f"{select} WHERE id = ?"), every(lambda row: row[_ID])),
        by_source("external_id"),
        by_source("scim_id"),
    )


def _read_memberships(conn: sqlite3.Connection) -> dict[int, dict[int, str | None]]:
    """Every group's members (user id → expiry): each group's ids as one text from SQLite (a Python tuple
    per membership cost more than reading them), then the few expiries."""
    members: dict[int, dict[int, str | None]] = {
        group_id: dict.fromkeys(map(int, ids.split(",")))
        for group_id, ids in conn.execute(
            "SELECT group_id, group_concat(user_id) FROM memberships GROUP BY group_id"
        )
    }
    for group_id, user_id, expires_at in conn.execute(
        "SELECT group_id, user_id, expires_at FROM memberships WHERE expires_at IS NOT NULL"
    ):
        members[group_id][user_id] = expires_at
    return members


def _read_current(conn: sqlite3.Connection, tables: bool = True) -> _Current:
    users = conn.execute(_USER_SELECT).fetchall()
    groups = conn.execute(_GROUP_SELECT).fetchall()
    current = _Current(
        users={r["user_name_key"]: r for r in users},
        users_by_id={r["id"]: r for r in users},
        users_by_external={(r["source"], r["external_id"]): r for r in users if r["external_id"] is not None},
        users_by_scim={(r["source"], r["scim_id"]): r for r in users if r["scim_id"] is not None},
        user_keys=_user_key_lists(conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id")),
        groups={r["name_key"]: r for r in groups},
        groups_by_id={r["id"]: r for r in groups},
        groups_by_external={
            (r["source"], r["external_id"]): r for r in groups if r["external_id"] is not None
        },
        groups_by_scim={(r["source"], r["scim_id"]): r for r in groups if r["scim_id"] is not None},
        memberships=_read_memberships(conn),
    )
    return _read_the_rest(conn, current, tables)


def _read_the_rest(conn: sqlite3.Connection, current: _Current, tables: bool = True) -> _Current:
    """The admin group, and (``tables``) accounts, policies, permission sets and assignments, read whole."""
    admin_group = conn.execute("SELECT value FROM settings WHERE key = ?", (ADMIN_GROUP_SETTING,)).fetchone()
    if admin_group is not None and int(admin_group[0]) in current.groups_by_id:
        current.admin_group_id = int(admin_group[0])
    if not tables:
        return current
    current.accounts = {
        r["name_key"]: r for r in conn.execute("SELECT id, name_key, name, description, status FROM accounts")
    }
    current.policies = {
        r["name_key"]: r
        for r in conn.execute("SELECT id, name_key, name, description, document, builtin FROM policies")
    }
    current.permission_sets = {
        r["name_key"]: r
        for r in conn.execute(
            "SELECT id, name_key, name, description, session_duration, inline_policy, boundary_policy "
            "FROM permission_sets"
        )
    }
    for row in conn.execute(
        "SELECT psp.permission_set_id, p.name_key FROM permission_set_policies psp "
        "JOIN policies p ON p.id = psp.policy_id"
    ):
        current.attachments.setdefault(row[0], []).append(row[1])
    for row in conn.execute(
        "SELECT id, user_id, group_id, account_id, permission_set_id, expires_at FROM assignments"
    ):
        kind, principal = (
            ("user", row["user_id"]) if row["user_id"] is not None else ("group", row["group_id"])
        )
        current.assignments[(kind, principal, row["account_id"], row["permission_set_id"])] = (
            row["id"],
            row["expires_at"],
        )
    return current


# -- resolving the document against the directory --------------------------------------------------------


@dataclass(slots=True)
class _Target:
    """One user or group the import writes or refers to: an existing row (``row``) or a new one, and what
    the file says."""

    name_column: ClassVar[str]
    ident: int  # the row id, or a negative number for one this import creates
    where: str
    source: str
    row: sqlite3.Row | None
    fields: dict[str, Any] = field(default_factory=dict)  # column → cleaned value, only what the file gives
    in_file: bool = True  # False: only named (as a member, in a user's groups), no entry of its own
    labels: dict[str, str] = field(default_factory=lambda: NO_LABELS)  # field → what the file calls it
    key_of: tuple[str, str] = ("", "")  # (a name, its canonical form): the one matched, computed once

    def value(self, column: str) -> Any:
        if column in self.fields:
            return self.fields[column]
        if self.row is not None:
            return self.row[column]
        return _DEFAULTS[column]

    @property
    def shown(self) -> str:
        return str(self.value(self.name_column))


@dataclass(slots=True)
class _UserTarget(_Target):
    name_column: ClassVar[str] = "user_name"
    password_hash: str | None = None
    initial_password: str | None = None  # cleartext, hashed at apply time with ``with_passwords``
    must_change: bool | None = None
    ssh_keys: list[PublicKey] | None = None
    disable_reason: str | None = None


@dataclass(slots=True)
class _GroupTarget(_Target):
    name_column: ClassVar[str] = "name"
    members: dict[int, str | None] = field(default_factory=dict)  # user ident → expiry (direct members)
    member_groups: list[tuple[_GroupTarget, str]] = field(default_factory=list)  # nested groups (flattened)
    removals: set[int] = field(default_factory=set)  # user idents removed explicitly
    remove_all: bool = False
    emptied_reason: str | None = None


_BAD = object()


def _scim_id(value: object, label: str = "id") -> str:
    text = names.display_text(value, label, SCIM_ID_MAX)
    if not text:
        raise ValidationError(f"{label}: must not be empty", label)
    return text


# What an entry's fields are checked with: (column, its cleaner, the cleaner's other arguments).
Cleaners = tuple[tuple[str, Callable[..., Any], tuple[Any, ...]], ...]
_USER_CLEANERS: Cleaners = (
    ("user_name", names.user_name, ()),
    ("display_name", names.display_text, ("displayName",)),
    ("given_name", names.display_text, ("givenName",)),
    ("family_name", names.display_text, ("familyName",)),
    ("email", names.email, ()),
    ("external_id", names.external_id, ()),
    ("scim_id", _scim_id, ()),
)
_GROUP_CLEANERS: Cleaners = (
    ("name", names.group_name, ()),
    ("description", names.display_text, ("description", names.DESCRIPTION_MAX)),
    ("external_id", names.external_id, ()),
    ("scim_id", _scim_id, ()),
)


def _fields(entry: UserIn | GroupIn, cleaners: Cleaners, problems: _Problems) -> dict[str, Any] | None:
    """The fields an entry gives (those it does not leave out), cleaned; None when one is invalid, with every
    problem of the entry recorded as the file names its fields."""
    fields: dict[str, Any] = {}
    try:
        for column, cleaner, args in cleaners:
            value = getattr(entry, column)
            if value is not None:
                fields[column] = cleaner(value, *args)
        return fields  # the common case: one pass, no bookkeeping
    except ValidationError:
        pass
    for column, cleaner, args in cleaners:
        value = getattr(entry, column)
        if value is not None:
            try:
                cleaner(value, *args)
            except ValidationError as exc:
                problems.add(entry.where, _labelled(exc, entry.labels))
    return None


def _plain_user_fields(user: UserIn) -> dict[str, Any] | None:
    """What ``_fields(user, _USER_CLEANERS, …)`` returns for the common entry, without a cleaner call per
    field: every field printable ASCII and within its limits (one test of all of them joined). None: not such
    an entry; the cleaners decide (and name any problem)."""
    name, display, given, family, email, external = (
        user.user_name,
        user.display_name,
        user.given_name,
        user.family_name,
        user.email,
        user.external_id,
    )
    if name is None or user.scim_id is not None:
        return None
    try:
        joined = "".join([v for v in (name, display, given, family, email, external) if v is not None])
    except TypeError:  # not text: the cleaners say so
        return None
    # Printable ASCII has one space character (no other whitespace, no controls, nothing invisible).
    if not (joined.isascii() and joined.isprintable()) or not name or " " in name:
        return None
    if len(name) > names.USER_NAME_MAX or len(email or "") > names.EMAIL_MAX:
        return None
    if len(display or "") > names.DISPLAY_TEXT_MAX or len(given or "") > names.DISPLAY_TEXT_MAX:
        return None
    if len(family or "") > names.DISPLAY_TEXT_MAX or len(external or "") > names.EXTERNAL_ID_MAX:
        return None
    if email and (email.count("@") != 1 or " " in email or email[0] == "@" or email[-1] == "@"):
        return None
    fields: dict[str, Any] = {"user_name": name}
    if display is not None:
        fields["display_name"] = display
    if given is not None:
        fields["given_name"] = given
    if family is not None:
        fields["family_name"] = family
    if email is not None:
        fields["email"] = email
    if external is not None:
        fields["external_id"] = external or None
    return fields


@dataclass(frozen=True)
class _Kind:
    """What tells users and groups apart for the one resolver: their words and their columns."""

    noun: str  # "user", "group"
    name_column: str  # "user_name", "name"
    key_column: str  # "user_name_key", "name_key"
    name_label: tuple[str, str]  # (the labels' key, the field's SCIM name)
    reserved: str | None  # a canonical name no entry may take (root's)


_USERS = _Kind("user", "user_name", "user_name_key", ("userName", "userName"), ROOT_NAME)
_GROUPS = _Kind("group", "name", "name_key", ("name", "displayName"), None)


class _Index:
    """One kind's rows in the directory and its targets in this import, found by every way a file names
    them."""

    def __init__(self, kind: _Kind, by_key: Rows, by_external: RowsBy, by_scim: RowsBy) -> None:
        self.kind = kind
        self.rows_by_key, self.rows_by_external, self.rows_by_scim = by_key, by_external, by_scim
        self.targets: list[Any] = []
        self.by_ident: dict[int, Any] = {}
        # An existing row's target by its id: its ident is the row id (a new one's is negative), so one dict.
        self.by_row: dict[int, Any] = self.by_ident
        self.by_key: dict[str, Any] = {}
        self.by_external: dict[tuple[str, str], Any] = {}
        self.by_alias: dict[str, Any] = {}
        self.entries: dict[int, Any] = {}  # index of an entry → the target it ended up in
        self.final: dict[str, Any] = {}  # canonical final name → target


Rows = Mapping[str, sqlite3.Row]
RowsBy = Mapping[tuple[str, str], sqlite3.Row]


class _Resolver:
    """Matches every entry of a document with the directory's rows and checks what needs both to check."""

    def __init__(self, document: ImportDocument, current: _Current, options: ImportOptions) -> None:
        self.document = document
        self.current = current
        self.options = options
        self.source = options.source or document.default_source
        self.problems = _Problems()
        self._new = 0
        self.user_index = _Index(_USERS, current.users, current.users_by_external, current.users_by_scim)
        self.group_index = _Index(_GROUPS, current.groups, current.groups_by_external, current.groups_by_scim)
        # The names every part of the resolver uses.
        self.users: list[_UserTarget] = self.user_index.targets
        self.groups: list[_GroupTarget] = self.group_index.targets
        self.user_by_row: dict[int, _UserTarget] = self.user_index.by_row
        self.group_by_row: dict[int, _GroupTarget] = self.group_index.by_row
        self.user_by_alias: dict[str, _UserTarget] = self.user_index.by_alias
        self.group_by_alias: dict[str, _GroupTarget] = self.group_index.by_alias
        self.user_idents: dict[int, _UserTarget] = self.user_index.by_ident
        self.user_entries: dict[int, _UserTarget] = self.user_index.entries
        self.group_entries: dict[int, _GroupTarget] = self.group_index.entries
        self.final_user_keys: dict[str, _UserTarget] = self.user_index.final
        self.final_group_keys: dict[str, _GroupTarget] = self.group_index.final
        self.user_by_exact: dict[str, _UserTarget] = {}  # final user name as given → its target

    def _next_ident(self) -> int:
        self._new += 1
        return -self._new

    def entry_source(self, entry_source: str | None, where: str) -> str | None:
        if entry_source is None:
            return self.source
        try:
            check_source(entry_source)
        except ValidationError as exc:
            self.problems.add(where, exc.message)
            return None
        if self.options.sync and entry_source != self.source:
            self.problems.add(where, f"source: {entry_source!r}, but this sync is for source {self.source!r}")
            return None
        return entry_source

    def _target(
        self, index: _Index, row: sqlite3.Row | None, where: str, source: str, in_file: bool = True
    ) -> Any:
        ident = row[_ID] if row is not None else self._next_ident()
        target = (_UserTarget if index is self.user_index else _GroupTarget)(ident, where, source, row)
        target.in_file = in_file
        index.targets.append(target)
        index.by_ident[ident] = target
        return target

    def _user_target(self, row: sqlite3.Row | None, where: str, source: str) -> _UserTarget:
        target: _UserTarget = self._target(self.user_index, row, where, source)
        return target

    def _group_target(
        self, row: sqlite3.Row | None, where: str, source: str, in_file: bool = True
    ) -> _GroupTarget:
        target: _GroupTarget = self._target(self.group_index, row, where, source, in_file)
        return target

    # -- matching an entry: one way for users and groups -----------------------------------------------

    def _match(
        self,
        index: _Index,
        position: int,
        entry: UserIn | GroupIn,
        fields: dict[str, Any],
        source: str,
        match_name: str | None,
    ) -> Any:
        """The target ``entry`` describes (an existing row's or a new one), merged with what it gives; None
        when it matches nothing it may (the problem is recorded)."""
        kind, problems, where, labels = index.kind, self.problems, entry.where, entry.labels
        noun = kind.noun
        name_label = labels.get(kind.name_label[0], kind.name_label[1])
        target = None
        if entry.target is not None:
            target = index.by_alias.get(entry.target)
            if target is None:
                row = index.rows_by_scim.get((source, entry.target))
                if row is not None:
                    target = index.by_row.get(row[_ID]) or self._target(index, row, where, source)
            if target is None:
                problems.add(
                    where,
                    f"no {noun} with id {entry.target!r} in this file or the directory (source {source!r})",
                )
                return None
        else:
            external = fields.get("external_id")
            if external:
                earlier = index.by_external.get((source, external))
                if earlier is not None:
                    label = labels.get("externalId", "externalId")
                    problems.add(where, f"{label}: {external!r} is the same as {earlier.where}'s")
                    return None
                row = index.rows_by_external.get((source, external))
                if row is not None:
                    if row[_ID] in index.by_row:
                        problems.add(
                            where,
                            f"matches the existing {noun} {row[kind.name_column]!r} (by externalId), "
                            f"which {index.by_row[row['id']].where} already matched",
                        )
                        return None
                    target = self._target(index, row, where, source)
            if target is None:
                shown = match_name if match_name is not None else fields.get(kind.name_column)
                if shown is None:
                    if getattr(entry, kind.name_column) is None:
                        problems.add(where, f"{name_label}: is required")
                    return None
                key = names.canonical(shown)
                earlier = index.by_key.get(key)
                if earlier is not None:
                    problems.add(
                        where,
                        f"{name_label}: {shown!r} is the same name as {earlier.where} (names are compared "
                        "ignoring case and width)",
                    )
                    return None
                ok, row = self._existing_for_name(index, key, source, where, shown, name_label)
                if not ok:
                    return None
                target = self._target(index, row, where, source)
                index.by_key[key] = target
                target.key_of = (shown, key)
        # Merge: a later entry for the same one (a bulk PATCH after its POST) changes what it gives.
        index.entries[position] = target
        if target.fields:
            target.fields.update(fields)
        else:
            target.fields = fields  # the entry's own dict, made for it (no copy)
        target.in_file = True
        external, scim_id = fields.get("external_id"), fields.get("scim_id")
        if external:
            index.by_external[(source, external)] = target
        if entry.aliases or scim_id:
            for alias in (*entry.aliases, *([scim_id] if scim_id else [])):
                index.by_alias[alias] = target
        return target

    def _existing_for_name(
        self, index: _Index, key: str, source: str, where: str, shown: str, label: str
    ) -> tuple[bool, sqlite3.Row | None]:
        """(ok, row): the existing row this name may match; not ok when the name belongs to someone else."""
        kind = index.kind
        if key == kind.reserved:
            self.problems.add(where, f"{label}: {shown!r} is reserved for the directory's root identity")
            return False, None
        row = index.rows_by_key.get(key)
        if row is None:
            return True, None
        held = row[kind.name_column]
        if kind.reserved is not None and row[_IS_ROOT]:
            self.problems.add(
                where,
                f"{label}: {shown!r} is the same name as the directory's root identity {held!r} (names are "
                "compared ignoring case and width)",
            )
            return False, None
        if row[_SOURCE] != source:
            self.problems.add(
                where,
                f"{label}: {shown!r} is the same name as the existing {kind.noun} {held!r} from source "
                f"{row['source']!r} (names are compared ignoring case and width; an import never takes "
                f"over another source's {kind.noun}s)",
            )
            return False, None
        if row[_ID] in index.by_row:
            earlier = index.by_row[row[_ID]]
            self.problems.add(
                where,
                f"{label}: {shown!r} matches the existing {kind.noun} {held!r}, which {earlier.where} "
                "already matched",
            )
            return False, None
        return True, row

    def _check_final_names(self, index: _Index) -> None:
        """After merging (renames included): every final name is unique and free."""
        kind, final, column = index.kind, index.final, index.kind.name_column
        for target in index.targets:
            name = target.fields.get(column)
            if name is None:
                name = target.value(column)
            if not isinstance(name, str) or not name:
                continue
            shown, key = target.key_of
            if shown != name:
                key = names.canonical(name)
            label = target.labels.get(kind.name_label[0], kind.name_label[1])
            other = final.get(key)
            if other is not None and other is not target:
                self.problems.add(
                    target.where,
                    f"{label}: {name!r} is the same name as {other.where} (names are compared ignoring "
                    "case and width)",
                )
                continue
            final[key] = target
            if target.row is not None and target.row[_KEY] == key:
                continue
            if key == kind.reserved:
                self.problems.add(
                    target.where, f"{label}: {name!r} is reserved for the directory's root identity"
                )
                continue
            holder = index.rows_by_key.get(key)
            if holder is not None and (target.row is None or holder["id"] != target.row["id"]):
                what = (
                    f"renaming {target.row[kind.name_column]!r} to {name!r}"
                    if target.row is not None
                    else repr(name)
                )
                self.problems.add(
                    target.where,
                    f"{label}: {what} would take the name of the existing {kind.noun} "
                    f"{holder[kind.name_column]!r} (source {holder['source']!r}; names are compared "
                    "ignoring case and width)",
                )

    # -- users and groups ---------------------------------------------------------------------------------

    def resolve_users(self, progress: Progress | None) -> None:
        total = len(self.document.users)
        problems = self.problems
        for position, user in enumerate(self.document.users):
            if progress is not None and position % 5000 == 0:
                progress("check", position, total)
            source = self.source if user.source is None else self.entry_source(user.source, user.where)
            fields = _plain_user_fields(user) or _fields(user, _USER_CLEANERS, problems)
            if fields is None or source is None:
                continue
            if user.active is not None:
                fields["status"] = "active" if user.active else "disabled"
            if user.disable:
                fields["status"] = "disabled"
            if self.options.sync and "status" not in fields:
                # A sync makes the directory match the file: a user it lists (without saying otherwise) is
                # active.
                fields["status"] = "active"
            target: _UserTarget | None = self._match(
                self.user_index, position, user, fields, source, user.match_name
            )
            if target is None:
                continue
            if target.labels is not user.labels and user.labels:
                target.labels = user.labels
            if user.disable:
                target.disable_reason = "deleted in the file: tui disables instead"
            elif user.active is False:
                target.disable_reason = "active: false in the file"
            elif user.active:
                target.disable_reason = None
            if (
                user.password is not None
                or user.password_hash is not None
                or user.must_change_password is not None
            ):
                self._passwords(user, target)
            if user.ssh_keys is not None:
                parsed = [
                    problems.call(f"{user.where}.sshPublicKeys[{i}]", parse_public_key, key)
                    for i, key in enumerate(user.ssh_keys)
                ]
                target.ssh_keys = [k for k in parsed if k is not None]
        if progress is not None:
            progress("check", total, total)
        self._check_final_names(self.user_index)
        self.user_by_exact = {target.value("user_name"): target for target in self.final_user_keys.values()}

    def _passwords(self, user: UserIn, target: _UserTarget) -> None:
        if user.must_change_password is not None:
            target.must_change = user.must_change_password
        if user.password_hash is not None:
            if not is_supported_hash(user.password_hash):
                self.problems.add(
                    user.where,
                    f"{user.labels.get('password', 'password')}: not a password hash tui "
                    "can verify (argon2, bcrypt or PBKDF2 in PHC / modular-crypt form)",
                )
                return
            target.password_hash, target.initial_password = user.password_hash, None
        elif user.password is not None and user.password != "":
            if is_supported_hash(user.password):
                target.password_hash, target.initial_password = user.password, None
            elif len(user.password) > MAX_PASSWORD_LENGTH:
                self.problems.add(
                    user.where,
                    f"{user.labels.get('password', 'password')}: is "
                    f"{len(user.password)} characters long; the limit is "
                    f"{MAX_PASSWORD_LENGTH}",
                )
            else:
                target.initial_password, target.password_hash = user.password, None

    def resolve_groups(self) -> None:
        for position, group in enumerate(self.document.groups):
            source = self.entry_source(group.source, group.where)
            fields = _fields(group, _GROUP_CLEANERS, self.problems)
            if source is not None and fields is not None:
                self._match(self.group_index, position, group, fields, source, None)
        self._check_final_names(self.group_index)

    def _group_by_name(self, name: str, where: str, source: str) -> _GroupTarget | None:
        key = names.canonical(name)
        target = self.final_group_keys.get(key)
        if target is not None:
            return target
        row = self.current.groups.get(key)
        if row is not None:
            target = self.group_by_row.get(row["id"])
            if target is None:
                target = self._group_target(row, where, row["source"], in_file=False)
                self.final_group_keys[key] = target
            return target
        if self.document.create_missing_groups:
            target = self._group_target(None, where, source, in_file=False)
            target.fields["name"] = name
            self.final_group_keys[key] = target
            return target
        self.problems.add(where, f"no group named {name!r} in the file or the directory")
        return None

    def _user_by_name(self, name: str) -> int | None:
        exact = self.user_by_exact.get(name)
        if exact is not None:
            return exact.ident  # the name as the file gives it (no canonical form to compute)
        key = names.canonical(name)
        target = self.final_user_keys.get(key)
        if target is not None:
            return target.ident
        row = self.current.users.get(key)
        if row is not None and not row[_IS_ROOT] and row[_ID] not in self.user_by_row:
            return int(row[_ID])  # a rename in this file may have taken the name away: then it is not here
        return None

    def resolve_memberships(self) -> None:
        problems = self.problems
        # From the users: ``groups`` lists group names (each name checked and found once, however many
        # users name it).
        found: dict[str, _GroupTarget] = {}
        for entry, user in enumerate(self.document.users):
            user_target = self.user_entries.get(entry)
            if user_target is None or not user.groups:
                continue
            for index, group_name in enumerate(user.groups):
                group_target = found.get(group_name)
                if group_target is None:
                    where = user.where if user.where.startswith("line ") else f"{user.where}.groups[{index}]"
                    label = user.labels.get("groups", "groups")
                    name = problems.call(where, names.group_name, group_name, label)
                    if name is None:
                        continue
                    group_target = self._group_by_name(name, where, user_target.source)
                    if group_target is None:
                        continue
                    found[group_name] = group_target
                group_target.members.setdefault(user_target.ident, None)
        # From the groups: members by name, id or bulkId; nested groups are flattened below.
        for entry, group in enumerate(self.document.groups):
            target = self.group_entries.get(entry)
            if target is None:
                continue
            if group.remove_all_members:
                target.remove_all = True
                target.members.clear()
                target.member_groups.clear()
            for member in group.remove_members:
                ident = self._member(member, target, removing=True)
                if isinstance(ident, int):
                    target.removals.add(ident)
                    target.members.pop(ident, None)
            by_exact, members, removals = self.user_by_exact, target.members, target.removals
            for member in group.members or []:
                # The common member: a user of the file, named exactly as its entry names it.
                if member.ref is None and member.expires_at is None and type(member.user_name) is str:
                    user_target = by_exact.get(member.user_name)
                    if user_target is not None:
                        members[user_target.ident] = None
                        if removals:
                            removals.discard(user_target.ident)
                        continue
                expiry = (
                    problems.call(member.where, clock.parse_moment, member.expires_at, "expiresAt")
                    if member.expires_at is not None
                    else None
                )
                ident = self._member(member, target)
                if isinstance(ident, _GroupTarget):
                    target.member_groups.append((ident, member.where))
                elif ident is not None:
                    target.members[ident] = expiry
                    target.removals.discard(ident)
        self._flatten()

    def _member(
        self, member: MemberIn, group: _GroupTarget, *, removing: bool = False
    ) -> int | _GroupTarget | None:
        """A member reference → a user ident, a group target (nested) or None (problem recorded)."""
        problems = self.problems
        if member.ref is None:
            if isinstance(member.user_name, str):
                # A name that finds a user is a valid name (the file's users and the
                # directory's were checked).
                ident = self._user_by_name(member.user_name)
                if ident is not None:
                    return ident
            name = problems.check(member.where, lambda: names.user_name(member.user_name, "members"))
            if name is None:
                return None
            ident = self._user_by_name(name)
            if ident is None:
                shown = "root" if names.canonical(name) == ROOT_NAME else repr(name)
                problems.add(
                    member.where,
                    f"members: no user named {name!r} in the file or the directory"
                    if shown != "root"
                    else "members: root belongs to no group",
                )
            return ident
        ref, kind = member.ref, member.kind
        if kind not in (None, "User", "Group"):
            problems.add(member.where, f"type: {kind!r} is not a member type (User or Group)")
            return None
        if kind != "Group":
            user = self.user_by_alias.get(ref)
            if user is not None:
                return user.ident
            row = self.current.users_by_scim.get((group.source, ref))
            if row is not None:
                return int(row["id"])
        if kind != "User":
            nested = self.group_by_alias.get(ref)
            if nested is not None:
                if removing:
                    problems.add(
                        member.where,
                        f"value: {ref!r} is a group: tui flattens nested groups, so only "
                        "users can be removed from a group",
                    )
                    return None
                return nested
            if (group.source, ref) in self.current.groups_by_scim:
                problems.add(
                    member.where,
                    f"value: the group {ref!r} is a member, but tui flattens nested groups "
                    "at import: the member group must be in the same file",
                )
                return None
        what = {"User": "user", "Group": "group"}.get(kind or "", "user or group")
        problems.add(
            member.where,
            f"value: no {what} with id {ref!r} in this file or the directory (source {group.source!r})",
        )
        return None

    def _flatten(self) -> None:
        """Nested groups (SCIM groups whose members are groups) give their users to the groups that hold them.
        A cycle is refused: it names every group on it."""
        state: dict[int, int] = {}  # ident → 1 visiting, 2 done
        flat: dict[int, dict[int, str | None]] = {}
        for group in list(self.groups):
            if (
                group.member_groups
                and state.get(group.ident) != 2
                and self._visit(group, [], state, flat) is None
            ):
                return
        for group in self.groups:
            if group.member_groups:
                group.members = flat[group.ident]
                self.document.notices.append(
                    f"{group.where}: nested groups flattened: {group.shown!r} gets the members of "
                    + ", ".join(repr(nested.shown) for nested, _ in group.member_groups)
                )

    def _visit(
        self,
        group: _GroupTarget,
        path: list[_GroupTarget],
        state: dict[int, int],
        flat: dict[int, dict[int, str | None]],
    ) -> dict[int, str | None] | None:
        """``group``'s users, its nested groups' included (a method, not a closure: a recursive closure is a
        reference cycle that would keep every target alive until the cyclic collector runs)."""
        mark = state.get(group.ident)
        if mark == 2:
            return flat[group.ident]
        if mark == 1:
            cycle = path[path.index(group) :] + [group]
            self.problems.add(
                group.where,
                "members: groups contain each other in a cycle: "
                + " → ".join(repr(g.shown) for g in cycle)
                + " (tui flattens nested groups into their members and cannot "
                "flatten a cycle)",
            )
            return None
        state[group.ident] = 1
        members = dict(group.members)
        for nested, _where in group.member_groups:
            inner = self._visit(nested, [*path, group], state, flat)
            if inner is None:
                state[group.ident] = 2
                flat[group.ident] = members
                return None
            for ident, expiry in inner.items():
                members.setdefault(ident, expiry)
        state[group.ident] = 2
        flat[group.ident] = members
        return members


def _diff(target: _UserTarget | _GroupTarget, columns: tuple[tuple[str, int], ...]) -> list[str]:
    """The columns (each with its position in the row) the file changes."""
    row, fields = target.row, target.fields
    assert row is not None
    return [column for column, i in columns if column in fields and fields[column] != row[i]]


def _resolve(
    document: ImportDocument, current: _Current, options: ImportOptions, progress: Progress | None = None
) -> ImportPlan:
    resolver = _Resolver(document, current, options)
    problems = resolver.problems
    for problem in document.problems:
        problems.add(problem.where, problem.message)
    problems.count += document.more_problems
    source = resolver.source
    try:
        check_source(source, sync=options.sync)
    except ValidationError as exc:
        problems.add("", exc.message)
        problems.refuse_if_any()
    if options.sync and document.partial:
        problems.add(
            "",
            "--sync makes the directory match whole resources: this file holds changes (SCIM PATCH "
            "or DELETE operations); import it without --sync",
        )
    if options.sync and document.incomplete:
        problems.add("", document.incomplete)
    resolver.resolve_users(progress)
    resolver.resolve_groups()
    resolver.resolve_memberships()
    others = _resolve_others(document, current, problems, resolver)
    problems.refuse_if_any()

    users, groups = resolver.users, resolver.groups

    # Sync: the source's users and groups the file no longer has.
    if options.sync:
        for row in current.users_by_id.values():
            if row["source"] == source and not row["is_root"] and row["id"] not in resolver.user_by_row:
                target = resolver._user_target(row, "", source)
                target.in_file = False
                if row["status"] == "active":
                    target.fields["status"] = "disabled"
                    target.disable_reason = "gone from the file"
        for row in current.groups_by_id.values():
            if row["source"] == source and row["id"] not in resolver.group_by_row:
                gone = resolver._group_target(row, "", source, in_file=False)
                gone.emptied_reason = "gone from the file"

    ops: list[Operation] = []
    unchanged = {"users": 0, "groups": 0, "memberships": 0}
    passwords = dict.fromkeys(
        ("set", "hashes_kept", "initial_to_hash", "initial_dropped", "kept_existing"), 0
    )
    # Planning: one step per user and group, and the memberships as one step per group.
    planned, to_plan = 0, len(users) + 2 * len(groups)
    for target in users:
        if progress is not None and planned % 5000 == 0:
            progress("plan", planned, to_plan)
        planned += 1
        has_password = target.password_hash is not None or target.initial_password is not None
        password = _password(target, options, passwords) if has_password else None
        keys = tuple(target.ssh_keys) if target.ssh_keys else None
        if target.row is None:
            ops.append(
                CreateUser(
                    target.ident,
                    target.where,
                    target.source,
                    _values(target, _USER_AT),
                    keys,
                    password,
                )
            )
            continue
        changed = _diff(target, _USER_AT)
        disabling = "status" in changed and target.fields["status"] == "disabled"
        if target.ssh_keys is not None and [k.text for k in target.ssh_keys] != current.user_keys.get(
            target.ident, []
        ):
            changed.append("ssh_keys")
            keys = tuple(target.ssh_keys)
        else:
            keys = None
        if target.row[_HAS_PASSWORD]:
            password = None
        elif password is not None:
            changed.append("password_hash")
        if not changed:
            unchanged["users"] += target.in_file
            continue
        kind = DisableUser if disabling else UpdateUser
        extra = {"reason": target.disable_reason or "active: false in the file"} if disabling else {}
        ops.append(
            kind(
                target.ident,
                target.where,
                target.shown,
                _values(target, _USER_AT),
                tuple(changed),
                keys,
                password,
                disabling,
                **extra,
            )
        )
    plan = ImportPlan(notices=list(document.notices), passwords=passwords)
    if passwords["initial_dropped"]:
        plan.notices.append(
            f"{passwords['initial_dropped']} cleartext initial password(s) dropped: give "
            "--with-passwords to hash them (the users then change them at first sign-in), or set "
            "passwords in tui"
        )
    if passwords["kept_existing"]:
        plan.notices.append(
            f"{passwords['kept_existing']} user(s) already have a password: the file's "
            "passwords only apply to users without one"
        )
    # Groups.
    for group in groups:
        if group.row is None:
            ops.append(CreateGroup(group.ident, group.source, _values(group, _GROUP_AT)))
        elif changed := _diff(group, _GROUP_AT):
            ops.append(UpdateGroup(group.ident, group.shown, _values(group, _GROUP_AT), tuple(changed)))
        elif group.in_file or group.emptied_reason is None:  # in the file, or named by its users
            unchanged["groups"] += 1
    # Memberships: what the file wants, what it removes, and (sync) what the source no longer has.
    user_idents, existing_memberships = resolver.user_idents, current.memberships
    no_members: dict[int, str | None] = {}
    for position, group in enumerate(groups):
        if progress is not None and position % 50 == 0:
            progress("plan", len(users) + len(groups) + position, to_plan)
        group_ident, members, group_name = group.ident, group.members, group.shown
        grants_admin = group_ident == current.admin_group_id
        touches_members = members or group.removals or group.remove_all
        if (
            options.own_groups_only
            and group.row is not None
            and group.row["source"] != source
            and touches_members
        ):
            plan.foreign_groups.append(group_name)
        existing_members = (
            existing_memberships.get(group_ident, no_members) if group.row is not None else no_members
        )
        for user_ident, expiry in members.items():
            existing = existing_members.get(user_ident, _BAD)
            if existing == expiry:
                unchanged["memberships"] += 1
                continue
            user_target = user_idents.get(user_ident)
            user_name = (
                (user_target.fields.get("user_name") or user_target.shown) if user_target is not None else ""
            ) or current.users_by_id[user_ident]["user_name"]
            member = AddMember if existing is _BAD else UpdateMember
            ops.append(member(group_ident, user_ident, expiry, group_name, user_name, grants_admin))
        if group.row is None:
            continue
        sync_owned = options.sync and group.row["source"] == source
        reason = "removed in the file" if not sync_owned else "not in the file"
        if not (options.sync or group.remove_all or group.removals):
            continue
        for user_id in sorted(existing_members):
            if user_id in members:
                continue
            user_row = current.users_by_id[user_id]
            if group.remove_all or user_id in group.removals or (sync_owned and user_row["source"] == source):
                ops.append(
                    RemoveMember(
                        group_ident, user_id, group_name, user_row["user_name"], reason, group.emptied_reason
                    )
                )

    plan.operations = ops
    _other_operations(plan, others, current, unchanged)
    _fill(plan, unchanged)
    if progress is not None:
        progress("plan", to_plan, to_plan)

    if plan.foreign_groups:
        plan.blocked = f"the identity provider {source!r} can change only its own groups, not " + ", ".join(
            repr(name) for name in plan.foreign_groups[:10]
        )
    confirmed = options.allow_admin_changes
    if (
        plan.blocked is None
        and plan.admin_grants
        and not (
            confirmed is True
            or (isinstance(confirmed, frozenset) and confirmed.issuperset(plan.admin_grants))
        )
    ):
        shown = ", ".join(repr(item) for item in plan.admin_grants[:10])
        more = f" and {len(plan.admin_grants) - 10} more" if len(plan.admin_grants) > 10 else ""
        plan.blocked = (
            f"this import would make administrators: {shown}{more} (memberships of the admin group). An "
            "identity provider's file never grants administration on its own: check each, then run again "
            "with --allow-admin-changes"
        )
    # The mass-disable guard.
    if options.sync:
        active = sum(
            1
            for row in current.users_by_id.values()
            if row["source"] == source and row["status"] == "active" and not row["is_root"]
        )
        disabling = sum(1 for op in ops if isinstance(op, DisableUser))
        allowed = max(1, math.ceil(MASS_DISABLE_SHARE * active))
        if disabling > allowed and not options.allow_mass_disable and plan.blocked is None:
            plan.blocked = (
                f"this sync would disable {disabling} of the {active} active users from source "
                f"{source!r} ({disabling / max(active, 1):.0%}); a sync may disable at most "
                f"{MASS_DISABLE_SHARE:.0%} of them ({allowed}) unless --allow-mass-disable is given. "
                "Check that the file is complete, then run again with --allow-mass-disable"
            )
    return plan


def _values(target: _UserTarget | _GroupTarget, columns: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
    """The row's values after the import, in ``columns`` order (each with its position in the row): what the
    file gives, else what the row has (else the column's default)."""
    fields, row = target.fields, target.row
    if row is None:
        return tuple([fields[c] if c in fields else _DEFAULTS[c] for c, _ in columns])
    return tuple([fields[c] if c in fields else row[i] for c, i in columns])


# A new row's value of a column the file leaves out.
_DEFAULTS: dict[str, Any] = dict.fromkeys((*_USER_ROW, *_GROUP_ROW), "") | {
    "external_id": None,
    "scim_id": None,
    "status": "active",
}


def _password(target: _UserTarget, options: ImportOptions, counts: dict[str, int]) -> PasswordSet | None:
    """The password the import sets for ``target`` (counted in ``counts``), if it has none yet."""
    if target.password_hash is None and target.initial_password is None:
        return None
    if target.row is not None and target.row[_HAS_PASSWORD]:
        counts["kept_existing"] += 1
        return None
    if target.password_hash is not None:
        counts["hashes_kept"] += 1
        counts["set"] += 1
        return PasswordSet(target.password_hash, None, bool(target.must_change))
    if options.with_passwords:
        counts["initial_to_hash"] += 1
        counts["set"] += 1
        return PasswordSet(None, target.initial_password, True)
    counts["initial_dropped"] += 1
    return None


def _fill(plan: ImportPlan, unchanged: dict[str, int]) -> None:
    """The plan's sections, made from its operations (and the counts of what stays as it is)."""
    sections = plan.sections()
    for name, count in unchanged.items():
        sections[name].unchanged += count
    users, groups, memberships = plan.users, plan.groups, plan.memberships
    created_memberships, admin_grants = memberships.create, plan.admin_grants
    for op in plan.operations:
        if type(op) is AddMember:  # the most common by far (300,000 in a big import): tested first
            label = f"{op.user_name} in {op.group_name}"  # as AddMember.label
            created_memberships.append(label)
            if op.grants_admin:
                admin_grants.append(label)
        elif isinstance(op, CreateUser):
            users.create.append(op.name)
        elif isinstance(op, DisableUser):
            others = [_SCIM_NAMES.get(c, c) for c in op.changed if c != "status"]
            users.retire[op.name] = op.reason + (f"; also {', '.join(others)}" if others else "")
        elif isinstance(op, UpdateUser):
            users.update[op.name] = [_SCIM_NAMES.get(c, c) for c in op.changed]
        elif isinstance(op, CreateGroup):
            groups.create.append(op.name)
        elif isinstance(op, UpdateGroup):
            groups.update[op.name] = [_SCIM_NAMES.get(c, c) for c in op.changed]
        elif isinstance(op, AddMember):
            if isinstance(op, UpdateMember):
                memberships.update[op.label] = ["expiresAt"]
            else:
                memberships.create.append(op.label)
            if op.grants_admin:
                plan.admin_grants.append(op.label)
        elif isinstance(op, RemoveMember):
            memberships.retire[op.label] = op.reason
            if op.emptied:
                groups.retire[op.group_name] = op.emptied
        elif isinstance(op, SaveEntry):
            section = sections[op.concept]
            if op.row_id is None:
                section.create.append(op.name)
            else:
                section.update[op.name] = [_SCIM_NAMES.get(c, c) for c in op.changed]
        elif op.row_id is None:
            plan.assignments.create.append(op.label)
        else:
            plan.assignments.update[op.label] = ["expiresAt"]


# -- accounts, policies, permission sets, assignments (our whole-directory JSON) ---------------------------


def _resolve_others(
    document: ImportDocument, current: _Current, problems: _Problems, resolver: _Resolver
) -> tuple[Any, ...]:
    accounts: dict[str, dict[str, Any]] = {}
    policies: dict[str, dict[str, Any]] = {}
    permission_sets: dict[str, dict[str, Any]] = {}
    attachments: dict[str, list[str]] = {}
    assignments: dict[tuple[str, str, str, str], str | None] = {}
    principals: dict[tuple[str, str], int] = {}
    first_seen: dict[tuple[str, str], str] = {}

    def unique(kind: str, key: str, where: str, shown: str) -> bool:
        earlier = first_seen.get((kind, key))
        if earlier is not None:
            problems.add(
                where,
                f"name: {shown!r} is the same name as {earlier} (names are compared ignoring case and width)",
            )
            return False
        first_seen[(kind, key)] = where
        return True

    for account in document.accounts:
        name = problems.call(account.where, names.account_name, account.name)
        description = problems.call(
            account.where, names.display_text, account.description, "description", names.DESCRIPTION_MAX
        )
        if name is not None and unique("account", names.canonical(name), account.where, name):
            accounts[names.canonical(name)] = {
                "name": name,
                "description": description or "",
                "status": "active" if account.active else "disabled",
            }

    for policy in document.policies:
        name = problems.call(policy.where, names.policy_name, policy.name)
        description = problems.call(
            policy.where, names.display_text, policy.description, "description", names.DESCRIPTION_MAX
        )
        if not (isinstance(policy.document, str) and policy.document.strip()):
            problems.add(policy.where, "document: is required")
            continue
        text = problems.call(policy.where, check_policy_text, policy.document, "document")
        if name is not None and unique("policy", names.canonical(name), policy.where, name):
            policies[names.canonical(name)] = {
                "name": name,
                "document": text,
                "description": description or "",
            }

    for pset in document.permission_sets:
        where = pset.where
        name = problems.call(where, names.permission_set_name, pset.name)
        values = {
            "description": problems.call(
                where, names.display_text, pset.description, "description", names.DESCRIPTION_MAX
            )
            or "",
            "session_duration": problems.call(where, parse_duration, pset.session_duration),
            "inline_policy": problems.call(where, check_policy_text, pset.inline_policy, "inlinePolicy"),
            "boundary_policy": problems.call(
                where, check_policy_text, pset.boundary_policy, "permissionsBoundary"
            ),
        }
        if name is None or not unique("permission_set", names.canonical(name), where, name):
            continue
        key = names.canonical(name)
        permission_sets[key] = {"name": name, **values}
        attached = []
        for index, policy_name in enumerate(pset.managed_policies):
            policy_key = names.canonical(policy_name) if isinstance(policy_name, str) else ""
            if policy_key not in policies and policy_key not in current.policies:
                problems.add(
                    f"{where}.managedPolicies[{index}]",
                    f"no policy named {policy_name!r} in the file or the policy library",
                )
            else:
                attached.append(policy_key)
        attachments[key] = attached

    for item in document.assignments:
        where = item.where
        if item.principal_type not in ("user", "group"):
            problems.add(where, "principalType: must be 'user' or 'group'")
            continue
        expiry = problems.call(where, clock.parse_moment, item.expires_at, "expiresAt")
        keys = []
        principal_key = names.canonical(item.principal) if isinstance(item.principal, str) else ""
        if item.principal_type == "user":
            ident = (
                resolver._user_by_name(item.principal)
                if principal_key and principal_key != ROOT_NAME
                else None
            )
        else:
            group = resolver.final_group_keys.get(principal_key)
            row = current.groups.get(principal_key)
            ident = group.ident if group is not None else (row["id"] if row is not None else None)
        if ident is None:
            problems.add(
                where, f"no {item.principal_type} named {item.principal!r} in the file or the directory"
            )
        else:
            principals[(item.principal_type, principal_key)] = ident
        keys.append(principal_key)
        for label, value, known, existing in (
            ("account", item.account, accounts, current.accounts),
            ("permission set", item.permission_set, permission_sets, current.permission_sets),
        ):
            key = names.canonical(value) if isinstance(value, str) else ""
            if key not in known and key not in existing:
                problems.add(where, f"no {label} named {value!r} in the file or the directory")
            keys.append(key)
        if ident is not None:
            assignments[(item.principal_type, keys[0], keys[1], keys[2])] = expiry
    return accounts, policies, permission_sets, attachments, assignments, principals


_ENTRY_COLUMNS = {
    "accounts": ("name", "description", "status"),
    "policies": ("name", "description", "document"),
    "permission_sets": ("name", "description", "session_duration", "inline_policy", "boundary_policy"),
}


def _other_operations(
    plan: ImportPlan, others: tuple[Any, ...], current: _Current, unchanged: dict[str, int]
) -> None:
    accounts, policies, permission_sets, attachments, assignments, principals = others
    ops = plan.operations
    for concept, wanted, have in (
        ("accounts", accounts, current.accounts),
        ("policies", policies, current.policies),
        ("permission_sets", permission_sets, current.permission_sets),
    ):
        columns = _ENTRY_COLUMNS[concept]
        unchanged.setdefault(concept, 0)
        for key, fields in wanted.items():
            row = have.get(key)
            values = tuple((c, fields[c]) for c in columns)
            attached = None
            if concept == "permission_sets":
                attached = tuple(sorted(attachments.get(key, [])))
                if row is not None and list(attached) == sorted(current.attachments.get(row["id"], [])):
                    attached = None
            if row is None:
                ops.append(SaveEntry(concept, key, None, values, (), attached))
                continue
            changed = [c for c in columns if fields[c] != row[c]]
            if attached is not None:
                changed.append("managed_policies")
            if changed:
                ops.append(SaveEntry(concept, key, row["id"], values, tuple(changed), attached))
            else:
                unchanged[concept] += 1
    unchanged["assignments"] = 0
    for (kind, principal_key, account_key, set_key), expiry in assignments.items():
        ident = principals[(kind, principal_key)]
        account, pset = current.accounts.get(account_key), current.permission_sets.get(set_key)
        label = f"{kind}:{principal_key} → {set_key} in {account_key}"
        existing = None
        if ident > 0 and account is not None and pset is not None:
            existing = current.assignments.get((kind, ident, account["id"], pset["id"]))
        if existing is None:
            ops.append(SaveAssignment(kind, ident, account_key, set_key, expiry, label))
        elif existing[1] != expiry:
            ops.append(SaveAssignment(kind, ident, account_key, set_key, expiry, label, existing[0]))
        else:
            unchanged["assignments"] += 1


# -- passwords --------------------------------------------------------------------------------------------


def _hash_one(password: str) -> tuple[str, int]:
    return hash_password(password), os.getpid()


def hash_initial_passwords(passwords: list[str], progress: Progress | None = None) -> tuple[list[str], int]:
    """argon2id hashes of ``passwords``, computed in parallel worker processes (argon2 is CPU-bound and holds
    the GIL for the whole hash). Returns the hashes (in order) and how many processes did the work."""
    if not passwords:
        return [], 0
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(os.cpu_count() or 1, len(passwords), 8))
    # spawn, not fork: the console calls this from a worker thread, and forking a threaded process is unsafe.
    context = multiprocessing.get_context("spawn")
    hashes: list[str] = []
    pids: set[int] = set()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for index, (digest, pid) in enumerate(
            pool.map(_hash_one, passwords, chunksize=max(1, len(passwords) // (workers * 8)))
        ):
            hashes.append(digest)
            pids.add(pid)
            if progress is not None and index % 10 == 0:
                progress("hash", index, len(passwords))
    if progress is not None:
        progress("hash", len(passwords), len(passwords))
    return hashes, len(pids)


# -- applying ---------------------------------------------------------------------------------------------


@contextmanager
def _page_cache(conn: sqlite3.Connection, kib: int) -> Iterator[None]:
    """SQLite's page cache at ``kib`` for the block, then as it was. A big import checks a user and a group
    row for each membership it writes (the foreign keys) and adds it to two b-trees: with the default 2 MB
    the pages it needs again are evicted in between and read back."""
    before = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {before}")


def _chunks(rows: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


Hashes = dict[tuple[str, str], str]  # (entry's place, initial password) → its argon2id hash


def _initial_passwords(plan: ImportPlan) -> list[tuple[str, str]]:
    """(entry's place, cleartext) of every initial password the plan sets."""
    return [
        (op.where, op.password.initial)
        for op in plan.operations
        if isinstance(op, CreateUser | UpdateUser) and op.password is not None and op.password.initial
    ]


def _apply(
    directory: Directory,
    conn: sqlite3.Connection,
    plan: ImportPlan,
    now: str,
    batch_id: int,
    hashes: Hashes,
    progress: Progress | None,
) -> None:
    """Run the plan's operations, in bulk (``executemany`` of the services' own statements, in chunks so a
    progress bar moves), in the caller's transaction."""
    by_kind: dict[type, list[Any]] = {}
    for op in plan.operations:
        by_kind.setdefault(type(op), []).append(op)
    total = len(plan.operations) + 1
    written = 0

    def advance(count: int) -> None:
        nonlocal written
        written += count
        if progress is not None:
            progress("write", min(written, total), total)

    def password_of(op: CreateUser | UpdateUser) -> tuple[str | None, int]:
        password = op.password
        if password is None:
            return None, 0
        digest = password.hash or hashes.get((op.where, password.initial or ""))
        return digest, int(password.must_change) if digest else 0

    canonical = names.canonical
    # Users.
    new_users: list[tuple[Any, ...]] = []
    creates: list[CreateUser] = by_kind.get(CreateUser, [])
    for op in creates:
        digest, must_change = password_of(op)
        values = op.values
        new_users.append(
            (
                values[0],
                canonical(values[0]),
                *values[1:],
                op.source,
                digest,
                now if digest else None,
                must_change,
                batch_id,
                now,
                now,
            )
        )
    updates: list[UpdateUser] = by_kind.get(UpdateUser, []) + by_kind.get(DisableUser, [])
    changed_users, passwords = [], []
    for op in updates:
        if any(column in _USER_ROW for column in op.changed):
            values = op.values
            changed_users.append((values[0], canonical(values[0]), *values[1:], batch_id, now, op.ident))
        if op.disabling:
            directory.end_user_sessions(conn, op.ident, "disabled by import")
        digest, must_change = password_of(op)
        if digest:
            passwords.append((digest, now, must_change, batch_id, now, op.ident))
    # Many users: the search index is filled once for them rather than row by row by its triggers.
    updated_ids = [values[-1] for values in changed_users]
    bulk = len(new_users) + len(updated_ids) >= search_index.BULK_ROWS
    # The rows inserted below are those above this id (one write transaction): read back by the primary key,
    # not by a scan of every user for the batch (3.8 ms a SCIM request beside 50,000 users).
    last_user_id = conn.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]
    with search_index.bulk_write(conn, updated_ids) if bulk else nullcontext():
        for chunk in _chunks(new_users):
            conn.executemany(user_rows.INSERT, chunk)
            advance(len(chunk))
        for chunk in _chunks(changed_users):
            conn.executemany(user_rows.UPDATE_FROM_IMPORT, chunk)
            advance(len(chunk))
    conn.executemany(user_rows.SET_FIRST_PASSWORD, passwords)
    ids: dict[int, int] = {}  # ident of a user created here → its row id
    if creates:
        by_key = {
            row[1]: row[0]
            for row in conn.execute("SELECT id, user_name_key FROM users WHERE id > ?", (last_user_id,))
        }
        for op, values in zip(creates, new_users, strict=True):
            ids[op.ident] = by_key[values[1]]

    def user_id(ident: int) -> int:
        return ident if ident > 0 else ids[ident]

    user_ops: list[CreateUser | UpdateUser] = [*creates, *updates]
    with_keys = [op for op in user_ops if op.ssh_keys is not None]
    for op in with_keys:
        if op.ssh_keys is None:
            continue
        uid = user_id(op.ident)
        conn.execute("DELETE FROM ssh_keys WHERE user_id = ?", (uid,))
        try:
            conn.executemany(
                key_rows.INSERT, [(uid, k.text, k.fingerprint, k.comment, now) for k in op.ssh_keys]
            )
        except sqlite3.IntegrityError:
            shown = op.name
            raise ImportRefused(
                "",
                [
                    Problem(
                        op.where,
                        f"sshPublicKeys: a key of {shown!r} already belongs to another user "
                        "(or is listed twice)",
                    )
                ],
            ) from None

    # Groups.
    new_groups = [
        (op.values[0], canonical(op.values[0]), *op.values[1:], op.source, batch_id, now, now)
        for op in by_kind.get(CreateGroup, [])
    ]
    last_group_id = conn.execute("SELECT coalesce(max(id), 0) FROM groups").fetchone()[0]
    conn.executemany(group_rows.INSERT, new_groups)
    conn.executemany(
        group_rows.UPDATE_FROM_IMPORT,
        [
            (op.values[0], canonical(op.values[0]), *op.values[1:], batch_id, now, op.ident)
            for op in by_kind.get(UpdateGroup, [])
        ],
    )
    advance(len(new_groups) + len(by_kind.get(UpdateGroup, [])))
    group_ids: dict[int, int] = {}
    if new_groups:
        by_key = {
            row[1]: row[0]
            for row in conn.execute("SELECT id, name_key FROM groups WHERE id > ?", (last_group_id,))
        }
        for op, values in zip(by_kind[CreateGroup], new_groups, strict=True):
            group_ids[op.ident] = by_key[values[1]]

    def group_id(ident: int) -> int:
        return ident if ident > 0 else group_ids[ident]

    # Memberships.
    removals = [(op.group, op.user) for op in by_kind.get(RemoveMember, [])]
    conn.executemany(group_rows.DELETE_MEMBERSHIP, removals)
    # A session never outlives the membership that granted it.
    directory.sessions.end_ungranted(
        conn, "membership removed by import", user_ids=[user for _, user in removals]
    )
    advance(len(removals))
    # An ident of a group or user made here is negative, a row id positive (not in the maps: kept as it is).
    new_group, new_user = group_ids.get, ids.get
    for chunk in _chunks(by_kind.get(AddMember, [])):
        conn.executemany(
            group_rows.INSERT_MEMBERSHIP,
            [(new_group(op.group, op.group), new_user(op.user, op.user), op.expires_at, now) for op in chunk],
        )
        advance(len(chunk))
    expiries = by_kind.get(UpdateMember, [])
    conn.executemany(
        group_rows.SET_MEMBERSHIP_EXPIRY,
        [(op.expires_at, group_id(op.group), user_id(op.user)) for op in expiries],
    )
    advance(len(expiries))

    _apply_others(conn, by_kind, now, user_id, group_id)
    advance(1)


def _apply_others(
    conn: sqlite3.Connection,
    by_kind: dict[type, list[Any]],
    now: str,
    user_id: Callable[[int], int],
    group_id: Callable[[int], int],
) -> None:
    entries: list[SaveEntry] = by_kind.get(SaveEntry, [])
    # Policies before the permission sets that attach them.
    order = {"accounts": 0, "policies": 1, "permission_sets": 2}
    policy_ids: dict[str, int] | None = None
    for entry in sorted(entries, key=lambda entry: order[entry.concept]):
        columns = [c for c, _ in entry.fields]
        values = [v for _, v in entry.fields]
        if entry.row_id is None:
            row_id = int(
                conn.execute(
                    f"INSERT INTO {entry.concept} ({', '.join(columns)}, name_key, created_at, updated_at) "
                    f"VALUES ({', '.join('?' * (len(columns) + 3))})",
                    (*values, entry.key, now, now),
                ).lastrowid
                or 0
            )
        else:
            row_id = entry.row_id
            if any(c != "managed_policies" for c in entry.changed):
                assignments = "".join(f"{c} = ?, " for c in columns)
                conn.execute(
                    f"UPDATE {entry.concept} SET {assignments}updated_at = ?, version = version + 1 "
                    "WHERE id = ?",
                    (*values, now, row_id),
                )
        if entry.policies is not None:
            if policy_ids is None:
                policy_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM policies")}
            conn.execute("DELETE FROM permission_set_policies WHERE permission_set_id = ?", (row_id,))
            conn.executemany(
                "INSERT INTO permission_set_policies VALUES (?, ?)",
                [(row_id, policy_ids[p]) for p in entry.policies],
            )
    saves: list[SaveAssignment] = by_kind.get(SaveAssignment, [])
    if not saves:
        return
    account_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM accounts")}
    set_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM permission_sets")}
    for save in saves:
        if save.row_id is not None:
            conn.execute(
                "UPDATE assignments SET expires_at = ?, updated_at = ?, version = version + 1 WHERE id = ?",
                (save.expires_at, now, save.row_id),
            )
            continue
        principal = user_id(save.principal) if save.kind == "user" else group_id(save.principal)
        column = "user_id" if save.kind == "user" else "group_id"
        conn.execute(
            f"INSERT INTO assignments ({column}, account_id, permission_set_id, expires_at, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (principal, account_ids[save.account], set_ids[save.permission_set], save.expires_at, now, now),
        )


# -- the whole import -------------------------------------------------------------------------------------


def _plan(
    document: ImportDocument,
    conn: sqlite3.Connection,
    options: ImportOptions,
    file_name: str,
    progress: Progress | None = None,
) -> ImportPlan:
    """The plan on ``conn``'s snapshot of the directory; a problem refuses the file, named."""
    try:
        return _resolve(document, _load_current(conn, document, options.sync), options, progress)
    except ImportRefused as refused:
        raise ImportRefused(file_name, refused.problems, refused.more) from None


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cycle collector off for the block (or the decorated function): reading and planning a big
    file makes millions of objects, none in a cycle, and the collector walked all of them again and again (a
    quarter of a 100,000-user import's time). Reference counting still frees everything as it goes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _refuse_if_blocked(plan: ImportPlan, file_name: str) -> None:
    if plan.blocked:
        raise Refused(f"{file_name}: {plan.blocked}\nnothing was changed")


@collection_paused()
def import_document(
    directory: Directory,
    document: ImportDocument,
    *,
    file_name: str,
    raw: bytes,
    source: str | None = None,
    dry_run: bool = False,
    sync: bool = False,
    allow_mass_disable: bool = False,
    with_passwords: bool = False,
    allow_admin_changes: bool | frozenset[str] = False,
    format_name: str = "json",
    progress: Progress | None = None,
) -> ImportResult:
    """Validate, plan and (unless ``dry_run`` or there is nothing to do) apply ``document`` atomically.

    Raises :class:`ImportRefused` (every problem, nothing changed) or, for a sync the mass-disable guard
    stops, :class:`store.errors.Refused`."""
    used_source = source or document.default_source
    # The rights check at entry (a plan shows the directory's contents too), and again when the change opens.
    directory.require(Rule.IMPORT, source=used_source, what=WHAT)
    if directory.principal.source is not None and (
        document.accounts or document.policies or document.permission_sets or document.assignments
    ):
        raise Refused(
            f"{file_name}: an identity provider provisions users and groups only; nothing was changed"
        )
    sha256 = hashlib.sha256(raw).hexdigest()
    provisioning = directory.principal.source is not None
    options = ImportOptions(
        source=source,
        sync=sync,
        allow_mass_disable=allow_mass_disable,
        with_passwords=with_passwords,
        # An identity provider never makes administrators, whatever it asks: that is an admin's decision.
        allow_admin_changes=False if provisioning else allow_admin_changes,
        own_groups_only=provisioning,
    )
    with directory.db.read() as conn:
        seen_version = directory.db.data_version()
        plan = _plan(document, conn, options, file_name, progress)
    if dry_run or plan.changes_nothing:
        return ImportResult(plan, False, None, sha256, used_source)
    _refuse_if_blocked(plan, file_name)

    # Initial passwords are hashed before the write lock is taken: argon2 is slow on purpose.
    initial = _initial_passwords(plan)
    digests, workers = hash_initial_passwords([password for _, password in initial], progress)
    hashes: Hashes = dict(zip(initial, digests, strict=True))

    with directory.change(Rule.IMPORT, source=used_source, what=WHAT) as conn:
        # Another admin may have changed the directory since the plan was made: then plan again under the
        # lock, and apply that plan (whose admin grants were confirmed or are refused again).
        if directory.db.data_version() != seen_version:
            again = _plan(document, conn, options, file_name)
            changed = again.operations != plan.operations
            plan = again  # its guard counts are today's too
            _refuse_if_blocked(plan, file_name)
            if plan.changes_nothing:
                return ImportResult(plan, False, None, sha256, used_source)
            if changed:
                missing = [item for item in _initial_passwords(plan) if item not in hashes]
                hashes.update(zip(missing, (hash_password(password) for _, password in missing), strict=True))
        now = directory.now_text()
        counts = plan.as_dict()
        batch_id = (
            conn.execute(
                "INSERT INTO import_batches (source, file_name, sha256, at, actor, counts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (used_source, file_name, sha256, now, directory.actor.name, json.dumps(counts)),
            ).lastrowid
            or 0
        )
        big = len(plan.operations) >= search_index.BULK_ROWS
        with _page_cache(conn, WRITE_CACHE_KIB) if big else nullcontext():
            _apply(directory, conn, plan, now, batch_id, hashes, progress)
        audit.record(
            conn,
            at=now,
            actor=directory.actor,
            action="directory.import",
            target=f"file:{file_name}",
            extra={
                "sha256": sha256,
                "source": used_source,
                "format": format_name,
                "sync": sync,
                "batch": batch_id,
                "counts": counts,
                "passwords": {k: v for k, v in plan.passwords.items() if v},
            },
            key=directory.audit_key,
        )
    return ImportResult(plan, True, batch_id, sha256, used_source, workers)
