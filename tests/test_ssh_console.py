"""The console over SSH, end to end: the real OpenSSH client in a real terminal (tmux) against ``tui serve``
on 127.0.0.1. Key accepted, TOTP step-up, drawn at the client's size and redrawn after a resize, ctrl+q ends
the connection, the audit log holds it; a console that crashes or loses its client, and an idle connection."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.test_identity_init import other_code
from tests.test_ssh_harness import (  # noqa: F401  (fixtures)
    ROOT_PASSWORD,
    Server,
    needs_ssh,
    needs_tmux,
    serve_env_fixture,
    server_fixture,
    tmux_fixture,
    wait_until,
    world_fixture,
)

pytestmark = [needs_ssh, needs_tmux]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def _session_and_tty(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[3]), int(fields[4])  # session id, tty_nr (fields 6 and 7 of proc(5))


def test_root_signs_in_by_key_and_code_and_the_console_follows_the_terminal(world, serve_env, tmux, tmp_path):
    # The server's own environment must not leak into the console: TERM comes from the client, never a size.
    serve_env.update({"TERM": "dumb", "COLUMNS": "33", "LINES": "11"})
    server = Server(world, serve_env)
    tmux.config.write_text(tmux.config.read_text() + 'set -g default-terminal "screen-256color"\n')
    try:
        tmux.start("root", server.ssh_command_line("root", world.keys["root"], tty="-t"), 100, 30)
        step_up = tmux.wait_for("root", "authenticator app")
        assert "Signed in as root" in "\n".join(step_up)
        assert not any("acting as" in line for line in step_up)  # nothing of the directory before the code

        # The console child: a session leader with the pty as its controlling terminal, TERM from the client.
        children = wait_until(server.children, 10, "the console process")
        assert len(children) == 1
        child = children[0]
        session, tty = _session_and_tty(child)
        assert session == child and tty != 0
        env = _environ(child)
        assert env["TERM"] == "screen-256color" and env["COLORTERM"] == "truecolor"
        assert "COLUMNS" not in env and "LINES" not in env
        assert not any(key.startswith("TUI_SSH") for key in env)

        tmux.type("root", other_code(world.code("root")))
        tmux.keys("root", "Enter")
        tmux.wait_for("root", "not right")
        tmux.type("root", world.code("root"))
        tmux.keys("root", "Enter")
        tmux.wait_for("root", "root is for break-glass")

        # Drawn at the client's size: 30 rows, the footer on the last one reaching the right edge.
        lines = wait_until(
            lambda: (s := tmux.screen("root")) and "palette" in s[29] and s, 20, "the footer on row 30"
        )
        assert len(lines) == 30
        assert 95 <= len(lines[29].rstrip()) <= 100
        assert "Dashboard" not in lines[0]  # under 150 columns the sections have short names

        tmux.resize("root", 150, 40)
        assert tmux.size("root") == (150, 40)
        lines = wait_until(
            lambda: (s := tmux.screen("root")) and "palette" in s[39] and "Dashboard" in s[0] and s,
            20,
            "the console redrawn at 150x40",
        )
        assert 140 <= len(lines[39].rstrip()) <= 150

        tmux.keys("root", "C-q")
        assert tmux.wait_exit("root") == 0
        wait_until(lambda: not server.children(), 10, "the console process to end")
        disconnects = wait_until(lambda: world.audit("ssh.disconnect"), 10, "the disconnect event")
    finally:
        server.stop()

    connects = world.audit("ssh.connect")
    assert len(connects) == 1

    connect = json.loads(connects[0]["details"])
    assert connects[0]["actor"] == "root" and connects[0]["source"] == "ssh"
    assert connect["fingerprint"] == world.keys["root"].fingerprint
    assert connect["remote"].startswith("127.0.0.1:")
    assert json.loads(disconnects[0]["details"])["reason"] == "console ended"
    steps = [json.loads(row["details"]) for row in world.audit("sign_in.success") if row["source"] == "ssh"]
    assert [s["method"] for s in steps] == ["publickey+totp"]
    failures = [
        json.loads(row["details"]) for row in world.audit("sign_in.failure") if row["source"] == "ssh"
    ]
    assert [f["reason"] for f in failures] == ["bad_code"]
    log = server.log.read_text()
    assert world.code("root") not in log and ROOT_PASSWORD not in log and "Traceback" not in log


def test_a_console_that_crashes_takes_only_its_connection(world, server, tmux):
    tmux.start("first", server.ssh_command_line("bob", world.keys["bob"], tty="-t"), 80, 24)
    tmux.wait_for("first", "My access")
    (child,) = wait_until(server.children, 10, "the console process")
    os.kill(child, signal.SIGKILL)  # the process the server started for this test's connection
    assert tmux.wait_exit("first") == 1
    assert "stopped unexpectedly" in tmux.text("first")
    assert "My access" not in tmux.text("first")  # the terminal was given back, though the console could not
    assert server.proc.poll() is None

    tmux.start("again", server.ssh_command_line("bob", world.keys["bob"], tty="-t"), 80, 24)
    tmux.wait_for("again", "My access")
    tmux.keys("again", "C-q")
    assert tmux.wait_exit("again") == 0
    assert "Traceback" not in server.log.read_text()


def test_a_lost_client_takes_its_console_with_it(world, server, tmux):
    tmux.start("gone", server.ssh_command_line("bob", world.keys["bob"], tty="-t"), 80, 24)
    tmux.wait_for("gone", "My access")
    (child,) = wait_until(server.children, 10, "the console process")
    tmux.close()  # the terminal and the ssh client in it are gone
    wait_until(
        lambda: not Path(f"/proc/{child}").exists() or child not in server.children(),
        15,
        "the console's process group to be killed",
    )
    events = wait_until(lambda: world.audit("ssh.disconnect"), 10, "the disconnect event")
    assert json.loads(events[0]["details"])["reason"] in ("client closed", "connection lost")


def test_an_idle_connection_is_closed(world, serve_env, tmux):
    server = Server(world, serve_env, "--idle-timeout", "6")
    try:
        tmux.start("idle", server.ssh_command_line("bob", world.keys["bob"], tty="-t"), 80, 24)
        tmux.wait_for("idle", "My access")
        tmux.wait_exit("idle", timeout=60)
        shown = tmux.text("idle")
        assert "closed after 6 seconds without input" in shown
        assert "My access" not in shown  # the terminal was given back: off the console's alternate screen
        events = wait_until(lambda: world.audit("ssh.disconnect"), 10, "the disconnect event")
        assert '"reason":"idle"' in events[0]["details"]
    finally:
        server.stop()


def test_an_admin_group_member_without_an_authenticator_gets_my_access_over_ssh(world, serve_env, tmux):
    """Issue 11, finding 4: an imported user with an SSH key and no authenticator, in the admin group."""
    directory = world.open()
    try:
        admins = directory.groups.create("Admins")
        directory.admins.set_admin_group(admins.id)
        directory.groups.add_member(admins.id, world.ids["bob"])
    finally:
        directory.close()
    server = Server(world, serve_env)
    try:
        who = json.loads(server.ssh("bob", world.keys["bob"], "whoami").stdout)
        assert (who["admin"], who["admin_group"], who["mfa"]) == (False, True, False)
        tmux.start("bob", server.ssh_command_line("bob", world.keys["bob"], tty="-t"), 100, 30)
        tmux.wait_for("bob", "administration needs MFA")
        screen = "\n".join(tmux.wait_for("bob", "you can assume"))  # My access's title
        assert "My access" in screen and "Recent activity" not in screen
        tmux.keys("bob", "2")  # Users: an administrator's screen
        tmux.keys("bob", "n")
        assert "New user" not in tmux.text("bob")
        tmux.keys("bob", "C-q")
        assert tmux.wait_exit("bob") == 0
    finally:
        server.stop()
