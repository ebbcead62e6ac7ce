"""Session verify beside the raw limit: an indexed SQLite lookup of the same token hash on the same database,
in the same run. Also the issue rate."""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
import time
from pathlib import Path

from common import emit

from store.audit import Actor
from store.directory import Directory
from store.sessions import VERIFY_SQL

SESSIONS = 20_000
LOOKUPS = 50_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sessions.db"
        d = Directory.open(path, Actor("bench", "cli"))
        users = [d.users.create(f"user{i:03d}") for i in range(50)]
        account = d.accounts.create("prod")
        pset = d.permission_sets.create("Reader", session_duration="PT12H")
        group = d.groups.create("everyone")
        for user in users:
            d.groups.add_member(group.id, user.id)
        d.assignments.create("group", group.id, account.id, pset.id)

        started = time.perf_counter()
        issued = [d.sessions.issue(users[i % len(users)].id, account.id, pset.id) for i in range(SESSIONS)]
        issue_rate = SESSIONS / (time.perf_counter() - started)

        presented = [
            (c.access_key_id, c.secret_access_key, c.session_token)
            for c in (issued[i % SESSIONS] for i in range(LOOKUPS))
        ]
        started = time.perf_counter()
        for key, secret, token in presented:
            if not d.sessions.verify(key, secret, token).valid:
                raise SystemExit("a live session failed to verify")
        verify_rate = LOOKUPS / (time.perf_counter() - started)

        # The raw limit: the same indexed lookup (the very statement verify runs), hash precomputed, plain
        # sqlite3, none of verify's hashing, comparing or checking.
        raw = sqlite3.connect(path)
        hashes = [hashlib.sha256(token.encode()).hexdigest() for _, _, token in presented]
        started = time.perf_counter()
        for token_hash in hashes:
            raw.execute(VERIFY_SQL, (token_hash,)).fetchone()
        raw_rate = LOOKUPS / (time.perf_counter() - started)
        raw.close()
        d.close()
    emit(
        "session_verify",
        verify_rate,
        "verifications/s",
        baseline=round(raw_rate),
        ratio=round(verify_rate / raw_rate, 3),
    )
    emit("session_issue", issue_rate, "sessions/s")


if __name__ == "__main__":
    main()
