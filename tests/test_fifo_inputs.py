"""A named pipe (FIFO) where a file was expected: ``open()`` waits for a writer, so a FIFO at the key
file's path hung every command, and one given as an import or a policy file hung that command, forever. Each
is now one line at once; a pipe with a writer (process substitution, ``tui import <(cat users.csv)``) is
still read."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_identity_init import ROOT_PASSWORD

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")

QUICKLY = 20  # seconds: a hang is a failure of the test, never of the run

USERS = "userName,groups\nann,Staff\n"


def _initialised(run_tui, db_path: Path) -> Path:
    made = run_tui("init", "--password-stdin", input=ROOT_PASSWORD + "\n")
    assert made.returncode == 0, made
    key = db_path.with_name(db_path.name + ".key")
    assert key.is_file()
    return key


def test_a_fifo_at_the_key_file_path_is_one_line_not_a_hang(run_tui, db_path: Path, tmp_path: Path) -> None:
    key = _initialised(run_tui, db_path)
    key.rename(tmp_path / "kept.key")
    os.mkfifo(key, 0o600)
    for args in (("audit", "verify"), ("export", "--format", "json"), ("access", "--user", "root")):
        result = run_tui(*args, timeout=QUICKLY)
        assert result.returncode == 1, result
        assert result.stderr.strip().endswith(f"{key} is not a regular file."), result
        assert len(result.stderr.splitlines()) == 1, result


def test_rotating_a_fifo_key_file_is_refused_not_a_hang(tmp_path: Path) -> None:
    key = tmp_path / "d.key"
    os.mkfifo(key, 0o600)
    script = (
        "import sys\nfrom store.crypto import KeyFileError, rotate_key_file\n"
        "try:\n    rotate_key_file(sys.argv[1])\nexcept KeyFileError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(key)], capture_output=True, text=True, timeout=QUICKLY, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == f"{key} is not a regular file.", done


@pytest.mark.parametrize(
    "args",
    [
        ("import", "{fifo}"),
        ("import", "--dry-run", "{fifo}"),
        ("policy", "validate", "{fifo}"),
        ("policy", "simulate", "--policy", "{fifo}", "--action", "s3:GetObject", "--resource", "*"),
    ],
)
def test_a_fifo_nothing_writes_to_is_refused_at_once(run_tui, tmp_path: Path, args: tuple[str, ...]) -> None:
    fifo = tmp_path / "input.json"
    os.mkfifo(fifo, 0o600)
    result = run_tui(*(arg.format(fifo=fifo) for arg in args), timeout=QUICKLY)
    assert result.returncode == 1, result
    assert "is a named pipe (FIFO) that nothing writes to" in result.stderr, result


def test_a_pipe_with_a_writer_is_read_to_its_end(run_tui, tui_env, tmp_path: Path) -> None:
    """Process substitution: the command gets /dev/fd/N, a pipe whose writer may not have written yet."""
    from tests.conftest import TUI_COMMAND

    read, write = os.pipe()
    try:
        process = subprocess.Popen(
            [*TUI_COMMAND, "import", "--dry-run", f"/dev/fd/{read}"],
            pass_fds=(read,),
            env=tui_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(read)
    time.sleep(1)  # the command has opened the pipe by now, and found nothing in it yet
    with os.fdopen(write, "w") as writer:
        writer.write(USERS)
    out, err = process.communicate(timeout=QUICKLY)
    assert process.returncode == 0, err.decode()
    assert b"+ create user 'ann'" in out and b"dry run: nothing was changed" in out


def test_a_named_pipe_with_a_writer_waiting_is_read(run_tui, tmp_path: Path) -> None:
    fifo = tmp_path / "users.csv"
    os.mkfifo(fifo, 0o600)

    def write() -> None:
        with fifo.open("w") as writer:  # waits for the command to open it for reading
            writer.write(USERS)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.5)  # the writer is waiting in open() before the command starts
    result = run_tui("import", "--dry-run", fifo, timeout=QUICKLY)
    writer.join(QUICKLY)
    assert result.returncode == 0 and "+ create user 'ann'" in result.stdout, result
