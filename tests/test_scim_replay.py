"""Replays of an Entra ID and an Okta provisioning cycle against a live ``tui scim serve`` (issue 15).

Every request has the shape the identity provider's published SCIM documentation gives it; the comment above
each names the page and the example it comes from:

- [Entra]: Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra
  ID" (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups), section
  "User operations" / "Group operations" request examples.
- [Entra compat]: Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol compliance of the
  Microsoft Entra user provisioning service" (…/application-provisioning-config-problem-scim-compatibility):
  the provisioning job's PATCH dialect (capitalised ops, booleans sent as the strings "True"/"False").
- [Okta]: Okta Developer, "Okta and SCIM Version 2.0" (developer.okta.com/docs/api/openapi/okta-scim/guides/
  scim-20), "SCIM User operations" and "SCIM Group operations" request examples.

The directory must end exactly as the identity provider intends (read through the store: users, disabled
state, groups, memberships, sessions ended on deactivation), and replaying the cycle changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from store import audit
from store.directory import Directory
from store.formats import scim
from tests.scim_live import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    PATCH_OP,
    LiveServer,
    live_server,
    seed_users,
)

ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group"
READ_ONLY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}'
)
BYSTANDERS = 60  # users the source provisioned before from a file: the live sync guard counts 10% of them


def _setup(directory: Directory) -> dict[str, str]:
    directory.users.create("lucy")  # a local user: invisible to both identity providers
    tokens = {}
    for source in ("entra", "okta"):
        seed_users(directory, source, [f"staff{n}@{source}.example" for n in range(BYSTANDERS)])
        tokens[source] = directory.scim_tokens.create(source).bearer
    directory.accounts.create("prod")
    directory.permission_sets.create("Reader", inline_policy=READ_ONLY)
    return tokens


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    tokens: dict[str, str] = {}
    with live_server(tmp_path_factory.mktemp("replay"), lambda d: tokens.update(_setup(d))) as server:
        yield server, tokens


class Replay:
    """One identity provider's client: every request must get the status the IdP's docs expect."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, method: str, url: str, expect: int, body: Any = None, **params: Any) -> Any:
        response = self.client.request(method, url, json=body, params=params or None)
        assert response.status_code == expect, (
            f"{method} {url} {body}: {response.status_code} {response.text}"
        )
        assert "Traceback" not in response.text
        return response.json() if response.content else None

    def find(self, endpoint: str, attribute: str, value: str, **params: Any) -> str | None:
        """GET with an eq filter: the id of the one match, or None."""
        found = self.send("GET", f"/{endpoint}", 200, filter=f'{attribute} eq "{value}"', **params)
        assert found["totalResults"] in (0, 1), found
        return str(found["Resources"][0]["id"]) if found["totalResults"] else None

    def patch(self, url: str, *operations: dict[str, Any], expect: int | None = None) -> Any:
        """[Entra] a user's PATCH answers 200 with the user, a group's 204 (no members sent back)."""
        if expect is None:
            expect = 204 if url.startswith("/Groups/") else 200
        return self.send("PATCH", url, expect, {"schemas": [PATCH_OP], "Operations": list(operations)})


# -- what the directory holds, read through the store ---------------------------------------------------


def _state(directory: Directory, source: str) -> dict[str, Any]:
    """The source's users and groups as the IdP sees them, with memberships: what a replay must leave."""
    with directory.db.read() as conn:
        users = {
            row["user_name"]: (
                row["status"],
                row["display_name"],
                row["given_name"],
                row["family_name"],
                row["email"],
                row["external_id"],
            )
            for row in conn.execute("SELECT * FROM users WHERE source = ?", (source,))
        }
        groups = {
            row["name"]: sorted(
                member[0]
                for member in conn.execute(
                    "SELECT u.user_name FROM memberships m JOIN users u ON u.id = m.user_id "
                    "WHERE m.group_id = ?",
                    (row["id"],),
                )
            )
            for row in conn.execute("SELECT * FROM groups WHERE source = ?", (source,))
        }
    return {"users": users, "groups": groups}


