"""``tui scim serve`` refuses malformed requests as RFC 7644 asks (a hostile-input audit's findings): bodies
of another media type (415), JSON that is not JSON (NaN, Infinity), PatchOp messages that are not one or that
change read-only attributes, filters comparing an attribute with a value of another type; and a problem of
one SCIM resource is said once, by the server and by ``tui import --format scim``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from store.audit import Actor
from store.directory import Directory

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


class Client:
    """The app in process (Starlette's TestClient), every request with the source's bearer token."""

    def __init__(self, client: TestClient, token: str, db_path: Path) -> None:
        self.client, self.token, self.db_path = client, token, db_path

    def send(
        self, method: str, path: str, body: Any = None, content_type: str | None = SCIM_JSON, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        content = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        return self.client.request(method, f"/scim/v2{path}", content=content, headers=headers, **kwargs)

    def user(self, name: str) -> dict[str, Any]:
        created = self.send("POST", "/Users", {"schemas": [CORE_USER], "userName": name})
        assert created.status_code == 201, created.text
        return dict(created.json())

    def user_names(self) -> set[str]:
        with Directory.open(self.db_path, Actor("t", "t")) as directory, directory.db.read() as conn:
            return {row[0] for row in conn.execute("SELECT user_name FROM users")}


@pytest.fixture(scope="module")
def scim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    from tui.scim_server import build_app

    db_path = tmp_path_factory.mktemp("strict") / "directory.db"
    with Directory.open(db_path, Actor("t", "t")) as directory:
        token = directory.scim_tokens.create("okta").bearer
    with TestClient(build_app(db_path)) as client:
        yield Client(client, token, db_path)


def _error(response: Any, status: int, scim_type: str | None = None) -> str:
    """The SCIM error's detail, after checking it is RFC 7644 §3.12's with ``status`` and ``scim_type``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status), body
    assert body.get("scimType") == scim_type, body
    return str(body["detail"])


def _bodies(ident: str) -> list[tuple[str, str, dict[str, Any]]]:
    """A request of each kind that carries a body, valid but for its media type."""
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}
    return [
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": "media@example.com"}),
        ("PUT", f"/Users/{ident}", {"schemas": [CORE_USER], "userName": "media-put@example.com"}),
        ("PATCH", f"/Users/{ident}", patch),
        ("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST]}),
        ("POST", "/.search", {"schemas": [SEARCH_REQUEST]}),
        (
            "POST",
            "/Bulk",
            {
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk@x.org"}}
                ],
            },
        ),
    ]


# -- 1. media types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None, "application/jsonx", "json"]
)
def test_a_body_of_another_media_type_is_415(scim: Client, content_type: str | None) -> None:
    ident = scim.user(f"media-{content_type or 'none'}@example.com".replace("/", "-"))["id"]
    before = scim.user_names()
    for method, path, body in _bodies(ident):
        detail = _error(scim.send(method, path, body, content_type), 415)
        assert "application/scim+json" in detail, (method, path, detail)
    assert scim.user_names() == before


@pytest.mark.parametrize(
    "content_type",
    ["application/scim+json", "application/json", "application/scim+json; charset=utf-8", "Application/JSON"],
)
def test_scim_json_and_json_are_accepted_with_parameters(scim: Client, content_type: str) -> None:
    name = f"accepted-{abs(hash(content_type)) % 10**8}@example.com"  # Application/JSON: another name
    created = scim.send("POST", "/Users", {"schemas": [CORE_USER], "userName": name}, content_type)
    assert created.status_code == 201, created.text
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Y"}]}
    patched = scim.send("PATCH", f"/Users/{created.json()['id']}", patch, content_type)
    assert patched.status_code == 200, patched.text
    searched = scim.send("POST", "/Users/.search", {"schemas": [SEARCH_REQUEST]}, content_type)
    assert searched.status_code == 200, searched.text


