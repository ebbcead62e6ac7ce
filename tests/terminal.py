"""Run the real ``tui`` command on a pseudo-terminal (stdin, stdout and stderr), answering its prompts as a
person would: what the CLI does only when it has a terminal (asking twice for a password, an authenticator's
code). Everything that waits has a deadline."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TUI_COMMAND

# An answer: the text to type, or a function of everything shown so far (e.g. a code from a secret on screen).
Answer = str | Callable[[str], str]


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    shown: str  # everything the terminal received (stdout and stderr together)


def run_on_terminal(
    args: Sequence[str | os.PathLike[str]],
    answers: Sequence[tuple[str, Answer]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 60,
) -> TerminalRun:
    """Run ``tui ARGS`` with a terminal; for each (prompt, answer) in order, wait until ``prompt`` is shown
    (after the previous one) and type the answer and Enter. Returns the exit status and everything shown."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*TUI_COMMAND, *map(str, args)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    os.close(terminal)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    pending = list(answers)
    searched_from = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"tui {args} did not finish in {timeout} s; it showed:\n{shown.decode()}"
                )
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the command closed the terminal
                    chunk = b""
                if not chunk:
                    break
                shown += chunk
            text = shown.decode("utf-8", "replace")
            if pending and pending[0][0] in text[searched_from:]:
                prompt, answer = pending.pop(0)
                searched_from = text.index(prompt, searched_from) + len(prompt)
                typed = answer(text) if callable(answer) else answer
                os.write(controller, typed.encode() + b"\r")
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(controller)
    return TerminalRun(returncode, shown.decode("utf-8", "replace"))
