"""The Users filter at 1,000 and 100,000 users: one query = the first page plus the total count."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from common import directory_document, emit

from store.audit import Actor
from store.directory import Directory
from store.directory_json import read_document
from store.importer import import_document

QUERIES = ["smith.00042", "garcia", "nguyen.0999", "al", "zz-no-match", "tanaka.01"]
REPEAT = 50


def measure(users: int, folder: Path) -> float:
    raw = json.dumps(directory_document(users, 10, users)).encode()
    with Directory.open(folder / f"f{users}.db", Actor("bench", "cli")) as directory:
        import_document(directory, read_document(raw, "bench.json"), file_name="bench.json", raw=raw)
        started = time.perf_counter()
        for _ in range(REPEAT):
            for query in QUERIES:
                directory.users.list(filter=query, limit=100)
        return (time.perf_counter() - started) / (REPEAT * len(QUERIES))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        small = measure(1_000, Path(folder))
        large = measure(100_000, Path(folder))
    emit("users_filter_1k", small * 1000, "ms")
    emit(
        "users_filter_100k",
        large * 1000,
        "ms",
        baseline=round(small * 1000, 4),
        ratio=round(large / small, 3),
        queries=QUERIES,
    )


if __name__ == "__main__":
    main()
