"""``tui scim serve`` (issue 15): a live SCIM 2.0 server, driven over HTTP with httpx like an identity
provider would, started as the real CLI in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.audit import Actor
from store.directory import Directory
from tests.conftest import TUI_COMMAND
from tests.scim_live import CORE_GROUP, LiveServer, live_server, seed_users

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, base: str, token: str, db_path: Path) -> None:
        self.base, self.token, self.db_path = base, token, db_path

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={
                "Authorization": f"Bearer {token or self.token}",
                "Content-Type": "application/scim+json",
            },
            timeout=10,
        )

    def directory(self) -> Directory:
        return Directory.open(self.db_path, Actor("scim-test", "test"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import os

    tmp = tmp_path_factory.mktemp("scim")
    db_path = tmp / "directory.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")}
    env.update({"TUI_DB": str(db_path), "XDG_DATA_HOME": str(tmp / "xdg"), "NO_COLOR": "1"})
    with Directory.open(db_path, Actor("scim-test", "test")) as directory:
        directory.users.create("lucy")  # a local user: invisible to the identity provider
        # Forty users already provisioned from a file: the live sync guard counts 10% of them.
        _seed(directory, "okta", [f"seed{n}@example.com" for n in range(40)])
        directory.groups.create("Admins")
        token = directory.scim_tokens.create("okta").bearer
    port = _free_port()
    process = subprocess.Popen(
        [*TUI_COMMAND, "scim", "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/scim/v2"
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    process.stderr.read().decode() if process.stderr else "no server"
                ) from None
            time.sleep(0.1)
    try:
        yield Server(base, token, db_path)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert b"Traceback" not in stderr, stderr.decode()


def _seed(directory: Directory, source: str, names: list[str]) -> None:
    import json

    from store.formats import read_file
    from store.importer import import_document

    raw = json.dumps({"users": [{"userName": name} for name in names]}).encode()
    document = read_file(raw, "seed.json", "json").document
    import_document(directory, document, file_name="seed.json", raw=raw, source=source)


def _user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": user_name, "active": True, **extra}


def test_discovery_documents(server: Server) -> None:
    with server.client() as client:
        config = client.get("/ServiceProviderConfig")
        assert config.status_code == 200 and config.json()["patch"]["supported"] is True
        assert config.headers["content-type"].startswith("application/scim+json")
        assert client.get("/ResourceTypes").json()["Resources"][0]["endpoint"] == "/Users"
        assert client.get("/Schemas").json()["Resources"][0]["id"] == CORE_USER
        assert client.get("/ResourceTypes/Group").json()["endpoint"] == "/Groups"
        assert client.get(f"/Schemas/{CORE_USER}").json()["name"] == "User"
        assert client.get("/Schemas/urn:nope").status_code == 404


def test_create_get_filter_patch_and_delete_a_user(server: Server) -> None:
    with server.client() as client:
        created = client.post(
            "/Users",
            json=_user(
                "olive@example.com",
                externalId="00u1",
                name={"givenName": "Olive", "familyName": "Oak"},
                emails=[{"value": "olive@example.com", "primary": True, "type": "work"}],
            ),
        )
        assert created.status_code == 201, created.text
        olive = created.json()
        ident = olive["id"]
        assert created.headers["location"].endswith(f"/scim/v2/Users/{ident}")
        assert olive["userName"] == "olive@example.com" and olive["active"] is True
        assert client.get(f"/Users/{ident}").json()["name"] == {"givenName": "Olive", "familyName": "Oak"}

        for query in ('userName eq "OLIVE@example.com"', 'externalId eq "00u1"'):
            found = client.get("/Users", params={"filter": query}).json()
            assert found["totalResults"] == 1 and found["Resources"][0]["id"] == ident, query
        none = client.get("/Users", params={"filter": 'userName eq "nobody"'}).json()
        assert none["totalResults"] == 0 and none["Resources"] == []
        # co, sw, ew take their value literally: LIKE's wildcards in it matched every user.
        assert client.post("/Users", json=_user("o_k@example.com")).status_code == 201
        for query, expected in (
            ('userName co "%"', []),
            ('userName co "_"', ["o_k@example.com"]),
            ('userName sw "o_"', ["o_k@example.com"]),
            ('userName sw "OL"', ["olive@example.com"]),
            ('userName ew "K@EXAMPLE.COM"', ["o_k@example.com"]),
        ):
            listed = client.get("/Users", params={"filter": query}).json()
            assert sorted(r["userName"] for r in listed["Resources"]) == expected, query

        # Okta asks for the user again with the same userName: 409.
        again = client.post("/Users", json=_user("olive@example.com"))
        assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"

        with server.directory() as directory:
            user = directory.users.get_by_name("olive@example.com")
            assert user.source == "okta" and user.active
            signed_in = directory.portal.issue_for(user.id, client="cli", method="password", mfa=False)
            assert directory.portal.verify(signed_in.token).user_id == user.id

        # Entra ID: capitalised op, "False" as a string.
        patched = client.patch(
            f"/Users/{ident}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["active"] is False
        with server.directory() as directory:
            assert not directory.users.get_by_name("olive@example.com").active
            with pytest.raises(Exception, match="sign"):
                directory.portal.verify(signed_in.token)  # their sign-in ended with the deactivation

        renamed = client.patch(
            f"/Users/{ident}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "value": {"active": True, "displayName": "Olive O."}},
                    {"op": "add", "path": "name.familyName", "value": "Elm"},
                ],
            },
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["active"] is True and renamed.json()["displayName"] == "Olive O."
        assert renamed.json()["name"]["familyName"] == "Elm"

        # A write that names an older version (If-Match) is refused: someone changed the user meanwhile.
        version = renamed.json()["meta"]["version"]
        assert renamed.headers["etag"] == version and version != olive["meta"]["version"]
        stale = client.put(
            f"/Users/{ident}", json=_user("olive@example.com"), headers={"If-Match": olive["meta"]["version"]}
        )
        assert stale.status_code == 412 and stale.json()["status"] == "412"
        assert client.get(f"/Users/{ident}").json()["displayName"] == "Olive O."

        replaced = client.put(
            f"/Users/{ident}",
            json=_user("olive@example.com", displayName="Olive"),
            headers={"If-Match": version},
        )
        assert replaced.status_code == 200 and replaced.json()["displayName"] == "Olive"
        assert "name" not in replaced.json()  # PUT is the whole resource: what it leaves out is emptied

        deleted = client.delete(f"/Users/{ident}")
        assert deleted.status_code == 204
        # Gone for the identity provider (RFC 7644 §3.6); the row stays, disabled, for the audit trail.
        assert client.get(f"/Users/{ident}").status_code == 404
        assert client.delete(f"/Users/{ident}").status_code == 404
        gone = client.get("/Users", params={"filter": 'userName eq "olive@example.com"'}).json()
        assert gone["totalResults"] == 0
    with server.directory() as directory:
        assert not directory.users.get_by_name("olive@example.com").active


def test_paging(server: Server) -> None:
    with server.client() as client:
        for n in range(3):
            assert client.post("/Users", json=_user(f"page{n}@example.com")).status_code == 201
        page = client.get(
            "/Users", params={"filter": 'userName eq "page1@example.com"', "startIndex": 1, "count": 5}
        ).json()
        assert page["totalResults"] == 1
        all_users = client.get("/Users", params={"count": 2, "startIndex": 2}).json()
        assert all_users["startIndex"] == 2 and all_users["itemsPerPage"] == 2
        assert all_users["totalResults"] >= 3
        assert all(r["userName"] != "lucy" for r in client.get("/Users").json()["Resources"])
        newest_first = client.get(
            "/Users", params={"sortBy": "userName", "sortOrder": "descending", "attributes": "userName"}
        ).json()["Resources"]
        names = [r["userName"] for r in newest_first]
        assert names == sorted(names, reverse=True) and names[0] == "seed9@example.com"
        assert set(newest_first[0]) == {"schemas", "id", "userName", "meta"}
        unsortable = client.get("/Users", params={"sortBy": "password"})
        assert unsortable.status_code == 400 and "sortBy" in unsortable.json()["detail"]


def test_a_start_index_or_count_past_any_page_is_an_empty_page(server: Server) -> None:
    """A startIndex past SQLite's integers (10**30) was an HTTP 500 (OverflowError binding the OFFSET); RFC
    7644 §3.4.2.4 answers a start past the results with an empty page, and a count above the most with the
    most. Digits past int()'s 4,300 were a 400 saying the number "is not an integer"."""
    huge = 10**30
    with server.client() as client:
        pages = [
            client.get(f"/{endpoint}", params={name: str(value)})
            for endpoint in ("Users", "Groups")
            for name, value in (("startIndex", huge), ("startIndex", "9" * 5000), ("count", huge))
        ]
        pages += [
            client.post(path, json={"schemas": [SEARCH_REQUEST], **body})
            for path in ("/Users/.search", "/Groups/.search", "/.search")
            for body in ({"startIndex": huge}, {"startIndex": huge, "count": huge}, {"count": huge})
        ]
        for page in pages:
            assert page.status_code == 200, (page.request.url, page.text[:500])
            listing = page.json()
            assert listing["schemas"] == [LIST_RESPONSE] and listing["totalResults"] >= 0, listing
            if listing["startIndex"] > 1:
                assert listing["itemsPerPage"] == 0 and listing.get("Resources", []) == [], listing
            else:
                assert listing["itemsPerPage"] == min(listing["totalResults"], 500), listing


