"""Import of 100,000 users + 1,000 groups + 300,000 memberships (whole-directory JSON), beside the raw limit:
``sqlite3.executemany`` of the same rows into the same schema, in one transaction, in the same run."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from common import directory_document, emit, peak_rss_mb

from store.audit import Actor
from store.db import Database
from store.directory import Directory
from store.directory_json import read_document
from store.importer import import_document

USERS, GROUPS, MEMBERSHIPS = 100_000, 1_000, 300_000


def raw_baseline(path: Path, document: dict) -> float:
    Database(path).close()  # the same schema (tables, indexes, search triggers)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    now = "2026-01-01T00:00:00Z"
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO users (user_name, user_name_key, display_name, email, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(u["userName"], u["userName"], u["displayName"], u["email"], now, now) for u in document["users"]])
    conn.executemany("INSERT INTO groups (name, name_key, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                     [(g["displayName"], g["displayName"], g["description"], now, now) for g in document["groups"]])
    user_ids = {name: i for i, name in conn.execute("SELECT id, user_name FROM users")}
    group_ids = {name: i for i, name in conn.execute("SELECT id, name FROM groups")}
    conn.executemany("INSERT INTO memberships (group_id, user_id, created_at) VALUES (?, ?, ?)",
                     [(group_ids[g["displayName"]], user_ids[m], now) for g in document["groups"]
                      for m in g["members"]])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else USERS
    scale = users / USERS
    document = directory_document(users, max(1, int(GROUPS * scale)), int(MEMBERSHIPS * scale))
    raw = json.dumps(document).encode()
    with tempfile.TemporaryDirectory() as folder:
        baseline = raw_baseline(Path(folder) / "raw.db", document)
        del document
        directory = Directory.open(Path(folder) / "tui.db", Actor("bench", "cli"))
        started = time.perf_counter()
        parsed = read_document(raw, "bench.json")
        result = import_document(directory, parsed, file_name="bench.json", raw=raw)
        elapsed = time.perf_counter() - started
        assert result.applied and directory.users.count() == users
        directory.close()
    emit(f"import_{users // 1000}k_json", elapsed, "s", baseline=round(baseline, 4),
         ratio=round(elapsed / baseline, 3), peak_rss_mb=round(peak_rss_mb(), 1))


if __name__ == "__main__":
    main()
