"""What an import does: one typed operation per write, gathered in an :class:`ImportPlan` (the dry run shows
its sections, the apply runs its operations), and the :class:`ImportResult`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, overload

from store.names import quoted
from store.ssh_keys import PublicKey

if TYPE_CHECKING:
    pass

ADMIN_MARK = "⚠ makes an administrator"


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
class AddMembers:
    """Users who join one group, each with an expiry (or None): one operation for a group's new members (a
    big file's 300,000 memberships are 1,000 operations, made and applied as columns, not 300,000)."""

    group: int  # ident
    users: tuple[int, ...]  # idents
    expiries: tuple[str | None, ...]
    group_name: str
    user_names: tuple[str, ...]
    grants_admin: bool = False

    def labels(self) -> Iterator[str]:
        """ "ann in eng" for each membership, made when asked for."""
        group_name = self.group_name
        return (f"{user_name} in {group_name}" for user_name in self.user_names)


@dataclass(slots=True)
class UpdateMember:
    """A membership whose expiry changes."""

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
    | AddMembers
    | UpdateMember
    | RemoveMember
    | SaveEntry
    | SaveAssignment
)


# -- the plan ---------------------------------------------------------------------------------------------


class Labels(Sequence[str]):
    """The names a section lists, each made when read: a text, or each membership of an :class:`AddMembers`.
    A big import's 300,000 memberships held as "ann in eng" texts cost more memory (23 MB) than their
    operations; the plan keeps the operations, and the few labels shown or written out are made then."""

    __slots__ = ("_count", "_items")

    def __init__(self, items: Iterable[str | AddMembers] = ()) -> None:
        self._items: list[str | AddMembers] = []
        self._count = 0
        for item in items:
            self.append(item)

    def append(self, item: str | AddMembers) -> None:
        self._items.append(item)
        self._count += 1 if isinstance(item, str) else len(item.users)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step < 0:
                return list(self)[index]
            return list(islice(self, start, stop, step))  # the first 100 of 300,000: only those made
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError(index)
        return next(islice(self, position, None))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for item in self._items:
            if isinstance(item, str):
                yield item
            else:
                yield from item.labels()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass
class Section:
    """What an import does to one concept: names created, names updated (with the fields), names retired
    (users disabled, groups emptied, memberships removed) with the reason, and the unchanged count."""

    retire_word: str | None = None  # "disable", "empty", "remove"; None: this concept is never retired
    create: Labels = field(default_factory=Labels)
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
                    text = f"{verb} {noun} {quoted(item)}"
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
    file_digest: str | None  # store.audit.file_digest: keyed, as the audit log names the file
    source: str
    password_workers: int = 0  # worker processes that hashed initial passwords

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_digest": self.file_digest,
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