def test_paging_numbers_are_ascii_digits(server: Server) -> None:
    """int() reads "１" (full width), "1_0" and " 5 " as numbers; a query's startIndex and count are ASCII
    digits, or a 400 like any other word that is not a number."""
    with server.client() as client:
        for value in ("\uff11", "1_0", "\u0661", " 5", "1e3", "0x10", "+-1", ""):
            for name in ("startIndex", "count"):
                refused = client.get("/Users", params={name: value})
                assert refused.status_code == 400, (name, value, refused.text[:300])
                assert refused.json()["scimType"] == "invalidValue" and name in refused.json()["detail"]
        assert client.get("/Users", params={"count": "-3", "startIndex": "-7"}).status_code == 200


def test_refusals_are_scim_errors_and_change_nothing(server: Server) -> None:
    with server.directory() as directory:
        lucy = directory.users.get_by_name("lucy")
        before = directory.counts()
    with server.client(token="tuiscim_wrong") as wrong:
        refused = wrong.get("/Users")
        assert refused.status_code == 401 and refused.json()["schemas"] == [ERROR]
        assert refused.json()["status"] == "401"
    with server.client() as client:
        # A local user, by its row number or by the id the export gives it: not this source's.
        from store.formats.scim import stable_id

        with server.directory() as directory:
            row = directory.users.get(lucy.id)
        for ident in (str(lucy.id), stable_id("user", lucy.id, row.created_at)):
            missing = client.get(f"/Users/{ident}")
            assert missing.status_code == 404 and missing.json()["status"] == "404"
            assert (
                client.patch(
                    f"/Users/{ident}",
                    json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {}}]},
                ).status_code
                == 404
            )
        assert client.get("/Users", params={"filter": 'userName eq "lucy"'}).json()["totalResults"] == 0

        malformed = client.post("/Users", content=b'{"schemas": [')
        assert malformed.status_code == 400 and malformed.json()["scimType"] == "invalidSyntax"
        repeated = client.post(
            "/Users", content=f'{{"schemas": ["{CORE_USER}"], "userName": "dk1", "userName": "dk2"}}'.encode()
        )
        assert repeated.status_code == 400 and "duplicate key 'userName'" in repeated.json()["detail"]
        deep = client.post("/Users", content=b"[" * 100_000 + b"]" * 100_000)
        assert deep.status_code == 400 and "nested deeper than 32 levels" in deep.json()["detail"]
        # Deep enough to trip a recursive reader, not the JSON parser: refused all the same.
        nested = b'{"schemas": ["%s"], "userName": "deep@example.com", "nickName": ' % CORE_USER.encode()
        deep_value = client.post("/Users", content=nested + b"[" * 500 + b"]" * 500 + b"}")
        assert deep_value.status_code == 400
        assert deep_value.json()["detail"] == "the request body: nested deeper than 32 levels"
        invalid = client.post("/Users", json=_user("bad\x00name"))
        assert invalid.status_code == 400 and "userName" in invalid.json()["detail"]
        group_as_user = client.post(
            "/Users",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "sneaky"},
        )
        assert group_as_user.status_code == 400 and "schemas" in group_as_user.json()["detail"]
        nameless = client.post("/Users", json={"schemas": [CORE_USER]})
        assert nameless.status_code == 400 and nameless.json()["detail"] == "userName: is required"
        taken = client.post("/Users", json=_user("LUCY"))  # a local user's name is never taken over
        assert taken.status_code == 409 and taken.json()["scimType"] == "uniqueness"
        assert taken.json()["detail"] == "userName: 'LUCY' is already taken"  # not which source holds it
        # Nor by a rename: a conflict, which says where in the request, and not which source holds the name.
        mine = client.post("/Users", json=_user("renamer@example.com")).json()["id"]
        rename = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "userName", "value": "lucy"}],
        }
        renamed = client.patch(f"/Users/{mine}", json=rename)
        assert renamed.status_code == 409 and renamed.json()["scimType"] == "uniqueness"
        assert renamed.json()["detail"].startswith("Operations[0]: userName: renaming 'renamer@example.com'")
        assert "local" not in renamed.json()["detail"]
        emptied = client.put(f"/Users/{mine}", json={"schemas": [CORE_USER], "userName": ""})
        assert emptied.status_code == 400 and emptied.json()["detail"] == "userName: is required"
        created = 1  # renamer (left active: a deactivation here would count toward the sync guard's test)
        huge = client.post("/Users", content=b'{"userName": "' + b"x" * (2 * 1024 * 1024) + b'"}')
        assert huge.status_code == 413
        unknown_filter = client.get("/Users", params={"filter": 'title eq "x"'})
        assert unknown_filter.status_code == 400 and unknown_filter.json()["scimType"] == "invalidFilter"
        broken_filter = client.get("/Users", params={"filter": 'userName eq "x" or'})
        assert broken_filter.status_code == 400
        # Under the length cap, 50 "not (" made SQL deeper than SQLite parses: a 500 before.
        nested = client.get("/Users", params={"filter": "not (" * 50 + 'userName eq "x"' + ")" * 50})
        assert nested.status_code == 400 and nested.json()["scimType"] == "invalidFilter", nested.text
        assert "nested deeper than 16" in nested.json()["detail"]
        two = client.get("/Users", params={"filter": 'not (userName eq "x") and (userName eq "((((((")'})
        assert two.status_code == 200, two.text  # parentheses inside a string do not count
        for response in (malformed, deep, deep_value, invalid, taken, huge, unknown_filter, broken_filter):
            assert "Traceback" not in response.text
    with server.directory() as directory:
        after = directory.counts()
        assert (after.users, after.groups, after.memberships) == (
            before.users + created,
            before.groups,
            before.memberships,
        )


