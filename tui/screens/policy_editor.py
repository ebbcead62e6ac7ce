"""Editing policy documents: a JSON text area that validates as you type, the blast-radius confirmation shown
before an edit is saved, and the editor screen for a library policy.

``PolicyEditor`` re-validates a quarter second after the last keystroke (in a worker: ``validate_policy`` is
the store's own check, so what it accepts the store accepts), shows the first problem with its line and marks
that line in the text; ``ctrl+g`` moves the cursor there, to the column JSON's parser names (else to the
line's first character).

A message on the editor screens lasts as long as its problem: "Fix the policy first" is said again or goes as
the policy is checked again, a message under a field is checked again as the field is typed (the same cheap
checks the save runs first), and the store's word on a field goes once that field has changed. A printable key
typed on any of the editors' controls is theirs (``holds_typed_keys``), never a section key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, Static, TextArea

from store import names
from store.blast_radius import BlastRadius, policy_change
from store.errors import Conflict, StoreError, ValidationError
from store.policies import Policy
from store.policy import INLINE_POLICY_MAX_CHARS, MANAGED_POLICY_MAX_CHARS, PolicyProblem, validate_policy
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.screens.modals import ConflictModal, close_asking_first
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.text_fields import TextEditor, TextInput
from tui.workers import background

EXAMPLE_KEY = "f5"
VALIDATE_AFTER = 0.25  # seconds of quiet typing before the text is checked again
# Red behind the line; yellow bold text, which stays visible when the cursor line's colour covers the red.
ERROR_LINE = Style(bgcolor="red", color="yellow", bold=True)

EXAMPLE_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadS3",
      "Effect": "Allow",
      "Action": ["s3:Get*", "s3:List*"],
      "Resource": "*"
    }
  ]
}
"""


# Where JSON's parser stopped, as the store's syntax message says it: "… (line 1, column 86)."
_LINE_AND_COLUMN = re.compile(r"\(line (\d+), column (\d+)\)")


def problem_location(problem: PolicyProblem, text: str) -> tuple[int, int] | None:
    """The 0-based (row, column) a problem is at: the column the message names (a syntax error), else the
    first character of its line past the indentation; None when it names no line."""
    if not problem.line:
        return None
    row = problem.line - 1
    found = _LINE_AND_COLUMN.search(problem.message)
    if found is not None and int(found.group(1)) == problem.line:
        return row, max(int(found.group(2)) - 1, 0)
    lines = text.split("\n")
    line = lines[row] if row < len(lines) else ""
    return row, len(line) - len(line.lstrip())


def editable(text: str | None) -> str:
    """Stored text made safe to put in a text area: control characters other than newlines and tabs (which a
    valid document never holds, but a file written around the store might) shown as ``\\x1b``."""
    if not text:
        return ""
    if text.isascii() and all(ch.isprintable() or ch in "\n\t" for ch in text):
        return text
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else f"\\x{ord(ch):02x}" for ch in text
    )


class PolicyTextArea(TextEditor):
    """A TextArea that can mark whole lines (the line a problem is on)."""

    # Shown in the footer while the text has focus: Textual's select-all (f7) was findable only by searching
    # the palette for "all".
    BINDINGS = [
        Binding("f7", "select_all", "Select all"),
        Binding("f8", "clear", "Clear"),
    ]

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        super().__init__(text, **kwargs)
        self.marked: dict[int, Style] = {}

    def mark(self, lines: dict[int, Style]) -> None:
        """Mark these 0-based lines (replacing earlier marks) and redraw."""
        if lines != self.marked:
            self.marked = dict(lines)
            self._line_cache.clear()
            self.refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A read-only text (a built-in policy) is not offered what would change it.
        if action == "clear" and self.read_only:
            return False
        return super().check_action(action, parameters)

    def action_clear(self) -> None:
        """Empty the text (ctrl+z brings it back)."""
        if not self.read_only and self.text:
            self.replace("", self.document.start, self.document.end)

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        style = self.marked.get(line_index)
        if style is not None:
            line.stylize(style)
        return line


