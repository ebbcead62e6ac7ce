"""Open the Users screen on 100 and on 100,000 users: time to first rows and the process's peak RSS.

Each size runs in a fresh process (so RSS is the console's own), on a directory built beforehand."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import directory_document, emit, peak_rss_mb

SIZES = (100, 100_000)
RUNS = 5


def build(path: Path, users: int) -> None:
    from store.audit import Actor
    from store.directory import Directory
    from store.directory_json import read_document
    from store.importer import import_document

    raw = json.dumps(directory_document(users, 10, users)).encode()
    with Directory.open(path, Actor("bench", "cli")) as directory:
        import_document(directory, read_document(raw, "bench.json"), file_name="bench.json", raw=raw)


async def open_users(path: Path) -> list[float]:
    from store.audit import Actor
    from store.directory import Directory
    from tui.app import TuiApp
    from tui.screens.users import UsersScreen

    timings = []
    with Directory.open(path, Actor("bench", "console")) as directory:
        app = TuiApp(directory)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(RUNS):
                started = time.perf_counter()
                await app.push_screen(UsersScreen())
                screen = app.screen
                while screen.table.total is None or screen.table.item_at(0) is None:
                    await asyncio.sleep(0.001)
                timings.append(time.perf_counter() - started)
                await app.pop_screen()
    return timings


def child(path: Path) -> None:
    timings = asyncio.run(open_users(path))
    print(json.dumps({"first_rows_s": sorted(timings)[len(timings) // 2], "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
        return
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for users in SIZES:
            path = Path(folder) / f"users-{users}.db"
            build(path, users)
            output = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
            ).stdout
            results[users] = json.loads(output.strip().splitlines()[-1])
    small, large = results[SIZES[0]], results[SIZES[1]]
    emit("users_screen_first_rows_100", small["first_rows_s"] * 1000, "ms")
    emit(
        "users_screen_first_rows_100k",
        large["first_rows_s"] * 1000,
        "ms",
        baseline=round(small["first_rows_s"] * 1000, 3),
        ratio=round(large["first_rows_s"] / small["first_rows_s"], 3),
    )
    emit("users_screen_rss_100", small["peak_rss_mb"], "MB")
    emit(
        "users_screen_rss_100k",
        large["peak_rss_mb"],
        "MB",
        baseline=round(small["peak_rss_mb"], 1),
        ratio=round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
    )


if __name__ == "__main__":
    main()
