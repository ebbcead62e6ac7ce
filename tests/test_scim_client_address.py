"""The address a SCIM request's audit event names is the connection's own, not what the client writes.

Red-team: uvicorn believes ``X-Forwarded-For`` from loopback by default, so any local client (or a remote one
behind a proxy that passes the header on) wrote the address the audit log named ("from root@console via
ssh"), raw control characters included. ``--forwarded-allow-ips`` names the proxies that are believed."""

from __future__ import annotations

from pathlib import Path

from store import audit
from store.audit import Actor
from store.directory import Directory
from tests.scim_live import live_server

TOKEN: dict[str, str] = {}
USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}


def _token(directory: Directory) -> None:
    TOKEN["okta"] = directory.scim_tokens.create("okta").bearer


def _last_target(db_path: Path) -> str:
    with Directory.open(db_path, Actor("test", "test")) as directory, directory.db.read() as conn:
        return [event.target for event in audit.events(conn)][-1]


def test_a_client_cannot_choose_the_address_the_audit_log_names(tmp_path: Path) -> None:
    with live_server(tmp_path / "plain", _token) as server, server.client(TOKEN["okta"]) as client:
        spoofed = {"X-Forwarded-For": "root@console via ssh"}
        assert client.post("/Users", json=USER | {"userName": "x1"}, headers=spoofed).status_code == 201
        assert _last_target(server.db_path) == "file:SCIM POST /scim/v2/Users from 127.0.0.1"


def test_the_proxies_named_are_believed(tmp_path: Path) -> None:
    options = ("--forwarded-allow-ips", "127.0.0.1")
    with live_server(tmp_path / "proxied", _token, options=options) as server:
        with server.client(TOKEN["okta"]) as client:
            forwarded = {"X-Forwarded-For": "203.0.113.7"}
            assert client.post("/Users", json=USER | {"userName": "x2"}, headers=forwarded).status_code == 201
        assert _last_target(server.db_path) == "file:SCIM POST /scim/v2/Users from 203.0.113.7"


def test_an_audit_target_is_kept_as_visible_text(db_path: Path) -> None:
    """Whatever a request names (a percent-escaped path, a header) reaches the table as one visible line."""
    with Directory.open(db_path, Actor("test", "test")) as directory:
        with directory.change() as conn:
            hostile = "from \x1b[31m\x9b1m\u202eevil"
            directory.record(conn, at=directory.now_text(), action="x", target=hostile)
        assert _last_target(db_path) == "from \\x1b[31m\\x9b1m<U+202E>evil"
        assert directory.verify_audit().ok
