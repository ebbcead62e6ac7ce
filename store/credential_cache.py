"""``tui credentials`` keeps the credentials it handed out, like the AWS CLI's own cache, so the next call
within their life returns the same ones; close to expiry it issues fresh ones (the old stay valid until their
own expiry). One file per (directory, user, account, permission set), 0600 in a 0700 folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from store.clock import from_text
from store.files import private_folder, write_private
from store.sessions import IssuedCredentials

if TYPE_CHECKING:
    from store.directory import Directory

# botocore refreshes credential_process credentials when 15 minutes or less are left, so ours must be
# replaced before that, or every AWS call would run the process again. Short sessions refresh at half-life.
REFRESH_MARGIN = timedelta(minutes=15)


def cache_path(db_path: str | os.PathLike[str], user_name: str, account: str, permission_set: str) -> Path:
    key = json.dumps(
        [
            str(Path(db_path).expanduser().resolve()),
            user_name.casefold(),
            account.casefold(),
            permission_set.casefold(),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Path(platformdirs.user_cache_dir("tui")) / "credentials" / f"{digest}.json"


def load(path: Path) -> IssuedCredentials | None:
    """Cached credentials, or None (missing, damaged, or readable by others: then ignored and replaced)."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o077:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return IssuedCredentials(
            int(data["SessionId"]),
            str(data["AccessKeyId"]),
            str(data["SecretAccessKey"]),
            str(data["SessionToken"]),
            str(data["Expiration"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path, credentials: IssuedCredentials) -> None:
    private_folder(path.parent)
    write_private(
        path, json.dumps({**credentials.credential_process(), "SessionId": credentials.session_id}).encode()
    )


def fresh_enough(expires_at: str, issued_for: timedelta, now: datetime) -> bool:
    left = from_text(expires_at) - now
    return left > min(REFRESH_MARGIN, issued_for / 2)


def credentials_for(
    directory: Directory,
    path: Path,
    user_id: int,
    account_id: int,
    permission_set_id: int,
    *,
    duration: object = None,
    mfa: bool = False,
) -> tuple[IssuedCredentials, bool]:
    """The cached credentials while they are live and not near expiry, else new ones (cached). The flag
    says whether they were issued now."""
    cached = load(path)
    now = directory.clock()
    if cached is not None:
        check = directory.sessions.verify(
            cached.access_key_id, cached.secret_access_key, cached.session_token
        )
        session = check.session
        if (
            check.valid
            and session is not None
            and session.user_id == user_id
            and session.account_id == account_id
            and session.permission_set_id == permission_set_id
            and fresh_enough(
                session.expires_at, from_text(session.expires_at) - from_text(session.issued_at), now
            )
        ):
            return cached, False
    issued = directory.sessions.issue(user_id, account_id, permission_set_id, duration=duration, mfa=mfa)
    save(path, issued)
    return issued, True
