"""What every ``tui`` command shares: the ``Context`` (the database and key file the command works on),
``pass_context``, ``say`` and ``fail`` (every message made terminal-safe), the parameter types that keep
hostile arguments out (``FilePath``, ``ROW_ID``), and the one click group class that turns our errors into one
line.

Submodules import from here, never from the package (``tui/cli/__init__.py`` imports them to register their
commands: importing it back would be a cycle).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import click

from store.directory import Directory, key_path_beside
from store.errors import StoreError
from store.names import QUOTED_MAX, clipped, quoted, visible

# SQLite's integers stop at 2**63 - 1: a larger id or count on the command line is refused by click, in the
# option's words, rather than overflowing where it reaches a query.
SQLITE_MAX = 2**63 - 1

_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
# More digits than any bound of ours needs (SQLite's integers have 19): int() refuses more than 4,300 with a
# ValueError, and reading fewer still takes time for nothing.
_INTEGER_DIGITS_MAX = 30


class AsciiInt(click.IntRange):
    """``click.IntRange`` (bounds optional) reading ASCII digits only: Python's ``int()``, which click calls,
    also reads ``１２`` (full width), ``١٢`` (Arabic-Indic), ``1_0`` and ``" 5 "``. Every integer option and
    argument of ours is one (a test checks)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            if not _ASCII_INTEGER.fullmatch(value):
                self.fail(f"{quoted(value)} is not a whole number in the digits 0-9", param, ctx)
            if len(value.lstrip("+-").lstrip("0")) > _INTEGER_DIGITS_MAX:
                bounds = self.min is not None or self.max is not None
                where = f"is not in the range {self._describe_range()}" if bounds else "is too large a number"
                self.fail(f"{clipped(value)} {where}.", param, ctx)
        return super().convert(value, param, ctx)


_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")


class AsciiFloat(click.FloatRange):
    """``click.FloatRange`` reading a plain decimal in ASCII digits: ``float()``, which click calls, also
    reads ``nan`` (which passes every bound), ``inf``, ``1e9``, ``１０`` and ``1_0``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _ASCII_DECIMAL.fullmatch(value):
            shown = clipped(quoted(value))
            self.fail(f"{shown} is not a number in the digits 0-9 (e.g. 300 or 2.5)", param, ctx)
        return super().convert(value, param, ctx)


ROW_ID = AsciiInt(1, SQLITE_MAX)

# A run of text in a usage error longer than a quoted value may be: the value given, echoed by click itself
# ("'999…' is not a valid integer", "'xxx…' is not one of 'json', 'csv'").
_LONG_RUN = re.compile(
    rf"'[^'\n]{{{QUOTED_MAX},}}'|\"[^\"\n]{{{QUOTED_MAX},}}\"|[^\s'\"]{{{QUOTED_MAX + 1},}}"
)


def clip_usage_error(error: click.ClickException) -> None:
    """Clip the values click quotes in its own usage errors, as ours are (``store.names.clipped``): a
    100,000-digit ``--max-consoles`` wrote 100 KB to stderr. Once per error, whichever group sees it first."""
    if not getattr(error, "tui_clipped", False):
        error.message = _LONG_RUN.sub(lambda run: clipped(run.group()), error.message)  # type: ignore[misc]
        error.tui_clipped = True  # type: ignore[attr-defined]


def say(message: str, *, err: bool = False) -> None:
    """A message for a person, each line made visible: the names, paths and values in it come from users and
    files, and their control, bidi or invisible characters never reach the terminal raw (``\x1b``,
    ``<U+202E>``)."""
    click.echo("\n".join(visible(line) for line in message.split("\n")), err=err)


def fail(message: str, code: int = 1) -> NoReturn:
    say(f"tui: {message}", err=True)
    sys.exit(code)


def stream(chunks: Iterable[str]) -> None:
    """Write ``chunks`` to standard output as they come. A generator is closed here, whatever happens: one
    that holds a read transaction, left to the end of the program, ran after the directory closed and printed
    a traceback ("Exception ignored in: <generator object export …>") when the reader left early (the
    broken pipe itself is CommandGroup's)."""
    try:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        sys.stdout.flush()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class FilePath(click.Path):
    """``click.Path`` that refuses, in one line, what the operating system cannot name: an empty path and a
    NUL character (``os.stat`` raises on it instead of saying the file does not exist)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, bytes | os.PathLike) else value
        if isinstance(text, str):
            if not text:
                self.fail("must name a file (it is empty)", param, ctx)
            if "\0" in text:
                self.fail(f"{visible(text)!s}: a file name cannot hold a NUL character", param, ctx)
        return super().convert(value, param, ctx)


def output_file(path: Path | None) -> Path | None:
    """An ``--output`` option's file; None (standard output) when left out or given as "-", the name every
    tool gives standard output (``-o -`` made a file named "-")."""
    return None if path is None or str(path) == "-" else path


class CommandGroup(click.Group):
    """A group whose commands report our own errors as one clear line on stderr and exit 1 (SPEC §5):
    nothing reaches the user as a traceback, and no command needs to say so itself. Every group of ours uses
    it, so a group invoked on its own (as tests do) reports the same way."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:  # the root's own options (a subcommand's are in invoke)
            clip_usage_error(error)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except click.ClickException as error:  # a usage error of a command below: click shows it
            clip_usage_error(error)
            raise
        except (SystemExit, click.exceptions.Exit) as done:
            if getattr(done, "code", getattr(done, "exit_code", None)) in (0, None):
                self._succeeded(ctx)
            raise
        except StoreError as exc:
            fail(str(exc))
        except BrokenPipeError:
            # The reader of standard output stopped early (``| head``): not an error worth a message. Later
            # writes (and Python's last flush at exit) go nowhere instead of raising again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        self._succeeded(ctx)
        return result

    @staticmethod
    def _succeeded(ctx: click.Context) -> None:
        if ctx.parent is None and isinstance(ctx.obj, Context):  # once, at the top: the command is done
            ctx.obj.note_new_directory()


class Context:
    def __init__(self, db: Path, key: Path | None = None, *, demo: bool = False) -> None:
        self.db_path = db
        self._key = key
        self.demo = demo  # `tui --demo`: the console opens a throw-away seeded directory
        self._directory: Directory | None = None
        self._unexpected_new = False  # directory() made a new one that the command was not there to make

    @property
    def key_path(self) -> Path:
        """The directory's key file: ``--key``/``TUI_KEY``, else ``<database>.key`` beside the database."""
        return self._key if self._key is not None else key_path_beside(self.db_path)

    def directory(self, *, new_is_expected: bool = False) -> Directory:
        """The directory at ``--db``. Opening a path that holds none makes a new, empty one there: unless the
        command is there to make one (``init``), :meth:`note_new_directory` says so once it has succeeded."""
        if self._directory is None:
            new = not os.path.lexists(self.db_path)
            self._directory = Directory.open(self.db_path, key_path=self.key_path)
            self._unexpected_new = new and not new_is_expected
        return self._directory

    def note_new_directory(self) -> None:
        """After a command that succeeded: a mistyped ``--db`` otherwise got answers about an empty directory
        ("audit log intact: 0 events") as if they were about the real one. Not after a refusal, which stays
        one line."""
        if self._unexpected_new:
            self._unexpected_new = False
            say(
                f"tui: note: there was no directory at {self.db_path}: a new, empty one was made there "
                "(check --db or TUI_DB; tui init sets one up)",
                err=True,
            )

    def close(self) -> None:
        if self._directory is not None:
            self._directory.close()


pass_context: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(Context)
