"""Text fields that apply keys in the order they were typed.

Textual inserts a printable key the moment the focused field reads it, but runs the field's own key bindings
(home, ctrl+a, ctrl+k, ctrl+w, …) only after the key has bubbled up to the app, a few messages later. Keys
that arrive together, as they do over SSH, from a paste or a password manager or a fast typist, are then
applied out of order: ``ctrl+a ctrl+k new`` inserts "new" and then erases it. These fields run their own
bindings when they read the key, so every key lands where it was typed. Everything else (the screen's and the
app's bindings) is left to Textual.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from textual import events
from textual.widget import Widget
from textual.widgets import Input, TextArea

from store.names import UNSAFE_CATEGORIES

# What the store refuses but a keyboard or terminal can still type (controls arrive as keys: ctrl+…, escape).
INVISIBLE = frozenset(UNSAFE_CATEGORIES) - {"Cc"}


async def _run_own_binding(widget: Widget, event: events.Key) -> None:
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        # Priority bindings were already run by the app before the key reached us.
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return


def _invisible(event: events.Key) -> bool:
    """A typed character that is no key yet not printable either: a format character (U+200B, U+202E)."""
    character = event.character
    return character is not None and len(character) == 1 and unicodedata.category(character) in INVISIBLE


class TextInput(Input):
    """:class:`Input` whose editing keys apply in the order typed."""

    async def _on_key(self, event: events.Key) -> None:
        if _invisible(event):
            # Textual drops keys that are not printable, so "Ops<U+200B>evil" would be saved as "Opsevil"
            # without a word. Keep the character: the store refuses the value and says so under the field.
            event.stop()
            event.prevent_default()
            if self.selection.is_empty:
                self.insert_text_at_cursor(event.character or "")
            else:
                self.replace(event.character or "", *self.selection)
            return
        if not event.is_printable:
            await _run_own_binding(self, event)


class TextEditor(TextArea):
    """:class:`TextArea` whose editing keys apply in the order typed."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable and event.key not in ("enter", "tab", "escape"):  # TextArea inserts these
            await _run_own_binding(self, event)


def after_typing(fields: Sequence[Widget], then: Callable[[], object]) -> None:
    """Run ``then`` once each of ``fields`` has taken the keys already sent to it. Each widget reads its own
    queue of messages, at its own pace: a burst of keys (a paste, tmux's send-keys) forwarded to three
    fields is not in all of them when the last Enter is seen. ``then`` is passed along each field's queue,
    behind what is waiting there."""
    if not fields:
        then()
        return
    first, rest = fields[0], fields[1:]
    first.call_later(after_typing, rest, then)
