"""Resolving a document against the directory: every entry checked, users and groups matched by one
resolver (SCIM id, externalId, then name), memberships flattened, and the plan's operations made."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import is_not
from typing import TYPE_CHECKING, Any, ClassVar, cast

from store import clock, names
from store.crypto import MAX_PASSWORD_LENGTH, is_supported_hash
from store.errors import ValidationError
from store.importer.current import (
    _GROUP_AT,
    _GROUP_ROW,
    _HAS_PASSWORD,
    _ID,
    _IS_ROOT,
    _KEY,
    _SCIM_NAMES,
    _SOURCE,
    _USER_AT,
    _USER_ROW,
    _Current,
)
from store.importer.document import (
    NO_LABELS,
    GroupIn,
    ImportDocument,
    ImportOptions,
    MemberIn,
    Progress,
    UserIn,
    _labelled,
    _Problems,
    check_source,
)
from store.importer.other_tables import _other_operations, _resolve_others
from store.importer.plan import (
    AddMembers,
    CreateGroup,
    CreateUser,
    DisableUser,
    ImportPlan,
    Operation,
    PasswordSet,
    RemoveMember,
    SaveEntry,
    UpdateGroup,
    UpdateMember,
    UpdateUser,
)
from store.names import quoted
from store.ssh_keys import PublicKey, parse_public_key
from store.users import ROOT_NAME

if TYPE_CHECKING:
    pass

# A sync may disable at most this share of the source's active users (rounded up, at least one) unless the
# caller allows a mass disable: an IdP export that came out empty or half-written must not lock everyone out.
MASS_DISABLE_SHARE = 0.10
SCIM_ID_MAX = 256


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
    # The name it was matched by and its canonical form, computed once (two fields: a tuple a target is 4 MB
    # at 100,000).
    matched_name: str = ""
    matched_key: str = ""

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


def _scim_attributes(text: str) -> str | None:
    """The reader checked them (store.scim_kept); "" keeps nothing, which the column holds as NULL."""
    return text or None


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
    ("scim_attributes", _scim_attributes, ()),
    ("scim_deleted_at", clock.parse_moment, ("scimDeleted",)),  # "" (null in the file) clears the mark
)
_GROUP_CLEANERS: Cleaners = (
    ("name", names.group_name, ()),
    ("description", names.display_text, ("description", names.DESCRIPTION_MAX)),
    ("external_id", names.external_id, ()),
    ("scim_id", _scim_id, ()),
    ("scim_deleted_at", clock.parse_moment, ("scimDeleted",)),  # "" (null in the file) clears the mark
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


_GIVEN: Callable[[object], bool] = partial(is_not, None)
_SMALLEST_LIMIT = min(names.USER_NAME_MAX, names.EMAIL_MAX, names.DISPLAY_TEXT_MAX, names.EXTERNAL_ID_MAX)


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
    if (
        name is None
        or user.scim_id is not None
        or user.scim_attributes is not None
        or user.scim_deleted_at is not None
    ):
        return None
    try:  # the fields given (not None), filtered in C: no Python step per field
        given_ones: Iterable[Any] = filter(_GIVEN, (name, display, given, family, email, external))
        joined = "".join(given_ones)
    except TypeError:  # not text: the cleaners say so
        return None
    # Printable ASCII has one space character (no other whitespace, no controls, nothing invisible).
    if not (joined.isascii() and joined.isprintable()) or not name or " " in name:
        return None
    # All of them within the smallest limit together: each is within its own (the usual entry).
    if len(joined) > _SMALLEST_LIMIT and (
        len(name) > names.USER_NAME_MAX
        or len(email or "") > names.EMAIL_MAX
        or len(display or "") > names.DISPLAY_TEXT_MAX
        or len(given or "") > names.DISPLAY_TEXT_MAX
        or len(family or "") > names.DISPLAY_TEXT_MAX
        or len(external or "") > names.EXTERNAL_ID_MAX
    ):
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

    def label(self, labels: dict[str, str]) -> str:
        """What the file calls the name field (made only for a problem's message)."""
        return labels.get(self.name_label[0], self.name_label[1])


_USERS = _Kind("user", "user_name", "user_name_key", ("userName", "userName"), ROOT_NAME)
_GROUPS = _Kind("group", "name", "name_key", ("name", "displayName"), None)


class _Index:
    """One kind's rows in the directory and its targets in this import, found by every way a file names
    them."""

    def __init__(self, kind: _Kind, by_key: Rows, by_external: RowsBy, by_scim: RowsBy, entries: int) -> None:
        self.kind = kind
        self.rows_by_key, self.rows_by_external, self.rows_by_scim = by_key, by_external, by_scim
        self.targets: list[Any] = []
        self.by_ident: dict[int, Any] = {}
        # An existing row's target by its id: its ident is the row id (a new one's is negative), so one dict.
        self.by_row: dict[int, Any] = self.by_ident
        self.by_key: dict[str, Any] = {}
        self.by_external: dict[tuple[str, str], Any] = {}
        self.by_scim: dict[tuple[str, str], Any] = {}  # (source, id at the source) → the entry's target
        self.by_alias: dict[str, Any] = {}
        self.entries: list[Any] = [None] * entries  # the target each entry ended up in (None: refused)
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
        self.user_index = _Index(
            _USERS, current.users, current.users_by_external, current.users_by_scim, len(document.users)
        )
        self.group_index = _Index(
            _GROUPS, current.groups, current.groups_by_external, current.groups_by_scim, len(document.groups)
        )
        # The names every part of the resolver uses.
        self.users: list[_UserTarget] = self.user_index.targets
        self.groups: list[_GroupTarget] = self.group_index.targets
        self.user_by_row: dict[int, _UserTarget] = self.user_index.by_row
        self.group_by_row: dict[int, _GroupTarget] = self.group_index.by_row
        self.user_by_alias: dict[str, _UserTarget] = self.user_index.by_alias
        self.group_by_alias: dict[str, _GroupTarget] = self.group_index.by_alias
        self.user_idents: dict[int, _UserTarget] = self.user_index.by_ident
        self.user_entries: list[_UserTarget | None] = self.user_index.entries
        self.group_entries: list[_GroupTarget | None] = self.group_index.entries
        self.final_user_keys: dict[str, _UserTarget] = self.user_index.final
        self.final_group_keys: dict[str, _GroupTarget] = self.group_index.final
        self.ident_by_exact: dict[str, int] = {}  # final user name as given → its target's ident

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
            self.problems.add(
                where, f"source: {quoted(entry_source)}, but this sync is for source {quoted(self.source)}"
            )
            return None
        return entry_source

    def _target(
        self, index: _Index, row: sqlite3.Row | None, where: str, source: str, in_file: bool = True
    ) -> Any:
        ident = row[_ID] if row is not None else self._next_ident()
        # Every field given (no default factory run, no empty dict made to be replaced): 100,000 targets.
        target = (_UserTarget if index is self.user_index else _GroupTarget)(
            ident, where, source, row, {}, in_file, NO_LABELS
        )
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
                    f"no {noun} with id {quoted(entry.target)} in {self._here} or the directory "
                    f"(source {quoted(source)})",
                )
                return None
        else:
            external, scim_id = fields.get("external_id"), fields.get("scim_id")
            if scim_id or external:
                for name, earlier_ones, key in (
                    ("externalId", index.by_external, external),
                    ("id", index.by_scim, scim_id),
                ):
                    earlier = earlier_ones.get((source, key)) if key else None
                    if earlier is not None:
                        label = labels.get(name, name)
                        problems.add(where, f"{label}: {quoted(key)} is the same as {earlier.where}'s")
                        return None
                target = self._match_by_ids(index, where, labels, source, scim_id, external)
                if target is False:
                    return None
            if target is None:
                shown = match_name if match_name is not None else fields.get(kind.name_column)
                if shown is None:
                    if getattr(entry, kind.name_column) is None:
                        problems.add(where, f"{kind.label(labels)}: is required")
                    return None
                key = names.canonical(shown)
                earlier = index.by_key.get(key)
                if earlier is not None:
                    problems.add(
                        where,
                        f"{kind.label(labels)}: {quoted(shown)} is the same name as {earlier.where} "
                        "(names are compared ignoring case and width)",
                        conflict=True,
                    )
                    return None
                ok, row = self._existing_for_name(index, key, source, where, shown, labels)
                if not ok:
                    return None
                target = self._target(index, row, where, source)
                index.by_key[key] = target
                target.matched_name, target.matched_key = shown, key
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
        if scim_id:
            index.by_scim[(source, scim_id)] = target
        if entry.aliases or scim_id:
            for alias in (*entry.aliases, *([scim_id] if scim_id else [])):
                index.by_alias[alias] = target
        if fields.get("scim_deleted_at") and not target.value("scim_id"):
            problems.add(
                where,
                "scimDeleted: only a resource its source knows by an id (scimId) can be deleted there",
            )
        return target

    def _match_by_ids(
        self,
        index: _Index,
        where: str,
        labels: dict[str, str],
        source: str,
        scim_id: str | None,
        external: str | None,
    ) -> Any:
        """The existing row the source's own id names (SCIM: the resource's identity, kept through a rename),
        else the one its externalId names, as a new target; None when neither names one; False when they name
        two different rows or one an earlier entry already matched (the problem is recorded)."""
        kind, noun = index.kind, index.kind.noun
        found: sqlite3.Row | None = None
        for way, rows, key in (
            ("id", index.rows_by_scim, scim_id),
            ("externalId", index.rows_by_external, external),
        ):
            row = rows.get((source, key)) if key else None
            if row is None or (found is not None and found[_ID] == row[_ID]):
                continue
            if found is not None:
                label = labels.get("externalId", "externalId")
                self.problems.add(
                    where,
                    f"{label}: {quoted(external)} names the existing {noun} "
                    f"{quoted(row[kind.name_column])}, but id "
                    f"{quoted(scim_id)} names {quoted(found[kind.name_column])}",
                )
                return False
            if row[_ID] in index.by_row:
                self.problems.add(
                    where,
                    f"matches the existing {noun} {quoted(row[kind.name_column])} (by {way}), "
                    f"which {index.by_row[row[_ID]].where} already matched",
                )
                return False
            found = row
        return self._target(index, found, where, source) if found is not None else None

    def _existing_for_name(
        self, index: _Index, key: str, source: str, where: str, shown: str, labels: dict[str, str]
    ) -> tuple[bool, sqlite3.Row | None]:
        """(ok, row): the existing row this name may match; not ok when the name belongs to someone else."""
        kind = index.kind
        if key == kind.reserved:
            self.problems.add(
                where, f"{kind.label(labels)}: {quoted(shown)} is reserved for the directory's root identity"
            )
            return False, None
        row = index.rows_by_key.get(key)
        if row is None:
            return True, None
        # The row's name is read (by column name: a scan of the row's names) only for a message.
        conflict = True
        if kind.reserved is not None and row[_IS_ROOT]:
            why = (
                f"is the same name as the directory's root identity {quoted(row[kind.name_column])} (names "
                "are compared ignoring case and width)"
            )
        elif row[_SOURCE] != source:
            why = (
                f"is the same name as the existing {kind.noun} "
                f"{quoted(row[kind.name_column])}{self._from_source(row)} (names are compared ignoring case "
                f"and width; an import never takes over another source's {kind.noun}s)"
            )
        elif row[_ID] in index.by_row:
            earlier = index.by_row[row[_ID]]
            why = (
                f"matches the existing {kind.noun} {quoted(row[kind.name_column])}, which {earlier.where} "
                "already matched"
            )
            conflict = False
        else:
            return True, row  # the usual: the source's own row, not matched yet
        self.problems.add(where, f"{kind.label(labels)}: {quoted(shown)} {why}", conflict=conflict)
        return False, None

    @property
    def _here(self) -> str:
        """What the entries came in: an admin's file, or an identity provider's request."""
        return "this request" if self.options.provisioning else "this file"

    def _from_source(self, row: sqlite3.Row) -> str:
        """Which source holds a name, for an admin's file; an identity provider is not told of others'."""
        return "" if self.options.provisioning else f" from source {quoted(row[_SOURCE])}"

    def _check_final_names(self, index: _Index) -> dict[str, int]:
        """After merging (renames included): every final name is unique and free. Returns each final name as
        given → its target's ident."""
        kind, final, column = index.kind, index.final, index.kind.name_column
        exact: dict[str, int] = {}
        for target in index.targets:
            name = target.fields.get(column)
            if name is None:
                name = target.value(column)
            if not isinstance(name, str) or not name:
                continue
            key = target.matched_key if target.matched_name == name else names.canonical(name)
            other = final.setdefault(key, target)
            if other is not target:
                self.problems.add(
                    target.where,
                    f"{kind.label(target.labels)}: {quoted(name)} is the same name as {other.where} (names "
                    "are compared ignoring case and width)",
                    conflict=True,
                )
                continue
            exact[name] = target.ident
            row = target.row
            if row is None and key == target.matched_key:
                continue  # matched by this very name, which _existing_for_name found free
            if row is not None and row[_KEY] == key:
                continue
            label = kind.label(target.labels)
            if key == kind.reserved:
                self.problems.add(
                    target.where, f"{label}: {quoted(name)} is reserved for the directory's root identity"
                )
                continue
            holder = index.rows_by_key.get(key)
            if holder is not None and (row is None or holder["id"] != row["id"]):
                what = (
                    f"renaming {quoted(row[kind.name_column])} to {quoted(name)}"
                    if row is not None
                    else quoted(name)
                )
                self.problems.add(
                    target.where,
                    f"{label}: {what} would take the name of the existing {kind.noun} "
                    f"{quoted(holder[kind.name_column])}{self._from_source(holder)} (names are "
                    "compared ignoring case and width)",
                    conflict=True,
                )
        return exact

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
        # A group's 300 members found by one lookup each, no canonical form made, no target read.
        self.ident_by_exact = self._check_final_names(self.user_index)

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
        self.problems.add(where, f"no group named {quoted(name)} in {self._here} or the directory")
        return None

    def _user_by_name(self, name: str) -> int | None:
        exact = self.ident_by_exact.get(name)
        if exact is not None:
            return exact  # the name as the file gives it (no canonical form to compute)
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
            user_target = self.user_entries[entry]
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
            target = self.group_entries[entry]
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
            by_exact, members, removals = self.ident_by_exact, target.members, target.removals
            given_members = group.members or []
            if not removals and {str} == set(map(type, given_members)):
                # Names only (our JSON): all found among the file's users, they are added in one step.
                idents = list(map(by_exact.get, cast("Sequence[str]", given_members)))
                if all(idents):  # every one found (an ident is never 0)
                    joined = cast("list[int]", idents)
                    if members:
                        members.update(dict.fromkeys(joined))
                    else:
                        target.members = dict.fromkeys(joined)
                    continue
            for position, given in enumerate(given_members):
                # The common member: a user of the file, named exactly as its entry names it.
                if isinstance(given, str):
                    plain: str | None = given
                elif given.ref is None and given.expires_at is None:
                    plain = given.user_name
                else:
                    plain = None
                if type(plain) is str:
                    ident = by_exact.get(plain)
                    if ident is not None:
                        members[ident] = None
                        if removals:
                            removals.discard(ident)
                        continue
                member = MemberIn(group.where, given, index=position) if isinstance(given, str) else given
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
                shown = "root" if names.canonical(name) == ROOT_NAME else quoted(name)
                problems.add(
                    member.where,
                    f"members: no user named {quoted(name)} in {self._here} or the directory"
                    if shown != "root"
                    else "members: root belongs to no group",
                )
            return ident
        ref, kind = member.ref, member.kind
        if kind not in (None, "User", "Group"):
            problems.add(member.where, f"type: {quoted(kind)} is not a member type (User or Group)")
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
                        f"value: {quoted(ref)} is a group: tui flattens nested groups, so only "
                        "users can be removed from a group",
                    )
                    return None
                return nested
            if (group.source, ref) in self.current.groups_by_scim:
                problems.add(
                    member.where,
                    f"value: the group {quoted(ref)} is a member, but tui flattens nested groups "
                    "at import: the member group must be in the same file",
                )
                return None
        what = {"User": "user", "Group": "group"}.get(kind or "", "user or group")
        problems.add(
            member.where,
            f"value: no {what} with id {quoted(ref)} in {self._here} or the directory (source "
            f"{quoted(group.source)})",
        )
        return None

    def _flatten(self) -> None:
        """Nested groups (SCIM groups whose members are groups) give their users to the groups that hold them.
        A cycle is refused: it names every group on it."""
        state: dict[int, int] = {}  # ident → 1 visiting, 2 done
        flat: dict[int, dict[int, str | None]] = {}
        for group in list(self.groups):
            if group.member_groups and not self._flatten_from(group, state, flat):
                return
        for group in self.groups:
            if group.member_groups:
                group.members = flat[group.ident]
                self.document.notices.append(
                    f"{group.where}: nested groups flattened: {quoted(group.shown)} gets the members of "
                    + ", ".join(quoted(nested.shown) for nested, _ in group.member_groups)
                )

    def _flatten_from(
        self, root: _GroupTarget, state: dict[int, int], flat: dict[int, dict[int, str | None]]
    ) -> bool:
        """``root``'s users and its nested groups', each group's kept in ``flat`` (``state``: 1 visiting,
        2 done). Depth first with a stack of its own: a chain of 1,000 groups each in the next exhausted
        Python's recursion (an internal error). False when a cycle is found: refused, naming its groups."""
        if state.get(root.ident) == 2:
            return True
        state[root.ident] = 1
        stack = [(root, dict(root.members), iter(root.member_groups))]
        while stack:
            group, members, below = stack[-1]
            step = next(below, None)
            if step is None:  # every group below is in: this one is done, and counts for the one above
                stack.pop()
                state[group.ident] = 2
                flat[group.ident] = members
                if stack:
                    for ident, expiry in members.items():
                        stack[-1][1].setdefault(ident, expiry)
                continue
            nested = step[0]
            mark = state.get(nested.ident)
            if mark == 2:
                for ident, expiry in flat[nested.ident].items():
                    members.setdefault(ident, expiry)
            elif mark == 1:
                path = [entry[0] for entry in stack]
                cycle = [*path[path.index(nested) :], nested]
                shown = [quoted(g.shown) for g in cycle]
                if len(shown) > 12:
                    shown = [*shown[:5], f"… ({len(cycle) - 1:,} groups) …", *shown[-5:]]
                self.problems.add(
                    nested.where,
                    "members: groups contain each other in a cycle: "
                    + " → ".join(shown)
                    + " (tui flattens nested groups into their members and cannot flatten a cycle)",
                )
                return False
            else:
                state[nested.ident] = 1
                stack.append((nested, dict(nested.members), iter(nested.member_groups)))
        return True


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
    # A member of the admin group is an administrator again once enabled (is_admin wants an active user):
    # enabling one is a grant as joining is, named and confirmed (never an identity provider's to make: a
    # source re-enabled an admin an administrator had disabled). So is a way in to one's account that the
    # file gives: a first password (its holder then signs in and enrols their first authenticator) or SSH
    # keys (they open the shared console as that administrator).
    admin_id = current.admin_group_id
    admin_members = current.memberships.get(admin_id, {}) if admin_id is not None else {}
    admin_group = current.groups_by_id[admin_id]["name"] if admin_id is not None else ""
    user_grants: list[str] = []
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
        keys_before = current.user_keys.get(target.ident, [])
        if target.ssh_keys is not None and [k.text for k in target.ssh_keys] != keys_before:
            changed.append("ssh_keys")
            keys = tuple(target.ssh_keys)
            new_keys = not {k.text for k in target.ssh_keys} <= set(keys_before)  # not only some taken away
        else:
            keys, new_keys = None, False
        if target.row[_HAS_PASSWORD]:
            password = None
        elif password is not None:
            changed.append("password_hash")
        if not changed:
            unchanged["users"] += target.in_file
            continue
        enabling = "status" in changed and not disabling
        if target.ident in admin_members and (enabling or "password_hash" in changed or new_keys):
            by = "the identity provider" if options.provisioning else "the file"
            what = [
                *(["enabled again"] if enabling else []),
                *([f"given a password by {by}"] if "password_hash" in changed else []),
                *([f"given SSH keys by {by}"] if new_keys else []),
            ]
            user_grants.append(f"{target.shown} {' and '.join(what)} (in {admin_group})")
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
    existing_memberships = current.memberships
    no_members: dict[int, str | None] = {}
    # The name each membership shows its user by: the file's for a user of the file (its final name), else
    # the directory's (made once, in C, when a first membership changes, not looked up again for each).
    shown_names: dict[int, str] = {}

    def user_name(ident: int) -> str:
        return user_names([ident])[0]

    def user_names(idents: Collection[int]) -> list[str]:
        if not shown_names:
            final_names = resolver.ident_by_exact
            shown_names.update(zip(final_names.values(), final_names, strict=True))
        found = list(map(shown_names.get, idents))  # in C: a Python call per member cost 0.2 s at 300,000
        if all(found):
            return found  # type: ignore[return-value]  # every one found, none empty
        return [
            name or current.users_by_id[ident]["user_name"] for ident, name in zip(idents, found, strict=True)
        ]

    for position, group in enumerate(groups):
        if progress is not None and position % 50 == 0:
            progress("plan", len(users) + len(groups) + position, to_plan)
        group_ident, members, group_name = group.ident, group.members, group.shown
        grants_admin = group_ident == current.admin_group_id
        touches_members = members or group.removals or group.remove_all
        if (
            options.provisioning
            and group.row is not None
            and group.row["source"] != source
            and touches_members
        ):
            plan.foreign_groups.append(group_name)
        existing_members = (
            existing_memberships.get(group_ident, no_members) if group.row is not None else no_members
        )
        if members == existing_members:  # the same members with the same expiries: nothing to add or remove
            unchanged["memberships"] += len(members)
            continue
        # Who joins (one operation for all of them); a member whose expiry changes is updated.
        joining: dict[int, str | None] = members if not existing_members else {}  # a new or empty group: all
        for user_ident, expiry in members.items() if existing_members else ():
            existing = existing_members.get(user_ident, _BAD)
            if existing == expiry:
                unchanged["memberships"] += 1
            elif existing is _BAD:
                joining[user_ident] = expiry
            else:
                ops.append(
                    UpdateMember(
                        group_ident, user_ident, expiry, group_name, user_name(user_ident), grants_admin
                    )
                )
        if joining:
            ops.append(
                AddMembers(
                    group_ident,
                    tuple(joining),
                    tuple(joining.values()),
                    group_name,
                    tuple(user_names(joining)),
                    grants_admin,
                )
            )
        if group.row is None or not existing_members:
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
    plan.admin_grants.extend(user_grants)
    if progress is not None:
        progress("plan", to_plan, to_plan)

    if plan.foreign_groups:
        plan.blocked = (
            f"the identity provider {quoted(source)} can change only its own groups, not "
            + ", ".join(repr(name) for name in plan.foreign_groups[:10])
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
            # An identity provider is never allowed to (its requests carry no confirmation to give).
            f"an identity provider never makes administrators: {shown}{more} (the admin group); an "
            "administrator of tui grants that"
            if options.provisioning
            else f"this import would make administrators: {shown}{more} (the admin group). An identity "
            "provider's file never grants administration on its own: check each, then run again with "
            "--allow-admin-changes"
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
                f"{quoted(source)} ({disabling / max(active, 1):.0%}); a sync may disable at most "
                f"{MASS_DISABLE_SHARE:.0%} of them ({allowed}) unless --allow-mass-disable is given. "
                "Check that the file is complete, then run again with --allow-mass-disable"
            )
    return plan


