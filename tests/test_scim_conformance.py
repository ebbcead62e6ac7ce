"""A SCIM client no one here wrote: scim2-tester's server checks, through scim2-client over HTTP, against a
live ``tui scim serve`` (issue 15). Zero failures for everything ServiceProviderConfig advertises.

Checks scim2-tester 0.5 skips here, and why (``SKIPPED`` below; one more or one fewer fails the test):

| check | resource type | why |
|---|---|---|
| (none) | | its ``search_with_attributes`` needs ``POST /.search`` of every type at once: served |

What it does not check because /Schemas does not offer it, and why:

| attribute | why not offered |
|---|---|
| removing ``active`` | tui always holds a status: ``active`` is required (absent at creation: active) |
| Group ``members.display`` | not in RFC 7643's Group schema; a ``display`` a client sends is not kept |
| ``manager.displayName`` (enterprise) | made by a server that resolves managers, which tui does not |
| password, phones, addresses, … | not kept by tui (SPEC §1's user) |
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Group, SearchRequest, User
from scim2_tester import Status, check_server

from store.audit import Actor
from store.directory import Directory
from tests.conftest import TUI_COMMAND

SKIPPED: set[tuple[str | None, str | None]] = set()  # (resource type, check): the first table above
# The users already provisioned from the source. The tester deletes what it made (about 40 users): with
# fewer than ten times as many active users the live sync guard would rightly pause the source mid-run.
# Together they stay within one page (ServiceProviderConfig's filter.maxResults), as the checks that look
# for what they made in an unfiltered list assume.
SEEDED = 400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    from store.formats import read_file
    from store.importer import import_document

    tmp = tmp_path_factory.mktemp("conformance")
    db_path = tmp / "directory.db"
    with Directory.open(db_path, Actor("conformance", "test")) as directory:
        directory.users.create("lucy")  # a local user: never seen by the identity provider
        raw = json.dumps({"users": [{"userName": f"seed{n}@example.com"} for n in range(SEEDED)]}).encode()
        document = read_file(raw, "seed.json", "json").document
        import_document(directory, document, file_name="seed.json", raw=raw, source="okta")
        token = directory.scim_tokens.create("okta").bearer
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")}
    env.update({"TUI_DB": str(db_path), "XDG_DATA_HOME": str(tmp / "xdg"), "NO_COLOR": "1"})
    port = _free_port()
    process = subprocess.Popen(
        [*TUI_COMMAND, "scim", "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
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
        yield f"http://127.0.0.1:{port}/scim/v2", token, db_path
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert b"Traceback" not in stderr, stderr.decode()


def _client(base: str, token: str) -> SyncSCIMClient:
    http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return SyncSCIMClient(http)


def _describe(result: Any) -> str:
    return f"{result.status.name} {result.resource_type} {result.title}: {result.reason}"


def test_scim2_tester_finds_no_failure(served: tuple[str, str, Path]) -> None:
    base, token, db_path = served
    results = check_server(_client(base, token))
    failed = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failed, "\n".join(_describe(r) for r in failed)
    skipped = {(r.resource_type, r.title) for r in results if r.status == Status.SKIPPED}
    assert skipped == SKIPPED, "\n".join(_describe(r) for r in results if r.status == Status.SKIPPED)
    # It did reach every part: discovery, and create, read, replace, patch and delete of both types.
    passed = {(r.resource_type, r.title) for r in results if r.status == Status.SUCCESS}
    for kind in ("User", "Group"):
        for check in ("object_creation", "object_query", "object_replacement", "object_deletion"):
            assert (kind, check) in passed, (kind, check)
        for check in ("check_add_attribute", "check_replace_attribute", "check_remove_attribute"):
            assert (kind, check) in passed, (kind, check)
    assert sum(r.status == Status.SUCCESS for r in results) >= 55  # one result per attribute patched, …
    # What the checks made and deleted stays in the directory, disabled, for the audit trail.
    with Directory.open(db_path, Actor("conformance", "test")) as directory:
        assert directory.users.get_by_name("lucy").active
        with directory.db.read() as conn:
            gone = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'disabled') FROM users "
                "WHERE source = 'okta' AND scim_deleted_at IS NOT NULL"
            ).fetchone()
    assert gone[0] > 0 and gone[0] == gone[1]


def test_search_by_post_through_scim2_client(served: tuple[str, str, Path]) -> None:
    """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3), read and checked by scim2-client."""
    base, token, _ = served
    client = _client(base, token)
    client.discover()
    found = client.search(
        User,
        search_request=SearchRequest(
            filter='userName eq "seed7@example.com"', attributes=["userName"], count=5
        ),
    )
    assert found.total_results == 1 and found.items_per_page == 1
    (seed,) = found.resources
    assert seed.user_name == "seed7@example.com" and seed.active is None  # only what was asked for
    page = client.search(User, search_request=SearchRequest(start_index=3, count=2, sort_by="userName"))
    assert page.start_index == 3 and page.items_per_page == 2 and page.total_results >= SEEDED
    groups = client.search(Group, search_request=SearchRequest(count=0))
    assert groups.items_per_page == 0 and not groups.resources
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        wrong = http.post("/Users/.search", json={"filter": 'userName eq "x" and'})
        assert wrong.status_code == 400 and wrong.json()["scimType"] == "invalidFilter"
        # Every type at once: Users, then Groups, paged as one list; a filter applies where it can.
        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "okta-search"}
        assert http.post("/Groups", json=group).status_code == 201
        users = http.post("/Users/.search", json={"count": 0}).json()["totalResults"]
        groups = http.post("/Groups/.search", json={"count": 0}).json()["totalResults"]
        everything = http.post("/.search", json={"startIndex": users, "count": 2, "attributes": ["id"]})
        assert everything.status_code == 200, everything.text
        assert everything.json()["totalResults"] == users + groups
        last_user, first_group = everything.json()["Resources"]
        assert last_user["meta"]["resourceType"] == "User" and first_group["meta"]["resourceType"] == "Group"
        assert set(last_user) == {"schemas", "id", "meta"}
        named = http.post("/.search", json={"filter": 'userName eq "seed3@example.com"'}).json()
        assert [r["userName"] for r in named["Resources"]] == ["seed3@example.com"]  # no group has a userName
        unsorted = http.post("/.search", json={"sortBy": "userName"})
        assert unsorted.status_code == 400 and "/Users/.search" in unsorted.json()["detail"]
        unauthenticated = httpx2.post(f"{base}/Users/.search", json={})
        assert unauthenticated.status_code == 401


def test_a_list_without_count_is_one_page_of_max_results(served: tuple[str, str, Path]) -> None:
    base, token, _ = served
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        config = http.get("/ServiceProviderConfig").json()
        listed = http.get("/Users").json()
    assert listed["itemsPerPage"] == len(listed["Resources"])
    assert listed["itemsPerPage"] == min(listed["totalResults"], config["filter"]["maxResults"])
    assert listed["totalResults"] >= SEEDED
