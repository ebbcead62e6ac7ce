"""Creating a directory's root identity (``tui init`` and the console's first-run wizard).

Root is the one all-powerful identity: a password and a TOTP authenticator always, 10 single-use recovery
codes, never an access key; it cannot be disabled, deleted or lose MFA. Creating it also creates the
directory's key file (0600, beside the database or wherever ``--key`` says) that seals TOTP secrets and keys
the audit chain.

The steps callers take: :func:`new_root_enrolment` (a secret to show as a QR code), optionally check one code
from the app with :func:`store.credentials.check_code_step`, then :func:`initialise`, which writes everything
in one transaction (or nothing) and returns the recovery codes, once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from store import audit
from store.credentials import (
    RECOVERY_CODE_COUNT,
    TotpEnrolment,
    check_code_step,
    totp_associated_data,
)
from store.crypto import (
    DirectoryKey,
    KeyRing,
    audit_mac_key,
    check_password,
    create_key_file,
    hash_password,
    hash_recovery_code,
    load_key,
    new_recovery_codes,
    new_totp_secret,
    normalize_secret,
    seal,
)
from store.errors import Refused, ValidationError
from store.rights import Rule
from store.users import ROOT_NAME, User

if TYPE_CHECKING:
    from store.directory import Directory


@dataclass(frozen=True)
class RootCreated:
    """What :func:`initialise` did. ``recovery_codes`` exist only here: show them once."""

    user: User
    key_path: Path
    key_created: bool
    audit_keyed: bool
    recovery_codes: list[str] = field(repr=False)


def has_root(directory: Directory) -> bool:
    return directory.users.root() is not None


def new_root_enrolment(secret: str | None = None) -> TotpEnrolment:
    """The authenticator secret root will enrol (``secret`` to use a given one, as the demo does)."""
    return TotpEnrolment(None, ROOT_NAME, normalize_secret(secret) if secret else new_totp_secret())


def check_key_path(directory: Directory, key_path: Path) -> None:
    """Refuse a key file location that :func:`initialise` would refuse, before anything is shown or written:
    an existing key file must be loadable (private, owned by us), a new one needs an existing folder."""
    _key_ring(directory, key_path, create=False)


def _key_ring(directory: Directory, key_path: Path, *, create: bool = True) -> tuple[KeyRing, bool]:
    if directory.key is not None and directory.key_path == key_path:
        return directory.key, False
    if key_path.exists() or key_path.is_symlink():
        return load_key(key_path), False  # left by an earlier attempt, or chosen by the admin: reuse it
    if not key_path.parent.is_dir():
        raise ValidationError(f"key: the folder {key_path.parent} does not exist", "key")
    if not create:
        return KeyRing((DirectoryKey.generate(),)), False  # a stand-in: nothing is written
    return create_key_file(key_path), True


def initialise(
    directory: Directory,
    password: str,
    enrolment: TotpEnrolment,
    *,
    code: str | None = None,
    key_path: str | os.PathLike[str] | None = None,
) -> RootCreated:
    """Create root with ``password`` and the authenticator of ``enrolment``, plus the key file.

    ``code``, when given, must be a current code of the authenticator (interactive set-up proves the app works
    before finishing); the step it used is spent. Refused when the directory already has root. The password
    must pass the password policy (every reason is given). Nothing is written unless all of it is.
    """
    from store.directory import AUDIT_MAC_SETTING, KEY_ID_SETTING

    if has_root(directory):
        raise Refused(
            f"{directory.db.path} already has a root identity: it was initialised before; nothing was changed"
        )
    path = Path(key_path) if key_path is not None else directory.key_path
    if path is None:
        raise ValidationError("key: no key file location was given", "key")
    if not isinstance(password, str) or not password:
        raise ValidationError("password: a password is required", "password")
    reasons = check_password(directory.password_policy.get(), password, ROOT_NAME)
    if reasons:
        raise ValidationError("password: " + " ".join(reasons), "password")
    secret = normalize_secret(enrolment.secret)
    step = check_code_step(secret, code, directory.clock(), None) if code is not None else None
    password_hash = hash_password(password)
    codes = new_recovery_codes(RECOVERY_CODE_COUNT)

    ring, created = _key_ring(directory, path)
    previous = (directory.key, directory.key_path, directory.audit_key)
    directory.key, directory.key_path = ring, path
    try:
        with directory.change(Rule.FIRST_RUN) as conn:
            if conn.execute("SELECT 1 FROM users WHERE is_root = 1").fetchone() is not None:
                raise Refused(f"{directory.db.path} already has a root identity; nothing was changed")
            settings = {
                row[0]: row[1]
                for row in conn.execute(
                    "SELECT key, value FROM settings WHERE key IN (?, ?)", (KEY_ID_SETTING, AUDIT_MAC_SETTING)
                )
            }
            expected = settings.get(KEY_ID_SETTING)
            if expected is not None and ring.get(expected) is None:
                raise Refused(f"{path} is not this directory's key file; nothing was changed")
            # The audit chain is keyed by this key from now on. Events written before init (an import into a
            # fresh file, by the file's owner) were chained with plain SHA-256: their chain is checked, then
            # chained again with the key, so that the whole log needs the key file to be rewritten.
            if AUDIT_MAC_SETTING in settings:
                mac_key = ring.get(settings[AUDIT_MAC_SETTING])
                if mac_key is None:
                    raise Refused(
                        f"{path} lacks the key that keys this directory's audit log; nothing was changed"
                    )
            else:
                mac_key = ring.current
                audit.rekey(conn, audit_mac_key(mac_key))
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?)", (AUDIT_MAC_SETTING, mac_key.key_id)
                )
            directory.audit_key = audit_mac_key(mac_key)
            if expected is None:
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?)", (KEY_ID_SETTING, ring.current.key_id)
                )
            now = directory.now_text()
            cursor = conn.execute(
                "INSERT INTO users (user_name, user_name_key, display_name, is_root, password_hash, "
                "password_changed_at, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                (ROOT_NAME, ROOT_NAME, "Root (break-glass)", password_hash, now, now, now),
            )
            root_id = int(cursor.lastrowid or 0)
            sealed = seal(ring, secret.encode("ascii"), totp_associated_data(root_id))
            conn.execute(
                "UPDATE users SET totp_secret_sealed = ?, totp_last_step = ? WHERE id = ?",
                (sealed, step, root_id),
            )
            conn.executemany(
                "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)",
                [(root_id, hash_recovery_code(c)) for c in codes],
            )
            directory.record(
                conn,
                at=now,
                action="directory.init",
                target="user:root",
                extra={
                    "key_id": ring.current.key_id,
                    "audit_chain": "hmac-sha256",
                    "mfa": "totp",
                    "recovery_codes_issued": len(codes),
                },
            )
            root = User.from_row(conn.execute("SELECT * FROM users WHERE id = ?", (root_id,)).fetchone())
    except BaseException:
        directory.key, directory.key_path, directory.audit_key = previous
        if created:  # a refused init leaves no key file behind (nothing was sealed with it)
            path.unlink(missing_ok=True)
        raise
    return RootCreated(root, path, created, True, codes)