def _versions(directory: Directory) -> list[tuple[str, int]]:
    """Every user's and group's row version: a write that changed nothing still bumps one."""
    with directory.db.read() as conn:
        return [
            *conn.execute("SELECT 'user:' || user_name, version FROM users ORDER BY id"),
            *conn.execute("SELECT 'group:' || name, version FROM groups ORDER BY id"),
        ]


def _audit_count(directory: Directory) -> int:
    with directory.db.read() as conn:
        return len(list(audit.events(conn)))


def _bystanders_untouched(directory: Directory, source: str) -> None:
    lucy = directory.users.get_by_name("lucy")
    assert lucy.active and lucy.source == "local"
    with directory.db.read() as conn:
        active = conn.execute(
            "SELECT count(*) FROM users WHERE source = ? AND user_name LIKE 'staff%' AND status = 'active' "
            "AND version = 1",
            (source,),
        ).fetchone()[0]
    assert active == BYSTANDERS


def _grant_group(directory: Directory, group: str) -> None:
    """An admin assigns the IdP's group to an account: its members may take sessions there."""
    account, pset = directory.accounts.get_by_name("prod"), directory.permission_sets.get_by_name("Reader")
    directory.assignments.create("group", directory.groups.get_by_name(group).id, account.id, pset.id)


def _sign_in(directory: Directory, user_name: str) -> tuple[str, str]:
    """A portal sign-in and a session of ``user_name`` (through the group's assignment): (token, key id)."""
    user = directory.users.get_by_name(user_name)
    account, pset = directory.accounts.get_by_name("prod"), directory.permission_sets.get_by_name("Reader")
    portal = directory.portal.issue_for(user.id, client="cli", method="password", mfa=False).token
    assert portal is not None
    session = directory.sessions.issue(user.id, account.id, pset.id)
    return portal, session.access_key_id


def _signed_out(directory: Directory, portal: str, key_id: str) -> bool:
    """Both the portal sign-in and the session ended (revoked)."""
    with directory.db.read() as conn:
        revoked = conn.execute(
            "SELECT revoked_at IS NOT NULL FROM sessions WHERE access_key_id = ?", (key_id,)
        ).fetchone()[0]
    try:
        directory.portal.verify(portal)
    except Exception:  # noqa: BLE001 - verify refuses an ended sign-in with the store's one message
        return bool(revoked)
    return False


# -- Microsoft Entra ID ---------------------------------------------------------------------------------

ENTRA_USERS = {
    "alice@contoso.example": ("Alice", "Archer", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
    "bob@contoso.example": ("Bob", "Baker", "1b32e1e3-9e3b-4a9f-a0a9-8474d5bfe5f0"),
    "carol@contoso.example": ("Carol", "Cooper", "2c43d2d4-af4c-4bb0-b1ba-9585e6c0f6e1"),
}


def _entra_user(user_name: str) -> dict[str, Any]:
    given, family, object_id = ENTRA_USERS[user_name]
    # [Entra] "Create User" request: both schemas, externalId (the Entra objectId), userName, active,
    # a work email marked primary, meta.resourceType, name with formatted, and an empty roles list.
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": object_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE_USER: {"department": "Engineering"},
    }


def _entra_group(name: str, object_id: str) -> dict[str, Any]:
    # [Entra] "Create Group" request: the core Group schema and the ADSCIM group schema, externalId,
    # displayName, meta.resourceType; no members (they follow as PATCHes).
    return {
        "schemas": [CORE_GROUP, ADSCIM_GROUP],
        "externalId": object_id,
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }


def _entra_match_or_create(idp: Replay, user_name: str) -> str:
    """[Entra] "Get User by query": GET /Users?filter=userName eq "…" first (Entra's matching attribute);
    zero results ("Get User by query - Zero results") → "Create User" (POST); one → the objects are
    linked and the attributes PATCHed to match (Entra's provisioning logs: "Update" after a match)."""
    found = idp.find("Users", "userName", user_name)
    body = _entra_user(user_name)
    if found is None:
        created = idp.send("POST", "/Users", 201, body)
        assert created["userName"] == user_name and created["active"] is True
        return str(created["id"])
    # [Entra] "Update User [Multi-valued properties]" / "[Single-valued properties]": Replace ops.
    idp.patch(
        f"/Users/{found}",
        {"op": "Replace", "path": "externalId", "value": body["externalId"]},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": user_name},
        {"op": "Replace", "path": "name.givenName", "value": body["name"]["givenName"]},
        {"op": "Replace", "path": "name.familyName", "value": body["name"]["familyName"]},
        {"op": "Replace", "path": "active", "value": "True"},
    )
    return found


def _entra_group_match_or_create(idp: Replay, name: str, object_id: str) -> str:
    # [Entra] "Get Group by displayName": GET /Groups?excludedAttributes=members&filter=displayName eq "…"
    found = idp.find("Groups", "displayName", name, excludedAttributes="members")
    if found is None:
        created = idp.send("POST", "/Groups", 201, _entra_group(name, object_id))
        assert created["displayName"] == name
        return str(created["id"])
    return found


def _entra_cycle(server: LiveServer, idp: Replay, *, first: bool) -> None:
    ids = {name: _entra_match_or_create(idp, name) for name in ENTRA_USERS}
    alice, bob, carol = ids["alice@contoso.example"], ids["bob@contoso.example"], ids["carol@contoso.example"]
    # The group's name before its rename: a rerun finds it under its new name (the IdP knows its id).
    engineering = idp.find("Groups", "displayName", "Engineering Team", excludedAttributes="members")
    if engineering is None:
        engineering = _entra_group_match_or_create(idp, "Engineering", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
    contractors = _entra_group_match_or_create(idp, "Contractors", "9bb2b1d1-d5d4-4cd1-c5b6-3f0787a1026a")
    # [Entra] "Get Group": GET /Groups/{id}?excludedAttributes=members
    got = idp.send("GET", f"/Groups/{engineering}", 200, excludedAttributes="members")
    assert "members" not in got

    # [Entra] "Update Group [Add Members]": one Add op, path members, value [{"$ref": null, "value": id}].
    for member in (alice, bob, carol):
        idp.patch(
            f"/Groups/{engineering}",
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]},
        )
    idp.patch(
        f"/Groups/{contractors}", {"op": "Add", "path": "members", "value": [{"$ref": None, "value": carol}]}
    )
    if first:
        with server.directory() as directory:
            _grant_group(directory, "Engineering")

    # [Entra] "Update Group [Remove Members]": Remove op, path members, the member in value.
    idp.patch(
        f"/Groups/{engineering}",
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": carol}]},
    )
    with server.directory() as directory:
        members = _state(directory, "entra")["groups"]
        assert sorted(members[next(iter(n for n in members if n.startswith("Engineering")))]) == [
            "alice@contoso.example",
            "bob@contoso.example",
        ], members  # only carol left; alice and bob stay

    # [Entra] "Update User [Multi-valued properties]": Replace emails[type eq "work"].value and
    # name.familyName in one request.
    idp.patch(
        f"/Users/{alice}",
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "alice.archer-smith@contoso.example",
        },
        {"op": "Replace", "path": "name.familyName", "value": "Archer-Smith"},
    )
    # [Entra] "Update Group [Non-member attributes]": Replace displayName.
    idp.patch(f"/Groups/{engineering}", {"op": "Replace", "path": "displayName", "value": "Engineering Team"})

    # Bob is disabled in Entra: [Entra] "Disable User" is a PATCH Replace of active; [Entra compat] the
    # provisioning job sends the boolean as the string "False".
    with server.directory() as directory:
        portal, key_id = _sign_in(directory, "bob@contoso.example")
    disabled = idp.patch(f"/Users/{bob}", {"op": "Replace", "path": "active", "value": "False"})
    assert disabled["active"] is False
    with server.directory() as directory:
        assert not directory.users.get_by_name("bob@contoso.example").active
        assert _signed_out(directory, portal, key_id), "bob's sign-in and session outlived his deactivation"
        assert "bob@contoso.example" not in _state(directory, "entra")["groups"]["Engineering Team"]
    # … and enabled again: the same PATCH with "True". Entra sends nothing about his groups (for Entra he
    # never left them): the membership his deactivation took away comes back with him.
    enabled = idp.patch(f"/Users/{bob}", {"op": "Replace", "path": "active", "value": "True"})
    assert enabled["active"] is True
    with server.directory() as directory:
        assert "bob@contoso.example" in _state(directory, "entra")["groups"]["Engineering Team"]

    # Carol leaves: [Entra] "Delete User" (DELETE /Users/{id}, 204) and "Delete Group" (DELETE, 204).
    idp.send("DELETE", f"/Users/{carol}", 204)
    idp.send("DELETE", f"/Groups/{contractors}", 204)
    # [Entra] "Get User" after the delete: 404 (RFC 7644 §3.6); the row stays, disabled, for the audit trail.
    idp.send("GET", f"/Users/{carol}", 404)


