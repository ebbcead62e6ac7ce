"""Permission sets: an inline policy, attached managed policies, an optional boundary, a session duration.

What a permission set grants is decided by :meth:`PermissionSetService.compiled` (or, for a set being edited
and not yet saved, :func:`compile_permission_set_sources`): every policy of the set compiled once, the
boundary capping what they allow (``evaluate_with_boundary``). Compiled sets are cached by the set's id and
version *and* the versions of the managed policies it attaches, so editing a library policy takes effect at
once.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from store import names
from store.durations import DEFAULT_SECONDS, format_duration, parse_duration
from store.errors import AlreadyExists, NotFound, ValidationError
from store.names import quoted
from store.policy import (
    INLINE_POLICY_MAX_CHARS,
    CompiledPolicySet,
    Decision,
    PolicyDocument,
    PolicyValidationError,
    RequestContext,
    compile_policies,
    evaluate_with_boundary,
    parse_policy,
)
from store.policy.patterns import ContextValue
from store.policy_documents import check_policy_text
from store.service import PAGE_SIZE, Page, Service

# Labels of a set's own documents in decisions. Policy names cannot hold spaces, so these never collide.
INLINE_LABEL = "inline policy"
BOUNDARY_LABEL = "permissions boundary"
COMPILED_CACHE = 256

# The permission set row's and its attachments' writes, one definition each: the service runs them row by row,
# the import with executemany.
INSERT = (
    "INSERT INTO permission_sets (name, name_key, description, session_duration, inline_policy, "
    "boundary_policy, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_FROM_IMPORT = (
    "UPDATE permission_sets SET name = ?, description = ?, session_duration = ?, inline_policy = ?, "
    "boundary_policy = ?, updated_at = ?, version = version + 1 WHERE id = ?"
)
DETACH_ALL = "DELETE FROM permission_set_policies WHERE permission_set_id = ?"
# A policy named twice is attached once.
ATTACH = "INSERT OR IGNORE INTO permission_set_policies (permission_set_id, policy_id) VALUES (?, ?)"

SourceKind = Literal["inline", "managed", "boundary"]


@dataclass(frozen=True)
class PolicySource:
    """One document of a permission set, as the decisions name it: ``label`` is "inline policy", the managed
    policy's name, or "permissions boundary"."""

    label: str
    kind: SourceKind
    text: str
    document: PolicyDocument


@dataclass(frozen=True)
class CompiledPermissionSet:
    """A permission set ready to decide requests. ``sources`` keep the documents' text (to show a deciding
    statement); ``policies`` is everything the set grants, ``boundary`` what caps it (None: no boundary)."""

    name: str
    sources: tuple[PolicySource, ...]
    policies: CompiledPolicySet
    boundary: CompiledPolicySet | None

    def evaluate(
        self,
        action: str,
        resource: str,
        context: RequestContext | Mapping[str, ContextValue | None] | None = None,
        *,
        now: datetime | None = None,
    ) -> Decision:
        return evaluate_with_boundary(self.policies, self.boundary, action, resource, context, now=now)

    def source(self, label: str) -> PolicySource | None:
        return next((source for source in self.sources if source.label == label), None)


def _parse_source(label: str, kind: SourceKind, text: str, set_name: str) -> PolicySource:
    try:
        document = parse_policy(text, max_chars=INLINE_POLICY_MAX_CHARS)
    except PolicyValidationError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise ValidationError(
            f"permission set {set_name}: {label} is not a valid policy: {exc.message}{where}",
            "managedPolicies"
            if kind == "managed"
            else "inlinePolicy"
            if kind == "inline"
            else "permissionsBoundary",
        ) from None
    return PolicySource(label, kind, text, document)


def compile_permission_set_sources(
    name: str, inline_policy: str | None, managed: Sequence[tuple[str, str]], boundary_policy: str | None
) -> CompiledPermissionSet:
    """Compile a permission set from its parts (``managed`` as ``(policy name, document)`` pairs): what an
    edit would grant before it is saved. Invalid text raises ValidationError naming the document."""
    sources: list[PolicySource] = []
    if inline_policy and inline_policy.strip():
        sources.append(_parse_source(INLINE_LABEL, "inline", inline_policy, name))
    for policy_name, text in managed:
        sources.append(_parse_source(policy_name, "managed", text, name))
    boundary_source = None
    if boundary_policy and boundary_policy.strip():
        boundary_source = _parse_source(BOUNDARY_LABEL, "boundary", boundary_policy, name)
        sources.append(boundary_source)
    policies = compile_policies([(s.label, s.document) for s in sources if s.kind != "boundary"])
    boundary = (
        None if boundary_source is None else compile_policies([(BOUNDARY_LABEL, boundary_source.document)])
    )
    return CompiledPermissionSet(name, tuple(sources), policies, boundary)


