"""A table that pages from SQLite: only the rows on screen are ever fetched or drawn.

Textual's DataTable builds every row up front (~10 s for 100,000 rows here). ``PagedTable`` is a Line-API
``ScrollView`` whose virtual height is the row count; it asks its ``fetch`` function for pages of rows as they
scroll into view, in a worker thread, and keeps a small LRU cache of pages. Sequential pages continue from the
previous page's last key (keyset pagination); a jump far ahead uses an offset.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store.names import quoted
from store.service import Page
from tui.literal import visible
from tui.workers import background

T = TypeVar("T")
PAGE_ROWS = 100
CACHED_PAGES = 24
# The cells a flexible column (a user's name) keeps on a narrow line, taken from fixed columns that allow it.
MIN_FLEXIBLE = 14

# fetch(filter, after, offset, limit) -> Page
Fetch = Callable[[str, str | None, int, int], Page[Any]]


@dataclass(frozen=True)
class Column(Generic[T]):
    title: str
    value: Callable[[T], object]
    width: int = 0  # 0: share the space left by fixed-width columns
    style: Callable[[T], str] | None = None
    # A fixed column that may give up cells on a narrow line (80 columns), down to this many, so that the
    # flexible columns keep MIN_FLEXIBLE each; 0: it keeps its width.
    least: int = 0


class PagedTable(ScrollView, can_focus=True):
    """Rows from ``fetch``; ``enter`` posts :class:`PagedTable.RowActivated` with the row's item."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "activate", "Open", show=True),
    ]

    COMPONENT_CLASSES = {"paged-table--header", "paged-table--cursor", "paged-table--loading"}

    DEFAULT_CSS = """
    PagedTable { height: 1fr; overflow-x: hidden; }
    PagedTable > .paged-table--header { text-style: bold; background: $panel; }
    PagedTable > .paged-table--cursor { background: $accent 40%; }
    PagedTable:focus > .paged-table--cursor { background: $accent; color: $text; }
    PagedTable > .paged-table--loading { color: $text-muted; }
    """

    cursor = reactive(0, always_update=True)

    class RowActivated(Message):
        def __init__(self, table: PagedTable, item: Any) -> None:
            super().__init__()
            self.table = table
            self.item = item

    class RowsLoaded(Message):
        """The first page of a (re)load arrived: ``total`` rows match."""

        def __init__(self, table: PagedTable, total: int) -> None:
            super().__init__()
            self.table = table
            self.total = total

    def __init__(
        self,
        columns: Sequence[Column[Any]],
        fetch: Fetch,
        *,
        empty_text: str = "Nothing here yet.",
        id: str | None = None,
        mark_key: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(id=id)
        # With mark_key, rows can be marked (by that key, so marks survive reloads) for actions on
        # many at once.
        self.mark_key = mark_key
        self.marked: dict[Any, Any] = {}
        self.columns = (
            [Column("", lambda item: "●" if mark_key(item) in self.marked else "", 1)] if mark_key else []
        ) + list(columns)
        self._fetch = fetch
        self.empty_text = empty_text
        self.searched = (
            ""  # where the filter looks ("in the user name, display name or email"), for "no match"
        )
        self.filter = ""
        self.total: int | None = None
        self._pages: OrderedDict[int, Page[Any]] = OrderedDict()
        # The pages before a reload: still drawn (and still the selection) until their fresh copies arrive, so
        # a reload after every change does not blank the table for a moment.
        self._stale: dict[int, Page[Any]] = {}
        self._pending: set[int] = set()
        # What waits for the row under the cursor (enter, e, d typed before its page came), run when it comes.
        self._when_loaded: list[Callable[[], object]] = []
        # The row a reload should put the cursor on (a row just saved), and what to do if it is not there.
        self._wanted: tuple[Callable[[Any], bool], Callable[[], object]] | None = None
        self._generation = 0

    # -- data ---------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    def reload(self, filter: str | None = None, *, keep_cursor: bool = True) -> None:
        """Forget every cached page and fetch again (after a change, or with a new filter)."""
        if filter is not None and filter != self.filter:
            self.filter = filter
            keep_cursor = False
        self._generation += 1
        self._stale = dict(self._pages) if keep_cursor else {}
        self._pages.clear()
        self._pending.clear()
        if not keep_cursor:
            self.cursor = 0
            self.scroll_to(y=0, animate=False)
        self._request(self.cursor // PAGE_ROWS if keep_cursor else 0)
        if self.cursor // PAGE_ROWS:
            self._request(0)

    def _request(self, page_index: int) -> None:
        if page_index in self._pages or page_index in self._pending or page_index < 0:
            return
        self._pending.add(page_index)
        previous = self._pages.get(page_index - 1)
        after = previous.next_after if previous is not None else None
        self._load(self._generation, page_index, self.filter, after)

    @background(group="paged-table")
    def _load(self, generation: int, page_index: int, filter: str, after: str | None) -> None:
        page = self._fetch(filter, after, 0 if after else page_index * PAGE_ROWS, PAGE_ROWS)
        self.app.call_from_thread(self._loaded, generation, page_index, page)

    def _loaded(self, generation: int, page_index: int, page: Page[Any]) -> None:
        if generation != self._generation:
            return  # a reload happened meanwhile: this page answers an old question
        self._pending.discard(page_index)
        self._pages[page_index] = page
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        first_answer = self.total != page.total or page_index == 0
        self.total = page.total
        self.virtual_size = Size(self.size.width, page.total + 1)
        if self.cursor >= page.total:
            self.cursor = max(0, page.total - 1)
        self.refresh()
        self.screen.refresh_bindings()
        if first_answer:
            self.post_message(self.RowsLoaded(self, page.total))
        if self._wanted is not None and page_index == 0:
            wanted, missing = self._wanted
            self._wanted = None
            found = next((i for i, item in enumerate(page.items) if wanted(item)), None)
            if found is not None:
                self.cursor = found  # watch_cursor scrolls it into view
            elif not page.total or len(page.items) == page.total:
                missing()  # the whole list is here, and the row is not in it
        if self._when_loaded and self.cursor // PAGE_ROWS == page_index:
            waiting, self._when_loaded = self._when_loaded, []
            for then in waiting:
                # Only on the screen they were typed on, while it is shown: a key that left it (or what the
                # first of them opened) leaves the rest behind.
                if self.screen.is_current:
                    then()

    def item_at(self, index: int) -> Any | None:
        page = self._pages.get(index // PAGE_ROWS)
        if page is None:
            page = self._stale.get(index // PAGE_ROWS)
            if page is None:
                return None
        else:
            self._pages.move_to_end(index // PAGE_ROWS)
        offset = index % PAGE_ROWS
        return page.items[offset] if offset < len(page.items) else None

    @property
    def current(self) -> Any | None:
        """The item under the cursor, if its page is loaded."""
        return self.item_at(self.cursor) if self.total else None

    # -- drawing ------------------------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        """Each column's width on a line of ``width`` cells: a fixed column as it asks, the flexible ones
        sharing what is left. On a line too narrow for that, the fixed columns that have a ``least`` give up
        cells (in proportion to what they can give) until each flexible column has :data:`MIN_FLEXIBLE`."""
        columns = self.columns
        available = max(0, width - (len(columns) - 1))
        widths = [c.width for c in columns]
        flexible = [i for i, c in enumerate(columns) if not c.width]
        if flexible:
            short = sum(widths) + MIN_FLEXIBLE * len(flexible) - available
            slack = {i: c.width - c.least for i, c in enumerate(columns) if c.width and 0 < c.least < c.width}
            total = sum(slack.values())
            given = min(short, total)
            if given > 0:
                for i, can in slack.items():
                    widths[i] -= -(-can * given // total)  # rounded up: enough is given
        else:
            flexible = [len(columns) - 1]  # no flexible column: the last one takes the rest
        share, extra = divmod(max(0, available - sum(widths)), len(flexible))
        for i in flexible:
            widths[i] += share + (1 if extra > 0 else 0)
            extra -= 1
        return [max(1, w) for w in widths]

    def _cells(self, texts: list[str], widths: list[int], style: Style) -> Strip:
        segments = []
        for index, (text, width) in enumerate(zip(texts, widths, strict=True)):
            if cell_len(text) > width:
                text = set_cell_size(text, max(0, width - 1)) + "…"
            segments.append(Segment(set_cell_size(text, width), style))
            if index < len(widths) - 1:
                segments.append(Segment(" ", style))
        return Strip(segments)

    def render_line(self, y: int) -> Strip:
        # The width beside the scroll bar: the whole width drew the last column under the bar, its end (and
        # the "…" that says it goes on) hidden there.
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        if y == 0:
            header = self.get_component_rich_style("paged-table--header")
            return self._cells([c.title for c in self.columns], widths, header).extend_cell_length(
                width, header
            )
        index = int(self.scroll_offset.y) + y - 1
        base = self.rich_style
        if self.total is None:
            muted = self.get_component_rich_style("paged-table--loading")
            return Strip([Segment(" Loading…" if y == 1 else "", muted)]).extend_cell_length(width, muted)
        if self.total == 0:
            muted = self.get_component_rich_style("paged-table--loading")
            where = f" {self.searched}" if self.searched else ""
            text = " " + (
                f"No match for {quoted(visible(self.filter))}{where}." if self.filter else self.empty_text
            )
            return Strip([Segment(text if y == 1 else "", muted)]).extend_cell_length(width, muted)
        if index >= self.total:
            return Strip.blank(width, base)
        if index // PAGE_ROWS not in self._pages:
            self._request(index // PAGE_ROWS)
        item = self.item_at(index)
        style = self.get_component_rich_style("paged-table--cursor") if index == self.cursor else base
        if item is None:
            muted = self.get_component_rich_style("paged-table--loading")
            return Strip([Segment(" …", style + muted)]).extend_cell_length(width, style)
        texts = [visible(column.value(item)) for column in self.columns]
        return self._cells(texts, widths, style).extend_cell_length(width, style)

    # -- keys -----------------------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        # Keep the cursor inside the view (row 0 of the view is the header).
        view_rows = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + view_rows:
            self.scroll_to(y=new - view_rows + 1, animate=False)
        self.refresh()
        self.screen.refresh_bindings()  # a screen's keys may depend on the selected row (Disable / Enable)

    def action_cursor(self, delta: int) -> None:
        if self.total:
            self.cursor = max(0, min(self.total - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        if self.total:
            self.cursor = 0 if where == 0 else self.total - 1

    def action_toggle_mark(self) -> None:
        item = self.current
        if self.mark_key is None or item is None:
            return
        key = self.mark_key(item)
        if key in self.marked:
            del self.marked[key]
        else:
            self.marked[key] = item
        self.action_cursor(1)
        self.refresh()

    def select_when_loaded(self, wanted: Callable[[Any], bool], missing: Callable[[], object]) -> None:
        """At the next reload, put the cursor on the first row ``wanted`` says yes to if the first page holds
        it; call ``missing`` if the whole list is on that page and it is not there (a filter hides it)."""
        self._wanted = (wanted, missing)

    def when_current_loaded(self, then: Callable[[], object]) -> bool:
        """Keep ``then`` for when the row under the cursor arrives, if it is still on its way (the first page
        of a list just opened, or a reload after a save); True when kept. A key typed in the same burst as the
        one that opened the list (`4 e`, `6 d`) acts on the row then, instead of finding none selected."""
        if self._pending and self.cursor // PAGE_ROWS not in self._pages:
            self._when_loaded.append(then)
            return True
        return False

    def action_activate(self) -> None:
        if self.when_current_loaded(self.action_activate):
            return
        item = self.current
        if item is not None:
            self.post_message(self.RowActivated(self, item))

    def on_click(self, event: Any) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if self.total and 0 <= index < self.total:
            self.cursor = index

    def on_resize(self) -> None:
        if self.total is not None:
            self.virtual_size = Size(self.size.width, self.total + 1)
