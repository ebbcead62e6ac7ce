"""The keys a screen offers, in the order people look for them: shared by the help screen and the palette."""

from __future__ import annotations

from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen

# Scrolling sideways means nothing in our tables; Textual's scroll containers bind it anyway.
UNLISTED_ACTIONS = {"scroll_left", "scroll_right", "page_left", "page_right"}


def screen_actions(app: App[object], screen: Screen[object]) -> list[tuple[str, str, str, DOMNode, bool]]:
    """(key, description, action, node, enabled) for every described binding: the screen's own first,
    then its widgets', then the app's; each action once."""
    rows: list[tuple[int, str, str, str, DOMNode, bool]] = []
    seen: set[str] = set()
    for _key, (node, binding, enabled, _tooltip) in screen.active_bindings.items():
        if not binding.description or binding.action in seen or binding.action in UNLISTED_ACTIONS:
            continue
        seen.add(binding.action)
        rank = 0 if node is screen else 2 if isinstance(node, App) else 1
        rows.append((rank, app.get_key_display(binding), binding.description, binding.action, node, enabled))
    rows.sort(key=lambda row: row[0])
    return [row[1:] for row in rows]
