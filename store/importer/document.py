"""The format-independent import document (every value remembering where in the file it came from), the
problems that refuse a file, the import's options and the source names."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from store.durations import DEFAULT_SECONDS
from store.errors import StoreError, ValidationError
from store.names import quoted

if TYPE_CHECKING:
    pass

MAX_PROBLEMS = 50
SOURCE_MAX = 64
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCAL = "local"

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
    # What a SCIM user keeps beyond the columns (store.scim_kept), as the column's text; "" keeps nothing.
    # None: the entry says nothing about it (formats other than whole-directory JSON).
    scim_attributes: str | None = None
    # When its source deleted it (whole-directory JSON's scimDeleted): "" clears the mark; None leaves it.
    scim_deleted_at: str | None = None
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
    # A member is a MemberIn, or (the common member of our JSON, 300,000 in a big file) the name of a user
    # with no expiry, its place in the file its place in this list.
    members: Sequence[MemberIn | str] | None = None
    remove_members: list[MemberIn] = field(default_factory=list)
    remove_all_members: bool = False  # SCIM DELETE / PATCH remove or replace of all members
    scim_id: str | None = None
    scim_deleted_at: str | None = None  # as UserIn's
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
    conflict: bool = False  # a name held elsewhere (SCIM answers 409 uniqueness, not 400)

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
    # not change the membership of another source's (or a local) group either, and refusals speak to it
    # (its request, not a file; never which other source holds a name).
    provisioning: bool = False


# -- problems ---------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.count = 0

    def add(self, where: str, message: str, *, conflict: bool = False) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(where, message, conflict))

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
    """``where`` split for sorting, its numbers as numbers ("users[9]" before "users[10]"): ASCII digits only,
    and at most 18 of them (a file's own text is in it: a bulkId "1²2" or of 5,000 digits is not a number
    ``int()`` reads)."""
    return [
        (0, int(part)) if len(part) <= 18 and part.isascii() and part.isdigit() else (1, part)
        for part in re.split(r"([0-9]+)", where)
        if part
    ]


def _labelled(exc: ValidationError, labels: dict[str, str] | None) -> str:
    message = exc.message
    if labels and exc.field in labels and message.startswith(f"{exc.field}:"):
        return labels[exc.field] + message[len(exc.field) :]
    return message


def check_source(source: str, *, sync: bool = False) -> str:
    if not isinstance(source, str) or not SOURCE_NAME.match(source):
        raise ValidationError(
            f"source: {quoted(source)} is not a source name: use 1 to {SOURCE_MAX} letters, digits, "
            "'.', '_' and '-', starting with a letter or digit",
            "source",
        )
    if source != LOCAL and source.casefold() == LOCAL:
        # A source shown as "Local" or "LOCAL" beside "local" passes for the directory's own users.
        raise ValidationError(
            f"source: {quoted(source)} is 'local' in other letters: 'local' names the users made in this "
            "directory, and no identity provider may take that name in any case",
            "source",
        )
    if sync and source == LOCAL:
        raise ValidationError(
            "source: 'local' names the users made in this directory: a sync needs the name of "
            "the identity provider the file comes from (e.g. --source okta)",
            "source",
        )
    return source
