"""A full SCIM push into a live ``tui scim serve`` (issue 15), the way Microsoft Entra ID provisions an
application: 4 concurrent clients POST 10,000 users (Entra's "Create User" body), then POST 100 groups
("Create Group"), then PATCH the members in, 100 per request ("Update Group [Add Members]"). 10,200
requests, each its own transaction and audit event on the server.

Beside it, the physical limit measured in the same run on the same disk: the same rows (users, groups,
memberships) ``executemany``'d into plain SQLite tables (primary keys only) in one transaction, as
bench/bench_import.py measures it; and ``baseline_commits``: the same rows with one committed transaction per
request (synchronous=FULL), the least any server that commits each request before answering must spend.

Figures (one JSON line each): ``scim_push_10k`` (total seconds; requests/s and p50/p95/p99 latency beside)
and ``scim_push_10k_p99`` (ms). Goal (issue 15): at most 40 s on the 2-core machine and p99 at most 100 ms.
``scim_push_2k_beside_100k``: a push of 2,000 users into a directory that already holds 100,000 local users,
each with an assignment: a request must cost what it names, not the directory (its requests/s beside the
empty directory's says whether it does).

``python bench/bench_scim.py [USERS]`` scales the push (groups = USERS / 100).
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:
    from common import emit
except ImportError:  # imported from the repository root
    from bench.common import emit

from store.directory import Directory
from tests.scim_live import CORE_GROUP, CORE_USER, ENTERPRISE_USER, PATCH_OP, LiveServer, live_server

USERS = 10_000
PER_GROUP = 100  # members per group, and per PATCH
CLIENTS = 4
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group"

PLAIN_TABLES = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY, user_name TEXT NOT NULL, user_name_key TEXT NOT NULL, given_name TEXT NOT NULL,
    family_name TEXT NOT NULL, email TEXT NOT NULL, external_id TEXT, scim_id TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, external_id TEXT, scim_id TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE memberships (
    group_id INTEGER NOT NULL, user_id INTEGER NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
"""


def user_body(n: int) -> dict[str, Any]:
    """Entra's "Create User" request (both schemas, externalId = the objectId, a primary work email)."""
    name = f"user{n:05d}@contoso.example"
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": str(uuid.UUID(int=n)),
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Given{n} Family{n}", "familyName": f"Family{n}", "givenName": f"Given{n}"},
        "roles": [],
    }


def group_body(g: int) -> dict[str, Any]:
    """Entra's "Create Group" request."""
    return {
        "schemas": [CORE_GROUP, ADSCIM_GROUP],
        "externalId": str(uuid.UUID(int=1_000_000 + g)),
        "displayName": f"team-{g:04d}",
        "meta": {"resourceType": "Group"},
    }


