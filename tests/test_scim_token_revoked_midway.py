"""A provisioning token revoked while one of its requests is still arriving: the request changes nothing.

The token was checked once, when the request's headers came; its body (a POST, a 1,000-operation bulk) could
follow minutes later and be applied after an admin revoked the token. The source's principal now carries its
token, and the one rights check finds it live in the change's own transaction (red-team replay)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.scim_live import CORE_USER, live_server


def test_a_request_whose_token_is_revoked_before_its_body_ends_changes_nothing(tmp_path: Path) -> None:
    tokens: dict[str, object] = {}

    def setup(directory) -> None:
        made = directory.scim_tokens.create("okta")
        tokens["bearer"], tokens["id"] = made.bearer, made.token.id

    with live_server(tmp_path, setup) as server:
        where = urlsplit(server.base)
        body = json.dumps({"schemas": [CORE_USER], "userName": "held-long"}).encode()
        head = (
            f"POST {where.path}/Users HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Authorization: Bearer {tokens['bearer']}\r\nContent-Type: application/scim+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection((where.hostname, where.port), timeout=30) as held:
            held.sendall(head + body[:5])  # the token is checked as the headers arrive
            with server.directory() as directory:
                deadline = time.monotonic() + 20
                while directory.scim_tokens.list()[0].last_used_at is None:  # its first use is recorded
                    assert time.monotonic() < deadline, "the server never checked the token"
                    time.sleep(0.05)
                directory.scim_tokens.revoke(tokens["id"])
            held.sendall(body[5:])
            answer = b""
            while chunk := held.recv(65536):
                answer += chunk
        status_line = answer.split(b"\r\n", 1)[0].decode()
        assert " 401 " in status_line, answer
        assert b"revoked or has expired" in answer
        with server.directory() as directory:
            assert "held-long" not in [u.user_name for u in directory.users.list().items]
