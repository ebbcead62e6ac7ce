"""Import of 100,000 users + 1,000 groups + 300,000 memberships, beside the raw limit measured in the same
run: ``sqlite3.executemany`` of the same rows into the same schema (tables, indexes, search triggers), one
transaction.

Figures (one JSON line each):

- ``import_100k_json``: ``tui``'s whole import of the whole-directory JSON file (read the file, detect the
  format, parse, validate every entry, plan, apply in one transaction with its audit event), in a fresh
  process so that ``peak_rss_mb`` is the import's own peak memory; ``ratio`` = value / baseline (issue 6: at
  most 3).
- ``import_100k_csv``: the same users and memberships from tui's CSV (groups created from the
  ``groups`` column).
- ``reimport_100k_json``: the same file again into the imported directory: everything checked, nothing
  to change.

``python bench/bench_import.py [USERS]`` scales the three numbers together.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import directory_document, emit, peak_rss_mb

from store.audit import Actor
from store.db import Database
from store.directory import Directory

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
        [(u["userName"], u["userName"], u["displayName"], u["email"], now, now) for u in document["users"]],
    )
    conn.executemany(
        "INSERT INTO groups (name, name_key, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        [(g["displayName"], g["displayName"], g["description"], now, now) for g in document["groups"]],
    )
    user_ids = {name: i for i, name in conn.execute("SELECT id, user_name FROM users")}
    group_ids = {name: i for i, name in conn.execute("SELECT id, name FROM groups")}
    conn.executemany(
        "INSERT INTO memberships (group_id, user_id, created_at) VALUES (?, ?, ?)",
        [(group_ids[g["displayName"]], user_ids[m], now) for g in document["groups"] for m in g["members"]],
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def write_csv(path: Path, document: dict) -> None:
    groups_of: dict[str, list[str]] = {}
    for group in document["groups"]:
        for member in group["members"]:
            groups_of.setdefault(member, []).append(group["displayName"])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["userName", "displayName", "email", "groups", "active"])
        for user in document["users"]:
            writer.writerow(
                [
                    user["userName"],
                    user["displayName"],
                    user["email"],
                    ";".join(groups_of.get(user["userName"], [])),
                    "true",
                ]
            )


def child(file: str, db: str) -> None:
    """One import, the way `tui import FILE` does it; prints its time, outcome and peak memory."""
    from store.formats import read_file
    from store.importer import import_document
    from store.textfile import read_limited

    directory = Directory.open(Path(db), Actor("bench", "cli"))
    started = time.perf_counter()
    raw = read_limited(Path(file))
    reading = read_file(raw, file)
    result = import_document(directory, reading.document, file_name=file, raw=raw, format_name=reading.format)
    elapsed = time.perf_counter() - started
    users = directory.users.count()
    directory.close()
    print(json.dumps({"elapsed": elapsed, "applied": result.applied, "users": users, "rss": peak_rss_mb()}))


def run_child(file: Path, db: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(file), str(db)], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else USERS
    scale = users / USERS
    label = f"{users // 1000}k"
    document = directory_document(users, max(1, int(GROUPS * scale)), int(MEMBERSHIPS * scale))
    with tempfile.TemporaryDirectory() as folder:
        json_file, csv_file = Path(folder) / "directory.json", Path(folder) / "users.csv"
        json_file.write_text(json.dumps(document), encoding="utf-8")
        write_csv(csv_file, document)
        baseline = raw_baseline(Path(folder) / "raw.db", document)
        del document

        first = run_child(json_file, Path(folder) / "json.db")
        assert first["applied"] and first["users"] == users, first
        emit(
            f"import_{label}_json",
            first["elapsed"],
            "s",
            baseline=round(baseline, 4),
            ratio=round(first["elapsed"] / baseline, 3),
            peak_rss_mb=round(first["rss"], 1),
        )

        from_csv = run_child(csv_file, Path(folder) / "csv.db")
        assert from_csv["applied"] and from_csv["users"] == users, from_csv
        emit(
            f"import_{label}_csv",
            from_csv["elapsed"],
            "s",
            baseline=round(baseline, 4),
            ratio=round(from_csv["elapsed"] / baseline, 3),
            peak_rss_mb=round(from_csv["rss"], 1),
        )

        again = run_child(json_file, Path(folder) / "json.db")
        assert not again["applied"], again
        emit(
            f"reimport_{label}_json",
            again["elapsed"],
            "s",
            baseline=round(baseline, 4),
            ratio=round(again["elapsed"] / baseline, 3),
            peak_rss_mb=round(again["rss"], 1),
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
