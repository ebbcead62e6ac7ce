"""Importing identities: validate everything, plan, then apply in one transaction.

Every input format (``store/formats/``) is first turned into an :class:`ImportDocument`: plain values, each
remembering where in the file it came from (``line 12``, ``users[3]``, ``Operations[2] POST /Groups``) and,
for the identity providers' CSV templates, what the file calls each field (``User name [userPrincipalName]``).

:func:`import_document` then

1. checks every entry (names, lengths, characters, references, cycles) against the file and the directory
   and collects every problem (the first :data:`MAX_PROBLEMS`); one problem refuses the whole file, and
   nothing changes. One resolver matches users and groups alike (by SCIM id, externalId, then name);
2. plans: a list of typed operations (:class:`CreateUser`, :class:`UpdateUser`, :class:`DisableUser`,
   :class:`CreateGroup`, :class:`UpdateGroup`, :class:`AddMembers`, :class:`UpdateMember`,
   :class:`RemoveMember`, :class:`SaveEntry`, :class:`SaveAssignment`) holding everything a write needs. The
   dry run shows that list (the :class:`ImportPlan` sections are made from it);
3. applies exactly those operations, in bulk with the services' own statements, in one ``BEGIN IMMEDIATE``
   transaction (planned again under the lock first if the directory changed meanwhile) with one audit event
   (the file's keyed digest, :func:`store.audit.file_digest`, and the counts) and one ``import_batches`` row
   that every row it writes points to. A crash (even ``kill -9``) at any moment leaves the directory exactly
   as before or exactly as after.

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
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from store import audit
from store.crypto import hash_password
from store.errors import Refused
from store.importer.apply import Hashes, _apply, _initial_passwords, hash_initial_passwords
from store.importer.current import _load_current
from store.importer.document import (
    LOCAL,
    MAX_PROBLEMS,
    AccountIn,
    AssignmentIn,
    GroupIn,
    ImportDocument,
    ImportOptions,
    ImportRefused,
    MemberIn,
    PermissionSetIn,
    PolicyIn,
    Problem,
    Progress,
    UserIn,
    check_source,
)
from store.importer.plan import ADMIN_MARK, ImportPlan, ImportResult
from store.importer.resolve import MASS_DISABLE_SHARE, _resolve
from store.rights import Rule

__all__ = [
    "ADMIN_MARK",
    "LOCAL",
    "MASS_DISABLE_SHARE",
    "MAX_PROBLEMS",
    "WHAT",
    "AccountIn",
    "AssignmentIn",
    "GroupIn",
    "ImportDocument",
    "ImportPlan",
    "ImportRefused",
    "ImportResult",
    "MemberIn",
    "PermissionSetIn",
    "PolicyIn",
    "Problem",
    "Progress",
    "UserIn",
    "check_source",
    "collection_paused",
    "import_document",
]

if TYPE_CHECKING:
    from store.directory import Directory

WHAT = "import into the directory"


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
    quarter of a 100,000-user import's time). Reference counting still frees everything as it goes.

    On leaving, the objects made meanwhile that still live (the document, the plan) join the oldest
    generation at once (``gc.freeze`` then ``gc.unfreeze``), as long-lived objects do: otherwise the first
    allocation after the block walked every one of them (0.2 s after a 100,000-user import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
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
    raw: bytes = b"",
    sha256: str | None = None,
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
    The audit event names the file by its keyed digest (:func:`store.audit.file_digest`) of ``sha256``
    (``Reading.sha256``: the caller need not keep a big file's bytes beside its document), else of ``raw``.

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
    if sha256 is None:
        sha256 = hashlib.sha256(raw).hexdigest()
    file_digest = audit.file_digest(directory.audit_key, sha256)  # never the plain SHA-256: see there
    provisioning = directory.principal.source is not None
    options = ImportOptions(
        source=source,
        sync=sync,
        allow_mass_disable=allow_mass_disable,
        with_passwords=with_passwords,
        # An identity provider never makes administrators, whatever it asks: that is an admin's decision.
        allow_admin_changes=False if provisioning else allow_admin_changes,
        provisioning=provisioning,
    )
    with directory.db.read() as conn:
        seen_version = directory.db.data_version()
        plan = _plan(document, conn, options, file_name, progress)
    if dry_run or plan.changes_nothing:
        return ImportResult(plan, False, None, file_digest, used_source)
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
                return ImportResult(plan, False, None, file_digest, used_source)
            if changed:
                missing = [item for item in _initial_passwords(plan) if item not in hashes]
                hashes.update(zip(missing, (hash_password(password) for _, password in missing), strict=True))
        now = directory.now_text()
        counts = plan.as_dict()
        batch_id = (
            conn.execute(
                "INSERT INTO import_batches (source, file_name, sha256, at, actor, counts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (used_source, file_name, file_digest or "", now, directory.actor.name, json.dumps(counts)),
            ).lastrowid
            or 0
        )
        _apply(directory, conn, plan, now, batch_id, hashes, progress)
        audit.record(
            conn,
            at=now,
            actor=directory.actor,
            action="directory.import",
            target=f"file:{file_name}",
            extra={
                "file_digest": file_digest,
                "source": used_source,
                "format": format_name,
                "sync": sync,
                "batch": batch_id,
                "counts": counts,
                "passwords": {k: v for k, v in plan.passwords.items() if v},
            },
            key=directory.audit_key,
        )
    return ImportResult(plan, True, batch_id, file_digest, used_source, workers)
