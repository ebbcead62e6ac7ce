"""The session engine: temporary credentials for one assignment, that expire, rotate and can be revoked.

A session is issued to a user for a permission set in an account they are assigned (directly or through a
group, neither expired). It carries an ``ASIA…`` key id, a 40-character secret and a session token; only the
SHA-256 of the secret and of the token is stored. Verification looks the token's hash up by index and then
compares key id and secret hash in constant time. A credential is dead from its expiry instant on, and
when revoked (one, a user's, an account's, a permission set's, or all) — password change, MFA reset,
disable and delete revoke a user's sessions through ``Directory.end_user_sessions``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256
from hmac import compare_digest
from typing import TYPE_CHECKING, Any, NamedTuple

from store.access import is_assigned
from store.clock import from_text, to_text
from store.crypto import new_session_credentials
from store.durations import MIN_SECONDS, format_duration, parse_duration
from store.errors import NotFound, Refused, ValidationError
from store.names import canonical, quoted
from store.policy import Decision
from store.rights import Rule
from store.service import PAGE_SIZE, Page, joined_page, like_contains

if TYPE_CHECKING:
    from store.directory import Directory

DEFAULT_RETENTION = timedelta(days=7)

# One indexed query answers verify. Disabled users and accounts need no join here: disabling either revokes
# its sessions in the same transaction (and deleting cascades), so the session row alone says it all.
VERIFY_SQL = (
    "SELECT id, access_key_id, secret_hash, expires_at, revoked_at, user_id, account_id, permission_set_id, "
    "issued_at, mfa FROM sessions WHERE token_hash = ?"
)
_LIST = (
    "SELECT s.*, u.user_name, a.name AS account_name, p.name AS permission_set_name FROM sessions s "
    "JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = s.account_id "
    "JOIN permission_sets p ON p.id = s.permission_set_id"
)
# Compared against when a token is unknown, so an unknown token costs what a known one does.
_DUMMY_HASH = hashlib.sha256(b"no such session").hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCredentials:
    """Credentials as handed out once. The secret and token exist only here: never stored, never logged."""

    session_id: int
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: str  # "YYYY-MM-DDTHH:MM:SSZ"

    def credential_process(self) -> dict[str, Any]:
        """The AWS CLI's ``credential_process`` JSON, version 1."""
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }

    def env_lines(self) -> list[str]:
        return [
            f"export AWS_ACCESS_KEY_ID={self.access_key_id}",
            f"export AWS_SECRET_ACCESS_KEY={self.secret_access_key}",
            f"export AWS_SESSION_TOKEN={self.session_token}",
            f"export AWS_CREDENTIAL_EXPIRATION={self.expiration}",
        ]


@dataclass(frozen=True)
class SessionInfo:
    """A session as listed: who, where, what, until when. No secrets."""

    id: int
    user_id: int
    user_name: str
    account_id: int
    account_name: str
    permission_set_id: int
    permission_set_name: str
    access_key_id: str
    mfa: bool
    issued_at: str
    expires_at: str
    revoked_at: str | None
    revoked_reason: str | None

    def state(self, now: str) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"

    @staticmethod
    def from_row(row: sqlite3.Row) -> SessionInfo:
        return SessionInfo(
            row["id"],
            row["user_id"],
            row["user_name"],
            row["account_id"],
            row["account_name"],
            row["permission_set_id"],
            row["permission_set_name"],
            row["access_key_id"],
            bool(row["mfa"]),
            row["issued_at"],
            row["expires_at"],
            row["revoked_at"],
            row["revoked_reason"],
        )

    def as_dict(self, now: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user_name,
            "account": self.account_name,
            "permission_set": self.permission_set_name,
            "access_key_id": self.access_key_id,
            "mfa": self.mfa,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "state": self.state(now),
            "revoked_at": self.revoked_at,
            "revoked_reason": self.revoked_reason,
        }


class VerifiedSession(NamedTuple):
    """What verified credentials stand for: ids, not names (names cost a join; ``sessions.get`` has them).
    Named tuples, not dataclasses: verify is a hot path and builds these on every call."""

    id: int
    access_key_id: str
    user_id: int
    account_id: int
    permission_set_id: int
    issued_at: str
    expires_at: str
    mfa: bool


class Verification(NamedTuple):
    """The answer to "are these credentials good?": ``reason`` says why not when they are not."""

    valid: bool
    reason: str  # valid | malformed | unknown | expired | revoked
    session: VerifiedSession | None = None


