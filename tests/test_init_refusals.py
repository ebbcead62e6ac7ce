"""A refused ``tui init`` leaves the folder exactly as it was: no database (nor -wal/-shm), no key file, no
TOTP secret file, no folder created for them. The real command, in subprocesses and on a terminal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store.clock import utc_now
from store.crypto import totp_code
from tests.terminal import run_on_terminal
from tests.test_identity_init import ROOT_PASSWORD, other_code

WEAK = "password123"


def listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``folder`` with its mode, size and modification time: what 'unchanged' compares."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "notes.txt").write_text("something already here\n")
    return folder


REFUSALS = {
    # name: (arguments after `tui --db DB`, stdin, what stderr says)
    "weak password": (["init", "--password-stdin"], WEAK + "\n", "at least 12 characters"),
    "empty password": (["init", "--password-stdin"], "\n", "no password on standard input"),
    "no terminal to ask on": (["init"], "", "--password-stdin"),
    "TOTP secret file in a missing folder": (
        ["init", "--password-stdin", "--totp-secret-file", "missing/root.totp"],
        ROOT_PASSWORD + "\n",
        "the folder missing does not exist",
    ),
    "TOTP secret file already there": (
        ["init", "--password-stdin", "--totp-secret-file", "notes.txt"],
        ROOT_PASSWORD + "\n",
        "notes.txt already exists",
    ),
    "key file in a missing folder": (
        ["--key", "nowhere/dir.key", "init", "--password-stdin"],
        ROOT_PASSWORD + "\n",
        "nowhere does not exist",
    ),
}


@pytest.mark.parametrize("db_name", ["dir.db", "new/deeper/dir.db"], ids=["beside", "in-new-folders"])
@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_each_refusal_leaves_the_folder_as_it_was(case, db_name, site, run_tui):
    args, stdin, said = REFUSALS[case]
    before = listing(site)
    db_args = ["--db", db_name]
    if args[0] == "--key":
        db_args, args = [*db_args, *args[:2]], args[2:]
    result = run_tui(*db_args, *args, input=stdin, cwd=site, env={"TUI_DB": None})
    assert result.returncode == 1, result
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result
    assert listing(site) == before


def test_a_key_file_others_can_read_is_refused_and_nothing_else_appears(site, run_tui):
    key = site / "dir.db.key"
    key.write_text("not a key\n")
    os.chmod(key, 0o644)
    before = listing(site)
    result = run_tui("--db", "dir.db", "init", "--password-stdin", input=ROOT_PASSWORD + "\n", cwd=site)
    assert result.returncode == 1 and str(key.name) in result.stderr, result
    assert listing(site) == before


def test_init_of_an_initialised_directory_changes_no_file(site, run_tui):
    first = run_tui(
        "--db", "dir.db", "init", "--password-stdin", "--totp-secret-file", "root.totp",
        input=ROOT_PASSWORD + "\n", cwd=site,
    )  # fmt: skip
    assert first.returncode == 0, first
    assert sorted(p.name for p in site.iterdir()) == ["dir.db", "dir.db.key", "notes.txt", "root.totp"]
    before = listing(site)
    again = run_tui(
        "--db", "dir.db", "init", "--password-stdin", "--totp-secret-file", "second.totp",
        input=ROOT_PASSWORD + "\n", cwd=site,
    )  # fmt: skip
    assert again.returncode == 1 and "already initialised" in again.stderr
    assert listing(site) == before


def test_on_a_terminal_mismatched_confirmations_leave_nothing(site, tui_env):
    before = listing(site)
    answers = []
    for _ in range(5):
        answers += [("New password for root", ROOT_PASSWORD), ("Repeat the password", ROOT_PASSWORD + "x")]
    run = run_on_terminal(["--db", "new/dir.db", "init"], answers, env=tui_env, cwd=site)
    assert run.returncode == 1, run.shown
    assert "The two passwords differ" in run.shown and "no acceptable password" in run.shown
    assert listing(site) == before


def test_on_a_terminal_wrong_codes_leave_nothing_not_even_the_secret_file(site, tui_env):
    before = listing(site)
    answers = [("New password for root", ROOT_PASSWORD), ("Repeat the password", ROOT_PASSWORD)]

    def wrong_code(shown: str) -> str:
        return other_code(totp_code((site / "root.totp").read_text().strip(), utc_now()))

    answers += [("Code shown by the app now", wrong_code)] * 5
    run = run_on_terminal(
        ["--db", "dir.db", "init", "--totp-secret-file", "root.totp"], answers, env=tui_env, cwd=site
    )
    assert run.returncode == 1, run.shown
    assert "no matching code" in run.shown
    assert listing(site) == before


def test_on_a_terminal_a_good_init_still_writes_everything(site, tui_env):
    def current_code(shown: str) -> str:
        secret = (site / "root.totp").read_text().strip()
        return totp_code(secret, utc_now())

    answers = [
        ("New password for root", ROOT_PASSWORD),
        ("Repeat the password", ROOT_PASSWORD),
        ("Code shown by the app now", current_code),
    ]
    run = run_on_terminal(
        ["--db", "dir.db", "init", "--totp-secret-file", "root.totp"], answers, env=tui_env, cwd=site
    )
    assert run.returncode == 0, run.shown
    assert "root created in dir.db" in run.shown
    assert sorted(p.name for p in site.iterdir()) == ["dir.db", "dir.db.key", "notes.txt", "root.totp"]


def test_the_totp_secret_file_is_never_the_directorys_own_file(site, run_tui):
    """`--totp-secret-file dir.db.key` wrote root's secret where the key file goes, then said the key file
    was "not a tui key file" (hostile inputs): refused, named as the directory's own."""
    before = listing(site)
    for own in ("dir.db.key", "dir.db-wal"):
        result = run_tui(
            "--db", "dir.db", "init", "--password-stdin", "--totp-secret-file", own,
            input=ROOT_PASSWORD + "\n", cwd=site, env={"TUI_DB": None},
        )  # fmt: skip
        assert result.returncode == 1 and "is the directory's own" in result.stderr, result
    assert listing(site) == before