_POLICY_NAMES = (
    "(SELECT group_concat(name, char(31)) FROM (SELECT p.name FROM permission_set_policies psp "
    "JOIN policies p ON p.id = psp.policy_id WHERE psp.permission_set_id = permission_sets.id "
    "ORDER BY p.name_key)) AS managed_policy_names"
)


@dataclass(frozen=True)
class PermissionSet:
    id: int
    name: str
    description: str
    session_duration: int
    inline_policy: str | None
    boundary_policy: str | None
    managed_policies: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    version: int = 1

    @property
    def session_duration_iso(self) -> str:
        return format_duration(self.session_duration)

    @staticmethod
    def from_row(row: sqlite3.Row) -> PermissionSet:
        managed = row["managed_policy_names"]
        return PermissionSet(
            row["id"],
            row["name"],
            row["description"],
            row["session_duration"],
            row["inline_policy"],
            row["boundary_policy"],
            managed.split("\x1f") if managed else [],
            row["created_at"],
            row["updated_at"],
            row["version"],
        )

    def audit_view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "session_duration": self.session_duration_iso,
            "inline_policy": self.inline_policy,
            "boundary_policy": self.boundary_policy,
            "managed_policies": self.managed_policies,
        }


class PermissionSetService(Service[PermissionSet]):
    table = "permission_sets"
    noun = "permission set"
    from_row = PermissionSet.from_row

    def __init__(self, directory: Any) -> None:
        super().__init__(directory)
        self._compiled: OrderedDict[tuple[Any, ...], CompiledPermissionSet] = OrderedDict()
        self._compiled_lock = threading.Lock()

    def compiled(self, permission_set_id: int) -> CompiledPermissionSet:
        """What the set grants now, compiled (cached by the set's id and version and the versions of the
        managed policies it attaches). NotFound for an unknown set; ValidationError if a stored document no
        longer reads as a policy (written around the store)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT name, version, inline_policy, boundary_policy FROM permission_sets WHERE id = ?",
                (permission_set_id,),
            ).fetchone()
            if row is None:
                raise NotFound(
                    f"permission set #{permission_set_id} does not exist (it may have been deleted)"
                )
            attached = conn.execute(
                "SELECT p.id, p.version, p.name, p.document FROM permission_set_policies psp JOIN policies p "
                "ON p.id = psp.policy_id WHERE psp.permission_set_id = ? ORDER BY p.name_key",
                (permission_set_id,),
            ).fetchall()
        key = (permission_set_id, row["version"], tuple((p["id"], p["version"]) for p in attached))
        with self._compiled_lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        compiled = compile_permission_set_sources(
            row["name"],
            row["inline_policy"],
            [(p["name"], p["document"]) for p in attached],
            row["boundary_policy"],
        )
        with self._compiled_lock:
            self._compiled[key] = compiled
            while len(self._compiled) > COMPILED_CACHE:
                self._compiled.popitem(last=False)
        return compiled

    def _row(self, conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT *, {_POLICY_NAMES} FROM permission_sets WHERE id = ?", (row_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"permission set #{row_id} does not exist (it may have been deleted)")
        return row

    def _check_name_free(self, conn: sqlite3.Connection, name: str, except_id: int | None = None) -> str:
        key = names.canonical(name)
        row = conn.execute("SELECT id, name FROM permission_sets WHERE name_key = ?", (key,)).fetchone()
        if row is not None and row["id"] != except_id:
            raise AlreadyExists(f"name: a permission set named {quoted(row['name'])} already exists", "name")
        return key

    def _attach(self, conn: sqlite3.Connection, permission_set_id: int, policy_names: list[str]) -> None:
        conn.execute(DETACH_ALL, (permission_set_id,))
        for index, policy in enumerate(policy_names):
            row = conn.execute(
                "SELECT id FROM policies WHERE name_key = ?", (names.canonical(policy),)
            ).fetchone()
            if row is None:
                raise ValidationError(
                    f"managedPolicies[{index}]: no policy named {quoted(policy)} in the policy library",
                    f"managedPolicies[{index}]",
                )
            conn.execute(ATTACH, (permission_set_id, row[0]))

    def create(
        self,
        name: str,
        *,
        description: str = "",
        session_duration: int | str = DEFAULT_SECONDS,
        inline_policy: str | None = None,
        managed_policies: list[str] | None = None,
        boundary_policy: str | None = None,
    ) -> PermissionSet:
        name = names.permission_set_name(name)
        description = names.display_text(description, "description", names.DESCRIPTION_MAX)
        seconds = parse_duration(session_duration)
        inline = check_policy_text(inline_policy, "inlinePolicy")
        boundary = check_policy_text(boundary_policy, "permissionsBoundary")
        with self.directory.change() as conn:
            key = self._check_name_free(conn, name)
            now = self._now()
            cursor = conn.execute(INSERT, (name, key, description, seconds, inline, boundary, now, now))
            set_id = cursor.lastrowid or 0
            self._attach(conn, set_id, list(managed_policies or []))
            created = PermissionSet.from_row(self._row(conn, set_id))
            self._audit(
                conn, "permission_set.create", f"permission_set:{created.name}", after=created.audit_view()
            )
            return created

    def get_by_name(self, name: str) -> PermissionSet:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT *, {_POLICY_NAMES} FROM permission_sets WHERE name_key = ?", (names.canonical(name),)
            ).fetchone()
        if row is None:
            raise NotFound(f"no permission set named {quoted(name)}")
        return PermissionSet.from_row(row)

    def list(
        self, *, filter: str = "", after: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> Page[PermissionSet]:
        return self._list_named(filter, after, offset, limit, select=f"*, {_POLICY_NAMES}")

    def update(
        self,
        permission_set_id: int,
        version: int,
        *,
        name: str | None = None,
        description: str | None = None,
        session_duration: int | str | None = None,
        inline_policy: str | None = None,
        managed_policies: builtins.list[str] | None = None,
        boundary_policy: str | None = None,
        clear_inline: bool = False,
        clear_boundary: bool = False,
    ) -> PermissionSet:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = names.permission_set_name(name)
        if description is not None:
            changes["description"] = names.display_text(description, "description", names.DESCRIPTION_MAX)
        if session_duration is not None:
            changes["session_duration"] = parse_duration(session_duration)
        if inline_policy is not None or clear_inline:
            changes["inline_policy"] = check_policy_text(inline_policy, "inlinePolicy")
        if boundary_policy is not None or clear_boundary:
            changes["boundary_policy"] = check_policy_text(boundary_policy, "permissionsBoundary")
        with self.directory.change() as conn:
            row = self._row(conn, permission_set_id)
            self._check_version(conn, row, version)
            before = PermissionSet.from_row(row)
            if "name" in changes:
                changes["name_key"] = self._check_name_free(conn, changes["name"], permission_set_id)
            attachments_change = managed_policies is not None and [
                names.canonical(p) for p in managed_policies
            ] != [names.canonical(p) for p in before.managed_policies]
            if attachments_change:
                self._attach(conn, permission_set_id, list(managed_policies or []))
            after = PermissionSet.from_row(
                self._versioned_update(conn, permission_set_id, version, changes, touch=attachments_change)
            )
            shortened = 0
            if after.session_duration < before.session_duration:
                # A shorter session is what the set now grants: its live sessions end by then too (they kept
                # the old length, as a policy change does not wait for them).
                longest = f"+{after.session_duration} seconds"
                shortened = conn.execute(
                    "UPDATE sessions SET expires_at = strftime('%Y-%m-%dT%H:%M:%SZ', issued_at, ?) "
                    "WHERE permission_set_id = ? AND revoked_at IS NULL AND expires_at > ? "
                    "AND expires_at > strftime('%Y-%m-%dT%H:%M:%SZ', issued_at, ?)",
                    (longest, permission_set_id, self.directory.now_text(), longest),
                ).rowcount
            self._audit(
                conn,
                "permission_set.update",
                f"permission_set:{after.name}",
                before=before.audit_view(),
                after=after.audit_view(),
                extra={"sessions_shortened": shortened} if shortened else None,
            )
            return after

    def delete(self, permission_set_id: int, version: int) -> None:
        with self.directory.change() as conn:
            row = self._row(conn, permission_set_id)
            self._check_version(conn, row, version)
            removed = PermissionSet.from_row(row)
            conn.execute("DELETE FROM permission_sets WHERE id = ?", (permission_set_id,))
            self._audit(
                conn, "permission_set.delete", f"permission_set:{removed.name}", before=removed.audit_view()
            )
