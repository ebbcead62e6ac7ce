"""A user's sign-in credentials: password, TOTP authenticator, recovery codes. (Access keys: ``access_keys``.)

Every change is one transaction with its audit event, and none of them ever writes a secret anywhere but its
hashed or sealed column: passwords as argon2id hashes, recovery codes as SHA-256, TOTP secrets sealed with the
directory key (AES-GCM, bound to the user's row). A password change (other than the first), an MFA reset or
replacement end the user's sessions and portal sign-ins. Root always keeps a password and an authenticator.

Passwords of users imported from an identity provider belong to that provider (set there, imported as hashes):
they are not set here. Authenticators, recovery codes and access keys are tui's own, for every user.
Credential changes do not bump the user row's ``version``: an admin editing the profile meanwhile is not
refused for a change that did not touch the profile.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from store.clock import from_text, to_text
from store.crypto import (
    check_password,
    hash_password,
    hash_recovery_code,
    match_totp,
    new_recovery_codes,
    new_totp_secret,
    normalize_secret,
    password_expires_at,
    provisioning_uri,
    qr_text,
    seal,
    unseal,
    verify_password,
)
from store.errors import NotFound, Refused, ValidationError
from store.names import quoted
from store.rights import Rule

if TYPE_CHECKING:
    from store.directory import Directory
    from store.sign_in import SignIn

ISSUER = "tui"
RECOVERY_CODE_COUNT = 10
# How many earlier password hashes are kept for reuse prevention (IAM's maximum for the setting).
HISTORY_KEPT = 24
WHAT = "change another user's credentials"


def totp_associated_data(user_id: int) -> bytes:
    """What a sealed TOTP secret is bound to: copied to another user's row, it does not open."""
    return f"totp:user:{user_id}".encode()


def totp_uri(secret: str, account_name: str) -> str:
    """The otpauth URI for an authenticator app. The algorithm, digit and period parameters are left out:
    they are the defaults of the key URI format (SHA-1, 6, 30 s), and without them the QR code is small enough
    (37 × 19 characters) to fit an 80 × 24 terminal."""
    uri = provisioning_uri(secret, account_name, ISSUER)
    return uri.replace("&algorithm=SHA1&digits=6&period=30", "")


