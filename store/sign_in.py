"""Signing in: user name + password + (for identities with an authenticator) a TOTP code or a recovery code.

One service for the console, ``tui login`` and anything else that signs people in. What it guarantees:

- **One answer for every failure.** Unknown user, wrong password, wrong or missing code, disabled, locked: the
  same :class:`SignInFailed` message. An unknown user costs one password verification's time
  (``dummy_verify``), and a locked identity's password is still verified, so timing says nothing either.
- **A TOTP step is accepted once.** The matched step is stored in ``users.totp_last_step`` in the same
  ``BEGIN IMMEDIATE`` transaction that checks it, so two processes racing with the same code cannot both win.
- **Throttling per identity, across processes.** Failures are counted in the database. From the 5th
  consecutive failure the identity is locked for 1 minute, then 2, 3, … up to 15 minutes per failure; nobody
  (root included) is ever locked for longer, and a success resets the count. Attempts made while locked are
  refused without counting (so a lock cannot be stretched by hammering), and failures older than a day are
  forgotten.
- **Recovery codes** sign in instead of a TOTP code, once each, and leave the sign-in owing a new
  authenticator (``must_enrol_totp``) that the console and ``tui login`` collect before anything else. The
  code is only checked here: it is spent by the enrolment that completes the sign-in
  (``CredentialService.confirm_totp(..., recovering=sign_in)``, one transaction), so a sign-in refused or
  abandoned before that (no terminal to enrol on, a password change owed, a hard-expired password) leaves it
  usable.
- **Every attempt is an audit event** (``sign_in.success`` / ``sign_in.failure`` with the reason and client),
  never with the password or code.
- **Step-up** (:meth:`SignInService.step_up`): an identity proven another way (an SSH public key) adds its
  TOTP code under the same rules: one use per step, the same throttling, the same audit events.
- Passwords hashed with an older scheme (bcrypt, PBKDF2 from imports) are rehashed to argon2id on success.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from store.clock import from_text, to_text
from store.crypto import (
    UnsealError,
    hash_recovery_code,
    match_totp,
    password_expires_at,
    verify_password,
)
from store.errors import StoreError
from store.names import canonical, quoted
from store.rights import Rule
from store.users import User

if TYPE_CHECKING:
    from store.directory import Directory

LOCK_AFTER = 5
LOCK_STEP = timedelta(minutes=1)
LOCK_MAX = timedelta(minutes=15)
FAILURES_FORGOTTEN_AFTER = timedelta(days=1)
CLIENTS = ("console", "cli", "ssh")
# The audit target of a failed sign-in under a name nobody has.
UNKNOWN_USER = "(unknown)"

FAILED_MESSAGE = (
    "Sign-in failed: the user name, password or code is not right, or there were too many "
    "attempts and sign-in is paused for a few minutes. A code works once: if you just used it "
    "(to enrol, say), wait for the next one."
)
EXPIRED_MESSAGE = "Your password has expired: ask an administrator to reset it."


class SignInFailed(StoreError):
    """The one refusal for unknown user, wrong password, wrong code, disabled and locked."""

    def __init__(self) -> None:
        super().__init__(FAILED_MESSAGE)


class PasswordExpired(StoreError):
    """Password and code were right, but the password expired under a hard-expiry policy."""

    def __init__(self) -> None:
        super().__init__(EXPIRED_MESSAGE)


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in. ``must_change_password`` / ``must_enrol_totp``: what the user owes before the
    sign-in may be used (the portal refuses to issue a token while either is due)."""

    user: User
    method: str  # "password", "password+totp", "password+recovery_code"
    mfa: bool
    at: str
    client: str
    must_change_password: bool
    must_enrol_totp: bool
    recovery_codes_left: int | None  # with a recovery code: how many are left once it is spent
    # The recovery code this sign-in used, not yet spent (its hash): the enrolment that completes
    # it spends it.
    recovery_code_hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def pending(self) -> list[str]:
        owed = []
        if self.must_change_password:
            owed.append("change_password")
        if self.must_enrol_totp:
            owed.append("enrol_totp")
        return owed


def lock_duration(failures: int) -> timedelta | None:
    """How long ``failures`` consecutive failures lock an identity: none below 5, then 1 minute per failure
    from the 5th, at most 15."""
    if failures < LOCK_AFTER:
        return None
    return min(LOCK_STEP * (failures - LOCK_AFTER + 1), LOCK_MAX)


def _is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


