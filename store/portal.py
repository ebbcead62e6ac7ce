"""Portal sign-ins: the bearer token a successful sign-in leaves behind, for the sessions work to build on.

A portal token is 256 random bits; only its SHA-256 is stored (``portal_tokens``). It lasts 12 hours, says
whether the sign-in used MFA, and dies early when revoked: sign-out, password change or reset, MFA reset or
replacement, disable or delete (``Directory.end_user_sessions``).

The API is small on purpose:

``PortalService.issue(sign_in)``
    After :meth:`store.sign_in.SignInService.attempt` succeeded (and nothing is owed: a password change or a
    new authenticator), store a token and return a :class:`SignedIn` holding it.
``PortalService.issue_for(user_id, client=…, method=…, mfa=…)``
    The same for an identity proven some other way (the SSH server's public-key sign-in).
``PortalService.verify(token)`` → :class:`SignedIn`
    Raises :class:`NotSignedIn` for an unknown, expired or revoked token, or a user disabled since.
``PortalService.require(token, mfa=True, max_age=timedelta(...))`` → :class:`SignedIn`
    ``verify`` plus the checks a sensitive action wants: the sign-in used MFA, and is younger than
    ``max_age`` (see :func:`sign_in_age`). Raises :class:`NotSignedIn` with a message saying what to do.
``PortalService.revoke(token)``
    Sign out.
``PortalService.recent_mfa_sign_in(user_id, max_age=…)`` → :class:`SignedIn` | None
    The user's newest live MFA sign-in, for a server that holds no token (``tui serve``'s ``credentials``).

``tui login`` keeps the token in a per-user cache file (mode 0600, in a 0700 folder):
:func:`login_cache_path`, :func:`save_login`, :func:`load_login`, :func:`forget_login`, and
:func:`cached_sign_in` which loads and verifies it in one call.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from store.audit import Actor
from store.clock import from_text, to_text
from store.crypto import hash_secret, new_portal_token
from store.errors import NotFound, Refused, StoreError
from store.files import private_folder, write_private
from store.names import quoted
from store.rights import Rule

if TYPE_CHECKING:
    from store.directory import Directory
    from store.sign_in import SignIn

PORTAL_LIFETIME = timedelta(hours=12)
CLIENTS = ("console", "cli", "ssh")


class NotSignedIn(StoreError):
    """No usable sign-in: the message says what to do (usually: run tui login)."""


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, how and since when. ``token`` is the bearer secret (None for an identity vouched for
    by the program itself, as tests do); it never shows in a repr."""

    user_id: int | None
    user_name: str
    is_root: bool
    mfa: bool
    method: str
    client: str
    signed_in_at: str
    expires_at: str | None
    token: str | None = field(default=None, repr=False, compare=False)
    # Its row in portal_tokens: a principal acting under it names it, and every change checks it is live.
    sign_in_id: int | None = None

    def actor(self) -> Actor:
        """The audit actor for changes made under this sign-in: the user's name, through its client."""
        return Actor(self.user_name, self.client)


def sign_in_age(signed_in: SignedIn, now: datetime) -> timedelta:
    """How long ago ``signed_in`` signed in (what "sign in again for this" checks compare)."""
    return now - from_text(signed_in.signed_in_at)


