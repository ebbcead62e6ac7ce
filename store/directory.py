"""A directory: the open database, who is acting, the clock, and every concept's service."""

from __future__ import annotations

import getpass
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from store.accounts import AccountService
from store.assignments import AssignmentService
from store.audit import Actor
from store.clock import Clock, to_text, utc_now
from store.db import Database
from store.groups import GroupService
from store.permission_sets import PermissionSetService
from store.sessions import SessionService
from store.users import COUNT_ALL, UserService


def cli_actor() -> Actor:
    """``cli:<os user>``: changes made from the command line are attributed to the operating-system user."""
    try:
        name = getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the numeric id
        name = str(os.getuid())
    return Actor(f"cli:{name}", "cli")


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
        # The key that MACs the audit chain arrives with the credentials work (the directory key file).
        self.audit_key: bytes | None = None
        self.users = UserService(self)
        self.groups = GroupService(self)
        self.accounts = AccountService(self)
        self.permission_sets = PermissionSetService(self)
        self.assignments = AssignmentService(self)
        self.sessions = SessionService(self)

    @classmethod
    def open(cls, path: str | os.PathLike[str], actor: Actor | None = None, clock: Clock = utc_now) -> Directory:
        return cls(Database(Path(path)), actor or cli_actor(), clock)

    def now_text(self) -> str:
        return to_text(self.clock())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def end_user_sessions(self, conn: sqlite3.Connection, user_id: int, reason: str) -> int:
        """Revoke a user's live temporary credentials and portal sign-ins (inside the caller's transaction)."""
        now = self.now_text()
        ended = conn.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL "
            "AND expires_at > ?",
            (now, reason, user_id, now),
        ).rowcount
        conn.execute("UPDATE portal_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                     (now, user_id))
        return ended

    def counts(self) -> Counts:
        now = self.now_text()
        with self.db.read() as conn:
            one = lambda sql, *args: int(conn.execute(sql, args).fetchone()[0])  # noqa: E731
            return Counts(
                users=one(COUNT_ALL),
                disabled_users=one("SELECT count(*) FROM users WHERE is_root = 0 AND status = 'disabled'"),
                groups=one("SELECT count(*) FROM groups"),
                memberships=one("SELECT count(*) FROM memberships"),
                accounts=one("SELECT count(*) FROM accounts"),
                permission_sets=one("SELECT count(*) FROM permission_sets"),
                assignments=one("SELECT count(*) FROM assignments"),
                active_sessions=one(
                    "SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?", now),
                audit_events=one("SELECT count(*) FROM audit"),
            )