# -- 2. JSON that is not JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_invalid_syntax(scim: Client, constant: str) -> None:
    before = scim.user_names()
    body = f'{{"schemas": ["{CORE_USER}"], "userName": "nan@example.com", "x": [1, {constant}]}}'
    detail = _error(scim.send("POST", "/Users", body), 400, "invalidSyntax")
    assert constant.lstrip("-") in detail and "x[1]" in detail, detail
    bulk = (
        f'{{"schemas": ["{BULK_REQUEST}"], "Operations": [{{"method": "POST", "path": "/Users", '
        f'"bulkId": "a", "data": {{"userName": "nan2@example.com", "employeeNumber": {constant}}}}}]}}'
    )
    _error(scim.send("POST", "/Bulk", bulk), 400, "invalidSyntax")
    assert scim.user_names() == before


def test_other_bad_json_is_still_invalid_syntax(scim: Client) -> None:
    detail = _error(scim.send("POST", "/Users", '{"userName": "a", "userName": "b"}'), 400, "invalidSyntax")
    assert "'userName'" in detail
    _error(scim.send("POST", "/Users", "{"), 400, "invalidSyntax")
    _error(scim.send("POST", "/Users", b"\xff"), 400, "invalidSyntax")
    _error(scim.send("POST", "/Users", "[]"), 400, "invalidSyntax")
    _error(scim.send("POST", "/Users", "[" * 40 + "]" * 40), 400, "invalidSyntax")


# -- 3. PatchOp messages ---------------------------------------------------------------------------------


def _patch(*operations: dict[str, Any], schemas: Any = (PATCH_OP,)) -> dict[str, Any]:
    body: dict[str, Any] = {"Operations": list(operations)}
    if schemas is not None:
        body["schemas"] = list(schemas)
    return body


def test_a_patch_that_is_not_a_patch_op_is_invalid_syntax(scim: Client) -> None:
    user = scim.user("patchop@example.com")
    rename = {"op": "replace", "path": "displayName", "value": "Renamed"}
    for body in (
        _patch(),  # no operations
        {"schemas": [PATCH_OP]},
        {"schemas": [PATCH_OP], "Operations": {"op": "replace"}},
        _patch(rename, schemas=None),
        _patch(rename, schemas=[CORE_USER]),
        _patch(rename, schemas=PATCH_OP),  # a string, not a list
    ):
        detail = _error(scim.send("PATCH", f"/Users/{user['id']}", body), 400, "invalidSyntax")
        assert "Operations" in detail or "schemas" in detail, detail
    group = scim.send("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "PatchOps"}).json()
    _error(scim.send("PATCH", f"/Groups/{group['id']}", _patch()), 400, "invalidSyntax")
    assert scim.send("GET", f"/Users/{user['id']}").json().get("displayName") is None


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "id"},
        {"op": "replace", "path": "id", "value": "00000000-0000-0000-0000-000000000000"},
        {"op": "replace", "path": "meta.version", "value": 'W/"1"'},
        {"op": "add", "path": "meta", "value": {"created": "2000-01-01T00:00:00Z"}},
        {"op": "replace", "path": f"{CORE_USER}:id", "value": "x"},
        {"op": "add", "path": "groups", "value": [{"value": "x"}]},
        {"op": "remove", "path": 'groups[value eq "x"]'},
        {"op": "replace", "value": {"displayName": "Z", "id": "x"}},
        {"op": "replace", "value": {"meta": {"version": 'W/"1"'}}},
    ],
)
def test_patching_a_read_only_attribute_is_a_mutability_error(
    scim: Client, operation: dict[str, Any]
) -> None:
    user = scim.user(f"readonly-{abs(hash(json.dumps(operation))) % 10**8}@example.com")
    detail = _error(scim.send("PATCH", f"/Users/{user['id']}", _patch(operation)), 400, "mutability")
    assert "read-only" in detail, detail
    after = scim.send("GET", f"/Users/{user['id']}").json()
    assert after["meta"]["version"] == user["meta"]["version"] and after.get("displayName") is None
    bulk = {
        "schemas": [BULK_REQUEST],
        "Operations": [{"method": "PATCH", "path": f"/Users/{user['id']}", "data": _patch(operation)}],
    }
    _error(scim.send("POST", "/Bulk", bulk), 400, "mutability")


