"""The Audit log: every change and sign-in, newest first, paged from SQLite; ``enter`` shows one in full.

Admins only (the app's ``audit_log`` action checks it): the log holds everyone's actions. Every value is
directory or import text, drawn literally (a target named ``[bold]x[/]`` shows those characters).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from store import audit
from store.errors import StoreError
from store.names import escape_json
from store.service import Page
from tui.literal import literal
from tui.screens.base import ListScreen
from tui.widgets.paged_table import Column
from tui.workers import background

if TYPE_CHECKING:
    from store.directory import Directory

# Audit events have no new, edit or delete: the list screen's keys for those are not shown.
NOT_HERE = {"new", "edit", "delete"}
# A filtered count reads every event (about half a second a million): the filter applies once typing pauses,
# not at every key, so "alice" typed over millions of events costs one count, not five in a row.
TYPING_PAUSE = 0.3


def when(at: str) -> str:
    """``2026-12-04 22:19:09``: the stored UTC time, easier to read."""
    return at.replace("T", " ").removesuffix("Z")


def who(event: audit.AuditEvent) -> str:
    """The actor and the way they came in: ``alice (console)``."""
    return f"{event.actor} ({event.source})" if event.source else event.actor


def event_text(event: audit.AuditEvent) -> Text:
    """Every field of ``event``, then its details as indented JSON: our labels, the values literally."""
    text = Text()
    for label, value in (
        ("Event", str(event.seq)),
        ("At (UTC)", when(event.at)),
        ("Actor", event.actor),
        ("Source", event.source),
        ("Action", event.action),
        ("Target", event.target),
    ):
        text.append(f"{label:<10}", style="bold")
        text.append_text(literal(value))
        text.append("\n")
    text.append("Details\n", style="bold")
    # escape_json writes every unsafe character inside a string as \\u…; line by line, each line is literal.
    pretty = escape_json(json.dumps(event.details, ensure_ascii=False, sort_keys=True, indent=2))
    text.append_text(Text("\n").join(literal(line) for line in pretty.split("\n")))
    return text


class AuditEventModal(ModalScreen[None]):
    """One event, every field and its details, read afresh by its sequence number."""

    CSS = """
    AuditEventModal > .dialog { width: 100; }
    AuditEventModal #event-body { height: auto; max-height: 60vh; margin-bottom: 1; }  /* as .dialog-detail */
    """
    BINDINGS = [Binding("escape,q", "close", "Back", priority=True)]

    def __init__(self, directory: Directory, seq: int) -> None:
        super().__init__()
        self.directory = directory
        self.seq = seq

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Audit event {self.seq}", classes="dialog-title", markup=False)
            with VerticalScroll(id="event-body"):
                yield Static("Loading…", id="event-text", markup=False)
            yield Static("↑ ↓ pgup pgdn  scroll    esc  Back", classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#event-body", VerticalScroll).focus()
        self._load()

    @background(group="audit-event", exclusive=True)
    def _load(self) -> None:
        try:
            with self.directory.db.read() as conn:
                event = audit.get_event(conn, self.seq)
        except StoreError as exc:
            self.app.call_from_thread(self._show, None, exc.message)
        else:
            self.app.call_from_thread(self._show, event, "")

    def _show(self, event: audit.AuditEvent | None, problem: str) -> None:
        shown = self.query_one("#event-text", Static)
        shown.update(event_text(event) if event is not None else literal(problem))

    def action_close(self) -> None:
        self.dismiss(None)


class AuditLogScreen(ListScreen):
    """Newest first; ``/`` filters by action, actor, target or details; ``enter`` opens an event."""

    heading = "Audit log"
    noun = "event"
    plural = "events"
    empty_text = "No events yet."
    filter_fields = "in the action, actor, target or details"

    def __init__(self) -> None:
        super().__init__()
        # A filtered count reads every event: counted once per (re)load and filter, not for every page.
        self._totals: dict[str, int] = {}
        self._typing: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in NOT_HERE

    def columns(self) -> list[Column[audit.AuditEvent]]:
        return [
            Column("At (UTC)", lambda e: when(e.at), 19),
            # At 80 columns the actor and action give up cells so the target stays readable.
            Column("Actor", who, 24, least=14),
            Column("Action", lambda e: e.action, 26, least=18),
            Column("Target", lambda e: e.target),
        ]

    def title_note(self) -> str:
        return "newest first"

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[audit.AuditEvent]:
        known = self._totals.get(filter) if (after is not None or offset) else None
        with self.directory.db.read() as conn:
            page = audit.list_events(
                conn, filter=filter, after=after, offset=offset, limit=limit, total=known
            )
        self._totals[filter] = page.total
        return page

    def reload(self) -> None:
        self._totals.clear()  # events came (or a refresh): count again
        super().reload()

    # -- the filter, once typing pauses --------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.prevent_default()  # not ListScreen's reload at every key
            event.stop()
            self._stop_typing()
            text = event.value.strip()
            self._typing = self.set_timer(TYPING_PAUSE, lambda: self.table.reload(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":  # enter: now (ListScreen's handler then hides or leaves the box)
            self._stop_typing()
            self.table.reload(event.value.strip())

    def action_back(self) -> None:
        self._stop_typing()  # esc clears the filter: a pending one must not come back
        super().action_back()

    def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.stop()
            self._typing = None

    def open_item(self, item: Any) -> None:
        self.app.push_screen(AuditEventModal(self.directory, item.seq))