def test_without_tls_it_listens_only_on_loopback(run_tui) -> None:
    refused = run_tui("scim", "serve", "--listen", "0.0.0.0:8080")
    assert refused.returncode == 1 and "only on loopback" in refused.stderr


def test_a_port_in_use_or_a_listen_address_it_cannot_read_is_one_line(run_tui) -> None:
    """A port in use was uvicorn's own message and exit 3 (outside 0/1/2); "::1:8080" (an IPv6 address
    without brackets) and full-width digits were taken."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        busy = run_tui("scim", "serve", "--listen", f"127.0.0.1:{port}")
    assert busy.returncode == 1 and busy.stderr.strip().endswith(
        f"cannot listen on 127.0.0.1:{port}: Address already in use"
    ), busy
    for listen in ("::1:8080", "127.0.0.1:\uff18\uff10\uff18\uff10", "[]:8080"):
        unreadable = run_tui("scim", "serve", "--listen", listen)
        assert unreadable.returncode == 2 and "is not HOST:PORT" in unreadable.stderr, unreadable


def test_groups_members_and_the_admin_group(server: Server) -> None:
    with server.client() as client:
        ids = {}
        for name in ("gina@example.com", "hugo@example.com"):
            response = client.post("/Users", json=_user(name))
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
        gina, hugo = ids["gina@example.com"], ids["hugo@example.com"]
        created = client.post(
            "/Groups",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "okta-eng",
                "members": [{"value": gina}],
            },
        )
        assert created.status_code == 201, created.text
        group = created.json()["id"]
        assert [m["value"] for m in created.json()["members"]] == [gina]
        found = client.get("/Groups", params={"filter": 'displayName eq "okta-eng"'}).json()
        assert found["totalResults"] == 1 and found["Resources"][0]["id"] == group

        def members() -> list[str]:
            return sorted(m["value"] for m in client.get(f"/Groups/{group}").json()["members"])

        # Entra ID adds with a capitalised op; removes by a value filter.
        add = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": hugo}]}],
        }
        # A group's PATCH answers 204 and its new ETag: the members are not sent back (Entra's exchange).
        added = client.patch(f"/Groups/{group}", json=add)
        assert added.status_code == 204 and added.content == b""
        assert added.headers["ETag"] == client.get(f"/Groups/{group}").json()["meta"]["version"]
        assert members() == sorted([gina, hugo])
        # A path that is no SCIM path is a 400, not a 204 that changed nothing (RFC 7644 §3.5.2).
        for bad in ('members[value eq "x" and ((((', "no.such.attr", "members]"):
            refused = client.patch(
                f"/Groups/{group}",
                json={"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": bad}]},
            )
            assert refused.status_code == 400 and "path:" in refused.json()["detail"], (bad, refused.text)
        assert members() == sorted([gina, hugo])
        # Asked for attributes (RFC 7644 §3.9), it answers 200 with them.
        renamed = client.patch(
            f"/Groups/{group}",
            params={"excludedAttributes": "members"},
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "displayName", "value": "okta-eng"}],
            },
        )
        assert renamed.status_code == 200 and "members" not in renamed.json()
        assert renamed.json()["displayName"] == "okta-eng"
        remove = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{gina}"]'}],
        }
        assert client.patch(f"/Groups/{group}", json=remove).status_code == 204
        assert members() == [hugo]
        slim = client.get(f"/Groups/{group}", params={"excludedAttributes": "members"}).json()
        assert "members" not in slim and slim["displayName"] == "okta-eng"

        put = client.put(
            f"/Groups/{group}",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "okta-eng",
                "members": [{"value": gina}],
            },
        )
        assert put.status_code == 200 and [m["value"] for m in put.json()["members"]] == [gina]

        # The local admin group is invisible and its name is not the identity provider's to take.
        assert client.get("/Groups", params={"filter": 'displayName eq "Admins"'}).json()["totalResults"] == 0
        assert (
            client.post(
                "/Groups",
                json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "admins"},
            ).status_code
            == 409
        )
        with server.directory() as directory:
            lucy = directory.users.get_by_name("lucy")
            row = directory.users.get(lucy.id)
        from store.formats.scim import stable_id

        foreign = {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": stable_id("user", lucy.id, row.created_at)}],
                }
            ],
        }
        not_its_own = client.patch(f"/Groups/{group}", json=foreign)  # a local user: not one of its users
        assert not_its_own.status_code == 400
        assert "in this request or the directory (source 'okta')" in not_its_own.json()["detail"]

        # An admin made the identity provider's group the admin group: it may not add administrators.
        with server.directory() as directory:
            directory.admins.set_admin_group(directory.groups.get_by_name("okta-eng").id)
        try:
            refused = client.patch(f"/Groups/{group}", json=add)
            assert refused.status_code == 403, refused.text
            assert refused.json()["status"] == "403"
            assert "never makes administrators: 'hugo@example.com in okta-eng'" in refused.json()["detail"]
            assert members() == [gina]
        finally:
            with server.directory() as directory:
                directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)

        assert client.patch(f"/Groups/{group}", json=add).status_code == 204
        assert members() == sorted([gina, hugo])
        # Deprovisioning: a deactivated user leaves the source's groups in the same request.
        off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
        assert client.patch(f"/Users/{gina}", json=off).json()["active"] is False
        assert members() == [hugo]
        assert client.delete(f"/Users/{hugo}").status_code == 204
        assert members() == []
        gone = client.patch(f"/Groups/{group}", json=add)  # hugo was deleted: no member by his old id
        assert gone.status_code == 400 and "deleted" in gone.json()["detail"]
        rejoin = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": gina}]}],
        }
        assert client.patch(f"/Groups/{group}", json=rejoin).status_code == 204

        assert client.delete(f"/Groups/{group}").status_code == 204
        assert client.get(f"/Groups/{group}").status_code == 404  # gone for the identity provider
        assert (
            client.get("/Groups", params={"filter": 'displayName eq "okta-eng"'}).json()["totalResults"] == 0
        )
        with server.directory() as directory:  # the row stays, emptied, for the audit trail
            kept = directory.groups.get_by_name("okta-eng")
            assert directory.groups.members(kept.id).total == 0


def test_one_request_is_one_audit_event_by_the_source(server: Server) -> None:
    from store import audit

    with server.directory() as directory, directory.db.read() as conn:
        last = max((e.seq for e in audit.events(conn)), default=0)
    with server.client() as client:
        assert client.post("/Users", json=_user("ines@example.com")).status_code == 201
    with server.directory() as directory, directory.db.read() as conn:
        (event,) = audit.events(conn, after_seq=last)
    assert (event.actor, event.source, event.action) == ("scim:okta", "scim", "directory.import")
    assert event.target == "file:SCIM POST /scim/v2/Users from 127.0.0.1"
    assert event.details["source"] == "okta" and server.token not in str(event.details)


def test_concurrent_clients_lose_nothing(server: Server) -> None:
    """Clients of two sources push users at once and PATCH a shared group of theirs: no 5xx, no "database is
    locked", every user and membership there."""
    from concurrent.futures import ThreadPoolExecutor

    with server.directory() as directory:
        entra = directory.scim_tokens.create("entra").bearer
    group_ids = {}
    for source, token in (("okta", server.token), ("entra", entra)):
        with server.client(token) as client:
            response = client.post(
                "/Groups",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": f"load-{source}",
                },
            )
            assert response.status_code == 201, response.text
            group_ids[source] = response.json()["id"]

    def push(worker: int) -> list[int]:
        source, token = (("okta", server.token), ("entra", entra))[worker % 2]
        statuses = []
        with server.client(token) as client:
            for n in range(15):
                created = client.post("/Users", json=_user(f"load{worker}-{n}@example.com"))
                statuses.append(created.status_code)
                if created.status_code != 201:
                    continue
                add = {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": created.json()["id"]}]}
                    ],
                }
                statuses.append(client.patch(f"/Groups/{group_ids[source]}", json=add).status_code)
        return statuses

    with ThreadPoolExecutor(4) as pool:
        results = [status for statuses in pool.map(push, range(4)) for status in statuses]
    assert set(results) == {201, 204}, sorted(set(results))
    for source, token in (("okta", server.token), ("entra", entra)):
        with server.client(token) as client:
            members = client.get(f"/Groups/{group_ids[source]}").json()["members"]
            assert len(members) == 30, source
            names = {client.get(f"/Users/{m['value']}").json()["userName"] for m in members}
            assert all(name.startswith("load") for name in names)


