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
