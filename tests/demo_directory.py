"""The seeded demo directory that ``make screenshots`` and the snapshot tests draw: root, the sample company,
its credentials and a few live sessions. Tests pass a fixed clock, so every time on screen is the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from store.audit import Actor
from store.clock import Clock, utc_now
from store.demo import seed_demo, seed_demo_credentials, seed_demo_root
from store.directory import Directory

# A moment away from any day or hour boundary, so durations and dates print the same everywhere.
FIXED_NOW = datetime(2026, 6, 15, 9, 30, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


def issue_demo_sessions(directory: Directory) -> None:
    """A few live credentials, so the Sessions screen has something to count down."""
    dev, prod = directory.accounts.get_by_name("dev"), directory.accounts.get_by_name("prod")
    developer, read_only = (directory.permission_sets.get_by_name(n) for n in ("Developer", "ReadOnly"))
    for name, account, pset, duration in (
        ("bob", dev, developer, "PT2H"),
        ("carol", dev, developer, "PT4H"),
        ("dave", prod, developer, "PT30M"),
        ("erin", prod, read_only, "PT8H"),
    ):
        directory.sessions.issue(directory.users.get_by_name(name).id, account.id, pset.id, duration=duration)


def demo_directory(path: Path, clock: Clock = utc_now) -> Directory:
    directory = Directory.open(path, Actor("console:admin", "console"), clock)
    seed_demo_root(directory)
    seed_demo(directory)
    seed_demo_credentials(directory)
    issue_demo_sessions(directory)
    return directory
