"""Consistent copies of a directory database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from store.errors import ValidationError

if TYPE_CHECKING:
    from store.directory import Directory


def backup_database(directory: Directory, target: Path) -> None:
    """``VACUUM INTO`` a new file, owner-only. Refuses to overwrite: a backup never destroys another."""
    if target.exists() or target.is_symlink():  # a dangling symlink too: SQLite would create its target
        raise ValidationError(f"{target}: already exists; choose a new file name")
    if not target.parent.is_dir():
        raise ValidationError(f"{target.parent}: no such folder")
    old = os.umask(0o077)  # VACUUM INTO creates the file: make it owner-only from its first byte
    try:
        directory.db.vacuum_into(target)
    finally:
        os.umask(old)
    os.chmod(target, 0o600)
