"""What a SCIM user keeps beyond the directory's columns (all its emails as sent, the enterprise extension)
goes through a whole-directory JSON export and import: ``scimAttributes`` in the file, checked on the way in
as ``tui scim serve`` checks them. It was lost before: only the database backup kept it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from store.audit import Actor
from store.directory import Directory
from store.errors import NotFound
from store.scim_resources import ScimGroups, ScimUsers

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EMAILS = [
    {"value": "ann@work.example", "type": "work", "primary": True},
    {"value": "ann@home.example", "type": "home"},
]
EXTENSION = {"employeeNumber": "701", "department": "Finance", "manager": {"value": "boss-1"}}


def provision_ann(db_path: Path) -> str:
    """Ann, as Okta provisions her over SCIM: two addresses and the enterprise extension. Returns her id."""
    with Directory.open(db_path, Actor("owner", "test")) as owner:
        owner.users.create("lucy")  # a local user beside her: nothing kept
    with Directory.open(db_path) as directory:
        directory.act_for_source("okta", Actor("scim:okta", "scim"))
        body = {
            "schemas": [CORE_USER, ENTERPRISE],
            "userName": "ann@work.example",
            "emails": EMAILS,
            ENTERPRISE: EXTENSION,
        }
        return str(ScimUsers(directory, "okta").create(body, b"{}", "test")["id"])


def exported(run_tui, *db_args: object) -> str:
    result = run_tui(*db_args, "export", "--format", "json")
    assert result.returncode == 0, result
    return str(result.stdout)


def entry(document: str, user_name: str) -> dict[str, Any]:
    return next(u for u in json.loads(document)["users"] if u["userName"] == user_name)


def as_okta_reads_it(db_path: Path, user_name: str) -> dict[str, Any]:
    with Directory.open(db_path) as directory:
        directory.act_for_source("okta", Actor("scim:okta", "scim"))
        listing = ScimUsers(directory, "okta").list(f'userName eq "{user_name}"', 1, 10)
        (resource,) = listing.resources
        return resource


def test_emails_and_the_extension_go_through_an_export_and_an_import(run_tui, db_path: Path, tmp_path: Path):
    ident = provision_ann(db_path)
    first = exported(run_tui)
    assert entry(first, "ann@work.example")["scimAttributes"] == {"emails": EMAILS, ENTERPRISE: EXTENSION}
    assert entry(first, "ann@work.example")["scimId"] == ident
    assert "scimAttributes" not in entry(first, "lucy")

    path = tmp_path / "all.json"
    path.write_text(first, encoding="utf-8")
    other = tmp_path / "other.db"
    result = run_tui("--db", other, "import", path)
    assert result.returncode == 0, result
    assert exported(run_tui, "--db", other) == first  # byte for byte
    # What the identity provider reads back from the new directory is what it sent.
    ann = as_okta_reads_it(other, "ann@work.example")
    assert ann["emails"] == EMAILS and ann[ENTERPRISE] == EXTENSION
    assert ann["id"] == ident  # the id Okta holds for her still names her
    assert run_tui("--db", other, "import", path).stdout.count("nothing to change") == 1
    assert "nothing to change" in run_tui("import", path).stdout  # and into the directory it came from


def test_an_entry_that_leaves_them_out_keeps_them_and_null_clears_them(
    run_tui, db_path: Path, tmp_path: Path
):
    provision_ann(db_path)
    document = json.loads(exported(run_tui))
    ann = entry(json.dumps(document), "ann@work.example")
    del ann["scimAttributes"]
    path = tmp_path / "without.json"
    path.write_text(json.dumps({"users": [ann]}), encoding="utf-8")
    assert "nothing to change" in run_tui("import", path).stdout
    assert as_okta_reads_it(db_path, "ann@work.example")[ENTERPRISE] == EXTENSION

    path.write_text(json.dumps({"users": [{**ann, "scimAttributes": None}]}), encoding="utf-8")
    planned = run_tui("import", "--dry-run", path)
    assert planned.returncode == 0, planned
    assert "scimAttributes" in planned.stdout  # the plan names what changes
    assert run_tui("import", path).returncode == 0
    after = as_okta_reads_it(db_path, "ann@work.example")
    assert ENTERPRISE not in after and after["emails"] == [{"value": "ann@work.example", "primary": True}]
    assert "scimAttributes" not in entry(exported(run_tui), "ann@work.example")


def test_invalid_kept_values_are_refused_with_where_and_why_and_nothing_changes(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    provision_ann(db_path)
    before = exported(run_tui)
    ann = entry(before, "ann@work.example")
    cases = [
        ({"emails": [{"value": "not an address"}]}, "users[0].scimAttributes: emails[0].value"),
        ({"emails": "ann@work.example"}, "users[0].scimAttributes: emails: must be a list"),
        (
            {ENTERPRISE: {"department": "Fin\x1b[31mance"}},
            f"users[0].scimAttributes: {ENTERPRISE}:department",
        ),
        ({ENTERPRISE: {"department": ["Finance"]}}, f"users[0].scimAttributes: {ENTERPRISE}.department"),
        ({"phoneNumbers": []}, "users[0].scimAttributes: unknown attribute 'phoneNumbers'"),
        ("Finance", "users[0].scimAttributes: must be an object"),
        ({"emails": [{"value": f"a{n}@x.example"} for n in range(101)]}, "at most 100 addresses"),
    ]
    users = [({**ann, "scimAttributes": attributes}, said) for attributes, said in cases] + [
        ({**ann, "scimDeleted": "yesterday"}, "users[0]: scimDeleted: 'yesterday' is not an ISO-8601 time"),
        ({**ann, "scimDeleted": 7}, "users[0].scimDeleted: must be a time such as"),
        (
            {"userName": "lucy", "scimDeleted": "2026-01-01T00:00:00Z"},
            "users[0]: scimDeleted: only a resource its source knows by an id (scimId)",
        ),
    ]
    path = tmp_path / "bad.json"
    for user, said in users:
        path.write_text(json.dumps({"users": [user]}), encoding="utf-8")
        result = run_tui("import", path)
        assert result.returncode == 1 and said in result.stderr, (user, result)
        assert "\x1b" not in result.stderr  # the escape is named, never written raw
    assert exported(run_tui) == before


def test_two_entries_with_one_scim_id_are_refused(run_tui, db_path: Path, tmp_path: Path) -> None:
    ident = provision_ann(db_path)
    before = exported(run_tui)
    path = tmp_path / "twice.json"
    users = [
        {"userName": name, "source": "okta", "scimId": ident}
        for name in ("bea@work.example", "cy@work.example")
    ]
    path.write_text(json.dumps({"users": users}), encoding="utf-8")
    result = run_tui("import", path)
    assert result.returncode == 1, result
    # The first matches Ann by her id (a rename); the second names the same id.
    assert f"users[1]: scimId: {ident!r} is the same as users[0]'s" in result.stderr
    assert exported(run_tui) == before


CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def okta(db_path: Path) -> tuple[Directory, ScimUsers, ScimGroups]:
    directory = Directory.open(db_path)
    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    return directory, ScimUsers(directory, "okta"), ScimGroups(directory, "okta")


def test_what_a_source_deleted_stays_deleted_through_an_export_and_an_import(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    """A user or group its source DELETEd keeps its row (disabled, emptied) but is gone for the source (404):
    after a round trip into a new directory it must still be gone, not answer the source's GET again."""
    ann = provision_ann(db_path)
    directory, users, groups = okta(db_path)
    with directory:
        team = str(groups.create({"schemas": [CORE_GROUP], "displayName": "finance"}, b"{}", "test")["id"])
        users.delete(ann, b"", "test")
        groups.delete(team, b"", "test")
    first = exported(run_tui)
    deleted_at = entry(first, "ann@work.example")["scimDeleted"]
    assert deleted_at.endswith("Z") and entry(first, "ann@work.example")["active"] is False
    assert next(g for g in json.loads(first)["groups"] if g["displayName"] == "finance")["scimDeleted"]
    assert "scimDeleted" not in entry(first, "lucy")

    path = tmp_path / "all.json"
    path.write_text(first, encoding="utf-8")
    other = tmp_path / "other.db"
    assert run_tui("--db", other, "import", path).returncode == 0
    assert exported(run_tui, "--db", other) == first  # byte for byte, the mark and its time included
    directory, users, groups = okta(other)
    with directory:
        for resources, ident in ((users, ann), (groups, team)):
            with pytest.raises(NotFound):
                resources.get(ident)
        assert users.list('userName eq "ann@work.example"', 1, 10).resources == []

    # Left out: the mark stays. null: it is cleared, and the source sees her again.
    ann_entry = entry(first, "ann@work.example")
    del ann_entry["scimDeleted"]
    path.write_text(json.dumps({"users": [ann_entry]}), encoding="utf-8")
    assert "nothing to change" in run_tui("--db", other, "import", path).stdout
    path.write_text(json.dumps({"users": [{**ann_entry, "scimDeleted": None}]}), encoding="utf-8")
    planned = run_tui("--db", other, "import", "--dry-run", path)
    assert planned.returncode == 0 and "scimDeleted" in planned.stdout, planned
    assert run_tui("--db", other, "import", path).returncode == 0
    directory, users, _ = okta(other)
    with directory:
        assert users.get(ann)["userName"] == "ann@work.example"
