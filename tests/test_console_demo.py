"""``tui --demo`` (SPEC §5: ``tui [console] [--demo]``): the real command on a terminal
opens the demo console."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TUI_COMMAND
from tests.terminal import run_on_terminal

QUIT = "\x11"  # ctrl+q


@pytest.mark.parametrize("args", [["--demo"], ["--demo", "console"], ["console", "--demo"]], ids=" ".join)
def test_demo_opens_a_throw_away_seeded_console(args: list[str], tmp_path: Path, tui_env, db_path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**tui_env, "TERM": "xterm-256color", "TMPDIR": str(scratch)}
    run = run_on_terminal(args, [("root   demo-break-glass", QUIT)], env=env, cwd=tmp_path)
    assert run.returncode == 0, run.shown
    # The demo never touches the configured directory, and its scratch folder is gone once it quits.
    assert not db_path.exists()
    assert list(scratch.iterdir()) == []


def test_demo_with_another_command_is_refused(run_tui, db_path) -> None:
    result = run_tui("--demo", "backup", "copy.db")
    assert result.returncode == 2
    assert "--demo opens the console; it does not go with 'backup'." in result.stderr
    assert not db_path.exists()


@pytest.mark.parametrize("args", [[], ["console"], ["--demo"]], ids=lambda a: " ".join(a) or "tui")
def test_the_console_without_a_terminal_says_so_and_creates_nothing(run_tui, db_path, args) -> None:
    """A script, cron or `tui > log` has no terminal: the console drew escape codes into the pipe and waited
    for keys for ever, after creating the directory."""
    result = run_tui(*args, input="")
    assert result.returncode == 2, result
    assert result.stderr == (
        "tui: the console needs a terminal, and its input or output is not one (a pipe, a file, cron); "
        "scripts use the commands: tui --help\n"
    )
    assert result.stdout == "" and not db_path.exists()


@pytest.mark.parametrize("signal_number", [signal.SIGHUP, signal.SIGTERM], ids=["hangup", "terminate"])
def test_a_closed_terminal_ends_the_demo_and_removes_its_throw_away_folder(
    tmp_path: Path, tui_env, signal_number: int
) -> None:
    """Closing the terminal (SIGHUP) stopped the process on the spot: the demo's folder, its key file in it,
    stayed in /tmp. It now ends as ctrl+q does."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*TUI_COMMAND, "--demo"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**tui_env, "TMPDIR": str(temporary), "TERM": "xterm-256color"},
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(terminal)
    shown = b""
    try:
        deadline = time.monotonic() + 60
        while b"demo-break-glass" not in shown and time.monotonic() < deadline:  # the sign-in screen
            if select.select([controller], [], [], 0.2)[0]:
                shown += os.read(controller, 65536)
        assert [p.name for p in temporary.iterdir() if (p / "demo.db.key").exists()], "no demo folder"
        process.send_signal(signal_number)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.2)[0]:
                try:
                    os.read(controller, 65536)
                except OSError:
                    break
        assert process.wait(timeout=30) == 128 + signal_number
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert list(temporary.iterdir()) == []
