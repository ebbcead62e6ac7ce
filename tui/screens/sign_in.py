"""The console's gate: user name, password, code (Tab moves, Enter signs in), then what the user still owes.

A directory without root opens the first-run wizard instead. After a sign-in that owes a new password (reset
by an administrator, or expired) or a new authenticator (a recovery code was used), those are collected here,
before the console opens; only then is the portal sign-in issued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from store.audit import Actor
from store.credentials import TotpEnrolment
from store.crypto import totp_code
from store.demo import DEMO_ALICE, DEMO_USER_PASSWORD
from store.errors import StoreError
from store.identity import has_root
from store.password_policy import describe_policy
from store.sign_in import LOCK_AFTER, SignIn
from tui.literal import literal
from tui.screens.credentials import NewPasswordModal, TotpEnrolModal, show_recovery_codes
from tui.widgets.code_input import CodeInput, is_complete_code
from tui.widgets.text_fields import TextInput, after_typing
from tui.workers import background

if TYPE_CHECKING:
    from tui.app import TuiApp


class SignInScreen(Screen[None]):
    DEFAULT_CSS = """
    SignInScreen { align: center middle; }
    SignInScreen #sign-in-box { width: 64; max-width: 100%; height: auto; border: thick $primary;
                                background: $surface; padding: 0 2; }
    SignInScreen .sign-in-title { text-style: bold; color: $accent; }
    SignInScreen .sign-in-where { color: $text-muted; margin-bottom: 1; }
    SignInScreen .sign-in-row { height: 1; margin-bottom: 1; }
    SignInScreen Label { color: $text-muted; width: 11; }
    SignInScreen Input { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    SignInScreen Input:focus { border: none; background: $primary 30%; }
    SignInScreen #sign-in-message { color: $error; text-style: bold; height: auto; }
    SignInScreen #sign-in-hint { color: $warning; height: auto; }
    SignInScreen #sign-in-demo { color: $success; height: auto; margin-top: 1; }
    SignInScreen .sign-in-keys { color: $text-muted; margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._announcement = ""
        self.failures = 0  # this console's consecutive failures (what the person here already knows)
        self.busy = False

    @property
    def tui_app(self) -> TuiApp:
        return self.app  # type: ignore[return-value]  # this screen runs only inside TuiApp

    def compose(self) -> ComposeResult:
        directory = self.tui_app.directory
        with Vertical(id="sign-in-box"):
            yield Static("tui · sign in", classes="sign-in-title")
            yield Static(literal(f"Directory {directory.db.path}"), classes="sign-in-where")
            with Horizontal(classes="sign-in-row"):
                yield Label("User name")
                yield TextInput(id="sign-in-user", placeholder="root, or your user name")
            with Horizontal(classes="sign-in-row"):
                yield Label("Password")
                yield TextInput(id="sign-in-password", password=True)
            with Horizontal(classes="sign-in-row"):
                yield Label("Code")
                yield CodeInput(id="sign-in-code", placeholder="6 digits, or a recovery code", recovery=True)
            yield Static("", id="sign-in-message")
            yield Static("", id="sign-in-hint")
            if self.tui_app.demo is not None:
                yield Static("", id="sign-in-demo")
            yield Static(
                "tab  Next field    enter  Next / sign in    ctrl+q  Quit\n"
                "Users without an authenticator leave the code empty.",
                classes="sign-in-keys",
                markup=False,
            )

    def on_mount(self) -> None:
        self.reset(self._announcement)
        if self.tui_app.demo is not None:
            self._show_demo_code()
            self.set_interval(1.0, self._show_demo_code)
        self._check_root()

    @background(group="sign-in-root", exclusive=True)
    def _check_root(self) -> None:
        if not has_root(self.tui_app.directory):
            self.app.call_from_thread(self._first_run)

    def _first_run(self) -> None:
        from tui.screens.first_run import FirstRunScreen

        if self.app.screen is self:  # only over the sign-in screen itself, never over what a program pushed
            self.app.push_screen(FirstRunScreen())

    def _show_demo_code(self) -> None:
        demo = self.tui_app.demo
        if demo is None:
            return
        now = self.tui_app.directory.clock()
        # Each of the demo's kinds of sign-in: root, an administrator with MFA, a user owing a new password.
        rows = [
            (who.user_name, who.password, f"code {totp_code(who.totp_secret, now)}")
            for who in (demo, DEMO_ALICE)
        ]
        rows.append(("bob", DEMO_USER_PASSWORD, "no code; then a new password"))
        self.query_one("#sign-in-demo", Static).update(
            Text(
                "Demo directory (codes change every 30 s):"
                + "".join(f"\n{name:<6} {password:<21} {how}" for name, password, how in rows)
            )
        )

    # -- signing in --------------------------------------------------------------------------------------

    # Enter is the screen's, before the field's, as Tab is the app's: the focus moves at once, so what is
    # typed right after it (keys sent in one burst: a paste, tmux's send-keys, a script) lands in the next
    # field. Through the field's Submitted message the move came after those keys, and "alice⏎passphrase"
    # was all typed into the user name. What depends on the values waits until every field has the keys
    # typed into it before this Enter (each field reads its keys at its own pace).
    BINDINGS = [Binding("enter", "next_or_sign_in", show=False, priority=True)]

    def _fields(self) -> tuple[Input, Input, CodeInput]:
        return (
            self.query_one("#sign-in-user", Input),
            self.query_one("#sign-in-password", Input),
            self.query_one("#sign-in-code", CodeInput),
        )

    def action_next_or_sign_in(self) -> None:
        user, password, code = self._fields()
        focused = self.focused
        if focused is user:
            self.set_focus(password)
            return
        if focused is password and not code.value.strip():
            # Enter moves on to the code, as from the user name: a sign-in that needed one failed, counted
            # towards the lock. Enter on the empty code signs in without one.
            self.set_focus(code)
            self.query_one("#sign-in-message", Static).update("")  # "Signed out." is the last one's news
            self.query_one("#sign-in-hint", Static).update(
                "Code: the 6 digits from your authenticator (Enter again if you have none)"
            )
            return
        after_typing([code, password, user], self._sign_in)

    def _sign_in(self) -> None:
        user, password, code = self._fields()
        for box in (user, password):
            if not box.value.strip():
                self.set_focus(box)  # enter with a required field empty moves there instead of failing
                if not is_complete_code(code.value):
                    code.value = ""  # most likely the password, typed one Tab too far
                return
        if not self.busy:
            self.busy = True
            self.query_one("#sign-in-message", Static).update("Signing in…")
            self._attempt(user.value.strip(), password.value, code.value)

    @background(group="sign-in", exclusive=True)
    def _attempt(self, user_name: str, password: str, code: str) -> None:
        try:
            sign_in = self.tui_app.directory.sign_in.attempt(user_name, password, code, client="console")
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc.message)
        else:
            self.app.call_from_thread(self._succeeded, sign_in)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.failures += 1
        self.query_one("#sign-in-message", Static).update(literal(message))
        hint = ""
        if self.failures >= LOCK_AFTER:
            hint = (
                f"{self.failures} failed attempts from this console. After repeated failures an identity is "
                "paused for 1 to 15 minutes, even with the right password and code."
            )
        self.query_one("#sign-in-hint", Static).update(literal(hint))
        self.query_one("#sign-in-password", Input).value = ""
        self.query_one("#sign-in-code", Input).value = ""
        self.query_one("#sign-in-password", Input).focus()

    def _succeeded(self, sign_in: SignIn) -> None:
        self.failures = 0
        self.query_one("#sign-in-hint", Static).update("")
        # What the user does from here (a new password, a new authenticator) is done as them.
        self.tui_app.directory.actor = Actor(sign_in.user.user_name, "console")
        self._next_step(sign_in, password_done=False)

    def _next_step(self, sign_in: SignIn, *, password_done: bool) -> None:
        directory = self.tui_app.directory
        user = sign_in.user
        if sign_in.must_change_password and not password_done:

            def changed(result: object) -> None:
                if result is None:
                    self._abandon("Sign-in not finished: a new password is required.")
                else:
                    self.notify("Password changed")
                    self._next_step(sign_in, password_done=True)

            self.app.push_screen(
                NewPasswordModal(
                    f"{user.user_name}: choose a new password",
                    lambda password, _: directory.credentials.complete_password_change(
                        user.id, password, proof=sign_in
                    ),
                    policy_lines=describe_policy(directory.password_policy.get()),
                ),
                changed,
            )
            return
        if sign_in.must_enrol_totp:
            self._begin_enrolment(sign_in)
            return
        self._issue(sign_in)

    @background(group="sign-in-enrol", exclusive=True)
    def _begin_enrolment(self, sign_in: SignIn) -> None:
        try:
            enrolment = self.tui_app.directory.credentials.begin_totp(sign_in.user.id, proof=sign_in)
        except StoreError as exc:
            self.app.call_from_thread(self._abandon, exc.message)
            return
        self.app.call_from_thread(self._enrol, sign_in, enrolment)

    def _enrol(self, sign_in: SignIn, enrolment: TotpEnrolment) -> None:
        credentials, user = self.tui_app.directory.credentials, sign_in.user

        def enrolled(codes: list[str] | None) -> None:
            if not codes:
                self._abandon(
                    "Sign-in not finished: a recovery code was used, so a new authenticator is required."
                )
                return
            show_recovery_codes(self, user.user_name, codes, lambda _: self._issue(sign_in))

        self.app.push_screen(
            TotpEnrolModal(
                f"{user.user_name}: you signed in with a recovery code; enrol a new authenticator",
                enrolment,
                lambda code: credentials.confirm_totp(user.id, enrolment.secret, code, recovering=sign_in),
            ),
            enrolled,
        )

    @background(group="sign-in-issue", exclusive=True)
    def _issue(self, sign_in: SignIn) -> None:
        try:
            signed_in = self.tui_app.directory.portal.issue(sign_in)
        except StoreError as exc:
            self.app.call_from_thread(self._abandon, exc.message)
            return
        self.app.call_from_thread(self._open_console, signed_in)

    def _open_console(self, signed_in: object) -> None:
        self.busy = False
        self.reset()
        self.tui_app.start_session(signed_in)  # type: ignore[arg-type]  # the worker hands back a SignedIn

    def _abandon(self, message: str) -> None:
        self.busy = False
        self.tui_app.directory.actor = self.tui_app.base_actor
        self.reset(message)

    def announce(self, message: str) -> None:
        """Reset the screen with ``message`` (why the last sign-in ended), now or once it is mounted."""
        self._announcement = message
        if self.is_mounted:
            self.reset(message)

    def reset(self, message: str = "") -> None:
        """Empty every field (nothing of the last person stays), show ``message``, focus the user name."""
        for box in self.query(Input):
            box.value = ""
        self.query_one("#sign-in-message", Static).update(literal(message))
        self.query_one("#sign-in-hint", Static).update("")
        self.query_one("#sign-in-user", Input).focus()
