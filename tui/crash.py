"""What a bug of ours shows when it ends a command or the console: one line naming the kind of error, never a
traceback. Textual's own crash screen is a traceback with every frame's local variables: the password or
code just typed, a session token, a secret being sealed. On a shared console reached over SSH it would be
drawn on the remote terminal. ``TUI_DEBUG=1`` shows the traceback (without local variables), for a report.

Nothing here imports textual: the command line uses the same line and exit status.
"""

from __future__ import annotations

import os
import sys

from store.db import file_problem

# EX_SOFTWARE (sysexits.h): the exit status of every command that a bug of ours ended.
INTERNAL_ERROR = 70


def debugging() -> bool:
    return bool(os.environ.get("TUI_DEBUG"))


def internal_error_line(error: BaseException | None) -> str:
    kind = type(error).__name__ if error is not None else "unknown"
    return (
        f"tui: internal error ({kind}); nothing more is shown so no secret can leak. "
        "Run again with TUI_DEBUG=1 to see the traceback, and report it."
    )


class QuietCrash:
    """Mixed into each of our Textual apps ahead of ``App``: an exception no handler caught ends the app
    with :func:`internal_error_line` and :data:`INTERNAL_ERROR` instead of Textual's traceback with locals.
    (``App._fatal_error`` is Textual's one place that draws it; Textual 8.)"""

    def _fatal_error(self) -> None:
        from rich.text import Text
        from rich.traceback import Traceback

        app = self  # an App: the attributes below are Textual's
        error = sys.exc_info()[1] or getattr(app, "_exception", None)
        problem = file_problem(error) if error is not None else None  # the file or the disk, not a bug
        app._return_code = 1 if problem else INTERNAL_ERROR  # type: ignore[attr-defined]  # as the CLI's
        app.bell()  # type: ignore[attr-defined]
        line = Text(f"tui: {problem}" if problem else internal_error_line(error))  # Text: never markup
        shown = Traceback(show_locals=False, width=None) if debugging() else line
        app._exit_renderables.append(shown)  # type: ignore[attr-defined]
        app._close_messages_no_wait()  # type: ignore[attr-defined]