class _Failure(Exception):
    def __init__(self, reason: str, *, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counts = counts


class SignInService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def attempt(self, user_name: str, password: str, code: str = "", *, client: str = "console") -> SignIn:
        """Sign ``user_name`` in. Raises :class:`SignInFailed` (or :class:`PasswordExpired`, only once
        password and code were proven right); returns a :class:`SignIn` with what the user still owes."""
        if client not in CLIENTS:
            raise ValueError(f"unknown sign-in client {quoted(client)}")
        name = user_name if isinstance(user_name, str) else ""
        password = password if isinstance(password, str) else ""
        code = "".join((code or "").split())[:64]
        key = canonical(name.strip())[:512] if name.strip() else ""
        # Raw sqlite3 here and below, not sqlite-utils: sign-in is a hot path (one indexed read per attempt).
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id, password_hash FROM users WHERE user_name_key = ?", (key,)
            ).fetchone()
        stored_hash = row["password_hash"] if row is not None else None
        # Unknown user, no password, or an over-long password: verify_password spends a
        # real verification's time.
        password_ok, new_hash = verify_password(password, stored_hash)
        now = self.directory.clock()
        outcome: SignIn | _Failure
        with self.directory.change(Rule.AUTHENTICATION) as conn:
            try:
                outcome = self._decide(conn, key, name, stored_hash, password_ok, new_hash, code, now, client)
            except _Failure as failure:
                self._record_failure(conn, key, name, failure, now, client)
                outcome = failure
        if isinstance(outcome, _Failure):
            if outcome.reason == "password_expired":
                raise PasswordExpired()
            raise SignInFailed()
        return outcome

    def step_up(
        self, user_id: int, code: str, *, client: str = "ssh", method: str = "publickey+totp"
    ) -> SignIn:
        """The second factor for an identity already proven another way (the SSH server's public key): the
        user's current TOTP code, under the same rules as :meth:`attempt` — a used step is never accepted
        again (stored in the same transaction), failures count towards the same per-identity lock, attempts
        while locked are refused, and every attempt is a ``sign_in.success`` / ``sign_in.failure`` audit event
        (with ``method``, never the code). Recovery codes are not taken here: they need the password
        (``attempt``). Raises :class:`SignInFailed`; returns a :class:`SignIn` with ``mfa=True``."""
        if client not in CLIENTS:
            raise ValueError(f"unknown sign-in client {quoted(client)}")
        code = "".join((code or "").split())[:64]
        now = self.directory.clock()
        outcome: SignIn | _Failure
        with self.directory.change(Rule.AUTHENTICATION) as conn:
            user = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise SignInFailed()
            try:
                outcome = self._decide_step_up(conn, user, code, now, client, method)
            except _Failure as failure:
                self._record_failure(conn, user["user_name_key"], user["user_name"], failure, now, client)
                outcome = failure
        if isinstance(outcome, _Failure):
            raise SignInFailed()
        return outcome

    # -- inside the transaction ---------------------------------------------------------------------------

    def _decide(
        self,
        conn: sqlite3.Connection,
        key: str,
        name: str,
        stored_hash: str | None,
        password_ok: bool,
        new_hash: str | None,
        code: str,
        now: datetime,
        client: str,
    ) -> SignIn:
        user = conn.execute("SELECT * FROM users WHERE user_name_key = ?", (key,)).fetchone() if key else None
        if user is None:
            raise _Failure("unknown_user", counts=False)
        if user["password_hash"] != stored_hash:
            raise _Failure("password_changed_meanwhile", counts=False)
        now_text = to_text(now)
        if user["locked_until"] is not None and user["locked_until"] > now_text:
            raise _Failure("locked", counts=False)
        if stored_hash is None:
            raise _Failure("no_password")
        if not password_ok:
            raise _Failure("bad_password")
        if user["status"] != "active":
            raise _Failure("disabled", counts=False)

        method, mfa = "password", False
        updates: dict[str, Any] = {}
        recovery_left: int | None = None
        recovery_hash: str | None = None
        reenrol = bool(user["mfa_reenrol"])
        try:
            secret = self.directory.credentials.totp_secret(conn, user)
        except (UnsealError, StoreError):
            raise _Failure("totp_secret_unreadable", counts=False) from None
        if secret is None and user["is_root"]:
            raise _Failure("root_without_mfa", counts=False)  # root never signs in on a password alone
        if secret is not None:
            if _is_totp_code(code):
                step = match_totp(secret, code, now, user["totp_last_step"])
                if step is None:
                    raise _Failure("bad_code")
                updates["totp_last_step"] = step
                method = "password+totp"
            elif code:
                recovery_hash = hash_recovery_code(code)
                found = conn.execute(
                    "SELECT id FROM recovery_codes WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
                    (user["id"], recovery_hash),
                ).fetchone()
                if found is None:
                    raise _Failure("bad_code")
                # Not spent here: only the enrolment that completes this sign-in spends it (see the module).
                reenrol = True
                method = "password+recovery_code"
            else:
                raise _Failure("missing_code")
            mfa = True
            recovery_left = int(
                conn.execute(
                    "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", (user["id"],)
                ).fetchone()[0]
            ) - (recovery_hash is not None)

        policy = self.directory.password_policy._read(conn).policy
        must_change = bool(user["must_change_password"])
        expires = (
            password_expires_at(policy, from_text(user["password_changed_at"]))
            if user["password_changed_at"]
            else None
        )
        if expires is not None and expires <= now:
            if policy.hard_expiry and not user["is_root"]:  # root is never locked out for good
                # A TOTP step was used: it must not work a second time. (A recovery code stays unspent: this
                # sign-in does not complete.)
                if "totp_last_step" in updates:
                    conn.execute(
                        "UPDATE users SET totp_last_step = ? WHERE id = ?",
                        (updates["totp_last_step"], user["id"]),
                    )
                raise _Failure("password_expired", counts=False)
            must_change = True

        if new_hash is not None:
            updates["password_hash"] = new_hash  # an older scheme or parameters: upgrade to argon2id now
        updates.update(
            failed_sign_ins=0, locked_until=None, last_failed_sign_in_at=None, last_sign_in_at=now_text
        )
        assignments = ", ".join(f"{column} = ?" for column in updates)
        conn.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*updates.values(), user["id"]))
        details: dict[str, Any] = {"result": "success", "method": method, "client": client}
        if new_hash is not None:
            details["password_rehashed"] = True
        if recovery_left is not None and method == "password+recovery_code":
            details["recovery_codes_left"] = recovery_left
        self._audit(conn, "sign_in.success", user["user_name"], details, now_text)
        fresh = conn.execute("SELECT * FROM users WHERE id = ?", (user["id"],)).fetchone()
        return SignIn(
            User.from_row(fresh),
            method,
            mfa,
            now_text,
            client,
            must_change,
            reenrol,
            recovery_left,
            recovery_hash,
        )

    def _decide_step_up(
        self, conn: sqlite3.Connection, user: sqlite3.Row, code: str, now: datetime, client: str, method: str
    ) -> SignIn:
        now_text = to_text(now)
        if user["locked_until"] is not None and user["locked_until"] > now_text:
            raise _Failure("locked", counts=False)
        if user["status"] != "active":
            raise _Failure("disabled", counts=False)
        try:
            secret = self.directory.credentials.totp_secret(conn, user)
        except (UnsealError, StoreError):
            raise _Failure("totp_secret_unreadable", counts=False) from None
        if secret is None:
            raise _Failure("no_authenticator", counts=False)
        if not code:
            raise _Failure("missing_code")
        step = match_totp(secret, code, now, user["totp_last_step"]) if _is_totp_code(code) else None
        if step is None:
            raise _Failure("bad_code")
        conn.execute(
            "UPDATE users SET totp_last_step = ?, failed_sign_ins = 0, locked_until = NULL, "
            "last_failed_sign_in_at = NULL, last_sign_in_at = ? WHERE id = ?",
            (step, now_text, user["id"]),
        )
        self._audit(
            conn,
            "sign_in.success",
            user["user_name"],
            {"result": "success", "method": method, "client": client},
            now_text,
        )
        fresh = conn.execute("SELECT * FROM users WHERE id = ?", (user["id"],)).fetchone()
        return SignIn(
            User.from_row(fresh),
            method,
            True,
            now_text,
            client,
            bool(fresh["must_change_password"]),
            bool(fresh["mfa_reenrol"]),
            None,
        )

    def _record_failure(
        self, conn: sqlite3.Connection, key: str, name: str, failure: _Failure, now: datetime, client: str
    ) -> None:
        now_text = to_text(now)
        user = conn.execute("SELECT * FROM users WHERE user_name_key = ?", (key,)).fetchone() if key else None
        details: dict[str, Any] = {"result": "failure", "reason": failure.reason, "client": client}
        if user is not None and failure.counts:
            failures = int(user["failed_sign_ins"])
            last = user["last_failed_sign_in_at"]
            if last is None or now - from_text(last) >= FAILURES_FORGOTTEN_AFTER:
                failures = 0
            failures += 1
            lock = lock_duration(failures)
            locked_until = to_text(now + lock) if lock is not None else None
            conn.execute(
                "UPDATE users SET failed_sign_ins = ?, last_failed_sign_in_at = ?, locked_until = ? "
                "WHERE id = ?",
                (failures, now_text, locked_until, user["id"]),
            )
            details["failures"] = failures
            if locked_until is not None:
                details["locked_until"] = locked_until
        # A name nobody has is whatever was typed, often a password typed one field early: it is not kept (as
        # CloudTrail hides it), so the audit log and its exports never hold a secret or replay its characters.
        target_name = user["user_name"] if user is not None else UNKNOWN_USER
        self._audit(conn, "sign_in.failure", target_name, details, now_text)

    def _audit(
        self, conn: sqlite3.Connection, action: str, user_name: str, details: dict[str, Any], at: str
    ) -> None:
        self.directory.record(
            conn,
            at=at,
            action=action,
            target=f"user:{user_name}",
            extra=details,
        )
