"""The console: one Textual app, a mode per concept, every action on a key and in the command palette.

It opens on a gate: the sign-in screen (or the first-run wizard when the directory has no root). Nothing of
the directory is shown, and no section key, palette or help works, until someone has signed in. A program that
has already authenticated the person (the SSH server) passes ``TuiApp(directory, signed_in=…)`` and the
console opens signed in. A sign-in ends after 15 minutes without a key press, after 12 hours whatever happens,
when its portal sign-in is revoked (password change, MFA reset, disable, delete), or on ``ctrl+o``.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import signal
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from textual import events
from textual.app import App, ScreenStackError, SystemCommand, UnknownModeError
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen

from store.audit import Actor
from store.demo import DemoSignIn
from store.directory import Directory, os_actor
from store.errors import StoreError
from store.portal import NotSignedIn, SignedIn
from store.presence import Presence, PresenceRefused, Present
from tui import textual_fixes
from tui.commands import commands
from tui.crash import QuietCrash
from tui.literal import visible
from tui.messages import DirectoryChanged
from tui.screens.accounts import AccountsScreen
from tui.screens.assignments import AssignmentsScreen
from tui.screens.dashboard import ROOT_BANNER, DashboardScreen, needs_admin_user
from tui.screens.groups import GroupsScreen
from tui.screens.help import HelpScreen
from tui.screens.modals import ask_to_discard
from tui.screens.my_access import MyAccessScreen
from tui.screens.permission_sets import PermissionSetsScreen
from tui.screens.policies import PoliciesScreen
from tui.screens.sessions import SessionsScreen
from tui.screens.sign_in import SignInScreen
from tui.screens.simulator import SimulatorScreen
from tui.screens.sources import SourcesScreen
from tui.screens.users import UsersScreen
from tui.widgets.nav_bar import SECTIONS, SELF_SERVICE, SOURCES, NavBar
from tui.workers import background

textual_fixes.apply()

# How often the console asks SQLite whether another process committed (PRAGMA data_version is a cheap read).
CHANGE_POLL_SECONDS = 1.0
PRESENCE_SECONDS = 3.0
SWEEP_SECONDS = 600.0  # expired sessions older than the retention period go, every ten minutes
IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
GATE = "gate"
# What nobody may do before signing in (quitting stays possible).
GATED_ACTIONS = {"switch_mode", "help", "command_palette", "sign_out", "my_credentials", "open_import"}
GATED_ACTIONS |= {"audit_log"}


def console_actor() -> Actor:
    """The operating-system account that opened the console; once someone signs in, the audit names them."""
    return os_actor("console")


class TuiApp(QuietCrash, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui"
    MODES = {
        GATE: SignInScreen,
        "dashboard": DashboardScreen,
        "users": UsersScreen,
        "groups": GroupsScreen,
        "accounts": AccountsScreen,
        "permission_sets": PermissionSetsScreen,
        "assignments": AssignmentsScreen,
        "policies": PoliciesScreen,
        "sessions": SessionsScreen,
        "simulator": SimulatorScreen,
        "my_access": MyAccessScreen,
        "sources": SourcesScreen,
    }
    DEFAULT_MODE = "dashboard"
    # Does the directory know an identity-provider source: the nav bar then shows Sources (S).
    provisioning = var(False)
    BINDINGS = [
        # Not in the footer: the nav bar on the first line shows every section with its key, and the footer's
        # width is kept for the keys of the screen (at 80 columns the sections pushed them out of sight).
        *(Binding(key, f"switch_mode('{mode}')", short, show=False) for key, mode, _, short in SECTIONS),
        Binding(SOURCES[0], f"switch_mode('{SOURCES[1]}')", SOURCES[2], show=False),
        Binding("question_mark", "help", "Help"),
        Binding("i", "open_import", "Import"),
        # Priority: the app moves focus as it reads the key, so keys typed in the same burst after a Tab (a
        # password manager typing "user⇥password⏎", a paste) land in the next field, not the last one.
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
        Binding("ctrl+o", "sign_out", "Sign out"),
    ]

    def __init__(
        self,
        directory: Directory,
        *,
        signed_in: SignedIn | None = None,
        demo: DemoSignIn | None = None,
        exit_on_sign_out: bool = False,
    ) -> None:
        """``signed_in``: open already signed in as that identity (from ``PortalService.issue``/``issue_for``;
        its token, when it has one, is checked whenever the directory changes). ``demo``: show the demo root's
        current code on the sign-in screen. ``exit_on_sign_out``: quit instead of returning to the sign-in
        screen when the sign-in ends (an SSH session)."""
        # Textual reads the starting mode in App.__init__: signed in, start on the dashboard (My access for a
        # user who is not an admin); else at the gate.
        self.is_admin = signed_in is not None and (
            signed_in.user_id is None or (signed_in.mfa and directory.admins.is_admin(signed_in.user_id))
        )
        # A class variable in Textual; this console picks its first mode per instance, before App.__init__.
        self.DEFAULT_MODE = GATE if signed_in is None else home_mode(self.is_admin)  # type: ignore[misc]
        super().__init__()
        self.directory = directory
        self.base_actor = directory.actor
        self.demo = demo
        self.exit_on_sign_out = exit_on_sign_out
        self.signed_in: SignedIn | None = None
        self._session_started: datetime = directory.clock()
        self._last_activity: datetime = directory.clock()
        self._data_version: tuple[int, int] | None = None
        self.console_id = uuid.uuid4().hex
        self.presence: Presence | None = None
        self.others_here: list[Present] = []
        if signed_in is not None:
            self._begin(signed_in)

    def on_mount(self) -> None:
        self._data_version = (self.directory.db.data_version() or 0, self.directory.db.commits)
        self.set_interval(CHANGE_POLL_SECONDS, self._notice_changes)
        self.set_interval(SWEEP_SECONDS, self.sweep_sessions)
        self._look_for_sources()
        if str(self.directory.db.path) != ":memory:":
            try:
                self.presence = Presence(self.directory.db.path)
            except (PresenceRefused, OSError, sqlite3.Error) as exc:
                # Presence is best effort: the console works without it, and says why it is off.
                self.notify(visible(exc), title="Presence off", severity="warning", markup=False, timeout=10)
            else:
                self.set_interval(PRESENCE_SECONDS, self._announce_presence)
                self._announce_presence()
        if self.signed_in is not None and self.signed_in.is_root:
            self._root_notice()

    def _shown_screen(self) -> Screen[object] | None:
        """The screen shown, or None between two (a sign-in or sign-out switching modes, the console
        closing): a timer that fires then has no screen to tell, and must not crash the console."""
        try:
            return self.screen
        except (ScreenStackError, UnknownModeError):
            return None

    def _switch_to(self, mode: str) -> bool:
        """``switch_mode``, unless the console is closing (False then): a sign-out or a change of rights that
        arrives from a worker or a timer while Textual closes every mode's screens would open a mode's stack
        under it (``RuntimeError: dictionary changed size during iteration``, seen once in CI)."""
        if not self.is_running:
            return False
        self.switch_mode(mode)
        return True

    def _refresh_nav_bars(self) -> None:
        screen = self._shown_screen()
        for bar in screen.query(NavBar) if screen is not None else ():
            bar.refresh_sections()

    def _notice_changes(self) -> None:
        self.check_session()
        if self._shown_screen() is None:
            return  # the next poll tells the screen that comes
        other = self.directory.db.data_version(wait=False)
        if other is None:
            return
        # Another process's commits and this console's own (a worker's, another screen's) alike.
        version = (other, self.directory.db.commits)
        if version == self._data_version:
            return
        self._data_version = version
        if self.signed_in is not None:
            self._check_still_signed_in(self.signed_in)
        screen = self._shown_screen()  # a sign-out just above may have left none: the next one reads afresh
        if screen is not None:
            screen.post_message(DirectoryChanged())
        self._look_for_sources()

    @background(group="look-for-sources", exclusive=True)
    def _look_for_sources(self) -> None:
        try:
            known = self.directory.scim_sources.known()
        except StoreError:
            return  # the file is busy: the next change looks again
        self.call_from_thread(setattr, self, "provisioning", known)

    @background(group="sweep", exclusive=True)
    def sweep_sessions(self) -> None:
        """Delete sessions dead for longer than the retention period (as ``tui sessions sweep`` does)."""
        if self.signed_in is not None and self.is_admin:
            try:
                self.directory.sessions.sweep()
            except StoreError:
                pass  # the file is busy: the next sweep will do it

    # -- presence -----------------------------------------------------------------------------------------

    @background(group="presence", exclusive=True)
    def _announce_presence(self) -> None:
        """Say who is here and on which screen; learn who else is (a sidecar file, see store.presence)."""
        if self.presence is None:
            return
        signed_in = self.signed_in
        if signed_in is not None:
            # The section under any form or dialog: "users", not the dialog's class name.
            screen = next(
                (name for shown in reversed(self.screen_stack) if (name := getattr(shown, "nav_name", ""))),
                self.current_mode,
            )
            self.presence.beat(self.console_id, signed_in.user_name, screen, signed_in.client)
        else:
            self.presence.leave(self.console_id)
        others = self.presence.others(self.console_id) if signed_in is not None else []
        self.call_from_thread(self._show_presence, others)

    def _show_presence(self, others: list[Present]) -> None:
        self.others_here = others
        self._refresh_nav_bars()

    def on_unmount(self) -> None:
        if self.presence is not None:
            self.presence.leave(self.console_id)
            self.presence.close()

    # -- the sign-in -------------------------------------------------------------------------------------

    def _begin(self, signed_in: SignedIn) -> None:
        self.signed_in = signed_in
        # The audit names the person and the client (console, ssh); the store applies the person's rights.
        self.directory.act_under(signed_in, signed_in.actor())
        self.is_admin = self.directory.acting_is_admin
        self._session_started = self._last_activity = self.directory.clock()

    def start_session(self, signed_in: SignedIn) -> None:
        """Open the console for ``signed_in`` (called by the sign-in screen and the first-run wizard)."""
        self._begin(signed_in)
        self._switch_to(home_mode(self.is_admin))
        if signed_in.is_root:
            self._root_notice()

    def _root_notice(self) -> None:
        if needs_admin_user(self.directory):  # not once an admin group has members
            self.notify(f"Signed in as root: {ROOT_BANNER}.", severity="warning", timeout=6)

    def sign_out(self, reason: str = "Signed out.") -> None:
        """End the sign-in: revoke its portal sign-in, forget every screen's state, back
        to the sign-in screen."""
        signed_in, self.signed_in = self.signed_in, None
        if signed_in is None:
            return
        if signed_in.token is not None:
            self._revoke(signed_in.token)
        self.directory.sign_out(self.base_actor)  # at the gate nobody's rights apply
        self.is_admin = False
        if self.exit_on_sign_out:
            self.exit(message=reason)
            return
        if not self._switch_to(GATE):
            return  # the console is closing: the sign-in is over, there are no screens to reset
        # Screens of the last sign-in (a half-typed form, a filter, a detail view) must not greet
        # the next person.
        for mode, screen in self.MODES.items():
            if mode != GATE:
                self.remove_mode(mode)
                self.add_mode(mode, screen)
        gate = self.screen_stack[0]
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if isinstance(gate, SignInScreen):
            gate.announce(reason)

    @background(group="sign-out")
    def _revoke(self, token: str) -> None:
        try:
            self.directory.portal.revoke(token, "signed out")
        except StoreError:
            pass  # already over, or the file is busy: the token expires on its own

    @background(group="sign-in-check", exclusive=True)
    def _check_still_signed_in(self, signed_in: SignedIn) -> None:
        """After another process committed: is this sign-in still good (not revoked, user not disabled), and
        is this user still an admin?"""
        try:
            if signed_in.token is not None:
                self.directory.portal.verify(signed_in.token)
            elif (
                signed_in.user_id is not None
                and self.directory.users.get(signed_in.user_id).status != "active"
            ):
                raise NotSignedIn("this user was disabled")
        except StoreError as exc:
            self.call_from_thread(self._ended_elsewhere, signed_in, exc.message)
            return
        if signed_in.user_id is not None:
            admin = self.directory.refresh_rights()
            if admin != self.is_admin:
                self.call_from_thread(self._rights_changed, signed_in, admin)

    def _rights_changed(self, signed_in: SignedIn, admin: bool) -> None:
        if self.signed_in is not signed_in:
            return
        self.is_admin = admin
        if admin:
            self.notify("You are now an administrator.")
        else:
            self.notify(
                "You are no longer an administrator: only your own access remains.", severity="warning"
            )
            self._switch_to(home_mode(False))
        self._refresh_nav_bars()

    def _ended_elsewhere(self, signed_in: SignedIn, message: str) -> None:
        if self.signed_in is signed_in:
            self.sign_out(f"Signed out: {message.removesuffix(': run tui login again')}.")

    def check_session(self) -> None:
        """Sign out after 15 minutes idle or 12 hours in all (by the directory's clock)."""
        if self.signed_in is None:
            return
        now = self.directory.clock()
        if now - self._session_started >= ABSOLUTE_TIMEOUT:
            self.sign_out("Signed out: a console sign-in lasts at most 12 hours. Sign in again.")
        elif now - self._last_activity >= IDLE_TIMEOUT:
            self.sign_out("Signed out after 15 minutes without activity. Sign in again.")

    async def on_event(self, event: events.Event) -> None:
        if (
            isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp))
            and not event.is_forwarded
        ):
            self._last_activity = self.directory.clock()
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.signed_in is None and action in GATED_ACTIONS:
            return False
        # A user who is not an admin is not shown keys for what they cannot open.
        if not self.is_admin and (
            action in ("open_import", "audit_log")
            or (action == "switch_mode" and parameters and parameters[0] not in SELF_SERVICE)
        ):
            return False
        return True

    def action_sign_out(self) -> None:
        self._unless_unsaved("Sign out", lambda: self.sign_out("Signed out."))

    def action_my_credentials(self) -> None:
        if self.signed_in is not None and self.signed_in.user_id is not None:
            from tui.screens.credentials import CredentialsScreen

            self.push_screen(CredentialsScreen(self.signed_in.user_id))

    async def action_switch_mode(self, mode: str) -> None:
        if self.signed_in is None or mode == GATE:
            return  # only the sign-in leaves the gate, and nothing but sign-out returns to it
        if not self.is_admin and mode not in SELF_SERVICE:
            self.notify(
                "Only administrators can open that: you have My access (0) and your credentials.",
                severity="warning",
            )
            return
        self.go_to(mode)

    def go_to(self, mode: str) -> None:
        """Show a section (its key, the palette's "Go to …")."""
        if self._switch_to(mode):
            self._back_to_list()

    def _back_to_list(self) -> None:
        """A section's key shows its list, as the nav bar promises: what was opened on it (a user's page,
        their sessions) is closed, or `2 Users` showed the last of those. An editor with unsaved changes stays
        open, with what is above it gone (esc there asks before throwing the changes away)."""
        while len(self.screen_stack) > 1 and not unsaved_changes(self.screen):
            self.pop_screen()

    def _unsaved_anywhere(self) -> bool:
        return any(unsaved_changes(screen) for stack in self._screen_stacks.values() for screen in stack)

    def _unless_unsaved(self, what: str, then: Callable[[], object]) -> None:
        """Run ``then`` (quit, sign out), after asking when an edit somewhere is not saved."""
        if not self._unsaved_anywhere():
            then()
            return
        ask_to_discard(self, what, then)

    async def action_quit(self) -> None:
        self._unless_unsaved("Quit", self.exit)

    def action_open_import(self) -> None:
        if not self.is_admin:
            self.notify("Only administrators can import.", severity="warning")
            return
        from tui.screens.import_screen import ImportScreen

        if not isinstance(self.screen, ImportScreen):
            self.push_screen(ImportScreen())

    def action_audit_log(self) -> None:
        """The audit log (everyone's actions): for administrators only."""
        if not self.is_admin:
            self.notify("Only administrators can read the audit log.", severity="warning")
            return
        from tui.screens.audit_log import AuditLogScreen

        if not isinstance(self.screen, AuditLogScreen):
            self.push_screen(AuditLogScreen())

    def action_help(self) -> None:
        if self.signed_in is not None and not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette offers every action: the sections and the current screen's keys. Textual's own system
        commands are left out: over SSH, Screenshot would write the screen (credentials shown once included)
        to a file on the server; Theme, Keys, Quit and Maximize only duplicate keys or change the look."""
        if self.signed_in is None:
            return
        for key, mode, label, _ in SECTIONS:
            if self.is_admin or mode in SELF_SERVICE:
                yield SystemCommand(f"Go to {label}", f"key {key}", functools.partial(self.go_to, mode))
        if self.is_admin:
            key, mode, label, _ = SOURCES
            yield SystemCommand(
                f"Go to {label}",
                f"key {key} · identity providers: SCIM tokens, requests, errors, paused syncs",
                functools.partial(self.go_to, mode),
            )
            yield SystemCommand(
                "Audit log (events)",
                "key l on the Dashboard · every change and sign-in, newest first: who, what, when",
                self.action_audit_log,
            )
        # This screen's keys, then every other screen's actions by name (the palette takes you there).
        for name, help_text, run in commands(self, screen):
            yield SystemCommand(name, help_text, run)
        yield SystemCommand("Help", "key ?: every key on this screen, and what each does", self.action_help)


def unsaved_changes(screen: Screen[object]) -> bool:
    """Does ``screen`` hold edits not saved yet (a screen that can tell has ``unsaved_changes()``)."""
    check = getattr(screen, "unsaved_changes", None)
    return bool(check()) if callable(check) else False


def home_mode(admin: bool) -> str:
    """Where a sign-in starts: the dashboard for admins, My access for everyone else."""
    return "dashboard" if admin else "my_access"


def run_console(db_path: Path, *, demo: bool = False, key_path: Path | None = None) -> int:
    """Open the console on ``db_path`` (created if missing), or on a throw-away seeded directory whose demo
    root's current code the sign-in screen shows. Returns its exit status (``tui.crash.INTERNAL_ERROR`` when a
    bug of ours ended it)."""
    if not demo:
        with Directory.open(db_path, console_actor(), key_path=key_path) as directory:
            app = TuiApp(directory)
            with _ending_on_hangup(app):
                app.run()
            return app.return_code or 0
    from store.demo import seed_demo, seed_demo_admin_group, seed_demo_credentials, seed_demo_root

    folder = tempfile.mkdtemp(prefix="tui-demo-")
    try:
        with Directory.open(Path(folder) / "demo.db", console_actor()) as directory:
            root = seed_demo_root(directory)
            seed_demo(directory)
            seed_demo_credentials(directory)
            seed_demo_admin_group(directory)
            directory.actor = console_actor()
            app = TuiApp(directory, demo=root)
            with _ending_on_hangup(app):
                app.run()
            return app.return_code or 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _ending_on_hangup(app: TuiApp) -> Iterator[None]:
    """A closed terminal (SIGHUP) or a polite kill (SIGTERM) ends the console as ctrl+q does, so what it
    leaves behind is cleaned up (the demo's throw-away folder and key file stayed in /tmp): Python's default
    for both is to stop at once, without running any ``finally``."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (a test may run the console elsewhere)
        return

    def end(signum: int, _frame: object) -> None:
        app.exit(return_code=128 + signum)

    previous = {number: signal.signal(number, end) for number in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
