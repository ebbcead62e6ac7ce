"""``tui login`` with a recovery code: the code is spent only by the sign-in that completes (a new
authenticator enrolled, the sign-in kept), never by one that is refused. The real command, in subprocesses and
on a terminal; ``ssh -tt HOST login`` through the real OpenSSH client."""

from __future__ import annotations

import re

import pytest

from store.clock import utc_now
from store.crypto import totp_code
from tests.terminal import run_on_terminal
from tests.test_credentials_cli import PASSWORD_LINE
from tests.test_identity_init import ROOT_PASSWORD
from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    ALICE_PASSWORD,
    login_over_ssh,
    needs_ssh,
    serve_env_fixture,
    server_fixture,
    world_fixture,
)


def recovery_codes(init_output: str) -> list[str]:
    return [c for line in init_output.splitlines() if line.startswith("    ") for c in line.split()]


@pytest.fixture(name="root_codes")
def root_codes_fixture(run_tui) -> list[str]:
    """``tui init --password-stdin``: root's recovery codes, as it printed them."""
    init = run_tui("init", "--password-stdin", input=PASSWORD_LINE)
    assert init.returncode == 0, init
    return recovery_codes(init.stdout)


def code_of_the_new_authenticator(shown: str) -> str:
    """What the person's app would show for the secret ``tui login`` printed when enrolling it."""
    secret = re.findall(r"secret: ([A-Z2-7 ]+)", shown)[-1].replace(" ", "")
    return totp_code(secret, utc_now())


def login_on_a_terminal(code: str, tui_env, tmp_path):
    return run_on_terminal(
        ["login", "--user", "root", "--code", code],
        [("Password", ROOT_PASSWORD), ("Code shown by the app now", code_of_the_new_authenticator)],
        env=tui_env,
        cwd=tmp_path,
    )


def scripted_login(run_tui, code: str, password_line: str = PASSWORD_LINE):
    return run_tui("login", "--user", "root", "--password-stdin", "--code", code, input=password_line)


def test_a_scripted_login_that_cannot_finish_leaves_the_code_for_one_that_does(
    root_codes, run_tui, tui_env, tmp_path
):
    code = root_codes[0]
    refused = scripted_login(run_tui, code)
    assert refused.returncode == 1, refused
    assert "must enrol a new authenticator" in refused.stderr and "not used up" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    again = scripted_login(run_tui, code)  # still the same answer: nothing was spent
    assert again.returncode == 1 and "must enrol a new authenticator" in again.stderr, again

    done = login_on_a_terminal(code, tui_env, tmp_path)
    assert done.returncode == 0, done.shown
    assert "enrol a new authenticator now" in done.shown and "signed in as root (with MFA)" in done.shown
    assert len(recovery_codes(done.shown)) == 10  # the new ones, shown once

    spent = scripted_login(run_tui, code)  # once only
    assert spent.returncode == 1 and "Sign-in failed" in spent.stderr, spent


def test_a_wrong_password_with_a_recovery_code_leaves_it_usable(root_codes, run_tui, tui_env, tmp_path):
    code = root_codes[4]
    wrong = scripted_login(run_tui, code, "not the password at all\n")
    assert wrong.returncode == 1 and "Sign-in failed" in wrong.stderr, wrong
    done = login_on_a_terminal(code, tui_env, tmp_path)
    assert done.returncode == 0 and "signed in as root (with MFA)" in done.shown, done.shown


@needs_ssh
def test_ssh_login_with_a_recovery_code_is_refused_without_spending_it(world, server):
    with world.open() as directory:
        codes = directory.credentials.regenerate_recovery_codes(world.ids["alice"])
    shown = login_over_ssh(server, "alice", world.keys["alice"], ALICE_PASSWORD, codes[0])
    assert "a new authenticator must be enrolled" in shown, shown
    with world.open() as directory:
        status = directory.credentials.status(world.ids["alice"])
        assert status.recovery_codes_left == 10 and not status.mfa_reenrol
        # The same code still opens a sign-in (that would go on to enrol a new authenticator).
        assert directory.sign_in.attempt("alice", ALICE_PASSWORD, codes[0]).method == "password+recovery_code"