class PortalService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def _audit(
        self, conn: Any, action: str, user_name: str, actor: Actor | None = None, **extra: Any
    ) -> None:
        self.directory.record(
            conn,
            at=self.directory.now_text(),
            action=action,
            target=f"user:{user_name}",
            extra=extra,
            actor=actor,
        )

    def issue(self, sign_in: SignIn, *, lifetime: timedelta = PORTAL_LIFETIME) -> SignedIn:
        """A token for a successful sign-in. Refused while the user owes a password change or a new
        authenticator (complete those first), or if they were disabled since."""
        return self._issue(
            sign_in.user.id,
            client=sign_in.client,
            method=sign_in.method,
            mfa=sign_in.mfa,
            signed_in_at=sign_in.at,
            lifetime=lifetime,
            check_pending=True,
            rule=Rule.AUTHENTICATION,  # the SignIn is the proof: password and code were checked
            recovery_code_hash=sign_in.recovery_code_hash,
        )

    def issue_for(
        self,
        user_id: int,
        *,
        client: str,
        method: str,
        mfa: bool,
        lifetime: timedelta = PORTAL_LIFETIME,
        counts_as_sign_in: bool = False,
        proof: SignIn | None = None,
    ) -> SignedIn:
        """A token for an identity the caller proved itself (e.g. an SSH public key): signed in now.
        ``counts_as_sign_in``: the caller checked the password and a code itself (the first-run wizard), so
        the user's last sign-in (root's "last used" flag) is now.

        With ``mfa`` the store wants to see the second factor proven, not only be told: ``proof``, the
        :class:`SignIn` of that user's code (``sign_in.step_up``), or the owner acting (the first-run wizard,
        which checked root's code as it made root). A signed-in user's own code path could otherwise mint
        itself an MFA sign-in, and with it administration."""
        proven = proof is not None and proof.mfa and proof.user.id == user_id
        if mfa and not self.directory.principal.owner and not proven:
            self.directory.require(Rule.SELF, subject=user_id, what="sign in as another user")  # who, first
            raise Refused("an MFA sign-in needs the user's second factor checked first")
        return self._issue(
            user_id,
            client=client,
            method=method,
            mfa=mfa,
            signed_in_at=self.directory.now_text(),
            lifetime=lifetime,
            check_pending=False,
            counts_as_sign_in=counts_as_sign_in,
            rule=Rule.SELF,  # proven by the caller: the owner's program, or the user themself (step-up)
        )

    def _issue(
        self,
        user_id: int,
        *,
        client: str,
        method: str,
        mfa: bool,
        signed_in_at: str,
        lifetime: timedelta,
        check_pending: bool,
        rule: Rule,
        counts_as_sign_in: bool = False,
        recovery_code_hash: str | None = None,
    ) -> SignedIn:
        if client not in CLIENTS:
            raise ValueError(f"unknown client {quoted(client)}")
        token = new_portal_token()
        with self.directory.change(rule, subject=user_id, what="sign in as another user") as conn:
            user = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise NotFound(f"user #{user_id} does not exist (it may have been deleted)")
            if user["status"] != "active":
                raise Refused(f"{quoted(user['user_name'])} is disabled")
            if check_pending:
                if user["must_change_password"] or self.directory.credentials._expired(conn, user):
                    raise Refused("a new password must be chosen before this sign-in can be used")
                # A recovery-code sign-in completes with a new authenticator, whose enrolment spends the code.
                unspent = (
                    recovery_code_hash is not None
                    and conn.execute(
                        "SELECT 1 FROM recovery_codes "
                        "WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
                        (user_id, recovery_code_hash),
                    ).fetchone()
                )
                if user["mfa_reenrol"] or unspent:
                    raise Refused(
                        "a new authenticator must be enrolled before this sign-in can be used "
                        "(a recovery code was used)"
                    )
            expires = to_text(from_text(signed_in_at) + lifetime)
            if counts_as_sign_in:
                conn.execute("UPDATE users SET last_sign_in_at = ? WHERE id = ?", (signed_in_at, user_id))
            sign_in_id = conn.execute(
                "INSERT INTO portal_tokens (user_id, token_hash, mfa, created_at, expires_at, client, "
                "method) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, hash_secret(token), int(mfa), signed_in_at, expires, client, method),
            ).lastrowid
            self._audit(
                conn,
                "portal.issue",
                user["user_name"],
                client=client,
                method=method,
                mfa=mfa,
                expires_at=expires,
            )
        return SignedIn(
            user_id,
            user["user_name"],
            bool(user["is_root"]),
            mfa,
            method,
            client,
            signed_in_at,
            expires,
            token,
            sign_in_id,
        )

    def verify(self, token: str) -> SignedIn:
        """The sign-in ``token`` belongs to, if it is still good; NotSignedIn otherwise."""
        row = None
        if isinstance(token, str) and token:
            with self.db.read() as conn:
                row = conn.execute(
                    "SELECT p.*, u.user_name, u.is_root, u.status FROM portal_tokens p JOIN users u "
                    "ON u.id = p.user_id WHERE p.token_hash = ?",
                    (hash_secret(token),),
                ).fetchone()
        if row is None:
            raise NotSignedIn("not signed in: run tui login")
        if row["revoked_at"] is not None:
            reason = f" ({row['revoked_reason']})" if row["revoked_reason"] else ""
            raise NotSignedIn(f"this sign-in was ended{reason}: run tui login again")
        if row["expires_at"] <= self.directory.now_text():
            raise NotSignedIn("this sign-in has expired: run tui login again")
        if row["status"] != "active":
            raise NotSignedIn(f"{quoted(row['user_name'])} is disabled")
        return SignedIn(
            row["user_id"],
            row["user_name"],
            bool(row["is_root"]),
            bool(row["mfa"]),
            row["method"],  # as it was made: a key-only console's sign-in is not a password's
            row["client"],
            row["created_at"],
            row["expires_at"],
            token,
            row["id"],
        )

    def require(self, token: str, *, mfa: bool = True, max_age: timedelta | None = None) -> SignedIn:
        """``verify``, then insist on MFA and (with ``max_age``) a sign-in younger than that."""
        signed_in = self.verify(token)
        if mfa and not signed_in.mfa:
            raise NotSignedIn(
                "this needs a sign-in with MFA: enrol an authenticator, then run tui login again"
            )
        if max_age is not None and sign_in_age(signed_in, self.directory.clock()) > max_age:
            raise NotSignedIn("this needs a recent sign-in: run tui login again")
        return signed_in

    def recent_mfa_sign_in(self, user_id: int, *, max_age: timedelta = PORTAL_LIFETIME) -> SignedIn | None:
        """The user's newest live sign-in made with MFA and younger than ``max_age``, or None. For a server
        that holds no token of its own (``tui serve`` answering ``credentials``: the person signed in earlier
        in the console or with ``ssh -t HOST login``). The result carries no token."""
        now = self.directory.clock()
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT p.*, u.user_name, u.is_root, u.status FROM portal_tokens p JOIN users u ON u.id = "
                "p.user_id WHERE p.user_id = ? AND p.mfa = 1 AND p.revoked_at IS NULL AND p.expires_at > ? "
                "AND p.created_at >= ? ORDER BY p.created_at DESC, p.id DESC LIMIT 1",
                (user_id, to_text(now), to_text(now - max_age)),
            ).fetchone()
        if row is None or row["status"] != "active":
            return None
        return SignedIn(
            row["user_id"],
            row["user_name"],
            bool(row["is_root"]),
            True,
            row["method"],  # as it was made: a password's, or a key's stepped up with a code
            row["client"],
            row["created_at"],
            row["expires_at"],
            sign_in_id=row["id"],
        )

    def touch(self, token: str) -> None:
        """Record that the sign-in was just used."""
        with self.directory.change(Rule.AUTHENTICATION) as conn:  # the token is the proof
            conn.execute(
                "UPDATE portal_tokens SET last_used_at = ? WHERE token_hash = ?",
                (self.directory.now_text(), hash_secret(token)),
            )

    def revoke(self, token: str, reason: str = "signed out") -> bool:
        """End the sign-in. False when it was unknown or already over."""
        with self.directory.change(Rule.AUTHENTICATION) as conn:  # the token is the proof
            row = conn.execute(
                "SELECT p.id, u.user_name FROM portal_tokens p JOIN users u ON u.id = p.user_id "
                "WHERE p.token_hash = ? AND p.revoked_at IS NULL",
                (hash_secret(token),),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE portal_tokens SET revoked_at = ?, revoked_reason = ? WHERE id = ?",
                (self.directory.now_text(), reason, row["id"]),
            )
            # Only the sign-in's holder has its token: ending it is their act, whoever the console acts as
            # by the time this runs (a sign-out's revoke runs after the console went back to its gate).
            holder = Actor(row["user_name"], self.directory.actor.source)
            self._audit(conn, "portal.revoke", row["user_name"], actor=holder, reason=reason)
            return True