class PolicyEditor(Vertical):
    """A policy document's text with live validation. ``required``: empty text is a problem (a library policy)
    rather than "no policy" (a permission set's optional inline policy or boundary)."""

    DEFAULT_CSS = """
    PolicyEditor { height: 1fr; }
    PolicyEditor > PolicyTextArea { height: 1fr; min-height: 4; }
    PolicyEditor > .policy-status { height: auto; max-height: 3; padding: 0 1; }
    PolicyEditor > .policy-status.-valid { color: $success; }
    PolicyEditor > .policy-status.-invalid { color: $error; text-style: bold; }
    PolicyEditor > .policy-status.-empty { color: $text-muted; }
    """

    class Validated(Message):
        """The text was checked: ``problems`` is empty when it is valid (or empty and optional)."""

        def __init__(self, editor: PolicyEditor, problems: list[PolicyProblem]) -> None:
            super().__init__()
            self.editor = editor
            self.problems = problems

        @property
        def control(self) -> PolicyEditor:
            return self.editor

    def __init__(
        self,
        text: str = "",
        *,
        required: bool = False,
        managed: bool = False,
        read_only: bool = False,
        empty_text: str = "empty: no policy",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._initial = editable(text)
        # Dimmed in the empty text area: the example is behind a key, never in the value that is saved.
        self.placeholder = (
            "" if read_only else f"{empty_text}  ·  {EXAMPLE_KEY} inserts an example to start from"
        )
        self.required = required
        self.max_chars = MANAGED_POLICY_MAX_CHARS if managed else INLINE_POLICY_MAX_CHARS
        self.read_only = read_only
        self.empty_text = empty_text
        self.problems: list[PolicyProblem] = []
        self.checked_text: str | None = None  # the text the shown status is about
        self._timer: Timer | None = None
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield PolicyTextArea(
            self._initial,
            soft_wrap=False,
            show_line_numbers=True,
            tab_behavior="focus",
            read_only=self.read_only,
            classes="policy-text",
            placeholder=self.placeholder,
        )
        yield Static("", classes="policy-status")

    @property
    def text_area(self) -> PolicyTextArea:
        return self.query_one(PolicyTextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def load(self, text: str | None) -> None:
        self.text_area.load_text(editable(text))
        self.check_now()

    def on_mount(self) -> None:
        self.check_now()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_AFTER, self.check_now)

    def check_now(self) -> None:
        self._generation += 1
        self._check(self._generation, self.text)

    @background(group="policy-validate")
    def _check(self, generation: int, text: str) -> None:
        if not text.strip():
            problems = (
                [PolicyProblem("a managed policy needs a policy document", None, None)]
                if self.required
                else []
            )
        else:
            problems = validate_policy(text, max_chars=self.max_chars)
        self.app.call_from_thread(self._show, generation, text, problems)

    def _show(self, generation: int, text: str, problems: list[PolicyProblem]) -> None:
        if generation != self._generation:
            return  # typed again meanwhile: a newer check is on its way
        self.problems, self.checked_text = problems, text
        status = self.query_one(".policy-status", Static)
        status.remove_class("-valid", "-invalid", "-empty")
        if problems:
            first = problems[0]
            where = f"line {first.line}: " if first.line else ""
            status.update(literal(f"✗ {where}{first.message}"))
            status.add_class("-invalid")
            self.text_area.mark({first.line - 1: ERROR_LINE} if first.line else {})
        elif not text.strip():
            status.update(literal(self.empty_text))
            status.add_class("-empty")
            self.text_area.mark({})
        else:
            status.update(literal("✓ valid policy" + ("  ·  read-only" if self.read_only else "")))
            status.add_class("-valid")
            self.text_area.mark({})
        self.post_message(self.Validated(self, problems))

    def insert_example(self) -> bool:
        """Put the example policy in the empty text; False (and nothing changes) when there is text."""
        if self.read_only or self.text.strip():
            return False
        self.text_area.load_text(EXAMPLE_POLICY)
        self.text_area.focus()
        self.check_now()
        return True

    def goto_error(self) -> bool:
        """Move the cursor to the first problem's line and column; False when there is none with a line."""
        location = problem_location(self.problems[0], self.text) if self.problems else None
        if location is None:
            return False
        self.text_area.move_cursor(location, center=True)
        self.text_area.focus()
        return True


def action_label(action: str) -> str:
    """``*`` in a blast radius stands for the actions a NotAction leaves open: say so."""
    return "* (any action not named)" if action == "*" else action


def _changes_grid(gained: tuple[str, ...], lost: tuple[str, ...], indent: int) -> Table:
    """``+ gain`` / ``− lose`` beside their actions, which wrap under themselves, not under the label."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=indent)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    if gained:
        grid.add_row("", Text("+ gain", style="bold green"), literal(", ".join(map(action_label, gained))))
    if lost:
        grid.add_row("", Text("− lose", style="bold red"), literal(", ".join(map(action_label, lost))))
    return grid


def describe_radius(radius: BlastRadius, *, max_users: int = 8) -> Group:
    """The blast radius as the confirmation shows it: what each set gains and loses, then who, grouped."""
    parts: list[Any] = [literal(radius.summary()), Text("")]
    for change in radius.set_changes:
        parts.append(literal(f"{change.permission_set} itself", "bold"))
        if change.gained or change.lost:
            parts.append(_changes_grid(change.gained, change.lost, 1))
        else:
            parts.append(Text("  no action gained or lost", style="dim"))
    groups = radius.grouped()
    if groups:
        parts += [Text(""), Text("Who gains or loses what, where", style="bold underline")]
    for group in groups:
        count = f"{len(group.users)} user{'s' if len(group.users) != 1 else ''}"
        head = literal(group.account_name, "bold")
        head.append_text(literal(f"  ·  {count} via {', '.join(group.granted_by)}"))
        shown = ", ".join(group.users[:max_users])
        more = f" and {len(group.users) - max_users} more" if len(group.users) > max_users else ""
        who = Table.grid()
        who.add_column(width=4)
        who.add_column(ratio=1)
        who.add_row("", literal(shown + more, "italic"))
        parts += [head, who, _changes_grid(group.gained, group.lost, 3)]
    if radius.actions:
        parts += [
            Text(""),
            literal(
                "Actions considered (those the old and new policies name): "
                + ", ".join(map(action_label, radius.actions)),
                "dim",
            ),
        ]
    return Group(*parts)


class BlastRadiusModal(ModalScreen[bool]):
    """Confirm an edit after seeing who gains and loses what. ``y``/``enter``
    saves, ``n``/``esc`` goes back."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Save", priority=True),
        Binding("n,escape", "answer(False)", "Back to editing", priority=True),
    ]

    DEFAULT_CSS = """
    BlastRadiusModal > .dialog { width: 96; }
    BlastRadiusModal #radius-detail { height: auto; max-height: 60vh; }
    """

    def __init__(self, question: str, radius: BlastRadius, *, confirm_label: str = "Save") -> None:
        super().__init__()
        self.question = question
        self.radius = radius
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" if self.radius.empty else "dialog dialog-warning"):
            yield Static(literal(self.question), classes="dialog-title")
            with VerticalScroll(id="radius-detail"):
                yield Static(describe_radius(self.radius), id="radius-text")
            back = "Back to editing" if self.confirm_label == "Save" else "Cancel"
            yield Static(
                f"y  {self.confirm_label}    n  {back}    ↑ ↓  Scroll", classes="dialog-keys", markup=False
            )

    def on_mount(self) -> None:
        self.query_one("#radius-detail", VerticalScroll).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


