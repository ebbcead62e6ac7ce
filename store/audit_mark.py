"""The audit log's high-water mark: the last head the directory committed, kept outside what SQL can reach,
as an extended attribute in two places: on the database file (``user.tui.audit-head``) and on the key file
(``user.tui.audit-head.<16 hex digits naming the database's path>``).

The head in the database is keyed, so nobody without the key file can write a new one; but an older head is
as well keyed as the newest. Someone who can write the database could keep a copy of an older head, delete the
events after it and put that head back: chain and head agree, and ``tui audit verify`` said "intact" while
the sessions issued meanwhile stayed (a red-team replay). The mark is the newest head seen after each
change's commit; verify refuses a log that no longer holds the event a mark names. A log rolled back on
purpose (a backup copied over the file) is accepted again by ``tui audit reseal``, which moves the marks back.

Why two places: whoever can write the database can also remove its attributes (a second red-team replay
stripped the mark, then cut the log), or replace the file whole, which loses them. The key file's mark is
out of their reach, as the key is: it is the key holder's file. It names the database by its path, so one
key file that checks another database (a backup made with ``tui backup``, ``VACUUM INTO``: a new file at
another path, without the mark) does not trip, and a file put back whole at the same path does.
``--expect-head`` with a head kept elsewhere remains the check that needs nothing of this machine. Where the
file system keeps no extended attributes (or on a system without them), there is no mark and nothing
changes. Written after the commit, never before, a mark can lag (a crash between the two, two processes
racing: it then names an older event, still there) but never names an event the database does not hold.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ATTRIBUTE = "user.tui.audit-head"
_SUPPORTED = hasattr(os, "getxattr") and hasattr(os, "setxattr")


def places(db_path: Path, key_path: Path | None) -> list[tuple[Path, str]]:
    """(file, attribute) of each mark: the database file's, and the key file's for this database."""
    found = [(db_path, ATTRIBUTE)]
    if key_path is not None:
        try:
            named = str(db_path.resolve())
        except OSError:
            named = str(db_path.absolute())
        found.append((key_path, f"{ATTRIBUTE}.{hashlib.sha256(named.encode()).hexdigest()[:16]}"))
    return found


def read_mark(path: Path, attribute: str = ATTRIBUTE) -> str | None:
    """A mark's text (a head, ``SEQ:HASH:MAC``), or None when there is none (or it cannot be read)."""
    if not _SUPPORTED:
        return None
    try:
        data = os.getxattr(path, attribute)
    except OSError:
        return None
    text = data[:512].decode("ascii", "replace").strip()
    return text or None


def seq_of(head: str) -> int:
    number = head.partition(":")[0]
    return int(number) if number.isascii() and number.isdigit() and len(number) <= 18 else 0


def advance_mark(db_path: Path, head: str, key_path: Path | None = None) -> None:
    """Make each mark ``head`` unless it already names a later event. Never raises: the change it follows is
    committed, and a mark left behind only makes the check weaker, never wrong."""
    for path, attribute in places(db_path, key_path):
        current = read_mark(path, attribute)
        if current is None or seq_of(current) < seq_of(head):
            _write(path, attribute, head)


def reset_mark(db_path: Path, head: str, key_path: Path | None = None) -> None:
    """Make each mark ``head`` whatever it named (``tui audit reseal``: the log as it is now is accepted)."""
    for path, attribute in places(db_path, key_path):
        _write(path, attribute, head)


def _write(path: Path, attribute: str, head: str) -> None:
    if not _SUPPORTED:
        return
    try:
        os.setxattr(path, attribute, head.encode("ascii", "replace"))
    except OSError:
        pass  # a file system without user attributes, or a key file we may not write: no mark there
