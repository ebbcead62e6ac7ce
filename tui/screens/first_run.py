"""The first-run wizard: a directory without root gets one, in the steps of ``tui init``.

1. root's password, twice (the policy's reasons shown when refused);
2. an authenticator: QR code + secret, and one current code to prove it works (then root and the key file are
   created, in one transaction);
3. the 10 recovery codes, shown once. Enter opens the console, signed in as root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Label, Static

from store.credentials import TotpEnrolment
from store.errors import StoreError
from store.identity import RootCreated, initialise, new_root_enrolment
from store.password_policy import describe_policy
from store.users import ROOT_NAME
from tui.literal import literal
from tui.screens.credentials import EnrolmentPanel, recovery_code_lines
from tui.widgets.text_fields import TextInput, after_typing
from tui.workers import background

if TYPE_CHECKING:
    from tui.app import TuiApp

INTRO = (
    "This directory has no root identity yet. Root is the break-glass identity: it can do everything, "
    "always signs in with a password and an authenticator code, and should be used only to set up "
    "administrators and in emergencies."
)


class FirstRunScreen(Screen[None]):
    DEFAULT_CSS = """
    FirstRunScreen { padding: 0 1; }
    FirstRunScreen .wizard-title { height: 1; text-style: bold; background: $panel; }
    FirstRunScreen ContentSwitcher { height: 1fr; }
    FirstRunScreen #step-password, FirstRunScreen #step-codes { padding: 1 2; height: auto; max-width: 90; }
    FirstRunScreen #step-password Input { width: 60; border: tall $panel; }
    FirstRunScreen #step-password Input:focus { border: tall $accent; }
    FirstRunScreen .wizard-text { margin-bottom: 1; }
    FirstRunScreen .wizard-muted { color: $text-muted; }
    FirstRunScreen .wizard-error { color: $error; text-style: bold; height: auto; }
    FirstRunScreen #codes { text-style: bold; margin: 1 0; }
    FirstRunScreen #step-totp { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("enter", "open_console", "Open the console", show=False),
        # Enter in a field is the screen's, before the field's: the focus moves at once, so what is typed
        # right after it (a burst: a paste, tmux) lands in the next field, not in this one.
        Binding("enter", "field_entered", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.enrolment: TotpEnrolment = new_root_enrolment()
        self.password = ""
        self.created: RootCreated | None = None
        self.busy = False

    @property
    def tui_app(self) -> TuiApp:
        return self.app  # type: ignore[return-value]  # this screen runs only inside TuiApp

    def compose(self) -> ComposeResult:
        yield Static("", id="wizard-title", classes="wizard-title")
        with ContentSwitcher(initial="step-password"):
            with Vertical(id="step-password"):
                yield Static(INTRO, classes="wizard-text", markup=False)
                # Which file becomes this directory (TUI_DB or --db chose it, or the default place).
                yield Static("", id="wizard-where", classes="wizard-muted")
                yield Label("Root's password")
                yield TextInput(id="wizard-password", password=True)
                yield Label("Repeat it")
                yield TextInput(id="wizard-repeat", password=True)
                yield Static("", id="wizard-password-error", classes="wizard-error")
                yield Static("", id="wizard-policy", classes="wizard-muted")
                yield Static(
                    "tab  Next field    enter  Continue    ctrl+q  Quit", classes="dialog-keys", markup=False
                )
            yield EnrolmentPanel(
                self.enrolment,
                id="step-totp",
                intro="Root always signs in with a code from an authenticator app.",
                keys="enter  Create root    esc  Back",
            )
            with Vertical(id="step-codes"):
                yield Static("", id="codes-intro", classes="wizard-text")
                yield Static("", id="codes")
                yield Static("", id="codes-key", classes="wizard-muted")
                yield Static(
                    "enter  I have saved them: open the console", classes="dialog-keys", markup=False
                )

    def on_mount(self) -> None:
        self.query_one("#wizard-where", Static).update(
            literal(f"Directory file: {self.tui_app.directory.db.path}")
        )
        policy = describe_policy(self.tui_app.directory.password_policy.get())
        self.query_one("#wizard-policy", Static).update(
            literal("Password policy: " + "; ".join(policy) + ".")
        )
        self._step(1)

    def _step(self, number: int) -> None:
        names = {1: "step-password", 2: "step-totp", 3: "step-codes"}
        titles = {1: "root's password", 2: "root's authenticator", 3: "root's recovery codes"}
        self.query_one(ContentSwitcher).current = names[number]
        self.query_one("#wizard-title", Static).update(
            Text(f" tui · create the root identity · step {number} of 3: {titles[number]}")
        )
        focus = {1: "#wizard-password", 2: "#enrol-code"}.get(number)
        if focus:
            self.set_focus(self.query_one(focus, Input))  # at once: a code typed right after lands in it

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "field_entered":  # only in a field: elsewhere enter is the step's own (open the console)
            return isinstance(self.focused, Input)
        return True

    def action_field_entered(self) -> None:
        # The focus moves now (a burst's next keys are the next field's); the check waits until the fields
        # have the keys typed into them before this Enter, and takes the focus back if it refuses.
        focused = self.focused
        if not isinstance(focused, Input):
            return
        password = self.query_one("#wizard-password", Input)
        if focused is password:
            self.set_focus(self.query_one("#wizard-repeat", Input))
            after_typing([password], lambda: self._password_entered(only_the_first=True))
        elif focused.id == "wizard-repeat":
            after_typing([focused, password], self._password_entered)
        elif focused.id == "enrol-code":
            after_typing([focused], self._code_entered)

    def _code_entered(self) -> None:
        if not self.busy:
            self.busy = True
            self._create(self.query_one(EnrolmentPanel).code)

    # The two password fields as they were when the message under them was said: once either is typed in,
    # the message is about values no longer there and goes ("The two passwords differ." stayed).
    _said_about: tuple[str, str] | None = None

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id not in ("wizard-password", "wizard-repeat") or self._said_about is None:
            return
        now = (self.query_one("#wizard-password", Input).value, self.query_one("#wizard-repeat", Input).value)
        if now != self._said_about:
            self._said_about = None
            self.query_one("#wizard-password-error", Static).update("")

    def _password_entered(self, only_the_first: bool = False) -> None:
        """Enter in the password (``only_the_first``: its policy is checked) or in the repeat (both are)."""
        password = self.query_one("#wizard-password", Input).value
        repeat = self.query_one("#wizard-repeat", Input)
        error = self.query_one("#wizard-password-error", Static)
        reasons = self.tui_app.directory.password_policy.check(password, ROOT_NAME)
        if reasons:
            error.update(literal(" ".join(reasons)))
            self.set_focus(self.query_one("#wizard-password", Input))
            self._said_about = (password, repeat.value)
            return
        if only_the_first or not repeat.value:
            error.update("")
            self.set_focus(repeat)
            return
        if repeat.value != password:
            error.update("The two passwords differ.")
            repeat.value = ""
            self.set_focus(repeat)
            self._said_about = (password, "")
            return
        error.update("")
        self.password = password
        self._step(2)

    @background(group="first-run", exclusive=True)
    def _create(self, code: str) -> None:
        directory = self.tui_app.directory
        try:
            created = initialise(directory, self.password, self.enrolment, code=code)
        except StoreError as exc:
            self.app.call_from_thread(self._create_failed, exc.message)
            return
        self.app.call_from_thread(self._created, created)

    def _create_failed(self, message: str) -> None:
        self.busy = False
        self.query_one(EnrolmentPanel).show_error(message)
        self.query_one("#enrol-code", Input).value = ""

    def _created(self, created: RootCreated) -> None:
        self.created = created
        self.busy = False
        self.password = ""
        self.query_one("#codes-intro", Static).update(
            literal(
                "Root exists now. These recovery codes each sign root in once instead of an authenticator "
                "code, for when the phone is lost. They are shown only now: print them or keep them offline."
            )
        )
        self.query_one("#codes", Static).update(Text("\n".join(recovery_code_lines(created.recovery_codes))))
        self.query_one("#codes-key", Static).update(
            literal(
                f"Key file: {created.key_path} (mode 0600). It seals secrets and keys the audit log: keep it "
                "safe and apart from database backups."
            )
        )
        self._step(3)
        self.set_focus(None)  # no input on this step: enter is the screen's

    def action_open_console(self) -> None:
        if (
            self.created is not None
            and self.query_one(ContentSwitcher).current == "step-codes"
            and not self.busy
        ):
            self.busy = True
            self._sign_in_root(self.created.user.id)

    @background(group="first-run", exclusive=True)
    def _sign_in_root(self, root_id: int) -> None:
        # The wizard just proved root's password and a current code: that is root's first sign-in.
        try:
            signed_in = self.tui_app.directory.portal.issue_for(
                root_id, client="console", method="password+totp", mfa=True, counts_as_sign_in=True
            )
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(self._open, signed_in)

    def _open(self, signed_in: object) -> None:
        self.app.pop_screen()
        self.tui_app.start_session(signed_in)  # type: ignore[arg-type]  # the worker hands back a SignedIn

    def action_back(self) -> None:
        if self.query_one(ContentSwitcher).current == "step-totp" and not self.busy:
            self._step(1)