def test_the_live_sync_guard_pauses_a_source_until_an_admin_resumes_it(server: Server, run_tui) -> None:
    with server.directory() as directory:
        _seed(directory, "hr", [f"hr{n}@example.com" for n in range(10)])
        token = directory.scim_tokens.create("hr").bearer
    with server.client(token) as client:
        listed = client.get("/Users", params={"count": 20}).json()["Resources"]
        ids = [r["id"] for r in listed]  # ids made for rows that came from a file
        assert len(ids) == 10
        # One of ten (10%, rounded up) is a leaver: gone at once.
        assert client.delete(f"/Users/{ids[0]}").status_code == 204
        assert client.get(f"/Users/{ids[0]}").status_code == 404
        # A second within ten minutes looks like a broken feed: the source pauses.
        paused = client.delete(f"/Users/{ids[1]}")
        assert paused.status_code == 503 and paused.headers["retry-after"] == "600"
        assert "tui scim resume --source hr" in paused.json()["detail"]
        assert client.get(f"/Users/{ids[1]}").json()["active"] is True  # nothing changed
        assert client.post("/Users", json=_user("new@hr.example")).status_code == 503  # every write waits
        assert client.get("/Users").status_code == 200  # reads go on

        resumed = run_tui("scim", "resume", "--source", "hr", env={"TUI_DB": str(server.db_path)})
        assert resumed.returncode == 0, resumed
        assert "resumed provisioning of source hr" in resumed.stdout
        again = run_tui("scim", "resume", "--source", "hr", env={"TUI_DB": str(server.db_path)})
        assert again.returncode == 1 and "is not paused" in again.stderr
        assert client.delete(f"/Users/{ids[1]}").status_code == 204  # an admin looked: it goes through


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_emails_and_the_enterprise_extension_are_kept_as_sent(server: Server) -> None:
    from store import audit

    emails = [
        {"value": "ann@work.example", "type": "work", "primary": True},
        {"value": "ann@home.example", "type": "home"},
    ]
    extension = {"employeeNumber": "701", "department": "Finance", "manager": {"value": "boss-1"}}
    with server.client() as client:
        created = client.post(
            "/Users",
            json={
                **_user("ann@work.example"),
                "schemas": [CORE_USER, ENTERPRISE],
                "emails": emails,
                ENTERPRISE: extension,
            },
        )
        assert created.status_code == 201, created.text
        ann = created.json()
        assert ann["emails"] == emails and ann[ENTERPRISE] == extension and ENTERPRISE in ann["schemas"]
        assert client.get(f"/Users/{ann['id']}").json()[ENTERPRISE] == extension
        with server.directory() as directory:
            assert directory.users.get_by_name("ann@work.example").email == "ann@work.example"
            with directory.db.read() as conn:
                last = max(e.seq for e in audit.events(conn))

        # Entra ID: the manager as its id alone; a work email by a value filter.
        patched = client.patch(
            f"/Users/{ann['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "boss-2"},
                    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann@new.example"},
                ],
            },
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()[ENTERPRISE]["manager"] == {"value": "boss-2"}
        assert patched.json()["emails"][0] == {"value": "ann@new.example", "type": "work", "primary": True}
        assert patched.headers["etag"] != created.headers["etag"]
        with server.directory() as directory:
            assert directory.users.get_by_name("ann@work.example").email == "ann@new.example"
            with directory.db.read() as conn:
                (event,) = audit.events(conn, after_seq=last)  # one request, one event
                last = event.seq

        # Only the extension changes: the user's version moves on and the change is audited.
        moved = client.patch(
            f"/Users/{ann['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Audit"}],
            },
        )
        assert moved.status_code == 200 and moved.json()[ENTERPRISE]["department"] == "Audit"
        assert moved.headers["etag"] != patched.headers["etag"]
        with server.directory() as directory, directory.db.read() as conn:
            (event,) = audit.events(conn, after_seq=last)
        assert event.action == "scim.update" and event.details["source"] == "okta"

        # A value scim2-models refuses: 400, nothing changed.
        wrong = client.patch(
            f"/Users/{ann['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": f"{ENTERPRISE}:department", "value": [1]}],
            },
        )
        assert wrong.status_code == 400 and "department" in wrong.json()["detail"]
        assert client.get(f"/Users/{ann['id']}").json()[ENTERPRISE]["department"] == "Audit"
        no_target = client.patch(
            f"/Users/{ann['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": 'emails[type eq "other"].display', "value": "x"}],
            },
        )
        assert no_target.status_code == 400 and no_target.json()["scimType"] == "noTarget"
        many = [{"value": f"ann{n}@work.example"} for n in range(101)]
        too_many = client.put(f"/Users/{ann['id']}", json=_user("ann@work.example", emails=many))
        assert too_many.status_code == 400 and "at most 100" in too_many.json()["detail"]
        # PUT is the whole resource: without the extension or emails, they are gone.
        put = client.put(f"/Users/{ann['id']}", json=_user("ann@work.example"))
        assert put.status_code == 200 and ENTERPRISE not in put.json() and "emails" not in put.json()
        assert put.json()["schemas"] == [CORE_USER]