ENTRA_END = {
    "users": {
        "alice@contoso.example": (
            "active",
            "",
            "Alice",
            "Archer-Smith",
            "alice.archer-smith@contoso.example",
            "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        ),
        "bob@contoso.example": (
            "active",
            "",
            "Bob",
            "Baker",
            "bob@contoso.example",
            "1b32e1e3-9e3b-4a9f-a0a9-8474d5bfe5f0",
        ),
        "carol@contoso.example": (
            "disabled",
            "",
            "Carol",
            "Cooper",
            "carol@contoso.example",
            "2c43d2d4-af4c-4bb0-b1ba-9585e6c0f6e1",
        ),
    },
    "groups": {
        "Engineering Team": ["alice@contoso.example", "bob@contoso.example"],
        "Contractors": [],  # deleted: emptied, kept for the audit trail
    },
}


def _without_bystanders(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "users": {k: v for k, v in state["users"].items() if not k.startswith("staff")},
        "groups": state["groups"],
    }


def test_an_entra_id_provisioning_cycle(live: tuple[LiveServer, dict[str, str]]) -> None:
    server, tokens = live
    with server.client(tokens["entra"]) as client:
        idp = Replay(client)
        _entra_cycle(server, idp, first=True)
        with server.directory() as directory:
            assert _without_bystanders(_state(directory, "entra")) == ENTRA_END
            _bystanders_untouched(directory, "entra")
            export = scim.export(directory)
            events = _audit_count(directory)

        # The same cycle again (Entra matches by userName, so nothing is created twice): the same end.
        _entra_cycle(server, idp, first=False)
        with server.directory() as directory:
            assert _without_bystanders(_state(directory, "entra")) == ENTRA_END
            assert scim.export(directory) == export
            assert _audit_count(directory) > events  # bob left and came back, carol was re-enabled and left
            versions, events = _versions(directory), _audit_count(directory)

        # A steady-state cycle re-sends what the directory already holds: no write, no audit event.
        alice = idp.find("Users", "userName", "alice@contoso.example")
        bob = idp.find("Users", "userName", "bob@contoso.example")
        team = idp.find("Groups", "displayName", "Engineering Team")
        # Deleted ones are gone for Entra: never listed, so it sends nothing more about them.
        assert idp.find("Users", "userName", "carol@contoso.example") is None
        assert idp.find("Groups", "displayName", "Contractors") is None
        idp.patch(
            f"/Users/{alice}",
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "alice.archer-smith@contoso.example",
            },
            {"op": "Replace", "path": "name.familyName", "value": "Archer-Smith"},
        )
        idp.patch(f"/Users/{bob}", {"op": "Replace", "path": "active", "value": "True"})
        for member in (alice, bob):
            idp.patch(
                f"/Groups/{team}",
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]},
            )
        idp.patch(f"/Groups/{team}", {"op": "Replace", "path": "displayName", "value": "Engineering Team"})
    with server.directory() as directory:
        assert _versions(directory) == versions
        assert _audit_count(directory) == events
        assert scim.export(directory) == export


# -- Okta ---------------------------------------------------------------------------------------------------