# --- the login cache of ``tui login`` ---------------------------------------------------------------------


@dataclass(frozen=True)
class CachedLogin:
    database: str
    user_name: str
    expires_at: str
    token: str = field(repr=False)


def login_cache_path(db_path: str | os.PathLike[str]) -> Path:
    """Where ``tui login`` keeps the token for the directory at ``db_path``: the user's cache folder
    (``$XDG_CACHE_HOME/tui/logins/``), one file per directory."""
    digest = hashlib.sha256(str(Path(db_path).expanduser().resolve()).encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("tui")) / "logins" / f"{digest}.json"


def save_login(path: Path, db_path: str | os.PathLike[str], signed_in: SignedIn) -> None:
    """Write the cache file (0600, atomically replaced)."""
    if signed_in.token is None:
        raise ValueError("this sign-in has no token to cache")
    private_folder(path.parent)
    document = {
        "database": str(Path(db_path).expanduser().resolve()),
        "user": signed_in.user_name,
        "expires_at": signed_in.expires_at,
        "token": signed_in.token,
    }
    write_private(path, (json.dumps(document) + "\n").encode())


def load_login(path: Path) -> CachedLogin | None:
    """The cached login, or None when there is none. A cache readable by others is refused (and not read)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise NotSignedIn(f"{path} is not a regular file: delete it and run tui login again")
    if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
        raise NotSignedIn(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}): delete it and "
            "run tui login again"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return CachedLogin(
            str(document["database"]),
            str(document["user"]),
            str(document["expires_at"]),
            str(document["token"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise NotSignedIn(f"{path} is damaged: run tui login again") from None


def forget_login(path: Path) -> None:
    path.unlink(missing_ok=True)


def cached_sign_in(
    directory: Directory,
    db_path: str | os.PathLike[str],
    *,
    mfa: bool = False,
    max_age: timedelta | None = None,
) -> SignedIn:
    """The verified sign-in ``tui login`` cached for this directory (see :meth:`PortalService.require`)."""
    cached = load_login(login_cache_path(db_path))
    if cached is None:
        raise NotSignedIn("not signed in: run tui login --user NAME")
    if mfa or max_age is not None:
        return directory.portal.require(cached.token, mfa=mfa, max_age=max_age)
    return directory.portal.verify(cached.token)
