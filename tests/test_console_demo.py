"""``tui --demo`` (SPEC §5: ``tui [console] [--demo]``): the real command on a terminal
opens the demo console."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terminal import run_on_terminal

QUIT = "\x11"  # ctrl+q


@pytest.mark.parametrize("args", [["--demo"], ["--demo", "console"], ["console", "--demo"]], ids=" ".join)
def test_demo_opens_a_throw_away_seeded_console(args: list[str], tmp_path: Path, tui_env, db_path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**tui_env, "TERM": "xterm-256color", "TMPDIR": str(scratch)}
    run = run_on_terminal(args, [("Demo directory: user root", QUIT)], env=env, cwd=tmp_path)
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
