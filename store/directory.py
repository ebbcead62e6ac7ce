"""A directory: the open database, who is acting, the clock, and every concept's service."""

from __future__ import annotations

import getpass
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from store import audit, audit_mark, rights
from store.access_keys import AccessKeyService
from store.accounts import AccountService
from store.admins import AdminService
from store.assignments import AssignmentService
from store.audit import Actor
from store.clock import Clock, to_text, utc_now
from store.credentials import CredentialService
from store.crypto import KeyFileError, KeyRing, audit_mac_key, load_key
from store.db import Database
from store.groups import GroupService
from store.names import quoted
from store.password_policy import PasswordPolicyService
from store.permission_sets import PermissionSetService
from store.policies import PolicyService
from store.portal import PortalService, SignedIn
from store.rights import NOBODY, OWNER, Principal, Rule
from store.scim_sources import ScimSourceService
from store.scim_tokens import ScimTokenService
from store.sessions import SessionService
from store.sign_in import SignInService
from store.ssh_keys import SshKeyService
from store.users import COUNT_ALL, UserService

# Settings that tie a database to its key file: the id of the key that sealed its secrets, and the id of the
# key whose derived MAC key chains the audit log (absent while the chain is a plain SHA-256 chain).
KEY_ID_SETTING = "directory.key_id"
AUDIT_MAC_SETTING = "audit.mac_key_id"


def key_path_beside(db_path: str | os.PathLike[str]) -> Path:
    """``<database>.key``: where a directory's key file lives unless ``--key``/``TUI_KEY`` says otherwise."""
    path = Path(db_path)
    return path.with_name(path.name + ".key")


