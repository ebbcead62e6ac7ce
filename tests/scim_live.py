"""A live ``tui scim serve`` for tests: the real CLI in a subprocess on a free loopback port, driven over
HTTP with httpx as an identity provider would (the replays, the load test)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from store.audit import Actor
from store.directory import Directory
from tests.conftest import TUI_COMMAND

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A running server: its base URL, its database, and what it wrote to stderr once stopped."""

    def __init__(self, base: str, db_path: Path, verify: Path | bool = True) -> None:
        self.base, self.db_path, self.verify = base, db_path, verify
        self.log = ""

    def client(self, token: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
            timeout=timeout,
            verify=ssl.create_default_context(cafile=self.verify) if isinstance(self.verify, Path) else True,
        )

    def directory(self) -> Directory:
        return Directory.open(self.db_path, Actor("scim-test", "test"))


def seed_users(directory: Directory, source: str, names: list[str]) -> None:
    """Users already provisioned from a file by ``source`` (the population the live sync guard counts)."""
    import json

    from store.formats import read_file
    from store.importer import import_document

    raw = json.dumps({"users": [{"userName": name} for name in names]}).encode()
    document = read_file(raw, "seed.json", "json").document
    import_document(directory, document, file_name="seed.json", raw=raw, source=source)


@contextmanager
def live_server(
    tmp: Path,
    setup: Callable[[Directory], Any] | None = None,
    tls: tuple[Path, Path] | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[LiveServer]:
    """``tui scim serve`` over a new directory in ``tmp`` (``setup`` runs on it first, as the owner), with
    ``options`` of its own. With ``tls`` (certificate, key) it serves HTTPS and its clients trust that
    certificate. Stops the server at the
    end and fails if it wrote a traceback."""
    db_path = tmp / "directory.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")}
    env.update({"TUI_DB": str(db_path), "XDG_DATA_HOME": str(tmp / "xdg"), "NO_COLOR": "1"})
    with Directory.open(db_path, Actor("scim-test", "test")) as directory:
        if setup is not None:
            setup(directory)
    port = free_port()
    tls_args = ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else []
    log_path = tmp / "server.log"  # a file, not a pipe: a long run's log never fills a pipe and stalls it
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*TUI_COMMAND, "scim", "serve", "--listen", f"127.0.0.1:{port}", *tls_args, *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=10)
                raise AssertionError(log_path.read_text() or "the server did not start") from None
            time.sleep(0.1)
    scheme = "https" if tls else "http"
    server = LiveServer(f"{scheme}://127.0.0.1:{port}/scim/v2", db_path, tls[0] if tls else True)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.log = log_path.read_text(errors="replace")
    assert "Traceback" not in server.log, server.log
