"""A SCIM request costs what it names, not the size of the directory: it reads no table whole (a request
that read every assignment took 63 ms beside 50,000 of them, 37 times its cost on an empty directory; one
that read every user made a push of 10,000 users quadratic). Checked on the statements SQLite runs, not by
timing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.audit import Actor
from store.directory import Directory
from store.scim_resources import ScimGroups, ScimUsers, Shape

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _scans(conn: sqlite3.Connection, statement: str) -> list[str]:
    """The tables (or their aliases) ``statement`` reads whole, by SQLite's own query plan. A list passed as
    one parameter (``IN (SELECT value FROM json_each(?))``) is read whole: it holds what the request names."""
    if not statement.startswith("SELECT"):
        return []
    plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
    return [
        row[3]
        for row in plan
        if row[3].startswith("SCAN ")
        and "CONSTANT ROW" not in row[3]
        and not row[3].startswith("SCAN json_each")
    ]


def _user(name: str) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": True}


def _op(**operation: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": [operation]}


def test_scim_requests_read_no_table_whole(tmp_path: Path) -> None:
    with Directory.open(tmp_path / "directory.db", Actor("owner", "test")) as owner:
        account = owner.accounts.create("prod")
        reader = owner.permission_sets.create("S3Reader")
        for n in range(20):  # a directory with local users and their assignments beside the source's
            local = owner.users.create(f"local{n}")
            owner.assignments.create("user", local.id, account.id, reader.id)
    directory = Directory.open(tmp_path / "directory.db")
    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    users, groups = ScimUsers(directory, "okta"), ScimGroups(directory, "okta")
    ids = [users.create(_user(f"u{n}@example.com"), b"{}", "test")["id"] for n in range(40)]
    group = groups.create({"schemas": [groups.core], "displayName": "team"}, b"{}", "test")["id"]

    reader = sqlite3.connect(tmp_path / "directory.db")  # to ask for query plans beside the requests
    statements: list[str] = []
    directory.db.conn.set_trace_callback(statements.append)

    def whole_reads(request: Callable[[], Any]) -> list[str]:
        statements.clear()
        request()
        return [f"{s} [{scan}]" for s in statements for scan in _scans(reader, s.strip())]

    members = _op(op="add", path="members", value=[{"value": i} for i in ids[:30]])
    requests: dict[str, Callable[[], Any]] = {
        "POST /Users": lambda: users.create(_user("new@example.com"), b"{}", "test"),
        "GET /Users/id": lambda: users.get(ids[0]),
        "PATCH /Users/id": lambda: users.patch(
            ids[0], _op(op="replace", path="name.givenName", value="A"), b"{}", "t"
        ),
        "PUT /Users/id": lambda: users.replace(ids[1], _user("u1@example.com"), b"{}", "test"),
        "PATCH /Groups/id": lambda: groups.patch(group, members, json.dumps(members).encode(), "t", Shape()),
        "deactivate": lambda: users.patch(ids[2], _op(op="replace", path="active", value=False), b"{}", "t"),
        "reactivate": lambda: users.patch(ids[2], _op(op="replace", path="active", value=True), b"{}", "t"),
        "DELETE /Users/id": lambda: users.delete(ids[3], b"", "test"),
        "filtered list": lambda: users.list('userName eq "U5@Example.com"', 1, 10),
        "groups by name": lambda: groups.list('displayName eq "TEAM"', 1, 10),
    }
    read_whole = {label: reads for label, request in requests.items() if (reads := whole_reads(request))}
    directory.db.conn.set_trace_callback(None)
    assert read_whole == {}
    # The requests did their work (a test that read nothing would pass the check above).
    assert users.get(ids[0])["name"]["givenName"] == "A"
    assert len(groups.get(group)["members"]) == 29  # 30 added, one deleted since
    # userName and displayName compare as the directory compares names: ignoring case (and width).
    assert [u["userName"] for u in users.list('userName eq "U5@Example.com"', 1, 10).resources] == [
        "u5@example.com"
    ]
    assert [g["id"] for g in groups.list('displayName eq "TEAM"', 1, 10).resources] == [group]
    directory.close()
    reader.close()


def test_rows_from_a_file_are_found_by_their_stable_id_as_they_arrive(tmp_path: Path) -> None:
    """A source's users imported from a file have no SCIM id until their first change over SCIM: they are
    found by the id the SCIM export gives them, also those imported after the server first looked."""
    from store.errors import NotFound
    from store.formats import read_file
    from store.formats.scim import stable_id
    from store.importer import import_document

    def import_users(directory: Directory, names: list[str]) -> None:
        raw = json.dumps({"users": [{"userName": name} for name in names]}).encode()
        document = read_file(raw, "people.json", "json").document
        import_document(directory, document, file_name="people.json", raw=raw, source="okta")

    owner = Directory.open(tmp_path / "directory.db", Actor("owner", "test"))
    import_users(owner, ["ada@example.com", "bo@example.com"])
    directory = Directory.open(tmp_path / "directory.db")
    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    users = ScimUsers(directory, "okta")

    def ident(name: str) -> str:
        user = owner.users.get_by_name(name)
        return stable_id("user", user.id, user.created_at)

    assert users.get(ident("bo@example.com"))["userName"] == "bo@example.com"
    import_users(owner, ["cy@example.com"])  # after the server first looked
    assert users.get(ident("cy@example.com"))["userName"] == "cy@example.com"
    # Changed over SCIM, a row keeps that id as its own; an id nobody has is not found.
    users.patch(ident("ada@example.com"), _op(op="replace", path="name.givenName", value="Ada"), b"{}", "t")
    assert users.get(ident("ada@example.com"))["name"]["givenName"] == "Ada"
    with pytest.raises(NotFound):
        users.get("00000000-0000-5000-8000-000000000000")
    directory.close()
    owner.close()
