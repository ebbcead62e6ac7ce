"""Load: 8 real ssh clients, each driving its own console over ``tui serve`` to make 50 edits (create a group
through the New group form), all at once, on 127.0.0.1. No error, no lost edit; the audit chain intact.

Why consoles and not a command: without a terminal the server answers only whoami, access and credentials
(the issue's allowlist), so the honest way to edit over SSH is the console a person uses. Each driver waits
for its edit's row before the next, as a person would; every wait has a deadline. About a minute on two cores,
so it runs with every ``make test``. Figures: bench/bench_ssh.py.
"""

from __future__ import annotations

from tests.test_ssh_harness import needs_ssh, needs_tmux, run_load, serve_env_fixture  # noqa: F401  (fixture)

SESSIONS = 8
EDITS = 50


@needs_ssh
@needs_tmux
def test_eight_consoles_over_ssh_make_fifty_edits_each_and_none_is_lost(tmp_path, serve_env):
    result = run_load(tmp_path, serve_env, sessions=SESSIONS, edits=EDITS)
    assert result.errors == []
    assert len(result.latencies) == SESSIONS * EDITS
    assert result.groups_found == SESSIONS * EDITS
    assert result.audit_events == {f"load{i}": EDITS for i in range(1, SESSIONS + 1)}
    assert result.audit_ok
