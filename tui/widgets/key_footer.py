"""The keys of the screen, at the bottom, all of them."""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets._toast import ToastRack

PALETTE_ACTION = "command_palette"


class FooterKey(NamedTuple):
    key: str  # the key's name, pressed when the entry is clicked
    display: str  # how the key is shown: "^o", "⏎", "/"
    description: str
    enabled: bool
    on_right: bool = False  # the palette key: drawn against the right edge

    @property
    def width(self) -> int:
        return Text(f"{self.display} {self.description}").cell_len


class KeyFooter(Widget):
    """Every key the screen shows, as "key description", on one line or wrapped onto more when one is not
    enough (a list screen at 80 columns has more keys than fit), the palette key last, on the right.

    Why not Textual's Footer: it scrolls the keys that do not fit out of sight, and it is a widget per key,
    all rebuilt whenever the bindings might have changed (a form opening or closing): that was half the
    processor time of an edit when eight consoles share two cores over SSH. This is one widget that redraws
    only when the keys it shows change.
    """

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: auto;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    KeyFooter > .key-footer--description {
        color: $footer-description-foreground;
    }
    """
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description"}

    def __init__(self) -> None:
        super().__init__()
        self.set_reactive(Widget.auto_links, False)  # clickable keys keep the key colours (no link style)
        self.keys: list[FooterKey] = []

    def on_mount(self) -> None:
        self.keys = self._active_keys()
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)
        self.app.screen_change_signal.unsubscribe(self)

    # -- toasts sit above the footer ------------------------------------------------------------------------
    # Textual's toasts dock to the bottom of the screen one line up: at 80 columns, where the keys take two
    # lines or three, they covered the keys for seconds. The toasts are lifted by the footer's height, on
    # this screen and on a dialog over it (its toasts are drawn over this footer too).

    def on_resize(self) -> None:
        self._lift_toasts()

    def _screen_changed(self, screen: Screen[object]) -> None:
        self.call_after_refresh(self._lift_toasts)

    def _lift_toasts(self) -> None:
        if not self.is_attached:
            return
        screens: list[Screen[object]] = [self.screen]
        stack = self.app.screen_stack
        if self.screen in stack:
            above = stack[stack.index(self.screen) + 1 :]
            if above and all(isinstance(screen, ModalScreen) for screen in above):
                screens += above  # dialogs over this screen: this footer is the one in sight
        height = self.outer_size.height
        for screen in screens:
            try:
                rack = screen.get_child_by_type(ToastRack)
            except NoMatches:
                continue
            if rack.styles.margin.bottom != height:
                rack.styles.margin = (0, 0, height, 0)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.screen:
            return
        keys = self._active_keys()
        if keys != self.keys:
            self.keys = keys
            self.refresh(layout=True)

    def _active_keys(self) -> list[FooterKey]:
        """The screen's shown bindings, one entry per action (its first key), the palette's last."""
        entries: dict[str, FooterKey] = {}
        palette: FooterKey | None = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            entry = FooterKey(
                binding.key.split(",")[0], self.app.get_key_display(binding), binding.description, enabled
            )
            if binding.action == PALETTE_ACTION:
                palette = entry
            elif binding.show and binding.description and binding.action not in entries:
                entries[binding.action] = entry
        # In a field the printable keys are the field's: say how to leave it (every screen, whatever its own
        # bindings for Esc, which then waits for the second press).
        leaves_field = getattr(self.screen, "esc_leaves_field", None)
        if callable(leaves_field) and leaves_field():
            others = (
                entry
                for action, entry in entries.items()
                if action != "leave_field" and entry.key != "escape"
            )
            keys = [FooterKey("escape", "esc", "Leave field", True), *others]
        else:
            keys = list(entries.values())
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            keys.append(palette._replace(description="palette", on_right=True))
        return keys

    def lines(self, width: int) -> list[list[FooterKey]]:
        """The entries packed into lines of ``width`` cells, in order, one space apart."""
        lines: list[list[FooterKey]] = [[]]
        used = 0
        for entry in self.keys:
            needed = entry.width + (1 if lines[-1] else 0)
            if lines[-1] and used + needed > width:
                lines.append([])
                used, needed = 0, entry.width
            lines[-1].append(entry)
            used += needed
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(max(width, 1)))

    def render(self) -> Text:
        width = max(self.size.width, 1)
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        text = Text(no_wrap=True, overflow="crop")
        lines = self.lines(width)
        for number, line in enumerate(lines):
            if number:
                text.append("\n")
            row = Text()
            for entry in line:
                click = Style(meta={"@click": ("press_key", (entry.key,))}, dim=not entry.enabled)
                if entry.on_right:
                    row.append(" " * max(0, width - row.cell_len - entry.width))
                elif row:
                    row.append(" ")
                row.append(entry.display, key_style + click)
                row.append(" " + entry.description, description_style + click)
            text.append_text(row)
        return text

    def action_press_key(self, key: str) -> None:
        self.app.simulate_key(key)
