"""A first-time administrator's walk through the real console in a real terminal (``make walk``).

The console runs in a private tmux server (120 x 40) on a fresh throw-away directory (a temp folder,
``TUI_DB`` pointing there). The walk types what a newcomer would, task by task: the first-run wizard, an
admin user with MFA, two accounts, two permission sets, an assignment, one simulator decision, My access as
that admin, a CSV import, and a filter of the users table. It waits on the screen's text (capture-pane,
polled with a deadline), never on sleeps alone, and checks each task's end state on the screen and through
store's public read APIs.

It prints one line per task (keys sent: each named key or typed character counts one), a total, the issue 13
counts of before for the three tasks it measured, and one JSON summary line. Exit status 0 when every task
reached its end state. ``-v`` also prints every keystroke sent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# E402 below: imported after the line above puts the repository on the path (run as a plain script).
from store.crypto import totp_code  # noqa: E402
from store.directory import Directory  # noqa: E402
from store.errors import StoreError  # noqa: E402

WIDTH, HEIGHT = 120, 40
WAIT = 30.0  # seconds any one screen may take to show what the step waits for
TOTP_PERIOD = 30
# Issue 13's counts, from the walk by hand that filed it.
BEFORE = {"first run": 65, "admin user with MFA": 200, "permission sets": 345}

ROOT_PASSWORD = "Lantern-field-2026"
ADMIN_NAME = "ada"
ADMIN_PASSWORD = "Quiet-harbour-4711"
CSV = (
    "userName,displayName,email,groups\n"
    "carol,Carol Diaz,carol@example.com,developers\n"
    "dave,Dave Kim,dave@example.com,developers\n"
    "erin,Erin Lee,erin@example.com,\n"
)
# A TOTP secret as the enrolment screens show it: base32 in groups of four, four groups to a line.
SECRET_LINE = re.compile(r"(?<![A-Za-z0-9])((?:[A-Z2-7]{4} ){3}[A-Z2-7]{4})(?![A-Za-z0-9])")
OTPAUTH_SECRET = re.compile(r"otpauth://\S*[?&]secret=([A-Z2-7]+)")


class WalkFailed(Exception):
    """A step did not see what it waited for: the task failed (and the tasks after it are not run)."""


class Terminal:
    """The console in a private tmux server (own socket, no user config); counts every key sent."""

    def __init__(self, folder: Path, env: dict[str, str], verbose: bool) -> None:
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        # No status line (the window is the terminal); escape-time 0: Esc is Esc, not a sequence begun.
        self.config.write_text("set -g status off\nset -g remain-on-exit on\nset -s escape-time 0\n")
        self.env = {**env, "TERM": "xterm-256color"}
        self.status = folder / "console.status"
        self.verbose = verbose
        self.keys_sent = 0
        self.sent: list[str] = []

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self.config), *args],
            capture_output=True,
            timeout=15,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            raise WalkFailed(f"tmux {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode(errors="replace")

    def start(self, command: list[str], cwd: Path) -> None:
        status = shlex.quote(str(self.status))
        shell = f"{shlex.join(command)}; echo $? > {status}"
        self._tmux(
            "new-session", "-d", "-s", "walk", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd), shell
        )

    def stop(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=15, check=False
        )

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "walk")

    def press(self, *keys: str) -> None:
        """Named keys (tmux's names: Enter, Tab, Escape, Down, C-s, F5, or one character): one key each."""
        self._tmux("send-keys", "-t", "walk", *keys)
        self._count(list(keys))

    def type(self, text: str) -> None:
        """Characters typed as they are (``send-keys -l``): one key each."""
        self._tmux("send-keys", "-t", "walk", "-l", "--", text)
        self._count(list(text))

    def _count(self, keys: list[str]) -> None:
        self.keys_sent += len(keys)
        self.sent.extend(keys)

    def wait_for(self, *texts: str, gone: str | None = None, timeout: float = WAIT) -> str:
        """Poll the screen until it shows every one of ``texts`` (and no longer ``gone``); the screen."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if all(text in shown for text in texts) and (gone is None or gone not in shown):
                return shown
            if self.status.exists():
                raise WalkFailed(f"the console ended (status {self.status.read_text().strip()}):\n{shown}")
            if time.monotonic() >= deadline:
                wanted = " and ".join(repr(text) for text in texts) + (f", without {gone!r}" if gone else "")
                raise WalkFailed(f"waited {timeout:g} s for {wanted}; the screen shows:\n{shown}")
            time.sleep(0.05)

    def wait_match(self, pattern: re.Pattern[str], timeout: float = WAIT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if found := pattern.search(shown):
                return found
            if time.monotonic() >= deadline:
                raise WalkFailed(f"waited {timeout:g} s for /{pattern.pattern}/; the screen shows:\n{shown}")
            time.sleep(0.05)


def read_secret(screen: str) -> str:
    """The TOTP secret an enrolment screen shows: the ``otpauth://`` URI's, else the grouped base32 lines."""
    if found := OTPAUTH_SECRET.search(screen):
        return found.group(1)
    groups: list[str] = []
    for line in screen.splitlines():
        if found := SECRET_LINE.search(line):
            groups.extend(found.group(1).split())
        elif groups:
            break  # the secret's lines are consecutive
    secret = "".join(groups)
    if len(secret) != 32:
        raise WalkFailed(f"no TOTP secret on the screen (read {secret!r}):\n{screen}")
    return secret


def whole_word(text: str) -> re.Pattern[str]:
    """``text`` on the screen as a word of its own (a completion shown in full, not the prefix typed)."""
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")


def in_field(label: str, text: str) -> re.Pattern[str]:
    """``text`` shown in full in the field after ``label``: the completion itself, not the same word
    elsewhere on the screen (a toast of an earlier step still showing "admins" once let → come too soon)."""
    return re.compile(rf"{re.escape(label)}\s+(?:[▊▎│]\s*)?{re.escape(text)}(?![\w-])")


class Authenticator:
    """The phone: codes from a secret read off the screen; never the same time step twice (a code is
    accepted once, so a second sign-in in the same 30 s waits for the next code, as a person would)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last_step = -1

    def code(self) -> str:
        while int(time.time()) // TOTP_PERIOD <= self.last_step:
            time.sleep(0.2)
        now = datetime.now(UTC)
        self.last_step = int(now.timestamp()) // TOTP_PERIOD
        return totp_code(self.secret, now)


@dataclass
class Task:
    name: str
    run: Callable[[], list[str]]  # returns the end-state checks that failed (empty: reached)
    keys: int = 0
    ok: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class Walk:
    def __init__(self, folder: Path, verbose: bool) -> None:
        self.folder = folder
        self.db_path = folder / "directory.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUI_", "TMUX"))}
        env |= {"TUI_DB": str(self.db_path), "TUI_KEY": str(folder / "directory.db.key")}
        self.term = Terminal(folder, env, verbose)
        self.root_phone: Authenticator | None = None
        self.admin_phone: Authenticator | None = None
        self.tasks = [
            Task("first run", self.first_run),
            Task("admin user with MFA", self.admin_user),
            Task("accounts", self.accounts),
            Task("permission sets", self.permission_sets),
            Task("assignment", self.assignment),
            Task("simulator", self.simulator),
            Task("My access", self.my_access),
            Task("import", self.import_csv),
            Task("filter users", self.filter_users),
        ]

    def directory(self) -> Directory:
        """The directory as the console left it, read through store's public APIs."""
        return Directory.open(self.db_path, key_path=self.folder / "directory.db.key")

    # -- the tasks ----------------------------------------------------------------------------------------

    def first_run(self) -> list[str]:
        t = self.term
        t.start([sys.executable, "-m", "tui", "console"], cwd=self.folder)
        t.wait_for("step 1 of 3", "Root's password")
        t.type(ROOT_PASSWORD)
        t.press("Tab")
        t.type(ROOT_PASSWORD)
        t.press("Enter")
        self.root_phone = Authenticator(read_secret(t.wait_for("step 2 of 3", "6-digit code")))
        t.type(self.root_phone.code())
        t.press("Enter")
        t.wait_for("step 3 of 3", "recovery codes")
        t.press("Enter")  # "I have saved them"
        shown = t.wait_for("acting as root")
        problems = []
        with self.directory() as directory:
            root = directory.users.root()
            if root is None:
                problems.append("no root in the directory")
            elif not directory.credentials.status(root.id).mfa:
                problems.append("root has no authenticator")
        if "Dash" not in shown:
            problems.append("the dashboard is not shown")
        return problems

    def admin_user(self) -> list[str]:
        t = self.term
        t.press("2")
        t.wait_for("Users  ·")
        t.press("n")
        t.wait_for("New user")
        t.type(ADMIN_NAME)
        t.press("Enter")
        t.wait_for("User created")
        t.press("Enter")  # open the (only) user
        t.wait_for("Add to group", "Credentials")
        t.press("c")
        t.wait_for(f"Credentials of {ADMIN_NAME}", "Set password")
        t.press("p")
        t.wait_for(f"Set the password of {ADMIN_NAME}")
        t.type(ADMIN_PASSWORD)
        t.press("Tab")
        t.type(ADMIN_PASSWORD)
        # Their own account: no forced change at the first sign-in (the field defaults to yes).
        t.press("Tab", "Enter")
        t.wait_for("▲")
        t.press("Down", "Enter")
        t.wait_for("no ", gone="▲")
        t.press("C-s")
        t.wait_for("Password  set")
        t.press("t")
        self.admin_phone = Authenticator(read_secret(t.wait_for(f"authenticator of {ADMIN_NAME}", "6-digit")))
        t.type(self.admin_phone.code())
        t.press("Enter")
        t.wait_for(f"Recovery codes for {ADMIN_NAME}")
        t.press("Enter")  # "I have saved them"
        t.wait_for("TOTP enrolled", gone=f"Recovery codes for {ADMIN_NAME}")
        # The user's "Add to group" needs an existing group: make it under Groups, add the member there.
        t.press("3")
        t.wait_for("Groups  ·")
        t.press("n")
        t.wait_for("New group")
        t.type("admins")
        t.press("Enter")
        t.wait_for("Group created")
        t.press("Enter")  # open the (only) group: its members
        t.wait_for("Group admins: members")
        t.press("n")
        t.wait_for("Add a member to admins")
        t.type(ADMIN_NAME)
        t.press("Enter")
        t.wait_for("1 member")
        t.press("Escape")
        t.wait_for("Groups  ·", "Make admin group")
        t.press("A")
        t.wait_for("Make admins the admin group?")
        t.press("y")
        t.wait_for("admin group: admins")
        problems = []
        with self.directory() as directory:
            user = directory.users.get_by_name(ADMIN_NAME)
            status = directory.credentials.status(user.id)
            if not status.has_password:
                problems.append(f"{ADMIN_NAME} has no password")
            if not status.mfa:
                problems.append(f"{ADMIN_NAME} has no authenticator")
            group = directory.admins.admin_group()
            if group is None or group.name != "admins":
                problems.append("admins is not the admin group")
            if not directory.admins.is_admin(user.id):
                problems.append(f"{ADMIN_NAME} is not an admin")
        return problems

    def accounts(self) -> list[str]:
        t = self.term
        t.press("4")
        t.wait_for("Accounts  ·")
        for name in ("prod", "staging"):
            t.press("n")
            t.wait_for("New account")
            t.type(name)
            t.press("Enter")
            t.wait_for(f" {name} ", gone="New account")
        problems = []
        with self.directory() as directory:
            for name in ("prod", "staging"):
                try:
                    directory.accounts.get_by_name(name)
                except StoreError as exc:  # NotFound: say which
                    problems.append(f"account {name}: {exc}")
        return problems

    def permission_sets(self) -> list[str]:
        t = self.term
        t.press("5")
        t.wait_for("Permission sets  ·")
        # One with an inline policy: the editor's example (read S3), inserted on purpose with its key.
        t.press("n")
        t.wait_for("New permission set", "Inline policy")
        t.type("S3Reader")
        t.press("F5")
        t.wait_for('"s3:Get*"')
        t.press("C-s")
        t.wait_for("Permission sets  ·", " S3Reader ")
        # One with a managed policy: the third in the built-in list.
        t.press("n")
        t.wait_for("New permission set", "Inline policy")
        t.type("Viewer")
        t.press("F3")
        t.wait_for("ReadOnlyAccess")
        t.press("Down", "Down", "Space")
        t.wait_for("attached: ReadOnlyAccess")
        t.press("C-s")
        t.wait_for("Permission sets  ·", " Viewer ")
        problems = []
        with self.directory() as directory:
            reader = directory.permission_sets.get_by_name("S3Reader")
            viewer = directory.permission_sets.get_by_name("Viewer")
            if not reader.inline_policy or "s3:Get*" not in reader.inline_policy:
                problems.append("S3Reader has not the example's inline policy")
            if viewer.managed_policies != ["ReadOnlyAccess"]:
                problems.append(f"Viewer's managed policies are {viewer.managed_policies}")
            if viewer.inline_policy:  # issue 13's first trap: an example saved as the inline policy
                problems.append(f"Viewer got an inline policy nobody wrote: {viewer.inline_policy!r}")
        return problems

    def assignment(self) -> list[str]:
        t = self.term
        t.press("6")
        t.wait_for("Assignments  ·")
        t.press("n")
        t.wait_for("New assignment", "A group")
        # The group admins, the account prod, the permission set S3Reader: each by its first letter and →,
        # pressed once the completion shows (→ before it arrives keeps the bare prefix). One letter: after
        # two, the first one's completion can still be on screen while the second's is looked up.
        fields = (
            ("Group or user name", "a", "admins"),
            ("Account", "p", "prod"),
            ("Permission set", "S", "S3Reader"),
        )
        for label, prefix, name in fields:
            t.press("Tab")
            t.type(prefix)
            t.wait_match(in_field(label, name))
            t.press("Right")
        t.press("Enter")
        t.wait_for("Assignment created")
        problems = []
        with self.directory() as directory:
            page = directory.assignments.list()
            found = [
                (a.principal_type, a.principal_name, a.account_name, a.permission_set_name)
                for a in page.items
            ]
            if found != [("group", "admins", "prod", "S3Reader")]:
                problems.append(f"assignments are {found}")
        return problems

    def simulator(self) -> list[str]:
        t = self.term
        t.press("9")
        t.wait_for("Policy simulator")
        # Focus starts on User; Resource left empty (any). → once the completion shows, as above.
        t.type("a")
        t.wait_match(whole_word(ADMIN_NAME))
        t.press("Right", "Tab")
        t.type("p")
        t.wait_match(whole_word("prod"))
        t.press("Right", "Tab")
        t.type("s3:GetObject")
        t.press("Enter")
        shown = t.wait_for("s3:GetObject on * for ada in prod")
        problems = []
        if "ALLOW" not in shown:
            problems.append("the decision is not ALLOW")
        if "ReadS3" not in shown:
            problems.append("the deciding statement (Sid ReadS3) is not named")
        return problems

    def my_access(self) -> list[str]:
        t = self.term
        assert self.admin_phone is not None
        t.press("C-o")
        t.wait_for("Signed out.", "User name")
        t.type(ADMIN_NAME)
        t.press("Tab")
        t.type(ADMIN_PASSWORD)
        t.press("Tab")
        t.type(self.admin_phone.code())
        t.press("Enter")
        t.wait_for(f"acting as {ADMIN_NAME}")
        t.press("0")
        t.wait_for(f"My access  ·  {ADMIN_NAME}", "S3Reader")
        t.press("g")
        shown = t.wait_for("AWS_SESSION_TOKEN=")
        problems = []
        if "AWS_ACCESS_KEY_ID=ASIA" not in shown:
            problems.append("no ASIA… access key id shown")
        with self.directory() as directory:
            user = directory.users.get_by_name(ADMIN_NAME)
            if directory.sessions.list(active_only=True, user_id=user.id).total != 1:
                problems.append(f"{ADMIN_NAME} has not exactly one active session")
        t.press("Escape")
        t.wait_for("Get credentials", gone="AWS_SESSION_TOKEN=")
        return problems

    def import_csv(self) -> list[str]:
        t = self.term
        (self.folder / "people.csv").write_text(CSV)
        t.press("i")
        t.wait_for("Import users and groups")
        t.type("people.csv")  # the console was started in the folder that holds it
        t.press("Enter")
        t.wait_for("Dry run", "3 to create")
        t.press("C-s")
        t.wait_for("Apply the import of")
        t.press("y")
        t.wait_for("Applied")
        problems = []
        with self.directory() as directory:
            for name in ("carol", "dave", "erin"):
                try:
                    directory.users.get_by_name(name)
                except StoreError as exc:
                    problems.append(f"user {name}: {exc}")
            group = directory.groups.get_by_name("developers")
            members = directory.groups.members(group.id)
            if members.total != 2:
                problems.append(f"developers has {members.total} members, not 2")
        # Back out of the import: Esc leaves the file field, a second Esc leaves the screen.
        t.press("Escape", "Escape")
        t.wait_for("My access  ·", gone="Import users and groups")
        return problems

    def filter_users(self) -> list[str]:
        t = self.term
        t.press("2")
        t.wait_for("Users  ·", "carol")
        t.press("/")
        t.type("ar")  # two characters: part of carol
        shown = t.wait_for("filter: ar")
        table = shown.split("User name", 1)[-1]
        problems = []
        if "carol" not in table:
            problems.append("carol is not listed for 'ar'")
        if any(name in table for name in ("dave", "erin", f" {ADMIN_NAME} ")):
            problems.append("users without 'ar' are listed")
        return problems

    # -- running ------------------------------------------------------------------------------------------

    def run(self) -> list[Task]:
        try:
            for task in self.tasks:
                before, started = self.term.keys_sent, time.monotonic()
                try:
                    task.problems = task.run()
                except WalkFailed as exc:
                    task.problems = [str(exc)]
                except StoreError as exc:  # a store read found nothing: the end state was not reached
                    task.problems = [f"{type(exc).__name__}: {exc}"]
                task.keys = self.term.keys_sent - before
                task.seconds = time.monotonic() - started
                task.ok = not task.problems
                if self.term.verbose:
                    print(f"  {task.name} keys: {' '.join(self.term.sent[before:])}", file=sys.stderr)
                if not task.ok:
                    break  # the later tasks build on this one
        finally:
            self.term.stop()
        return self.tasks


def report(tasks: list[Task]) -> bool:
    """One line per task, ``task: N keys, ok`` (with issue 13's count of before where it has one), a total."""
    for task in tasks:
        result = "ok" if task.ok else ("FAILED" if task.problems else "not run")
        before = BEFORE.get(task.name)
        was = f"  (before: {before} keys)" if before is not None else ""
        print(f"{task.name}: {task.keys} keys, {result}{was}")
        for problem in task.problems:
            print("    " + problem.replace("\n", "\n    "))
    total = sum(task.keys for task in tasks)
    all_ok = all(task.ok for task in tasks)
    print(f"total: {total} keys, {'ok' if all_ok else 'FAILED'}")
    summary = {
        "walk": "newcomer",
        "terminal": f"{WIDTH}x{HEIGHT}",
        "ok": all_ok,
        "total_keys": total,
        "tasks": [
            {
                "task": task.name,
                "keys": task.keys,
                "before": BEFORE.get(task.name),
                "ok": task.ok,
                "seconds": round(task.seconds, 1),
            }
            for task in tasks
        ],
    }
    print(json.dumps(summary))
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every key sent, per task")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("newcomer_walk: tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="tui-walk-"))
    try:
        return 0 if report(Walk(folder, args.verbose).run()) else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
