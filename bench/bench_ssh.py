"""The shared console under load: 8 real ssh clients (OpenSSH, each in its own tmux terminal) against
``tui serve`` on 127.0.0.1, each driving its own console to create 50 groups through the New group form, all
at once. Figures beside the raw limit measured in the same run: the same 400 creations made directly through
the store in one process, and an SSH round trip that does no directory work (a refused key).

Needs ssh, ssh-keygen and tmux. Prints one JSON line per figure.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from common import emit
except ImportError:  # imported from the repository root
    from bench.common import emit

from store.audit import Actor
from store.directory import Directory
from tests.test_ssh_harness import SSH, TMUX, Server, run_load, seed_world

SESSIONS = 8
EDITS = 50


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")}
    env.update(
        {
            "XDG_DATA_HOME": str(folder / "xdg-data"),
            "XDG_CONFIG_HOME": str(folder / "xdg-config"),
            "XDG_CACHE_HOME": str(folder / "xdg-cache"),
        }
    )
    env.pop("NO_COLOR", None)
    return env


def _store_only(folder: Path, count: int) -> tuple[float, float]:
    """``count`` group creations straight through the store: total seconds and the median per creation."""
    with Directory.open(folder / "raw.db", Actor("bench", "cli")) as directory:
        each = []
        started = time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            directory.groups.create(f"raw-{i:04d}")
            each.append(time.perf_counter() - t)
        return time.perf_counter() - started, statistics.median(each)


def _round_trips(folder: Path, env: dict[str, str], count: int = 20) -> tuple[float, float]:
    """Median wall time of ``ssh … whoami`` and of a refused key (the SSH handshake alone), in ms."""
    world = seed_world(folder)
    server = Server(world, env)
    try:

        def median(user: str, key: str) -> float:
            times = []
            for _ in range(count):
                t = time.perf_counter()
                server.ssh(user, world.keys[key], "whoami")
                times.append(time.perf_counter() - t)
            return statistics.median(times) * 1000

        return median("bob", "bob"), median("bob", "stranger")
    finally:
        server.stop()


def main() -> int:
    if SSH is None or TMUX is None:
        print("bench_ssh: needs ssh and tmux", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "load").mkdir()
        env = _env(folder)
        result = run_load(folder / "load", env, sessions=SESSIONS, edits=EDITS)
        total = SESSIONS * EDITS
        raw_total, raw_each = _store_only(folder, total)
        if result.errors or result.groups_found != total:
            print(f"bench_ssh: {result.errors} groups={result.groups_found}", file=sys.stderr)
            return 1
        latencies = sorted(result.latencies)
        p50 = statistics.median(latencies) * 1000
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
        emit(
            "ssh_load_8x50_total",
            result.seconds,
            "s",
            baseline=round(raw_total, 3),
            ratio=round(result.seconds / raw_total, 1),
            edits=total,
            lost=total - result.groups_found,
        )
        emit(
            "ssh_load_edits_per_s",
            total / result.seconds,
            "edits/s",
            baseline=round(total / raw_total),
            ratio=round((total / result.seconds) / (total / raw_total), 4),
        )
        emit(
            "ssh_load_edit_latency_p50",
            p50,
            "ms",
            baseline=round(raw_each * 1000, 3),
            ratio=round(p50 / (raw_each * 1000), 1),
        )
        emit(
            "ssh_load_edit_latency_p95",
            p95,
            "ms",
            baseline=round(raw_each * 1000, 3),
            ratio=round(p95 / (raw_each * 1000), 1),
        )
        emit("ssh_load_consoles_ready", result.ready_seconds, "s", sessions=SESSIONS)
        (folder / "trips").mkdir()
        whoami, handshake = _round_trips(folder / "trips", env)
        emit(
            "ssh_whoami_round_trip",
            whoami,
            "ms",
            baseline=round(handshake, 1),
            ratio=round(whoami / handshake, 2),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