def os_actor(source: str = "cli") -> Actor:
    """``os:<os user>`` through ``source`` (``cli``, ``console``): changes made before anyone signs in are
    attributed to the operating-system account (``os:root`` cannot be read as the directory's root,
    ``cli:root`` or ``console:root`` could)."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers) raises anything: use the numeric id
        name = str(os.getuid())
    return Actor(f"os:{name}", source)


@dataclass(frozen=True)
class Counts:
    users: int
    disabled_users: int
    groups: int
    memberships: int
    accounts: int
    permission_sets: int
    assignments: int
    active_sessions: int
    audit_events: int


class Directory:
    """The services over one open database. Cheap to build; share one per process (it is thread-safe)."""

    def __init__(self, db: Database, actor: Actor, clock: Clock = utc_now) -> None:
        self.db = db
        self.actor = actor
        self.clock = clock
        # The directory key file (see attach_key): seals TOTP secrets; its derived MAC key chains the audit.
        self.key: KeyRing | None = None
        self.key_path: Path | None = None
        self.audit_key: bytes | None = None
        self.users = UserService(self)
        self.groups = GroupService(self)
        self.accounts = AccountService(self)
        self.permission_sets = PermissionSetService(self)
        self.assignments = AssignmentService(self)
        self.policies = PolicyService(self)
        self.sessions = SessionService(self)
        self.password_policy = PasswordPolicyService(self)
        self.credentials = CredentialService(self)
        self.access_keys = AccessKeyService(self)
        self.sign_in = SignInService(self)
        self.portal = PortalService(self)
        self.admins = AdminService(self)
        self.ssh_keys = SshKeyService(self)
        self.scim_tokens = ScimTokenService(self)
        self.scim_sources = ScimSourceService(self)
        # Whose rights apply (store/rights.py): the owner (the CLI run by the directory file's owner, tests)
        # until a console or SSH sign-in says who acts with act_as().
        self._principal: Principal = OWNER
        self._this_thread = threading.local()
        self.acting_is_admin = True  # for screens to choose what to offer; the store checks on every change

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        actor: Actor | None = None,
        clock: Clock = utc_now,
        *,
        key_path: str | os.PathLike[str] | None = None,
    ) -> Directory:
        """Open (creating if missing) the directory at ``path`` with its key file: ``key_path``, else
        ``<database>.key`` beside it. A missing key file is fine until ``tui init`` made the directory need
        one."""
        db = Database(Path(path))
        try:
            directory = cls(db, actor or os_actor(), clock)
            if str(path) != ":memory:":
                directory.attach_key(Path(key_path) if key_path is not None else key_path_beside(path))
        except BaseException:
            db.close()
            raise
        return directory

    def setting(self, key: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def attach_key(self, path: Path) -> None:
        """Load the key file at ``path`` if it exists and check that it is this directory's. A directory whose
        secrets were sealed with a key refuses to open without that key file (the message says where it
        looked)."""
        self.key_path = path
        expected = self.setting(KEY_ID_SETTING)
        if path.exists() or path.is_symlink():
            ring = load_key(path)
            if expected is not None and ring.get(expected) is None:
                raise KeyFileError(
                    f"{path} is not this directory's key file (its secrets were sealed with key "
                    f"{expected}): pass the right one with --key PATH or TUI_KEY"
                )
            self.use_key(ring)
        elif expected is not None:
            raise KeyFileError(
                f"this directory's key file {path} does not exist: pass it with --key PATH or "
                "TUI_KEY (it is kept apart from the database and its backups)"
            )

    def use_key(self, ring: KeyRing) -> None:
        """Seal with ``ring`` from now on, and MAC the audit chain with it once the directory is initialised.
        An initialised directory whose audit key id was deleted still MACs (with the current key): deleting
        the setting must not turn the chain into a plain one; ``verify_audit`` names the deletion."""
        mac_id = self.setting(AUDIT_MAC_SETTING)
        audit_key = None
        if mac_id is not None:
            mac_key = ring.get(mac_id)
            if mac_key is None:
                raise KeyFileError(f"the key file lacks key {mac_id}, which keys this directory's audit log")
            audit_key = audit_mac_key(mac_key)
        elif self.initialised():
            audit_key = audit_mac_key(ring.current)
        self.key, self.audit_key = ring, audit_key

    def initialised(self) -> bool:
        """Has ``tui init`` run: root exists, or the database names its key (either alone is enough)."""
        with self.db.read() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM users WHERE is_root = 1 UNION ALL SELECT 1 FROM settings WHERE key = ?",
                    (KEY_ID_SETTING,),
                ).fetchone()
                is not None
            )

    def verify_audit(self, expect_head: str | None = None) -> audit.VerifyResult:
        """Check the audit log. An initialised directory's log must be keyed by its key file: without the key
        file, or without the setting naming its key, the log cannot be trusted and verify says so."""
        initialised = self.initialised() or self.key is not None
        with self.db.read() as conn:
            count = int(conn.execute("SELECT count(*) FROM audit").fetchone()[0])
            if initialised and self.key is None:
                return audit.VerifyResult(
                    False,
                    count,
                    None,
                    "the directory's key file is needed to check its audit log: pass it "
                    "with --key PATH or TUI_KEY",
                )
            if initialised and self.setting(AUDIT_MAC_SETTING) is None:
                return audit.VerifyResult(
                    False,
                    count,
                    None,
                    f"the setting {quoted(AUDIT_MAC_SETTING)}, which names the key of the audit log, was "
                    "deleted: the log was tampered with (without it the chain would not need the key)",
                )
            result = audit.verify(conn, self.audit_key, initialised=initialised, expect_head=expect_head)
            if result.ok and self.audit_key is not None:
                result = self._check_mark(conn, result)
            return result

    def _check_mark(self, conn: sqlite3.Connection, result: audit.VerifyResult) -> audit.VerifyResult:
        """The log must still hold the event each of its marks names (store/audit_mark.py): a log cut back to
        an older keyed head otherwise verified as intact."""
        assert self.audit_key is not None
        for path, attribute in audit_mark.places(self.db.path, self.key_path):
            mark = audit_mark.read_mark(path, attribute)
            if mark is None:
                continue
            which = "directory" if path == self.db.path else "key"
            sealed = audit.sealed_head(self.audit_key, mark)
            if sealed is None:
                problem = (
                    f"the mark of the log's head on the {which} file ({attribute}) was not written with this "
                    "key file"
                )
                return audit.VerifyResult(False, result.events, None, problem, result.head, result.keyed)
            seq, digest = sealed
            if not audit.holds_event(conn, seq, digest):
                problem = (
                    f"the log no longer holds event {seq}, the last one committed (the {which} file's mark "
                    "says so): it was cut back or rolled back to an older copy. If a backup was restored on "
                    "purpose, tui audit reseal accepts the log as it is now"
                )
                return audit.VerifyResult(False, result.events, seq, problem, result.head, result.keyed)
        return result

    def _newest_mark(self) -> str | None:
        marks = [audit_mark.read_mark(*place) for place in audit_mark.places(self.db.path, self.key_path)]
        return max((mark for mark in marks if mark), key=audit_mark.seq_of, default=None)

    def reseal_audit(self) -> str:
        """Seal the audit log's head with the key again, after checking every event (a directory made before
        heads were keyed); audited as ``audit.reseal``. Returns the new head, ``SEQ:HASH``. An admin's act."""
        if self.audit_key is None:
            raise KeyFileError(
                "only an initialised directory with its key file has a keyed audit log to reseal"
            )
        with self.change(what="reseal the audit log") as conn:
            old, _ = audit.reseal(conn, self.audit_key)
            mark = self._newest_mark()
            self.record(
                conn,
                at=self.now_text(),
                action="audit.reseal",
                target="audit",
                extra={"previous_head": old, **({"previous_mark": mark} if mark else {})},
            )
            head = conn.execute("SELECT value FROM settings WHERE key = ?", (audit.HEAD_KEY,)).fetchone()
        audit_mark.reset_mark(self.db.path, str(head[0]), self.key_path)  # the log as it is now is accepted
        result = self.verify_audit()
        return result.head

    def require_key(self) -> KeyRing:
        """The key ring, or a clear refusal for a directory that has none yet."""
        if self.key is None:
            raise KeyFileError("this directory has no key file yet: run tui init (or open the console) first")
        return self.key

    def now_text(self) -> str:
        return to_text(self.clock())

    def record(
        self,
        conn: sqlite3.Connection,
        *,
        action: str,
        target: str,
        at: str | None = None,
        before: Any = None,
        after: Any = None,
        extra: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Append one audit event for this directory's actor (or ``actor``: whoever proved it, as a sign-in's
        holder signing out), keyed with its audit key, inside the write transaction ``conn`` of the change it
        describes (see :func:`store.audit.record`)."""
        return audit.record(
            conn,
            at=at or self.now_text(),
            actor=actor or self.actor,
            action=action,
            target=target,
            before=before,
            after=after,
            extra=extra,
            key=self.audit_key,
        )

    @property
    def acting_user_id(self) -> int | None:
        return self.principal.user_id

    def act_as(
        self,
        user_id: int | None,
        actor: Actor,
        *,
        mfa: bool = False,
        password: bool = False,
        sign_in_id: int | None = None,
    ) -> None:
        """From now on, changes are made by (and audited as) this user, with this user's rights: an admin's
        only when ``mfa`` (signed in with an authenticator); ``password``: the sign-in proved the password;
        ``sign_in_id``: the portal sign-in they act under, which must still be live at every change.
        ``user_id`` None: the owner again."""
        self.actor = actor
        self.principal = (
            OWNER if user_id is None else Principal(user_id, mfa, password=password, sign_in_id=sign_in_id)
        )
        self.refresh_rights()

    def act_under(self, signed_in: SignedIn, actor: Actor | None = None) -> None:
        """``act_as`` the user of a portal sign-in, with its rights, for as long as it lasts (each change
        checks that it is still live), audited as ``actor`` (default: as now)."""
        self.act_as(
            signed_in.user_id,
            actor or self.actor,
            mfa=signed_in.mfa,
            password=signed_in.method.startswith("password"),
            sign_in_id=signed_in.sign_in_id,
        )

    @contextmanager
    def acting_under(self, signed_in: SignedIn) -> Iterator[None]:
        """For the block, in the calling thread only, whoever acts now acts only while ``signed_in`` lasts:
        each change finds it live (and its user's, for a user) in its own transaction. The rights stay
        whoever's they were (the CLI's owner's, an SSH key's user's); other threads sharing this Directory
        (a server's other channels) act as they did."""
        before = getattr(self._this_thread, "principal", None)
        self._this_thread.principal = replace(self.principal, sign_in_id=signed_in.sign_in_id)
        try:
            yield
        finally:
            self._this_thread.principal = before

    @property
    def principal(self) -> Principal:
        """Whose rights apply (store/rights.py); ``acting_under`` binds it to a sign-in for one thread."""
        bound: Principal | None = getattr(self._this_thread, "principal", None)
        return bound if bound is not None else self._principal

    @principal.setter
    def principal(self, principal: Principal) -> None:
        self._principal = principal

    def act_for_source(self, source: str, actor: Actor, *, token_id: int | None = None) -> None:
        """From now on, changes are made for the identity provider ``source`` (a provisioning token): only
        imports of that source's users and groups pass the rights check; with ``token_id``, only while that
        token is live (checked in each change's transaction)."""
        self.actor = actor
        self.principal = Principal(source=source, token_id=token_id)
        self.acting_is_admin = False

    def sign_out(self, actor: Actor) -> None:
        """Nobody is signed in (the console's gate): only authentication may change anything."""
        self.actor = actor
        self.principal = NOBODY
        self.acting_is_admin = False

    def refresh_rights(self) -> bool:
        """Re-read whether the acting principal administers (another console may have changed the group)."""
        with self.db.read() as conn:
            self.acting_is_admin = rights.administers(conn, self.principal, self.now_text())
        return self.acting_is_admin

    def admin_without_mfa(self) -> bool:
        """Is the acting user in the admin group (or root) but signed in without MFA, so not administering?"""
        user_id = self.principal.user_id
        if user_id is None or self.principal.mfa:
            return False
        with self.db.read() as conn:
            return rights.is_admin(conn, user_id, self.now_text())

    @contextmanager
    def change(
        self,
        rule: Rule = Rule.ADMIN,
        *,
        subject: int | None = None,
        source: str | None = None,
        what: str = "change the directory",
    ) -> Iterator[sqlite3.Connection]:
        """The one way to change the directory: a write transaction whose first act is the rights check
        (store/rights.py), so a refused change writes nothing. ``subject``: whose own credentials a
        :attr:`Rule.SELF` change touches; ``source``: whose users an :attr:`Rule.IMPORT` changes. Nested calls
        join the outer transaction and check again."""
        head = None
        with self.db.write() as conn:
            outermost = self.db.write_depth() == 1  # this block commits
            rights.check(
                conn, self.principal, rule, self.now_text(), subject=subject, source=source, what=what
            )
            yield conn
            if outermost and self.audit_key is not None:
                head = conn.execute("SELECT value FROM settings WHERE key = ?", (audit.HEAD_KEY,)).fetchone()
        if head is not None:  # committed: the audit log's mark may name this head now (store/audit_mark.py)
            audit_mark.advance_mark(self.db.path, str(head[0]), self.key_path)

    def require(
        self,
        rule: Rule = Rule.ADMIN,
        *,
        subject: int | None = None,
        source: str | None = None,
        what: str = "change the directory",
    ) -> None:
        """Refuse now, before slow work (hashing, parsing a file), what :meth:`change` would refuse anyway."""
        with self.db.read() as conn:
            rights.check(
                conn, self.principal, rule, self.now_text(), subject=subject, source=source, what=what
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def end_user_sessions(self, conn: sqlite3.Connection, user_id: int, reason: str) -> int:
        """Revoke a user's live temporary credentials and portal sign-ins (in the caller's transaction)."""
        now = self.now_text()
        ended = conn.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL "
            "AND expires_at > ?",
            (now, reason, user_id, now),
        ).rowcount
        conn.execute(
            "UPDATE portal_tokens SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? "
            "AND revoked_at IS NULL",
            (now, reason, user_id),
        )
        return ended

    def counts(self) -> Counts:
        now = self.now_text()
        with self.db.read() as conn:

            def one(sql: str, *args: object) -> int:
                return int(conn.execute(sql, args).fetchone()[0])

            return Counts(
                users=one(COUNT_ALL),
                disabled_users=one("SELECT count(*) FROM users WHERE is_root = 0 AND status = 'disabled'"),
                groups=one("SELECT count(*) FROM groups"),
                memberships=one("SELECT count(*) FROM memberships"),
                accounts=one("SELECT count(*) FROM accounts"),
                permission_sets=one("SELECT count(*) FROM permission_sets"),
                assignments=one("SELECT count(*) FROM assignments"),
                active_sessions=one(
                    "SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?", now
                ),
                audit_events=one("SELECT count(*) FROM audit"),
            )
