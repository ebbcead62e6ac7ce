"""The audit log's high-water mark: the last head the directory committed, kept on the database file itself
as an extended attribute (``user.tui.audit-head``), outside what SQL can reach.

The head in the database is keyed, so nobody without the key file can write a new one; but an older head is
as well keyed as the newest. Someone who can write the database could keep a copy of an older head, delete the
events after it and put that head back: chain and head agree, and ``tui audit verify`` said "intact" while
the sessions issued meanwhile stayed (a red-team replay). The mark is the newest head seen after each
change's commit; verify refuses a log that no longer holds the event the mark names. A log rolled back on
purpose (a backup copied over the file) is accepted again by ``tui audit reseal``, which moves the mark back.
A copy (``tui backup``, ``VACUUM INTO``) is a new file without the mark, so checking a backup never trips it.

It is a mark, not a lock: whoever can replace the file (a new inode) loses it with the file, and the log then
checks as before; ``--expect-head`` with a head kept elsewhere remains the stronger check. Where the file
system keeps no extended attributes (or on a system without them), there is no mark and nothing changes.
Written after the commit, never before, it can lag (a crash between the two, two processes racing: it then
names an older event, still there) but never names an event the database does not hold.
"""

from __future__ import annotations

import os
from pathlib import Path

ATTRIBUTE = "user.tui.audit-head"
_SUPPORTED = hasattr(os, "getxattr") and hasattr(os, "setxattr")


def read_mark(db_path: Path) -> str | None:
    """The mark's text (a head, ``SEQ:HASH:MAC``), or None when there is none (or it cannot be read)."""
    if not _SUPPORTED:
        return None
    try:
        data = os.getxattr(db_path, ATTRIBUTE)
    except OSError:
        return None
    text = data[:512].decode("ascii", "replace").strip()
    return text or None


def seq_of(head: str) -> int:
    number = head.partition(":")[0]
    return int(number) if number.isascii() and number.isdigit() and len(number) <= 18 else 0


def advance_mark(db_path: Path, head: str) -> None:
    """Make the mark ``head`` unless it already names a later event. Never raises: the change it follows is
    committed, and a mark left behind only makes the check weaker, never wrong."""
    current = read_mark(db_path)
    if current is not None and seq_of(current) >= seq_of(head):
        return
    _write(db_path, head)


def reset_mark(db_path: Path, head: str) -> None:
    """Make the mark ``head`` whatever it named (``tui audit reseal``: the log as it is now is accepted)."""
    _write(db_path, head)


def _write(db_path: Path, head: str) -> None:
    if not _SUPPORTED:
        return
    try:
        os.setxattr(db_path, ATTRIBUTE, head.encode("ascii", "replace"))
    except OSError:
        pass  # a file system without user attributes: no mark (see the module's note)
