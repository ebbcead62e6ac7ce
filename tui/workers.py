"""Work off the console's thread (store calls, hashing, imports): Textual's thread workers, which never end
the console when they fail and never fail silently either.

Textual's worker that raises with ``exit_on_error=False`` just stops: a list stayed "Loading…" for ever when
the file failed under it (a disk error, a damaged database) or a bug of ours raised. :func:`background` says
so, once, in one line that names the kind of error and nothing else (no traceback, no value: a worker may
hold what was typed), and the console goes on. Every worker of the console is made with it.
"""

from __future__ import annotations

import contextlib
import functools
import time
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from textual import work
from textual.app import App
from textual.worker import Worker

from store.db import file_problem
from store.errors import StoreError

P = ParamSpec("P")
R = TypeVar("R")
# The same failure again within this many seconds (a poll every second on a broken file) is not said again.
REPEAT_SECONDS = 30.0
_said: weakref.WeakKeyDictionary[Any, dict[str, float]] = weakref.WeakKeyDictionary()  # app → message → when


def failure_message(error: BaseException) -> str:
    if isinstance(error, StoreError):
        return error.message
    if (problem := file_problem(error)) is not None:
        return problem[0].upper() + problem[1:]
    return f"Internal error ({type(error).__name__}): nothing more is shown. The console goes on."


def _say_failure(node: Any, error: BaseException) -> None:
    # Telling is all this can do: if that fails too (the console is closing), the error still ends the worker.
    with contextlib.suppress(Exception):
        app = node if isinstance(node, App) else node.app
        message, now = failure_message(error), time.monotonic()
        said = _said.setdefault(app, {})
        if now - said.get(message, -REPEAT_SECONDS) < REPEAT_SECONDS:
            return
        said[message] = now
        app.call_from_thread(app.notify, message, severity="error", markup=False, timeout=10)


def background(*, group: str, exclusive: bool = False) -> Callable[[Callable[P, R]], Callable[P, Worker[R]]]:
    """``@work(thread=True, exit_on_error=False, …)`` for a method of a screen, widget or app, that says
    when it fails (see the module's docstring); the worker still ends in the ERROR state."""

    def decorate(method: Callable[P, R]) -> Callable[P, Worker[R]]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except Exception as error:
                _say_failure(args[0], error)  # args[0]: the screen, widget or app the method is of
                raise

        return work(thread=True, exclusive=exclusive, group=group, exit_on_error=False)(run)

    return decorate
