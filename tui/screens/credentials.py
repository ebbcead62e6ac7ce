"""A user's credentials: password, authenticator (QR code), recovery codes, access keys and their rotation.

Also the pieces the sign-in and first-run screens share: the enrolment panel (QR code + secret + first code),
the modal that shows secrets once, and the new-password modal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from store.access_keys import MAX_KEYS_PER_USER, AccessKey, NewAccessKey, RotationStep
from store.credentials import CredentialStatus, TotpEnrolment
from store.errors import StoreError, ValidationError
from store.password_policy import describe_policy
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.screens.form import FormField, FormModal
from tui.screens.modals import ConfirmModal
from tui.widgets.code_input import CodeInput
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.workers import background

# The QR code is drawn light-on-dark whatever the theme, so phones read it the right way round.
QR_STYLE = "#ffffff on #000000"


def when(text: str | None, never: str = "never") -> str:
    return text.replace("T", " ").removesuffix("Z") if text else never


class EnrolmentPanel(Horizontal):
    """QR code on the left; the secret, the code box and messages on the right. With user names of up to
    36 characters the code is 41 × 21 characters at most, and the panel fits 80 × 24."""

    DEFAULT_CSS = """
    EnrolmentPanel { height: auto; }
    EnrolmentPanel .qr { width: auto; height: auto; }
    EnrolmentPanel .enrol-side { width: 1fr; height: auto; padding: 0 0 0 2; }
    EnrolmentPanel .enrol-side Static { margin-bottom: 1; }
    EnrolmentPanel Input { width: 16; height: 1; border: none; padding: 0 1; margin-bottom: 1;
                           background: $boost; }
    EnrolmentPanel Input:focus { border: none; background: $primary 30%; }
    EnrolmentPanel .enrol-error { color: $error; }
    """

    def __init__(
        self,
        enrolment: TotpEnrolment,
        *,
        intro: str = "",
        keys: str = "enter  Confirm",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.enrolment = enrolment
        self.intro = intro
        self.keys = keys

    def compose(self) -> ComposeResult:
        yield Static(Text(self.enrolment.qr(), style=QR_STYLE, no_wrap=True), classes="qr", id="qr")
        groups = self.enrolment.grouped_secret.split(" ")
        secret = " ".join(groups[:4]) + "\n" + " ".join(groups[4:])
        with Vertical(classes="enrol-side"):
            if self.intro:
                yield Static(literal(self.intro))
            yield Static(
                "Scan the QR code with an authenticator app, or type this secret into it:", markup=False
            )
            yield Static(Text(secret, style="bold"), id="secret")
            yield Static("Then enter the 6-digit code it shows:", markup=False)
            yield CodeInput(placeholder="123456", id="enrol-code")
            yield Static("", id="enrol-error", classes="enrol-error")
            yield Static(self.keys, classes="dialog-keys", markup=False)

    def show_error(self, message: str) -> None:
        self.query_one("#enrol-error", Static).update(literal(message.removeprefix("code: "), "bold"))

    @property
    def code(self) -> str:
        return self.query_one("#enrol-code", Input).value.strip()


class TotpEnrolModal(ModalScreen[list[str] | None]):
    """Enrol (or replace) an authenticator: dismisses with the new recovery codes, or None when cancelled."""

    DEFAULT_CSS = """
    TotpEnrolModal { align: center middle; }
    TotpEnrolModal > VerticalScroll { width: 84; max-width: 100%; height: auto; max-height: 100%;
                                      border: thick $primary; background: $surface; padding: 0 1; }
    TotpEnrolModal .enrol-title { text-style: bold; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, enrolment: TotpEnrolment, confirm: Callable[[str], list[str]]) -> None:
        super().__init__()
        self.title_text = title
        self.enrolment = enrolment
        self._confirm = confirm
        self.busy = False

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(literal(self.title_text), classes="enrol-title")
            yield EnrolmentPanel(self.enrolment, keys="enter  Confirm    esc  Cancel")

    def on_mount(self) -> None:
        self.query_one("#enrol-code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.busy:
            self.busy = True
            self._run(self.query_one(EnrolmentPanel).code)

    @background(group="enrol", exclusive=True)
    def _run(self, code: str) -> None:
        try:
            codes = self._confirm(code)
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc.message)
        else:
            self.app.call_from_thread(self.dismiss, codes)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.query_one(EnrolmentPanel).show_error(message)
        self.query_one("#enrol-code", Input).value = ""

    def action_cancel(self) -> None:
        self.dismiss(None)


