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
        stored = dict(d.db.conn.execute("SELECT user_name, password_hash FROM users WHERE is_root = 0"))
        codes = {name: totp_code(secret, d.clock()) for name, secret in secrets.items()}

        # Interleaved, one sign-in then the raw verification of the same user's hash, so that both see the
        # same machine (argon2id is memory-bound: a busy neighbour slows both alike).
        signing, hashing = 0.0, 0.0
        for name, code in codes.items():
            started = time.perf_counter()
            d.sign_in.attempt(name, PASSWORD, code)
            middle = time.perf_counter()
            verify_password(PASSWORD, stored[name])
            signing += middle - started
            hashing += time.perf_counter() - middle
        per_sign_in, per_hash = signing / USERS, hashing / USERS
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
