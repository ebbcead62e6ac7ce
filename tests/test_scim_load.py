"""Load on a live ``tui scim serve`` (issue 15): concurrent identity-provider clients each push users and add
each one to a group they all share. No 5xx, nothing lost (every user there, every membership there), and no
"database is locked" in any response or in the server's log.

The issue's figure (8 clients × 1,000 users) is slow and runs with ``make test-all``; a small version runs in
the default suite. Timings live in bench/bench_scim.py, never here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from store.directory import Directory
from tests.scim_live import CORE_GROUP, CORE_USER, PATCH_OP, live_server

LOCKED = "database is locked"


def _push_concurrently(tmp: Path, clients: int, users: int) -> None:
    tokens: dict[str, str] = {}

    def setup(directory: Directory) -> None:
        directory.users.create("lucy")  # a local user, untouched by all of it
        tokens["okta"] = directory.scim_tokens.create("okta").bearer

    with live_server(tmp, setup) as server:
        with server.client(tokens["okta"]) as client:
            created = client.post("/Groups", json={"schemas": [CORE_GROUP], "displayName": "everyone"})
            assert created.status_code == 201, created.text
            group = created.json()["id"]

        def push(worker: int) -> tuple[dict[str, str], list[tuple[int, str]]]:
            """This client's users (name → id) and every response that was not a success."""
            ids: dict[str, str] = {}
            failures: list[tuple[int, str]] = []
            with server.client(tokens["okta"], timeout=120) as client:
                for n in range(users):
                    name = f"load{worker}-{n}@example.com"
                    response = client.post(
                        "/Users", json={"schemas": [CORE_USER], "userName": name, "active": True}
                    )
                    if response.status_code != 201:
                        failures.append((response.status_code, response.text))
                        continue
                    ids[name] = response.json()["id"]
                    add = {
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[name]}]}],
                    }
                    patched = client.patch(f"/Groups/{group}", json=add)
                    if patched.status_code != 204:
                        failures.append((patched.status_code, patched.text))
            return ids, failures

        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(push, range(clients)))

        failures = [failure for _, worker_failures in results for failure in worker_failures]
        # No 5xx, and no 4xx either: every request was a good one (a "database is locked" would be a 500).
        assert not failures, failures[:5]
        pushed = {name: ident for ids, _ in results for name, ident in ids.items()}
        assert len(pushed) == clients * users

        with server.directory() as directory, directory.db.read() as conn:
            rows = conn.execute(
                "SELECT user_name, scim_id, status FROM users WHERE source = 'okta'"
            ).fetchall()
            assert {row["user_name"]: row["scim_id"] for row in rows} == pushed  # nothing lost, nothing extra
            assert all(row["status"] == "active" for row in rows)
            members = {
                row[0]
                for row in conn.execute(
                    "SELECT u.user_name FROM memberships m JOIN users u ON u.id = m.user_id "
                    "JOIN groups g ON g.id = m.group_id WHERE g.name = 'everyone'"
                )
            }
            assert members == set(pushed)
            assert directory.users.get_by_name("lucy").active
    assert LOCKED not in server.log and "Traceback" not in server.log, server.log[-2000:]


def test_four_clients_push_users_and_share_a_group(tmp_path: Path) -> None:
    _push_concurrently(tmp_path, clients=4, users=50)


@pytest.mark.slow
def test_eight_clients_push_a_thousand_users_each_and_share_a_group(tmp_path: Path) -> None:
    _push_concurrently(tmp_path, clients=8, users=1000)
