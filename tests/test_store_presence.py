"""Presence's sidecar file: a heartbeat in a worker thread while the console closes must not crash it."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from store.presence import Presence, PresenceRefused


def test_closing_while_another_thread_beats_and_reads(tmp_path):
    # The console's presence worker runs in a thread; on exit the console closes the connection. Closing an
    # sqlite3 connection another thread was using crashed the whole process (found by make screenshots).
    for _ in range(20):
        presence = Presence(tmp_path / "directory.db")
        stop = threading.Event()
        seen: list[object] = []

        def heartbeat(
            presence: Presence = presence, stop: threading.Event = stop, seen: list[object] = seen
        ) -> None:
            while not stop.is_set():
                presence.beat("me", "alice", "users", "console")
                seen.append(presence.others("me"))

        worker = threading.Thread(target=heartbeat)
        worker.start()
        while not seen:
            pass
        presence.close()
        stop.set()
        worker.join(timeout=5)
        assert not worker.is_alive()
        assert presence.others("me") == []  # closed: nothing, and no error


def test_the_sidecar_is_created_private_and_a_planted_link_is_never_followed(tmp_path):
    # The sidecar sits beside the database; a symlink planted there would send SQLite's writes (and a new
    # file's mode) wherever it points. It is refused, the target untouched, and presence stays off.
    target = tmp_path / "elsewhere"
    (tmp_path / "directory.db.presence").symlink_to(target)
    with pytest.raises(PresenceRefused, match="not a plain file"):
        Presence(tmp_path / "directory.db")
    assert not target.exists()


def test_a_sidecar_others_can_read_is_refused_with_the_fix(tmp_path):
    sidecar = tmp_path / "directory.db.presence"
    sidecar.write_bytes(b"")
    sidecar.chmod(0o644)
    with pytest.raises(PresenceRefused, match="chmod 600"):
        Presence(tmp_path / "directory.db")


def test_a_new_sidecar_is_owner_only(tmp_path):
    before = os.umask(0o022)  # a common umask would leave a plain open() at 0644
    try:
        Presence(tmp_path / "directory.db").close()
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "directory.db.presence").stat().st_mode) == 0o600
