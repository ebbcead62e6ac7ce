"""Numbers a hostile argument or file makes long or odd, through the real command: a duration or an expiry of
thousands of digits was an internal error (exit 70: ``int()`` refuses more than 4,300 digits) or, below that,
an 8 KB message echoing it; an integer option read "１２" (full width) and "1_0" as numbers, as Python's
``int()`` does; click's own usage errors echoed a 100,000-character value whole. Each is now one short line
and exit 1 (refused) or 2 (usage)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from store.names import QUOTED_MAX
from tui.cli import cli
from tui.cli.base import AsciiInt

NINES = "9" * 5000  # past int()'s 4,300 digits: a ValueError
UNDER_THE_LIMIT = "9" * 4000  # int() reads it: the message echoed it whole
SHORT_LINE = QUOTED_MAX + 300


def _short(result) -> None:
    assert all(len(line) < SHORT_LINE for line in result.stderr.splitlines()), result.stderr[:2000]
    assert len(result.stderr) < 4 * SHORT_LINE, result.stderr[:2000]


@pytest.fixture
def assigned(directory):
    """alice holds ReadOnly (PT2H) in prod."""
    alice = directory.users.create("alice")
    prod = directory.accounts.create("prod")
    reader = directory.permission_sets.create("ReadOnly", session_duration="PT2H", managed_policies=[])
    directory.assignments.create("user", alice.id, prod.id, reader.id)
    return directory


@pytest.mark.parametrize(
    "duration",
    [NINES, f"PT{NINES}S", f"P{NINES}D", UNDER_THE_LIMIT, f"PT{UNDER_THE_LIMIT}H", f"PT1H{NINES}M"],
)
def test_a_session_duration_of_thousands_of_digits_is_refused_briefly(assigned, run_tui, duration) -> None:
    result = run_tui(
        "sessions", "issue", "--user", "alice", "--account", "prod", "--permission-set", "ReadOnly",
        "--duration", duration,
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "duration: " in result.stderr and "is not a duration" in result.stderr, result.stderr[:2000]
    assert "characters)" in result.stderr, result.stderr[:2000]  # the value clipped: its start and length
    _short(result)


@pytest.mark.parametrize("expires", [f"P{NINES}D", f"P{UNDER_THE_LIMIT}D", f"PT{NINES}H", f"P1DT{NINES}S"])
def test_a_token_expiry_of_thousands_of_digits_is_refused_briefly(run_tui, expires) -> None:
    result = run_tui("scim", "token", "create", "--source", "okta", "--expires", expires)
    assert result.returncode == 1, result
    assert "expires: " in result.stderr and "is not a duration" in result.stderr, result.stderr[:2000]
    _short(result)
    assert run_tui("scim", "token", "list").stdout.count("okta") == 0


def test_a_ninety_nine_digit_token_expiry_is_outside_the_range(run_tui) -> None:
    """Short enough to be read as a number, far too long to be allowed: the range message, not echoed long."""
    result = run_tui("scim", "token", "create", "--source", "okta", "--expires", f"P{'9' * 14}D")
    assert result.returncode == 1 and "is outside the allowed" in result.stderr, result


@pytest.mark.parametrize(
    "duration", [f"PT{NINES}S", NINES, f"PT{UNDER_THE_LIMIT}S", int(UNDER_THE_LIMIT), -int(UNDER_THE_LIMIT)]
)
def test_an_imported_session_duration_of_thousands_of_digits_is_refused_briefly(
    run_tui, tmp_path: Path, duration
) -> None:
    path = tmp_path / "sets.json"
    path.write_text(json.dumps({"permission_sets": [{"name": "P", "sessionDuration": duration}]}))
    result = run_tui("import", path)
    assert result.returncode == 1, result
    assert "sessionDuration: " in result.stderr, result.stderr[:2000]
    assert "nothing was changed" in result.stderr, result.stderr[:2000]
    _short(result)


@pytest.mark.parametrize("value", ["0", "-1", "-0", "+0", "000", "9" * 20, "-" + "9" * 5000])
def test_a_password_max_age_of_zero_is_refused_as_minus_one_is(run_tui, value: str) -> None:
    """0 silently meant "never expires" while -1 was refused: both are outside 1-1095 ('none' says never)."""
    result = run_tui("password-policy", "set", "--max-age-days", value)
    assert result.returncode == 1, result
    assert "max_age_days must be between 1 and 1095, or none" in result.stderr, result
    assert json.loads(run_tui("password-policy", "show", "--json").stdout)["max_age_days"] is None
    assert run_tui("password-policy", "set", "--max-age-days", "none").returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("password-policy", "set", "--max-age-days", "１２"),
        ("password-policy", "set", "--max-age-days", "1_0"),
        ("password-policy", "set", "--max-age-days", "١٢"),
        ("password-policy", "set", "--minimum-length", "１２"),
        ("password-policy", "set", "--minimum-length", "1_2"),
        ("password-policy", "set", "--reuse-prevention", "５"),
        ("serve-limits", "--max-consoles", "１"),
        ("serve-limits", "--max-consoles-per-user", "1_0"),
        ("sessions", "sweep", "--retention-days", "３"),
        ("sessions", "revoke", "--id", "1_0"),
        ("scim", "token", "revoke", "１"),
        ("serve-limits", "--max-consoles", " 5"),
    ],
)
def test_an_integer_option_takes_ascii_digits_only(run_tui, args: tuple[str, ...]) -> None:
    result = run_tui(*args)
    assert result.returncode == 2, result
    assert "Invalid value for" in result.stderr, result


def test_an_ascii_integer_still_works(run_tui) -> None:
    assert run_tui("password-policy", "set", "--max-age-days", "90", "--minimum-length", "14").returncode == 0
    shown = json.loads(run_tui("password-policy", "show", "--json").stdout)
    assert (shown["max_age_days"], shown["minimum_length"]) == (90, 14)
    assert "at most 2 per user" in run_tui("serve-limits", "--max-consoles-per-user", "+2").stdout


def _integer_parameters(group: click.Group):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _integer_parameters(command)
        else:
            yield from (
                (f"{name} {p.name}", p.type)
                for p in command.params
                if isinstance(p.type, click.types.IntParamType)
            )


def test_every_integer_option_is_an_ascii_integer() -> None:
    """The guard for options still to come: click's INT calls int(), which reads "１２" and "1_0"."""
    found = list(_integer_parameters(cli))
    assert found and [where for where, kind in found if not isinstance(kind, AsciiInt)] == []


