"""Private files (issue 11, finding 6 and StrictModes): what tui writes is its owner's alone, whatever was
planted in a shared folder; a database or key file others can reach, or another user owns, is refused with the
fix.

The planting tests run the real CLI in-process (click's CliRunner), so the process id that the old temporary
name ``.NAME.tmpPID`` used is this test's own: the name an attacker in a shared ``/tmp`` would have guessed.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from store.crypto import KeyFileError, create_key_file, load_key
from store.directory import Directory
from store.errors import StoreError
from store.files import NotPrivate, private_folder, private_text_writer, private_writer, write_private
from tests.conftest import TEST_ACTOR
from tui.cli import cli

OTHER_UID = 54321  # no such user here: root can still give it files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def initialised(db_path: Path) -> Path:
    """A directory with a user in it and its key file beside it (as ``tui init`` leaves one), closed."""
    directory = Directory.open(db_path, TEST_ACTOR)
    try:
        directory.users.create("alice", display_name="Alice")
    finally:
        directory.close()
    return db_path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder everyone may write, with the sticky bit, like /tmp."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def _old_temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp{os.getpid()}")


WRITERS = {
    "export": lambda target: ["export", "--format", "json", "--output", str(target)],
    "access matrix": lambda target: ["access", "matrix", "--output", str(target)],
}


def _run_in_process(db_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_symlink_planted_at_the_temporary_name_is_never_followed(
    initialised: Path, shared: Path, tmp_path: Path, command: str
) -> None:
    victim = tmp_path / "attacker-reads-this"
    victim.write_text("planted\n")
    victim.chmod(0o666)
    target = shared / "out"
    _old_temporary_name(target).symlink_to(victim)

    _run_in_process(initialised, WRITERS[command](target))

    assert victim.read_text() == "planted\n"  # nothing of ours went through the link
    assert _old_temporary_name(target).is_symlink()  # left alone: not ours
    assert not target.is_symlink() and stat.S_ISREG(target.lstat().st_mode)
    assert _mode(target) == 0o600 and target.lstat().st_uid == os.getuid()
    assert "alice" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_file_planted_at_the_temporary_name_lends_neither_its_mode_nor_its_owner(
    initialised: Path, shared: Path, command: str
) -> None:
    target = shared / "out"
    planted = _old_temporary_name(target)
    planted.write_text("planted\n")
    planted.chmod(0o666)
    os.chown(planted, OTHER_UID, OTHER_UID)  # another user's file in a sticky folder

    with umask(0):
        _run_in_process(initialised, WRITERS[command](target))

    assert planted.read_text() == "planted\n"
    info = target.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    assert "alice" in target.read_text(encoding="utf-8")


def test_a_symlink_at_the_target_is_replaced_not_written_through(initialised: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    target = tmp_path / "export.json"
    target.symlink_to(victim)

    _run_in_process(initialised, ["export", "--output", str(target)])

    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink() and _mode(target) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["users"][0]["userName"] == "alice"


def test_even_a_guessed_temporary_name_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is random; if something is there all the same, O_EXCL|O_NOFOLLOW refuse it
    and we pick another."""
    victim = tmp_path / "victim"
    victim.write_text("planted\n")
    target = tmp_path / "secret.txt"
    tokens = iter(["guessed", "fresh"])
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: next(tokens))
    trap = target.with_name(f".{target.name}.guessed.tmp")
    trap.symlink_to(victim)

    write_private(target, b"TOTP secret\n")

    assert victim.read_text() == "planted\n" and trap.is_symlink()
    assert target.read_bytes() == b"TOTP secret\n" and _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [trap.name, "secret.txt", "victim"]


