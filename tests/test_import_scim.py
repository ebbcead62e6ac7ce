"""SCIM 2.0 through `tui import`: every RFC example in tests/data/conformance/scim/, lists, bulk requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_import_support import DATA, SCIM, assert_refused, export_json, one, rows

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RFC7643 = SCIM / "rfc7643"
RFC7644 = SCIM / "rfc7644"
BJENSEN_ID = "2819c223-7f76-453a-919d-413861904646"


def users_of(run_tui) -> dict[str, dict]:
    return {user["userName"]: user for user in json.loads(export_json(run_tui))["users"]}


def members_of(run_tui) -> dict[str, list]:
    return {group["displayName"]: group["members"] for group in json.loads(export_json(run_tui))["groups"]}


def imported(run_tui, path: Path, *options: str):
    result = run_tui("import", *options, path)
    assert result.returncode == 0, result
    return result


# What each RFC example does here. A file added to the conformance folder fails
# test_every_conformance_file_has_an_expectation until it gets one.
HANDLED = {
    "rfc7643-8.1-user-minimal.json",
    "rfc7643-8.2-user-full.json",
    "rfc7643-8.3-enterprise_user.json",
    "rfc7643-8.4-group.json",
    "rfc7644-3.3-user-post_request.json",
    "rfc7644-3.5.2.1-patch_op-add_members.json",
    "rfc7644-3.7.1-bulk_request-circular_conflict.json",
    "rfc7644-3.7.2-bulk_request-enterprise_user.json",
    "rfc7644-3.7.2-bulk_request-temporary_identifier.json",
    "rfc7644-3.7.3-bulk_request-multiple_operations.json",
}


def test_the_conformance_folder_is_there() -> None:
    assert SCIM.is_dir(), f"{SCIM}: the RFC examples are kept in the repository"


def test_every_conformance_file_has_an_expectation() -> None:
    assert {path.name for path in SCIM.rglob("*.json")} == HANDLED


class TestRfc7643Resources:
    def test_8_1_minimal_user(self, run_tui, db_path: Path) -> None:
        result = imported(run_tui, RFC7643 / "rfc7643-8.1-user-minimal.json")
        assert "format: scim (detected" in result.stdout and "users: 1 to create" in result.stdout
        assert rows(db_path, "SELECT user_name, source, scim_id, status FROM users") == [
            ("bjensen@example.com", "scim", BJENSEN_ID, "active")
        ]

    @pytest.mark.parametrize("name", ["rfc7643-8.2-user-full.json", "rfc7643-8.3-enterprise_user.json"])
    def test_8_2_and_8_3_full_and_enterprise_users(self, run_tui, db_path: Path, name: str) -> None:
        result = imported(run_tui, RFC7643 / name)
        assert "the groups attribute of 1 User resource(s) was ignored: it is read-only" in result.stderr
        assert "1 cleartext initial password(s) dropped" in result.stderr
        user = users_of(run_tui)["bjensen@example.com"]
        # Kept beside the columns: both addresses as sent, and (8.3) the enterprise extension, its manager
        # without the displayName a server makes.
        emails = [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ]
        extension = {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "https://example.com/v2/Users/26118915-6090-4610-87e4-49d8ca9f808d",
            },
        }
        expected = {"emails": emails} | ({ENTERPRISE_USER: extension} if "enterprise" in name else {})
        assert user.pop("scimAttributes") == expected
        assert user.pop("scimId") == BJENSEN_ID  # the id it has at its source, kept and exported
        assert user == {
            "userName": "bjensen@example.com",
            "displayName": "Babs Jensen",
            "givenName": "Barbara",
            "familyName": "Jensen",
            "email": "bjensen@example.com",
            "externalId": "701984",
            "active": True,
            "groups": [],
            "source": "scim",
        }
        assert one(db_path, "SELECT password_hash FROM users") is None

    def test_8_2_with_passwords_hashes_the_initial_password(self, run_tui, db_path: Path) -> None:
        imported(run_tui, RFC7643 / "rfc7643-8.2-user-full.json", "--with-passwords")
        digest, must_change = rows(db_path, "SELECT password_hash, must_change_password FROM users")[0]
        assert digest.startswith("$argon2id$") and must_change == 1

    def test_8_4_group_needs_its_members(self, run_tui, db_path: Path) -> None:
        path = RFC7643 / "rfc7643-8.4-group.json"
        assert_refused(
            run_tui,
            db_path,
            path,
            [
                f"members[0]: value: no user or group with id '{BJENSEN_ID}'",
                "members[1]: value: no user or group with id '902c246b-6245-4190-8e05-00816be7344a'",
            ],
        )

    def test_8_4_group_after_its_members_were_imported(self, run_tui, db_path: Path) -> None:
        imported(run_tui, RFC7643 / "rfc7643-8.2-user-full.json")
        imported(run_tui, DATA / "scim-list-response.json")  # bjensen again (unchanged) and Mandy, by id
        result = imported(run_tui, RFC7643 / "rfc7643-8.4-group.json")
        assert "Babs" not in result.stderr
        groups = members_of(run_tui)
        # The list's Tour Guides (same id) held jsmith; the group resource adds its two members by id.
        assert groups["Tour Guides"] == [
            "bjensen@example.com",
            "jsmith@example.com",
            "mpepperidge@example.com",
        ]


class TestRfc7644Messages:
    def test_3_3_post_request(self, run_tui) -> None:
        imported(run_tui, RFC7644 / "rfc7644-3.3-user-post_request.json")
        assert users_of(run_tui)["bjensen"] == {
            "userName": "bjensen",
            "givenName": "Barbara",
            "familyName": "Jensen",
            "externalId": "bjensen",
            "active": True,
            "groups": [],
            "source": "scim",
        }

    def test_3_5_2_1_a_bare_patch_op_is_refused_with_the_way_out(self, run_tui, db_path: Path) -> None:
        stderr = assert_refused(
            run_tui,
            db_path,
            RFC7644 / "rfc7644-3.5.2.1-patch_op-add_members.json",
            ["a SCIM PatchOp message is not an import format", "request URL", '"method": "PATCH"'],
        )
        assert "Traceback" not in stderr

    def test_3_5_2_1_the_same_patch_inside_a_bulk_request_adds_the_member(
        self, run_tui, tmp_path: Path
    ) -> None:
        imported(run_tui, DATA / "scim-list-response.json")
        patch = json.loads(
            (RFC7644 / "rfc7644-3.5.2.1-patch_op-add_members.json").read_text(encoding="utf-8")
        )
        bulk = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "PATCH", "path": "/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a", "data": patch}
            ],
        }
        path = tmp_path / "patch-bulk.json"
        path.write_text(json.dumps(bulk), encoding="utf-8")
        result = imported(run_tui, path)
        assert "create membership 'bjensen@example.com in Tour Guides'" in result.stdout
        assert members_of(run_tui)["Tour Guides"] == ["bjensen@example.com", "jsmith@example.com"]
        assert "nothing to change" in imported(run_tui, path).stdout

    def test_3_7_1_circular_references_are_refused_as_the_rfc_allows(self, run_tui, db_path: Path) -> None:
        # RFC 7644 §3.7.1: a service provider MAY stop at a circular reference (409 Conflict). tui flattens
        # nested groups into their users and cannot flatten a cycle.
        assert_refused(
            run_tui,
            db_path,
            RFC7644 / "rfc7644-3.7.1-bulk_request-circular_conflict.json",
            ["Operations[0] (POST /Groups, bulkId qwerty)", "cycle", "'Group A' → 'Group B' → 'Group A'"],
        )

    def test_3_7_2_enterprise_user_with_a_bulk_id_manager(self, run_tui) -> None:
        result = imported(run_tui, RFC7644 / "rfc7644-3.7.2-bulk_request-enterprise_user.json")
        assert "users: 2 to create" in result.stdout
        assert set(users_of(run_tui)) == {"Alice", "Bob"}
        # Bob's extension is kept; his manager, Alice by bulkId, is not (her id is made on import), and the
        # import says so.
        assert users_of(run_tui)["Bob"]["scimAttributes"] == {ENTERPRISE_USER: {"employeeNumber": "11250"}}
        assert "the enterprise manager of 1 User resource(s) was not kept" in result.stderr

    def test_3_7_2_temporary_identifier(self, run_tui) -> None:
        imported(run_tui, RFC7644 / "rfc7644-3.7.2-bulk_request-temporary_identifier.json")
        assert members_of(run_tui) == {"Tour Guides": ["Alice"]}

    def test_3_7_3_multiple_operations_need_their_targets(self, run_tui, db_path: Path) -> None:
        assert_refused(
            run_tui,
            db_path,
            RFC7644 / "rfc7644-3.7.3-bulk_request-multiple_operations.json",
            [
                "Operations[1] (PUT /Users/b7c14771-226c-4d05-8860-134711653041): no user with id",
                "Operations[2] (PATCH /Users/5d8d29d3-342c-4b5f-8683-a3cb6763ffcc)",
                "Operations[3] (DELETE /Users/e9025315-6bea-44e1-899c-1e07454e468b): no user with id",
            ],
        )

    def test_3_7_3_multiple_operations(self, run_tui, db_path: Path) -> None:
        imported(run_tui, DATA / "scim-3.7.3-setup.json")
        result = imported(run_tui, RFC7644 / "rfc7644-3.7.3-bulk_request-multiple_operations.json")
        assert "PATCH changes to attributes tui does not store were ignored: nickName" in result.stderr
        assert "create user 'Alice'" in result.stdout
        assert "disable user 'eve' (deleted in the file: tui disables instead)" in result.stdout
        users = users_of(run_tui)
        assert set(users) == {"Alice", "Bob", "Dave", "eve"}
        assert users["Bob"].get("displayName") is None  # PUT replaces the whole resource
        assert users["Dave"]["displayName"] == "David Bowman"  # PATCH changes only what it names
        assert users["eve"]["active"] is False
        assert rows(
            db_path, "SELECT user_name FROM users WHERE scim_id = ?", "b7c14771-226c-4d05-8860-134711653041"
        ) == [("Bob",)]


# -- beyond the RFC examples -------------------------------------------------------------------------------


def test_a_list_response_with_nested_groups(run_tui, db_path: Path) -> None:
    result = imported(run_tui, DATA / "scim-list-response.json")
    assert "nested groups flattened: 'Employees' gets the members of 'Tour Guides'" in result.stderr
    groups = members_of(run_tui)
    assert groups["Employees"] == ["bjensen@example.com", "jsmith@example.com", "mpepperidge@example.com"]
    users = users_of(run_tui)
    assert users["bjensen@example.com"]["email"] == "bjensen@example.com"  # the primary of two emails
    assert users["jsmith@example.com"]["active"] is False
    assert "nothing to change" in imported(run_tui, DATA / "scim-list-response.json").stdout


def test_a_bulk_request_with_patches_and_nested_groups(run_tui, db_path: Path) -> None:
    result = imported(run_tui, DATA / "scim-bulk-nested.json")
    assert "create user 'cy'" in result.stdout
    users = users_of(run_tui)
    assert users["cy"]["active"] is False and users["cy"]["displayName"] == "Cy Young"  # "False": Entra's way
    assert members_of(run_tui) == {"Platform": ["ann"], "Product": ["ann", "ben"]}
    digest = one(db_path, "SELECT password_hash FROM users WHERE user_name = 'ben'")
    assert digest.startswith("$pbkdf2-sha256$29000$")  # a hash in "password": kept for rehash at sign-in


def test_a_bulk_delete_of_a_group_empties_it(run_tui, tmp_path: Path) -> None:
    imported(run_tui, DATA / "scim-list-response.json")
    path = tmp_path / "delete.json"
    path.write_text(
        json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "DELETE", "path": "/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5"}],
            }
        ),
        encoding="utf-8",
    )
    result = imported(run_tui, path)
    assert "tui never deletes on import: the group is emptied" in result.stderr
    assert "remove membership 'bjensen@example.com in Employees'" in result.stdout
    assert members_of(run_tui)["Employees"] == []


def test_a_list_page_cannot_be_synced(run_tui, db_path: Path, tmp_path: Path) -> None:
    document = json.loads((DATA / "scim-list-response.json").read_text(encoding="utf-8"))
    document["totalResults"] = 50
    path = tmp_path / "page.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert_refused(
        run_tui,
        db_path,
        path,
        ["holds 5 of 50 resources (one page): a sync needs all of them"],
        "--sync",
        "--source",
        "scim",
    )
    assert "one page" in imported(run_tui, path).stderr  # a plain import is fine


def test_bulk_request_refusals(run_tui, db_path: Path, tmp_path: Path) -> None:
    bulk = json.loads(
        (RFC7644 / "rfc7644-3.7.2-bulk_request-enterprise_user.json").read_text(encoding="utf-8")
    )
    bulk["Operations"][1]["data"]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"][
        "value"
    ] = "bulkId:nobody"
    bulk["Operations"].append(
        {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": {"userName": "X"}}
    )
    bulk["Operations"].append({"method": "GET", "path": "/Users"})
    bulk["Operations"].append({"method": "POST", "path": "/Widgets", "data": {}})
    path = tmp_path / "bad-bulk.json"
    path.write_text(json.dumps(bulk), encoding="utf-8")
    assert_refused(
        run_tui,
        db_path,
        path,
        [
            "manager.value: bulkId:nobody is not the bulkId of any operation",
            "Operations[2]: bulkId: 'qwerty' is the same as Operations[0]'s",
            "Operations[3]: method: 'GET' must be POST, PUT, PATCH or DELETE",
            "path: must start with /Users or /Groups",
        ],
    )


def test_patch_and_delete_are_not_a_sync(run_tui, db_path: Path) -> None:
    imported(run_tui, DATA / "scim-3.7.3-setup.json")
    assert_refused(
        run_tui,
        db_path,
        RFC7644 / "rfc7644-3.7.3-bulk_request-multiple_operations.json",
        ["--sync makes the directory match whole resources", "PATCH"],
        "--sync",
        "--source",
        "scim",
    )


LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _resources(path: Path, *resources: dict) -> Path:
    path.write_text(json.dumps({"schemas": [LIST], "Resources": list(resources)}), encoding="utf-8")
    return path


def test_a_resource_keeps_its_identity_through_a_rename(run_tui, db_path: Path, tmp_path: Path) -> None:
    """A resource's ``id`` is its identity at the source: a later file with the same id and another name
    renames it (it crashed on the unique id before: internal error, IntegrityError)."""
    imported(
        run_tui,
        _resources(
            tmp_path / "first.json",
            {"schemas": [USER], "id": "u-1", "userName": "alice"},
            {"schemas": [GROUP], "id": "g-1", "displayName": "eng", "members": [{"value": "u-1"}]},
        ),
    )
    renamed = imported(
        run_tui,
        _resources(
            tmp_path / "renamed.json",
            {"schemas": [USER], "id": "u-1", "userName": "alice.b"},
            {"schemas": [GROUP], "id": "g-1", "displayName": "engineering", "members": [{"value": "u-1"}]},
        ),
    )
    assert "users: 0 to create, 1 to update" in renamed.stdout
    assert "groups: 0 to create, 1 to update" in renamed.stdout
    assert rows(db_path, "SELECT user_name, scim_id FROM users WHERE source = 'scim'") == [("alice.b", "u-1")]
    assert rows(db_path, "SELECT name, scim_id FROM groups") == [("engineering", "g-1")]
    assert members_of(run_tui) == {"engineering": ["alice.b"]}


def test_an_id_and_an_external_id_that_name_two_users_are_refused(
    run_tui, db_path: Path, tmp_path: Path
) -> None:
    imported(
        run_tui,
        _resources(
            tmp_path / "first.json",
            {"schemas": [USER], "id": "u-1", "userName": "alice"},
            {"schemas": [USER], "id": "u-2", "userName": "bob", "externalId": "e-2"},
        ),
    )
    assert_refused(
        run_tui,
        db_path,
        _resources(
            tmp_path / "both.json", {"schemas": [USER], "id": "u-1", "userName": "al", "externalId": "e-2"}
        ),
        ["Resources[0]: externalId: 'e-2' names the existing user 'bob', but id 'u-1' names 'alice'"],
    )
