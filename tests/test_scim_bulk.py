"""``POST /scim/v2/Bulk`` (RFC 7644 §3.7) on a live ``tui scim serve``: operations in order, ``bulkId``
references, one transaction (a failing operation undoes the request whole and is named), the same refusals
as single requests, the live sync guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.directory import Directory
from tests.scim_live import CORE_GROUP, CORE_USER, PATCH_OP, LiveServer, live_server, seed_users

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Idp:
    def __init__(self, server: LiveServer, client: httpx.Client, other: httpx.Client) -> None:
        self.server, self.client, self.other = server, client, other

    def bulk(self, *operations: dict[str, Any], expect: int = 200, **extra: Any) -> dict[str, Any]:
        body = {"schemas": [BULK_REQUEST], "Operations": list(operations), **extra}
        response = self.client.post("/Bulk", json=body)
        assert response.status_code == expect, response.text
        assert "Traceback" not in response.text
        result: dict[str, Any] = response.json()
        return result

    def state(self) -> tuple[Any, ...]:
        """What a refused request must leave unchanged: counts, versions, the audit log's length."""
        with Directory.open(self.server.db_path) as directory, directory.db.read() as conn:
            return (
                conn.execute("SELECT count(*), sum(version) FROM users").fetchone()[:],
                conn.execute("SELECT count(*), sum(version) FROM groups").fetchone()[:],
                conn.execute("SELECT count(*) FROM memberships").fetchone()[0],
                conn.execute("SELECT count(*) FROM audit").fetchone()[0],
            )

    def members(self, group: str) -> list[str]:
        with Directory.open(self.server.db_path) as directory:
            group_id = directory.groups.get_by_name(group).id
            return sorted(m.user_name for m in directory.groups.members(group_id).items)


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    tokens: dict[str, str] = {}

    def setup(directory: Directory) -> None:
        seed_users(directory, "okta", [f"staff{n}@example.com" for n in range(20)])
        seed_users(directory, "entra", ["eve@example.com"])
        admins = directory.groups.create("Admins")
        directory.admins.set_admin_group(admins.id)
        tokens["okta"] = directory.scim_tokens.create("okta").bearer
        tokens["entra"] = directory.scim_tokens.create("entra").bearer

    with live_server(tmp_path, setup) as server:
        with server.client(tokens["okta"]) as client, server.client(tokens["entra"]) as other:
            yield Idp(server, client, other)


def _user(bulk_id: str, name: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [CORE_USER], "userName": name, "active": True},
    }


def test_operations_apply_in_order_with_bulk_id_references(idp: Idp) -> None:
    config = idp.client.get("/ServiceProviderConfig").json()
    assert config["bulk"]["supported"] is True and config["bulk"]["maxOperations"] == 1000
    before = idp.state()
    answer = idp.bulk(
        _user("ann", "ann@example.com"),
        _user("ben", "ben@example.com"),
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "team",
            "data": {
                "schemas": [CORE_GROUP],
                "displayName": "team",
                "members": [{"value": "bulkId:ann"}, {"value": "bulkId:ben"}],
            },
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:ben",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "name.givenName", "value": "Benjamin"}],
            },
        },
    )
    assert answer["schemas"] == [BULK_RESPONSE]
    statuses = [(op["method"], op.get("bulkId"), op["status"]) for op in answer["Operations"]]
    assert statuses == [
        ("POST", "ann", "201"),
        ("POST", "ben", "201"),
        ("POST", "team", "201"),
        ("PATCH", None, "200"),
    ]
    # Each answer says where the resource is and its version then (the group and ben's PATCH are last).
    for op in answer["Operations"][2:]:
        resource = idp.client.get(op["location"].removeprefix("/scim/v2")).json()
        assert resource["meta"]["version"] == op["version"]
    assert idp.members("team") == ["ann@example.com", "ben@example.com"]
    with Directory.open(idp.server.db_path) as directory:
        assert directory.users.get_by_name("ben@example.com").given_name == "Benjamin"
        assert directory.users.get_by_name("ann@example.com").source == "okta"
    users, groups, memberships, audit = idp.state()
    assert (users[0], groups[0], memberships) == (before[0][0] + 2, before[1][0] + 1, before[2] + 2)
    assert audit == before[3] + 4  # one event per operation

    # DELETE and PUT by id, with the version read: applied; a second DELETE of the same user is a 404.
    ann = answer["Operations"][0]["location"].rsplit("/", 1)[1]
    version = answer["Operations"][2]["version"]
    team = answer["Operations"][2]["location"].rsplit("/", 1)[1]
    done = idp.bulk(
        {"method": "DELETE", "path": f"/Users/{ann}"},
        {
            "method": "PUT",
            "path": f"/Groups/{team}",
            "version": version,
            "data": {"schemas": [CORE_GROUP], "displayName": "team-renamed", "members": []},
        },
    )
    assert [op["status"] for op in done["Operations"]] == ["204", "200"]
    assert idp.members("team-renamed") == []
    assert idp.client.get(f"/Users/{ann}").status_code == 404


