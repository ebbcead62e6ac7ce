"""What every console screen shares: the directory, store calls off the UI thread, confirm-then-act."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import Input, Select, Static, TextArea

from store.errors import Conflict, StoreError
from store.names import quoted
from store.service import Page
from tui.literal import literal, visible
from tui.screens.form import FormModal, holds_typed_keys
from tui.screens.modals import ConfirmModal, ConflictModal
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.paged_table import Column, PagedTable
from tui.widgets.text_fields import TextInput
from tui.workers import background

if TYPE_CHECKING:
    from store.directory import Directory
    from tui.app import TuiApp


class DirectoryScreen(Screen[Any]):
    """A screen over the directory. Subclasses implement :meth:`reload` to redraw from the store."""

    nav_name = ""  # the mode this screen belongs to, highlighted in the nav bar

    @property
    def directory(self) -> Directory:
        return self.tui_app.directory

    @property
    def tui_app(self) -> TuiApp:
        return self.app  # type: ignore[return-value]  # these screens run only inside TuiApp

    def reload(self) -> None:
        """Fetch again what the screen shows (after our change, another admin's, or ``r``)."""

    def on_directory_changed(self) -> None:
        self.reload()

    _shown = False
    _subject_gone = False

    # Esc left a field for nowhere (a screen with no table): Textual's auto-focus put a field back in focus
    # when the screen was shown again (back from the import opened with i), and the next digit was typed.
    _left_fields = False

    def on_screen_resume(self) -> None:
        if self._left_fields:
            self.call_later(self._leave_fields_again)  # after Textual's own resume, which auto-focuses
        # Shown again (back from a dialog, a pushed screen or another section): what it showed may have
        # changed meanwhile, by this console or another, so it is fetched again. Not on the first show: the
        # screen loads itself as it mounts.
        if self._subject_gone:
            self.app.pop_screen()  # its subject went while a dialog was over it
            return
        if self._shown:
            self.reload()
        self._shown = True

    def close_gone(self, message: str = "") -> None:
        """Close this screen, whose subject is gone (deleted here, or by another console): ``message`` said
        once, and this screen closed once, however many reloads find the subject gone (each popped a screen:
        the list under it, then Textual's ScreenStackError). Under a dialog, it closes when shown again."""
        if not self._subject_gone:
            self._subject_gone = True
            if message:
                self.notify(message, severity="warning")
            if self.is_current:
                self.app.pop_screen()

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # A printable key typed on a form's control (a field, a choice, a list, a check box) is the control's,
        # never a section key (1-0, i, ?) that leaves the screen and what was typed on it; on a table or a
        # scrolling part the section keys work as everywhere. Every screen, not only the editors: My access's
        # duration choice switched screens on a digit.
        return holds_typed_keys(self.focused, character)

    # -- esc leaves a field --------------------------------------------------------------------------------
    # A text field takes every printable key, so while one has focus the section keys (1-9, 0, i, ?) are typed
    # into it. Esc in a field leaves it (focus goes to the screen's table or scrollable part, else nowhere),
    # so those keys work again; a second Esc is the screen's own Esc (back).

    def on_key(self, event: events.Key) -> None:
        # Runs as the key bubbles up from the focused widget, before the screen's and the app's bindings.
        if event.key == "escape" and self.esc_leaves_field():
            self.leave_field()
            event.stop()
            event.prevent_default()

    def esc_leaves(self, field: Widget) -> bool:
        """Whether Esc in ``field`` leaves it; False leaves Esc to the screen's binding."""
        return True

    def esc_leaves_field(self) -> bool:
        """Focus is in a field that Esc leaves: the footer then shows ``esc Leave field`` (a newcomer on My
        access typed digits into its duration choice and saw no way out)."""
        focused = self.focused
        return focused is not None and is_field(focused) and self.esc_leaves(focused)

    def leave_field(self) -> None:
        """Move focus out of the field: to the screen's table or scrolling part, else nowhere."""
        home = self.home_widget()
        self.set_focus(home)
        self._left_fields = home is None

    def _leave_fields_again(self) -> None:
        if is_field(self.focused):
            self.set_focus(None)
        self._left_fields = True

    def on_descendant_focus(self) -> None:
        if self.focused is not None:  # (not the auto-focus taken back as the screen was shown again)
            self._left_fields = False  # focus went somewhere on purpose (tab, enter, a click)

    def home_widget(self) -> Widget | None:
        """Where focus goes when it leaves a field: the first table or scrolling part, else nowhere."""
        return next(
            (
                widget
                for widget in self.focus_chain
                if isinstance(widget, (ScrollView, ScrollableContainer)) and not is_field(widget)
            ),
            None,
        )

    def confirm_then(
        self,
        question: str,
        detail: str,
        action: Callable[[], Any],
        done: str,
        *,
        confirm_label: str = "Yes",
        then: Callable[[], object] | None = None,
    ) -> None:
        """Ask, then run ``action`` (a store call) in a worker; report, then ``then`` (else reload)."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_store(action, done, then)

        self.app.push_screen(ConfirmModal(question, detail, confirm_label=confirm_label), answered)

    def open_form(self, form: FormModal, done: str) -> None:
        def closed(item: Any) -> None:
            if item is not None:
                self.notify(done)
                self.saved(item)

        self.app.push_screen(form, closed)

    def saved(self, item: Any) -> None:
        """After a form saved ``item``: show it as it now is."""
        self.reload()

    @background(group="store-call")
    def run_store(
        self, action: Callable[[], Any], done: str, then: Callable[[], object] | None = None
    ) -> None:
        try:
            action()
        except Conflict as exc:
            self.app.call_from_thread(self._stale, exc)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
        else:  # anything else is a bug, which background says
            self.app.call_from_thread(self._done, done, then)

    def _done(self, message: str, then: Callable[[], object] | None = None) -> None:
        self.notify(message, markup=False)
        if then is not None:
            then()
        else:
            self.reload()

    def _stale(self, error: Conflict) -> None:
        def chosen(_: str | None) -> None:
            self.reload()

        self.app.push_screen(ConflictModal(error.message, can_reapply=False), chosen)


def is_field(widget: Widget | None) -> bool:
    """A widget that takes typed text or a choice: while it has focus, letters and digits are its own."""
    if isinstance(widget, TextArea):
        return not widget.read_only  # a read-only text lets keys through: esc there goes back at once
    return isinstance(widget, (Input, Select))


_List = TypeVar("_List", bound="ListScreen")


def on_current_row(action: Callable[[_List], None]) -> Callable[[_List], None]:
    """A list's action on the row under the cursor. Typed before that row has arrived (in the same burst as
    the key that opened the list: `4 e`, `6 d`), it runs when the row comes, rather than saying that nothing
    is selected on a list that shows rows a moment later."""

    @functools.wraps(action)
    def run(screen: _List) -> None:
        if not screen.table.when_current_loaded(functools.partial(run, screen)):
            action(screen)

    return run


class ListScreen(DirectoryScreen):
    """A concept's table: paged from SQLite, filtered with ``/``, acted on by key."""

    # The table has focus from the moment the screen is composed. Textual's default focuses the first widget
    # it may (display: none does not stop it): the hidden filter box, until on_mount's focus moved on a tick
    # later, and a key typed right after the section's key went into the hidden box ("filter: a", 0 rows).
    AUTO_FOCUS = "PagedTable"

    BINDINGS = [
        # priority: the action runs while the app handles "/", before it forwards the keys typed right after
        # it, so a quick "/alice" lands whole in the filter box.
        Binding("slash", "filter", "Filter", priority=True),
        # priority, as "/": the form opens while the app reads the key, so a name typed in the same burst
        # lands in it (it reached the list, and the form opened empty); in the filter box "n" is a letter.
        Binding("n", "new", "New", priority=True),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "back", "Back", show=False),
    ]

    heading = ""
    noun = "item"
    plural = "items"
    empty_text = "Nothing here yet: press n to create one."
    filter_fields = (
        "in the name or description"  # what the store's filter looks in, said when nothing matches
    )

    def columns(self) -> list[Column[Any]]:
        raise NotImplementedError

    def subtitle(self) -> str:
        return ""

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Any]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="list-body"):
            yield Static("", id="list-title", classes="list-title")
            if self.subtitle():
                yield Static(literal(self.subtitle()), classes="list-subtitle")
            yield TextInput(
                placeholder=f"filter {self.plural}: type, enter to keep, esc to clear",
                id="filter",
                classes="filter hidden",
            )
            yield PagedTable(self.columns(), self.fetch, empty_text=self.empty_text, id="table")
        yield KeyFooter()

    @property
    def table(self) -> PagedTable:
        return self.query_one("#table", PagedTable)

    def on_mount(self) -> None:
        self.table.searched = self.filter_fields
        self.table.focus()
        self._show_title()

    def _show_title(self) -> None:
        total = self.table.total
        count = "…" if total is None else f"{total:,} {self.noun if total == 1 else self.plural}"
        filt = f"  ·  filter: {self.table.filter}" if self.table.filter else ""
        note = f"  ·  {self.title_note()}" if self.title_note() else ""
        self.query_one("#list-title", Static).update(literal(f"{self.heading}  ·  {count}{filt}{note}"))

    def title_note(self) -> str:
        """Extra words for the title line (what is marked, which rows are shown)."""
        return ""

    def on_paged_table_rows_loaded(self, event: PagedTable.RowsLoaded) -> None:
        self._show_title()

    def reload(self) -> None:
        self.table.reload()

    def action_refresh(self) -> None:
        self.reload()
        self.notify("Refreshed", timeout=1.5)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            box.insert_text_at_cursor("/")  # a "/" typed inside the filter is just a character
            return
        box.remove_class("hidden")
        self.set_focus(box)  # now, not on the next tick as Widget.focus() would

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self.table.reload(event.value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            if not event.value.strip():
                event.input.add_class("hidden")
            self.table.focus()

    def esc_leaves(self, field: Widget) -> bool:
        return field.id != "filter"  # esc in the filter clears it too (action_back), as its placeholder says

    def home_widget(self) -> Widget | None:
        return self.table

    def action_back(self) -> None:
        """Clear the filter if there is one; else leave a pushed screen (a top-level screen stays)."""
        box = self.query_one("#filter", Input)
        if box.value or not box.has_class("hidden"):
            box.value = ""
            box.add_class("hidden")
            self.table.reload("")
            self.table.focus()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def saved(self, item: Any) -> None:
        """The row saved gets the cursor (enter then opens the user just made, not the first row); one the
        filter hides is said to be hidden, with the key that shows it."""
        ident = getattr(item, "id", None)
        if ident is not None:

            def hidden() -> None:
                if self.table.filter:
                    self.notify(
                        f"The filter {quoted(visible(self.table.filter))} hides it: esc clears the filter",
                        severity="warning",
                        markup=False,
                    )

            self.table.select_when_loaded(lambda row: getattr(row, "id", None) == ident, hidden)
        self.reload()

    def on_paged_table_row_activated(self, event: PagedTable.RowActivated) -> None:
        self.open_item(event.item)

    def selected(self) -> Any | None:
        item = self.table.current
        if item is None:
            self.notify(f"No {self.noun} selected", severity="warning")
        return item

    # Subclasses override what applies to them.
    def open_item(self, item: Any) -> None:
        self.action_edit()

    def action_new(self) -> None:
        pass

    def action_edit(self) -> None:
        pass

    def action_delete(self) -> None:
        pass
