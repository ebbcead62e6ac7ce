"""User- and import-controlled text, made safe to draw: never markup, never a raw escape sequence.

Every string from the directory reaches the screen through :func:`literal` (a Rich ``Text``, which Textual
never parses as markup) or :func:`visible` (plain text with invisible and control characters made visible).
"""

from __future__ import annotations

from rich.text import Text

# One definition of what is unsafe on a terminal, shared with the store's validation and the exports.
from store.names import visible

__all__ = ["literal", "visible"]


def literal(value: object, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``value`` character for character (``[bold]`` stays ``[bold]``)."""
    return Text(visible(value), style=style, no_wrap=False)
