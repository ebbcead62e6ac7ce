"""What the import and export tests share: where the data is, a full export, and "refused, nothing
changed"."""

from __future__ import annotations

import os
import shutil
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

from tests import CONFORMANCE

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "import"
SCIM = CONFORMANCE / "scim"


def export_json(run_tui: Any, *db_args: Any) -> str:
    """The whole directory as `tui export --format json` writes it: equal directories, equal text."""
    result = run_tui(*db_args, "export", "--format", "json")
    assert result.returncode == 0, result
    return str(result.stdout)


def copy_directory(source: Path, target: Path) -> None:
    """A directory file (closed, so its WAL is checkpointed) copied as a starting point for a test."""
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    raw = sqlite3.connect(db)
    try:
        return [tuple(row) for row in raw.execute(sql, params)]
    finally:
        raw.close()


def one(db: Path, sql: str, *params: Any) -> Any:
    return rows(db, sql, *params)[0][0]


def audit_count(db: Path) -> int:
    if not db.exists():
        return 0
    return int(one(db, "SELECT count(*) FROM audit"))


def assert_refused(
    run_tui: Any, db: Path, path: Path, fragments: list[str], *options: str, before: str | None = None
) -> str:
    """Import ``path``: exit 1, the file and every fragment named on stderr, no raw control characters,
    nothing on stdout, and the directory (a full export) and its audit log exactly as before. Returns stderr.
    ``before``: the export of the directory as it is, when the caller has it already."""
    before, events = before if before is not None else export_json(run_tui), audit_count(db)
    result = run_tui("import", *options, path)
    assert result.returncode == 1, result
    assert str(path) in result.stderr, result
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} missing from the message:\n{result.stderr}"
    assert not [ch for ch in result.stderr if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n"], result
    assert "nothing was changed" in result.stderr
    assert export_json(run_tui) == before
    assert audit_count(db) == events
    return str(result.stderr)