# What a read-only document does not offer: saving, an example to insert, errors to go to (it has none).
READ_ONLY_HIDDEN = {"save", "insert_example", "goto_error"}


class EditorScreen(DirectoryScreen):
    """What the policy and permission-set editors share: save through a preview (the blast radius) and a
    confirmation, conflicts as form.py handles them, and a question before unsaved edits are thrown away."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
        Binding("ctrl+g", "goto_error", "Go to error"),
        Binding(EXAMPLE_KEY, "insert_example", "Insert example"),
    ]

    saving = False
    version: int | None = None
    initial: dict[str, Any] | None = None
    read_only = False  # a document shown, not edited (a built-in policy): no editing keys are offered
    # What the error line is about, so that it goes with its problem: the policy editor it asks to fix (said
    # again or cleared as that policy is checked again), or (field, value) for the store's word on a field
    # with no place of its own (cleared once that field holds another value).
    line_about: PolicyEditor | tuple[str, Any] | None = None

    def field_checks(self) -> dict[str, Callable[[str], object]]:
        """The cheap checks ``preview`` runs first, by field: each raises the store's ValidationError. A
        message under one of these fields is checked again as the field is typed."""
        return {}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in READ_ONLY_HIDDEN:
            return False
        return super().check_action(action, parameters)

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def fill(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def editors(self) -> list[PolicyEditor]:
        return list(self.query(PolicyEditor))

    def error_line(self) -> Static:
        return self.query_one("#editor-error", Static)

    def say(self, message: str | Text, about: PolicyEditor | str | None = None) -> None:
        """Put ``message`` on the error line; ``about``: the editor or the field it is about."""
        self.error_line().update(message)
        if isinstance(about, str):
            self.line_about = (about, self.values().get(about))
        else:
            self.line_about = about

    # -- a message lasts as long as its problem -----------------------------------------------------------

    def on_policy_editor_validated(self, event: PolicyEditor.Validated) -> None:
        editor = event.editor
        if self.line_about is editor:
            if event.problems:
                self.say(literal("Fix the policy first: " + self._problem_text(editor), "bold"), editor)
            else:
                self.say("")
        self.field_changed((editor.id or "").removeprefix("field-"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.field_changed((event.input.id or "").removeprefix("field-"))

    def field_changed(self, name: str) -> None:
        """``name``'s value changed: the messages about its old value go (or say what is wrong now)."""
        about = self.line_about
        if isinstance(about, tuple) and about[0] == name and self.values().get(name) != about[1]:
            self.say("")
        matches = self.query(f"#error-{name}")
        under = matches.first(Static) if matches else None
        if under is None or not under.display:
            return
        problem = ""
        check = self.field_checks().get(name)
        if check is not None:
            try:
                check(self.values()[name])
            except ValidationError as exc:
                problem = exc.message.removeprefix(f"{exc.field}: ")
        under.update(literal(problem, "bold"))
        under.display = bool(problem)

    # preview → confirm → save
    def preview(self, values: dict[str, Any]) -> BlastRadius | None:
        """Runs in a worker: validate cheap fields, compute the blast radius
        (None: no confirmation needed)."""
        raise NotImplementedError

    def store_save(self, values: dict[str, Any], version: int | None) -> Any:
        raise NotImplementedError

    def load_current(self) -> tuple[dict[str, Any], int]:
        raise NotImplementedError

    def describe_current(self, current: Any) -> str:
        return ""

    def confirm_question(self) -> str:
        return "Save?"

    def saved_message(self) -> str:
        return "Saved"

    def on_mount(self) -> None:
        self.initial = self.values()

    def reload(self) -> None:
        """Another admin's commit does not overwrite what is being typed; a conflict on save says so."""

    def action_goto_error(self) -> None:
        for editor in self.editors():
            if editor.problems and editor.goto_error():
                self._reveal(editor)
                return
        self.notify("No error to go to", timeout=2)

    def _reveal(self, widget: Any) -> None:
        """Hook for screens with tabs: show the tab holding ``widget``."""

    def current_editor(self) -> PolicyEditor | None:
        """The policy editor the user is at: the one holding focus, else the first one shown."""
        editors = self.editors()
        focused = self.focused
        for editor in editors:
            if focused is not None and editor in focused.ancestors_with_self:
                return editor
        return next((editor for editor in editors if editor.is_on_screen), None)

    def action_insert_example(self) -> None:
        editor = self.current_editor()
        if editor is None:
            self.notify("No policy text here: open a policy tab first", severity="warning", timeout=3)
        elif not editor.insert_example():
            self.notify(
                "The policy is not empty: an example goes only into an empty one (f8 clears it)",
                severity="warning",
                timeout=4,
            )

    def unsaved_changes(self) -> bool:
        """Edits not saved yet: the console asks before anything throws them away (esc, ctrl+q, sign-out)."""
        return self.initial is not None and self.values() != self.initial

    def action_back(self) -> None:
        close_asking_first(self)

    def action_save(self) -> None:
        if self.saving:
            return
        invalid = next((editor for editor in self.editors() if editor.problems), None)
        if invalid is not None and invalid.checked_text == invalid.text:
            self._reveal(invalid)
            invalid.goto_error()
            self.say(literal("Fix the policy first: " + self._problem_text(invalid), "bold"), invalid)
            return
        self.saving = True
        self.say("")
        for error in self.query(".field-error").results(Static):
            error.update("")
            error.display = False
        self._run_preview(self.values(), self.version)

    @staticmethod
    def _problem_text(editor: PolicyEditor) -> str:
        first = editor.problems[0]
        return (f"line {first.line}: " if first.line else "") + first.message

    @background(group="editor-save", exclusive=True)
    def _run_preview(self, values: dict[str, Any], version: int | None) -> None:
        try:
            radius = self.preview(values)
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._confirm, values, version, radius)

    def _confirm(self, values: dict[str, Any], version: int | None, radius: BlastRadius | None) -> None:
        if radius is None:
            self._run_save(values, version)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_save(values, version)
            else:
                self.saving = False
                self.say("Not saved: still editing.")

        self.app.push_screen(BlastRadiusModal(self.confirm_question(), radius), answered)

    @background(group="editor-save", exclusive=True)
    def _run_save(self, values: dict[str, Any], version: int | None) -> None:
        try:
            item = self.store_save(values, version)
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc)
        else:
            self.app.call_from_thread(self._saved, item)

    def _saved(self, item: Any) -> None:
        self.saving = False
        self.notify(self.saved_message(), markup=False)
        self.dismiss(item)

    def _failed(self, error: StoreError) -> None:
        self.saving = False
        if isinstance(error, Conflict):
            self.app.push_screen(
                ConflictModal(error.message, self.describe_current(error.current)), self._conflict_choice
            )
            return
        if isinstance(error, ValidationError) and error.field:
            name = error.field.split("[")[0].split(".")[0]
            under = self.query(f"#error-{name}")
            if under:  # it sits under that field: the field's name need not be repeated
                message = under.first(Static)
                message.update(literal(error.message.removeprefix(f"{error.field}: "), "bold"))
                message.display = True
            else:
                self.say(literal(error.message, "bold"), name if name in self.values() else None)
            self.focus_field(error.field)
            return
        self.say(literal(error.message, "bold"))

    def focus_field(self, field: str) -> None:
        name = field.split("[")[0].split(".")[0]
        for widget in self.query(f"#field-{name}"):
            self._reveal(widget)
            widget.focus()
            return

    def _conflict_choice(self, choice: str | None) -> None:
        if choice in (None, "cancel"):
            return
        self._reload_then(choice == "reapply")

    @background(group="editor-load", exclusive=True)
    def _reload_then(self, reapply: bool) -> None:
        try:
            values, version = self.load_current()
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._reloaded, values, version, reapply)

    def _reloaded(self, values: dict[str, Any], version: int, reapply: bool) -> None:
        self.version = version
        if reapply:  # keep what this admin typed; preview and save it over the version just read
            self.action_save()
            return
        self.fill(values)
        self.initial = self.values()
        self.say("Reloaded: these are the values saved now.")


