"""kill -9 at any moment of an import leaves the directory exactly as before or exactly as after it, and
the file whole (``PRAGMA integrity_check``). 12,000 users in every run; issue 14's 100,000 with
``make test-all``."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TUI_COMMAND
from tests.test_import_support import DATA, copy_directory

USERS = 12_000


def write_big_csv(path: Path, users: int = USERS) -> None:
    rng = random.Random(6)
    lines = ["userName,displayName,email,groups,active,externalId"]
    for i in range(users):
        groups = ";".join(sorted({f"team-{rng.randrange(150):03d}" for _ in range(3)}))
        lines.append(f"user{i:06d},User {i},user{i:06d}@example.org,{groups},true,ext-{i}")
    # An update of a user the directory has, so "after" differs from "before" in old rows too.
    lines.append("ada.lovelace,Countess of Lovelace,ada@example.org,Engineering,true,emp-1815")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("users", [USERS, pytest.param(100_000, marks=pytest.mark.slow)])
def test_kill_9_at_any_moment_leaves_before_or_after(
    run_tui, tmp_path: Path, tui_env: dict[str, str], users: int
) -> None:
    before_db = tmp_path / "before.db"
    assert run_tui("--db", before_db, "import", DATA / "users.csv").returncode == 0
    before = run_tui("--db", before_db, "export").stdout
    big = tmp_path / "big.csv"
    write_big_csv(big, users)

    after_db = tmp_path / "after.db"
    copy_directory(before_db, after_db)
    started = time.monotonic()
    assert run_tui("--db", after_db, "import", big).returncode == 0
    duration = time.monotonic() - started
    after = run_tui("--db", after_db, "export").stdout
    assert after != before

    def killed_run(trial: int, when: str, delay: float = 0.0) -> str:
        db = tmp_path / f"trial{trial}.db"
        copy_directory(before_db, db)
        wal = Path(f"{db}-wal")
        process = subprocess.Popen(
            [*TUI_COMMAND, "--db", str(db), "import", str(big)],
            env=tui_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        try:
            if when == "writing":
                # Kill while the transaction is half-written: the WAL has grown, the commit has not happened.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and process.poll() is None:
                    if wal.exists() and wal.stat().st_size > 1024 * 1024:
                        break
                    time.sleep(0.002)
            else:
                time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=60)
        exported = run_tui("--db", db, "export")
        assert exported.returncode == 0, exported
        assert exported.stdout in (before, after), (
            f"trial {trial} ({when}, {delay:.2f}s): neither before nor after"
        )
        integrity = run_tui("--db", db, "audit", "verify")
        assert integrity.returncode == 0, integrity
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        return "before" if exported.stdout == before else "after"

    outcomes = [killed_run(0, "writing")]
    assert outcomes[0] == "before"  # the kill landed inside the transaction: nothing of it remains
    rng = random.Random(9)
    for trial in range(1, 5):
        outcomes.append(killed_run(trial, "random", rng.uniform(0.05, duration * 1.1)))
    assert "before" in outcomes
