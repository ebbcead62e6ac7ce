"""`tui export --format json|scim|csv`: what each writes, neutralised CSV cells, and export → import round
trips."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest

from tests.test_import_support import DATA, export_json, rows

SOURCES = ("users.csv", "scim-list-response.json", "okta-import.csv", "scim-bulk-nested.json")


@pytest.fixture
def populated(run_tui) -> None:
    """Users and groups from four files and three sources, nested groups, disabled users, odd characters."""
    for name in SOURCES:
        result = run_tui("import", DATA / name)
        assert result.returncode == 0, result


def export(run_tui, fmt: str, *db_args: object) -> str:
    result = run_tui(*db_args, "export", "--format", fmt)
    assert result.returncode == 0, result
    return str(result.stdout)


@pytest.mark.parametrize("fmt", ["json", "scim", "csv"])
def test_every_export_imports_back_as_it_was(run_tui, populated: None, tmp_path: Path, fmt: str) -> None:
    first = export(run_tui, fmt)
    path = tmp_path / f"export.{fmt}"
    path.write_text(first, encoding="utf-8")
    other = tmp_path / "other.db"
    result = run_tui("--db", other, "import", path)
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"format: {fmt} (detected")
    assert export(run_tui, fmt, "--db", other) == first  # byte for byte
    again = run_tui("--db", other, "import", path)
    assert "nothing to change" in again.stdout


def test_the_json_export_keeps_sources(run_tui, populated: None, tmp_path: Path) -> None:
    document = json.loads(export_json(run_tui))
    sources = {user["userName"]: user.get("source", "local") for user in document["users"]}
    assert sources["ada.lovelace"] == "local" and sources["kim.deal@example.com"] == "okta"
    assert sources["bjensen@example.com"] == "scim"
    path = tmp_path / "all.json"
    path.write_text(export_json(run_tui), encoding="utf-8")
    other = tmp_path / "other.db"
    assert run_tui("--db", other, "import", path).returncode == 0
    assert dict(rows(other, "SELECT user_name, source FROM users")) == sources


def test_the_scim_export_is_a_list_response_whose_members_resolve(run_tui, populated: None) -> None:
    document = json.loads(export(run_tui, "scim"))
    assert document["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    resources = document["Resources"]
    assert document["totalResults"] == len(resources) == document["itemsPerPage"]
    users = {r["id"]: r for r in resources if r["meta"]["resourceType"] == "User"}
    groups = [r for r in resources if r["meta"]["resourceType"] == "Group"]
    assert len(users) == len([r for r in resources if "userName" in r])  # ids unique
    for group in groups:
        assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
        for member in group["members"]:
            assert users[member["value"]]["userName"] == member["display"]
    bjensen = next(u for u in users.values() if u["userName"] == "bjensen@example.com")
    assert bjensen["id"] == "2819c223-7f76-453a-919d-413861904646"  # the id it had at its source
    # All its emails as the file sent them, and its enterprise extension: kept on import, exported.
    assert bjensen["emails"] == [
        {"value": "babs@jensen.org", "type": "home"},
        {"value": "bjensen@example.com", "type": "work", "primary": True},
    ]
    extension = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert bjensen[extension] == {"employeeNumber": "701984", "department": "Tour Operations"}
    assert extension in bjensen["schemas"]
    assert bjensen["name"] == {"givenName": "Barbara", "familyName": "Jensen"}


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(run_tui, tmp_path: Path) -> None:
    path = tmp_path / "formulas.csv"
    path.write_text(
        "userName,displayName,familyName,email,groups\n"
        "eq,=SUM(A1:A9),@at,+tag@example.org,-dash\n"
        "quote,'already quoted,plain,,\n",
        encoding="utf-8",
    )
    assert run_tui("import", path).returncode == 0
    exported = export(run_tui, "csv")
    table = {row["userName"]: row for row in csv.DictReader(io.StringIO(exported))}
    assert table["eq"]["displayName"] == "'=SUM(A1:A9)"
    assert table["eq"]["familyName"] == "'@at"
    assert table["eq"]["email"] == "'+tag@example.org"
    assert table["eq"]["groups"] == "'-dash"
    assert table["quote"]["displayName"] == "''already quoted"  # so that the import can tell them apart
    assert table["quote"]["familyName"] == "plain"
    # …and imported back, every value is what it was.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(exported.encode())
    other = tmp_path / "other.db"
    assert run_tui("--db", other, "import", copy).returncode == 0
    assert dict(rows(other, "SELECT user_name, display_name FROM users")) == {
        "eq": "=SUM(A1:A9)",
        "quote": "'already quoted",
    }
    assert (
        exported.splitlines()[0] == "userName,displayName,givenName,familyName,email,groups,active,externalId"
    )


def test_export_to_a_private_file(run_tui, populated: None, tmp_path: Path) -> None:
    for fmt in ("json", "scim", "csv"):
        target = tmp_path / f"out.{fmt}"
        result = run_tui("export", "--format", fmt, "--output", target)
        assert result.returncode == 0 and result.stdout == "", result
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert target.read_bytes().decode("utf-8") == export(run_tui, fmt)