class SecretsModal(ModalScreen[None]):
    """Secrets shown once (recovery codes, a new access key's secret). Enter or esc once they are saved."""

    DEFAULT_CSS = """
    SecretsModal { align: center middle; }
    SecretsModal > Vertical { width: 72; max-width: 100%; height: auto; border: thick $warning;
                              background: $surface; padding: 1 2; }
    SecretsModal .secrets-title { text-style: bold; margin-bottom: 1; }
    SecretsModal .secrets-body { margin-bottom: 1; text-style: bold; }
    SecretsModal .secrets-note { color: $text-muted; }
    """
    BINDINGS = [Binding("enter,escape", "close", "Saved them", priority=True)]

    def __init__(self, title: str, lines: list[str], note: str, saved: str = "I have saved them") -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.note = note
        self.saved = saved

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), classes="secrets-title")
            yield Static(Text("\n".join(self.lines), no_wrap=True), classes="secrets-body", id="secrets")
            yield Static(literal(self.note), classes="secrets-note")
            yield Static(f"enter  {self.saved}", classes="dialog-keys", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def recovery_code_lines(codes: list[str]) -> list[str]:
    return [f"{first}    {second}" for first, second in zip(codes[0::2], codes[1::2], strict=True)]


def show_recovery_codes(
    screen: Any, user_name: str, codes: list[str], then: Callable[[None], Any] | None = None
) -> None:
    screen.app.push_screen(
        SecretsModal(
            f"Recovery codes for {user_name}",
            recovery_code_lines(codes),
            "Each signs in once instead of an authenticator code. They are shown only now: print them or "
            "keep them offline. Generating new ones makes these stop working.",
        ),
        then,
    )


class NewPasswordModal(FormModal):
    """Choose a new password (twice). The password policy's reasons appear under the field."""

    def __init__(
        self,
        title: str,
        save: Callable[[str, bool], Any],
        *,
        policy_lines: list[str] | None = None,
        must_change_choice: bool = False,
        change_own: Callable[[str, str], Any] | None = None,
    ) -> None:
        """``change_own(current, new)``: a user changing their own password, which needs the current one
        (setting it outright is an administrator's act); ``save`` is not called then."""
        fields = [
            FormField("password", "New password", kind="password"),
            FormField("repeat", "Repeat it", kind="password", check=passwords_differ),
        ]
        if change_own is not None:
            fields.insert(0, FormField("currentPassword", "Current password", kind="password"))
        if must_change_choice:
            fields.append(
                FormField(
                    "mustChange",
                    "Must change at next sign-in",
                    kind="choice",
                    choices=(("yes", "yes"), ("no", "no")),
                    value="yes",
                )
            )

        def run(values: dict[str, str], version: int | None) -> Any:
            if (problem := passwords_differ(values)) is not None:
                raise ValidationError(f"repeat: {problem}", "repeat")
            if change_own is not None:
                return change_own(values["currentPassword"], values["password"]) or True
            return save(values["password"], values.get("mustChange") == "yes") or True

        self.policy_lines = policy_lines or []
        # The rules stay in sight under the fields, whatever message comes and goes.
        note = "Policy: " + "; ".join(self.policy_lines) + "." if self.policy_lines else ""
        super().__init__(title, fields, run, note=note)


def passwords_differ(values: dict[str, str]) -> str | None:
    """The repeat's own check, run again as either field is typed while its message is shown."""
    return "the two passwords differ" if values["password"] != values["repeat"] else None


# Acts on a user's credentials that only an administrator may take: not offered on one's own page otherwise.
ADMIN_ONLY = {"remove_password", "reset_totp"}


class CredentialsScreen(DirectoryScreen):
    """One user's credentials. Root's too (from the dashboard): root has no access keys and keeps its MFA."""

    nav_name = "users"

    DEFAULT_CSS = """
    CredentialsScreen .cred-body { height: 1fr; padding: 0 1; }
    CredentialsScreen #cred-fields { height: auto; margin-top: 1; }
    CredentialsScreen #cred-keys { height: auto; max-height: 6; }
    CredentialsScreen #cred-rotation { height: auto; color: $text-muted; }
    CredentialsScreen .cred-title { text-style: bold; color: $accent; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("p", "set_password", "Set password"),
        Binding("x", "remove_password", "Remove password"),
        Binding("t", "enrol_totp", "Enrol authenticator"),
        Binding("T", "reset_totp", "Reset MFA"),
        Binding("g", "recovery_codes", "New recovery codes"),
        Binding("n", "new_key", "New access key"),
        Binding("s", "toggle_key", "Activate/deactivate key"),
        Binding("D", "delete_key", "Delete key"),
        Binding("R", "rotate", "Rotate keys"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id
        self.status: CredentialStatus | None = None
        self.keys: list[AccessKey] = []
        self.step: RotationStep | None = None
        self.local = True  # False: an identity provider's user, whose password is changed there

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="cred-body"):
            yield Static("", id="cred-title", classes="list-title")
            yield Static("", id="cred-fields")
            yield Static("Access keys", classes="cred-title")
            yield DataTable(id="cred-keys", cursor_type="row", zebra_stripes=True)
            yield Static("", id="cred-rotation")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#cred-keys", DataTable)
        table.add_columns("Access key id", "Status", "Created (UTC)", "Last used (UTC)", "Age")
        table.focus()
        self.reload()

    def reload(self) -> None:
        self._load()

    @background(group="credentials", exclusive=True)
    def _load(self) -> None:
        try:
            status = self.directory.credentials.status(self.user_id)
        except StoreError:
            self.app.call_from_thread(self._gone)
            return
        keys = self.directory.access_keys.list(self.user_id)
        step = self.directory.access_keys.rotation_step(self.user_id)
        local = self.directory.users.get(self.user_id).is_local
        self.app.call_from_thread(self._show, status, keys, step, local, self.directory.now_text())

    def _gone(self) -> None:
        self.close_gone("This user was deleted")

    def _show(
        self, status: CredentialStatus, keys: list[AccessKey], step: RotationStep, local: bool, now: str
    ) -> None:
        self.status, self.keys, self.step, self.local = status, keys, step, local
        title = Text("Credentials of ")
        title.append_text(literal(status.user_name))
        if status.is_root:
            title.append("  (root)", style="bold red")
        self.query_one("#cred-title", Static).update(title)
        lines = Text()

        def row(label: str, value: str, style: str = "") -> None:
            lines.append(f"{label:>15}  ", style="dim")
            lines.append(value + "\n", style=style)

        if status.has_password:
            text = f"set {when(status.password_changed_at)}"
            if status.password_expires_at:
                text += f", expires {when(status.password_expires_at)}"
            row(
                "Password",
                text + ("  (expired)" if status.password_expired else ""),
                "red" if status.password_expired else "",
            )
            if status.must_change_password:
                row("", "must be changed at next sign-in", "yellow")
        else:
            row("Password", "none (cannot sign in with a password)", "dim")
        if status.mfa:
            row(
                "Authenticator",
                "TOTP enrolled"
                + ("  (re-enrolment due: a recovery code was used)" if status.mfa_reenrol else ""),
                "yellow" if status.mfa_reenrol else "green",
            )
            row(
                "Recovery codes",
                f"{status.recovery_codes_left} of 10 left",
                "yellow" if status.recovery_codes_left < 3 else "",
            )
        else:
            row("Authenticator", "none: no MFA", "yellow" if status.has_password else "dim")
        sign_in = f"last {when(status.last_sign_in_at)}"
        if status.failed_sign_ins:
            sign_in += f"; {status.failed_sign_ins} failed attempt(s) since"
        if status.locked_until and status.locked_until > now:
            sign_in += f"; paused until {when(status.locked_until)}"
        row("Sign-in", sign_in)
        self.query_one("#cred-fields", Static).update(lines)
        table = self.query_one("#cred-keys", DataTable)
        cursor = table.cursor_row
        table.clear()
        for key in keys:
            age = f"{key.age_days(now)} days"
            stale = key.stale(now)
            table.add_row(
                literal(key.key_id),
                literal(key.status, "green" if key.active else "dim"),
                literal(when(key.created_at)),
                literal(when(key.last_used_at)),
                literal(age + (" (stale)" if stale else ""), "yellow" if stale else ""),
            )
        if keys:
            table.move_cursor(row=min(max(cursor, 0), len(keys) - 1))
        if status.is_root:
            hint = "Root cannot hold access keys: create a user for programmatic access."
        elif not keys:
            hint = "No access keys. n creates one (its secret is shown once)."
        else:
            hint = f"Rotation, next step (R): {step.explanation}."
        self.query_one("#cred-rotation", Static).update(literal(hint))
        self.refresh_bindings()  # the footer offers what applies to these credentials as they are now

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()  # D applies to an inactive key only

    # -- actions -----------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def _user_label(self) -> str:
        if self.status is not None:
            return self.status.user_name
        try:  # asked before the screen has loaded (an action run from the palette as it opens)
            return self.directory.users.get(self.user_id).user_name
        except StoreError:
            return f"user #{self.user_id}"

    def _own_as_user(self) -> bool:
        """Is this the signed-in user's own page, and are they not administering? Then only what a user may
        do to their own credentials is offered (the store refuses the rest anyway)."""
        signed_in = getattr(self.app, "signed_in", None)
        own = signed_in is not None and signed_in.user_id == self.user_id
        return own and not getattr(self.app, "is_admin", False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ADMIN_ONLY and self._own_as_user():
            return False
        # A key that does not apply to these credentials is not offered (and does nothing): no confirmation
        # for a password that is not there, no "Password removed" for nothing.
        return self.why_not(action) is None

    def why_not(self, action: str) -> str | None:
        """Why ``action`` does not apply to the credentials as last loaded (None: it applies, or they have
        not loaded yet)."""
        status = self.status
        if status is None:
            return None
        name = status.user_name
        if action in ("set_password", "remove_password") and not self.local:
            return f"{name} is managed by an identity provider: its password is changed there"
        if action == "remove_password":
            if status.is_root:
                return "Root always has a password: set a new one instead (p)"
            if not status.has_password:
                return f"{name} has no password to remove"
        if action == "reset_totp":
            if status.is_root:
                return "Root cannot lose MFA: enrol a new authenticator instead (t)"
            if not status.mfa:
                return f"{name} has no authenticator to reset"
        if action == "recovery_codes" and not status.mfa:
            return f"{name} has no authenticator: recovery codes come with one (t enrols it)"
        if action in ("new_key", "rotate") and status.is_root:
            return "Root cannot hold access keys: create a user for programmatic access"
        if action == "new_key" and len(self.keys) >= MAX_KEYS_PER_USER:
            return f"{name} already has {MAX_KEYS_PER_USER} access keys: delete one first (R rotates them)"
        if action in ("toggle_key", "delete_key") and not self.keys:
            return f"{name} has no access keys"
        if action == "delete_key" and (key := self._highlighted_key()) is not None and key.active:
            return f"Access key {key.key_id} is still active: deactivate it first (s)"
        return None

    def _not_now(self, action: str) -> bool:
        """Say at once why ``action`` does not apply (run from the palette, or before the screen had
        loaded: then the credentials are read now), rather than ask to confirm it for nothing."""
        if self.status is None:
            try:
                self.status = self.directory.credentials.status(self.user_id)
                self.keys = self.directory.access_keys.list(self.user_id)
                self.local = self.directory.users.get(self.user_id).is_local
            except StoreError:
                return False  # the store says what is wrong when the action runs
        reason = self.why_not(action)
        if reason is not None:
            self.notify(reason, severity="warning", markup=False)
        return reason is not None

    def _highlighted_key(self) -> AccessKey | None:
        if not self.keys:
            return None
        table = self.query_one("#cred-keys", DataTable)
        return self.keys[min(max(table.cursor_row, 0), len(self.keys) - 1)]

    def action_set_password(self) -> None:
        if self._not_now("set_password"):
            return
        credentials, user_id = self.directory.credentials, self.user_id

        def save(password: str, must_change: bool) -> None:
            credentials.set_password(user_id, password, must_change=must_change)

        policy = describe_policy(self.directory.password_policy.get())
        if self._own_as_user():
            self.open_form(
                NewPasswordModal(
                    "Change your password",
                    save,
                    policy_lines=policy,
                    change_own=lambda current, new: credentials.change_password(user_id, current, new),
                ),
                "Password changed",
            )
            return
        self.open_form(
            NewPasswordModal(
                f"Set the password of {self._user_label()}",
                save,
                policy_lines=policy,
                must_change_choice=not (self.status and self.status.is_root),
            ),
            "Password set",
        )

    def action_remove_password(self) -> None:
        if self._not_now("remove_password"):
            return
        credentials, user_id = self.directory.credentials, self.user_id
        self.confirm_then(
            f"Remove the password of {self._user_label()}?",
            "They can no longer sign in with a password; their sign-ins end now.",
            lambda: credentials.remove_password(user_id),
            "Password removed",
            confirm_label="Remove",
        )

    def action_enrol_totp(self) -> None:
        self._start_enrolment()

    @background(group="credentials-enrol", exclusive=True)
    def _start_enrolment(self) -> None:
        try:
            enrolment = self.directory.credentials.begin_totp(self.user_id)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(self._enrol, enrolment)

    def _enrol(self, enrolment: TotpEnrolment) -> None:
        credentials, user_id, name = self.directory.credentials, self.user_id, self._user_label()
        replacing = bool(self.status and self.status.mfa)

        def done(codes: list[str] | None) -> None:
            if codes:
                self.notify("Authenticator replaced" if replacing else "Authenticator enrolled")
                show_recovery_codes(self, name, codes, lambda _: self.reload())

        title = f"{'Replace' if replacing else 'Enrol'} the authenticator of {name}"
        self.app.push_screen(
            TotpEnrolModal(
                title, enrolment, lambda code: credentials.confirm_totp(user_id, enrolment.secret, code)
            ),
            done,
        )

    def action_reset_totp(self) -> None:
        if self._not_now("reset_totp"):
            return
        credentials, user_id = self.directory.credentials, self.user_id
        self.confirm_then(
            f"Reset the MFA of {self._user_label()}?",
            "Their authenticator and recovery codes stop working and their sign-ins end now. They "
            "sign in with the password alone until they enrol a new authenticator.",
            lambda: credentials.reset_totp(user_id),
            "MFA reset",
            confirm_label="Reset",
        )

    def action_recovery_codes(self) -> None:
        if self._not_now("recovery_codes"):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._regenerate()

        self.app.push_screen(
            ConfirmModal(
                f"New recovery codes for {self._user_label()}?",
                "The current recovery codes stop working.",
                confirm_label="Generate",
            ),
            answered,
        )

    @background(group="credentials-codes", exclusive=True)
    def _regenerate(self) -> None:
        try:
            codes = self.directory.credentials.regenerate_recovery_codes(self.user_id)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(
            show_recovery_codes, self, self._user_label(), codes, lambda _: self.reload()
        )

    def action_new_key(self) -> None:
        if self._not_now("new_key"):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._create_key()

        self.app.push_screen(
            ConfirmModal(
                f"Create an access key for {self._user_label()}?",
                "Its secret is shown once, now. A user may hold two keys.",
                confirm_label="Create",
            ),
            answered,
        )

    @background(group="credentials-key", exclusive=True)
    def _create_key(self) -> None:
        try:
            new = self.directory.access_keys.create(self.user_id)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(self._show_new_key, new)

    def _show_new_key(self, new: NewAccessKey) -> None:
        self.app.push_screen(
            SecretsModal(
                f"New access key for {self._user_label()}",
                [f"Access key id      {new.key.key_id}", f"Secret access key  {new.secret_access_key}"],
                "The secret is shown only now and stored only as a hash: copy it into the application's "
                "configuration now. Lost, it cannot be recovered: create another key instead.",
            ),
            lambda _: self.reload(),
        )

    def action_toggle_key(self) -> None:
        if self._not_now("toggle_key") or (key := self._highlighted_key()) is None:
            return
        access_keys = self.directory.access_keys
        if key.active:
            self.confirm_then(
                f"Deactivate access key {key.key_id}?",
                "Requests signed with it fail from now on. You can activate it again.",
                lambda: access_keys.deactivate(key.id, key.version),
                f"Deactivated {key.key_id}",
                confirm_label="Deactivate",
            )
        else:
            self.confirm_then(
                f"Activate access key {key.key_id}?",
                "It works again from now on.",
                lambda: access_keys.activate(key.id, key.version),
                f"Activated {key.key_id}",
                confirm_label="Activate",
            )

    def action_delete_key(self) -> None:
        if self._not_now("delete_key") or (key := self._highlighted_key()) is None:
            return
        access_keys = self.directory.access_keys
        self.confirm_then(
            f"Delete access key {key.key_id}?",
            "This cannot be undone.",
            lambda: access_keys.delete(key.id, key.version),
            f"Deleted {key.key_id}",
            confirm_label="Delete",
        )

    def action_rotate(self) -> None:
        if self._not_now("rotate"):
            return
        step = self.step
        if step is None or self.status is None:
            return
        if step.action in ("none", "create"):
            self.action_new_key()
        elif step.action == "deactivate" and step.key is not None:
            key, access_keys = step.key, self.directory.access_keys
            self.confirm_then(
                f"Rotation: deactivate the old key {key.key_id}?",
                "Do this once every application uses the new key. You can activate it again if "
                "something still needed it.",
                lambda: access_keys.deactivate(key.id, key.version),
                f"Deactivated {key.key_id}",
                confirm_label="Deactivate",
            )
        elif step.action == "delete" and step.key is not None:
            key, access_keys = step.key, self.directory.access_keys
            self.confirm_then(
                f"Rotation: delete the inactive key {key.key_id}?",
                "This completes the rotation.",
                lambda: access_keys.delete(key.id, key.version),
                f"Deleted {key.key_id}",
                confirm_label="Delete",
            )
