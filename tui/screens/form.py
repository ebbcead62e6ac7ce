"""One form for every concept: labelled inputs, the store's validation message under the field it names.

The form never validates on its own: it hands the values to ``save`` (a store call) in a worker thread and
shows what the store says. A ValidationError lands under its field; a Conflict opens the conflict modal, which
can reload the other admin's version or re-apply this edit on top of it. A message under a field lasts only
as long as its problem: once the field is edited it goes (or, for a field with a local ``check``, it says what
the check says now), so nothing stays on screen about a value that is no longer there.

Every form and editor keeps the printable keys typed on its controls (``holds_typed_keys``): a letter pressed
on a list, a choice or a check box is never a section key (``i`` Import, ``1``-``0``) that throws the form
away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    SelectionList,
    Static,
    Tabs,
    TextArea,
)

from store.errors import Conflict, NotFound, StoreError, ValidationError
from tui.literal import literal
from tui.screens.modals import ConflictModal, close_asking_first
from tui.widgets.text_fields import TextEditor, TextInput, after_typing
from tui.workers import background

# What one fills in or picks on a form: a printable key pressed while one of them (or a part of it, as a
# Select's open list) has focus belongs to the form, never to a section key. Tables and scrolling views are
# not in it: there the section keys work as on every screen.
FORM_CONTROLS: tuple[type[Widget], ...] = (
    Input,
    TextArea,  # read-only too: a policy shown read-only looks like one to type in
    Select,
    SelectionList,
    Checkbox,
    RadioButton,
    RadioSet,
    Button,
    Tabs,
)


def holds_typed_keys(focused: Widget | None, character: str | None) -> bool:
    """For a screen's ``check_consume_key``: True when ``character`` is printable and the focus is on a form's
    control. Textual then drops the app's bindings for that key (``i`` Import, ``1``-``0`` sections, ``?``),
    so a letter typed one Tab too far is lost, not run; Esc leaves the control and they work again."""
    if focused is None or character is None or not character.isprintable():
        return False
    return any(isinstance(node, FORM_CONTROLS) for node in focused.ancestors_with_self)


class FieldError(Static):
    """The store's message under a field: it takes no line while empty (at 80x24 an empty line under each of
    six fields pushed the dialog's key line off the screen)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.display = False

    def update(self, content: Any = "", **kwargs: Any) -> None:
        super().update(content, **kwargs)
        self.display = bool(str(content))


@dataclass
class FormField:
    name: str  # the store's field name, as its ValidationError.field says it ("userName")
    label: str
    value: str = ""
    placeholder: str = ""
    kind: str = "text"  # text | password | multiline | choice
    choices: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label, value) for kind="choice"
    suggester: Suggester | None = None
    # A check of this field the form can run as it is typed (no store call): the values → what is wrong, or
    # None. Run only while a message is shown under the field, so it says what is wrong now or goes.
    check: Callable[[dict[str, str]], str | None] | None = None


def lookup_by_name(lookup: Callable[[str], Any], value: str, field: str) -> Any:
    """The item a form names (a user, group, account, permission set), refused under ``field``: an empty
    name says the field is required (not "no group named ''"), an unknown one says so."""
    name = value.strip()
    if not name:
        raise ValidationError(f"{field}: is required", field)
    try:
        return lookup(name)
    except NotFound as exc:
        raise ValidationError(exc.message, field) from None


class AdminGrantCheck:
    """A membership of the admin group is an administrator made: a form that adds one says so under its
    field the first time and adds it when saved again (an import asks by name for the same change; by hand
    it was added with "Added to group" alone)."""

    def __init__(self, admin_group_id: Callable[[], int | None]) -> None:
        self._admin_group_id = admin_group_id
        self._confirmed: set[tuple[int, int]] = set()

    def check(self, group: Any, user: Any, field: str, outcome: str = "make them an administrator") -> None:
        pair = (group.id, user.id)
        if group.id != self._admin_group_id() or pair in self._confirmed:
            return
        self._confirmed.add(pair)
        raise ValidationError(
            f"{field}: {group.name} is the admin group: {user.user_name} will administer the directory "
            f"(signed in with MFA). Save again to {outcome}",
            field,
        )


# save(values, version) -> saved item; load() -> (values, version) of the row as it is now.
Save = Callable[[dict[str, str], int | None], Any]
Load = Callable[[], tuple[dict[str, str], int]]