OKTA_USERS = {
    "test.user@okta.local": ("Test", "User", "00ujl29u0le5T6Aj10h7"),
    "jane.doe@okta.local": ("Jane", "Doe", "00ujl29u0le5T6Aj10h8"),
}


def _okta_user(user_name: str, *, family: str | None = None, ident: str | None = None) -> dict[str, Any]:
    given, default_family, external_id = OKTA_USERS[user_name]
    family = family or default_family
    # [Okta] "Create the User": schemas, userName, name, a primary work email, displayName, locale,
    # externalId, groups (empty: read-only here), the password Okta may sync, active.
    body: dict[str, Any] = {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq-Okta-synced",
        "active": True,
    }
    if ident is not None:
        body["id"] = ident
    return body


def _okta_match_or_create(idp: Replay, user_name: str) -> str:
    # [Okta] "Determine if the User object exists": GET /Users?filter=userName eq "…"&startIndex=1&count=100.
    found = idp.find("Users", "userName", user_name, startIndex=1, count=100)
    if found is None:
        # [Okta] "Create the User": POST /Users, 201 with the User and its id.
        return str(idp.send("POST", "/Users", 201, _okta_user(user_name))["id"])
    # [Okta] "If the User is found … but deactivated": reactivate with PATCH replace active true.
    if idp.send("GET", f"/Users/{found}", 200)["active"] is False:
        idp.patch(f"/Users/{found}", {"op": "replace", "value": {"active": True}})
    return found


