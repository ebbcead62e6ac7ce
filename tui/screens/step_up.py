"""The TOTP step-up of an SSH console: the key proved who connects; the authenticator code proves it is them.

Shown by ``tui ssh-console`` before the console opens, when the key's user has an authenticator (root always).
The code is checked by :meth:`store.sign_in.SignInService.step_up` — the sign-in service's own rules: a used
step is never accepted again, failures count towards the same per-identity lock, every attempt is audited —
and then the key-only portal sign-in is replaced by one with ``mfa=True`` (the caller revokes the old one).
The app's result is that new :class:`~store.portal.SignedIn`, or None when the person quits (ctrl+q).
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from store.directory import Directory
from store.errors import StoreError
from store.portal import SignedIn
from store.sign_in import LOCK_AFTER
from tui.crash import QuietCrash
from tui.literal import literal
from tui.widgets.code_input import CodeInput
from tui.workers import background

STEP_UP_FAILED = (
    "That code is not right, or there were too many attempts and sign-in is paused for a few "
    "minutes. Enter the current code."
)


class StepUpScreen(Screen[None]):
    DEFAULT_CSS = """
    StepUpScreen { align: center middle; }
    StepUpScreen #step-up-box { width: 64; max-width: 100%; height: auto; border: thick $primary;
                                background: $surface; padding: 0 2; }
    StepUpScreen .step-up-title { text-style: bold; color: $accent; }
    StepUpScreen .step-up-where { color: $text-muted; margin-bottom: 1; }
    StepUpScreen .step-up-row { height: 1; margin-bottom: 1; }
    StepUpScreen Label { color: $text-muted; width: 11; }
    StepUpScreen Input { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    StepUpScreen Input:focus { border: none; background: $primary 30%; }
    StepUpScreen #step-up-message { color: $error; text-style: bold; height: auto; }
    StepUpScreen .step-up-keys { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, directory: Directory, signed_in: SignedIn, fingerprint: str | None) -> None:
        super().__init__()
        self.directory = directory
        self.signed_in = signed_in
        self.fingerprint = fingerprint
        self.failures = 0
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="step-up-box"):
            yield Static("tui · SSH sign-in", classes="step-up-title")
            key = f" with key {self.fingerprint}" if self.fingerprint else ""
            yield Static(literal(f"Signed in as {self.signed_in.user_name}{key}."), id="step-up-who")
            yield Static(
                "Enter the 6-digit code from your authenticator app to open the console.",
                classes="step-up-where",
                markup=False,
            )
            with Horizontal(classes="step-up-row"):
                yield Label("Code")
                yield CodeInput(id="step-up-code", placeholder="6 digits")
            yield Static("", id="step-up-message")
            yield Static(
                "enter  Continue    ctrl+q  Quit (ends the connection)", classes="step-up-keys", markup=False
            )

    def on_mount(self) -> None:
        self.query_one("#step-up-code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        code = event.value.strip()
        if not code or self.busy:
            return
        self.busy = True
        self.query_one("#step-up-message", Static).update("Checking…")
        self._check(code)

    @background(group="step-up", exclusive=True)
    def _check(self, code: str) -> None:
        user_id = self.signed_in.user_id
        assert user_id is not None
        try:
            proven = self.directory.sign_in.step_up(user_id, code, client="ssh")
            upgraded = self.directory.portal.issue_for(
                user_id, client="ssh", method="publickey+totp", mfa=True, proof=proven
            )
        except StoreError:
            self.app.call_from_thread(self._failed)
            return
        self.app.call_from_thread(self.app.exit, upgraded)

    def _failed(self) -> None:
        self.busy = False
        self.failures += 1
        message = STEP_UP_FAILED
        if self.failures >= LOCK_AFTER:
            message += f" ({self.failures} failed attempts: the identity may be paused for 1 to 15 minutes.)"
        self.query_one("#step-up-message", Static).update(literal(message))
        box = self.query_one("#step-up-code", Input)
        box.value = ""
        box.focus()


class StepUpApp(QuietCrash, App[SignedIn | None]):
    """A small app of its own: nothing of the directory is drawn before the code is right."""

    TITLE = "tui"

    def __init__(self, directory: Directory, signed_in: SignedIn, fingerprint: str | None) -> None:
        super().__init__()
        self.step_up = StepUpScreen(directory, signed_in, fingerprint)

    def on_mount(self) -> None:
        self.push_screen(self.step_up)
