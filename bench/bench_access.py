"""Effective access at scale: the access matrix of 100,000 users as CSV, and the sessions engine's check.

A synthetic directory (written with plain INSERTs, the fastest way to build one): 100,000 users, 200 groups,
300,000 memberships (a tenth of them expired), 40 accounts, 25 permission sets, 600 group assignments and
2,000 direct ones. Figures, one JSON line each (SPEC §2):

- ``access_matrix_csv_100k``: seconds to stream the whole matrix as CSV; ``baseline`` is one plain read of the
  rows it is built from (users, memberships, assignments), so ``ratio`` is the cost of building it.
- ``access_is_assigned``: checks per second of ``is_assigned`` (a user through groups); ``baseline`` is
  the same SQL question asked directly.

    python bench/bench_access.py [--users 100000]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, peak_rss_mb
from store.access import is_assigned, write_access_matrix_csv
from store.audit import Actor
from store.directory import Directory

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GROUPS, ACCOUNTS, SETS, GROUP_ASSIGNMENTS, DIRECT_ASSIGNMENTS = 200, 40, 25, 600, 2000


def build(directory: Directory, users: int, rng: random.Random) -> None:
    stamp = "2026-01-01T00:00:00Z"
    with directory.db.write() as conn:
        conn.executemany(
            "INSERT INTO users (user_name, user_name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((f"user.{i:06d}", f"user.{i:06d}", stamp, stamp) for i in range(users)),
        )
        conn.executemany(
            "INSERT INTO groups (name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((f"team-{g}", f"team-{g}", stamp, stamp) for g in range(GROUPS)),
        )
        members = set()
        while len(members) < 3 * users:
            members.add((rng.randrange(GROUPS) + 1, rng.randrange(users) + 1))
        conn.executemany(
            "INSERT INTO memberships (group_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
            ((g, u, "2026-03-01T00:00:00Z" if rng.random() < 0.1 else None, stamp) for g, u in members),
        )
        conn.executemany(
            "INSERT INTO accounts (name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((f"acct-{a}", f"acct-{a}", stamp, stamp) for a in range(ACCOUNTS)),
        )
        conn.executemany(
            "INSERT INTO permission_sets (name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((f"Set{s}", f"set{s}", stamp, stamp) for s in range(SETS)),
        )
        group_rows = {
            (rng.randrange(GROUPS) + 1, rng.randrange(ACCOUNTS) + 1, rng.randrange(SETS) + 1)
            for _ in range(GROUP_ASSIGNMENTS)
        }
        conn.executemany(
            "INSERT INTO assignments (group_id, account_id, permission_set_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            ((g, a, s, stamp, stamp) for g, a, s in group_rows),
        )
        direct_rows = {
            (rng.randrange(users) + 1, rng.randrange(ACCOUNTS) + 1, rng.randrange(SETS) + 1)
            for _ in range(DIRECT_ASSIGNMENTS)
        }
        conn.executemany(
            "INSERT INTO assignments (user_id, account_id, permission_set_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            ((u, a, s, stamp, stamp) for u, a, s in direct_rows),
        )
    with directory.db.write() as conn:
        conn.execute("ANALYZE")


def raw_read(directory: Directory) -> None:
    with directory.db.read() as conn:
        for sql in (
            "SELECT id, user_name, status FROM users ORDER BY user_name_key",
            "SELECT user_id, group_id, expires_at FROM memberships",
            "SELECT * FROM assignments",
        ):
            for _ in conn.execute(sql):
                pass


RAW_CHECK = (
    "SELECT a.id FROM assignments a LEFT JOIN memberships m ON m.group_id = a.group_id AND m.user_id = ? "
    "WHERE a.account_id = ? AND a.permission_set_id = ? AND (a.expires_at IS NULL OR a.expires_at > ?) "
    "AND (a.user_id = ? OR (m.user_id IS NOT NULL AND (m.expires_at IS NULL OR m.expires_at > ?))) LIMIT 1"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    users = parser.parse_args().users
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as folder:
        directory = Directory.open(Path(folder) / "bench.db", Actor("bench", "bench"), clock=lambda: NOW)
        build(directory, users, rng)

        started = time.perf_counter()
        raw_read(directory)
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        out = io.StringIO()
        written = write_access_matrix_csv(directory, out)
        elapsed = time.perf_counter() - started
        assert written == users, written
        emit(
            f"access_matrix_csv_{users // 1000}k",
            elapsed,
            "s",
            baseline=round(baseline, 6),
            ratio=round(elapsed / baseline, 2),
            bytes=len(out.getvalue()),
            peak_rss_mb=round(peak_rss_mb(), 1),
        )

        with directory.db.read() as conn:
            probes = [
                tuple(row)
                for row in conn.execute(
                    "SELECT m.user_id, a.account_id, a.permission_set_id FROM assignments a JOIN memberships "
                    "m ON m.group_id = a.group_id ORDER BY random() LIMIT 500"
                )
            ]
        now_text = "2026-06-01T00:00:00Z"
        checks, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.0:
            for user, account, pset in probes:
                is_assigned(directory, user, account, pset)
            checks += len(probes)
        rate = checks / (time.perf_counter() - started)
        raw, started = 0, time.perf_counter()
        conn = directory.db.conn
        while time.perf_counter() - started < 1.0:
            for user, account, pset in probes:
                conn.execute(RAW_CHECK, (user, account, pset, now_text, user, now_text)).fetchone()
            raw += len(probes)
        raw_rate = raw / (time.perf_counter() - started)
        emit(
            "access_is_assigned", rate, "checks/s", baseline=round(raw_rate), ratio=round(raw_rate / rate, 2)
        )
        directory.close()


if __name__ == "__main__":
    main()
