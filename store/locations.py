"""Where files live by default. One place, so the CLI, the console and tests agree."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tui"


def default_db_path() -> Path:
    """``$TUI_DB``, else the platform's user-data folder: ``~/.local/share/tui/directory.db`` on Linux."""
    env = os.environ.get("TUI_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "directory.db"


def default_key_path(db_path: Path) -> Path:
    """``$TUI_KEY``, else ``<database>.key`` beside the database."""
    env = os.environ.get("TUI_KEY")
    if env:
        return Path(env).expanduser()
    return db_path.with_name(db_path.name + ".key")