def test_a_deleted_user_or_group_comes_back_when_created_again(server: Server) -> None:
    from store import audit

    with server.client() as client:
        made = client.post("/Users", json=_user("rehire@example.com"))
        assert made.status_code == 201
        ident = made.json()["id"]
        off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        assert client.patch(f"/Users/{ident}", json=off).status_code == 200
        with server.directory() as directory, directory.db.read() as conn:
            last = max(e.seq for e in audit.events(conn))
        # Already disabled: the delete still says itself in the audit log.
        assert client.delete(f"/Users/{ident}").status_code == 204
        with server.directory() as directory, directory.db.read() as conn:
            (event,) = audit.events(conn, after_seq=last)
        assert (event.action, event.target) == ("scim.delete", "user:rehire@example.com")
        assert client.get(f"/Users/{ident}").status_code == 404

        back = client.post("/Users", json=_user("rehire@example.com", displayName="Back"))
        assert back.status_code == 201, back.text
        assert back.json()["id"] == ident and back.json()["active"] is True
        assert client.get(f"/Users/{ident}").json()["displayName"] == "Back"
        with server.directory() as directory:
            assert directory.users.get_by_name("rehire@example.com").active

        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "okta-phoenix"}
        first = client.post("/Groups", json=group).json()["id"]
        assert client.delete(f"/Groups/{first}").status_code == 204
        again = client.post("/Groups", json={**group, "members": [{"value": ident}]})
        assert again.status_code == 201 and again.json()["id"] == first
        assert [m["value"] for m in again.json()["members"]] == [ident]

        # Deleted and created again as the row was kept (empty): the import has nothing to write, and the
        # group coming back for its source is still an event of its own.
        assert client.delete(f"/Groups/{first}").status_code == 204
        with server.directory() as directory, directory.db.read() as conn:
            last = max(e.seq for e in audit.events(conn))
        assert client.post("/Groups", json=group).status_code == 201
        with server.directory() as directory, directory.db.read() as conn:
            (event,) = audit.events(conn, after_seq=last)
        assert (event.action, event.target) == ("scim.restore", "group:okta-phoenix")
        assert event.details["source"] == "okta" and event.details["deleted_at"]