@dataclass(frozen=True)
class TotpEnrolment:
    """A new authenticator secret waiting for its first code. Nothing is stored until it is confirmed."""

    user_id: int | None
    account_name: str
    secret: str = field(repr=False)

    @property
    def uri(self) -> str:
        return totp_uri(self.secret, self.account_name)

    def qr(self, *, dark_background: bool = True) -> str:
        return qr_text(self.uri, dark_background=dark_background)

    @property
    def grouped_secret(self) -> str:
        """The base32 secret in groups of four, as people type it into an app."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class CredentialStatus:
    """What a user can sign in with, and its state. No secrets."""

    user_id: int
    user_name: str
    is_root: bool
    status: str
    has_password: bool
    password_changed_at: str | None
    password_expires_at: str | None
    password_expired: bool
    must_change_password: bool
    mfa: bool
    mfa_reenrol: bool
    recovery_codes_left: int
    failed_sign_ins: int
    locked_until: str | None
    last_sign_in_at: str | None


def check_code_step(secret: str, code: str, at: datetime, last_step: int | None) -> int:
    """The TOTP step ``code`` proves, or a ValidationError naming the ``code`` field."""
    step = match_totp(secret, code, at, last_step)
    if step is None:
        raise ValidationError(
            "code: that code does not match: enter the 6 digits your authenticator shows now "
            "(check that this computer's clock is right)",
            "code",
        )
    return step


def _owed_step(proof: SignIn | None, user_id: int, step: str, *, otherwise: Rule = Rule.SELF) -> Rule:
    """The rule for a step a sign-in owes (``SignIn.pending``): the sign-in itself, a proof of the user's
    password (and code) the store made moments ago, when it is that user's and owes that step; else
    ``otherwise``."""
    if proof is not None and proof.user.id == user_id and step in proof.pending:
        return Rule.AUTHENTICATION
    return otherwise


class CredentialService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    # -- helpers ------------------------------------------------------------------------------------------

    def _user(self, conn: sqlite3.Connection, user_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"user #{user_id} does not exist (it may have been deleted)")
        return row

    def _audit(self, conn: sqlite3.Connection, action: str, user: sqlite3.Row, **extra: Any) -> None:
        self.directory.record(
            conn,
            at=self.directory.now_text(),
            action=action,
            target=f"user:{user['user_name']}",
            extra=extra or None,
        )

    @staticmethod
    def _local_password(user: sqlite3.Row) -> None:
        if user["source"] != "local":
            raise Refused(
                f"{quoted(user['user_name'])} is managed by the identity provider "
                f"{quoted(user['source'])}: its password is changed there and imported; here it can only be "
                "disabled"
            )

    def _history(self, conn: sqlite3.Connection, user: sqlite3.Row) -> list[str]:
        """Earlier password hashes, newest first, the current one included (as IAM counts reuse)."""
        rows = conn.execute(
            "SELECT password_hash FROM password_history WHERE user_id = ? ORDER BY set_at DESC, rowid DESC",
            (user["id"],),
        ).fetchall()
        current = [user["password_hash"]] if user["password_hash"] else []
        return current + [row[0] for row in rows]

    def _checked_hash(self, conn: sqlite3.Connection, user: sqlite3.Row, password: str) -> str:
        if not isinstance(password, str) or not password:
            raise ValidationError("password: a password is required", "password")
        policy = self.directory.password_policy._read(conn).policy
        reasons = check_password(policy, password, user["user_name"], self._history(conn, user))
        if reasons:
            raise ValidationError("password: " + " ".join(reasons), "password")
        return hash_password(password)

    def _store_password(
        self, conn: sqlite3.Connection, user: sqlite3.Row, new_hash: str, *, must_change: bool
    ) -> None:
        now = self.directory.now_text()
        if user["password_hash"]:
            conn.execute(
                "INSERT INTO password_history (user_id, password_hash, set_at) VALUES (?, ?, ?)",
                (user["id"], user["password_hash"], user["password_changed_at"] or now),
            )
            conn.execute(
                "DELETE FROM password_history WHERE user_id = ? AND rowid NOT IN (SELECT rowid FROM "
                "password_history WHERE user_id = ? ORDER BY set_at DESC, rowid DESC LIMIT ?)",
                (user["id"], user["id"], HISTORY_KEPT),
            )
        conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = ?, "
            "failed_sign_ins = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
            (new_hash, now, int(must_change), now, user["id"]),
        )

    # -- reading ------------------------------------------------------------------------------------------

    def status(self, user_id: int) -> CredentialStatus:
        with self.db.read() as conn:
            user = self._user(conn, user_id)
            left = conn.execute(
                "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", (user_id,)
            ).fetchone()[0]
            policy = self.directory.password_policy._read(conn).policy
        now = self.directory.clock()
        expires = None
        if user["password_hash"] and user["password_changed_at"]:
            moment = password_expires_at(policy, from_text(user["password_changed_at"]))
            expires = to_text(moment) if moment is not None else None
        return CredentialStatus(
            user_id=user["id"],
            user_name=user["user_name"],
            is_root=bool(user["is_root"]),
            status=user["status"],
            has_password=user["password_hash"] is not None,
            password_changed_at=user["password_changed_at"],
            password_expires_at=expires,
            password_expired=expires is not None and from_text(expires) <= now,
            must_change_password=bool(user["must_change_password"]),
            mfa=user["totp_secret_sealed"] is not None,
            mfa_reenrol=bool(user["mfa_reenrol"]),
            recovery_codes_left=int(left),
            failed_sign_ins=int(user["failed_sign_ins"]),
            locked_until=user["locked_until"],
            last_sign_in_at=user["last_sign_in_at"],
        )

    # -- passwords ----------------------------------------------------------------------------------------

    def set_password(self, user_id: int, password: str, *, must_change: bool = False) -> None:
        """Set or reset a user's password (an administrator's action). The policy applies; a reset ends the
        user's sessions and portal sign-ins. ``must_change``: the user must pick a new one at next sign-in.
        Not self-service: a user changes their own with :meth:`change_password`, proving the current one."""
        with self.directory.change(what="set a user's password without the current one") as conn:
            user = self._user(conn, user_id)
            self._local_password(user)
            new_hash = self._checked_hash(conn, user, password)
            had_password = user["password_hash"] is not None
            self._store_password(conn, user, new_hash, must_change=must_change)
            if had_password:
                self.directory.end_user_sessions(conn, user_id, "password reset")
            self._audit(
                conn,
                "user.password.reset" if had_password else "user.password.set",
                user,
                must_change_password=must_change,
            )

    def change_password(self, user_id: int, current_password: str, new_password: str) -> None:
        """A user changes their own password, proving the current one. Ends their other sign-ins."""
        self.directory.require(Rule.SELF, subject=user_id, what=WHAT)  # before the slow hash check
        with self.db.read() as conn:
            stored = self._user(conn, user_id)["password_hash"]
        ok, _ = verify_password(current_password, stored)
        if not ok:
            raise ValidationError("currentPassword: the current password is not right", "currentPassword")
        with self.directory.change(Rule.SELF, subject=user_id, what=WHAT) as conn:
            user = self._user(conn, user_id)
            if user["password_hash"] != stored:
                raise Refused("the password was changed meanwhile: sign in again")
            self._change(conn, user, new_password)

    def complete_password_change(
        self, user_id: int, new_password: str, *, proof: SignIn | None = None
    ) -> None:
        """The new password of a user who just signed in and must change theirs. Refused when no change is
        due. ``proof``: that sign-in, which proved the current password moments ago; it is the right to make
        the change (the console's sign-in screen acts as nobody after a sign-out: without it, anyone forced
        to change their password there was refused). Without it, the rights are the user's own or an admin's.
        """
        with self.directory.change(
            _owed_step(proof, user_id, "change_password"), subject=user_id, what=WHAT
        ) as conn:
            user = self._user(conn, user_id)
            if not user["must_change_password"] and not self._expired(conn, user):
                raise Refused("no password change is due for this user")
            self._change(conn, user, new_password)

    def _change(self, conn: sqlite3.Connection, user: sqlite3.Row, new_password: str) -> None:
        new_hash = self._checked_hash(conn, user, new_password)
        if verify_password(new_password, user["password_hash"])[0]:
            raise ValidationError("password: the new password must differ from the current one", "password")
        self._store_password(conn, user, new_hash, must_change=False)
        self.directory.end_user_sessions(conn, user["id"], "password changed")
        self._audit(conn, "user.password.change", user)

    def _expired(self, conn: sqlite3.Connection, user: sqlite3.Row) -> bool:
        if not user["password_hash"] or not user["password_changed_at"]:
            return False
        policy = self.directory.password_policy._read(conn).policy
        moment = password_expires_at(policy, from_text(user["password_changed_at"]))
        return moment is not None and moment <= self.directory.clock()

    def remove_password(self, user_id: int) -> None:
        """Take away a user's password (they can no longer sign in with one). Not for root."""
        with self.directory.change(what="remove a user's password") as conn:
            user = self._user(conn, user_id)
            if user["is_root"]:
                raise Refused("root always has a password: set a new one instead")
            self._local_password(user)
            if user["password_hash"] is None:
                return
            conn.execute(
                "INSERT INTO password_history (user_id, password_hash, set_at) VALUES (?, ?, ?)",
                (user_id, user["password_hash"], user["password_changed_at"] or self.directory.now_text()),
            )
            conn.execute(
                "UPDATE users SET password_hash = NULL, password_changed_at = NULL, "
                "must_change_password = 0, updated_at = ? WHERE id = ?",
                (self.directory.now_text(), user_id),
            )
            self.directory.end_user_sessions(conn, user_id, "password removed")
            self._audit(conn, "user.password.remove", user)

    # -- TOTP ---------------------------------------------------------------------------------------------

    def begin_totp(self, user_id: int, *, proof: SignIn | None = None) -> TotpEnrolment:
        """A fresh secret for the user to add to an authenticator app. Nothing changes until
        :meth:`confirm_totp` receives a code from it. ``proof``: a recovery-code sign-in that owes this
        enrolment (as :meth:`complete_password_change`'s)."""
        self.directory.require_key()
        self.directory.require(_owed_step(proof, user_id, "enrol_totp"), subject=user_id, what=WHAT)
        with self.db.read() as conn:
            user = self._user(conn, user_id)
        return TotpEnrolment(user_id, user["user_name"], new_totp_secret())

    def confirm_totp(
        self, user_id: int, secret: str, code: str, *, recovering: SignIn | None = None
    ) -> list[str]:
        """Enrol (or replace) the user's authenticator once ``code`` proves it works, and issue 10 new
        recovery codes, returned once. Replacing an authenticator ends the user's sessions and portal
        sign-ins. ``recovering``: the recovery-code sign-in this enrolment completes; its code is spent in the
        same transaction (refused, nothing changed, if it was spent or replaced meanwhile)."""
        key = self.directory.require_key()
        # Rights first: the code's answer must tell someone without them nothing. A recovery-code sign-in
        # that owes this enrolment is its own right (password and recovery code proven; the code is spent
        # below, in the same transaction).
        rule = _owed_step(recovering, user_id, "enrol_totp", otherwise=Rule.OWN_AUTHENTICATOR)
        self.directory.require(rule, subject=user_id, what=WHAT)
        secret = normalize_secret(secret)
        step = check_code_step(secret, code, self.directory.clock(), None)
        with self.directory.change(rule, subject=user_id, what=WHAT) as conn:
            user = self._user(conn, user_id)
            spent = recovering.recovery_code_hash if recovering is not None else None
            if spent is not None and (
                recovering is None
                or recovering.user.id != user_id
                or conn.execute(
                    "UPDATE recovery_codes SET used_at = ? "
                    "WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
                    (self.directory.now_text(), user_id, spent),
                ).rowcount
                != 1
            ):
                raise Refused("that recovery code was used or replaced meanwhile: sign in again")
            replacing = user["totp_secret_sealed"] is not None
            sealed = seal(key, secret.encode("ascii"), totp_associated_data(user_id))
            now = self.directory.now_text()
            conn.execute(
                "UPDATE users SET totp_secret_sealed = ?, totp_last_step = ?, mfa_reenrol = 0, "
                "updated_at = ? WHERE id = ?",
                (sealed, step, now, user_id),
            )
            codes = self._new_codes(conn, user_id)
            if replacing:
                self.directory.end_user_sessions(conn, user_id, "MFA replaced")
            extra: dict[str, Any] = {"recovery_codes_issued": len(codes)}
            if spent is not None:
                extra["recovery_code_used"] = True
            self._audit(conn, "user.mfa.replace" if replacing else "user.mfa.enable", user, **extra)
            return codes

    def reset_totp(self, user_id: int) -> None:
        """Remove the user's authenticator and recovery codes (a lost device, by an administrator). Ends their
        sessions and portal sign-ins. Root cannot lose MFA: replace root's authenticator instead."""
        with self.directory.change(what="reset a user's MFA") as conn:
            user = self._user(conn, user_id)
            if user["is_root"]:
                raise Refused("root cannot lose MFA: enrol a new authenticator for root instead")
            if user["totp_secret_sealed"] is None and not user["mfa_reenrol"]:
                raise Refused(f"{quoted(user['user_name'])} has no authenticator to reset")
            conn.execute(
                "UPDATE users SET totp_secret_sealed = NULL, totp_last_step = NULL, mfa_reenrol = 0, "
                "updated_at = ? WHERE id = ?",
                (self.directory.now_text(), user_id),
            )
            conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
            self.directory.end_user_sessions(conn, user_id, "MFA reset")
            self._audit(conn, "user.mfa.reset", user)

    def totp_secret(self, conn: sqlite3.Connection, user: sqlite3.Row) -> str | None:
        """The user's TOTP secret, unsealed (for checking a code inside a sign-in transaction)."""
        if user["totp_secret_sealed"] is None:
            return None
        return unseal(
            self.directory.require_key(), user["totp_secret_sealed"], totp_associated_data(user["id"])
        ).decode("ascii")

    # -- recovery codes -----------------------------------------------------------------------------------

    def _new_codes(self, conn: sqlite3.Connection, user_id: int) -> list[str]:
        codes = new_recovery_codes(RECOVERY_CODE_COUNT)
        conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
        conn.executemany(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)",
            [(user_id, hash_recovery_code(code)) for code in codes],
        )
        return codes

    def regenerate_recovery_codes(self, user_id: int) -> list[str]:
        """Replace the user's recovery codes with 10 new ones, returned once (the old ones stop working)."""
        with self.directory.change(Rule.SELF, subject=user_id, what=WHAT) as conn:
            user = self._user(conn, user_id)
            if user["totp_secret_sealed"] is None:
                raise Refused(
                    f"{quoted(user['user_name'])} has no authenticator: recovery codes stand in for one, so "
                    "enrol an authenticator first"
                )
            codes = self._new_codes(conn, user_id)
            self._audit(conn, "user.recovery_codes.regenerate", user, recovery_codes_issued=len(codes))
            return codes