class FormModal(ModalScreen[Any]):
    """Dismisses with the saved item, or ``None`` when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        # A modal screen stops the key before the app's own (non-priority) bindings, so the app's ctrl+o,
        # shown in the footer under the form, did nothing here. The app's sign-out asks first when the form
        # holds unsaved changes (as ctrl+q does); at the gate (nobody signed in) it stays disabled.
        Binding("ctrl+o", "app.sign_out", "Sign out"),
    ]

    def __init__(
        self,
        title: str,
        fields: Sequence[FormField],
        save: Save,
        *,
        version: int | None = None,
        load: Load | None = None,
        describe: Callable[[Any], str] | None = None,
        note: str = "",
    ) -> None:
        """``note``: what to know before filling it in (a password policy), shown dimmed under the fields
        whatever messages come and go."""
        super().__init__()
        self.note = note
        self.title_text = title
        self.fields = list(fields)
        self._save = save
        self.version = version
        self._load = load
        self._describe = describe or (lambda item: "")
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Static(literal(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="form-fields", can_focus=False):
                for spec in self.fields:
                    if spec.kind == "multiline":
                        yield Label(spec.label, classes="form-label")
                        yield self._input(spec)
                    else:
                        with Horizontal(classes="form-row"):
                            yield Label(spec.label, classes="form-label")
                            yield self._input(spec)
                    yield FieldError(id=f"error-{spec.name}", classes="form-error")
            yield FieldError(id="form-error", classes="form-error")
            yield Static(
                "enter or ctrl+s  Save    tab  Next field    esc  Cancel", classes="dialog-keys", markup=False
            )

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.fields[0].name}").focus()
        self.initial: dict[str, str] | None = self.values()  # what "unsaved" is measured against
        self._form_message("")

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return holds_typed_keys(self.focused, character)

    def _form_message(self, message: str | Text) -> None:
        """The form's own line: a message about the whole form (bold), with the note under it."""
        line = literal(message, "bold") if isinstance(message, str) else message.copy()
        if self.note:
            if line:
                line.append("\n")
            line.append(self.note, style="dim")
        self.query_one("#form-error", Static).update(line)

    # -- a message lasts as long as its problem ------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        self._edited(event.input)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._edited(event.text_area)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._edited(event.select)

    def _edited(self, widget: Widget) -> None:
        name = (widget.id or "").removeprefix("field-")
        if not any(spec.name == name for spec in self.fields):
            return
        values = self.values()
        for spec in self.fields:
            matches = self.query(f"#error-{spec.name}")
            error = matches.first(Static) if matches else None
            if error is None or not error.display:
                continue
            if spec.check is not None:  # said again as it stands now, or gone
                problem = spec.check(values)
                error.update(literal(f"{self._label(spec)}: {problem}", "bold") if problem else "")
            elif spec.name == name:  # the store's word on a value that is no longer there
                error.update("")

    @staticmethod
    def _label(spec: FormField) -> str:
        return spec.label.split(" (")[0].lower()

    def _input(self, spec: FormField) -> Any:
        widget_id = f"field-{spec.name}"
        if spec.kind == "multiline":
            return TextEditor(
                spec.value,
                id=widget_id,
                classes="form-multiline",
                soft_wrap=False,
                show_line_numbers=True,
                tab_behavior="focus",
            )
        if spec.kind == "choice":
            return Select(
                list(spec.choices), value=spec.value or spec.choices[0][1], id=widget_id, allow_blank=False
            )
        return TextInput(
            spec.value,
            placeholder=spec.placeholder,
            password=spec.kind == "password",
            id=widget_id,
            suggester=spec.suggester,
            select_on_focus=False,
        )

    def values(self) -> dict[str, str]:
        result = {}
        for spec in self.fields:
            widget = self.query_one(f"#field-{spec.name}")
            if isinstance(widget, TextArea):
                result[spec.name] = widget.text
            elif isinstance(widget, Select):
                result[spec.name] = str(widget.value)
            elif isinstance(widget, Input):
                result[spec.name] = widget.value
        return result

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            widget = self.query_one(f"#field-{name}")
            if isinstance(widget, TextArea):
                widget.load_text(value)
            elif isinstance(widget, (Input, Select)):
                widget.value = value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        # Saved once every field has the keys sent before this Enter (a burst from tmux or a paste: each
        # field reads its keys at its own pace, and a value could be read half typed).
        after_typing(list(self.query(Input).results()), self.action_save)

    def unsaved_changes(self) -> bool:
        """Typed and not saved: esc, ctrl+q and sign-out ask before throwing it away (one esc closed a filled
        form without a word; the policy editors already asked)."""
        initial = getattr(self, "initial", None)
        return initial is not None and self.values() != initial

    def action_cancel(self) -> None:
        close_asking_first(self)

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        for error in self.query(".form-error").results(Static):
            error.update("")
        self._form_message("")
        self._run_save(self.values(), self.version)

    @background(group="form-save", exclusive=True)
    def _run_save(self, values: dict[str, str], version: int | None) -> None:
        # The store call may wait for another writer's lock: never on the UI thread.
        try:
            item = self._save(values, version)
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc)
        else:
            self.app.call_from_thread(self.dismiss, item)

    def _failed(self, error: StoreError) -> None:
        self.saving = False
        if isinstance(error, Conflict):
            self.app.push_screen(
                ConflictModal(
                    error.message, self._describe(error.current), can_reapply=self._load is not None
                ),
                self._conflict_choice,
            )
            return
        target = None
        if isinstance(error, ValidationError) and error.field:
            name = error.field.split("[")[0].split(".")[0]
            matches = self.query(f"#error-{name}")
            target = matches.first(Static) if matches else None
        message = error.message
        if target is not None and isinstance(error, ValidationError) and error.field:
            # Under its field, named as the form labels it: "user name: is required", not "userName: …"
            # (nor a bare "is required", which at 80x24 can sit a long way from the label).
            spec = next((spec for spec in self.fields if f"error-{spec.name}" == target.id), None)
            label = self._label(spec) if spec is not None else error.field
            message = f"{label}: " + message.removeprefix(f"{error.field}: ")
        if target is None:
            self._form_message(message)
        else:
            target.update(literal(message, "bold"))
            self.query_one(f"#field-{name}").focus()

    def _conflict_choice(self, choice: str | None) -> None:
        if self._load is None or choice in (None, "cancel"):
            return
        values, version = self._load()
        self.version = version
        if choice == "reload":
            self.fill(values)
            self.initial = self.values()  # the saved values: nothing unsaved now (as the editors reset it)
            self._form_message(Text("Reloaded: these are the values saved now."))
        else:  # re-apply: keep what this admin typed, save it over the version just read
            self.action_save()
