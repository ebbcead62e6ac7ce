"""Small modal screens: confirmations and the conflict choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.literal import literal


def our_lines(text: str | Text) -> Text:
    """A message of ours that holds directory values: its line breaks are ours and break the line; every line
    is drawn literally (a control character in a value still shows as ``\x1b``; stored values hold no line
    break, the store refuses them)."""
    if isinstance(text, Text):
        return text
    return Text("\n").join(literal(line) for line in text.split("\n"))


class ConfirmModal(ModalScreen[bool]):
    """Ask before anything destructive. ``y``/``enter`` confirms; ``n``/``esc`` cancels."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", priority=True),
        Binding("n,escape", "answer(False)", "No", priority=True),
    ]

    def __init__(self, question: str, detail: str | Text = "", *, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(our_lines(self.question), classes="dialog-title")
            if self.detail:
                yield Static(our_lines(self.detail), classes="dialog-detail")
            yield Static(f"y  {self.confirm_label}    n  Cancel", classes="dialog-keys", markup=False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ConflictModal(ModalScreen[str]):
    """Someone else saved first. Offer their version (reload) or ours on top of theirs (re-apply)."""

    BINDINGS = [
        Binding("r,enter", "choose('reload')", "Reload theirs", priority=True),
        Binding("a", "choose('reapply')", "Re-apply mine", priority=True),
        Binding("escape", "choose('cancel')", "Back", priority=True),
    ]

    def __init__(self, message: str, current: str = "", *, can_reapply: bool = True) -> None:
        super().__init__()
        self.message = message
        self.current = current
        self.can_reapply = can_reapply

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-warning"):
            yield Static("Changed by someone else", classes="dialog-title")
            yield Static(literal(self.message), classes="dialog-detail")
            if self.current:
                yield Static(literal(self.current), classes="dialog-current")
            keys = "r  Reload their version" + ("    a  Re-apply my edit" if self.can_reapply else "")
            yield Static(keys + "    esc  Back", classes="dialog-keys", markup=False)

    def action_choose(self, choice: str) -> None:
        if choice == "reapply" and not self.can_reapply:
            return
        self.dismiss(choice)


def close_asking_first(screen: Screen[Any]) -> None:
    """Close ``screen`` (dismissed with None); when it holds unsaved changes (its ``unsaved_changes()``), only
    after the person says to throw them away."""
    if not screen.unsaved_changes():  # type: ignore[attr-defined]  # the forms and editors that call this
        screen.dismiss(None)
        return
    ask_to_discard(screen.app, "", lambda: screen.dismiss(None))


def ask_to_discard(app: App[Any], what: str, then: Callable[[], object]) -> None:
    """Ask whether to throw unsaved changes away, and ``then`` if so: before ``what`` ("Quit", "Sign out"),
    or before closing the edit itself (``what`` empty)."""
    if isinstance(app.screen, ConfirmModal):
        return  # already asking

    def answered(discard: bool | None) -> None:
        if discard:
            then()

    if what:
        modal = ConfirmModal(
            f"{what} and discard your changes?",
            "An edit is open and not saved: n goes back to it.",
            confirm_label=f"{what}, discard",
        )
    else:
        modal = ConfirmModal("Discard your changes?", "Nothing has been saved.", confirm_label="Discard")
    app.push_screen(modal, answered)
