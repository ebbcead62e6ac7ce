"""Shared fixtures: directories on real SQLite files in ``tmp_path`` and the real ``tui`` command.

Generic on purpose: store, CLI, policy, crypto and console tests all use these.

- ``db_path``        a (not yet existing) database file in tmp_path
- ``open_directory`` open more ``Directory`` instances (another "admin", another file); closed after the test
- ``directory``      a ``store.directory.Directory`` on ``db_path``, acting as ``TEST_ACTOR``
- ``run_tui``        run the installed ``tui`` command in a subprocess (``TUI_DB`` defaults to ``db_path``)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import textual._wait
from textual.pilot import Pilot

from store.audit import Actor
from store.directory import Directory

# Textual's Pilot waits, after every key it presses, until the process looks idle: twice a sleep of at least
# SLEEP_GRANULARITY (1/50 s), whatever the key did. The console tests press keys one by one (thousands in
# all), so that floor was a third of their time, spent asleep. While a key is pressed the sleeps are finer
# (the key's messages are still all processed: Pilot then waits for the screen's queue); every other wait
# (a pause, a settle) keeps Textual's own, which a busy machine needs to tell idle from descheduled.
_press = Pilot.press


async def _press_finely(self: Pilot[Any], *keys: str) -> None:
    textual._wait.SLEEP_GRANULARITY = 1 / 400
    try:
        await _press(self, *keys)
    finally:
        textual._wait.SLEEP_GRANULARITY = 1 / 50


@pytest.fixture(autouse=True)
def _finer_key_presses(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not for the pictures: there a key that comes sooner can catch the screen under a dialog half laid out
    # (a table's scroll bar drawn or not), and the picture would differ from run to run.
    if request.module.__name__ != "tests.test_console_snapshots":
        monkeypatch.setattr(Pilot, "press", _press_finely)


def _tui_command() -> list[str]:
    """The console script pip installed beside this interpreter (``.venv/bin/tui``): the real entry point.

    Falls back to calling the same function the script calls, for an interpreter without the script.
    """
    script = Path(sys.executable).with_name("tui")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from tui.cli import main; main()"]


TUI_COMMAND = _tui_command()
TEST_ACTOR = Actor("test-admin", "test")
TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class TuiResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:  # what pytest shows when an assertion about a run fails
        command = f"tui {' '.join(self.args)} → exit {self.returncode}"
        return f"{command}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "directory.db"


@pytest.fixture
def open_directory(db_path: Path) -> Iterator[Callable[..., Directory]]:
    opened: list[Directory] = []

    def open_(path: Path | None = None, actor: Actor = TEST_ACTOR, **kwargs: Any) -> Directory:
        directory = Directory.open(path or db_path, actor, **kwargs)
        opened.append(directory)
        return directory

    yield open_
    for directory in reversed(opened):
        try:
            directory.close()
        except Exception:  # noqa: BLE001 - a test that broke its directory must not hide why in teardown
            pass


@pytest.fixture
def directory(open_directory: Callable[..., Directory]) -> Directory:
    return open_directory()


@pytest.fixture
def tui_env(tmp_path: Path, db_path: Path) -> dict[str, str]:
    """The environment ``run_tui`` starts from: no stray ``TUI_*`` settings, data folders inside tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")}
    env.update(
        {
            "TUI_DB": str(db_path),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "NO_COLOR": "1",
        }
    )
    return env


@pytest.fixture
def run_tui(tmp_path: Path, tui_env: dict[str, str]) -> Callable[..., TuiResult]:
    """``run_tui("export", "--format", "json")`` → TuiResult(returncode, stdout, stderr).

    ``input``: text or bytes for stdin. ``env``: variables to add (a value of None removes one).
    A traceback on stderr fails the test unless ``allow_traceback=True``: the CLI must never show one.
    """

    def run(
        *args: str | os.PathLike[str],
        input: str | bytes | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 60,
        allow_traceback: bool = False,
    ) -> TuiResult:
        full_env = dict(tui_env)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        data = input.encode() if isinstance(input, str) else input
        argv = tuple(str(a) for a in args)
        completed = subprocess.run(
            [*TUI_COMMAND, *argv],
            input=data,
            capture_output=True,
            env=full_env,
            cwd=cwd or tmp_path,
            timeout=timeout,
            check=False,
        )
        result = TuiResult(
            argv,
            completed.returncode,
            completed.stdout.decode("utf-8", "backslashreplace"),
            completed.stderr.decode("utf-8", "backslashreplace"),
        )
        if not allow_traceback:
            assert TRACEBACK not in result.stderr, f"the CLI showed a traceback:\n{result}"
        return result

    return run
