"""Sign-in (password + TOTP code) beside its physical limit: the argon2id verification of the same password
with the same parameters, in the same run. Everything else a sign-in does (the lookup, the code, the
throttling record, the audit event, the rights check of its transaction) is the overhead measured."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import emit

from store.audit import Actor
from store.crypto import totp_code, verify_password
from store.directory import Directory
from store.identity import initialise, new_root_enrolment

USERS = 24
PASSWORD = "a benchmark passphrase 9"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        d = Directory.open(Path(folder) / "sign-in.db", Actor("bench", "cli"))
        initialise(d, "glass box standing by 7", new_root_enrolment())
        secrets = {}
        for i in range(USERS):
            user = d.users.create(f"user{i:02d}")
            d.credentials.set_password(user.id, PASSWORD)
            enrolment = d.credentials.begin_totp(user.id)
            # Enrolled with the code of the step before, so the code of now is unspent for the sign-in below.
            earlier = datetime.fromtimestamp(d.clock().timestamp() - 30, UTC)
            d.credentials.confirm_totp(user.id, enrolment.secret, totp_code(enrolment.secret, earlier))
            secrets[user.user_name] = enrolment.secret
        stored = d.db.query_tuple("SELECT password_hash FROM users WHERE user_name = 'user00'")
        assert stored is not None
        codes = {name: totp_code(secret, d.clock()) for name, secret in secrets.items()}

        started = time.perf_counter()
        for name, code in codes.items():
            d.sign_in.attempt(name, PASSWORD, code)
        per_sign_in = (time.perf_counter() - started) / USERS

        started = time.perf_counter()
        for _ in range(USERS):
            verify_password(PASSWORD, stored[0])
        per_hash = (time.perf_counter() - started) / USERS
        d.close()
    emit(
        "sign_in_password_totp",
        per_sign_in * 1000,
        "ms",
        baseline=round(per_hash * 1000, 3),
        ratio=round(per_sign_in / per_hash, 3),
    )


if __name__ == "__main__":
    main()
