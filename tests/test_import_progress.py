"""The progress bar: on stderr, only when stderr is a terminal and the file is large, never with --json."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import TUI_COMMAND
from tests.test_import_atomicity import write_big_csv
from tui.cli.transfer import PROGRESS_MIN_BYTES


def run_with_terminal_stderr(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run tui with stderr on a pseudo-terminal (stdout a pipe); returns (code, stdout,
    what the terminal got)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*TUI_COMMAND, *args], stdout=subprocess.PIPE, stderr=terminal, env=env, cwd=cwd
    )
    os.close(terminal)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout = process.stdout.read() if process.stdout else b""
    code = process.wait(timeout=120)
    os.close(controller)
    return code, stdout.decode(), seen.decode("utf-8", "replace")


def test_a_large_import_shows_progress_on_a_terminal_only(
    run_tui, tmp_path: Path, tui_env: dict[str, str]
) -> None:
    big = tmp_path / "big.csv"
    write_big_csv(big, 14_000)
    assert big.stat().st_size >= PROGRESS_MIN_BYTES
    env = dict(tui_env, TERM="xterm-256color")

    code, stdout, terminal = run_with_terminal_stderr(["import", "--dry-run", str(big)], env, tmp_path)
    assert code == 0, terminal
    assert "Reading" in terminal and "Checking" in terminal  # the bar's phases, drawn on the terminal
    assert "users: 14001 to create" in stdout and "users: 14001" not in terminal  # the plan stays on stdout
    assert "dry run: nothing was changed" in stdout

    code, stdout, terminal = run_with_terminal_stderr(["import", str(big)], env, tmp_path)
    assert code == 0, terminal
    assert "Writing" in terminal

    code, stdout, terminal = run_with_terminal_stderr(
        ["import", "--json", "--dry-run", str(big)], env, tmp_path
    )
    assert code == 0 and "Reading" not in terminal and "Checking" not in terminal

    piped = run_tui("import", "--dry-run", big)  # stderr is a pipe: no bar
    assert piped.returncode == 0 and "Reading" not in piped.stderr and "\x1b[" not in piped.stderr


def test_a_small_import_shows_no_progress(tmp_path: Path, tui_env: dict[str, str]) -> None:
    small = tmp_path / "small.csv"
    write_big_csv(small, 50)
    code, _stdout, terminal = run_with_terminal_stderr(
        ["import", str(small)], dict(tui_env, TERM="xterm"), tmp_path
    )
    assert code == 0 and "Reading" not in terminal and "Writing" not in terminal