@pytest.mark.parametrize("mask", [0, 0o022, 0o200], ids=oct)
def test_files_are_0600_and_folders_0700_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        created = private_folder(tmp_path / "a" / "b" / "c")
        write_private(tmp_path / "a" / "b" / "c" / "bytes", b"x")
        with private_text_writer(tmp_path / "a" / "text.csv") as handle:
            handle.write("a,b\r\n")
    assert created == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    assert [_mode(folder) for folder in created] == [0o700, 0o700, 0o700]
    assert _mode(tmp_path / "a" / "b" / "c" / "bytes") == 0o600
    assert _mode(tmp_path / "a" / "text.csv") == 0o600
    assert (tmp_path / "a" / "text.csv").read_bytes() == b"a,b\r\n"  # line endings as written


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "matrix.csv"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError), private_writer(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("the export failed half way")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["matrix.csv"]


# -- StrictModes: a database or key file that is not its owner's alone is refused ------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o620], ids=oct)
def test_a_database_others_can_reach_is_refused_with_the_chmod_that_fixes_it(
    run_tui, initialised: Path, mode: int
) -> None:
    os.chmod(initialised, mode)
    before = initialised.read_bytes()

    result = run_tui("--db", initialised, "export")

    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0  # one line
    assert f"mode {mode:04o}" in result.stderr and f"chmod 600 {initialised}" in result.stderr, result
    assert initialised.read_bytes() == before and _mode(initialised) == mode  # untouched
    with pytest.raises(NotPrivate, match="chmod 600"):
        Directory.open(initialised, TEST_ACTOR)

    os.chmod(initialised, 0o600)  # the fix it named
    assert run_tui("--db", initialised, "export").returncode == 0


def test_a_database_another_user_owns_is_refused_with_the_chown_that_fixes_it(
    run_tui, initialised: Path
) -> None:
    os.chown(initialised, OTHER_UID, -1)

    result = run_tui("--db", initialised, "export")

    assert result.returncode == 1, result
    assert result.stderr.strip().count("\n") == 0
    assert f"belongs to another user ({OTHER_UID})" in result.stderr
    assert f"chown root {initialised}" in result.stderr, result
    with pytest.raises(StoreError, match="chown"):
        Directory.open(initialised, TEST_ACTOR)


def test_a_key_file_another_user_owns_is_refused_with_the_chown_that_fixes_it(
    run_tui, tmp_path: Path
) -> None:
    key = tmp_path / "directory.db.key"
    create_key_file(key)
    os.chown(key, OTHER_UID, -1)

    with pytest.raises(KeyFileError, match=f"chown root {key}"):
        load_key(key)
    result = run_tui("export")  # TUI_DB is tmp_path/directory.db: its key is the file above
    assert result.returncode == 1 and f"chown root {key}" in result.stderr, result


def test_a_backup_never_follows_a_symlink_planted_at_its_name(
    run_tui, initialised: Path, shared: Path
) -> None:
    elsewhere = shared / "attacker-picks-this"
    target = shared / "backup.db"
    target.symlink_to(elsewhere)  # dangling: the file it names does not exist yet

    result = run_tui("--db", initialised, "backup", target)

    assert result.returncode == 1 and "already exists" in result.stderr, result
    assert not elsewhere.exists() and target.is_symlink()


def test_a_database_is_never_created_through_a_link_to_nothing(run_tui, shared: Path) -> None:
    """A link planted where a directory will be made (``--db`` in a shared folder): SQLite created the file
    at the link's target, where the planter chose (red-team). A link to an existing directory still works."""
    elsewhere = shared / "attacker-picks-this.db"
    link = shared / "directory.db"
    link.symlink_to(elsewhere)
    result = run_tui("--db", link, "audit", "verify")
    assert result.returncode == 1 and "does not create its database through a link" in result.stderr, result
    assert not elsewhere.exists() and link.is_symlink()


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("through_a_link", [False, True], ids=["fifo", "link to a fifo"])
def test_a_target_that_is_not_a_file_is_refused_and_left_as_it_is(
    initialised: Path, tmp_path: Path, command: str, through_a_link: bool
) -> None:
    """A device, FIFO or socket at the target (``--output /dev/null``, or ``/dev/stdout``, a link to the
    terminal) was renamed over: as root, /dev/null became a 0600 file. A FIFO stands in for the device here (a
    test must not risk /dev/null)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = fifo
    if through_a_link:
        target = tmp_path / "stdout"
        target.symlink_to(fifo)
    result = CliRunner().invoke(cli, ["--db", str(initialised), *WRITERS[command](target)])
    assert result.exit_code == 1, result.output
    assert f"{target} is a FIFO, not a file" in result.output + result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and target.exists()
    assert target.is_symlink() == through_a_link
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # nothing left behind
