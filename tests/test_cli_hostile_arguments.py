"""Hostile command-line arguments (found by walking every command with them): each gets one clear line and an
exit code of 1 or 2, never an internal error; a path or value echoed back never reaches the terminal with its
control or bidi characters raw. The class is closed where it starts: every file argument is a ``FilePath``,
every integer option is bounded, every message goes through ``say``/``fail``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from store.audit import Actor
from store.directory import Directory
from tests.test_identity_init import ROOT_PASSWORD
from tests.test_terminal_safety import raw_unsafe
from tui.cli import cli
from tui.cli.base import FilePath

HUGE = "99999999999999999999"  # above SQLite's 2**63 - 1
BIDI = "\u202eevil"


@pytest.fixture
def tui(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with Directory.open(db_path, Actor("owner", "test")) as directory:
        directory.users.create("ann")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--db", str(db_path), *args], input="\n")
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)  # no internal error
        shown = result.output + result.stderr
        assert not raw_unsafe(shown), (args, shown)
        return result

    return run


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("import", "a\x00b"), 2, "a file name cannot hold a NUL character"),
        (("backup", "a\x00b"), 2, "a file name cannot hold a NUL character"),
        (("access", "matrix", "--output", ""), 2, "must name a file (it is empty)"),
        (("export", "--output", "a\x00b"), 2, "a\\x00b: a file name cannot hold a NUL character"),
        (("policy", "validate", "a\x00b"), 1, "a file name cannot hold a NUL character"),
        (("scim", "token", "revoke", HUGE), 2, "is not in the range"),
        (("sessions", "revoke", "--id", HUGE), 2, "is not in the range"),
        (("sessions", "sweep", "--retention-days", HUGE), 2, "is not in the range"),
        (("ssh-console", "--token-fd", "-1"), 2, "is not in the range"),
        (("audit", "verify", "--expect-head", f"{HUGE}:x"), 2, "is not a head: give SEQ:HASH"),
        # "²" is a digit to str.isdigit, not to SQLite; "é" made hmac.compare_digest raise.
        (("audit", "verify", "--expect-head", "²:x"), 2, "is not a head: give SEQ:HASH"),
        (("audit", "verify", "--expect-head", "1:é"), 2, "is not a head: give SEQ:HASH"),
        (("audit", "verify", "--expect-head", ""), 2, "is not a head: give SEQ:HASH"),
        (("audit", "verify", "--expect-head", f"{HUGE}:{'a' * 64}"), 2, "is not a head: give SEQ:HASH"),
        (("audit", "verify", "--expect-head", f"9:{'a' * 64}"), 1, "no longer holds the head"),
    ],
)
def test_a_hostile_argument_gets_one_clear_line(tui, args: tuple[str, ...], code: int, said: str) -> None:
    result = tui(*args)
    assert result.exit_code == code, result.output + result.stderr
    assert said in result.output + result.stderr


def test_a_path_echoed_back_shows_its_bidi_control_escaped(tui, tmp_path: Path) -> None:
    written = tui("backup", BIDI)
    assert written.exit_code == 0
    assert "backup written to <U+202E>evil" in written.output
    assert (tmp_path / BIDI).exists()  # the file has the name asked for; only its display is escaped
    again = tui("backup", BIDI)
    assert again.exit_code == 1 and "<U+202E>evil: already exists" in again.stderr


def _parameters(group: click.Group) -> Iterator[tuple[str, click.Parameter]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from ((f"{name} {where}", p) for where, p in _parameters(command))
        else:
            yield from ((f"{name} {p.name}", p) for p in command.params)


def test_every_file_argument_is_a_file_path_and_every_integer_is_bounded() -> None:
    """The guard for commands still to come: a plain click.Path stats a NUL and raises; an unbounded integer
    overflows where it reaches SQLite or a date."""
    parameters = list(_parameters(cli))
    assert parameters
    paths = [(where, p.type) for where, p in parameters if isinstance(p.type, click.Path)]
    assert paths and [where for where, kind in paths if not isinstance(kind, FilePath)] == []
    unbounded = [
        where
        for where, p in parameters
        if isinstance(p.type, click.types.IntParamType)
        and not (isinstance(p.type, click.IntRange) and p.type.max is not None)
        and where.split()[-1] not in {"minimum_length", "reuse_prevention"}  # checked by the password policy
    ]
    assert unbounded == []


def test_a_path_with_no_directory_is_said_to_be_new(run_tui, tmp_path: Path) -> None:
    """A mistyped ``--db`` answered about a new, empty directory as if it were the real one ("audit log
    intact: 0 events", exit 0): stderr now says a new one was made there. ``init`` is there to make one."""
    typo = tmp_path / "directroy.db"
    first = run_tui("--db", typo, "audit", "verify")
    assert first.returncode == 0, first
    assert f"there was no directory at {typo}" in first.stderr, first
    again = run_tui("--db", typo, "audit", "verify")
    assert again.stderr == "", again  # it exists now: nothing more to say
    refused = run_tui("--db", tmp_path / "other.db", "access", "--user", "nobody")
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1, refused  # a refusal: one line

    made = run_tui("--db", tmp_path / "new.db", "init", "--password-stdin", input=ROOT_PASSWORD + "\n")
    assert made.returncode == 0, made
    assert "no directory" not in made.stderr, made


def test_bytes_that_are_not_utf8_get_one_clear_line(run_tui, tmp_path: Path) -> None:
    """An argument or a password with bytes that are not UTF-8 (b"\\xff" reaches Python as a lone surrogate)
    was an internal error, exit 70, where SQLite or argon2 met it."""
    not_utf8 = os.fsdecode(b"\xff")
    for args in (("access", "--user", not_utf8), ("sessions", "list", "--user", not_utf8)):
        result = run_tui(*args)
        assert result.returncode in (1, 2) and "not UTF-8" in result.stderr, result
        assert len(result.stderr.splitlines()) == 1, result
    made = run_tui(
        "--db", tmp_path / "new" / "d.db", "init", "--password-stdin", input=b"Corr3ct-Horse-Batt\xe9ry!\n"
    )
    assert made.returncode == 1 and "not UTF-8" in made.stderr, made
    assert not (tmp_path / "new").exists()


def test_a_dry_run_on_a_path_with_no_directory_makes_none(run_tui, tmp_path: Path) -> None:
    """It planned against a new, empty directory it made there: a dry run changes nothing, files included."""
    folder = tmp_path / "site"
    folder.mkdir()
    users = tmp_path / "users.csv"
    users.write_text("userName,groups\nann,Staff\n", encoding="utf-8")
    result = run_tui("--db", folder / "d.db", "import", "--dry-run", users)
    assert result.returncode == 0 and "+ create user 'ann'" in result.stdout, result
    assert "dry run: nothing was changed" in result.stdout
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "arguments",
    [
        ("import", "{tmp}/nl\nname.csv"),
        ("backup", "{tmp}/a\nb.db"),
        ("export", "extra\nx"),
        ("export", "-o", "{tmp}/a\x1b[31mb.json"),
        ("audit", "verify", "--expect-head", "1:\x85"),
    ],
)
def test_an_argument_with_a_control_character_is_refused_before_anything_runs(
    run_tui, tmp_path: Path, db_path: Path, arguments: tuple[str, ...]
) -> None:
    """A line break in a path split the messages that quote it into lines of their own ("…/nl" then
    "name.csv: line 2: …"); no name, path or value of tui holds a control character (hostile inputs)."""
    given = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    result = run_tui(*given)
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and "holds a control character (U+" in result.stderr, result
    assert not db_path.exists() and not any(p.name.startswith("a") for p in tmp_path.iterdir())