def test_patching_a_group_id_is_a_mutability_error(scim: Client) -> None:
    group = scim.send("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "ReadOnlyId"}).json()
    for operation in (
        {"op": "remove", "path": "id"},
        {"op": "replace", "path": "meta.lastModified"},
        {"op": "replace", "value": {"id": "another", "displayName": "Renamed"}},
    ):
        _error(scim.send("PATCH", f"/Groups/{group['id']}", _patch(operation)), 400, "mutability")
    # Okta's documented group rename repeats the group's own id: that changes nothing, and is accepted.
    rename = {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}}
    assert scim.send("PATCH", f"/Groups/{group['id']}", _patch(rename)).status_code == 204


def test_an_unknown_path_is_still_ignored_but_an_unsafe_one_is_refused(scim: Client) -> None:
    user = scim.user("paths@example.com")
    nickname = _patch({"op": "replace", "path": "nickName", "value": "n"})
    ignored = scim.send("PATCH", f"/Users/{user['id']}", nickname)
    assert ignored.status_code == 200, ignored.text
    for path in ("display\x1bName", "displayName\u202e", "nick\nName"):
        unsafe = _patch({"op": "replace", "path": path, "value": "v"})
        response = scim.send("PATCH", f"/Users/{user['id']}", unsafe)
        detail = _error(response, 400, "invalidPath")
        assert not any(ch in detail for ch in "\x1b\u202e\n"), repr(detail)
        assert "\\x1b" in detail or "<U+202E>" in detail or "\\x0a" in detail, detail
    long_path = "a" * 100_000
    response = scim.send("PATCH", f"/Users/{user['id']}", _patch({"op": "remove", "path": long_path}))
    detail = _error(response, 400, "invalidPath")
    assert len(detail) < 1000 and "100,000 characters" in detail, detail
    group = scim.send("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Paths"}).json()
    response = scim.send("PATCH", f"/Groups/{group['id']}", _patch({"op": "remove", "path": "x\x07"}))
    assert "\\x07" in _error(response, 400, "invalidPath")


# -- 4. filters compare like with like -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'active eq "yes"',
        'active eq "true"',
        "active eq 1",
        "active gt true",
        'active co "t"',
        "userName eq 5",
        "userName eq true",
        "emails[value eq 7]",
        "not (externalId ne false)",
        'userName eq "a" or active eq "no"',
    ],
)
def test_a_filter_comparing_unlike_types_is_invalid(scim: Client, text: str) -> None:
    detail = _error(scim.send("GET", "/Users", params={"filter": text}), 400, "invalidFilter")
    assert "filter" in detail, detail
    search = {"schemas": [SEARCH_REQUEST], "filter": text}
    _error(scim.send("POST", "/Users/.search", search), 400, "invalidFilter")


@pytest.mark.parametrize(
    "text", ["active eq true", "active ne false", 'userName eq "5"', "active pr", 'displayName eq "true"']
)
def test_a_filter_comparing_like_types_is_read(scim: Client, text: str) -> None:
    response = scim.send("GET", "/Users", params={"filter": text})
    assert response.status_code == 200, response.text


# -- 5. each problem once --------------------------------------------------------------------------------


def test_a_missing_name_is_said_once_by_the_server(scim: Client) -> None:
    detail = _error(scim.send("POST", "/Users", {"schemas": [CORE_USER]}), 400, "invalidValue")
    assert detail == "userName: is required"
    bulk = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [CORE_USER]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"schemas": [CORE_GROUP]}},
        ],
    }
    detail = _error(scim.send("POST", "/Bulk", bulk), 400, "invalidValue")
    assert detail.count("is required") == 1, detail


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"schemas": [CORE_USER]}, "userName: is required"),
        ({"schemas": [CORE_USER], "id": "u-1", "externalId": "e-1"}, "userName: is required"),
        ({"schemas": [CORE_GROUP]}, "displayName: is required"),
        (
            {
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [CORE_USER]}}
                ],
            },
            "Operations[0] (POST /Users, bulkId a): userName: is required",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "Resources": [{"schemas": [CORE_USER], "userName": "ok"}, {"schemas": [CORE_GROUP]}],
            },
            "Resources[1]: displayName: is required",
        ),
    ],
)
def test_a_missing_name_is_said_once_by_the_import(
    run_tui: Any, tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(document))
    result = run_tui("import", "--format", "scim", str(path))
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert said.count("is required") == 1 and expected in said, said
