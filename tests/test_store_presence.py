"""Presence's sidecar file: a heartbeat in a worker thread while the console closes must not crash it."""

from __future__ import annotations

import threading

from store.presence import Presence


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