def _okta_cycle(server: LiveServer, idp: Replay, *, first: bool) -> None:
    ids = {name: _okta_match_or_create(idp, name) for name in OKTA_USERS}
    test_user, jane = ids["test.user@okta.local"], ids["jane.doe@okta.local"]
    # [Okta] "Retrieve a specific User": GET /Users/{id}.
    assert idp.send("GET", f"/Users/{test_user}", 200)["userName"] == "test.user@okta.local"

    # [Okta] "Update a specific User (PUT)": profile changes are sent as the whole User, id included.
    put = idp.send("PUT", f"/Users/{jane}", 200, _okta_user("jane.doe@okta.local", family="Roe", ident=jane))
    assert put["name"]["familyName"] == "Roe" and put["displayName"] == "Jane Roe"

    # Group Push. [Okta] "Create Groups": POST /Groups with displayName and an empty members list; a rerun
    # finds the pushed group by its name (GET /Groups?filter=displayName eq "…") and links it.
    group = idp.find("Groups", "displayName", "Test SCIMv2 Renamed") or idp.find(
        "Groups", "displayName", "Test SCIMv2"
    )
    if group is None:
        created = idp.send(
            "POST", "/Groups", 201, {"schemas": [CORE_GROUP], "displayName": "Test SCIMv2", "members": []}
        )
        group = str(created["id"])
    if first:
        with server.directory() as directory:
            _grant_group(directory, "Test SCIMv2")
    doomed = idp.find("Groups", "displayName", "Okta Doomed")
    if doomed is None:
        doomed = str(
            idp.send(
                "POST", "/Groups", 201, {"schemas": [CORE_GROUP], "displayName": "Okta Doomed", "members": []}
            )["id"]
        )
    # [Okta] "Retrieve all Groups": GET /Groups?startIndex=1&count=100; "Retrieve specific Groups".
    listed = idp.send("GET", "/Groups", 200, startIndex=1, count=100)
    assert {r["id"] for r in listed["Resources"]} >= {group, doomed}
    assert idp.send("GET", f"/Groups/{group}", 200)["id"] == group

    # [Okta] "Update a specific Group membership": PATCH add members [{value, display}].
    idp.patch(
        f"/Groups/{group}",
        {
            "op": "add",
            "path": "members",
            "value": [
                {"value": test_user, "display": "test.user@okta.local"},
                {"value": jane, "display": "jane.doe@okta.local"},
            ],
        },
    )
    idp.patch(
        f"/Groups/{doomed}", {"op": "add", "path": "members", "value": [{"value": jane, "display": "jane"}]}
    )
    # … and remove: op remove with the path members[value eq "…"].
    idp.patch(f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{jane}"]'})
    # [Okta] "Update a specific Group name": op replace, value {id, displayName}.
    idp.patch(
        f"/Groups/{group}", {"op": "replace", "value": {"id": group, "displayName": "Test SCIMv2 Renamed"}}
    )

    # [Okta] "Update a specific User (PATCH)": deactivation is op replace, value {"active": false}.
    with server.directory() as directory:
        portal, key_id = _sign_in(directory, "test.user@okta.local")
    off = idp.patch(f"/Users/{test_user}", {"op": "replace", "value": {"active": False}})
    assert off["active"] is False
    with server.directory() as directory:
        assert _signed_out(directory, portal, key_id), "the sign-in and session outlived the deactivation"
        assert _state(directory, "okta")["groups"]["Test SCIMv2 Renamed"] == []
    # Reactivation: the same with true. The membership the deactivation took comes back with it; Okta's
    # group push may send it again too, which changes nothing more.
    assert idp.patch(f"/Users/{test_user}", {"op": "replace", "value": {"active": True}})["active"] is True
    with server.directory() as directory:
        assert _state(directory, "okta")["groups"]["Test SCIMv2 Renamed"] == ["test.user@okta.local"]
    idp.patch(
        f"/Groups/{group}",
        {"op": "add", "path": "members", "value": [{"value": test_user, "display": "test.user@okta.local"}]},
    )

    # [Okta] "Delete a specific Group": DELETE /Groups/{id}, 204. (Okta never DELETEs a User: it
    # deactivates, above.)
    idp.send("DELETE", f"/Groups/{doomed}", 204)


OKTA_END = {
    "users": {
        "test.user@okta.local": (
            "active",
            "Test User",
            "Test",
            "User",
            "test.user@okta.local",
            "00ujl29u0le5T6Aj10h7",
        ),
        "jane.doe@okta.local": (
            "active",
            "Jane Roe",
            "Jane",
            "Roe",
            "jane.doe@okta.local",
            "00ujl29u0le5T6Aj10h8",
        ),
    },
    "groups": {"Test SCIMv2 Renamed": ["test.user@okta.local"], "Okta Doomed": []},
}


def test_an_okta_provisioning_cycle(live: tuple[LiveServer, dict[str, str]]) -> None:
    server, tokens = live
    with server.client(tokens["okta"]) as client:
        idp = Replay(client)
        _okta_cycle(server, idp, first=True)
        with server.directory() as directory:
            assert _without_bystanders(_state(directory, "okta")) == OKTA_END
            _bystanders_untouched(directory, "okta")
            # The Okta-synced password is the user's password here.
            user = directory.users.get_by_name("jane.doe@okta.local")
            assert user.source == "okta"
            export = scim.export(directory)

        _okta_cycle(server, idp, first=False)
        with server.directory() as directory:
            assert _without_bystanders(_state(directory, "okta")) == OKTA_END
            assert scim.export(directory) == export
            versions, events = _versions(directory), _audit_count(directory)

        # Steady state: the same PUT, the same active, the same membership: nothing written.
        test_user = idp.find("Users", "userName", "test.user@okta.local")
        jane = idp.find("Users", "userName", "jane.doe@okta.local")
        group = idp.find("Groups", "displayName", "Test SCIMv2 Renamed")
        idp.send("PUT", f"/Users/{jane}", 200, _okta_user("jane.doe@okta.local", family="Roe", ident=jane))
        idp.patch(f"/Users/{test_user}", {"op": "replace", "value": {"active": True}})
        idp.patch(
            f"/Groups/{group}",
            {
                "op": "add",
                "path": "members",
                "value": [{"value": test_user, "display": "test.user@okta.local"}],
            },
        )
        idp.patch(
            f"/Groups/{group}",
            {"op": "replace", "value": {"id": group, "displayName": "Test SCIMv2 Renamed"}},
        )
    with server.directory() as directory:
        assert _versions(directory) == versions
        assert _audit_count(directory) == events
        assert scim.export(directory) == export