def labelled(label: str, widget: Any) -> Iterator[Any]:
    """A labelled one-line field, and under it the place for the store's message about it
    (``#error-<id>``)."""
    yield Horizontal(Label(label, classes="editor-label"), widget, classes="editor-row")
    name = (widget.id or "").removeprefix("field-")
    error = Static("", id=f"error-{name}", classes="field-error")
    error.display = False  # shown only while it holds a message: lines are scarce at 80×24
    yield error


EDITOR_CSS = """
.editor-body { height: 1fr; padding: 0 1; }
.editor-title { height: 1; text-style: bold; color: $accent; margin: 0 0 1 0; }
.editor-row { height: 1; }
.editor-label { width: 14; color: $text-muted; }
.editor-row Input { border: none; height: 1; width: 1fr; padding: 0 1; background: $boost; }
.editor-row Input:focus { background: $primary 30%; }
#editor-error, .field-error { color: $error; height: auto; max-height: 2; padding-left: 14; }
#editor-error { padding-left: 0; }
.editor-help { color: $text-muted; height: 1; }
"""


class PolicyEditorScreen(EditorScreen):
    """Create, edit or view a library policy. Built-ins open read-only; saving an edit of a policy that
    permission sets attach first shows its blast radius."""

    nav_name = "policies"
    DEFAULT_CSS = (
        EDITOR_CSS
        + """
    PolicyEditorScreen PolicyEditor { margin-top: 1; }
    """
    )

    def __init__(self, policy: Policy | None, *, template: Policy | None = None) -> None:
        super().__init__()
        self.policy = policy
        self.version = policy.version if policy else None
        source = policy or template
        self._start = {
            "name": policy.name if policy else (f"{template.name}Copy" if template else ""),
            "description": source.description if source else "",
            "document": source.document if source else "",
        }
        self.read_only = bool(policy and policy.builtin)

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="editor-body"):
            if self.policy is None:
                title = "New policy"
            elif self.read_only:
                title = f"Built-in policy {self.policy.name} (read-only: copy it to adapt it)"
            else:
                title = f"Edit policy {self.policy.name}"
            yield Static(literal(title), classes="editor-title")
            yield from labelled(
                "Name",
                TextInput(
                    self._start["name"],
                    id="field-name",
                    select_on_focus=False,
                    disabled=self.read_only,
                    placeholder="S3TeamAccess (letters, digits, + = , . @ - _)",
                ),
            )
            yield from labelled(
                "Description",
                TextInput(
                    self._start["description"],
                    id="field-description",
                    select_on_focus=False,
                    disabled=self.read_only,
                ),
            )
            yield PolicyEditor(
                self._start["document"],
                required=True,
                managed=True,
                read_only=self.read_only,
                id="field-document",
            )
            yield Static("", id="editor-error")
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        (
            self.query_one("#field-document", PolicyEditor).text_area
            if self.read_only or self.policy
            else self.query_one("#field-name", Input)
        ).focus()

    def values(self) -> dict[str, Any]:
        return {
            "name": self.query_one("#field-name", Input).value,
            "description": self.query_one("#field-description", Input).value,
            "document": self.query_one("#field-document", PolicyEditor).text,
        }

    def field_checks(self) -> dict[str, Callable[[str], object]]:
        return {
            "name": names.policy_name,
            "description": lambda text: names.display_text(text, "description", names.DESCRIPTION_MAX),
        }

    def fill(self, values: dict[str, Any]) -> None:
        self.query_one("#field-name", Input).value = values["name"]
        self.query_one("#field-description", Input).value = values["description"]
        self.query_one("#field-document", PolicyEditor).load(values["document"])

    def action_save(self) -> None:
        if self.read_only:
            self.notify(
                "Built-in policies are read-only: press c on the library to copy one", severity="warning"
            )
            return
        super().action_save()

    def preview(self, values: dict[str, Any]) -> BlastRadius | None:
        names.policy_name(values["name"])
        names.display_text(values["description"], "description", names.DESCRIPTION_MAX)
        if self.policy is None:
            return None
        return policy_change(self.directory, self.policy.id, values["document"])

    def store_save(self, values: dict[str, Any], version: int | None) -> Policy:
        policies = self.directory.policies
        if self.policy is None:
            return policies.create(
                values["name"], description=values["description"], document=values["document"]
            )
        return policies.update(
            self.policy.id,
            version or self.policy.version,
            name=values["name"],
            description=values["description"],
            document=values["document"],
        )

    def load_current(self) -> tuple[dict[str, Any], int]:
        assert self.policy is not None
        current = self.directory.policies.get(self.policy.id)
        return {
            "name": current.name,
            "description": current.description,
            "document": current.document,
        }, current.version

    def describe_current(self, current: Any) -> str:
        if not isinstance(current, Policy):
            return ""
        return f"Saved now: {current.name}  ·  {current.description or '—'}  (version {current.version})"

    def confirm_question(self) -> str:
        name = self.policy.name if self.policy else "policy"
        return f"Save policy {name}?"

    def saved_message(self) -> str:
        return "Policy created" if self.policy is None else "Policy saved"
