"""Each import format with a realistic file, through the real `tui import`: detection, mapping, notices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_import_support import DATA, assert_refused, export_json, one, rows


def users_of(run_tui) -> dict[str, dict]:
    return {user["userName"]: user for user in json.loads(export_json(run_tui))["users"]}


def groups_of(run_tui) -> dict[str, list]:
    return {group["displayName"]: group["members"] for group in json.loads(export_json(run_tui))["groups"]}


# -- detection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fmt, reason",
    [
        ("users.csv", "csv", "the header has userName"),
        ("entra-bulk-create.csv", "entra", "the first line is 'version:v1.0'"),
        ("okta-import.csv", "okta", "the header has login"),
        ("google-users.csv", "google", "Email Address"),
        ("scim-list-response.json", "scim", "SCIM schemas"),
    ],
)
def test_auto_detects_the_format_and_says_so(run_tui, name: str, fmt: str, reason: str) -> None:
    result = run_tui("import", "--dry-run", DATA / name)
    assert result.returncode == 0, result
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"format: {fmt} (detected: "), first
    assert reason in first
    as_json = run_tui("import", "--dry-run", "--json", DATA / name).json()
    assert as_json["format"] == fmt and as_json["detected"] is True


def test_a_given_format_is_used_as_given(run_tui) -> None:
    result = run_tui("import", "--dry-run", "--format", "okta", DATA / "okta-import.csv")
    assert result.returncode == 0, result
    assert result.stdout.startswith("format: okta (as given)")


def test_an_unknown_header_is_refused_with_the_choices(run_tui, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,mail\nada,ada@example.org\n", encoding="utf-8")
    result = run_tui("import", path)
    assert result.returncode == 1, result
    assert "cannot tell the format" in result.stderr and "'name,mail'" in result.stderr
    assert "--format csv, json, scim, entra, okta or google" in result.stderr


def test_the_wrong_format_given_is_refused_by_its_header(run_tui, db_path: Path) -> None:
    assert_refused(
        run_tui, db_path, DATA / "okta-import.csv", ["line 1", "version:v1.0"], "--format", "entra"
    )
    assert_refused(run_tui, db_path, DATA / "users.csv", ["line 1", "'login'", "Okta"], "--format", "okta")


# -- tui's CSV ---------------------------------------------------------------------------------------------


def test_our_csv(run_tui, db_path: Path) -> None:
    result = run_tui("import", DATA / "users.csv")
    assert result.returncode == 0, result
    assert "users: 6 to create" in result.stdout and "groups: 4 to create" in result.stdout
    users = users_of(run_tui)
    assert users["grace.hopper"]["displayName"] == "Hopper, Grace (Rear Admiral)"
    assert users["o'brien"]["displayName"] == 'Conan "the" O\'Brien' and users["o'brien"]["active"] is False
    assert users["Zoë.Ångström"]["externalId"] == "emp-2001"
    # The spreadsheet escape is dropped: the value is stored as it was before export neutralised it.
    assert users["mallory"]["displayName"] == '=HYPERLINK("https://evil.example","click")'
    groups = groups_of(run_tui)
    assert groups["R;D"] == ["ken", "mallory"]  # "R\;D": a ';' inside a group name
    assert groups["Engineering"] == ["ada.lovelace", "grace.hopper", "Zoë.Ångström"]  # by canonical name
    # CSV users are the directory's own: local, editable.
    assert rows(db_path, "SELECT DISTINCT source FROM users") == [("local",)]


def test_our_csv_columns_are_optional_and_leave_the_rest_alone(run_tui, tmp_path: Path) -> None:
    assert run_tui("import", DATA / "users.csv").returncode == 0
    update = tmp_path / "emails.csv"
    update.write_text("USERNAME,Email\nada.lovelace,countess@example.org\n", encoding="utf-8")
    result = run_tui("import", update)
    assert result.returncode == 0, result
    assert "update user 'ada.lovelace': email" in result.stdout
    ada = users_of(run_tui)["ada.lovelace"]
    assert ada["email"] == "countess@example.org" and ada["displayName"] == "Ada Lovelace"
    assert ada["groups"] == ["Analytical Engines", "Engineering"]


def test_our_csv_refuses_unknown_and_repeated_columns(run_tui, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad-header.csv"
    path.write_text("userName,nickName,email,EMAIL\nada,Ada,a@example.org,b@example.org\n", encoding="utf-8")
    assert_refused(
        run_tui,
        db_path,
        path,
        ["line 1", "'nickName' is not a column", "'EMAIL' appears twice"],
        "--format",
        "csv",
    )
    path.write_text("displayName\nAda\n", encoding="utf-8")
    assert_refused(run_tui, db_path, path, ["line 1", "no userName column"], "--format", "csv")
    path.write_text("userName,active\nada,yes\n", encoding="utf-8")
    assert_refused(run_tui, db_path, path, ["line 2", "active", "'yes' must be true or false"])


# -- Microsoft Entra ID ------------------------------------------------------------------------------------


def test_entra_bulk_create_template(run_tui, db_path: Path) -> None:
    result = run_tui("import", DATA / "entra-bulk-create.csv")
    assert result.returncode == 0, result
    assert "line 3: the template's example row (Chris Green, chris@contoso.com) was skipped" in result.stderr
    assert "5 cleartext initial password(s) dropped" in result.stderr
    assert "Job title [jobTitle]" in result.stderr  # ignored columns are named
    users = users_of(run_tui)
    assert "chris@contoso.com" not in {name.casefold() for name in users}
    assert users["MeganB@contoso.onmicrosoft.com"]["displayName"] == "Megan Bowen, PMP"
    assert users["JoseN@contoso.onmicrosoft.com"]["familyName"] == "Ñúñez"
    assert users["DiegoS@contoso.onmicrosoft.com"]["active"] is False  # Block sign in: Yes
    assert users["AdeleV@contoso.onmicrosoft.com"]["active"] is True
    assert {u["source"] for u in users.values()} == {"entra"}
    assert one(db_path, "SELECT count(*) FROM users WHERE password_hash IS NOT NULL") == 0


def test_entra_requires_its_version_line_and_headings(run_tui, db_path: Path, tmp_path: Path) -> None:
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "entra.csv"
    path.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    assert_refused(run_tui, db_path, path, ["line 1", "version:v1.0"])  # detected by its headings
    path.write_text("version:v2.0\n" + "\n".join(lines[1:]) + "\n", encoding="utf-8")
    assert_refused(run_tui, db_path, path, ["line 1", "'version:v2.0' is not a template version"])
    path.write_text(
        lines[0] + "\nName [displayName] Required,User name [userPrincipalName] Required\n"
        "Ada,ada@example.org\n",
        encoding="utf-8",
    )
    assert_refused(
        run_tui,
        db_path,
        path,
        [
            "line 2",
            "'Initial password [passwordProfile] Required'",
            "'Block sign in (Yes/No) [accountEnabled] Required'",
            "requires them",
        ],
    )


def test_entra_row_values_are_checked(run_tui, db_path: Path, tmp_path: Path) -> None:
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(",No,", ",Maybe,", 1)
    lines[5] = "," + lines[5].split(",", 1)[1]
    path = tmp_path / "entra.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_refused(
        run_tui,
        db_path,
        path,
        [
            ("line 5: Block sign in (Yes/No) [accountEnabled] Required: 'Maybe' must be Yes or No"),
            "line 6: Name [displayName] Required: is required",
        ],
    )


# -- Okta --------------------------------------------------------------------------------------------------


def test_okta_user_import_template(run_tui, db_path: Path) -> None:
    result = run_tui("import", DATA / "okta-import.csv")
    assert result.returncode == 0, result
    assert "githubUsername" in result.stderr  # a custom attribute column: ignored, and said so
    users = users_of(run_tui)
    isaac = users["isaac.brock@example.com"]
    assert (isaac["givenName"], isaac["familyName"], isaac["email"], isaac["externalId"]) == (
        "Isaac",
        "Brock",
        "isaac.brock@example.com",
        "100234",
    )
    assert users["frank.black@example.com"]["displayName"] == "Black, Frank"
    assert "externalId" not in users["frank.black@example.com"]  # no employeeNumber
    assert {u["source"] for u in users.values()} == {"okta"}


def test_okta_mandatory_attributes(run_tui, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "okta.csv"
    path.write_text("login,firstName,lastName\nada@example.org,Ada,Lovelace\n", encoding="utf-8")
    assert_refused(run_tui, db_path, path, ["line 1", "no 'email' column", "requires it"])
    path.write_text(
        "login,firstName,lastName,email\nada@example.org,,Lovelace,ada@example.org\n", encoding="utf-8"
    )
    assert_refused(run_tui, db_path, path, ["line 2: firstName: is required"])


# -- Google Workspace --------------------------------------------------------------------------------------


def test_google_workspace_upload(run_tui, db_path: Path) -> None:
    result = run_tui("import", DATA / "google-users.csv")
    assert result.returncode == 0, result
    assert "1 password(s) given as SHA-1 hashes were dropped" in result.stderr
    assert "Org Unit Path [Required]" in result.stderr  # required by Google, not kept by tui: said so
    users = users_of(run_tui)
    margaret = users["margaret@example.com"]
    assert (margaret["givenName"], margaret["familyName"], margaret["email"], margaret["externalId"]) == (
        "Margaret",
        "Hamilton",
        "margaret@example.com",
        "E-1001",
    )
    assert users["mary@example.com"]["active"] is False  # New Status: Suspended
    hashes = dict(rows(db_path, "SELECT user_name, password_hash FROM users"))
    assert hashes["katherine@example.com"].startswith("$2b$10$")  # a crypt (bcrypt) hash, kept
    assert hashes["dorothy@example.com"] is None  # SHA-1: dropped
    assert hashes["mary@example.com"] is None  # ****: unchanged (there was none)
    assert hashes["margaret@example.com"] is None  # cleartext without --with-passwords


def test_google_new_primary_email_renames(run_tui, tmp_path: Path) -> None:
    assert run_tui("import", DATA / "google-users.csv").returncode == 0
    header = (DATA / "google-users.csv").read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "rename.csv"
    row = (
        ["Mary", "Jackson", "mary@example.com", "****", "", "/", "mary.jackson@example.com"]
        + [""] * 18
        + ["", "Active", ""]
    )
    path.write_text(header + "\n" + ",".join(row) + "\n", encoding="utf-8")
    result = run_tui("import", path)
    assert result.returncode == 0, result
    assert (
        "update user 'mary.jackson@example.com': userName, email, active" in result.stdout
    )  # blanks say nothing
    users = users_of(run_tui)
    assert "mary@example.com" not in users and users["mary.jackson@example.com"]["active"] is True


def test_a_second_plan_counts_the_groups_its_users_name_as_unchanged(tmp_path, run_tui):
    """Issue 13: re-planning a CSV said 'groups: … 0 unchanged' while the two groups it names existed."""
    path = tmp_path / "people.csv"
    path.write_text("userName,groups\nann,Ops;Dev\nben,Dev\n")
    assert run_tui("import", str(path)).returncode == 0
    again = run_tui("import", str(path), "--dry-run")
    assert again.returncode == 0
    assert "nothing to change" in again.stdout
    planned = run_tui("import", str(path), "--dry-run", "--json").json()
    assert planned["plan"]["groups"] == {"create": 0, "update": 0, "empty": 0, "unchanged": 2}