class SessionService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db
        self._now_second, self._now_cached = -1, ""

    # -- issue --------------------------------------------------------------------------------------------

    def issue(
        self,
        user_id: int,
        account_id: int,
        permission_set_id: int,
        *,
        duration: object = None,
        mfa: bool = False,
    ) -> IssuedCredentials:
        """Credentials for an assignment the user holds now. ``duration`` defaults to the permission set's
        session duration and may be shorter, never longer; nothing is clamped."""
        now = self.directory.clock()
        now_text = to_text(now)
        with self.directory.change(
            Rule.SELF, subject=user_id, what="issue credentials for another user"
        ) as conn:
            user = conn.execute(
                "SELECT user_name, status, is_root FROM users WHERE id = ?", (user_id,)
            ).fetchone()
            if user is None:
                raise NotFound(f"user #{user_id} does not exist")
            account = conn.execute("SELECT name, status FROM accounts WHERE id = ?", (account_id,)).fetchone()
            if account is None:
                raise NotFound(f"account #{account_id} does not exist")
            pset = conn.execute(
                "SELECT name, session_duration FROM permission_sets WHERE id = ?", (permission_set_id,)
            ).fetchone()
            if pset is None:
                raise NotFound(f"permission set #{permission_set_id} does not exist")
            if user["is_root"]:
                raise Refused(
                    "root holds no assignments and gets no temporary credentials: sign in as an admin user"
                )
            if user["status"] != "active":
                raise Refused(f"{quoted(user['user_name'])} is disabled")
            if account["status"] != "active":
                raise Refused(f"account {quoted(account['name'])} is disabled")
            grant = is_assigned(self.directory, user_id, account_id, permission_set_id, now)
            if grant is None:
                raise Refused(
                    f"{quoted(user['user_name'])} is not assigned {quoted(pset['name'])} in "
                    f"{quoted(account['name'])} (or the assignment or group membership has expired)"
                )
            seconds = self._duration(duration, pset["session_duration"], pset["name"], now, grant.expires_at)
            expires = to_text(now + timedelta(seconds=seconds))
            key_id, secret, token = new_session_credentials()
            cursor = conn.execute(
                "INSERT INTO sessions (user_id, account_id, permission_set_id, access_key_id, secret_hash, "
                "token_hash, mfa, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    account_id,
                    permission_set_id,
                    key_id,
                    _sha256(secret),
                    _sha256(token),
                    int(mfa),
                    now_text,
                    expires,
                ),
            )
            self.directory.record(
                conn,
                at=now_text,
                action="session.issue",
                target=f"user:{user['user_name']}",
                extra={
                    "account": account["name"],
                    "permission_set": pset["name"],
                    "access_key_id": key_id,
                    "duration": format_duration(seconds),
                    "expires_at": expires,
                    "mfa": mfa,
                },
            )
            return IssuedCredentials(cursor.lastrowid or 0, key_id, secret, token, expires)

    @staticmethod
    def _duration(
        requested: object, allowed: int, pset_name: str, now: datetime, grant_ends: str | None
    ) -> int:
        """The session's length: what was asked (never more than the set allows), else the set's duration.
        A session never outlives the assignment or membership that grants it: by default it ends with it;
        asking for longer is refused, as is a grant with less than the 15-minute minimum left."""
        left = None if grant_ends is None else int((from_text(grant_ends) - now).total_seconds())
        if left is not None and left < MIN_SECONDS:
            raise Refused(
                f"the assignment that grants {quoted(pset_name)} ends at {grant_ends}, in less than the "
                "15-minute minimum session"
            )
        if requested is None or requested == "":
            return allowed if left is None else min(allowed, left)
        seconds = parse_duration(requested, "duration")  # refuses outside 15 min … 36 h
        if seconds > allowed:
            raise ValidationError(
                f"duration: {format_duration(seconds)} is longer than {quoted(pset_name)} allows "
                f"({format_duration(allowed)}); ask for {format_duration(allowed)} or less",
                "duration",
            )
        if left is not None and seconds > left:
            raise ValidationError(
                f"duration: the assignment that grants {quoted(pset_name)} ends at {grant_ends}; ask for "
                f"{format_duration(left)} or less",
                "duration",
            )
        return seconds

    # -- verify and authorize -----------------------------------------------------------------------------

    def verify(self, access_key_id: str, secret_access_key: str, session_token: str) -> Verification:
        """Are these credentials live? One indexed query; key id and secret compared in constant time."""
        if not (
            isinstance(access_key_id, str)
            and isinstance(secret_access_key, str)
            and isinstance(session_token, str)
            and session_token
            and access_key_id.isascii()
        ):
            return Verification(False, "malformed")
        # Raw sqlite3 (a reused cursor, a plain tuple), not sqlite-utils: verify is the hottest path.
        row = self.db.query_tuple(VERIFY_SQL, (sha256(session_token.encode()).hexdigest(),))
        secret_hash = sha256(secret_access_key.encode()).hexdigest()
        if row is None:
            compare_digest(secret_hash, _DUMMY_HASH)
            return Verification(False, "unknown")
        (
            session_id,
            key_id,
            stored_hash,
            expires_at,
            revoked_at,
            user_id,
            account_id,
            set_id,
            issued_at,
            mfa,
        ) = row
        key_ok = compare_digest(access_key_id, key_id)
        if not (compare_digest(secret_hash, stored_hash) and key_ok):
            return Verification(False, "unknown")
        session = VerifiedSession(
            session_id, key_id, user_id, account_id, set_id, issued_at, expires_at, bool(mfa)
        )
        if revoked_at is not None:
            return Verification(False, "revoked", session)
        if expires_at <= self._now_text():
            return Verification(False, "expired", session)
        return Verification(True, "valid", session)

    def _now_text(self) -> str:
        # Formatting a time costs more than the lookup itself; the text changes once a second.
        now = self.directory.clock()
        second = int(now.timestamp())
        if second != self._now_second:
            self._now_second, self._now_cached = second, to_text(now)
        return self._now_cached

    def describe(self, verification: Verification) -> dict[str, Any]:
        """``verification`` as JSON, with the user, account and permission set named."""
        result: dict[str, Any] = {"valid": verification.valid, "reason": verification.reason}
        if verification.session is not None:
            info = self.get(verification.session.id)
            result.update(
                {
                    "session_id": info.id,
                    "user": info.user_name,
                    "account": info.account_name,
                    "permission_set": info.permission_set_name,
                    "expires_at": info.expires_at,
                }
            )
        return result

    def authorize(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        action: str,
        resource: str,
        context: dict[str, Any] | None = None,
    ) -> tuple[Verification, Decision | None]:
        """Verify, then decide ``action`` on ``resource`` with the session's permission set."""
        verification = self.verify(access_key_id, secret_access_key, session_token)
        if not verification.valid or verification.session is None:
            return verification, None
        session = verification.session
        compiled = self.directory.permission_sets.compiled(session.permission_set_id)
        user = self.db.query_tuple("SELECT user_name FROM users WHERE id = ?", (session.user_id,))
        request = {
            "aws:TokenIssueTime": session.issued_at,
            "aws:MultiFactorAuthPresent": "true" if session.mfa else "false",
            "aws:username": user[0] if user else "",
            "aws:userid": str(session.user_id),
            **(context or {}),
        }
        return verification, compiled.evaluate(action, resource, request, now=self.directory.clock())

    # -- list, revoke, sweep ------------------------------------------------------------------------------

    def get(self, session_id: int) -> SessionInfo:
        row = self.db.query_one(f"{_LIST} WHERE s.id = ?", (session_id,))
        if row is None:
            raise NotFound(f"session #{session_id} does not exist (it may have been swept)")
        return SessionInfo.from_row(row)

    def list(
        self,
        *,
        active_only: bool = False,
        filter: str = "",
        user_id: int | None = None,
        after: str | None = None,
        offset: int = 0,
        limit: int = PAGE_SIZE,
    ) -> Page[SessionInfo]:
        """Newest first. ``filter`` matches user, account or permission set names (case-insensitive)."""
        where: list[str] = ["1"]
        params: list[object] = []
        if active_only:
            where.append("s.revoked_at IS NULL AND s.expires_at > ?")
            params.append(to_text(self.directory.clock()))
        if user_id is not None:
            where.append("s.user_id = ?")
            params.append(user_id)
        if filter.strip():
            pattern = like_contains(canonical(filter.strip()))
            where.append(
                "(u.user_name_key LIKE ? ESCAPE '\\' OR a.name_key LIKE ? ESCAPE '\\' "
                "OR p.name_key LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern, pattern]
        clause = " AND ".join(where)
        with self.db.read() as conn:
            return joined_page(
                conn,
                _LIST,
                clause,
                params,
                id_column="s.id",
                after=after,
                offset=offset,
                limit=limit,
                from_row=SessionInfo.from_row,
                newest_first=True,
            )

    def _revoke(
        self, where: str, params: tuple[Any, ...], reason: str, target: str, *, own_of: int | None = None
    ) -> int:
        """Revoke the live sessions ``where`` says: in bulk an admin's act; one session (``own_of``: whose
        it is) its user's too."""
        now = to_text(self.directory.clock())
        if own_of is None:
            change = self.directory.change(what="revoke credentials in bulk")
        else:
            change = self.directory.change(
                Rule.SELF, subject=own_of, what="revoke another user's credentials"
            )
        with change as conn:
            count = conn.execute(
                f"UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE revoked_at IS NULL "
                f"AND expires_at > ? AND {where}",
                (now, reason, now, *params),
            ).rowcount
            self.directory.record(
                conn,
                at=now,
                action="session.revoke",
                target=target,
                extra={"sessions": count, "reason": reason},
            )
        return count

    def revoke(self, session_id: int, reason: str = "revoked by an admin") -> int:
        info = self.get(session_id)
        return self._revoke(
            "id = ?", (session_id,), reason, f"session:{info.access_key_id}", own_of=info.user_id
        )

    def revoke_user(self, user_id: int, reason: str = "revoked by an admin") -> int:
        return self._revoke("user_id = ?", (user_id,), reason, self._target("users", "user_name", user_id))

    def revoke_account(self, account_id: int, reason: str = "revoked by an admin") -> int:
        return self._revoke(
            "account_id = ?", (account_id,), reason, self._target("accounts", "name", account_id)
        )

    def revoke_permission_set(self, permission_set_id: int, reason: str = "revoked by an admin") -> int:
        return self._revoke(
            "permission_set_id = ?",
            (permission_set_id,),
            reason,
            self._target("permission_sets", "name", permission_set_id),
        )

    def _target(self, table: str, column: str, row_id: int) -> str:
        """``user:alice`` for the audit log; NotFound for an id that names nothing."""
        row = self.db.query_one(f"SELECT {column} FROM {table} WHERE id = ?", (row_id,))
        if row is None:
            raise NotFound(f"{table[:-1].replace('_', ' ')} #{row_id} does not exist")
        return f"{table[:-1]}:{row[0]}"

    def revoke_all(self, reason: str = "revoked by an admin") -> int:
        return self._revoke("1", (), reason, "sessions:all")

    def end_ungranted(
        self,
        conn: sqlite3.Connection,
        reason: str,
        *,
        user_ids: Iterable[int] | None = None,
        account_id: int | None = None,
        permission_set_id: int | None = None,
    ) -> int:
        """Inside the transaction of a change that took a grant away (an assignment or membership removed, or
        its expiry brought forward): revoke the live sessions among those named that no path grants any
        more, with ``reason``, and end the others no later than the grant that is left. Returns how many
        were revoked. Verify then refuses them at once: a session never outlives its grant."""
        where = ["revoked_at IS NULL", "expires_at > ?"]
        params: list[object] = [self.directory.now_text()]
        if user_ids is not None:
            ids = sorted(set(user_ids))
            if not ids:
                return 0
            # One parameter however many users (a sync that empties a big group names 100,000): SQLite
            # caps the parameters of a statement (32,766 in many builds).
            where.append("user_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        for column, value in (("account_id", account_id), ("permission_set_id", permission_set_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        now = self.directory.clock()
        revoked = 0
        for session_id, user_id, account, pset, expires_at in conn.execute(
            "SELECT id, user_id, account_id, permission_set_id, expires_at FROM sessions WHERE "
            + " AND ".join(where),
            params,
        ).fetchall():
            grant = is_assigned(self.directory, user_id, account, pset, now)
            if grant is None:
                conn.execute(
                    "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ?",
                    (to_text(now), reason, session_id),
                )
                revoked += 1
            elif grant.expires_at is not None and grant.expires_at < expires_at:
                conn.execute(
                    "UPDATE sessions SET expires_at = ? WHERE id = ?", (grant.expires_at, session_id)
                )
        return revoked

    def sweep(self, retention: timedelta = DEFAULT_RETENTION) -> int:
        """Delete sessions that expired or were revoked more than ``retention`` ago."""
        now = self.directory.clock()
        cutoff = to_text(now - retention)
        with self.directory.change(what="delete old sessions") as conn:
            count = conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR (revoked_at IS NOT NULL AND revoked_at <= ?)",
                (cutoff, cutoff),
            ).rowcount
            if count:
                self.directory.record(
                    conn,
                    at=to_text(now),
                    action="session.sweep",
                    target="sessions",
                    extra={"deleted": count, "older_than": cutoff},
                )
        return count
