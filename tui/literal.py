"""User- and import-controlled text, made safe to draw: never markup, never a raw escape sequence.

Every string from the directory reaches the screen through :func:`literal` (a Rich ``Text``, which Textual never
parses as markup) or :func:`visible` (plain text with invisible and control characters made visible).
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

# Bidi controls reorder what follows them on screen; show them rather than obey them.
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C}


def visible(value: object) -> str:
    """``value`` as text with control characters shown as ``\\x1b`` and bidi controls as ``<U+202E>``."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if unicodedata.category(ch) == "Cc":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif code in _BIDI:
            out.append(f"<U+{code:04X}>")
        else:
            out.append(ch)
    return "".join(out)


def literal(value: object, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``value`` character for character (``[bold]`` stays ``[bold]``)."""
    return Text(visible(value), style=style, no_wrap=False)
