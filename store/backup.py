"""Consistent copies of a directory database."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from store.errors import ValidationError
from store.files import publish_new

if TYPE_CHECKING:
    from store.directory import Directory


def backup_database(directory: Directory, target: Path) -> None:
    """``VACUUM INTO`` a new file, owner-only. Refuses to overwrite: a backup never destroys another.

    The copy is made in a folder of ours (0700, beside the target) and only then given its name, as a new
    name: in a shared folder nobody can swap a link or a file of theirs in under SQLite while it writes (it
    opens the path, and takes an existing empty file), and the umask, process-wide, is left alone."""
    if target.exists() or target.is_symlink():  # a dangling symlink too
        raise ValidationError(f"{target}: already exists; choose a new file name")
    if not target.parent.is_dir():
        raise ValidationError(f"{target.parent}: no such folder")
    staging = Path(tempfile.mkdtemp(prefix=".tui-backup-", dir=target.parent))
    try:
        copy = staging / "backup.db"
        directory.db.vacuum_into(copy)
        os.chmod(copy, 0o600)
        with copy.open("rb") as written:  # VACUUM INTO does not flush its file to disk
            os.fsync(written.fileno())
        try:
            publish_new(copy, target)
        except FileExistsError:
            raise ValidationError(f"{target}: already exists; choose a new file name") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
