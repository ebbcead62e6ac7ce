"""100,000 users through the real `tui import` (make test-all): applied whole, then nothing to change, then
synced.

Times are bench/bench_import.py's business; these tests check that scale changes nothing about correctness."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_import_support import REPO, one

pytestmark = pytest.mark.slow


def directory_document(users: int, groups: int, memberships: int) -> dict[str, Any]:
    """The benchmark's synthetic directory (bench/common.py), loaded without touching sys.path."""
    spec = importlib.util.spec_from_file_location("bench_common", REPO / "bench" / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.directory_document(users, groups, memberships)  # type: ignore[no-any-return]  # loaded by path


def test_a_100k_directory_imports_whole_and_again_changes_nothing(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    document = directory_document(100_000, 1_000, 300_000)
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    first = run_tui("import", "--json", path, timeout=600)
    assert first.returncode == 0, first
    assert first.json()["plan"]["users"]["create"] == 100_000
    assert first.json()["plan"]["memberships"]["create"] == 300_000
    assert one(db_path, "SELECT count(*) FROM memberships") == 300_000
    exported = run_tui("export", timeout=600).stdout
    again = run_tui("import", path, timeout=600)
    assert "nothing to change" in again.stdout
    assert run_tui("export", timeout=600).stdout == exported


def test_a_100k_sync_disables_what_is_gone(run_tui, db_path: Path, tmp_path: Path) -> None:
    document = directory_document(100_000, 1_000, 300_000)
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert run_tui("import", "--sync", "--source", "hr", path, timeout=600).returncode == 0
    document["users"] = document["users"][:95_000]  # 5% gone: under the mass-disable threshold
    gone = {u for g in document["groups"] for u in g["members"]} - {u["userName"] for u in document["users"]}
    for group in document["groups"]:
        group["members"] = [m for m in group["members"] if m not in gone]
    path.write_text(json.dumps(document), encoding="utf-8")
    result = run_tui("import", "--sync", "--source", "hr", "--json", path, timeout=600)
    assert result.returncode == 0, result
    assert result.json()["plan"]["users"]["disable"] == 5_000
    assert one(db_path, "SELECT count(*) FROM users WHERE status = 'disabled'") == 5_000