def add_members(ids: list[str]) -> dict[str, Any]:
    """Entra's "Update Group [Add Members]", with a batch of members in one operation."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}],
    }


class Push:
    """The push, split over ``CLIENTS`` threads each with its own connection; every request's latency."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server, self.token = server, token
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.local = threading.local()
        self.phases: dict[str, float] = {}  # seconds of each step of the push

    def _client(self) -> Any:
        if not hasattr(self.local, "client"):
            self.local.client = self.server.client(self.token, timeout=120)
        return self.local.client

    def request(self, method: str, url: str, body: dict[str, Any], expect: int) -> dict[str, Any]:
        started = time.perf_counter()
        response = self._client().request(method, url, json=body)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
            if response.status_code != expect:
                self.failures.append(f"{method} {url}: {response.status_code} {response.text[:300]}")
                return {}
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    def run(self, users: int) -> tuple[list[str], list[str]]:
        groups = max(1, users // PER_GROUP)
        with ThreadPoolExecutor(CLIENTS) as pool:
            started = time.perf_counter()
            user_ids = [
                r.get("id", "")
                for r in pool.map(lambda n: self.request("POST", "/Users", user_body(n), 201), range(users))
            ]
            self.phases["users_s"] = time.perf_counter() - started
            started = time.perf_counter()
            group_ids = [
                r.get("id", "")
                for r in pool.map(
                    lambda g: self.request("POST", "/Groups", group_body(g), 201), range(groups)
                )
            ]
            self.phases["groups_s"] = time.perf_counter() - started
            started = time.perf_counter()
            batches = [(group_ids[g], user_ids[g * PER_GROUP : (g + 1) * PER_GROUP]) for g in range(groups)]
            list(
                pool.map(lambda b: self.request("PATCH", f"/Groups/{b[0]}", add_members(b[1]), 204), batches)
            )
            self.phases["members_s"] = time.perf_counter() - started
        return user_ids, group_ids


def _plain(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(PLAIN_TABLES)
    return conn


def _rows(users: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = "2026-01-01T00:00:00Z"
    user_rows = []
    for n in range(users):
        body = user_body(n)
        user_rows.append(
            (
                n + 1,
                body["userName"],
                body["userName"].casefold(),
                body["name"]["givenName"],
                body["name"]["familyName"],
                body["emails"][0]["value"],
                body["externalId"],
                str(uuid.uuid4()),
                now,
                now,
            )
        )
    groups = max(1, users // PER_GROUP)
    group_rows = [
        (g + 1, f"team-{g:04d}", f"team-{g:04d}", group_body(g)["externalId"], str(uuid.uuid4()), now, now)
        for g in range(groups)
    ]
    member_rows = [(n // PER_GROUP + 1, n + 1, now) for n in range(min(users, groups * PER_GROUP))]
    return user_rows, group_rows, member_rows


USER_INSERT = "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
GROUP_INSERT = "INSERT INTO groups VALUES (?, ?, ?, ?, ?, ?, ?)"
MEMBER_INSERT = "INSERT INTO memberships VALUES (?, ?, ?)"


def raw_limit(path: Path, users: int) -> float:
    """The same rows with executemany into plain tables, in one transaction."""
    conn = _plain(path)
    started = time.perf_counter()
    user_rows, group_rows, member_rows = _rows(users)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(USER_INSERT, user_rows)
    conn.executemany(GROUP_INSERT, group_rows)
    conn.executemany(MEMBER_INSERT, member_rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def commit_per_request_limit(path: Path, users: int) -> float:
    """The same rows, one committed transaction per SCIM request of the push (a user, a group, a batch)."""
    conn = _plain(path)
    started = time.perf_counter()
    user_rows, group_rows, member_rows = _rows(users)
    for rows, sql in ((user_rows, USER_INSERT), (group_rows, GROUP_INSERT)):
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, row)
            conn.execute("COMMIT")
    for start in range(0, len(member_rows), PER_GROUP):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(MEMBER_INSERT, member_rows[start : start + PER_GROUP])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


BESIDE = 100_000
BESIDE_PUSH = 2_000


def seed_beside(directory: Directory, users: int) -> None:
    """``users`` local users, each assigned a permission set in an account: a directory in use."""
    account = directory.accounts.create("prod")
    reader = directory.permission_sets.create("S3Reader")
    now = directory.now_text()
    conn = directory.db.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO users (user_name, user_name_key, display_name, email, source, status, created_at, "
        "updated_at) VALUES (?, ?, '', '', 'local', 'active', ?, ?)",
        ((f"staff{n:06d}", f"staff{n:06d}", now, now) for n in range(users)),
    )
    conn.execute(
        "INSERT INTO assignments (user_id, account_id, permission_set_id, created_at, updated_at) "
        "SELECT id, ?, ?, ?, ? FROM users WHERE source = 'local'",
        (account.id, reader.id, now, now),
    )
    conn.execute("COMMIT")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else USERS
    label = f"{users // 1000}k" if users >= 1000 else str(users)
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        limit = raw_limit(here / "limit.db", users)
        commits = commit_per_request_limit(here / "commits.db", users)
        tokens: dict[str, str] = {}

        def setup(directory: Directory) -> None:
            tokens["entra"] = directory.scim_tokens.create("entra").bearer

        served = here / "served"
        served.mkdir()
        with live_server(served, setup) as server:
            push = Push(server, tokens["entra"])
            started = time.perf_counter()
            user_ids, group_ids = push.run(users)
            total = time.perf_counter() - started
            assert not push.failures, push.failures[:5]
            with server.directory() as directory:
                counts = directory.counts()
            assert counts.users == users and counts.groups == len(group_ids), counts
            assert counts.memberships == min(users, len(group_ids) * PER_GROUP), counts
        assert "database is locked" not in server.log
    latencies = push.latencies
    requests = len(latencies)
    extra = {
        "requests": requests,
        "clients": CLIENTS,
        "requests_per_s": round(requests / total, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        **{phase: round(seconds, 2) for phase, seconds in push.phases.items()},
    }
    emit(
        f"scim_push_{label}",
        total,
        "s",
        baseline=round(limit, 4),
        ratio=round(total / limit, 1),
        baseline_commits=round(commits, 4),
        ratio_commits=round(total / commits, 2),
        goal=40,
        **extra,
    )
    emit(f"scim_push_{label}_p99", extra["p99_ms"], "ms", goal=100, **extra)
    beside(users_per_s=extra["requests_per_s"])


def beside(users_per_s: float) -> None:
    """The push of BESIDE_PUSH users into a directory of BESIDE local users with their assignments."""
    with tempfile.TemporaryDirectory() as folder:
        tokens: dict[str, str] = {}

        def setup(directory: Directory) -> None:
            seed_beside(directory, BESIDE)
            tokens["entra"] = directory.scim_tokens.create("entra").bearer

        with live_server(Path(folder), setup) as server:
            push = Push(server, tokens["entra"])
            started = time.perf_counter()
            push.run(BESIDE_PUSH)
            total = time.perf_counter() - started
            assert not push.failures, push.failures[:5]
    requests = len(push.latencies)
    emit(
        f"scim_push_{BESIDE_PUSH // 1000}k_beside_{BESIDE // 1000}k",
        total,
        "s",
        requests=requests,
        requests_per_s=round(requests / total, 1),
        empty_directory_requests_per_s=users_per_s,
        p99_ms=round(percentile(push.latencies, 0.99) * 1000, 2),
    )


if __name__ == "__main__":
    main()