def test_a_reactivated_user_gets_back_the_groups_their_deactivation_took(tmp_path: Path) -> None:
    """Identity providers deactivate a person without removing them from its groups, and reactivate them
    without sending the groups again: what the deactivation took away comes back, minus what the provider
    changed meanwhile."""
    tokens: list[str] = []

    def setup(directory: Directory) -> None:
        seed_users(directory, "entra", [f"staff{n}@example.com" for n in range(100)])  # the guard's count
        directory.groups.create("local-team")  # not the source's: never touched by it
        tokens.append(directory.scim_tokens.create("entra").bearer)

    def groups_of(server: LiveServer, name: str) -> list[str]:
        with server.directory() as directory:
            user = directory.users.get_by_name(name)
            return sorted(m.group_name for m in directory.groups.groups_of(user.id))

    with live_server(tmp_path, setup) as server, server.client(tokens[0]) as client:

        def send(method: str, url: str, body: Any = None, expect: int = 200) -> Any:
            response = client.request(method, url, json=body)
            assert response.status_code == expect, response.text
            return response.json() if response.content else None

        def active(user: str, value: str) -> None:
            operation = {"op": "Replace", "path": "active", "value": value}
            send("PATCH", f"/Users/{user}", {"schemas": [PATCH_OP], "Operations": [operation]})

        def members(group: str, op: str, user: str) -> None:
            operation = {"op": op, "path": "members", "value": [{"value": user}]}
            if op == "Remove":
                operation = {"op": op, "path": f'members[value eq "{user}"]'}
            send("PATCH", f"/Groups/{group}", {"schemas": [PATCH_OP], "Operations": [operation]}, 204)

        ann = send("POST", "/Users", _user("ann@example.com"), 201)["id"]
        team = {
            name: send("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": name}, 201)["id"]
            for name in ("eng", "ops", "oncall")
        }
        for group in team.values():
            members(group, "Add", ann)
        with server.directory() as directory:
            user = directory.users.get_by_name("ann@example.com")
            directory.groups.add_member(directory.groups.get_by_name("local-team").id, user.id)
        assert groups_of(server, "ann@example.com") == ["eng", "local-team", "oncall", "ops"]

        active(ann, "False")  # access ends now: out of the source's groups
        assert groups_of(server, "ann@example.com") == ["local-team"]
        members(team["oncall"], "Remove", ann)  # the provider takes her out of one meanwhile
        active(ann, "True")
        assert groups_of(server, "ann@example.com") == ["eng", "local-team", "ops"]
        active(ann, "True")  # again: nothing more
        assert groups_of(server, "ann@example.com") == ["eng", "local-team", "ops"]
        # The user's read-only groups (RFC 7643 §4.1.2): the source's own, never a local one.
        shown = send("GET", f"/Users/{ann}")["groups"]
        assert [(g["display"], g["value"], g["type"]) for g in shown] == [
            ("eng", team["eng"], "direct"),
            ("ops", team["ops"], "direct"),
        ]
        assert "groups" not in send("GET", f"/Users/{ann}?excludedAttributes=groups")
        # Read-only: a PUT that sends other groups back changes no membership.
        put = {**_user("ann@example.com"), "groups": [{"value": team["oncall"]}]}
        assert [g["display"] for g in send("PUT", f"/Users/{ann}", put)["groups"]] == ["eng", "ops"]
        assert groups_of(server, "ann@example.com") == ["eng", "local-team", "ops"]

        # A PUT of a group's members while she is away: she is not in them, so that one is not given back.
        active(ann, "False")
        send("PUT", f"/Groups/{team['ops']}", {"schemas": [CORE_GROUP], "displayName": "ops", "members": []})
        # The provider adds her to a group while she is away, then deactivates her again (a retry, a
        # reconciliation): what was held is kept, the new group held with it.
        late = {"schemas": [CORE_GROUP], "displayName": "late", "members": [{"value": ann}]}
        send("POST", "/Groups", late, 201)
        active(ann, "False")
        assert groups_of(server, "ann@example.com") == ["local-team"]
        active(ann, "True")
        assert groups_of(server, "ann@example.com") == ["eng", "late", "local-team"]

        # A DELETE is final: created again, she starts with no group of the source.
        send("DELETE", f"/Users/{ann}", expect=204)
        again = send("POST", "/Users", _user("ann@example.com"), 201)["id"]
        assert again == ann
        assert groups_of(server, "ann@example.com") == ["local-team"]
    with Directory.open(server.db_path, Actor("scim-test", "test")) as directory:
        with directory.db.read() as conn:
            assert conn.execute("SELECT count(*) FROM scim_suspended_memberships").fetchone()[0] == 0


