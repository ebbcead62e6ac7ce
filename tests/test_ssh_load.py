"""Load: 8 real ssh clients, each driving its own console over ``tui serve`` to make 50 edits (create a group
through the New group form), all at once, on 127.0.0.1. No error, no lost edit; the audit chain intact.

Why consoles and not a command: without a terminal the server answers only whoami, access and credentials
(the issue's allowlist), so the honest way to edit over SSH is the console a person uses. Each driver waits
for its edit's row before the next, as a person would; every wait has a deadline. The full load (8 x 50) takes
about a minute and a half on two cores: it runs with ``make test-all`` (and as bench/bench_ssh.py, with its
figures); every ``make test`` runs the same path at 4 x 10, still concurrent.
"""

from __future__ import annotations

import pytest

from tests.test_ssh_harness import needs_ssh, needs_tmux, run_load, serve_env_fixture  # noqa: F401  (fixture)


def _no_edit_is_lost(tmp_path, serve_env, sessions: int, edits: int) -> None:
    result = run_load(tmp_path, serve_env, sessions=sessions, edits=edits)
    assert result.errors == []
    assert len(result.latencies) == sessions * edits
    assert result.groups_found == sessions * edits
    assert result.audit_events == {f"load{i}": edits for i in range(1, sessions + 1)}
    assert result.audit_ok


@needs_ssh
@needs_tmux
def test_four_consoles_over_ssh_make_ten_edits_each_and_none_is_lost(tmp_path, serve_env):
    _no_edit_is_lost(tmp_path, serve_env, sessions=4, edits=10)


@pytest.mark.slow
@needs_ssh
@needs_tmux
def test_eight_consoles_over_ssh_make_fifty_edits_each_and_none_is_lost(tmp_path, serve_env):
    _no_edit_is_lost(tmp_path, serve_env, sessions=8, edits=50)
