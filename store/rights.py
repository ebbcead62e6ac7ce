"""Who may change what: the one rights check that every change to the directory passes.

Every write transaction is opened by :meth:`store.directory.Directory.change`, which names the :class:`Rule`
the change falls under and checks it right after ``BEGIN IMMEDIATE``, before the change reads or writes
anything: a refusal rolls the transaction back whole, and rights are judged on the committed state of the
moment (an admin removed from the admin group by another console loses their rights at their next change).
Nothing else in ``store/`` opens a write transaction (``tests/test_rights.py`` checks the source for it, and
calls every public method of every service as a user who is not an admin).

Who acts (:class:`Principal`):

- the directory's **owner**: the program run by the OS account that owns the 0600 database and key file (the
  CLI, ``tui serve`` before a sign-in, tests). It may do everything: it could edit the file anyway.
- a **signed-in user**: their rights are those of :data:`Rule` below; administration needs MFA.
- an identity provider's **source** (a provisioning token: SCIM): it may import its own source's users and
  groups, nothing else, and never into the admin group (the importer's rule).
- **nobody**: the console's sign-in screen. Only authentication may write.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum

from store.errors import Refused
from store.names import quoted

ADMIN_GROUP_SETTING = "admin_group"


class Rule(Enum):
    """What a change requires of whoever makes it."""

    # Root or a live member of the admin group, signed in with MFA; or the owner.
    ADMIN = "admin"
    # The subject user themself (their own credentials and sessions), or an admin.
    SELF = "self"
    # Authentication itself: sign-in attempts, their throttling, portal sign-ins bought with a proven secret,
    # an access key's last use. The caller has checked (or is checking, in the same transaction) a secret.
    AUTHENTICATION = "authentication"
    # A user's own first authenticator. For root or an admin-group member it turns one proven factor into
    # administration, so the sign-in must have proven the password: an SSH key alone (a key-only console)
    # does not let its holder enrol an authenticator and step up to admin. Otherwise as SELF.
    OWN_AUTHENTICATOR = "own authenticator"
    # An import of one source's users and groups: an admin, the owner, or that very source's provisioning
    # principal (check's ``source``).
    IMPORT = "import"
    # Creating root in a directory that has none (tui init, the first-run wizard): whoever holds the file.
    # store/identity.py refuses it inside the same transaction once root exists.
    FIRST_RUN = "first run"


@dataclass(frozen=True)
class Principal:
    """Whose rights apply. ``user_id`` None with ``signed_in`` False is nobody (the sign-in screen)."""

    user_id: int | None = None
    mfa: bool = False
    owner: bool = False
    password: bool = False  # the sign-in proved the user's password
    source: str | None = None  # an identity provider's provisioning principal: never a user
    # The provisioning token a source's principal acts with: checked live in every change's transaction, so
    # a request that began before the token was revoked (its body still arriving) changes nothing after.
    token_id: int | None = None
    # The portal sign-in a user acts under (the console, tui credentials, SSH credentials): checked live in
    # every change's transaction the same way, so a sign-in ended meanwhile (signed out, password or MFA
    # reset, user disabled) issues no credentials and changes nothing after it was checked.
    sign_in_id: int | None = None


class CredentialEnded(Refused):
    """The credential a principal acts with (a provisioning token, a portal sign-in) was revoked or expired
    since it was checked."""


OWNER = Principal(owner=True)
NOBODY = Principal()


def is_admin_group(conn: sqlite3.Connection, group_id: int) -> bool:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (ADMIN_GROUP_SETTING,)).fetchone()
    return row is not None and row[0] == str(group_id)


def is_admin(conn: sqlite3.Connection, user_id: int, now: str) -> bool:
    """Root, or an active user with a live membership of the admin group (MFA is judged by the caller)."""
    row = conn.execute(
        "SELECT u.is_root, u.status, (SELECT 1 FROM memberships m JOIN settings s ON s.key = ? "
        "AND m.group_id = CAST(s.value AS INTEGER) WHERE m.user_id = u.id AND (m.expires_at IS NULL "
        "OR m.expires_at > ?)) AS member FROM users u WHERE u.id = ?",
        (ADMIN_GROUP_SETTING, now, user_id),
    ).fetchone()
    if row is None or row[1] != "active":
        return False
    return bool(row[0] or row[2])


def administers(conn: sqlite3.Connection, principal: Principal, now: str) -> bool:
    """Has ``principal`` administrator rights now: the owner, or an admin signed in with MFA."""
    if principal.owner:
        return True
    if principal.user_id is None or not principal.mfa:
        return False
    return is_admin(conn, principal.user_id, now)


def _token_live(conn: sqlite3.Connection, principal: Principal, now: str) -> bool:
    """Is the provisioning token ``principal`` acts with still its source's, unrevoked and unexpired?"""
    return bool(
        conn.execute(
            "SELECT 1 FROM scim_tokens WHERE id = ? AND source = ? AND revoked_at IS NULL AND expires_at > ?",
            (principal.token_id, principal.source, now),
        ).fetchone()
    )


def _sign_in_live(conn: sqlite3.Connection, principal: Principal, now: str) -> bool:
    """Is the portal sign-in ``principal`` acts under unrevoked, unexpired, its user still active, and (for
    a user's principal) that user's own?"""
    return bool(
        conn.execute(
            "SELECT 1 FROM portal_tokens p JOIN users u ON u.id = p.user_id WHERE p.id = ? "
            "AND p.revoked_at IS NULL AND p.expires_at > ? AND u.status = 'active' "
            "AND (?3 IS NULL OR p.user_id = ?3)",
            (principal.sign_in_id, now, principal.user_id),
        ).fetchone()
    )


def check(
    conn: sqlite3.Connection,
    principal: Principal,
    rule: Rule,
    now: str,
    *,
    subject: int | None = None,
    source: str | None = None,
    what: str = "change the directory",
) -> None:
    """Raise :class:`Refused` unless ``principal`` may make a change under ``rule`` (on ``subject``'s own
    credentials, for :attr:`Rule.SELF`). Runs inside the change's transaction."""
    if rule in (Rule.AUTHENTICATION, Rule.FIRST_RUN):
        return
    if principal.sign_in_id is not None and not _sign_in_live(conn, principal, now):
        raise CredentialEnded("this sign-in was ended or has expired: sign in again")
    if principal.owner:
        return
    if principal.source is not None:
        if principal.token_id is not None and not _token_live(conn, principal, now):
            raise CredentialEnded("this provisioning token was revoked or has expired")
        if rule is Rule.IMPORT and source == principal.source:
            return
        raise Refused(
            f"the identity provider {quoted(principal.source)} can change only its own users and groups"
        )
    own = principal.user_id is not None and subject == principal.user_id
    if rule is Rule.SELF and own:
        return
    if rule is Rule.OWN_AUTHENTICATOR and own and principal.user_id is not None:
        if principal.password or principal.mfa or not is_admin(conn, principal.user_id, now):
            return
        raise Refused(
            "an administrator enrols their authenticator after signing in with their password (an SSH key "
            "alone is not enough), or another administrator enrols it for them"
        )
    if administers(conn, principal, now):
        return
    if principal.user_id is not None and not principal.mfa and is_admin(conn, principal.user_id, now):
        raise Refused(
            f"administrators {what} only when signed in with MFA: enrol an authenticator (your "
            "credentials, key c on the dashboard) and sign in again with its code"
        )
    raise Refused(f"only administrators can {what}: ask root or a member of the admin group")