def _values(target: _UserTarget | _GroupTarget, columns: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
    """The row's values after the import, in ``columns`` order (each with its position in the row): what the
    file gives, else what the row has (else the column's default)."""
    names, defaults, positions = _COLUMN_PARTS[columns]
    # fields.get(column, fallback) in C, column by column: no Python step per value (100,000 rows).
    fallbacks = defaults if target.row is None else map(target.row.__getitem__, positions)
    return tuple(map(target.fields.get, names, fallbacks))


# A new row's value of a column the file leaves out.
_DEFAULTS: dict[str, Any] = dict.fromkeys((*_USER_ROW, *_GROUP_ROW), "") | {
    "external_id": None,
    "scim_id": None,
    "scim_attributes": None,
    "scim_deleted_at": None,
    "status": "active",
}


# Each column list's names, new rows' defaults and positions in a row, for _values.
_COLUMN_PARTS = {
    columns: (
        tuple(c for c, _ in columns),
        tuple(_DEFAULTS[c] for c, _ in columns),
        tuple(i for _, i in columns),
    )
    for columns in (_USER_AT, _GROUP_AT)
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
        if isinstance(op, AddMembers):
            created_memberships.append(op)  # its labels made when shown (Labels)
            if op.grants_admin:
                admin_grants.extend(op.labels())
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
        elif isinstance(op, UpdateMember):
            memberships.update[op.label] = ["expiresAt"]
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