def test_adminship_is_not_given_back_at_reactivation(tmp_path: Path) -> None:
    """A group of the source an administrator made the admin group: deactivating a member removes their
    adminship (deprovisioning must); reactivating gives back their other groups, never the admin group."""
    tokens: list[str] = []

    def setup(directory: Directory) -> None:
        seed_users(directory, "okta", [f"staff{n}@example.com" for n in range(100)])
        tokens.append(directory.scim_tokens.create("okta").bearer)

    with live_server(tmp_path, setup) as server, server.client(tokens[0]) as client:
        bo = client.post("/Users", json=_user("bo@example.com")).json()["id"]
        for name in ("okta-admins", "okta-eng"):
            body = {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": bo}]}
            assert client.post("/Groups", json=body).status_code == 201
        with server.directory() as directory:
            directory.admins.set_admin_group(directory.groups.get_by_name("okta-admins").id)

        def patch_active(value: bool) -> int:
            operation = {"op": "replace", "path": "active", "value": value}
            body = {"schemas": [PATCH_OP], "Operations": [operation]}
            return client.patch(f"/Users/{bo}", json=body).status_code

        def groups() -> list[str]:
            with server.directory() as directory:
                user = directory.users.get_by_name("bo@example.com")
                return sorted(m.group_name for m in directory.groups.groups_of(user.id))

        assert patch_active(False) == 200
        assert groups() == []
        with server.directory() as directory:
            held = directory.scim_sources.held_memberships(directory.users.get_by_name("bo@example.com").id)
            assert held == [("okta-eng", "okta")]
        assert patch_active(True) == 200  # not refused: nothing given back makes an administrator
        assert groups() == ["okta-eng"]
