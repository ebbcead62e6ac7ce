"""Who else has a console open on this directory, and on which screen.

Heartbeats live in a sidecar file (``<database>.presence``), not in the directory: a console writes one every
few seconds, and writing them into the directory would wake every other console's change detection
(``PRAGMA data_version``) just as often. Presence is informational and best effort: a console that cannot
write its heartbeat still works, it is only missing from the others' presence line.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from store.files import create_private, private_problem

STALE_SECONDS = 15.0


@dataclass(frozen=True)
class Present:
    console_id: str
    user_name: str
    screen: str
    client: str


class PresenceRefused(Exception):
    """The sidecar is not a private file of ours (a symlink, a folder, readable by others): never opened."""


def _open_sidecar(path: Path) -> None:
    """Create the sidecar exclusively, 0600, without following links; one already there must be a plain file
    private to us (a symlink planted beside the database would otherwise point SQLite's writes elsewhere)."""
    try:
        create_private(path)
        return
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise PresenceRefused(f"{path} is not a plain file (a symlink or a folder): presence stays off")
    problem = private_problem(path, info, "console presence file")
    if problem:
        raise PresenceRefused(problem)


class Presence:
    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        path = Path(db_path)
        self.path = path.with_name(path.name + ".presence")
        _open_sidecar(self.path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=2)
        # A console's heartbeat runs in a worker thread while the console may be closing: closing a connection
        # another thread is using crashed the process (a segfault in sqlite3), so one lock guards both.
        self._lock = threading.Lock()
        self._closed = False
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA busy_timeout = 2000")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS presence (console_id TEXT PRIMARY KEY, user_name TEXT NOT NULL, "
            "screen TEXT NOT NULL, client TEXT NOT NULL, seen REAL NOT NULL)"
        )

    def beat(self, console_id: str, user_name: str, screen: str, client: str) -> None:
        try:
            with self._lock:
                if self._closed:
                    return
                self.conn.execute(
                    "INSERT INTO presence VALUES (?, ?, ?, ?, ?) ON CONFLICT(console_id) DO UPDATE SET "
                    "user_name = excluded.user_name, screen = excluded.screen, client = excluded.client, "
                    "seen = excluded.seen",
                    (console_id, user_name, screen, client, time.time()),
                )
        except sqlite3.Error:
            pass  # best effort, see the module docstring

    def leave(self, console_id: str) -> None:
        try:
            with self._lock:
                if not self._closed:
                    self.conn.execute("DELETE FROM presence WHERE console_id = ?", (console_id,))
        except sqlite3.Error:
            pass

    def others(self, console_id: str) -> list[Present]:
        """Consoles other than ``console_id`` seen in the last few seconds, by user name."""
        try:
            with self._lock:
                if self._closed:
                    return []
                rows = self.conn.execute(
                    "SELECT console_id, user_name, screen, client FROM presence WHERE console_id != ? AND "
                    "seen > ? ORDER BY user_name, screen",
                    (console_id, time.time() - STALE_SECONDS),
                ).fetchall()
        except sqlite3.Error:
            return []
        return [Present(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.conn.close()