def test_a_failing_operation_undoes_the_request_and_is_named(idp: Idp) -> None:
    idp.bulk(_user("kim", "kim@example.com"))
    kim = idp.client.get("/Users", params={"filter": 'userName eq "kim@example.com"'}).json()
    kim_id, kim_version = kim["Resources"][0]["id"], kim["Resources"][0]["meta"]["version"]
    eve = idp.other.get("/Users", params={"filter": 'userName eq "eve@example.com"'}).json()["Resources"][0][
        "id"
    ]
    # An admin made a group of this source the admin group: the source may not fill it.
    ops = idp.bulk(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "ops",
            "data": {"schemas": [CORE_GROUP], "displayName": "okta-ops"},
        }
    )
    ops_id = ops["Operations"][0]["location"].rsplit("/", 1)[1]
    with Directory.open(idp.server.db_path) as directory:
        directory.admins.set_admin_group(directory.groups.get_by_name("okta-ops").id)
    admins_member = {
        "method": "PATCH",
        "path": f"/Groups/{ops_id}",
        "data": {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:a"}]}],
        },
    }
    cases: list[tuple[list[dict[str, Any]], int, str]] = [
        # A name already taken, after a valid operation: that one is undone too.
        (
            [_user("a", "new@example.com"), _user("b", "kim@example.com")],
            409,
            "Operations[1] (POST /Users bulkId b)",
        ),
        # A stale version, as a stale If-Match.
        (
            [
                _user("a", "new@example.com"),
                {
                    "method": "PATCH",
                    "path": f"/Users/{kim_id}",
                    "version": 'W/"999"',
                    "data": {
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "active", "value": False}],
                    },
                },
            ],
            412,
            f"Operations[1] (PATCH /Users/{kim_id})",
        ),
        # Another source's user does not exist for this one.
        (
            [_user("a", "new@example.com"), {"method": "DELETE", "path": f"/Users/{eve}"}],
            404,
            "Operations[1]",
        ),
        # A bulkId no earlier operation created.
        (
            [
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g",
                    "data": {
                        "schemas": [CORE_GROUP],
                        "displayName": "g",
                        "members": [{"value": "bulkId:later"}],
                    },
                },
                _user("later", "later@example.com"),
            ],
            400,
            "'bulkId:later' is not the bulkId of an operation before this one",
        ),
        # The admin group is never the identity provider's to fill.
        (
            [_user("a", "new@example.com"), admins_member],
            403,
            "an identity provider never makes administrators",
        ),
    ]
    before = idp.state()
    for operations, status, named in cases:
        error = idp.bulk(*operations, expect=status)
        assert error["schemas"] == [ERROR] and error["status"] == str(status)
        assert named in error["detail"], error["detail"]
        assert error["detail"].endswith("nothing of this bulk request was applied")
        assert idp.state() == before, operations
    assert kim_version == idp.client.get(f"/Users/{kim_id}").json()["meta"]["version"]


def test_the_envelope_is_checked_before_anything_runs(idp: Idp) -> None:
    before = idp.state()
    too_many = [_user(f"u{n}", f"u{n}@example.com") for n in range(1001)]
    refusals = [
        ({"schemas": [CORE_USER], "Operations": [_user("a", "a@example.com")]}, "schemas"),
        ({"schemas": [BULK_REQUEST], "Operations": []}, "Operations: a bulk request has a list"),
        ({"schemas": [BULK_REQUEST], "Operations": too_many}, "1001 operations, more than"),
        (
            {"schemas": [BULK_REQUEST], "Operations": [{"method": "GET", "path": "/Users"}]},
            "Operations[0].method: 'GET' is not one of POST, PUT, PATCH, DELETE",
        ),
        (
            {"schemas": [BULK_REQUEST], "Operations": [{"method": "DELETE", "path": "/Users"}]},
            "Operations[0].path: '/Users' is not /Users/{id} or /Groups/{id} (for DELETE)",
        ),
        (
            {"schemas": [BULK_REQUEST], "Operations": [{**_user("a", "a@example.com"), "path": "/../Users"}]},
            "Operations[0].path",
        ),
        (
            {
                "schemas": [BULK_REQUEST],
                "Operations": [{k: v for k, v in _user("a", "a@x.org").items() if k != "bulkId"}],
            },
            "Operations[0].bulkId: a POST in a bulk request needs one",
        ),
        (
            {
                "schemas": [BULK_REQUEST],
                "Operations": [_user("a", "a@example.com"), _user("a", "b@example.com")],
            },
            "Operations[1].bulkId: 'a' is already Operations[0]'s",
        ),
    ]
    deep: dict[str, Any] = {"value": "x"}
    for _ in range(100):  # a bulk operation's data nested far deeper than any SCIM document
        deep = {"nested": [deep]}
    refusals.append(
        (
            {"schemas": [BULK_REQUEST], "Operations": [{**_user("a", "a@example.com"), "data": deep}]},
            "nested deeper than 32 levels",
        )
    )
    for body, detail in refusals:
        response = idp.client.post("/Bulk", json=body)
        assert response.status_code == 400, response.text
        assert detail in response.json()["detail"], response.json()["detail"]
    assert idp.state() == before


def test_the_live_sync_guard_pauses_the_source_and_undoes_the_request(idp: Idp) -> None:
    staff = idp.client.get("/Users", params={"filter": 'userName sw "staff"', "count": "20"}).json()[
        "Resources"
    ]
    off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    operations = [{"method": "PATCH", "path": f"/Users/{user['id']}", "data": off} for user in staff[:5]]
    before = idp.state()
    paused = idp.client.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": operations})
    assert paused.status_code == 503 and "Retry-After" in paused.headers
    assert "tui scim resume --source okta" in paused.json()["detail"]
    with Directory.open(idp.server.db_path) as directory:
        assert directory.scim_sources.state("okta").paused_at is not None
        assert all(directory.users.get_by_name(user["userName"]).active for user in staff[:5])
    users, groups, memberships, _ = idp.state()
    assert (users, groups, memberships) == before[:3]  # only the pause and its audit event were written
