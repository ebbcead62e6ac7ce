"""Slow or hostile HTTP clients against the real ``tui scim serve``: a connection whose request line and
headers never finish arriving (slowloris) was held for good, one descriptor each, until the server ran out
of files. It is closed after ``--header-timeout``; connections beyond ``--max-connections`` are answered
503; and an identity provider's ordinary requests go on meanwhile."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from store.directory import Directory
from tests.scim_live import LiveServer, live_server

TOKEN: dict[str, str] = {}


def _token(directory: Directory) -> None:
    TOKEN["okta"] = directory.scim_tokens.create("okta").bearer


def _open(server: LiveServer) -> socket.socket:
    address = urlsplit(server.base)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading what it sends until then)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_a_request_head_that_never_ends_is_closed_and_others_are_served(tmp_path: Path) -> None:
    with live_server(tmp_path, _token, options=("--header-timeout", "1")) as server:
        slow = [_open(server) for _ in range(3)]
        slow[0].sendall(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n")  # and then nothing more
        slow[1].sendall(b"GET /scim/v2/Us")  # the request line cut
        # slow[2] sends nothing at all
        started = time.monotonic()
        with server.client(TOKEN["okta"]) as client:  # an identity provider meanwhile: served at once
            assert client.get("/Users").status_code == 200
        for sock in slow:
            assert _closed_within(sock, 5), "the server kept a connection whose head never came"
            sock.close()
        assert time.monotonic() - started < 5
        with server.client(TOKEN["okta"]) as client:  # a kept-alive client's next requests are still served
            for _ in range(3):
                assert client.get("/Users").status_code == 200


def test_connections_beyond_the_cap_are_answered_503(tmp_path: Path) -> None:
    with live_server(
        tmp_path, _token, options=("--max-connections", "2", "--header-timeout", "30")
    ) as server:
        held = [_open(server) for _ in range(2)]  # two connections open, their heads not sent
        time.sleep(0.3)
        with server.client(TOKEN["okta"]) as client:
            assert client.get("/Users").status_code == 503
        for sock in held:
            sock.close()
        time.sleep(0.3)
        with server.client(TOKEN["okta"]) as client:
            assert client.get("/Users").status_code == 200


def test_a_body_that_never_ends_is_answered_408_and_closed(tmp_path: Path) -> None:
    with live_server(tmp_path, _token, options=("--body-timeout", "1")) as server:
        slow = _open(server)
        slow.sendall(
            b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN["okta"].encode()
            + b"\r\nContent-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n{\"userName\": "
        )  # fmt: skip
        started = time.monotonic()
        slow.settimeout(5)
        answer = b""
        try:
            while chunk := slow.recv(4096):
                answer += chunk
        except TimeoutError:
            pass
        slow.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not all arrive within 1 s" in answer, answer
        assert time.monotonic() - started < 4
        with server.client(TOKEN["okta"]) as client:  # the server goes on
            assert client.get("/Users").status_code == 200
