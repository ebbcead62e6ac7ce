"""A value a file or a request controls is quoted in a message by at most its first 256 characters and its
length: a 100,000-character value in a file made a 100 KB error line (every problem of the file one such
line). Names and ids within their limits are still quoted whole."""

from __future__ import annotations

import json
import re
from pathlib import Path

import store
import tui
from store.names import QUOTED_MAX, quoted

LONG = "9" * 100_000


def test_a_long_value_is_named_by_its_start_and_length() -> None:
    assert quoted("ann") == "'ann'"
    assert quoted("a" * QUOTED_MAX) == repr("a" * QUOTED_MAX)  # the longest field, whole
    assert quoted(LONG) == f"{'9' * QUOTED_MAX!r}… (100,000 characters)"
    assert quoted(list(range(10_000))).endswith("… (a list)") and len(quoted(list(range(10_000)))) < 300


def test_an_import_quotes_long_values_briefly_and_changes_nothing(run_tui, tmp_path: Path) -> None:
    document = {
        "users": [
            {"userName": "ann", "scimId": "x", "source": "okta", "scimDeleted": LONG},
            {"userName": "bob", LONG: "unknown field"},
        ],
        "groups": [
            {"displayName": "eng", "members": [{"userName": "ann", "expiresAt": LONG}, LONG]},
        ],
    }
    path = tmp_path / "long.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = run_tui("import", path)
    assert result.returncode == 1, result
    problems = [line for line in result.stderr.splitlines() if "100,000 characters" in line]
    assert len(problems) == 3, result.stderr[:3000]  # scimDeleted, the unknown field, expiresAt
    assert "members[1]: members: is 100000 characters long; the limit is 128" in result.stderr
    assert all(len(line) < QUOTED_MAX + 300 for line in result.stderr.splitlines())
    assert "nothing was changed" in result.stderr
    assert "ann" not in run_tui("export", "--format", "json").stdout


def test_no_message_quotes_a_value_whole() -> None:
    """A guard for messages still to come: a value goes into a message through quoted(), never !r."""
    whole = re.compile(r"\{[^{}]+!r\}")
    found = [
        f"{path.name}:{number}"
        for package in (store, tui)
        for path in Path(package.__file__).parent.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if whole.search(line) and not (path.name == "names.py" and "QUOTED_MAX]!r}" in line)
    ]
    assert found == []