@pytest.mark.parametrize(
    "args",
    [
        ("serve-limits", "--max-consoles", "9" * 100_000),
        ("serve-limits", "--max-consoles", "x" * 100_000),
        ("password-policy", "set", "--minimum-length", "9" * 100_000),
        ("export", "--format", "x" * 100_000),
        ("export", "--format", "a b " * 25_000),
        ("audit", "export", "--format", "'" + "y" * 100_000),
        (
            "sessions",
            "issue",
            "--user",
            "a",
            "--account",
            "b",
            "--permission-set",
            "c",
            "--format",
            "z" * 99_999,
        ),
        ("--" + "n" * 100_000,),
        ("scim", "token", "create", "--" + "o" * 100_000),
        ("users-" + "q" * 100_000,),
        ("backup", "f", "extra-" + "e" * 100_000),
    ],
)
def test_a_usage_error_quotes_a_long_value_briefly(run_tui, args: tuple[str, ...]) -> None:
    result = run_tui(*args)
    assert result.returncode == 2, result.stderr[:2000]
    assert "characters)" in result.stderr, result.stderr[:2000]
    _short(result)


@pytest.mark.parametrize("value", ["nan", "inf", "1e9", "\uff11\uff10", "1_0", " 300"])
def test_a_time_in_seconds_takes_a_plain_decimal(run_tui, value: str) -> None:
    """float() read "nan" (which passes every bound: an idle timeout of nan), "inf", "１０" and "1_0"."""
    result = run_tui("serve", "--listen", "127.0.0.1:0", "--idle-timeout", value)
    assert result.returncode == 2 and "not a number in the digits 0-9" in result.stderr, result


def test_the_ssh_host_key_is_never_the_directorys_key_file(run_tui, db_path) -> None:
    from tests.test_identity_init import make_root

    make_root(db_path).directory.close()
    key = db_path.with_name(db_path.name + ".key")
    before = key.read_bytes()
    result = run_tui("serve", "--listen", "127.0.0.1:0", "--host-key", key)
    assert result.returncode == 1 and "is the directory's own key file" in result.stderr, result
    assert key.read_bytes() == before
