"""``tui serve`` caps its consoles (each a process of ~60 MB): per user and in all, directory settings with
defaults (3 and 24) that ``--max-consoles``/``--max-consoles-per-user`` override for a run. One more console
gets one line saying why and the connection closes; the refusal is audited. Commands without a terminal are
not consoles. Real ``tui serve``, the real OpenSSH client, tmux as the terminals."""

from __future__ import annotations

import json
import subprocess

from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    Server,
    Tmux,
    World,
    needs_ssh,
    needs_tmux,
    seed_world,
    serve_env_fixture,
    server_fixture,
    tmux_fixture,
    wait_until,
    world_fixture,
)

pytestmark = [needs_ssh, needs_tmux]


def open_console(tmux: Tmux, server: Server, world: World, name: str, user: str) -> None:
    tmux.start(name, server.ssh_command_line(user, world.keys[user], tty="-t"), 80, 24)
    tmux.wait_for(name, "authenticator app" if user in world.secrets else "My access")


def one_console_too_many(server: Server, world: World, user: str) -> subprocess.CompletedProcess[str]:
    """``ssh -tt user@server``: asks for a console with a terminal, as a person's ssh does."""
    completed = subprocess.run(
        server.ssh_args(user, world.keys[user], tty="-tt"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode(), completed.stderr.decode()
    )


def refusals(world: World) -> list[dict[str, object]]:
    return [json.loads(row["details"]) for row in world.audit("ssh.console_refused")]


def test_a_fourth_console_of_one_user_is_refused_until_one_closes(world, server, tmux):
    for name in ("b1", "b2", "b3"):
        open_console(tmux, server, world, name, "bob")

    refused = one_console_too_many(server, world, "bob")
    said = (refused.stdout + refused.stderr).strip()
    assert refused.returncode == 1, said
    assert said == "tui: bob already has 3 consoles open on this server (the limit is 3); close one first"
    assert "My access" not in refused.stdout  # no console was started for it
    # Commands without a terminal are not consoles: still answered.
    whoami = server.ssh("bob", world.keys["bob"], "whoami")
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["user"] == "bob", whoami

    [event] = wait_until(lambda: refusals(world), 10, "the refusal's audit event")
    assert event["limit"] == "per user" and event["open"] == 3 and event["max"] == 3
    assert event["fingerprint"] == world.keys["bob"].fingerprint and str(event["remote"]).startswith(
        "127.0.0.1:"
    )
    [row] = world.audit("ssh.console_refused")
    assert row["actor"] == "bob" and row["source"] == "ssh" and row["target"] == "user:bob"
    ended = wait_until(
        lambda: [
            d
            for d in (json.loads(r["details"]) for r in world.audit("ssh.disconnect"))
            if d["reason"] == "console limit"
        ],
        10,
        "the refused connection's disconnect event",
    )
    assert len(ended) == 1

    tmux.keys("b1", "C-q")
    assert tmux.wait_exit("b1") == 0
    open_console(tmux, server, world, "b4", "bob")  # a slot is free again
    assert "refused a console to bob" in server.log.read_text()


def test_the_server_wide_cap_and_the_settings_with_flags_winning(tmp_path, serve_env, run_tui, tmux):
    world = seed_world(tmp_path, extra_admins=1)
    env = {"TUI_DB": str(world.db_path)}
    saved = run_tui("serve-limits", "--max-consoles-per-user", "1", env=env)
    assert saved.returncode == 0 and saved.stdout.strip() == "SSH consoles: at most 1 per user, 24 in all", (
        saved
    )
    [change] = world.audit("settings.console_limits")
    assert json.loads(change["details"])["after"] == {"total": 24, "per_user": 1}

    server = Server(world, serve_env, "--max-consoles", "2")
    try:
        assert "consoles: at most 1 per user, 2 in all (--max-consoles)" in server.log.read_text()
        open_console(tmux, server, world, "bob", "bob")
        second = one_console_too_many(server, world, "bob")  # the setting: 1 per user
        assert (
            "bob already has 1 console open on this server (the limit is 1)" in second.stderr + second.stdout
        )
        open_console(tmux, server, world, "load1", "load1")
        third = one_console_too_many(server, world, "alice")  # the flag: 2 in all
        said = (third.stdout + third.stderr).strip()
        assert third.returncode == 1
        assert said == "tui: this server already has 2 consoles open (its limit is 2); try again later"
        events = wait_until(
            lambda: (found := refusals(world))[1:] and found, 10, "both refusals' audit events"
        )
        assert [(e["limit"], e["open"], e["max"]) for e in events] == [("per user", 1, 1), ("server", 2, 2)]
        tmux.keys("bob", "C-q")
        assert tmux.wait_exit("bob") == 0
        tmux.keys("load1", "C-q")  # still at the TOTP step-up: leaving it is "not signed in"
        assert tmux.wait_exit("load1") == 1
    finally:
        server.stop()

    # The flag wins over the setting for its run.
    server = Server(world, serve_env, "--max-consoles-per-user", "2")
    try:
        open_console(tmux, server, world, "bob-a", "bob")
        open_console(tmux, server, world, "bob-b", "bob")
        refused = one_console_too_many(server, world, "bob")
        assert (
            "bob already has 2 consoles open on this server (the limit is 2)"
            in refused.stderr + refused.stdout
        )
    finally:
        server.stop()


def test_limits_are_checked_where_they_are_set(run_tui, world):
    env = {"TUI_DB": str(world.db_path)}
    shown = run_tui("serve-limits", env=env)
    assert shown.returncode == 0 and shown.stdout.strip() == "SSH consoles: at most 3 per user, 24 in all"
    bad = run_tui("serve-limits", "--max-consoles", "0", env=env)
    assert bad.returncode == 2 and "--max-consoles" in bad.stderr
    assert world.audit("settings.console_limits") == []
