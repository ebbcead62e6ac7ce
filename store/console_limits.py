"""How many SSH consoles ``tui serve`` runs at once: per user and in all.

Each console is a process of its own (about 60 MB), so without a cap any key holder could open hundreds. The
caps are directory settings (``serve.max_consoles``, ``serve.max_consoles_per_user``), so every server on the
file applies the same ones and a change applies to the next console opened; ``tui serve --max-consoles N
--max-consoles-per-user N`` overrides them for one run. Only consoles (and ``login``, which runs the same
kind of process) count: ``whoami``, ``access`` and ``credentials`` are answered in the server's own process.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from store.errors import ValidationError
from store.names import quoted

if TYPE_CHECKING:
    from store.directory import Directory

TOTAL_SETTING = "serve.max_consoles"
PER_USER_SETTING = "serve.max_consoles_per_user"
DEFAULT_TOTAL = 24
DEFAULT_PER_USER = 3
MAXIMUM = 10_000


@dataclass(frozen=True)
class ConsoleLimits:
    total: int = DEFAULT_TOTAL
    per_user: int = DEFAULT_PER_USER


def _parse(value: str | None, default: int) -> int:
    # A hand-edited setting that does not parse must not stop the server: the default applies.
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if 1 <= number <= MAXIMUM else default


def _read(conn: sqlite3.Connection) -> ConsoleLimits:
    stored = dict(
        conn.execute(
            "SELECT key, value FROM settings WHERE key IN (?, ?)", (TOTAL_SETTING, PER_USER_SETTING)
        ).fetchall()
    )
    return ConsoleLimits(
        _parse(stored.get(TOTAL_SETTING), DEFAULT_TOTAL),
        _parse(stored.get(PER_USER_SETTING), DEFAULT_PER_USER),
    )


def check_limit(value: int, field: str) -> int:
    """``value`` as a console limit, or a ValidationError naming ``field`` and the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAXIMUM:
        raise ValidationError(
            f"{field}: expected a whole number from 1 to {MAXIMUM}, got {quoted(value)}", field
        )
    return value


def console_limits(directory: Directory) -> ConsoleLimits:
    """The limits the directory's settings say (the defaults where none is set)."""
    with directory.db.read() as conn:
        return _read(conn)


def set_console_limits(
    directory: Directory, *, total: int | None = None, per_user: int | None = None
) -> ConsoleLimits:
    """Change one or both limits (an administrator's change, audited as ``settings.console_limits``)."""
    if total is not None:
        check_limit(total, "max-consoles")
    if per_user is not None:
        check_limit(per_user, "max-consoles-per-user")
    with directory.change(what="change the SSH console limits") as conn:
        before = _read(conn)
        after = ConsoleLimits(
            total if total is not None else before.total,
            per_user if per_user is not None else before.per_user,
        )
        if after == before:
            return before
        conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value, version = version + 1",
            [(TOTAL_SETTING, str(after.total)), (PER_USER_SETTING, str(after.per_user))],
        )
        directory.record(
            conn,
            at=directory.now_text(),
            action="settings.console_limits",
            target="settings:serve",
            before=asdict(before),
            after=asdict(after),
        )
        return after
